/*
 * The one-shot job of the seed guide as a library call: validate the model and
 * the calibration data on every rank, then compress according to the optim
 * level and write the output folder. The CLI's `one-shot` subcommand is a thin
 * wrapper; tests and other programs call sp_oneshot_run directly.
 */
#ifndef SPARSIFY_ONESHOT_H
#define SPARSIFY_ONESHOT_H

#include <stdbool.h>

#include "sparsify/calib.h"
#include "sparsify/comm.h"
#include "sparsify/log.h"
#include "sparsify/prune.h"
#include "sparsify/quant.h"
#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of the optional settings (also what --help shows). */
#define SP_ONESHOT_DEFAULT_LEVEL 0.5
#define SP_ONESHOT_DEFAULT_OUTPUT "sparsify-output"
#define SP_ONESHOT_DEFAULT_BATCH 8
#define SP_ONESHOT_DEFAULT_HOLDOUT 0.05

/* Everything a one-shot run needs. Strings are borrowed for the call. */
struct sp_oneshot_config {
    const char *model_path;       /* ONNX file to compress */
    const char *data_dir;         /* folder of .npz samples */
    const char *model_name;       /* zoo entry the model came from, or NULL (report only) */
    const char *data_name;        /* zoo entry the data came from, or NULL (report only) */
    const char *use_case;         /* --use-case text, resolved by sp_use_case_resolve */
    double optim_level;           /* in [0, 1] */
    const char *optim_level_text; /* as typed, for the report; may be NULL */
    const char *output_dir;       /* created if missing (with parents) */
    int batch_size;               /* samples per engine run, >= 1 */
    int checkpoint_every;         /* groups between checkpoints; 0 = only at the end */
    const char *resume;           /* checkpoint to resume from (a file, or a folder holding
                                     checkpoint.h5), or NULL */
    double holdout;               /* fraction of samples kept for fidelity, in [0, 0.5] */
    enum sp_prune_method prune_method;
    int calibration_method;       /* enum sp_calib_method, or -1: the quantizer's default */
    int weight_bits;              /* 7 or 8; 0 = the compressor's default (7) */
    int n_exclude;                /* layer names / op types kept dense */
    const char *const *exclude;
    sp_calib_progress_fn progress;/* calibration progress on rank 0, or NULL */
    void *progress_user;
};

/* Sets every field to its default (NULL paths, level 0.5, output
 * "sparsify-output", batch 8, holdout 0.05, SparseGPT, calibration -1). */
void sp_oneshot_config_init(struct sp_oneshot_config *cfg);

/* Where a run stopped (for logs and callers; exit codes follow the status). */
enum sp_oneshot_stage {
    SP_STAGE_SETUP = 0,  /* checking the configuration */
    SP_STAGE_MODEL,      /* loading and distributing the model */
    SP_STAGE_DATA,       /* listing and validating the samples */
    SP_STAGE_COMPRESS,   /* quantization / pruning */
    SP_STAGE_OUTPUT,     /* writing the output folder */
    SP_STAGE_DONE
};
const char *sp_oneshot_stage_name(enum sp_oneshot_stage s);

/* Optional facts about a run, filled by sp_oneshot_run_ex. */
struct sp_oneshot_result {
    enum sp_oneshot_stage stage; /* the failing stage, or SP_STAGE_DONE */
    long long samples;           /* calibration samples found */
    /* Rank 0, levels > 0: the human summary of the fidelity check (dense vs
     * compressed on the held-out samples, see docs/eval.md) for the caller
     * to print; "" otherwise. */
    char summary[2048];
};

/*
 * Runs one-shot compression. Every rank gets the same status; on failure every
 * rank's `err` holds the message of the failing rank (prefixed "rank R: " on the
 * other ranks), and only rank 0 should print it. `log` may be NULL.
 *
 * Steps: rank 0 loads the model and broadcasts it serialized (other ranks never
 * read the model file); rank 0 lists the data folder and broadcasts the file
 * list; each rank validates its contiguous share of the samples against the
 * model; then the level's plan is applied. At level 0 rank 0 writes
 * output_dir/model.onnx as a byte copy of the input (plus any external-data
 * files it references, at the same relative paths) and output_dir/report.json.
 * Levels above 0 run calibration (src/calib; checkpoints in
 * output_dir/checkpoint.h5, every checkpoint_every groups and at the end of
 * each pass; `resume` continues from one), log the statistics digest, and then
 * fail with SP_ERR_NOT_IMPLEMENTED until compression exists: never a silent
 * copy. A calibration stopped by sp_calib_request_stop() returns
 * SP_ERR_INTERRUPTED and keeps its checkpoint; on any other failure a
 * checkpoint this run created is removed with the folder it created.
 *
 * Output files are written atomically; on failure nothing new is left in the
 * output folder, and a folder this call created is removed again.
 * Collective.
 */
enum sp_status sp_oneshot_run(const struct sp_oneshot_config *cfg, struct sp_comm *comm, const struct sp_logger *log,
                              struct sp_error *err);

/* sp_oneshot_run, also filling `result` (may be NULL). Collective. */
enum sp_status sp_oneshot_run_ex(const struct sp_oneshot_config *cfg, struct sp_comm *comm,
                                 const struct sp_logger *log, struct sp_oneshot_result *result,
                                 struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
