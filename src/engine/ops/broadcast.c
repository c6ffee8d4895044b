/*
 * Broadcast plans: shape agreement and a collapsed loop nest (see broadcast.h).
 */
#include <string.h>

#include "engine/ops/broadcast.h"

bool sp_broadcast_shape(int n, const int *ndims, const int64_t *const *dims, int *ndim_out, int64_t *dims_out)
{
    int r = 0;
    for (int k = 0; k < n; k++)
        if (ndims[k] > r)
            r = ndims[k];
    if (r > SP_MAX_DIMS)
        return false;
    for (int d = 0; d < r; d++) {
        int64_t size = 1;
        bool seen_zero = false;
        for (int k = 0; k < n; k++) {
            int dk = d - (r - ndims[k]);
            if (dk < 0)
                continue;
            int64_t v = dims[k][dk];
            if (v == 1)
                continue;
            if (v == 0)
                seen_zero = true;
            if (size != 1 && size != v)
                return false;
            size = v;
        }
        dims_out[d] = seen_zero ? 0 : size;
    }
    *ndim_out = r;
    return true;
}

bool sp_broadcast_tensors(int n, const struct sp_tensor *const *ts, int *ndim_out, int64_t *dims_out)
{
    int nd[SP_BCAST_MAX_IN > 16 ? SP_BCAST_MAX_IN : 16];
    const int64_t *dd[16];
    int r = 0;
    int64_t tmp[SP_MAX_DIMS];
    /* Fold in groups so any number of tensors works (variadic Sum/Max). */
    for (int k = 0; k < n; k++) {
        if (k == 0) {
            r = ts[0]->ndim;
            if (r > SP_MAX_DIMS)
                return false;
            memcpy(tmp, ts[0]->dims, sizeof(int64_t) * (size_t)r);
            continue;
        }
        nd[0] = r;
        dd[0] = tmp;
        nd[1] = ts[k]->ndim;
        dd[1] = ts[k]->dims;
        int64_t next[SP_MAX_DIMS];
        int rn;
        if (!sp_broadcast_shape(2, nd, dd, &rn, next))
            return false;
        r = rn;
        memcpy(tmp, next, sizeof(int64_t) * (size_t)r);
    }
    *ndim_out = r;
    memcpy(dims_out, tmp, sizeof(int64_t) * (size_t)r);
    return true;
}

bool sp_broadcast_to(int ndim, const int64_t *dims, int out_ndim, const int64_t *out_dims)
{
    if (ndim > out_ndim)
        return false;
    for (int d = 0; d < ndim; d++) {
        int64_t v = dims[d], o = out_dims[d + out_ndim - ndim];
        if (v != 1 && v != o)
            return false;
    }
    return true;
}

void sp_bcast_plan(struct sp_bcast *p, int n, const int *ndims, const int64_t *const *dims, int out_ndim,
                   const int64_t *out_dims)
{
    memset(p, 0, sizeof *p);
    p->n_in = n;
    int64_t st[SP_BCAST_MAX_IN][SP_MAX_DIMS];
    /* Element strides of each input, aligned to the output's axes. */
    for (int k = 0; k < n; k++) {
        int64_t s = 1;
        for (int d = out_ndim - 1; d >= 0; d--) {
            int dk = d - (out_ndim - ndims[k]);
            int64_t v = dk >= 0 ? dims[k][dk] : 1;
            st[k][d] = (v == 1) ? 0 : s;
            s *= v;
        }
    }
    /* Drop size-1 output axes and merge axes where every input either walks
     * contiguously across both or repeats across both. */
    int r = 0;
    p->numel = 1;
    for (int d = 0; d < out_ndim; d++) {
        int64_t size = out_dims[d];
        p->numel *= size;
        if (size == 1)
            continue;
        bool merge = r > 0;
        for (int k = 0; k < n && merge; k++)
            merge = p->strides[k][r - 1] == st[k][d] * size;
        if (merge) {
            p->dims[r - 1] *= size;
            for (int k = 0; k < n; k++)
                p->strides[k][r - 1] = st[k][d];
        } else {
            p->dims[r] = size;
            for (int k = 0; k < n; k++)
                p->strides[k][r] = st[k][d];
            r++;
        }
    }
    if (r == 0) {
        p->dims[0] = 1;
        r = 1;
    }
    p->ndim = r;
}

void sp_bcast_plan_tensors(struct sp_bcast *p, int n, const struct sp_tensor *const *ts, int out_ndim,
                           const int64_t *out_dims)
{
    int nd[SP_BCAST_MAX_IN];
    const int64_t *dd[SP_BCAST_MAX_IN];
    for (int k = 0; k < n; k++) {
        nd[k] = ts[k]->ndim;
        dd[k] = ts[k]->dims;
    }
    sp_bcast_plan(p, n, nd, dd, out_ndim, out_dims);
}

void sp_bcast_for_each(const struct sp_bcast *p, sp_bcast_row_fn row, void *ctx)
{
    if (p->numel == 0)
        return;
    int last = p->ndim - 1;
    int64_t len = p->dims[last];
    int step[SP_BCAST_MAX_IN];
    int64_t off[SP_BCAST_MAX_IN] = {0};
    for (int k = 0; k < p->n_in; k++)
        step[k] = p->strides[k][last] != 0;
    int64_t rows = p->numel / len;
    int64_t idx[SP_MAX_DIMS] = {0};
    for (int64_t rw = 0; rw < rows; rw++) {
        row(ctx, rw * len, off, step, len);
        /* Odometer over the outer axes, updating input offsets incrementally. */
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < p->dims[d]) {
                for (int k = 0; k < p->n_in; k++)
                    off[k] += p->strides[k][d];
                break;
            }
            idx[d] = 0;
            for (int k = 0; k < p->n_in; k++)
                off[k] -= p->strides[k][d] * (p->dims[d] - 1);
        }
    }
}
