/*
 * Command-line options: one table describes every flag (which commands take
 * it, its value, its help line), and both getopt_long's option arrays and the
 * --help texts are generated from it, so the two cannot drift apart.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sparsify/eval.h"
#include "sparsify/level.h"
#include "sparsify/usecase.h"

#define CMD(c) (1u << (c))
#define ALL_CMDS (CMD(SP_CMD_ONE_SHOT) | CMD(SP_CMD_RUN) | CMD(SP_CMD_BENCH) | CMD(SP_CMD_EVAL))

enum flag_id {
    F_USE_CASE, F_MODEL, F_DATA, F_LEVEL, F_OUTPUT, F_ZOO, F_QUIET, F_LOG_LEVEL, F_BATCH_SIZE,
    F_CHECKPOINT_EVERY, F_RESUME, F_HOLDOUT, F_PRUNE_METHOD, F_CALIB_METHOD, F_EXCLUDE, F_THREADS, F_BATCH,
    F_JSON, F_ITERS, F_WARMUP, F_DIM, F_MAX_INT, F_PROFILE, F_LABELS, F_COMPARE, F_HELP, F_COUNT
};

struct flag {
    const char *name;
    int short_name;      /* 0 if none */
    const char *metavar; /* NULL: takes no value */
    unsigned commands;
    const char *help;
};

static const struct flag flags[F_COUNT] = {
    [F_USE_CASE] = {"use-case", 'u', "USE_CASE", CMD(SP_CMD_ONE_SHOT),
                    "what the model does: cv-classification, cv-detection, cv-segmentation, nlp-question_answering, "
                    "nlp-text_classification, nlp-sentiment_analysis, nlp-token_classification, "
                    "nlp-named_entity_recognition or an alias (ic, yolo, qa, ner...); other text is a custom use "
                    "case (warning). Required."},
    [F_MODEL] = {"model", 'm', "MODEL", ALL_CMDS, "ONNX file, or the name of a zoo entry. Required."},
    [F_DATA] = {"data", 'd', "DATA", ALL_CMDS,
                "folder of .npz samples (one per file, keys = model input names), or a zoo entry's name. "
                "Required, except for bench."},
    [F_LEVEL] = {"optim-level", 'l', "LEVEL", CMD(SP_CMD_ONE_SHOT),
                 "number in [0, 1] (default 0.5): 0 = model unchanged, below 0.3 = INT8 only, from 0.3 = "
                 "40% to 80% sparsity plus INT8."},
    [F_OUTPUT] = {"output", 'o', "DIR", CMD(SP_CMD_ONE_SHOT) | CMD(SP_CMD_RUN),
                  "output folder (one-shot default: ./sparsify-output; run: required), created if missing."},
    [F_ZOO] = {"zoo", 0, "DIR", ALL_CMDS,
               "model zoo folder for MODEL/DATA names (default: $SPARSIFY_ZOO, the installed share/sparsify/zoo, "
               "or the source tree's demo/)."},
    [F_QUIET] = {"quiet", 'q', NULL, ALL_CMDS, "only warnings and errors."},
    [F_LOG_LEVEL] = {"log-level", 0, "LEVEL", ALL_CMDS, "error, warn, info (default) or debug."},
    [F_BATCH_SIZE] = {"batch-size", 0, "N", CMD(SP_CMD_ONE_SHOT),
                      "samples per engine run during calibration (default 8)."},
    [F_CHECKPOINT_EVERY] = {"checkpoint-every", 0, "K", CMD(SP_CMD_ONE_SHOT),
                            "write a checkpoint every K sample groups (default 0: only at the end)."},
    [F_RESUME] = {"resume", 0, "FILE", CMD(SP_CMD_ONE_SHOT), "continue from this checkpoint."},
    [F_HOLDOUT] = {"holdout", 0, "FRACTION", CMD(SP_CMD_ONE_SHOT),
                   "share of samples kept out of calibration to measure fidelity, in [0, 0.5] (default 0.05)."},
    [F_PRUNE_METHOD] = {"prune-method", 0, "METHOD", CMD(SP_CMD_ONE_SHOT), "sparsegpt (default) or magnitude."},
    [F_CALIB_METHOD] = {"calibration-method", 0, "METHOD", CMD(SP_CMD_ONE_SHOT),
                        "activation ranges: minmax, percentile, entropy or mse (default: chosen by sparsify)."},
    [F_EXCLUDE] = {"exclude", 0, "NAMES", CMD(SP_CMD_ONE_SHOT),
                   "comma-separated node names or op types to keep dense and in float (repeatable)."},
    [F_THREADS] = {"threads", 0, "N", CMD(SP_CMD_RUN) | CMD(SP_CMD_BENCH) | CMD(SP_CMD_EVAL),
                   "BLAS threads (default: OPENBLAS_NUM_THREADS or all cores)."},
    [F_BATCH] = {"batch", 0, "N", CMD(SP_CMD_BENCH) | CMD(SP_CMD_EVAL),
                 "batch size (bench: the batch to time, default 1; eval: samples per engine run, default 32)."},
    [F_JSON] = {"json", 0, NULL, CMD(SP_CMD_BENCH) | CMD(SP_CMD_EVAL), "print the results as JSON."},
    [F_ITERS] = {"iters", 0, "K", CMD(SP_CMD_BENCH), "timed runs (default 20)."},
    [F_WARMUP] = {"warmup", 0, "W", CMD(SP_CMD_BENCH), "untimed runs before them (default 3)."},
    [F_DIM] = {"dim", 0, "NAME=V", CMD(SP_CMD_BENCH),
               "value of a symbolic input dimension (repeatable, e.g. --dim seq=128). A symbolic first "
               "dimension is the batch; other symbolic dimensions default to 128."},
    [F_PROFILE] = {"profile", 0, NULL, CMD(SP_CMD_BENCH),
                   "also time each op type (one more pass over the iterations, through the engine's observer)."},
    [F_MAX_INT] = {"max-int", 0, "N", CMD(SP_CMD_BENCH),
                   "random integer inputs are drawn from [0, N) (default 2: masks and token types), except "
                   "indices fed to a Gather, which stay below the table's size."},
    [F_LABELS] = {"labels", 0, "FILE", CMD(SP_CMD_EVAL),
                  ".npy of integer labels, one per sample in sorted file order. Required."},
    [F_COMPARE] = {"compare", 0, "MODEL", CMD(SP_CMD_EVAL),
                   "a second model (e.g. the compressed one) scored on the same samples and printed side by side."},
    [F_HELP] = {"help", 'h', NULL, ALL_CMDS, "this help."},
};

static const char *const command_names[SP_CMD_COUNT] = {"", "one-shot", "run", "bench", "eval"};
static const char *const command_summaries[SP_CMD_COUNT] = {
    "",
    "compress an ONNX model: prune and quantize it by --optim-level, calibrated on sample data",
    "run a model on every sample of a folder, writing one .npz of outputs per sample",
    "time a model: median and p90 latency, throughput and peak activation memory, on random inputs or the "
    "first samples of --data",
    "top-1 accuracy of a classifier on labelled samples (and of a second model side by side)",
};

const char *sp_cli_command_name(enum sp_cli_command cmd)
{
    return (unsigned)cmd < SP_CMD_COUNT ? command_names[cmd] : "?";
}

/* The exit-code table of --help and docs/cli.md. */
static const struct {
    int code;
    const char *meaning;
} exit_codes[] = {
    {0, "success"},
    {2, "usage: unknown flag, bad or missing value"},
    {3, "input: a model or data file is missing, unreadable or malformed, or the data does not match the model"},
    {4, "unsupported: a valid model sparsify cannot handle (operator, opset, dtype)"},
    {5, "not implemented yet (e.g. optim levels above 0 until compression lands)"},
    {6, "output: the output folder, a file in it or a checkpoint cannot be written"},
    {7, "MPI failure, or MPI could not start"},
    {8, "interrupted: stopped by a signal after writing a checkpoint"},
    {9, "checkpoint: corrupt, or from another model, data or settings"},
    {10, "numerical failure that could not be rescued"},
    {11, "out of memory"},
    {70, "internal error (a bug in sparsify: please report it)"},
};

int sp_cli_exit_code(enum sp_status st)
{
    switch (st) {
    case SP_OK: return 0;
    case SP_ERR_USAGE: return 2;
    case SP_ERR_IO: return 3;
    case SP_ERR_WRITE: return 6;
    case SP_ERR_FORMAT:
    case SP_ERR_MISMATCH: return 3;
    case SP_ERR_UNSUPPORTED: return 4;
    case SP_ERR_NOT_IMPLEMENTED: return 5;
    case SP_ERR_MPI: return 7;
    case SP_ERR_INTERRUPTED: return 8;
    case SP_ERR_CHECKPOINT: return 9;
    case SP_ERR_NUMERIC: return 10;
    case SP_ERR_NOMEM: return 11;
    default: return 70;
    }
}

/* Prints `text` wrapped at 100 columns with `indent` spaces. */
static void wrap(FILE *out, const char *text, int indent)
{
    int col = indent;
    fprintf(out, "%*s", indent, "");
    while (*text) {
        const char *sp = strchr(text, ' ');
        int n = sp ? (int)(sp - text) : (int)strlen(text);
        if (col > indent && col + 1 + n > 100) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", n, text);
        col += n;
        text += n;
        while (*text == ' ')
            text++;
    }
    fputc('\n', out);
}

static void print_exit_codes(FILE *out)
{
    fprintf(out, "\nExit codes:\n");
    for (size_t i = 0; i < sizeof exit_codes / sizeof exit_codes[0]; i++)
        fprintf(out, "  %3d  %s\n", exit_codes[i].code, exit_codes[i].meaning);
}

void sp_cli_help(FILE *out, enum sp_cli_command cmd)
{
    if (cmd == SP_CMD_NONE || (unsigned)cmd >= SP_CMD_COUNT) {
        fprintf(out, "Usage: sparsify COMMAND [OPTIONS]\n"
                     "       sparsify --help | --version\n\n"
                     "sparsify prunes and quantizes ONNX models in one shot, calibrated on sample data,\n"
                     "on one process or many (mpirun -np N sparsify one-shot ...).\n\nCommands:\n");
        for (int c = 1; c < SP_CMD_COUNT; c++)
            fprintf(out, "  %-9s %s\n", command_names[c], command_summaries[c]);
        fprintf(out, "\nExample:\n  sparsify one-shot --use-case image_classification --model fashion-cnn "
                     "--data fashion-cnn --optim-level 0\n\n"
                     "`sparsify COMMAND --help` lists a command's options; docs/cli.md describes them all.\n");
        print_exit_codes(out);
        return;
    }
    fprintf(out, "Usage: sparsify %s [OPTIONS]\n\n", command_names[cmd]);
    wrap(out, command_summaries[cmd], 0);
    fprintf(out, "\nOptions:\n");
    for (int f = 0; f < F_COUNT; f++) {
        if (!(flags[f].commands & CMD(cmd)))
            continue;
        char head[96];
        if (flags[f].short_name)
            snprintf(head, sizeof head, "  -%c, --%s%s%s", flags[f].short_name, flags[f].name,
                     flags[f].metavar ? " " : "", flags[f].metavar ? flags[f].metavar : "");
        else
            snprintf(head, sizeof head, "      --%s%s%s", flags[f].name, flags[f].metavar ? " " : "",
                     flags[f].metavar ? flags[f].metavar : "");
        fprintf(out, "%s\n", head);
        wrap(out, flags[f].help, 10);
    }
    print_exit_codes(out);
}

/* ---- value parsers: each names its flag and what it expected ------------- */

static enum sp_status parse_int(const char *flag, const char *s, long lo, long hi, int *out, struct sp_error *err)
{
    char *end = NULL;
    errno = 0;
    long v = (s && *s && ((*s >= '0' && *s <= '9') || *s == '-')) ? strtol(s, &end, 10) : 0;
    if (!s || !*s || !end || *end || errno || v < lo || v > hi)
        return sp_error_set(err, SP_ERR_USAGE, "--%s: expected an integer from %ld to %ld, got '%s'", flag, lo, hi,
                            s ? s : "");
    *out = (int)v;
    return SP_OK;
}

/* Same grammar as --optim-level (plain decimal, no sign or exponent). */
static enum sp_status parse_fraction(const char *flag, const char *s, double hi, double *out, struct sp_error *err)
{
    struct sp_error tmp = {0};
    double v;
    if (sp_level_parse(s, &v, &tmp) || v > hi)
        return sp_error_set(err, SP_ERR_USAGE, "--%s: expected a number in [0, %g], got '%s'", flag, hi, s ? s : "");
    *out = v;
    return SP_OK;
}

static enum sp_status add_excludes(struct sp_cli_options *opt, const char *list, struct sp_error *err)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0)
            return sp_error_set(err, SP_ERR_USAGE, "--exclude: expected comma-separated names, got '%s'", list);
        char **grown = realloc(opt->owned, (size_t)(opt->oneshot.n_exclude + 2) * sizeof *grown);
        if (!grown)
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        opt->owned = grown;
        if (!(grown[opt->oneshot.n_exclude] = strndup(p, n)))
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        grown[++opt->oneshot.n_exclude] = NULL;
        opt->oneshot.exclude = (const char *const *)opt->owned;
        if (!comma)
            return SP_OK;
        p = comma + 1;
    }
}

/* --dim NAME=V: a symbolic dimension's value for bench; a repeated NAME keeps
 * the last value. */
static enum sp_status add_dim(struct sp_cli_options *opt, const char *v, struct sp_error *err)
{
    const char *eq = strchr(v, '=');
    size_t n = eq ? (size_t)(eq - v) : 0;
    char *end = NULL;
    errno = 0;
    long long val = eq && eq[1] >= '0' && eq[1] <= '9' ? strtoll(eq + 1, &end, 10) : 0;
    if (!eq || n == 0 || n >= sizeof opt->dims[0].name || !end || *end || errno || val < 1 || val > (1 << 30))
        return sp_error_set(err, SP_ERR_USAGE, "--dim: expected NAME=V with V from 1 to %d, got '%s'", 1 << 30, v);
    int k = 0;
    while (k < opt->n_dims && (strlen(opt->dims[k].name) != n || strncmp(opt->dims[k].name, v, n) != 0))
        k++;
    if (k == SP_CLI_MAX_DIMS)
        return sp_error_set(err, SP_ERR_USAGE, "--dim: at most %d different names, got '%s' too", SP_CLI_MAX_DIMS, v);
    memcpy(opt->dims[k].name, v, n);
    opt->dims[k].name[n] = '\0';
    opt->dims[k].value = val;
    if (k == opt->n_dims)
        opt->n_dims++;
    return SP_OK;
}

static enum sp_status apply(struct sp_cli_options *opt, int f, const char *v, struct sp_error *err)
{
    struct sp_oneshot_config *c = &opt->oneshot;
    enum sp_status st;
    int i;
    switch (f) {
    case F_HELP: opt->help = true; return SP_OK;
    case F_USE_CASE: c->use_case = v; return SP_OK;
    case F_MODEL: opt->model = v; return SP_OK;
    case F_DATA: opt->data = v; return SP_OK;
    case F_LEVEL:
        c->optim_level_text = v;
        return sp_level_parse(v, &c->optim_level, err);
    case F_OUTPUT:
        if (!*v)
            return sp_error_set(err, SP_ERR_USAGE, "--output: expected a folder path, got an empty string");
        opt->output = v;
        return SP_OK;
    case F_ZOO:
        if (!*v)
            return sp_error_set(err, SP_ERR_USAGE, "--zoo: expected a folder path, got an empty string");
        opt->zoo = v;
        return SP_OK;
    case F_QUIET: opt->quiet = true; return SP_OK;
    case F_LOG_LEVEL:
        if ((i = sp_log_level_parse(v)) < 0)
            return sp_error_set(err, SP_ERR_USAGE, "--log-level: expected error, warn, info or debug, got '%s'", v);
        opt->log_level = (enum sp_log_level)i;
        return SP_OK;
    case F_BATCH_SIZE: return parse_int("batch-size", v, 1, 1 << 20, &c->batch_size, err);
    case F_CHECKPOINT_EVERY: return parse_int("checkpoint-every", v, 0, 1 << 30, &c->checkpoint_every, err);
    case F_RESUME:
        if (!*v)
            return sp_error_set(err, SP_ERR_USAGE, "--resume: expected a checkpoint file, got an empty string");
        c->resume = v;
        return SP_OK;
    case F_HOLDOUT: return parse_fraction("holdout", v, 0.5, &c->holdout, err);
    case F_PRUNE_METHOD:
        if ((i = sp_prune_method_parse(v)) < 0)
            return sp_error_set(err, SP_ERR_USAGE, "--prune-method: expected sparsegpt or magnitude, got '%s'", v);
        c->prune_method = (enum sp_prune_method)i;
        return SP_OK;
    case F_CALIB_METHOD:
        if ((i = sp_calib_method_parse(v)) < 0)
            return sp_error_set(err, SP_ERR_USAGE,
                                "--calibration-method: expected minmax, percentile, entropy or mse, got '%s'", v);
        c->calibration_method = i;
        return SP_OK;
    case F_EXCLUDE: return add_excludes(opt, v, err);
    case F_THREADS: return parse_int("threads", v, 0, 4096, &opt->threads, err);
    case F_BATCH: return parse_int("batch", v, 1, 1 << 20, &opt->batch, err);
    case F_JSON: opt->json = true; return SP_OK;
    case F_ITERS: return parse_int("iters", v, 1, 1 << 24, &opt->iters, err);
    case F_WARMUP: return parse_int("warmup", v, 0, 1 << 24, &opt->warmup, err);
    case F_DIM: return add_dim(opt, v, err);
    case F_PROFILE: opt->profile = true; return SP_OK;
    case F_MAX_INT: {
        int m;
        if ((st = parse_int("max-int", v, 1, 1 << 30, &m, err)))
            return st;
        opt->max_int = m;
        return SP_OK;
    }
    case F_LABELS:
        if (!*v)
            return sp_error_set(err, SP_ERR_USAGE, "--labels: expected a .npy file, got an empty string");
        opt->labels = v;
        return SP_OK;
    case F_COMPARE:
        if (!*v)
            return sp_error_set(err, SP_ERR_USAGE, "--compare: expected an ONNX file or a zoo name, got an empty string");
        opt->compare = v;
        return SP_OK;
    default: return sp_error_set(err, SP_ERR_INTERNAL, "option table out of sync (flag %d)", f);
    }
}

/* getopt_long values: flags are numbered from here, past every short letter. */
#define LONG_BASE 256

enum sp_status sp_cli_parse(int argc, char **argv, struct sp_cli_options *opt, struct sp_error *err)
{
    memset(opt, 0, sizeof *opt);
    sp_oneshot_config_init(&opt->oneshot);
    opt->oneshot.output_dir = NULL;
    opt->log_level = SP_LOG_INFO;
    opt->batch = 1;
    opt->iters = 20;
    opt->warmup = 3;
    opt->max_int = 2;

    if (argc < 2)
        return sp_error_set(err, SP_ERR_USAGE, "expected a command (one-shot, run, bench, eval); see sparsify --help");
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 || strcmp(first, "help") == 0) {
        opt->help = true;
        return SP_OK;
    }
    if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0) {
        opt->version = true;
        return SP_OK;
    }
    for (int c = 1; c < SP_CMD_COUNT; c++)
        if (strcmp(first, command_names[c]) == 0)
            opt->command = (enum sp_cli_command)c;
    if (opt->command == SP_CMD_NONE) {
        if (first[0] == '-')
            return sp_error_set(err, SP_ERR_USAGE, "unknown option '%s' before the command; see sparsify --help",
                                first);
        return sp_error_set(err, SP_ERR_USAGE,
                            "unknown command '%s': expected one-shot, run, bench or eval; see sparsify --help", first);
    }
    const char *cmd = command_names[opt->command];
    if (opt->command == SP_CMD_EVAL)
        opt->batch = SP_EVAL_DEFAULT_BATCH; /* accuracy runs many samples: stack them */

    /* Option arrays for this command, from the table. */
    struct option longopts[F_COUNT + 1];
    char shortopts[3 * F_COUNT + 3] = "+:"; /* stop at operands; ':' reports missing values */
    int n = 0;
    for (int f = 0; f < F_COUNT; f++) {
        if (!(flags[f].commands & CMD(opt->command)))
            continue;
        longopts[n++] = (struct option){flags[f].name, flags[f].metavar ? required_argument : no_argument, NULL,
                                        LONG_BASE + f};
        if (flags[f].short_name) {
            size_t k = strlen(shortopts);
            shortopts[k++] = (char)flags[f].short_name;
            if (flags[f].metavar)
                shortopts[k++] = ':';
            shortopts[k] = '\0';
        }
    }
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    optind = 0; /* glibc: full re-initialisation, so the parser can run again */
    opterr = 0;
    enum sp_status st = SP_OK;
    for (;;) {
        int prev = optind ? optind : 1;
        int c = getopt_long(sub_argc, sub_argv, shortopts, longopts, NULL);
        if (c == -1)
            break;
        const char *arg = prev < sub_argc ? sub_argv[prev] : "";
        if (c == '?') {
            if (optopt && optopt < LONG_BASE)
                return sp_error_set(err, SP_ERR_USAGE, "%s: unknown option '-%c'; see sparsify %s --help", cmd,
                                    optopt, cmd);
            return sp_error_set(err, SP_ERR_USAGE, "%s: unknown option '%s'; see sparsify %s --help", cmd, arg, cmd);
        }
        if (c == ':') {
            for (int f = 0; f < F_COUNT; f++)
                if (optopt == LONG_BASE + f || (optopt && optopt == flags[f].short_name))
                    return sp_error_set(err, SP_ERR_USAGE, "--%s: expected a value (%s)", flags[f].name,
                                        flags[f].metavar);
            return sp_error_set(err, SP_ERR_USAGE, "%s: option '%s' expects a value", cmd, arg);
        }
        int f = -1;
        if (c >= LONG_BASE)
            f = c - LONG_BASE;
        else
            for (int k = 0; k < F_COUNT; k++)
                if (flags[k].short_name == c)
                    f = k;
        if (f < 0 || f >= F_COUNT)
            return sp_error_set(err, SP_ERR_INTERNAL, "getopt returned %d", c);
        /* "--model --data x": the value slot swallowed the next flag. */
        if (flags[f].metavar && optarg && strncmp(optarg, "--", 2) == 0 && optarg[2])
            return sp_error_set(err, SP_ERR_USAGE, "--%s: expected a value (%s), got the option '%s'", flags[f].name,
                                flags[f].metavar, optarg);
        if ((st = apply(opt, f, optarg, err)))
            return st;
    }
    if (optind < sub_argc)
        return sp_error_set(err, SP_ERR_USAGE, "%s: unexpected argument '%s' (values go after a flag, like --model "
                                               "FILE); see sparsify %s --help",
                            cmd, sub_argv[optind], cmd);
    if (opt->help)
        return SP_OK;
    if (opt->quiet && opt->log_level > SP_LOG_WARN)
        opt->log_level = SP_LOG_WARN;

    /* Required flags. */
    if (!opt->model)
        return sp_error_set(err, SP_ERR_USAGE, "%s: missing --model (an ONNX file or a zoo name)", cmd);
    if (!opt->data && opt->command != SP_CMD_BENCH)
        return sp_error_set(err, SP_ERR_USAGE, "%s: missing --data (a folder of .npz files or a zoo name)", cmd);
    if (opt->command == SP_CMD_ONE_SHOT && !opt->oneshot.use_case)
        return sp_error_set(err, SP_ERR_USAGE, "one-shot: missing --use-case (e.g. cv-classification)");
    if (opt->command == SP_CMD_RUN && !opt->output)
        return sp_error_set(err, SP_ERR_USAGE, "run: missing --output (the folder for the output .npz files)");
    if (opt->command == SP_CMD_EVAL && !opt->labels)
        return sp_error_set(err, SP_ERR_USAGE, "eval: missing --labels (a .npy of integer labels)");
    if (opt->oneshot.use_case) {
        struct sp_use_case uc;
        if ((st = sp_use_case_resolve(opt->oneshot.use_case, &uc, err)))
            return st;
    }
    opt->oneshot.output_dir = opt->output ? opt->output : SP_ONESHOT_DEFAULT_OUTPUT;
    return SP_OK;
}

void sp_cli_options_free(struct sp_cli_options *opt)
{
    if (!opt)
        return;
    for (int i = 0; opt->owned && opt->owned[i]; i++)
        free(opt->owned[i]);
    free(opt->owned);
    opt->owned = NULL;
    opt->oneshot.exclude = NULL;
    opt->oneshot.n_exclude = 0;
}
