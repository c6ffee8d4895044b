/*
 * Exact, order-independent sums for calibration statistics.
 *
 * Floating-point addition is not associative, so MPI_SUM over doubles gives
 * results that depend on how samples were spread over ranks. sparsify instead
 * converts each group's partial sum (a double computed the same way whatever
 * the rank count) to a 128-bit fixed-point integer with a per-statistic number
 * of fraction bits, and adds integers: integer addition is associative, so the
 * merged result is bit-identical for any number of ranks and any resume point.
 * docs/calibration.md explains how the fraction bits are chosen (from the
 * exact pass-1 ranges, so that no total can overflow).
 */
#ifndef SPARSIFY_EXACT_H
#define SPARSIFY_EXACT_H

#include <stddef.h>
#include <stdint.h>

#include "sparsify/comm.h"
#include "sparsify/status.h"

#ifdef __cplusplus
extern "C" {
#endif

__extension__ typedef __int128 sp_exact_t; /* fixed point: value = x * 2^-frac_bits */

/* Largest |value| * 2^frac that a total may reach and still convert back safely. */
#define SP_EXACT_LIMIT_LOG2 120

/*
 * Fraction bits for a sum of at most `terms` values each bounded by |v| <= bound,
 * so that the total stays below 2^SP_EXACT_LIMIT_LOG2. Clamped to [0, 200]
 * and, for tiny bounds, to keep 2^frac * bound within range.
 */
int sp_exact_frac_bits(double bound, double terms);

/* Rounds v * 2^frac to the nearest integer (ties to even). Returns 0 for NaN;
 * saturates at +-2^126 for overflow (callers check their inputs are finite). */
sp_exact_t sp_exact_from_double(double v, int frac_bits);

/* The nearest double to x * 2^-frac. */
double sp_exact_to_double(sp_exact_t x, int frac_bits);

/* acc[i] += from_double(v[i]) for n values. */
void sp_exact_accumulate(sp_exact_t *acc, const double *v, size_t n, int frac_bits);

/*
 * Sums `n` exact values over all ranks into `buf` on `root` (other ranks' buf is
 * left unspecified). Any n: split below 2^31 elements per call.
 * Collective.
 */
enum sp_status sp_comm_reduce_exact(struct sp_comm *comm, sp_exact_t *buf, size_t n, int root, struct sp_error *err);

/* Same, result on every rank. Collective. */
enum sp_status sp_comm_allreduce_exact(struct sp_comm *comm, sp_exact_t *buf, size_t n, struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
