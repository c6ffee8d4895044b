/*
 * Loading ONNX models and the accessors over a loaded model.
 *
 * A model file comes from a user and may be anything: this file turns it into
 * a protobuf-c tree only after checking what protobuf-c cannot (what kind of
 * garbage a failed parse was, IR version, opset, ranks, that every tensor's
 * data agrees with its dims, unique initializer names) and reads external data
 * into memory, so every later stage works on a validated, self-contained tree.
 * The tree is unpacked with protobuf-c's default allocator: nodes and tensors a
 * later stage mallocs and attaches are freed with the rest of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/model_internal.h"
#include "onnx/wire_check.h"

/* Subgraphs (If/Loop/Scan bodies) nest; a hostile file could nest them deep
 * enough to exhaust the stack of a recursive walk. */
#define MAX_GRAPH_DEPTH 64

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static bool is_default_domain(const char *d) { return !d || !d[0] || !strcmp(d, "ai.onnx"); }

/* ---- reading the file -------------------------------------------------------- */

static enum sp_status read_whole_file(const char *path, uint8_t **buf_out, size_t *len_out, struct sp_error *err)
{
    *buf_out = NULL;
    *len_out = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sp_error_set(err, SP_ERR_IO, "%s: cannot open model: %s", path, strerror(errno));
    enum sp_status st = SP_OK;
    uint8_t *buf = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = sp_error_set(err, SP_ERR_IO, "%s: cannot stat model: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = sp_error_set(err, SP_ERR_IO, "%s: is a folder, not an ONNX model file", path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = sp_error_set(err, SP_ERR_IO, "%s: is not a regular file", path);
        goto out;
    }
    if ((uint64_t)sb.st_size > SP_MODEL_PROTOBUF_LIMIT) {
        st = sp_error_set(err, SP_ERR_FORMAT,
                          "%s: file is %lld bytes, above protobuf's 2 GB limit (large models must use external data)",
                          path, (long long)sb.st_size);
        goto out;
    }
    size_t len = (size_t)sb.st_size;
    buf = malloc(len ? len : 1);
    if (!buf) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: cannot allocate %zu bytes to read the model", path, len);
        goto out;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = sp_error_set(err, SP_ERR_IO, "%s: cannot read model: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break; /* shrank while we read: parse what is there */
        got += (size_t)r;
    }
    *buf_out = buf;
    *len_out = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return st;
}

/* ---- telling garbage from a truncated model ------------------------------------ */

static bool read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return false;
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/*
 * protobuf-c only says "failed". Walking the top-level fields tells the two
 * common cases apart: a file that is not protobuf at all (bad wire type, field
 * 0) and a real model cut short (a length running past the end).
 */
static enum sp_status diagnose_unpack_failure(const uint8_t *p, size_t len, const char *name, struct sp_error *err)
{
    size_t pos = 0;
    while (pos < len) {
        size_t field_at = pos;
        uint64_t key, v;
        if (!read_varint(p, len, &pos, &key)) {
            if (pos >= len)
                return sp_error_set(err, SP_ERR_FORMAT, "%s: truncated ONNX model (file ends inside a field key at byte %zu)",
                                    name, field_at);
            return sp_error_set(err, SP_ERR_FORMAT, "%s: not an ONNX model (not protobuf: bad varint at byte %zu)", name,
                                field_at);
        }
        unsigned wt = (unsigned)(key & 7);
        uint64_t field = key >> 3;
        if (field == 0 || field > 536870911u || wt == 3 || wt == 4 || wt > 5)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: not an ONNX model (not protobuf: field %llu with wire type %u at byte %zu)", name,
                                (unsigned long long)field, wt, field_at);
        switch (wt) {
        case 0:
            if (!read_varint(p, len, &pos, &v))
                return sp_error_set(err, SP_ERR_FORMAT, "%s: truncated ONNX model (file ends inside field %llu)", name,
                                    (unsigned long long)field);
            break;
        case 1:
        case 5: {
            size_t need = wt == 1 ? 8 : 4;
            if (len - pos < need)
                return sp_error_set(err, SP_ERR_FORMAT, "%s: truncated ONNX model (file ends inside field %llu)", name,
                                    (unsigned long long)field);
            pos += need;
            break;
        }
        case 2:
            if (!read_varint(p, len, &pos, &v) || v > len - pos)
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "%s: truncated ONNX model (field %llu at byte %zu runs past the end of the %zu-byte file)",
                                    name, (unsigned long long)field, field_at, len);
            pos += (size_t)v;
            break;
        }
    }
    return sp_error_set(err, SP_ERR_FORMAT,
                        "%s: not a valid ONNX model (protobuf whose fields do not fit ModelProto, or a nested message is corrupt)",
                        name);
}

/* ---- walking every tensor of a model ------------------------------------------ */

struct tensor_walk {
    const char *file;
    const char *base_dir; /* NULL: external data is an error */
    struct sp_error *err;
};

static enum sp_status visit_tensor(struct tensor_walk *w, Onnx__TensorProto *tp, const char *what)
{
    if (!tp)
        return SP_OK;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return sp_external_data_inline(tp, w->base_dir, w->file, what, w->err);
    return sp_tensor_proto_check(tp, w->file, what, w->err);
}

static enum sp_status visit_sparse(struct tensor_walk *w, Onnx__SparseTensorProto *sp, const char *what)
{
    if (!sp)
        return SP_OK;
    enum sp_status st = visit_tensor(w, sp->values, what);
    return st ? st : visit_tensor(w, sp->indices, what);
}

static enum sp_status visit_graph(struct tensor_walk *w, Onnx__GraphProto *g, int depth);

static int cmp_attr_name(const void *a, const void *b)
{
    return strcmp(str_or_empty((*(Onnx__AttributeProto *const *)a)->name),
                  str_or_empty((*(Onnx__AttributeProto *const *)b)->name));
}

/* Two attributes of one name would leave the kernel to pick one silently (the
 * ONNX checker refuses it too). Sorted copy: a hostile node may carry many. */
static enum sp_status check_unique_attributes(struct tensor_walk *w, const Onnx__NodeProto *nd)
{
    if (nd->n_attribute < 2)
        return SP_OK;
    Onnx__AttributeProto **v = malloc(nd->n_attribute * sizeof *v);
    if (!v)
        return sp_error_set(w->err, SP_ERR_NOMEM, "%s: node '%s': cannot allocate to check %zu attributes", w->file,
                            str_or_empty(nd->name), nd->n_attribute);
    memcpy(v, nd->attribute, nd->n_attribute * sizeof *v);
    qsort(v, nd->n_attribute, sizeof *v, cmp_attr_name);
    enum sp_status st = SP_OK;
    for (size_t a = 1; a < nd->n_attribute && !st; a++)
        if (!cmp_attr_name(&v[a - 1], &v[a]))
            st = sp_error_set(w->err, SP_ERR_FORMAT, "%s: node '%s' (%s): attribute '%s' appears twice", w->file,
                              str_or_empty(nd->name), str_or_empty(nd->op_type), str_or_empty(v[a]->name));
    free(v);
    return st;
}

static enum sp_status visit_nodes(struct tensor_walk *w, Onnx__NodeProto **nodes, size_t n_nodes, int depth)
{
    char what[512];
    enum sp_status st = SP_OK;
    for (size_t i = 0; i < n_nodes && !st; i++) {
        const Onnx__NodeProto *nd = nodes[i];
        if ((st = check_unique_attributes(w, nd)))
            break;
        for (size_t a = 0; a < nd->n_attribute && !st; a++) {
            Onnx__AttributeProto *at = nd->attribute[a];
            snprintf(what, sizeof what, "node '%s' (%s) attribute '%s'", str_or_empty(nd->name),
                     str_or_empty(nd->op_type), str_or_empty(at->name));
            st = visit_tensor(w, at->t, what);
            for (size_t k = 0; k < at->n_tensors && !st; k++)
                st = visit_tensor(w, at->tensors[k], what);
            if (!st)
                st = visit_sparse(w, at->sparse_tensor, what);
            for (size_t k = 0; k < at->n_sparse_tensors && !st; k++)
                st = visit_sparse(w, at->sparse_tensors[k], what);
            if (!st && at->g)
                st = visit_graph(w, at->g, depth + 1);
            for (size_t k = 0; k < at->n_graphs && !st; k++)
                st = visit_graph(w, at->graphs[k], depth + 1);
        }
    }
    return st;
}

static enum sp_status visit_graph(struct tensor_walk *w, Onnx__GraphProto *g, int depth)
{
    if (!g)
        return SP_OK;
    if (depth > MAX_GRAPH_DEPTH)
        return sp_error_set(w->err, SP_ERR_FORMAT, "%s: subgraphs nest deeper than %d levels", w->file,
                            MAX_GRAPH_DEPTH);
    enum sp_status st = SP_OK;
    for (size_t i = 0; i < g->n_initializer && !st; i++)
        st = visit_tensor(w, g->initializer[i], NULL);
    for (size_t i = 0; i < g->n_sparse_initializer && !st; i++)
        st = visit_sparse(w, g->sparse_initializer[i], "sparse initializer");
    if (!st)
        st = visit_nodes(w, g->node, g->n_node, depth);
    return st;
}

static enum sp_status visit_model(struct tensor_walk *w, Onnx__ModelProto *mp)
{
    enum sp_status st = visit_graph(w, mp->graph, 0);
    for (size_t i = 0; i < mp->n_training_info && !st; i++) {
        st = visit_graph(w, mp->training_info[i]->initialization, 1);
        if (!st)
            st = visit_graph(w, mp->training_info[i]->algorithm, 1);
    }
    for (size_t i = 0; i < mp->n_functions && !st; i++)
        st = visit_nodes(w, mp->functions[i]->node, mp->functions[i]->n_node, 1);
    return st;
}

/* ---- model-level checks -------------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted initializer names of the main graph (NULL names read as ""), for
 * duplicate detection and for telling fed inputs from initializers. */
static const char **sorted_initializer_names(const Onnx__GraphProto *g)
{
    const char **names = malloc((g->n_initializer ? g->n_initializer : 1) * sizeof *names);
    if (!names)
        return NULL;
    for (size_t i = 0; i < g->n_initializer; i++)
        names[i] = str_or_empty(g->initializer[i]->name);
    qsort(names, g->n_initializer, sizeof *names, cmp_str_ptr);
    return names;
}

static enum sp_status check_header(const Onnx__ModelProto *mp, const char *name, struct sp_error *err)
{
    int64_t ir = mp->has_ir_version ? mp->ir_version : 0;
    if (ir < SP_MODEL_IR_VERSION_MIN || ir > SP_MODEL_IR_VERSION_MAX)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: IR version %lld is outside the supported range [%d, %d]",
                            name, (long long)ir, SP_MODEL_IR_VERSION_MIN, SP_MODEL_IR_VERSION_MAX);
    if (!mp->graph)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: model has no graph", name);
    int n_default = 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!is_default_domain(o->domain))
            continue;
        n_default++;
        int64_t v = o->has_version ? o->version : 0;
        if (v < SP_MODEL_OPSET_MIN || v > SP_MODEL_OPSET_MAX)
            return sp_error_set(err, SP_ERR_UNSUPPORTED,
                                "%s: default-domain opset %lld is outside the supported range [%d, %d]", name,
                                (long long)v, SP_MODEL_OPSET_MIN, SP_MODEL_OPSET_MAX);
    }
    if (n_default > 1)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: the default domain is imported %d times", name, n_default);
    if (n_default == 0) {
        /* Legal for models made only of other domains' ops (training ops). */
        const Onnx__GraphProto *g = mp->graph;
        for (size_t i = 0; i < g->n_node; i++)
            if (is_default_domain(g->node[i]->domain))
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "%s: node '%s' (%s) uses the default domain but the model imports no opset for it",
                                    name, str_or_empty(g->node[i]->name), str_or_empty(g->node[i]->op_type));
    }
    const char **names = sorted_initializer_names(mp->graph);
    if (!names)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", name);
    enum sp_status st = SP_OK;
    for (size_t i = 1; i < mp->graph->n_initializer; i++)
        if (!strcmp(names[i - 1], names[i])) {
            st = sp_error_set(err, SP_ERR_FORMAT, "%s: initializer name '%s' is used more than once", name, names[i]);
            break;
        }
    free(names);
    return st;
}

/* Fills one sp_value_info from a ValueInfoProto; ranks above SP_MAX_DIMS fail. */
static enum sp_status describe_value(const Onnx__ValueInfoProto *vi, struct sp_value_info *out, const char *file,
                                     const char *role, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    out->name = str_or_empty(vi->name);
    out->ndim = -1;
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return SP_OK; /* sequences, maps, optionals: no tensor description */
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    out->dtype = tt->has_elem_type ? (enum sp_dtype)tt->elem_type : SP_DTYPE_UNDEFINED;
    if (!tt->shape)
        return SP_OK;
    if (tt->shape->n_dim > SP_MAX_DIMS)
        return sp_error_set(err, SP_ERR_UNSUPPORTED, "%s: graph %s '%s' has rank %zu, sparsify supports at most %d",
                            file, role, out->name, tt->shape->n_dim, SP_MAX_DIMS);
    out->ndim = (int)tt->shape->n_dim;
    for (int d = 0; d < out->ndim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        out->dims[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value >= 0)
            out->dims[d] = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            out->dim_params[d] = dim->dim_param;
    }
    return SP_OK;
}

enum sp_status sp_model_refresh(struct sp_model *m, struct sp_error *err)
{
    const char *file = m->path ? m->path : "<memory>";
    const Onnx__GraphProto *g = m->proto ? m->proto->graph : NULL;
    if (!g)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: model has no graph", file);
    m->opset = 0;
    for (size_t i = 0; i < m->proto->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->proto->opset_import[i];
        if (is_default_domain(o->domain) && o->has_version) {
            m->opset = o->version;
            break;
        }
    }
    const char **names = sorted_initializer_names(g);
    struct sp_value_info *ins = calloc(g->n_input ? g->n_input : 1, sizeof *ins);
    struct sp_value_info *outs = calloc(g->n_output ? g->n_output : 1, sizeof *outs);
    enum sp_status st = SP_OK;
    if (!names || !ins || !outs) {
        st = sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory describing graph inputs", file);
        goto fail;
    }
    int n_in = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *nm = str_or_empty(g->input[i]->name);
        st = describe_value(g->input[i], &ins[n_in], file, "input", err);
        if (st)
            goto fail;
        /* Before IR 4, initializers were also listed as inputs: not fed by callers. */
        if (bsearch(&nm, names, g->n_initializer, sizeof *names, cmp_str_ptr))
            continue;
        n_in++;
    }
    for (size_t i = 0; i < g->n_output; i++) {
        st = describe_value(g->output[i], &outs[i], file, "output", err);
        if (st)
            goto fail;
    }
    free(names);
    free(m->inputs);
    free(m->outputs);
    m->inputs = ins;
    m->outputs = outs;
    m->n_inputs = n_in;
    m->n_outputs = (int)g->n_output;
    return SP_OK;
fail:
    free(names);
    free(ins);
    free(outs);
    return st;
}

/* ---- creating and freeing models ----------------------------------------------- */

static enum sp_status model_new(Onnx__ModelProto *proto, const char *path, struct sp_model **out,
                                struct sp_error *err)
{
    *out = NULL;
    struct sp_model *m = calloc(1, sizeof *m);
    char *p = strdup(path ? path : "<memory>");
    if (!m || !p) {
        free(m);
        free(p);
        onnx__model_proto__free_unpacked(proto, NULL);
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path ? path : "<memory>");
    }
    m->proto = proto;
    m->path = p;
    enum sp_status st = sp_model_refresh(m, err);
    if (st) {
        sp_model_free(m);
        return st;
    }
    *out = m;
    return SP_OK;
}

enum sp_status sp_model_load_buffer(const void *buf, size_t len, const char *name, const char *base_dir,
                                    struct sp_model **out, struct sp_error *err)
{
    *out = NULL;
    if (!name)
        name = "<memory>";
    if (len == 0)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: file is empty, not an ONNX model", name);
    if (len > SP_MODEL_PROTOBUF_LIMIT)
        return sp_error_set(err, SP_ERR_FORMAT, "%s: %zu bytes is above protobuf's 2 GB limit", name, len);
    if (sp_onnx_wire_check(buf, len, name, err))
        return SP_ERR_FORMAT; /* before protobuf-c recurses into it */
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp)
        return diagnose_unpack_failure(buf, len, name, err);
    enum sp_status st = check_header(mp, name, err);
    if (!st) {
        struct tensor_walk w = {.file = name, .base_dir = base_dir, .err = err};
        st = visit_model(&w, mp);
    }
    if (st) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return st;
    }
    return model_new(mp, name, out, err);
}

enum sp_status sp_model_load(const char *path, struct sp_model **out, struct sp_error *err)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    enum sp_status st = read_whole_file(path, &buf, &len, err);
    if (st)
        return st;
    /* External data paths are relative to the model's own folder. */
    char *dir = strdup(path);
    if (!dir) {
        free(buf);
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    }
    char *slash = strrchr(dir, '/');
    const char *base = ".";
    if (slash == dir)
        base = "/";
    else if (slash) {
        *slash = '\0';
        base = dir;
    }
    st = sp_model_load_buffer(buf, len, path, base, out, err);
    free(dir);
    free(buf);
    return st;
}

enum sp_status sp_model_wrap(Onnx__ModelProto *proto, const char *path, struct sp_model **out,
                             struct sp_error *err)
{
    *out = NULL;
    if (!proto)
        return sp_error_set(err, SP_ERR_USAGE, "%s: no model to wrap", path ? path : "<memory>");
    return model_new(proto, path, out, err);
}

void sp_model_free(struct sp_model *m)
{
    if (!m)
        return;
    if (m->proto)
        onnx__model_proto__free_unpacked(m->proto, NULL);
    free(m->inputs);
    free(m->outputs);
    free(m->path);
    free(m);
}

/* ---- serialization and copies ---------------------------------------------------- */

enum sp_status sp_model_serialize(const struct sp_model *m, void **buf, size_t *len, struct sp_error *err)
{
    *buf = NULL;
    *len = 0;
    size_t n = onnx__model_proto__get_packed_size(m->proto);
    if (n > SP_MODEL_PROTOBUF_LIMIT)
        return sp_error_set(err, SP_ERR_UNSUPPORTED,
                            "%s: serialized model would be %zu bytes, above protobuf's 2 GB limit (save it with external data)",
                            m->path, n);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: cannot allocate %zu bytes to serialize the model", m->path, n);
    size_t w = onnx__model_proto__pack(m->proto, p);
    if (w != n) {
        free(p);
        return sp_error_set(err, SP_ERR_INTERNAL, "%s: protobuf-c packed %zu bytes, announced %zu", m->path, w, n);
    }
    *buf = p;
    *len = n;
    return SP_OK;
}

static void *pack_message(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = (n <= SP_MODEL_PROTOBUF_LIMIT) ? malloc(n ? n : 1) : NULL;
    if (p)
        protobuf_c_message_pack(msg, p);
    *len = n;
    return p;
}

enum sp_status sp_model_clone(const struct sp_model *m, struct sp_model **out, struct sp_error *err)
{
    *out = NULL;
    /* Copy the model without its initializers in one piece, then each
     * initializer on its own: no single buffer holds the whole model. */
    Onnx__ModelProto shell = *m->proto;
    Onnx__GraphProto graph = *m->proto->graph;
    graph.n_initializer = 0;
    graph.initializer = NULL;
    shell.graph = &graph;
    size_t len;
    void *buf = pack_message(&shell.base, &len);
    if (!buf)
        return sp_error_set(err, SP_ERR_NOMEM, "%s: cannot serialize the model to copy it (%zu bytes)", m->path, len);
    Onnx__ModelProto *copy = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!copy)
        return sp_error_set(err, SP_ERR_INTERNAL, "%s: cannot re-read the model while copying it", m->path);
    size_t n_init = m->proto->graph->n_initializer;
    if (n_init) {
        copy->graph->initializer = calloc(n_init, sizeof(Onnx__TensorProto *));
        if (!copy->graph->initializer) {
            onnx__model_proto__free_unpacked(copy, NULL);
            return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory copying the model", m->path);
        }
    }
    for (size_t i = 0; i < n_init; i++) {
        const Onnx__TensorProto *src = m->proto->graph->initializer[i];
        buf = pack_message(&src->base, &len);
        Onnx__TensorProto *t = buf ? onnx__tensor_proto__unpack(NULL, len, buf) : NULL;
        free(buf);
        if (!t) {
            onnx__model_proto__free_unpacked(copy, NULL);
            return sp_error_set(err, SP_ERR_NOMEM, "%s: cannot copy initializer '%s' (%zu bytes)", m->path,
                                str_or_empty(src->name), len);
        }
        copy->graph->initializer[copy->graph->n_initializer++] = t;
    }
    return model_new(copy, m->path, out, err);
}

/* ---- accessors ------------------------------------------------------------------ */

const char *sp_model_path(const struct sp_model *m) { return m->path; }
int64_t sp_model_opset(const struct sp_model *m) { return m->opset; }
int64_t sp_model_ir_version(const struct sp_model *m) { return m->proto->ir_version; }
int sp_model_num_inputs(const struct sp_model *m) { return m->n_inputs; }
int sp_model_num_outputs(const struct sp_model *m) { return m->n_outputs; }
int sp_model_num_nodes(const struct sp_model *m) { return (int)m->proto->graph->n_node; }

const struct sp_value_info *sp_model_input(const struct sp_model *m, int i)
{
    return (i >= 0 && i < m->n_inputs) ? &m->inputs[i] : NULL;
}

const struct sp_value_info *sp_model_output(const struct sp_model *m, int i)
{
    return (i >= 0 && i < m->n_outputs) ? &m->outputs[i] : NULL;
}
