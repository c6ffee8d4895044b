/*
 * Implementation of the test graph builder (graph_builder.h). Every piece of
 * the protobuf-c tree is malloc'ed one by one, so protobuf-c's own
 * free_unpacked can release the tree the builder made; the model handed to
 * tests is a fresh unpack of the serialized bytes, exactly what a file load
 * would give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_builder.h"

struct gb_graph {
    Onnx__ModelProto *m;
    Onnx__GraphProto *g;
};

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "graph_builder: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = xmalloc(strlen(s) + 1);
    memcpy(p, s, strlen(s) + 1);
    return p;
}

/* Appends `item` to a protobuf-c repeated field (count + malloc'ed array). */
#define GB_PUSH(arr, count, item)                                                                                      \
    do {                                                                                                               \
        void *grown_ = realloc((arr), ((count) + 1) * sizeof *(arr));                                                  \
        if (!grown_)                                                                                                   \
            abort();                                                                                                   \
        (arr) = grown_;                                                                                                \
        (arr)[(count)++] = (item);                                                                                     \
    } while (0)

struct gb_graph *gb_new(int64_t opset)
{
    struct gb_graph *b = xmalloc(sizeof *b);
    b->m = xmalloc(sizeof *b->m);
    onnx__model_proto__init(b->m);
    b->m->has_ir_version = 1;
    b->m->ir_version = 8;
    b->g = xmalloc(sizeof *b->g);
    onnx__graph_proto__init(b->g);
    b->g->name = xstrdup("test");
    b->m->graph = b->g;
    gb_import(b, "", opset);
    return b;
}

void gb_import(struct gb_graph *b, const char *domain, int64_t version)
{
    Onnx__OperatorSetIdProto *o = xmalloc(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = xstrdup(domain);
    o->has_version = 1;
    o->version = version;
    GB_PUSH(b->m->opset_import, b->m->n_opset_import, o);
}

static Onnx__ValueInfoProto *value_info(const char *name, enum sp_dtype dt, int ndim, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = xmalloc(sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = xstrdup(name);
    vi->type = xmalloc(sizeof *vi->type);
    onnx__type_proto__init(vi->type);
    Onnx__TypeProto__Tensor *tt = xmalloc(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = dt;
    vi->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    vi->type->tensor_type = tt;
    if (ndim >= 0) {
        tt->shape = xmalloc(sizeof *tt->shape);
        onnx__tensor_shape_proto__init(tt->shape);
        for (int d = 0; d < ndim; d++) {
            Onnx__TensorShapeProto__Dimension *dim = xmalloc(sizeof *dim);
            onnx__tensor_shape_proto__dimension__init(dim);
            if (dims[d] >= 0) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dim->dim_value = dims[d];
            } else {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dim->dim_param = xstrdup(dims[d] == -1 ? "N" : dims[d] == -2 ? "S" : "D");
            }
            GB_PUSH(tt->shape->dim, tt->shape->n_dim, dim);
        }
    }
    return vi;
}

void gb_input(struct gb_graph *b, const char *name, enum sp_dtype dt, int ndim, const int64_t *dims)
{
    GB_PUSH(b->g->input, b->g->n_input, value_info(name, dt, ndim, dims));
}

void gb_output(struct gb_graph *b, const char *name, enum sp_dtype dt)
{
    GB_PUSH(b->g->output, b->g->n_output, value_info(name, dt, -1, NULL));
}

static Onnx__TensorProto *tensor_proto(const char *name, enum sp_dtype dt, int ndim, const int64_t *dims,
                                       const void *data)
{
    Onnx__TensorProto *t = xmalloc(sizeof *t);
    onnx__tensor_proto__init(t);
    if (name)
        t->name = xstrdup(name);
    t->has_data_type = 1;
    t->data_type = dt;
    t->n_dims = (size_t)ndim;
    t->dims = xmalloc(sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->dims[d] = dims[d];
        numel *= (size_t)dims[d];
    }
    t->has_raw_data = 1;
    t->raw_data.len = numel * sp_dtype_size(dt);
    t->raw_data.data = xmalloc(t->raw_data.len);
    memcpy(t->raw_data.data, data, t->raw_data.len);
    return t;
}

void gb_init_f32(struct gb_graph *b, const char *name, int ndim, const int64_t *dims, const float *data)
{
    GB_PUSH(b->g->initializer, b->g->n_initializer, tensor_proto(name, SP_DTYPE_FLOAT, ndim, dims, data));
}

void gb_init_i64(struct gb_graph *b, const char *name, int ndim, const int64_t *dims, const int64_t *data)
{
    GB_PUSH(b->g->initializer, b->g->n_initializer, tensor_proto(name, SP_DTYPE_INT64, ndim, dims, data));
}

static void split_names(const char *list, char ***arr, size_t *count)
{
    if (!list || !list[0])
        return;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *s = xmalloc(len + 1);
        memcpy(s, p, len);
        GB_PUSH(*arr, *count, s);
        if (!comma)
            break;
        p = comma + 1;
    }
}

Onnx__NodeProto *gb_node(struct gb_graph *b, const char *op_type, const char *inputs, const char *outputs)
{
    Onnx__NodeProto *n = xmalloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = xstrdup(op_type);
    split_names(inputs, &n->input, &n->n_input);
    split_names(outputs, &n->output, &n->n_output);
    char name[256];
    snprintf(name, sizeof name, "n_%s", n->n_output ? n->output[0] : op_type);
    n->name = xstrdup(name);
    GB_PUSH(b->g->node, b->g->n_node, n);
    return n;
}

void gb_node_domain(Onnx__NodeProto *n, const char *domain)
{
    free(n->domain);
    n->domain = xstrdup(domain);
}

static Onnx__AttributeProto *new_attr(Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = xmalloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = xstrdup(name);
    a->has_type = 1;
    a->type = type;
    GB_PUSH(n->attribute, n->n_attribute, a);
    return a;
}

void gb_attr_int(Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = new_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void gb_attr_float(Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = new_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void gb_attr_ints(Onnx__NodeProto *n, const char *name, int count, const int64_t *v)
{
    Onnx__AttributeProto *a = new_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)count;
    a->ints = xmalloc(sizeof(int64_t) * (size_t)(count ? count : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
}

void gb_attr_tensor_f32(Onnx__NodeProto *n, const char *name, int ndim, const int64_t *dims, const float *data)
{
    Onnx__AttributeProto *a = new_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = tensor_proto(NULL, SP_DTYPE_FLOAT, ndim, dims, data);
}

void gb_attr_tensor_i64(Onnx__NodeProto *n, const char *name, int ndim, const int64_t *dims, const int64_t *data)
{
    Onnx__AttributeProto *a = new_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = tensor_proto(NULL, SP_DTYPE_INT64, ndim, dims, data);
}

void gb_shuffle_nodes(struct gb_graph *b, unsigned seed)
{
    size_t n = b->g->n_node;
    Onnx__NodeProto **v = b->g->node;
    if (seed == 0) {
        for (size_t i = 0; i < n / 2; i++) {
            Onnx__NodeProto *t = v[i];
            v[i] = v[n - 1 - i];
            v[n - 1 - i] = t;
        }
        return;
    }
    unsigned s = seed;
    for (size_t i = n; i > 1; i--) {
        s = s * 1103515245u + 12345u;
        size_t j = (s >> 8) % i;
        Onnx__NodeProto *t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* The sp_value_info of a graph input or output, as the model loader makes it. */
static void describe(const Onnx__ValueInfoProto *vi, struct sp_value_info *out)
{
    memset(out, 0, sizeof *out);
    out->name = vi->name;
    out->ndim = -1;
    const Onnx__TypeProto__Tensor *tt = vi->type ? vi->type->tensor_type : NULL;
    if (!tt)
        return;
    out->dtype = (enum sp_dtype)tt->elem_type;
    if (!tt->shape)
        return;
    out->ndim = (int)tt->shape->n_dim;
    for (size_t d = 0; d < tt->shape->n_dim && d < SP_MAX_DIMS; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        bool fixed = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        out->dims[d] = fixed ? dim->dim_value : -1;
        out->dim_params[d] =
            dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ? dim->dim_param : NULL;
    }
}

struct sp_model *gb_finish(struct gb_graph *b)
{
    size_t len = onnx__model_proto__get_packed_size(b->m);
    uint8_t *buf = xmalloc(len);
    onnx__model_proto__pack(b->m, buf);
    onnx__model_proto__free_unpacked(b->m, NULL);
    free(b);

    struct sp_model *m = xmalloc(sizeof *m);
    m->proto = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!m->proto) {
        fprintf(stderr, "graph_builder: the model does not parse back\n");
        abort();
    }
    m->path = xstrdup("<graph_builder>");
    const Onnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; i < m->proto->n_opset_import; i++) {
        const char *d = m->proto->opset_import[i]->domain;
        if (!d || !d[0])
            m->opset = m->proto->opset_import[i]->version;
    }
    m->inputs = xmalloc(sizeof *m->inputs * (g->n_input + 1));
    m->outputs = xmalloc(sizeof *m->outputs * (g->n_output + 1));
    for (size_t i = 0; i < g->n_input; i++) {
        bool is_init = false;
        for (size_t k = 0; k < g->n_initializer; k++)
            is_init = is_init || strcmp(g->initializer[k]->name, g->input[i]->name) == 0;
        if (!is_init)
            describe(g->input[i], &m->inputs[m->n_inputs++]);
    }
    for (size_t i = 0; i < g->n_output; i++)
        describe(g->output[i], &m->outputs[m->n_outputs++]);
    return m;
}

void gb_model_free(struct sp_model *m)
{
    if (!m)
        return;
    onnx__model_proto__free_unpacked(m->proto, NULL);
    free(m->path);
    free(m->inputs);
    free(m->outputs);
    free(m);
}

void *gb_serialize(const struct sp_model *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(m->proto);
    void *buf = xmalloc(*len);
    onnx__model_proto__pack(m->proto, buf);
    return buf;
}
