/*
 * The sparsify command, as functions: main() only starts MPI and calls
 * sp_cli_main, so tests can drive the whole CLI (or just its option parser)
 * in-process. Only the CLI prints and picks exit codes; the library logs
 * through the callback installed here and returns statuses.
 */
#ifndef SPARSIFY_CLI_H
#define SPARSIFY_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "sparsify/comm.h"
#include "sparsify/log.h"
#include "sparsify/oneshot.h"
#include "sparsify/status.h"

/* Most --dim NAME=V settings one bench command takes. */
#define SP_CLI_MAX_DIMS 16

enum sp_cli_command { SP_CMD_NONE = 0, SP_CMD_ONE_SHOT, SP_CMD_RUN, SP_CMD_BENCH, SP_CMD_EVAL, SP_CMD_COUNT };

/* Everything the command line said, validated. Strings point into argv or
 * into `owned` storage released by sp_cli_options_free. */
struct sp_cli_options {
    enum sp_cli_command command;
    bool help;                   /* print help (global or the command's) and exit 0 */
    bool version;                /* print the version and exit 0 */
    bool quiet;
    enum sp_log_level log_level; /* default info; --quiet lowers it to warn */
    const char *zoo;             /* --zoo, or NULL */
    const char *model;           /* --model as given (path or zoo name) */
    const char *data;            /* --data as given */
    const char *output;          /* --output, or NULL for the command's default */
    const char *labels;          /* eval --labels */
    const char *compare;         /* eval --compare: a second model scored on the same data, or NULL */
    int threads;                 /* run/bench --threads; 0 = default */
    int batch;                   /* bench --batch */
    bool json;                   /* bench --json */
    int iters;                   /* bench --iters (default 20) */
    int warmup;                  /* bench --warmup (default 3) */
    long long max_int;           /* bench --max-int: integer inputs not feeding a Gather draw from
                                    [0, max_int) (default 2) */
    bool profile;                /* bench --profile: time per op type */
    int n_dims;                  /* bench --dim NAME=V, in command-line order */
    struct sp_cli_dim {
        char name[64];
        long long value;
    } dims[SP_CLI_MAX_DIMS];
    struct sp_oneshot_config oneshot; /* one-shot settings (paths filled by the zoo step) */
    char **owned;                /* storage for the --exclude list */
};

/*
 * Parses argv (argv[0] is the program name, "sparsify" or "sparsify.run").
 * Every bad value is SP_ERR_USAGE with a one-line message naming the flag and
 * what was expected. Does not touch the file system (zoo names and paths are
 * resolved later). Local. Not thread-safe (getopt_long state).
 */
enum sp_status sp_cli_parse(int argc, char **argv, struct sp_cli_options *opt, struct sp_error *err);
void sp_cli_options_free(struct sp_cli_options *opt);

/* Writes the global help, or the help of `cmd`, to `out`. */
void sp_cli_help(FILE *out, enum sp_cli_command cmd);

/* Name of a command ("one-shot"...). */
const char *sp_cli_command_name(enum sp_cli_command cmd);

/*
 * The exit code for a status (the table documented in --help and docs/cli.md):
 * a failed read (SP_ERR_IO) is an input failure, 3; a failed write
 * (SP_ERR_WRITE: output folder, model, report, checkpoint) is 6.
 */
int sp_cli_exit_code(enum sp_status st);

/*
 * Resolves MODEL / DATA: an existing path is used as it is; otherwise a bare
 * name is looked up in the zoo (`<zoo>/<name>/model.onnx`, `<zoo>/<name>/data/`).
 * The zoo is `zoo` if not NULL, else $SPARSIFY_ZOO, else the installed
 * share/sparsify/zoo, else the source tree's demo/ folder. On success *path is
 * malloc'ed and *zoo_name is `spec` when it came from the zoo (else NULL).
 * Errors (SP_ERR_IO, naming the flag): no such file or folder, unknown zoo
 * name (the message lists the zoo's entries). Local.
 */
enum sp_status sp_cli_resolve_model(const char *spec, const char *zoo, char **path, const char **zoo_name,
                                    struct sp_error *err);
enum sp_status sp_cli_resolve_data(const char *spec, const char *zoo, char **path, const char **zoo_name,
                                   struct sp_error *err);

/* The zoo folder that will be searched (see above), or NULL if none exists;
 * a static buffer. */
const char *sp_cli_zoo_dir(const char *zoo);

/*
 * `sparsify bench` (bench.c): times the engine on the model with random inputs
 * (or the first samples of --data) and prints latency, throughput and peak
 * arena bytes. Rank 0 does the timing; the others only agree on the status.
 * Collective over `comm`.
 */
enum sp_status sp_cli_bench(const struct sp_cli_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                            struct sp_error *err);

/*
 * `sparsify eval` (eval_cmd.c): top-1 accuracy of --model (and of --compare,
 * side by side) on --data against --labels; the samples are split over the
 * ranks and the counts summed, so the result does not depend on the number of
 * ranks. Rank 0 prints (text, or JSON with --json). Collective over `comm`.
 */
enum sp_status sp_cli_cmd_eval(const struct sp_cli_options *opt, struct sp_comm *comm, const struct sp_logger *log,
                               struct sp_error *err);

/*
 * The whole command: parse, resolve, run, print (rank 0 prints results and
 * errors; info lines come from rank 0 only; warnings and errors of other
 * ranks carry "rank R:"). Returns the process exit code. `comm` NULL means MPI
 * could not start (exit code 7).
 * Collective over `comm`.
 */
int sp_cli_main(int argc, char **argv, struct sp_comm *comm);

#endif
