/*
 * The output folder as a transaction: files are staged under temporary names
 * (written and fsync'ed), then renamed into place together at the end. On
 * failure the staged files, any file already renamed, and every folder the
 * transaction created are removed, so a failed run leaves nothing behind.
 */
#ifndef SPARSIFY_PIPELINE_OUTDIR_H
#define SPARSIFY_PIPELINE_OUTDIR_H

#include <stddef.h>

#include "sparsify/status.h"

struct sp_outdir {
    char *root;          /* owned: the output folder */
    size_t n_dirs;       /* folders we created, parents first */
    char **dirs;         /* owned */
    size_t n_files;
    char **tmp;          /* owned: staged temporary paths */
    char **final;        /* owned: where each goes on commit */
    size_t n_committed;  /* files already renamed into place */
};

/*
 * Checks, without creating anything, that `root` can become the output folder:
 * it is a folder we can write to, or it does not exist and its nearest existing
 * ancestor is a writable folder. Local.
 */
enum sp_status sp_outdir_check(const char *root, struct sp_error *err);

/* Creates `root` (and missing parents), remembering what it created. Local. */
enum sp_status sp_outdir_begin(struct sp_outdir *od, const char *root, struct sp_error *err);

/* Stages a byte copy of `src` as `rel` (a relative path without "..";
 * sub-folders are created). Local. */
enum sp_status sp_outdir_copy(struct sp_outdir *od, const char *src, const char *rel, struct sp_error *err);

/* Stages `len` bytes as `rel`. Local. */
enum sp_status sp_outdir_write(struct sp_outdir *od, const char *rel, const void *buf, size_t len,
                               struct sp_error *err);

/* Reserves a staged temporary path for `rel` that the caller fills itself
 * (e.g. with sp_report_write to it, which is atomic on its own); *tmp_out is
 * borrowed from `od`. Local. */
enum sp_status sp_outdir_stage_path(struct sp_outdir *od, const char *rel, const char **tmp_out,
                                    struct sp_error *err);

/* Renames every staged file into place and syncs the folders. On failure rolls
 * back like sp_outdir_abort. Local. */
enum sp_status sp_outdir_commit(struct sp_outdir *od, struct sp_error *err);

/* Removes staged and committed files and the folders begin created; frees. */
void sp_outdir_abort(struct sp_outdir *od);

/* Frees bookkeeping after a successful commit (files stay). */
void sp_outdir_free(struct sp_outdir *od);

#endif
