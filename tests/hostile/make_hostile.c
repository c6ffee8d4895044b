/*
 * Writes the hostile inputs of tests/hostile/cases.sh at test time, from a
 * committed model and one of its samples, so no Python runs during tests.
 *
 *   make_hostile OUTDIR MODEL.onnx SAMPLE.npz
 *   make_hostile --scan-finite MODEL.onnx    exit 1 if any float initializer
 *                                            or Constant holds NaN or Inf
 *
 * Every file is a small, deliberate corruption of a valid input: a graph edit
 * made on the protobuf-c tree and packed again (so the rest of the file stays
 * valid and only the one defect is tested), raw protobuf bytes built by hand
 * (deep nesting, absurd lengths), or a sample whose values are edited.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/model_internal.h"
#include "sparsify/data.h"
#include "sparsify/model.h"

static const char *g_out;

static void die(const char *what, const struct sp_error *err)
{
    fprintf(stderr, "make_hostile: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static void write_bytes(const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_out, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f))
        die(path, NULL);
}

/* Packs a mutated copy of the model's proto; `edit` changes the copy. */
static void emit_model(const struct sp_model *m, const char *name, void (*edit)(Onnx__ModelProto *))
{
    size_t n = onnx__model_proto__get_packed_size(m->proto);
    uint8_t *buf = malloc(n);
    onnx__model_proto__pack(m->proto, buf);
    Onnx__ModelProto *copy = onnx__model_proto__unpack(NULL, n, buf);
    free(buf);
    if (!copy)
        die(name, NULL);
    edit(copy);
    n = onnx__model_proto__get_packed_size(copy);
    buf = malloc(n);
    onnx__model_proto__pack(copy, buf);
    write_bytes(name, buf, n);
    free(buf);
    onnx__model_proto__free_unpacked(copy, NULL);
}

static char *dup(const char *s) { return strcpy(malloc(strlen(s) + 1), s); }

static void set_str(char **slot, const char *s)
{
    free(*slot);
    *slot = dup(s);
}

/* ---- graph edits ------------------------------------------------------------- */

/* The first node reads the last node's output: a cycle through the whole graph. */
static void edit_cycle(Onnx__ModelProto *mp)
{
    Onnx__GraphProto *g = mp->graph;
    Onnx__NodeProto *last = g->node[g->n_node - 1];
    set_str(&g->node[0]->input[0], last->output[0]);
}

static void edit_dangling(Onnx__ModelProto *mp) { set_str(&mp->graph->node[1]->input[0], "no_such_tensor"); }

static void edit_unsupported_op(Onnx__ModelProto *mp) { set_str(&mp->graph->node[2]->op_type, "FrobnicateV2"); }

static void edit_foreign_domain(Onnx__ModelProto *mp) { set_str(&mp->graph->node[2]->domain, "com.example.secret"); }

static void edit_future_opset(Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (!mp->opset_import[i]->domain || !mp->opset_import[i]->domain[0])
            mp->opset_import[i]->version = 9999;
}

static void edit_no_graph(Onnx__ModelProto *mp)
{
    onnx__graph_proto__free_unpacked(mp->graph, NULL);
    mp->graph = NULL;
}

/* Doubles the first dim of the first initializer; its data stays the same size. */
static void edit_init_size(Onnx__ModelProto *mp) { mp->graph->initializer[0]->dims[0] *= 2; }

static void edit_init_huge(Onnx__ModelProto *mp)
{
    Onnx__TensorProto *t = mp->graph->initializer[0];
    t->dims[0] = (int64_t)1 << 40;
    t->dims[1] = (int64_t)1 << 40;
}

static void edit_init_negative(Onnx__ModelProto *mp) { mp->graph->initializer[0]->dims[0] = -16; }

static void edit_init_dtype(Onnx__ModelProto *mp) { mp->graph->initializer[0]->data_type = 4242; }

/* Moves the first initializer to "external data" at `loc`. */
static void make_external(Onnx__ModelProto *mp, const char *loc)
{
    Onnx__TensorProto *t = mp->graph->initializer[0];
    free(t->raw_data.data);
    t->raw_data.data = NULL;
    t->raw_data.len = 0;
    t->has_raw_data = 0;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->n_external_data = 1;
    t->external_data = malloc(sizeof *t->external_data);
    Onnx__StringStringEntryProto *e = malloc(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = dup("location");
    e->value = dup(loc);
    t->external_data[0] = e;
}

static void edit_ext_escape(Onnx__ModelProto *mp) { make_external(mp, "../../../../../../etc/passwd"); }
static void edit_ext_absolute(Onnx__ModelProto *mp) { make_external(mp, "/etc/passwd"); }
static void edit_ext_missing(Onnx__ModelProto *mp) { make_external(mp, "weights.bin"); }
static void edit_ext_short(Onnx__ModelProto *mp) { make_external(mp, "short.bin"); }

/* Two nodes write the same tensor. */
static void edit_dup_output(Onnx__ModelProto *mp)
{
    set_str(&mp->graph->node[2]->output[0], mp->graph->node[1]->output[0]);
}

/* A graph output nobody produces. */
static void edit_output_unproduced(Onnx__ModelProto *mp) { set_str(&mp->graph->output[0]->name, "nobody_makes_this"); }

/* A Conv without its weight input. */
static void edit_conv_arity(Onnx__ModelProto *mp) { mp->graph->node[0]->n_input = 1; }

/* A Conv attribute with a nonsense value. */
static void edit_bad_attr(Onnx__ModelProto *mp)
{
    Onnx__NodeProto *nd = mp->graph->node[0];
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (!strcmp(nd->attribute[i]->name, "group"))
            nd->attribute[i]->i = -7;
}

/* The same attribute twice: which one counts would be a guess. */
static void edit_dup_attr(Onnx__ModelProto *mp)
{
    Onnx__NodeProto *nd = mp->graph->node[0];
    Onnx__AttributeProto **a = realloc(nd->attribute, (nd->n_attribute + 1) * sizeof *a);
    Onnx__AttributeProto *at = malloc(sizeof *at);
    onnx__attribute_proto__init(at);
    at->name = dup("group");
    at->has_type = 1;
    at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    at->has_i = 1;
    at->i = 4;
    a[nd->n_attribute++] = at;
    nd->attribute = a;
}

static void edit_input_rank(Onnx__ModelProto *mp)
{
    Onnx__TensorShapeProto *s = mp->graph->input[0]->type->tensor_type->shape;
    s->n_dim = 2; /* the samples are [1,28,28] per item */
}

/* ---- raw protobuf --------------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

/*
 * Model.graph(7) > Graph.node(1) > Node.attribute(5) > Attribute.g(6) > Graph ...
 * `levels` times, built from the inside out with exact lengths so only the
 * depth is wrong.
 */
static void emit_deep(const char *name, int levels)
{
    size_t cap = (size_t)levels * 3 * 12 + 64;
    uint8_t *buf = malloc(cap), *tmp = malloc(cap);
    size_t len = 0; /* current innermost content, a GraphProto body */
    static const uint8_t tags[3] = {(6 << 3) | 2, (5 << 3) | 2, (1 << 3) | 2}; /* g, attribute, node */
    for (int l = 0; l < levels; l++)
        for (int k = 0; k < 3; k++) {
            size_t h = 0;
            tmp[h++] = tags[k];
            h += put_varint(tmp + h, len);
            memmove(buf + h, buf, len);
            memcpy(buf, tmp, h);
            len += h;
        }
    size_t h = 0;
    tmp[h++] = (1 << 3) | 0; /* ir_version 8 */
    tmp[h++] = 8;
    tmp[h++] = (7 << 3) | 2;
    h += put_varint(tmp + h, len);
    memmove(buf + h, buf, len);
    memcpy(buf, tmp, h);
    write_bytes(name, buf, len + h);
    free(buf);
    free(tmp);
}

/* Counts non-finite float32 values in every initializer of the main graph. */
static int scan_finite(const char *path)
{
    struct sp_error err = {0};
    struct sp_model *m = NULL;
    if (sp_model_load(path, &m, &err))
        die(path, &err);
    const Onnx__GraphProto *g = m->proto->graph;
    long bad = 0, values = 0;
    for (size_t i = 0; i < g->n_initializer; i++) {
        struct sp_tensor t;
        if (sp_tensor_from_proto(g->initializer[i], &t, g->initializer[i]->name, &err))
            die(path, &err);
        if (t.dtype == SP_DTYPE_FLOAT) {
            const float *x = t.data;
            for (int64_t k = 0, n = sp_tensor_numel(&t); k < n; k++, values++)
                if (!isfinite(x[k]) && bad++ < 5)
                    fprintf(stderr, "make_hostile: %s: initializer '%s'[%lld] = %g\n", path, g->initializer[i]->name,
                            (long long)k, x[k]);
        }
        sp_tensor_free(&t);
    }
    printf("%s: %ld float values, %ld not finite\n", path, values, bad);
    sp_model_free(m);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--scan-finite"))
        return scan_finite(argv[2]);
    if (argc != 4) {
        fprintf(stderr, "usage: make_hostile OUTDIR MODEL.onnx SAMPLE.npz\n");
        return 2;
    }
    g_out = argv[1];
    struct sp_error err = {0};
    struct sp_model *m = NULL;
    if (sp_model_load(argv[2], &m, &err))
        die(argv[2], &err);

    emit_model(m, "cycle.onnx", edit_cycle);
    emit_model(m, "dangling.onnx", edit_dangling);
    emit_model(m, "unsupported_op.onnx", edit_unsupported_op);
    emit_model(m, "foreign_domain.onnx", edit_foreign_domain);
    emit_model(m, "future_opset.onnx", edit_future_opset);
    emit_model(m, "no_graph.onnx", edit_no_graph);
    emit_model(m, "init_size.onnx", edit_init_size);
    emit_model(m, "init_huge.onnx", edit_init_huge);
    emit_model(m, "init_negative.onnx", edit_init_negative);
    emit_model(m, "init_dtype.onnx", edit_init_dtype);
    emit_model(m, "ext_escape.onnx", edit_ext_escape);
    emit_model(m, "ext_absolute.onnx", edit_ext_absolute);
    emit_model(m, "ext_missing.onnx", edit_ext_missing);
    emit_model(m, "ext_short.onnx", edit_ext_short);
    write_bytes("short.bin", "abc", 3);
    emit_model(m, "dup_output.onnx", edit_dup_output);
    emit_model(m, "output_unproduced.onnx", edit_output_unproduced);
    emit_model(m, "conv_arity.onnx", edit_conv_arity);
    emit_model(m, "bad_attr.onnx", edit_bad_attr);
    emit_model(m, "dup_attr.onnx", edit_dup_attr);
    emit_model(m, "input_rank.onnx", edit_input_rank);
    emit_deep("deep_nesting.onnx", 100000);
    emit_deep("nesting_ok.onnx", 20); /* legal depth: must fail later, on content */

    /* A graph field declaring 2^62 bytes. */
    uint8_t huge[16] = {(1 << 3) | 0, 8, (7 << 3) | 2};
    size_t hn = 3 + put_varint(huge + 3, (uint64_t)1 << 62);
    write_bytes("huge_length.onnx", huge, hn);

    /* Deterministic noise (an LCG: the same bytes on every run). */
    uint8_t noise[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        s = s * 1103515245u + 12345u;
        noise[i] = (uint8_t)(s >> 16);
    }
    write_bytes("random.onnx", noise, sizeof noise);
    write_bytes("random.npz", noise, sizeof noise);
    write_bytes("random_checkpoint.h5", noise, sizeof noise);
    sp_model_free(m);

    /* Samples with non-finite values, all zeros and one constant: valid files
     * whose numbers are hostile. */
    struct sp_npz z = {0};
    if (sp_npz_read(argv[3], (size_t)1 << 30, &z, &err))
        die(argv[3], &err);
    float *x = z.arrays[0].data;
    int64_t n = sp_tensor_numel(&z.arrays[0]);
    char path[4096];
    static const struct {
        const char *name;
        int kind;
    } variants[] = {{"nan.npz", 0}, {"inf.npz", 1}, {"zeros.npz", 2}, {"const.npz", 3}};
    float *orig = malloc((size_t)n * sizeof *orig);
    memcpy(orig, x, (size_t)n * sizeof *orig);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        for (int64_t i = 0; i < n; i++) {
            switch (variants[v].kind) {
            case 0: x[i] = i % 7 == 0 ? NAN : orig[i]; break;
            case 1: x[i] = i % 5 == 0 ? (i % 2 ? INFINITY : -INFINITY) : orig[i]; break;
            case 2: x[i] = 0.0f; break;
            default: x[i] = 0.25f; break;
            }
        }
        snprintf(path, sizeof path, "%s/%s", g_out, variants[v].name);
        if (sp_npz_write(path, &z, &err))
            die(path, &err);
    }
    free(orig);
    sp_npz_free(&z);
    return 0;
}
