/*
 * The CLI in-process: option parsing (every flag's bad values give SP_ERR_USAGE,
 * exit code 2 and a message naming the flag), the exit-code table, zoo lookup,
 * sp_cli_main on MPI_COMM_SELF, and the library pieces the CLI stands on
 * (communicator agreement, report.json).
 */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sparsify/model.h"
#include "sparsify/report.h"
#include "testutil.h"

static struct sp_comm *self;

/* Parses a NULL-terminated list of arguments after "sparsify". */
static enum sp_status parse_v(struct sp_cli_options *opt, struct sp_error *err, const char **args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "sparsify";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    sp_error_clear(err);
    return sp_cli_parse(argc, argv, opt, err);
}
#define PARSE(opt, err, ...) parse_v(opt, err, (const char *[]){__VA_ARGS__, NULL})

static void test_one_shot_defaults(void)
{
    struct sp_cli_options o;
    struct sp_error e;
    CU_ASSERT_EQUAL_FATAL(PARSE(&o, &e, "one-shot", "--use-case", "ic", "--model", "m.onnx", "--data", "d"), SP_OK);
    CU_ASSERT_EQUAL(o.command, SP_CMD_ONE_SHOT);
    CU_ASSERT_STRING_EQUAL(o.model, "m.onnx");
    CU_ASSERT_STRING_EQUAL(o.data, "d");
    CU_ASSERT_STRING_EQUAL(o.oneshot.use_case, "ic");
    CU_ASSERT_DOUBLE_EQUAL(o.oneshot.optim_level, 0.5, 0);
    CU_ASSERT_STRING_EQUAL(o.oneshot.output_dir, "sparsify-output");
    CU_ASSERT_EQUAL(o.oneshot.batch_size, 8);
    CU_ASSERT_EQUAL(o.oneshot.checkpoint_every, 0);
    CU_ASSERT_DOUBLE_EQUAL(o.oneshot.holdout, 0.05, 0);
    CU_ASSERT_EQUAL(o.oneshot.prune_method, SP_PRUNE_SPARSEGPT);
    CU_ASSERT_EQUAL(o.oneshot.calibration_method, -1);
    CU_ASSERT_EQUAL(o.oneshot.n_exclude, 0);
    CU_ASSERT_EQUAL(o.log_level, SP_LOG_INFO);
    CU_ASSERT_PTR_NULL(o.zoo);
    sp_cli_options_free(&o);
}

static void test_one_shot_every_flag(void)
{
    struct sp_cli_options o;
    struct sp_error e;
    CU_ASSERT_EQUAL_FATAL(PARSE(&o, &e, "one-shot", "-u", "yolo", "-m", "m", "-d", "d", "-l", "0.25", "-o", "out",
                                "--zoo", "z", "--quiet", "--batch-size", "16", "--checkpoint-every", "3", "--resume",
                                "ck.h5", "--holdout", "0.1", "--prune-method", "magnitude", "--calibration-method",
                                "entropy", "--exclude", "conv1,Gemm", "--exclude", "head"),
                          SP_OK);
    CU_ASSERT_DOUBLE_EQUAL(o.oneshot.optim_level, 0.25, 0);
    CU_ASSERT_STRING_EQUAL(o.oneshot.optim_level_text, "0.25");
    CU_ASSERT_STRING_EQUAL(o.oneshot.output_dir, "out");
    CU_ASSERT_STRING_EQUAL(o.zoo, "z");
    CU_ASSERT_TRUE(o.quiet);
    CU_ASSERT_EQUAL(o.log_level, SP_LOG_WARN);
    CU_ASSERT_EQUAL(o.oneshot.batch_size, 16);
    CU_ASSERT_EQUAL(o.oneshot.checkpoint_every, 3);
    CU_ASSERT_STRING_EQUAL(o.oneshot.resume, "ck.h5");
    CU_ASSERT_DOUBLE_EQUAL(o.oneshot.holdout, 0.1, 0);
    CU_ASSERT_EQUAL(o.oneshot.prune_method, SP_PRUNE_MAGNITUDE);
    CU_ASSERT_EQUAL(o.oneshot.calibration_method, SP_CALIB_ENTROPY);
    CU_ASSERT_EQUAL_FATAL(o.oneshot.n_exclude, 3);
    CU_ASSERT_STRING_EQUAL(o.oneshot.exclude[0], "conv1");
    CU_ASSERT_STRING_EQUAL(o.oneshot.exclude[1], "Gemm");
    CU_ASSERT_STRING_EQUAL(o.oneshot.exclude[2], "head");
    sp_cli_options_free(&o);

    /* --opt=value works, and the parser can run again (getopt state reset). */
    CU_ASSERT_EQUAL_FATAL(PARSE(&o, &e, "one-shot", "--use-case=qa", "--model=m", "--data=d", "--optim-level=1",
                                "--log-level=debug"),
                          SP_OK);
    CU_ASSERT_DOUBLE_EQUAL(o.oneshot.optim_level, 1.0, 0);
    CU_ASSERT_EQUAL(o.log_level, SP_LOG_DEBUG);
    sp_cli_options_free(&o);
}

static void test_help_and_version(void)
{
    struct sp_cli_options o;
    struct sp_error e;
    CU_ASSERT_EQUAL(PARSE(&o, &e, "--version"), SP_OK);
    CU_ASSERT_TRUE(o.version);
    CU_ASSERT_EQUAL(PARSE(&o, &e, "--help"), SP_OK);
    CU_ASSERT_TRUE(o.help);
    CU_ASSERT_EQUAL(o.command, SP_CMD_NONE);
    /* A command's --help needs none of its required flags. */
    CU_ASSERT_EQUAL(PARSE(&o, &e, "one-shot", "--help"), SP_OK);
    CU_ASSERT_TRUE(o.help);
    CU_ASSERT_EQUAL(o.command, SP_CMD_ONE_SHOT);
    CU_ASSERT_EQUAL(PARSE(&o, &e, "eval", "-h"), SP_OK);
    CU_ASSERT_EQUAL(o.command, SP_CMD_EVAL);
}

/* Each case: the flag the message must name, then the arguments. */
static void expect_usage(const char *flag, const char **args)
{
    struct sp_cli_options o;
    struct sp_error e;
    enum sp_status st = parse_v(&o, &e, args);
    if (st != SP_ERR_USAGE || !strstr(e.msg, flag))
        fprintf(stderr, "\n  args starting '%s %s': status %d, message '%s' (expected one naming %s)\n", args[0],
                args[1] ? args[1] : "", st, e.msg, flag);
    CU_ASSERT_EQUAL(st, SP_ERR_USAGE);
    CU_ASSERT_EQUAL(sp_cli_exit_code(st), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, flag));
    CU_ASSERT_PTR_NULL(strchr(e.msg, '\n'));
    sp_cli_options_free(&o);
}
#define BAD(flag, ...) expect_usage(flag, (const char *[]){__VA_ARGS__, NULL})
#define OS "one-shot", "--use-case", "ic", "--model", "m", "--data", "d"

static void test_bad_values_name_their_flag(void)
{
    BAD("--optim-level", OS, "--optim-level", "1.5");
    BAD("--optim-level", OS, "--optim-level", "nan");
    BAD("--optim-level", OS, "--optim-level", "-0");
    BAD("--optim-level", OS, "--optim-level", "0.5x");
    BAD("--optim-level", OS, "--optim-level", "");
    BAD("--optim-level", OS, "--optim-level");
    BAD("--use-case", "one-shot", "--use-case", "", "--model", "m", "--data", "d");
    BAD("--use-case", "one-shot", "--use-case", "caf\xc3\xa9", "--model", "m", "--data", "d");
    BAD("--use-case", "one-shot", "--model", "m", "--data", "d");
    BAD("--model", "one-shot", "--use-case", "ic", "--data", "d");
    BAD("--model", "one-shot", "--use-case", "ic", "--model", "--data", "d");
    BAD("--data", "one-shot", "--use-case", "ic", "--model", "m");
    BAD("--output", OS, "--output", "");
    BAD("--zoo", OS, "--zoo", "");
    BAD("--batch-size", OS, "--batch-size", "0");
    BAD("--batch-size", OS, "--batch-size", "-3");
    BAD("--batch-size", OS, "--batch-size", "8x");
    BAD("--batch-size", OS, "--batch-size", "99999999999999999999");
    BAD("--checkpoint-every", OS, "--checkpoint-every", "-1");
    BAD("--checkpoint-every", OS, "--checkpoint-every", "two");
    BAD("--resume", OS, "--resume", "");
    BAD("--holdout", OS, "--holdout", "0.6");
    BAD("--holdout", OS, "--holdout", "-0.1");
    BAD("--holdout", OS, "--holdout", "5%");
    BAD("--prune-method", OS, "--prune-method", "random");
    BAD("--calibration-method", OS, "--calibration-method", "guess");
    BAD("--log-level", OS, "--log-level", "loud");
    BAD("--exclude", OS, "--exclude", "");
    BAD("--exclude", OS, "--exclude", "a,,b");
    BAD("--exclude", OS, "--exclude", "a,");
    BAD("--frobnicate", OS, "--frobnicate");
    BAD("-x", OS, "-x");
    BAD("stray", OS, "stray");
    BAD("unknown command", "oneshot");
    BAD("--bogus", "--bogus");
    BAD("--threads", "run", "--model", "m", "--data", "d", "--output", "o", "--threads", "-1");
    BAD("--output", "run", "--model", "m", "--data", "d");
    BAD("--batch", "bench", "--model", "m", "--batch", "0");
    BAD("--labels", "eval", "--model", "m", "--data", "d");
    /* Flags of another command are unknown here. */
    BAD("--optim-level", "run", "--model", "m", "--data", "d", "--output", "o", "--optim-level", "0");
    BAD("--labels", OS, "--labels", "x.npy");
    /* No command at all. */
    const char *none[] = {NULL};
    expect_usage("command", none);
}

static void test_exit_code_table(void)
{
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_OK), 0);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_USAGE), 2);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_IO), 3);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_WRITE), 6);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_FORMAT), 3);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_MISMATCH), 3);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_UNSUPPORTED), 4);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_NOT_IMPLEMENTED), 5);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_MPI), 7);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_INTERRUPTED), 8);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_CHECKPOINT), 9);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_NUMERIC), 10);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_NOMEM), 11);
    CU_ASSERT_EQUAL(sp_cli_exit_code(SP_ERR_INTERNAL), 70);
    /* Every status maps to a non-zero code but OK; no two meanings share 1. */
    for (int s = 1; s < SP_STATUS_COUNT; s++) {
        CU_ASSERT_NOT_EQUAL(sp_cli_exit_code((enum sp_status)s), 0);
        CU_ASSERT_NOT_EQUAL(sp_cli_exit_code((enum sp_status)s), 1);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_zoo_lookup(void)
{
    char zoo[4096], p[4200];
    snprintf(zoo, sizeof zoo, "%s", sp_test_tmpdir());
    snprintf(p, sizeof p, "%s/bert-tiny", zoo);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/bert-tiny/model.onnx", zoo);
    write_file(p, "x");
    snprintf(p, sizeof p, "%s/bert-tiny/data", zoo);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/a-cnn", zoo);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/a-cnn/model.onnx", zoo);
    write_file(p, "x");
    snprintf(p, sizeof p, "%s/not-an-entry", zoo);
    mkdir(p, 0755);

    char *path = NULL;
    const char *name = NULL;
    struct sp_error e = {0};
    CU_ASSERT_EQUAL_FATAL(sp_cli_resolve_model("bert-tiny", zoo, &path, &name, &e), SP_OK);
    snprintf(p, sizeof p, "%s/bert-tiny/model.onnx", zoo);
    CU_ASSERT_STRING_EQUAL(path, p);
    CU_ASSERT_STRING_EQUAL(name, "bert-tiny");
    free(path);
    CU_ASSERT_EQUAL_FATAL(sp_cli_resolve_data("bert-tiny", zoo, &path, &name, &e), SP_OK);
    snprintf(p, sizeof p, "%s/bert-tiny/data", zoo);
    CU_ASSERT_STRING_EQUAL(path, p);
    free(path);
    /* An existing path wins and is not a zoo name. */
    snprintf(p, sizeof p, "%s/a-cnn/model.onnx", zoo);
    CU_ASSERT_EQUAL(sp_cli_resolve_model(p, zoo, &path, &name, &e), SP_OK);
    CU_ASSERT_PTR_NULL(name);
    free(path);
    /* The environment variable is the fallback zoo. */
    setenv("SPARSIFY_ZOO", zoo, 1);
    CU_ASSERT_EQUAL(sp_cli_resolve_model("a-cnn", NULL, &path, &name, &e), SP_OK);
    free(path);
    unsetenv("SPARSIFY_ZOO");

    /* Unknown names list the entries (folders with a model.onnx), sorted. */
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_cli_resolve_model("resnet", zoo, &path, &name, &e), SP_ERR_IO);
    CU_ASSERT_PTR_NULL(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--model"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "'resnet'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "known: a-cnn, bert-tiny"));
    CU_ASSERT_PTR_NULL(strstr(e.msg, "not-an-entry"));
    /* a-cnn has no data/ folder. */
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_cli_resolve_data("a-cnn", zoo, &path, &name, &e), SP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--data"));
    /* A path-like spec that does not exist is not looked up in the zoo. */
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_cli_resolve_model("dir/missing.onnx", zoo, &path, &name, &e), SP_ERR_IO);
    CU_ASSERT_PTR_NULL(strstr(e.msg, "known"));
    /* A file given as DATA. */
    sp_error_clear(&e);
    snprintf(p, sizeof p, "%s/a-cnn/model.onnx", zoo);
    CU_ASSERT_EQUAL(sp_cli_resolve_data(p, zoo, &path, &name, &e), SP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "expected a folder"));
}

static int call_main(const char **args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "sparsify";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    return sp_cli_main(argc, argv, self);
}
#define MAIN(...) call_main((const char *[]){__VA_ARGS__, NULL})

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = false;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void test_main_in_process(void)
{
    char model[4096], data[4096], out[4096], out2[4096], p[4200];
    snprintf(model, sizeof model, "%s", sp_test_source_path("demo/fashion-cnn/model.onnx"));
    snprintf(data, sizeof data, "%s", sp_test_source_path("demo/fashion-cnn/data"));
    snprintf(out, sizeof out, "%s/out", sp_test_tmpdir());
    snprintf(out2, sizeof out2, "%s/out", sp_test_tmpdir());
    if (access(model, R_OK) != 0) {
        fprintf(stderr, "demo model missing: %s\n", model);
        CU_FAIL("demo model missing");
        return;
    }
    CU_ASSERT_EQUAL(MAIN("--version"), 0);
    CU_ASSERT_EQUAL(MAIN("one-shot", "--optim-level", "2"), 2);
    CU_ASSERT_EQUAL(MAIN("bench", "--model", model, "--iters", "1", "--warmup", "0", "--quiet"), 0);
    /* A labels file that does not exist: an input error. */
    CU_ASSERT_EQUAL(MAIN("eval", "--model", model, "--data", data, "--labels", "/nonexistent/l.npy", "--quiet"), 3);

    /* Level 0: a byte copy and a report. */
    CU_ASSERT_EQUAL(MAIN("one-shot", "--use-case", "ic", "--model", model, "--data", data, "--optim-level", "0",
                         "--output", out, "--quiet"),
                    0);
    snprintf(p, sizeof p, "%s/model.onnx", out);
    CU_ASSERT_TRUE(same_file(model, p));
    snprintf(p, sizeof p, "%s/report.json", out);
    CU_ASSERT_EQUAL(access(p, R_OK), 0);

    /* Level 0.5 (the default): a compressed model, different from the input,
     * that loads again, and a report. */
    CU_ASSERT_EQUAL(MAIN("one-shot", "--use-case", "ic", "--model", model, "--data", data, "--output", out2,
                         "--quiet"),
                    0);
    snprintf(p, sizeof p, "%s/model.onnx", out2);
    CU_ASSERT_FALSE(same_file(model, p));
    struct sp_model *cm = NULL;
    struct sp_error merr = {0};
    CU_ASSERT_EQUAL(sp_model_load(p, &cm, &merr), SP_OK);
    sp_model_free(cm);
    snprintf(p, sizeof p, "%s/report.json", out2);
    CU_ASSERT_EQUAL(access(p, R_OK), 0);
    snprintf(out2, sizeof out2, "%s/out", sp_test_tmpdir());
    /* Missing model: input error. */
    CU_ASSERT_EQUAL(MAIN("one-shot", "--use-case", "ic", "--model", "/nonexistent/m.onnx", "--data", data,
                         "--optim-level", "0", "--output", out2),
                    3);
    CU_ASSERT_NOT_EQUAL(access(out2, F_OK), 0);
    /* A data folder with no samples (the data module calls that a usage error). */
    const char *empty = sp_test_tmpdir();
    CU_ASSERT_NOT_EQUAL(MAIN("one-shot", "--use-case", "ic", "--model", model, "--data", empty, "--optim-level", "0",
                         "--output", out2),
                    0);
    CU_ASSERT_NOT_EQUAL(access(out2, F_OK), 0);
}

static void test_oneshot_library_refuses_bad_config(void)
{
    struct sp_oneshot_config cfg;
    sp_oneshot_config_init(&cfg);
    struct sp_error e = {0};
    struct sp_oneshot_result r;
    /* No model. */
    CU_ASSERT_EQUAL(sp_oneshot_run_ex(&cfg, self, NULL, &r, &e), SP_ERR_USAGE);
    CU_ASSERT_EQUAL(r.stage, SP_STAGE_SETUP);
    cfg.model_path = "m.onnx";
    cfg.data_dir = "d";
    cfg.use_case = "ic";
    cfg.optim_level = 1.5;
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_oneshot_run(&cfg, self, NULL, &e), SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--optim-level"));
    cfg.optim_level = 0;
    cfg.holdout = 0.7;
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_oneshot_run(&cfg, self, NULL, &e), SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--holdout"));
}

static void test_comm_self(void)
{
    struct sp_error e = {0};
    CU_ASSERT_EQUAL(sp_comm_rank(self), 0);
    CU_ASSERT_EQUAL(sp_comm_size(self), 1);
    CU_ASSERT_EQUAL(sp_comm_agree(self, SP_OK, &e), SP_OK);
    sp_error_set(&e, SP_ERR_FORMAT, "x.npz: bad");
    CU_ASSERT_EQUAL(sp_comm_agree(self, SP_ERR_FORMAT, &e), SP_ERR_FORMAT);
    CU_ASSERT_STRING_EQUAL(e.msg, "x.npz: bad"); /* one rank: no prefix */
    sp_error_clear(&e);
    int64_t v[3] = {1, -2, 3};
    CU_ASSERT_EQUAL(sp_comm_allreduce_i64(self, v, 3, SP_REDUCE_SUM, &e), SP_OK);
    CU_ASSERT_EQUAL(v[1], -2);
    void *buf = "hello";
    size_t len = 6;
    CU_ASSERT_EQUAL(sp_comm_bcast_alloc(self, &buf, &len, 0, &e), SP_OK);
    CU_ASSERT_STRING_EQUAL(buf, "hello");
    int mine = 42, all = 0;
    CU_ASSERT_EQUAL(sp_comm_gather(self, &mine, sizeof mine, &all, 0, &e), SP_OK);
    CU_ASSERT_EQUAL(all, 42);
    CU_ASSERT_EQUAL(sp_comm_gather(self, &mine, 0, &all, 0, &e), SP_ERR_USAGE);
}

static void test_report(void)
{
    struct sp_report *r = sp_report_create();
    struct sp_error e = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(sp_report_set_string(r, "a.b.c", "x", &e), SP_OK);
    CU_ASSERT_EQUAL(sp_report_set_int(r, "a.n", 7, &e), SP_OK);
    CU_ASSERT_EQUAL(sp_report_set_double(r, "a.nan", 0.0 / 0.0, &e), SP_OK);
    CU_ASSERT_EQUAL(sp_report_set_string(r, "a.b.c", "y", &e), SP_OK); /* replaces */
    CU_ASSERT_EQUAL(sp_report_append_string(r, "list", "one", &e), SP_OK);
    CU_ASSERT_EQUAL(sp_report_append_string(r, "list", "two", &e), SP_OK);
    CU_ASSERT_EQUAL(sp_report_set_string(r, "utf", "\xff\xfe", &e), SP_OK);
    CU_ASSERT_EQUAL(sp_report_set_int(r, "a.b.c.d", 1, &e), SP_ERR_USAGE); /* c is a string */
    CU_ASSERT_EQUAL(sp_report_set_int(r, "a..d", 1, NULL), SP_ERR_USAGE);
    CU_ASSERT_EQUAL(sp_report_set_int(r, "", 1, NULL), SP_ERR_USAGE);
    char *s = sp_report_dump(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"c\": \"y\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"n\": 7"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"nan\": null"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"one\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"utf\": \"??\""));
    CU_ASSERT_EQUAL(s[strlen(s) - 1], '\n');
    free(s);

    char path[4200];
    snprintf(path, sizeof path, "%s/r.json", sp_test_tmpdir());
    CU_ASSERT_EQUAL(sp_report_write(r, path, &e), SP_OK);
    CU_ASSERT_EQUAL(access(path, R_OK), 0);
    sp_error_clear(&e);
    CU_ASSERT_EQUAL(sp_report_write(r, "/nonexistent-dir/r.json", &e), SP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/nonexistent-dir/r.json"));
    sp_report_free(r);
}

int main(int argc, char **argv)
{
    struct sp_comm *world = sp_comm_init(&argc, &argv, NULL);
    if (!world || sp_comm_create_self(&self, NULL)) {
        fprintf(stderr, "MPI did not start\n");
        return 1;
    }
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    CU_add_test(s, "one-shot defaults", test_one_shot_defaults);
    CU_add_test(s, "one-shot: every flag parsed", test_one_shot_every_flag);
    CU_add_test(s, "help and version", test_help_and_version);
    CU_add_test(s, "bad values name their flag, exit 2", test_bad_values_name_their_flag);
    CU_add_test(s, "exit-code table", test_exit_code_table);
    CU_add_test(s, "zoo lookup and unknown names", test_zoo_lookup);
    CU_add_test(s, "sp_cli_main in-process", test_main_in_process);
    CU_add_test(s, "sp_oneshot_run refuses a bad config", test_oneshot_library_refuses_bad_config);
    CU_add_test(s, "communicator on MPI_COMM_SELF", test_comm_self);
    CU_add_test(s, "report.json building and writing", test_report);
    int rc = sp_test_main();
    sp_comm_free(self);
    return sp_comm_finalize(world, rc);
}
