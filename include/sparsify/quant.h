/*
 * INT8 quantization parameters.
 *
 * Activations: per tensor, asymmetric uint8, with the clipping range chosen
 * from a calibration histogram by one of four methods. Weights: per output
 * channel, symmetric int8 (see prune.h: quantized jointly with pruning).
 */
#ifndef SPARSIFY_QUANT_H
#define SPARSIFY_QUANT_H

#include <stdint.h>

#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sp_calib_method {
    SP_CALIB_MINMAX = 0,     /* the observed range: no clipping */
    SP_CALIB_PERCENTILE = 1, /* drop the outer (1 - p) of the mass, split over both tails */
    SP_CALIB_ENTROPY = 2,    /* minimize KL(P || Q) between clipped and quantized histograms */
    SP_CALIB_MSE = 3,        /* minimize the expected squared quantization + clipping error */
};

int sp_calib_method_parse(const char *s); /* -1 if unknown */
const char *sp_calib_method_str(enum sp_calib_method m);

/*
 * A histogram of one tensor over [lo, hi] with `bins` equal bins (values
 * outside are counted in the edge bins; the observed min/max lie inside).
 */
struct sp_histogram {
    double lo, hi;          /* bin edges: lo + i * (hi - lo) / bins */
    int bins;
    const int64_t *counts;  /* bins entries, borrowed */
    double min, max;        /* observed extremes */
};

struct sp_qrange {
    double lo, hi;          /* clipping range, always containing 0 */
};

/*
 * Chooses the clipping range of an activation. `percentile` is used by
 * SP_CALIB_PERCENTILE (e.g. 99.999). An empty histogram or a zero-width range
 * gives a small symmetric range around the observed value (never a zero scale).
 */
enum sp_status sp_quant_choose_range(const struct sp_histogram *h, enum sp_calib_method m, double percentile,
                                     struct sp_qrange *out, struct sp_error *err);

/* uint8 asymmetric parameters for a range: scale > 0, zero point in [0, 255],
 * with 0.0 exactly representable. */
void sp_quant_uint8_params(struct sp_qrange r, float *scale, uint8_t *zero_point);

#ifdef __cplusplus
}
#endif
#endif
