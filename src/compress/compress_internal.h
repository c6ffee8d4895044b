/*
 * Shared between the compression driver (src/compress) and the QDQ rewrite
 * (src/quant/qdq.c): what a layer is, and what the rewrite needs to know
 * about each layer's new weights.
 */
#ifndef SPARSIFY_COMPRESS_INTERNAL_H
#define SPARSIFY_COMPRESS_INTERNAL_H

#include "sparsify/compress.h"
#include "transform/graph.h"

enum sp_layer_kind { SP_LAYER_CONV, SP_LAYER_GEMM, SP_LAYER_MATMUL };

struct sp_layer {
    struct sp_compress_layer_info info;
    enum sp_layer_kind kind;
    bool weight_kn;          /* weight stored [K, N] (MatMul, Gemm transB=0): rows are its columns */
    const char *bias;        /* bias input (Conv input 2, Gemm C when 1-D [N]), or NULL; borrowed */
    const char *output;      /* borrowed */
    bool prune_excluded, quant_excluded;
    char reason[160];        /* why excluded, "" if not */
    /* Filled by the weight pass when the layer is quantized: */
    bool quantized;
    struct sp_tensor q;      /* int8 codes in the weight's original layout */
    float *scales;           /* rows entries */
};

/* Finds the layers (internal form). Caller frees with sp_layers_free. */
enum sp_status sp_layers_find(const Onnx__GraphProto *g, struct sp_layer **out, int *n, struct sp_error *err);
void sp_layers_free(struct sp_layer *l, int n);

/* Applies default exclusions for `family` (when `defaults`) and the
 * --exclude entries. SP_ERR_USAGE for an entry matching no layer. */
enum sp_status sp_layers_exclude(const Onnx__GraphProto *g, struct sp_layer *l, int n, enum sp_task_family family,
                                 bool defaults, int n_exclude, const char *const *exclude,
                                 const struct sp_logger *log, struct sp_error *err);

/* Opset check / upgrade to 13 before writing QDQ (see qdq.c). */
enum sp_status sp_qdq_prepare_opset(struct sp_model *model, int64_t *opset_in, struct sp_error *err);

/*
 * Writes the QDQ graph: int8 weights with per-channel DequantizeLinear for
 * every quantized layer, int32 biases, and QuantizeLinear/DequantizeLinear
 * pairs on the activations (see qdq.c for the placement rules).
 */
enum sp_status sp_qdq_rewrite(struct sp_model *model, struct sp_layer *l, int n, const struct sp_compress_stats *stats,
                              enum sp_calib_method method, double percentile, struct sp_compress_report *rep,
                              const struct sp_logger *log, struct sp_error *err);

#endif
