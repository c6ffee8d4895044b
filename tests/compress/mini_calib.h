/*
 * A small single-process calibrator for the compression tests: histograms of
 * every float activation and layer-input Hessians (Gemm/MatMul rows, 2-D Conv
 * im2col rows), gathered with the engine's observer. It lets the compression
 * tests run without MPI and without depending on src/calib, and it is
 * simple enough to be obviously right (naive loops, doubles).
 */
#ifndef SPARSIFY_TEST_MINI_CALIB_H
#define SPARSIFY_TEST_MINI_CALIB_H

#include "sparsify/compress.h"

struct mini_calib;

/* Runs `model` over at most `max_samples` samples of `data_dir` (sorted) twice
 * (ranges, then histograms and, with `hessians`, Hessians). */
enum sp_status mini_calib_run(const struct sp_model *model, const char *data_dir, int max_samples, bool hessians,
                              struct mini_calib **out, struct sp_error *err);
void mini_calib_free(struct mini_calib *c);

/* The lookups sp_compress_view needs, answered from `c`. */
void mini_calib_view(struct mini_calib *c, struct sp_compress_stats *view);

#endif
