/*
 * The one-shot pipeline (sp_oneshot_run): every stage of a compression job in
 * order, with the ranks agreeing on the outcome after each stage so that one
 * bad file on any rank stops the whole job with one message.
 *
 * Data flow: rank 0 reads the model and broadcasts it serialized; rank 0 lists
 * the samples and broadcasts the list; each rank checks its contiguous share.
 * Until quantization and pruning land, only level 0 produces output: a byte
 * copy of the input model, plus report.json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/model_internal.h"
#include "pipeline/outdir.h"
#include <jansson.h>

#include "sparsify/calib.h"
#include "sparsify/compress.h"
#include "sparsify/data.h"
#include "sparsify/eval.h"
#include "sparsify/level.h"
#include "sparsify/oneshot.h"
#include "sparsify/report.h"
#include "sparsify/usecase.h"

#ifndef SPARSIFY_VERSION
#define SPARSIFY_VERSION "unknown"
#endif

/* Largest model file rank 0 reads whole to list its external data: protobuf
 * itself caps a model at 2 GB; bigger weights live in external files. */
#define MODEL_FILE_MAX ((size_t)2 << 30)

const char *sp_oneshot_stage_name(enum sp_oneshot_stage s)
{
    static const char *const names[] = {"setup", "model", "data", "compress", "output", "done"};
    return (unsigned)s <= SP_STAGE_DONE ? names[s] : "?";
}

void sp_oneshot_config_init(struct sp_oneshot_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->optim_level = SP_ONESHOT_DEFAULT_LEVEL;
    cfg->output_dir = SP_ONESHOT_DEFAULT_OUTPUT;
    cfg->batch_size = SP_ONESHOT_DEFAULT_BATCH;
    cfg->holdout = SP_ONESHOT_DEFAULT_HOLDOUT;
    cfg->prune_method = SP_PRUNE_SPARSEGPT;
    cfg->calibration_method = -1;
}

/* ---- external data of the input model ----------------------------------- */

struct string_set {
    size_t n;
    char **items;
};

static enum sp_status set_add(struct string_set *s, const char *v, struct sp_error *err)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i], v) == 0)
            return SP_OK;
    char **it = realloc(s->items, (s->n + 1) * sizeof *it);
    if (!it)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    s->items = it;
    if (!(it[s->n] = strdup(v)))
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    s->n++;
    return SP_OK;
}

static void set_free(struct string_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}

static enum sp_status tensor_external(const Onnx__TensorProto *t, struct string_set *out, struct sp_error *err)
{
    if (!t || !t->has_data_location || t->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return SP_OK;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = t->external_data[i];
        if (e && e->key && e->value && strcmp(e->key, "location") == 0)
            return set_add(out, e->value, err);
    }
    return SP_OK;
}

static enum sp_status graph_external(const Onnx__GraphProto *g, int depth, struct string_set *out,
                                     struct sp_error *err)
{
    enum sp_status st = SP_OK;
    if (!g || depth > 64)
        return SP_OK;
    for (size_t i = 0; i < g->n_initializer && !st; i++)
        st = tensor_external(g->initializer[i], out, err);
    for (size_t i = 0; i < g->n_sparse_initializer && !st; i++) {
        const Onnx__SparseTensorProto *sp = g->sparse_initializer[i];
        if (sp) {
            st = tensor_external(sp->values, out, err);
            if (!st)
                st = tensor_external(sp->indices, out, err);
        }
    }
    for (size_t n = 0; n < g->n_node && !st; n++) {
        const Onnx__NodeProto *node = g->node[n];
        for (size_t a = 0; node && a < node->n_attribute && !st; a++) {
            const Onnx__AttributeProto *at = node->attribute[a];
            if (!at)
                continue;
            st = tensor_external(at->t, out, err);
            for (size_t k = 0; k < at->n_tensors && !st; k++)
                st = tensor_external(at->tensors[k], out, err);
            if (!st)
                st = graph_external(at->g, depth + 1, out, err);
            for (size_t k = 0; k < at->n_graphs && !st; k++)
                st = graph_external(at->graphs[k], depth + 1, out, err);
        }
    }
    return st;
}

/* Lists the external-data files `path` references (relative locations). */
static enum sp_status list_external(const char *path, struct string_set *out, struct sp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sp_error_set(err, SP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || (size_t)sb.st_size > MODEL_FILE_MAX) {
        fclose(f);
        return sp_error_set(err, SP_ERR_FORMAT, "%s: expected an ONNX file below 2 GB", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, len);
    }
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) {
        free(buf);
        return sp_error_set(err, SP_ERR_IO, "%s: short read", path);
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!m)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: not an ONNX model (protobuf parse failed)", path);
    enum sp_status st = graph_external(m->graph, 0, out, err);
    onnx__model_proto__free_unpacked(m, NULL);
    return st;
}

/* ---- helpers -------------------------------------------------------------- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Packs the dataset's file list as "dir\0file\0file\0..." for one broadcast. */
static enum sp_status pack_dataset(const struct sp_dataset *ds, char **buf, size_t *len, struct sp_error *err)
{
    size_t n = strlen(ds->dir) + 1;
    for (size_t i = 0; i < ds->count; i++)
        n += strlen(ds->files[i]) + 1;
    char *p = malloc(n);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory packing the file list");
    *buf = p;
    *len = n;
    size_t k = strlen(ds->dir) + 1;
    memcpy(p, ds->dir, k);
    p += k;
    for (size_t i = 0; i < ds->count; i++) {
        k = strlen(ds->files[i]) + 1;
        memcpy(p, ds->files[i], k);
        p += k;
    }
    return SP_OK;
}

static enum sp_status unpack_dataset(const char *buf, size_t len, struct sp_dataset *ds, struct sp_error *err)
{
    memset(ds, 0, sizeof *ds);
    if (!len || buf[len - 1] != '\0')
        return sp_error_set(err, SP_ERR_INTERNAL, "file list broadcast is malformed");
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += buf[i] == '\0';
    count--; /* the folder */
    ds->dir = strdup(buf);
    ds->files = calloc(count ? count : 1, sizeof *ds->files);
    if (!ds->dir || !ds->files)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory unpacking the file list");
    const char *p = buf + strlen(buf) + 1;
    for (size_t i = 0; i < count; i++) {
        if (!(ds->files[i] = strdup(p)))
            return sp_error_set(err, SP_ERR_NOMEM, "out of memory unpacking the file list");
        ds->count = i + 1;
        p += strlen(p) + 1;
    }
    return SP_OK;
}


/* ---- the pipeline -------------------------------------------------------- */

struct run_state {
    const struct sp_oneshot_config *cfg;
    struct sp_comm *comm;
    const struct sp_logger *log;
    int rank, size;
    struct sp_use_case use_case;
    struct sp_level_plan plan;
    char level_text[64];
    struct sp_model *model;
    size_t model_bytes;
    struct sp_dataset ds;
    bool have_ds;
    double t_start, t_model, t_data, t_validate, t_output;
    /* Calibration (levels > 0): the output folder is opened before it so the
     * checkpoint has a home; on failure the folder and a checkpoint this run
     * created are removed again, except after an interruption. */
    struct sp_outdir calib_od;
    bool calib_begun, ckpt_existed;
    char *ckpt_path, *resume_path;
    struct sp_calib_stats *stats;
    /* Compression (rank 0): the dense model kept for the fidelity check, the
     * per-layer report, BatchNorm folds. */
    struct sp_model *dense;
    struct sp_compress_report creport;
    bool have_creport;
    struct sp_fidelity fidelity; /* rank 0: dense vs compressed on the held-out samples */
    bool have_fidelity;
    int bn_folded;
    double t_calib, t_compress, t_fidelity;
};

static enum sp_status check_config(struct run_state *s, struct sp_error *err)
{
    const struct sp_oneshot_config *c = s->cfg;
    if (!c->model_path || !*c->model_path)
        return sp_error_set(err, SP_ERR_USAGE, "--model: expected an ONNX file or a zoo name");
    if (!c->data_dir || !*c->data_dir)
        return sp_error_set(err, SP_ERR_USAGE, "--data: expected a folder of .npz files or a zoo name");
    if (!c->output_dir || !*c->output_dir)
        return sp_error_set(err, SP_ERR_USAGE, "--output: expected a folder path");
    enum sp_status st = sp_use_case_resolve(c->use_case, &s->use_case, err);
    if (st)
        return st;
    if ((st = sp_level_plan(c->optim_level, &s->plan, err)))
        return st;
    if (c->batch_size < 1)
        return sp_error_set(err, SP_ERR_USAGE, "--batch-size: expected a positive integer, got %d", c->batch_size);
    if (c->checkpoint_every < 0)
        return sp_error_set(err, SP_ERR_USAGE, "--checkpoint-every: expected 0 or more, got %d", c->checkpoint_every);
    if (!(c->holdout >= 0.0 && c->holdout <= 0.5))
        return sp_error_set(err, SP_ERR_USAGE, "--holdout: expected a fraction in [0, 0.5], got %g", c->holdout);
    if (c->n_exclude < 0 || (c->n_exclude > 0 && !c->exclude))
        return sp_error_set(err, SP_ERR_USAGE, "--exclude: bad list");
    if (c->optim_level_text && strlen(c->optim_level_text) < sizeof s->level_text)
        snprintf(s->level_text, sizeof s->level_text, "%s", c->optim_level_text);
    else
        snprintf(s->level_text, sizeof s->level_text, "%g", s->plan.level);
    return SP_OK;
}

/* Rank 0 loads; the others receive the serialized model and parse it, so the
 * file system sees one reader however many ranks run. */
static enum sp_status stage_model(struct run_state *s, struct sp_error *err)
{
    enum sp_status st = SP_OK;
    if (s->rank == 0) {
        st = sp_model_load(s->cfg->model_path, &s->model, err);
        if (!st)
            sp_log(s->log, SP_LOG_INFO, "model %s: %d inputs, %d outputs, %d nodes, opset %lld", s->cfg->model_path,
                   sp_model_num_inputs(s->model), sp_model_num_outputs(s->model), sp_model_num_nodes(s->model),
                   (long long)sp_model_opset(s->model));
    }
    if ((st = sp_comm_agree(s->comm, st, err)))
        return st;
    if (s->size == 1)
        return SP_OK;

    void *buf = NULL;
    size_t len = 0;
    if (s->rank == 0) {
        struct sp_error serr = {0};
        if (sp_model_serialize(s->model, &buf, &len, &serr)) {
            /* Too big for one protobuf (or not serializable): the other ranks
             * read the file themselves instead. */
            sp_log(s->log, SP_LOG_DEBUG, "model not broadcast (%s): every rank reads %s", serr.msg,
                   s->cfg->model_path);
            buf = NULL;
            len = 0;
        }
    }
    st = sp_comm_bcast_alloc(s->comm, &buf, &len, 0, err);
    if (!st && s->rank != 0) {
        if (len)
            st = sp_model_load_buffer(buf, len, s->cfg->model_path, NULL, &s->model, err);
        else
            st = sp_model_load(s->cfg->model_path, &s->model, err);
    }
    if (s->rank == 0)
        s->model_bytes = len;
    free(buf);
    return sp_comm_agree(s->comm, st, err);
}

/* Block partition of the sorted samples: rank r checks [lo, hi). */
static void share(size_t count, int rank, int size, size_t *lo, size_t *hi)
{
    *lo = (size_t)((unsigned long long)count * (unsigned)rank / (unsigned)size);
    *hi = (size_t)((unsigned long long)count * (unsigned)(rank + 1) / (unsigned)size);
}

static enum sp_status stage_data(struct run_state *s, struct sp_error *err)
{
    enum sp_status st = SP_OK;
    char *buf = NULL;
    size_t len = 0;
    if (s->rank == 0) {
        st = sp_dataset_open(s->cfg->data_dir, s->log, &s->ds, err);
        s->have_ds = st == SP_OK;
        if (!st && s->size > 1)
            st = pack_dataset(&s->ds, &buf, &len, err);
    }
    if ((st = sp_comm_agree(s->comm, st, err))) {
        free(buf);
        return st;
    }
    s->t_data = sp_comm_wtime();
    if (s->size > 1) {
        void *vb = buf;
        st = sp_comm_bcast_alloc(s->comm, &vb, &len, 0, err);
        buf = vb;
        if (!st && s->rank != 0) {
            st = unpack_dataset(buf, len, &s->ds, err);
            s->have_ds = true;
        }
        free(buf);
        if ((st = sp_comm_agree(s->comm, st, err)))
            return st;
    }
    size_t lo, hi;
    share(s->ds.count, s->rank, s->size, &lo, &hi);
    sp_log(s->log, SP_LOG_DEBUG, "rank %d checks samples %zu to %zu of %zu", s->rank, lo, hi, s->ds.count);
    for (size_t i = lo; i < hi && !st; i++) {
        struct sp_npz npz = {0};
        st = sp_dataset_load(&s->ds, i, s->model, &npz, err);
        sp_npz_free(&npz);
    }
    /* The shares must cover every sample exactly once. */
    int64_t checked = st ? 0 : (int64_t)(hi - lo);
    enum sp_status agreed = sp_comm_agree(s->comm, st, err);
    if (agreed)
        return agreed;
    if ((st = sp_comm_allreduce_i64(s->comm, &checked, 1, SP_REDUCE_SUM, err)))
        return st;
    if ((size_t)checked != s->ds.count)
        return sp_error_set(err, SP_ERR_INTERNAL, "checked %lld samples of %zu", (long long)checked, s->ds.count);
    sp_log(s->log, SP_LOG_INFO, "data %s: %zu samples match the model's inputs", s->cfg->data_dir, s->ds.count);
    return SP_OK;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Rank 0 prints the calibration progress through cfg->progress. */
static enum sp_status stage_calibrate(struct run_state *s, struct sp_error *err)
{
    const struct sp_oneshot_config *c = s->cfg;
    enum sp_status st = SP_OK;
    /* Every rank holds the same paths (only rank 0 uses them), so that every
     * rank takes the same checkpoint branches in sp_calibrate. */
    if (!(s->ckpt_path = path_join(c->output_dir, "checkpoint.h5")))
        st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    if (!st && c->resume) {
        struct stat sb;
        s->resume_path = stat(c->resume, &sb) == 0 && S_ISDIR(sb.st_mode) ? path_join(c->resume, "checkpoint.h5")
                                                                           : strdup(c->resume);
        if (!s->resume_path)
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    if (!st && s->rank == 0) {
        st = sp_outdir_check(c->output_dir, err);
        if (!st && !(st = sp_outdir_begin(&s->calib_od, c->output_dir, err)))
            s->calib_begun = true;
        s->ckpt_existed = access(s->ckpt_path, F_OK) == 0;
    }
    if ((st = sp_comm_agree(s->comm, st, err)))
        return st;

    struct sp_calib_options o;
    sp_calib_options_init(&o);
    o.batch_size = c->batch_size;
    o.holdout = c->holdout;
    o.hessians = s->plan.prune;
    o.checkpoint_every = c->checkpoint_every;
    o.checkpoint_path = s->ckpt_path;
    o.resume_path = s->resume_path;
    o.progress = c->progress;
    o.progress_user = c->progress_user;
    struct sp_error cerr = {0};
    if ((st = sp_calibrate(s->model, &s->ds, &o, s->comm, s->log, &s->stats, &cerr))) {
        /* The engine names the node or graph at fault, not the file it came
         * from: say which model that is. */
        bool graph_msg = strncmp(cerr.msg, "node '", 6) == 0 || strncmp(cerr.msg, "graph", 5) == 0;
        if (graph_msg)
            sp_error_set(err, st, "%s: %s", c->model_path, cerr.msg);
        else
            sp_error_set(err, st, "%s", cerr.msg);
        return st;
    }
    if (s->rank == 0) {
        char hex[65];
        const struct sp_calib_timers *t = &s->stats->time;
        sp_calib_stats_digest(s->stats, hex);
        sp_log(s->log, SP_LOG_INFO, "calibration digest %s", hex);
        sp_log(s->log, SP_LOG_INFO,
               "calibration: %lld samples, %d tensors, %d layers in %.2f s (forward %.2f, Hessians %.2f, histograms "
               "%.2f, reduction %.2f, checkpoints %.2f)",
               (long long)s->stats->samples, s->stats->n_tensors, s->stats->n_layers, t->total, t->forward,
               t->hessian, t->histogram, t->reduce, t->checkpoint);
    }
    return SP_OK;
}

/* After the run: keep or remove what calibration left in the output folder. */
static void calib_cleanup(struct run_state *s, enum sp_status st)
{
    if (s->calib_begun) {
        if (st && st != SP_ERR_INTERRUPTED) {
            if (!s->ckpt_existed)
                unlink(s->ckpt_path);
            sp_outdir_abort(&s->calib_od);
        } else {
            sp_outdir_free(&s->calib_od);
        }
    }
    sp_calib_stats_free(s->stats);
    free(s->ckpt_path);
    free(s->resume_path);
}

#define R(call)                                                                                                        \
    do {                                                                                                               \
        if ((st = (call)))                                                                                             \
            goto out;                                                                                                  \
    } while (0)

static enum sp_status fill_report(struct run_state *s, struct sp_report *r, const struct string_set *ext,
                                  struct sp_error *err)
{
    const struct sp_oneshot_config *c = s->cfg;
    enum sp_status st = SP_OK;
    R(sp_report_set_string(r, "sparsify_version", SPARSIFY_VERSION, err));
    R(sp_report_set_string(r, "command", "one-shot", err));
    R(sp_report_set_string(r, "inputs.model", c->model_path, err));
    R(sp_report_set_string(r, "inputs.model_zoo_name", c->model_name, err));
    R(sp_report_set_string(r, "inputs.data", c->data_dir, err));
    R(sp_report_set_string(r, "inputs.data_zoo_name", c->data_name, err));
    R(sp_report_set_string(r, "use_case.requested", c->use_case, err));
    R(sp_report_set_string(r, "use_case.canonical", s->use_case.custom ? NULL : s->use_case.name, err));
    R(sp_report_set_string(r, "use_case.family", sp_task_family_name(s->use_case.family), err));
    R(sp_report_set_bool(r, "use_case.custom", s->use_case.custom, err));
    R(sp_report_set_string(r, "optim_level.requested", s->level_text, err));
    R(sp_report_set_double(r, "optim_level.resolved", s->plan.level, err));
    R(sp_report_set_bool(r, "plan.quantize", s->plan.quantize, err));
    R(sp_report_set_bool(r, "plan.prune", s->plan.prune, err));
    R(sp_report_set_double(r, "plan.target_sparsity", s->plan.sparsity, err));
    R(sp_report_set_string(r, "settings.prune_method", sp_prune_method_str(c->prune_method), err));
    R(sp_report_set_string(r, "settings.calibration_method", c->calibration_method < 0 ? "default" : sp_calib_method_str((enum sp_calib_method)c->calibration_method), err));
    R(sp_report_set_int(r, "settings.batch_size", c->batch_size, err));
    R(sp_report_set_int(r, "settings.checkpoint_every", c->checkpoint_every, err));
    R(sp_report_set_double(r, "settings.holdout", c->holdout, err));
    R(sp_report_set_string(r, "settings.resume", c->resume, err));
    R(sp_report_set_string(r, "settings.output", c->output_dir, err));
    if (c->n_exclude == 0)
        R(sp_report_set_string(r, "settings.exclude", NULL, err));
    for (int i = 0; i < c->n_exclude; i++)
        R(sp_report_append_string(r, "settings.exclude", c->exclude[i], err));
    R(sp_report_set_int(r, "model.opset", sp_model_opset(s->model), err));
    R(sp_report_set_int(r, "model.ir_version", sp_model_ir_version(s->model), err));
    R(sp_report_set_int(r, "model.nodes", sp_model_num_nodes(s->model), err));
    R(sp_report_set_int(r, "model.inputs", sp_model_num_inputs(s->model), err));
    R(sp_report_set_int(r, "model.outputs", sp_model_num_outputs(s->model), err));
    R(sp_report_set_int(r, "data.samples", (int64_t)s->ds.count, err));
    R(sp_report_set_int(r, "mpi.ranks", s->size, err));
    R(sp_report_set_double(r, "timings_s.load_model", s->t_model - s->t_start, err));
    R(sp_report_set_double(r, "timings_s.list_data", s->t_data - s->t_model, err));
    R(sp_report_set_double(r, "timings_s.validate_data", s->t_validate - s->t_data, err));
    R(sp_report_set_double(r, "timings_s.write_output", sp_comm_wtime() - s->t_validate, err));
    R(sp_report_set_double(r, "timings_s.total", sp_comm_wtime() - s->t_start, err));
    R(sp_report_append_string(r, "actions", "level 0: model returned unchanged", err));
    R(sp_report_set_string(r, "outputs.model", "model.onnx", err));
    R(sp_report_set_string(r, "outputs.report", "report.json", err));
    if (ext->n == 0)
        R(sp_report_set_string(r, "outputs.external_data", NULL, err));
    for (size_t i = 0; i < ext->n; i++)
        R(sp_report_append_string(r, "outputs.external_data", ext->items[i], err));
out:
    return st;
}

/* Level 0: the input model byte for byte, its external files, and the report. */
static enum sp_status write_level0(struct run_state *s, struct sp_error *err)
{
    const struct sp_oneshot_config *c = s->cfg;
    struct string_set ext = {0};
    struct sp_outdir od = {0};
    struct sp_report *r = NULL;
    char *src_dir = NULL, *src = NULL;
    bool begun = false;
    enum sp_status st = SP_OK;

    R(list_external(c->model_path, &ext, err));
    for (size_t i = 0; i < ext.n; i++)
        if (strcmp(ext.items[i], "model.onnx") == 0 || strcmp(ext.items[i], "report.json") == 0)
            R(sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: external data file named '%s' collides with the output",
                           c->model_path, ext.items[i]));
    if (!(src_dir = dir_of(c->model_path)))
        R(sp_error_set(err, SP_ERR_NOMEM, "out of memory"));

    R(sp_outdir_begin(&od, c->output_dir, err));
    begun = true;
    R(sp_outdir_copy(&od, c->model_path, "model.onnx", err));
    for (size_t i = 0; i < ext.n; i++) {
        free(src);
        size_t n = strlen(src_dir) + strlen(ext.items[i]) + 2;
        if (!(src = malloc(n)))
            R(sp_error_set(err, SP_ERR_NOMEM, "out of memory"));
        snprintf(src, n, "%s/%s", src_dir, ext.items[i]);
        R(sp_outdir_copy(&od, src, ext.items[i], err));
    }
    if (!(r = sp_report_create()))
        R(sp_error_set(err, SP_ERR_NOMEM, "out of memory creating the report"));
    R(fill_report(s, r, &ext, err));
    const char *tmp;
    R(sp_outdir_stage_path(&od, "report.json", &tmp, err));
    R(sp_report_write(r, tmp, err));
    R(sp_outdir_commit(&od, err));
    sp_log(s->log, SP_LOG_INFO, "level 0: model returned unchanged: %s/model.onnx, %s/report.json", c->output_dir,
           c->output_dir);
    sp_outdir_free(&od);
    begun = false;
out:
    if (begun)
        sp_outdir_abort(&od);
    sp_report_free(r);
    free(src);
    free(src_dir);
    set_free(&ext);
    return st;
}

/* Before calibration: fold BatchNormalization into the convolutions, so that
 * statistics and Hessians describe the layers that will be pruned. Every rank
 * holds the same model and folds it the same way. */
static enum sp_status stage_transform(struct run_state *s, struct sp_error *err)
{
    enum sp_status st = sp_transform_fold_batchnorm(s->model, &s->bn_folded, err);
    if (!st && s->rank == 0 && s->bn_folded)
        sp_log(s->log, SP_LOG_INFO, "folded %d BatchNormalization node%s into convolutions", s->bn_folded,
               s->bn_folded == 1 ? "" : "s");
    return sp_comm_agree(s->comm, st, err);
}

/* Rank 0: prune and quantize with the merged statistics. */
static enum sp_status stage_compress(struct run_state *s, struct sp_error *err)
{
    const struct sp_oneshot_config *c = s->cfg;
    enum sp_status st = SP_OK;
    if (s->rank == 0) {
        st = sp_model_clone(s->model, &s->dense, err);
        struct sp_compress_options o;
        sp_compress_options_init(&o);
        o.family = s->use_case.family;
        o.prune_method = c->prune_method;
        o.calibration_method = c->calibration_method;
        o.n_exclude = c->n_exclude;
        o.exclude = c->exclude;
        if (c->weight_bits)
            o.weight_bits = c->weight_bits;
        if (!st) {
            s->have_creport = true;
            st = sp_compress(s->model, s->stats, &s->plan, &o, &s->creport, s->log, err);
        }
    }
    s->t_compress = sp_comm_wtime();
    return sp_comm_agree(s->comm, st, err);
}

/* ---- fidelity (src/eval, docs/eval.md) ---------------------------------- */

/* Rank 0: the dense (BatchNorm-folded, numerically the input) and the
 * compressed model on the held-out samples, which calibration never saw. A
 * compressed model that the engine cannot run fails the job here, before
 * anything is written. */
static enum sp_status stage_fidelity(struct run_state *s, struct sp_oneshot_result *res, struct sp_error *err)
{
    enum sp_status st = SP_OK;
    if (s->rank == 0) {
        size_t n = sp_calib_holdout_list(s->ds.count, s->cfg->holdout, NULL);
        size_t *idx = calloc(n ? n : 1, sizeof *idx);
        if (!idx)
            st = sp_error_set(err, SP_ERR_NOMEM, "out of memory listing the held-out samples");
        if (!st) {
            sp_calib_holdout_list(s->ds.count, s->cfg->holdout, idx);
            struct sp_eval_options o;
            sp_eval_options_init(&o);
            o.classifier = sp_eval_is_classifier(&s->use_case);
            s->have_fidelity = true;
            st = sp_fidelity_run(s->dense, s->model, &s->ds, idx, n, &o, s->log, &s->fidelity, err);
        }
        free(idx);
        if (!st && n == 0)
            snprintf(res->summary, sizeof res->summary,
                     "fidelity: not measured, no held-out samples (--holdout %g of %zu samples)", s->cfg->holdout,
                     s->ds.count);
        else if (!st)
            sp_fidelity_summary(&s->fidelity, res->summary, sizeof res->summary);
        if (!st)
            sp_log(s->log, SP_LOG_DEBUG, "%s", res->summary);
    }
    return sp_comm_agree(s->comm, st, err);
}

/* ---- end of fidelity -------------------------------------------------------- */

/* Rank 0: model.onnx and report.json of a compressed run, staged in the output
 * folder calibration opened, then committed together. */
static enum sp_status write_compressed(struct run_state *s, struct sp_error *err)
{
    enum sp_status st = SP_OK;
    struct sp_report *r = NULL;
    struct string_set ext = {0};
    void *buf = NULL;
    size_t len = 0;
    R(sp_model_serialize(s->model, &buf, &len, err));
    R(sp_outdir_write(&s->calib_od, "model.onnx", buf, len, err));
    if (!(r = sp_report_create()))
        R(sp_error_set(err, SP_ERR_NOMEM, "out of memory creating the report"));
    R(fill_report(s, r, &ext, err));
    json_t *root = sp_report_root(r);
    json_t *comp = json_object();
    if (!comp || json_object_set_new(root, "compression", comp))
        R(sp_error_set(err, SP_ERR_NOMEM, "out of memory creating the report"));
    R(sp_compress_report_to_json(&s->creport, comp, err));
    if (s->have_fidelity) {
        json_t *fid = json_object();
        if (!fid || json_object_set_new(root, "fidelity", fid))
            R(sp_error_set(err, SP_ERR_NOMEM, "out of memory creating the report"));
        R(sp_fidelity_to_json(&s->fidelity, fid, err));
    }
    R(sp_report_set_int(r, "model.batchnorm_folded", s->bn_folded, err));
    struct stat sb;
    if (stat(s->cfg->model_path, &sb) == 0)
        R(sp_report_set_int(r, "model.size_bytes_before", (int64_t)sb.st_size, err));
    R(sp_report_set_int(r, "model.size_bytes_after", (int64_t)len, err));
    R(sp_report_set_int(r, "calibration.samples", s->stats ? s->stats->samples : 0, err));
    R(sp_report_set_double(r, "timings_s.calibrate", s->t_calib - s->t_validate, err));
    R(sp_report_set_double(r, "timings_s.compress", s->t_compress - s->t_calib, err));
    R(sp_report_set_double(r, "timings_s.fidelity", s->t_fidelity - s->t_compress, err));
    const char *tmp;
    R(sp_outdir_stage_path(&s->calib_od, "report.json", &tmp, err));
    R(sp_report_write(r, tmp, err));
    R(sp_outdir_commit(&s->calib_od, err));
    sp_log(s->log, SP_LOG_INFO, "compressed model: %s/model.onnx (%zu bytes), report: %s/report.json",
           s->cfg->output_dir, len, s->cfg->output_dir);
out:
    free(buf);
    sp_report_free(r);
    return st;
}

enum sp_status sp_oneshot_run_ex(const struct sp_oneshot_config *cfg, struct sp_comm *comm,
                                 const struct sp_logger *log, struct sp_oneshot_result *result,
                                 struct sp_error *err)
{
    struct run_state s = {.cfg = cfg, .comm = comm, .log = log};
    struct sp_oneshot_result res_local;
    struct sp_oneshot_result *res = result ? result : &res_local;
    memset(res, 0, sizeof *res);
    s.rank = sp_comm_rank(comm);
    s.size = sp_comm_size(comm);
    s.t_start = sp_comm_wtime();

    /* Setup: same arguments on every rank, so every rank reaches the same
     * verdict; rank 0 alone checks the output location, before any heavy work. */
    res->stage = SP_STAGE_SETUP;
    enum sp_status st = check_config(&s, err);
    if (!st && s.use_case.custom && s.rank == 0)
        sp_log(log, SP_LOG_WARN, "--use-case '%s' is not a known use case: using generic defaults",
               s.use_case.name);
    if ((st = sp_comm_agree(comm, st, err)))
        goto out;
    {
        /* An unusable output folder is found before any heavy work, at every
         * level, and reported as an output failure. Every rank records the
         * stage, so every rank maps the failure to the same exit code. */
        res->stage = SP_STAGE_OUTPUT;
        if (s.rank == 0)
            st = sp_outdir_check(cfg->output_dir, err);
        if ((st = sp_comm_agree(comm, st, err)))
            goto out;
    }

    res->stage = SP_STAGE_MODEL;
    if ((st = stage_model(&s, err)))
        goto out;
    s.t_model = sp_comm_wtime();

    res->stage = SP_STAGE_DATA;
    if ((st = stage_data(&s, err)))
        goto out;
    res->samples = (long long)s.ds.count;
    s.t_validate = sp_comm_wtime();

    res->stage = SP_STAGE_COMPRESS;
    if (s.plan.quantize || s.plan.prune) {
        if ((st = stage_transform(&s, err)))
            goto out;
        if ((st = stage_calibrate(&s, err)))
            goto out;
        s.t_calib = sp_comm_wtime();
        if ((st = stage_compress(&s, err)))
            goto out;
        /* Rank 0 holds the dense model (s.dense) and the compressed one
         * (s.model); the held-out samples are not in the statistics. */
        if ((st = stage_fidelity(&s, res, err)))
            goto out;
        s.t_fidelity = sp_comm_wtime();
        res->stage = SP_STAGE_OUTPUT;
        if (s.rank == 0)
            st = write_compressed(&s, err);
        if ((st = sp_comm_agree(comm, st, err)))
            goto out;
        res->stage = SP_STAGE_DONE;
        goto out;
    }

    res->stage = SP_STAGE_OUTPUT;
    if (s.rank == 0)
        st = write_level0(&s, err);
    if ((st = sp_comm_agree(comm, st, err)))
        goto out;
    res->stage = SP_STAGE_DONE;
out:
    calib_cleanup(&s, st);
    if (s.have_creport)
        sp_compress_report_free(&s.creport);
    sp_model_free(s.dense);
    sp_fidelity_free(&s.fidelity);
    if (s.have_ds)
        sp_dataset_free(&s.ds);
    sp_model_free(s.model);
    return st;
}

enum sp_status sp_oneshot_run(const struct sp_oneshot_config *cfg, struct sp_comm *comm, const struct sp_logger *log,
                              struct sp_error *err)
{
    return sp_oneshot_run_ex(cfg, comm, log, NULL, err);
}
