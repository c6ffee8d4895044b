/*
 * Compression of a loaded model: BatchNorm folding, per-layer pruning with
 * joint INT8 weight quantization, and the QDQ rewrite that ONNX Runtime turns
 * into integer kernels.
 *
 * The pipeline calls, on rank 0 (nothing here is collective):
 *   sp_transform_fold_batchnorm()  before calibration, for levels > 0;
 *   sp_compress() / sp_compress_view()  with the merged statistics.
 * Layers are Conv, Gemm and MatMul whose weight (input 1) is a float32
 * constant: an initializer or the output of a Constant node.
 */
#ifndef SPARSIFY_COMPRESS_H
#define SPARSIFY_COMPRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "sparsify/level.h"
#include "sparsify/log.h"
#include "sparsify/model.h"
#include "sparsify/prune.h"
#include "sparsify/quant.h"
#include "sparsify/status.h"
#include "sparsify/usecase.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sp_calib_stats; /* include/sparsify/calib.h */
struct json_t;         /* jansson's json_t */

/*
 * Folds every BatchNormalization (inference form: one output) into the Conv
 * or ConvTranspose that feeds it, when that convolution's output goes only to
 * the BatchNormalization and is not a graph output, and the convolution's
 * weight, bias and the four BatchNorm parameters are float32 constants
 * (initializers or Constant nodes). The folded weights become new
 * initializers (a weight shared with another node is never changed in place);
 * constants nothing reads any more are dropped. *folded (may be NULL) receives
 * the count. A model without foldable pairs is left untouched. Local.
 */
enum sp_status sp_transform_fold_batchnorm(struct sp_model *model, int *folded, struct sp_error *err);

/* Default weight bits: |q| <= 63, what ONNX Runtime calls reduce_range. Its
 * fused u8 x s8 kernels on AVX2 without VNNI add pairs of products in 16-bit
 * lanes, which saturate with full 8-bit weights (2 * 255 * 127 > 32767). */
#define SP_COMPRESS_DEFAULT_WEIGHT_BITS 7
/* Percentile used by SP_CALIB_PERCENTILE unless told otherwise. */
#define SP_COMPRESS_DEFAULT_PERCENTILE 99.99
/* Activation range method used when opt->calibration_method < 0 (chosen by
 * measurement on the demo model, see docs/compression.md). */
#define SP_COMPRESS_DEFAULT_CALIBRATION SP_CALIB_MINMAX

struct sp_compress_options {
    enum sp_task_family family;   /* picks the default exclusions */
    enum sp_prune_method prune_method;
    int calibration_method;       /* enum sp_calib_method, or -1 for the default */
    double percentile;            /* for SP_CALIB_PERCENTILE, in (50, 100] */
    int weight_bits;              /* 7 (default) or 8 */
    double damp;                  /* Hessian dampening fraction (default 0.01) */
    int block;                    /* SparseGPT block (default 128) */
    int nm_n, nm_m;               /* N:M masks instead of unstructured, 0,0 = off */
    bool default_exclusions;      /* apply the use case's exclusions (default true) */
    /*
     * --exclude entries, each "NAME", "prune:NAME", "quant:NAME" or
     * "all:NAME". NAME matches a node name, a weight name or an op type.
     * "NAME" and "prune:NAME" keep the layer dense (still INT8-quantized);
     * "quant:NAME" keeps it float (still pruned); "all:NAME" keeps it dense
     * and float. Borrowed.
     */
    int n_exclude;
    const char *const *exclude;
};

/* Defaults: CV family, SparseGPT, default calibration, percentile 99.99,
 * 7-bit weights, damp 0.01, block 128, unstructured, default exclusions. */
void sp_compress_options_init(struct sp_compress_options *o);

/* Per layer, in graph order. Strings owned by the report. */
struct sp_compress_layer {
    char *name;              /* node name, or "<op>#<index>" when the node has none */
    char *op_type;           /* Conv, Gemm, MatMul */
    char *weight;            /* weight tensor name in the input model */
    int64_t rows, cols;      /* output channels; Hessian columns (per group) */
    int64_t groups;
    bool pruned;             /* pruning applied */
    bool quantized;          /* INT8 weights written */
    char *excluded;          /* why pruning and/or quantization was skipped, or NULL */
    char *method;            /* "sparsegpt", "magnitude", "gptq", "rtn" or "none" */
    double target_sparsity;
    double sparsity;         /* achieved: exact zeros / weights */
    double damp_used;        /* largest over groups; 0 without a Hessian */
    float scale_min, scale_max; /* per-channel weight scales (0 if not quantized) */
    double seconds;
};

/* One quantized activation tensor. */
struct sp_compress_tensor {
    char *name;
    double lo, hi;           /* clipping range */
    float scale;
    uint8_t zero_point;
};

struct sp_compress_report {
    int n_layers;
    struct sp_compress_layer *layers;
    int n_tensors;
    struct sp_compress_tensor *tensors;
    double target_sparsity;
    int64_t prunable_weights, prunable_zeros; /* over pruned layers */
    int64_t weights_total, zeros_total;       /* over all layers */
    int64_t opset_in, opset_out;
    int weight_bits;
    const char *calibration_method;           /* static string */
    double percentile;
    int qdq_nodes;                            /* QuantizeLinear + DequantizeLinear added */
    double t_prune, t_qdq, t_total;           /* seconds */
};

void sp_compress_report_free(struct sp_compress_report *r);

/*
 * Statistics as seen by the compressor: two lookups, so unit tests and the
 * calibration module can feed it without sharing one struct layout.
 */
struct sp_compress_stats {
    void *user;
    /* Histogram of activation `tensor` (counts borrowed until the call ends);
     * false when the tensor was not observed. */
    bool (*histogram)(void *user, const char *tensor, struct sp_histogram *out);
    /* Hessian of the layer with node index `node` (graph order), node name
     * `name` and weight `weight`: groups x cols x cols doubles in the
     * weight-flattening order of prune.h; NULL when none was collected. */
    const double *(*hessian)(void *user, int node, const char *name, const char *weight, int64_t groups,
                             int64_t cols);
};

/*
 * Compresses `model` in place according to `plan`:
 *   - finds the layers and applies the exclusions (default ones by family,
 *     then opt->exclude);
 *   - plan->prune: prunes every non-excluded layer to plan->sparsity with
 *     opt->prune_method (SparseGPT needs the layer's Hessian; a layer without
 *     one falls back to magnitude, with a warning), quantizing jointly;
 *   - plan->quantize without pruning: quantizes the weights with
 *     sp_prune_layer at sparsity 0 (GPTQ when a Hessian exists, else
 *     round-to-nearest);
 *   - rewrites the graph into QDQ form (opset raised to 13 when lower and safe,
 *     else SP_ERR_UNSUPPORTED naming the op) with activation ranges from the
 *     histograms by opt->calibration_method.
 * `report` (may be NULL) is filled (free with sp_compress_report_free, also on
 * failure). On failure the model may be half rewritten: callers compress a
 * clone or discard the model. Local (rank 0 only).
 */
enum sp_status sp_compress_view(struct sp_model *model, const struct sp_compress_stats *stats,
                                const struct sp_level_plan *plan, const struct sp_compress_options *opt,
                                struct sp_compress_report *report, const struct sp_logger *log,
                                struct sp_error *err);

/* sp_compress_view over calibration's merged statistics. Local (rank 0). */
enum sp_status sp_compress(struct sp_model *model, const struct sp_calib_stats *stats,
                           const struct sp_level_plan *plan, const struct sp_compress_options *opt,
                           struct sp_compress_report *report, const struct sp_logger *log, struct sp_error *err);

/* Adds the report's fields to the JSON object `obj` (keys "layers",
 * "activations", "summary"), for report.json. Local. */
enum sp_status sp_compress_report_to_json(const struct sp_compress_report *r, struct json_t *obj,
                                          struct sp_error *err);

/* A layer as found in a model (for calibration and tests). */
struct sp_compress_layer_info {
    int node;                  /* index in graph order */
    const char *name;          /* node name (may be ""), borrowed */
    const char *op_type;       /* borrowed */
    const char *input;         /* activation input, borrowed */
    const char *weight;        /* borrowed */
    int64_t rows, cols, groups;/* rows = output channels, cols per group */
};

/* Lists the layers of `model` (malloc'ed array, caller frees; *n may be 0). */
enum sp_status sp_compress_find_layers(const struct sp_model *model, struct sp_compress_layer_info **out, int *n,
                                       struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
