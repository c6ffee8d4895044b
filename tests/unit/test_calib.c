/*
 * Calibration on one rank, against naive references: SHA-256 on the FIPS
 * 180-4 example messages; Hessians of a grouped, strided, padded, dilated
 * convolution, of a depthwise one, of Gemm (transB) and of MatMul over tokens
 * computed by explicit row loops; shared inputs sharing one Hessian; ranges
 * and histograms; held-out sample selection; checkpoint round trip.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"
#include "graph_builder.h"
#include "sparsify/calib.h"
#include "sparsify/ckpt.h"
#include "sparsify/data.h"
#include "testutil.h"

static void sha_hex(const void *msg, size_t len, size_t reps, char hex[65])
{
    struct sp_sha256 s;
    uint8_t d[32];
    sp_sha256_init(&s);
    for (size_t i = 0; i < reps; i++)
        sp_sha256_update(&s, msg, len);
    sp_sha256_final(&s, d);
    sp_sha256_hex(d, hex);
}

static void test_sha256_fips_vectors(void)
{
    char h[65];
    sha_hex("abc", 3, 1, h);
    CU_ASSERT_STRING_EQUAL(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha_hex("", 0, 1, h);
    CU_ASSERT_STRING_EQUAL(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(m2, strlen(m2), 1, h);
    CU_ASSERT_STRING_EQUAL(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a' fed in odd-sized pieces exercises the buffering. */
    static char a[1000];
    memset(a, 'a', sizeof a);
    sha_hex(a, 1000, 1000, h);
    CU_ASSERT_STRING_EQUAL(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    struct sp_sha256 s;
    uint8_t d[32];
    sp_sha256_init(&s);
    for (int i = 0; i < 1000000; i += 7)
        sp_sha256_update(&s, a, 1000000 - i < 7 ? (size_t)(1000000 - i) : 7);
    sp_sha256_final(&s, d);
    sp_sha256_hex(d, h);
    CU_ASSERT_STRING_EQUAL(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_holdout_selection(void)
{
    size_t idx[8];
    CU_ASSERT_EQUAL(sp_calib_holdout_list(12, 0.25, idx), 3);
    CU_ASSERT_EQUAL(idx[0], 3);
    CU_ASSERT_EQUAL(idx[1], 7);
    CU_ASSERT_EQUAL(idx[2], 11);
    CU_ASSERT_EQUAL(sp_calib_holdout_list(100, 0.0, NULL), 0);
    CU_ASSERT_EQUAL(sp_calib_holdout_list(100, 0.05, NULL), 5);
    CU_ASSERT_TRUE(sp_calib_is_holdout(19, 0.05));
    CU_ASSERT_FALSE(sp_calib_is_holdout(20, 0.05));
}

/* ---- a model with every layer kind, and samples ------------------------------ */

enum { NS = 5, C = 4, HW = 7, KV = 5, S = 3 };

static float val(int seed, int i) { return (float)sin(0.37 * i + 1.3 * seed) * (1.0f + 0.1f * (float)(seed % 3)); }

static struct sp_model *build_model(void)
{
    struct gb_graph *g = gb_new(13);
    gb_input(g, "x", SP_DTYPE_FLOAT, 4, (int64_t[]){-1, C, HW, HW});
    gb_input(g, "v", SP_DTYPE_FLOAT, 2, (int64_t[]){-1, KV});
    gb_input(g, "t", SP_DTYPE_FLOAT, 3, (int64_t[]){-1, S, KV});
    float w[6 * 2 * 9], wd[4 * 9], wg[3 * KV], wm[KV * 2], wm2[KV * 4];
    for (int i = 0; i < 108; i++)
        w[i] = val(7, i);
    for (int i = 0; i < 36; i++)
        wd[i] = val(8, i);
    for (int i = 0; i < 3 * KV; i++)
        wg[i] = val(9, i);
    for (int i = 0; i < 2 * KV; i++)
        wm[i] = val(10, i);
    for (int i = 0; i < 4 * KV; i++)
        wm2[i] = val(11, i);
    gb_init_f32(g, "wa", 4, (int64_t[]){6, 2, 3, 3}, w);
    gb_init_f32(g, "wb", 4, (int64_t[]){6, 2, 3, 3}, w);
    gb_init_f32(g, "wd", 4, (int64_t[]){4, 1, 3, 3}, wd);
    gb_init_f32(g, "wg", 2, (int64_t[]){3, KV}, wg);
    gb_init_f32(g, "wm2", 2, (int64_t[]){KV, 4}, wm2);
    int64_t two[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    Onnx__NodeProto *n;
    for (int k = 0; k < 2; k++) {
        n = gb_node(g, "Conv", k ? "x,wb" : "x,wa", k ? "yb" : "ya");
        gb_attr_int(n, "group", 2);
        gb_attr_ints(n, "strides", 2, two);
        gb_attr_ints(n, "dilations", 2, two);
        gb_attr_ints(n, "pads", 4, pads);
    }
    n = gb_node(g, "Conv", "x,wd", "yd");
    gb_attr_int(n, "group", C);
    gb_attr_ints(n, "pads", 4, pads);
    n = gb_node(g, "Gemm", "v,wg", "g");
    gb_attr_int(n, "transB", 1);
    /* MatMul weight from a Constant node: must count as a layer too. */
    n = gb_node(g, "Constant", "", "wm");
    gb_attr_tensor_f32(n, "value", 2, (int64_t[]){KV, 2}, wm);
    gb_node(g, "MatMul", "t,wm", "m");
    gb_node(g, "MatMul", "t,wm2", "m2");
    const char *outs[] = {"ya", "yb", "yd", "g", "m", "m2"};
    for (int i = 0; i < 6; i++)
        gb_output(g, outs[i], SP_DTYPE_FLOAT);
    return gb_finish(g);
}

static float sx(int s, int c, int y, int x) { return val(100 + s, (c * HW + y) * HW + x); }
static float sv(int s, int k) { return val(200 + s, k); }
static float st_(int s, int r, int k) { return val(300 + s, r * KV + k); }

static void write_samples(const char *dir)
{
    for (int s = 0; s < NS; s++) {
        struct sp_tensor a[3] = {0};
        sp_tensor_alloc(&a[0], SP_DTYPE_FLOAT, 3, (int64_t[]){C, HW, HW}, NULL);
        sp_tensor_alloc(&a[1], SP_DTYPE_FLOAT, 1, (int64_t[]){KV}, NULL);
        sp_tensor_alloc(&a[2], SP_DTYPE_FLOAT, 2, (int64_t[]){S, KV}, NULL);
        float *px = a[0].data, *pv = a[1].data, *pt = a[2].data;
        for (int c = 0; c < C; c++)
            for (int y = 0; y < HW; y++)
                for (int x = 0; x < HW; x++)
                    px[(c * HW + y) * HW + x] = sx(s, c, y, x);
        for (int k = 0; k < KV; k++)
            pv[k] = sv(s, k);
        for (int r = 0; r < S; r++)
            for (int k = 0; k < KV; k++)
                pt[r * KV + k] = st_(s, r, k);
        char *names[3] = {"x", "v", "t"};
        struct sp_npz npz = {3, names, a};
        char path[600];
        snprintf(path, sizeof path, "%s/s%02d.npz", dir, s);
        struct sp_error err = {0};
        CU_ASSERT_EQUAL_FATAL(sp_npz_write(path, &npz, &err), SP_OK);
        for (int i = 0; i < 3; i++)
            sp_tensor_free(&a[i]);
    }
}

static struct sp_calib_stats *calibrate(const char *dir, int batch, const char *ckpt, const char *resume)
{
    struct sp_model *m = build_model();
    struct sp_dataset ds = {0};
    struct sp_error err = {0};
    struct sp_comm *self = NULL;
    struct sp_calib_stats *st = NULL;
    CU_ASSERT_EQUAL_FATAL(sp_comm_create_self(&self, &err), SP_OK);
    CU_ASSERT_EQUAL_FATAL(sp_dataset_open(dir, NULL, &ds, &err), SP_OK);
    struct sp_calib_options o;
    sp_calib_options_init(&o);
    o.batch_size = batch;
    o.hessians = true;
    o.bins = 64;
    o.checkpoint_path = ckpt;
    o.resume_path = resume;
    enum sp_status rc = sp_calibrate(m, &ds, &o, self, NULL, &st, &err);
    if (rc)
        fprintf(stderr, "calibrate: %s\n", err.msg);
    CU_ASSERT_EQUAL(rc, SP_OK);
    sp_dataset_free(&ds);
    sp_comm_free(self);
    gb_model_free(m);
    return st;
}

static double relerr(const double *a, const double *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void add_outer(double *h, const double *r, int K)
{
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            h[i * K + j] += r[i] * r[j];
}

static const char *data_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", sp_test_tmpdir());
        write_samples(dir);
    }
    return dir;
}

static void test_hessians_match_naive_rows(void)
{
    struct sp_calib_stats *st = calibrate(data_dir(), 2, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(st->n_layers, 6);
    const struct sp_calib_layer *la = sp_calib_find_layer(st, "n_ya"), *lb = sp_calib_find_layer(st, "n_yb");
    const struct sp_calib_layer *ld = sp_calib_find_layer(st, "n_yd"), *lg = sp_calib_find_layer(st, "n_g");
    const struct sp_calib_layer *lm = sp_calib_find_layer(st, "n_m"), *lm2 = sp_calib_find_layer(st, "n_m2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(la);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ld);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lm2);
    /* Same input, same geometry: one Hessian. */
    CU_ASSERT_EQUAL(la->hessian, lb->hessian);
    CU_ASSERT_EQUAL(lm->hessian, lm2->hessian);
    CU_ASSERT_NOT_EQUAL(la->hessian, ld->hessian);
    CU_ASSERT_EQUAL(st->n_hessians, 4);
    CU_ASSERT_STRING_EQUAL(lm->weight, "wm");
    CU_ASSERT_TRUE(lm->weight_kn);
    CU_ASSERT_FALSE(lg->weight_kn);

    /* Grouped conv: 2 groups, rows = 3 output channels, cols = 2 * 3 * 3. */
    CU_ASSERT_EQUAL(la->groups, 2);
    CU_ASSERT_EQUAL(la->rows_per_group, 3);
    CU_ASSERT_EQUAL_FATAL(la->cols, 18);
    double ref[2][18 * 18] = {{0}}, r[18];
    const int OUT = (HW + 2 - 5) / 2 + 1;
    for (int s = 0; s < NS; s++)
        for (int g = 0; g < 2; g++)
            for (int oy = 0; oy < OUT; oy++)
                for (int ox = 0; ox < OUT; ox++) {
                    int k = 0;
                    for (int c = 0; c < 2; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++, k++) {
                                int iy = oy * 2 - 1 + ky * 2, ix = ox * 2 - 1 + kx * 2;
                                r[k] = iy >= 0 && iy < HW && ix >= 0 && ix < HW ? sx(s, g * 2 + c, iy, ix) : 0;
                            }
                    add_outer(ref[g], r, 18);
                }
    CU_ASSERT(relerr(la->h, ref[0], 18 * 18) < 1e-5);
    CU_ASSERT(relerr(la->h + 18 * 18, ref[1], 18 * 18) < 1e-5);
    CU_ASSERT_EQUAL(la->rows_seen, NS * OUT * OUT);

    /* Depthwise: 4 groups of 1 x 3 x 3, stride 1, pad 1. */
    CU_ASSERT_EQUAL(ld->groups, 4);
    CU_ASSERT_EQUAL_FATAL(ld->cols, 9);
    double refd[4][81] = {{0}}, rd[9];
    for (int s = 0; s < NS; s++)
        for (int g = 0; g < 4; g++)
            for (int oy = 0; oy < HW; oy++)
                for (int ox = 0; ox < HW; ox++) {
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy - 1 + ky, ix = ox - 1 + kx;
                            rd[ky * 3 + kx] = iy >= 0 && iy < HW && ix >= 0 && ix < HW ? sx(s, g, iy, ix) : 0;
                        }
                    add_outer(refd[g], rd, 9);
                }
    for (int g = 0; g < 4; g++)
        CU_ASSERT(relerr(ld->h + g * 81, refd[g], 81) < 1e-5);

    /* Gemm (transB): one row per sample; MatMul: one row per token. */
    double refg[KV * KV] = {0}, refm[KV * KV] = {0}, rv[KV];
    for (int s = 0; s < NS; s++) {
        for (int k = 0; k < KV; k++)
            rv[k] = sv(s, k);
        add_outer(refg, rv, KV);
        for (int t = 0; t < S; t++) {
            for (int k = 0; k < KV; k++)
                rv[k] = st_(s, t, k);
            add_outer(refm, rv, KV);
        }
    }
    CU_ASSERT_EQUAL(lg->cols, KV);
    CU_ASSERT_EQUAL(lg->rows_per_group, 3);
    CU_ASSERT(relerr(lg->h, refg, KV * KV) < 1e-5);
    CU_ASSERT_EQUAL(lm->rows_seen, NS * S);
    CU_ASSERT(relerr(lm->h, refm, KV * KV) < 1e-5);

    /* Ranges and histograms of a graph input. */
    const struct sp_calib_tensor *tx = sp_calib_find_tensor(st, "x");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tx);
    float lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < NS; s++)
        for (int i = 0; i < C * HW * HW; i++) {
            float v = val(100 + s, i);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    CU_ASSERT_EQUAL(tx->min, (double)lo);
    CU_ASSERT_EQUAL(tx->max, (double)hi);
    CU_ASSERT_EQUAL(tx->count, NS * C * HW * HW);
    int64_t total = 0;
    for (int b = 0; b < tx->bins; b++)
        total += tx->hist[b];
    CU_ASSERT_EQUAL(total, tx->count);
    CU_ASSERT(tx->hist[0] > 0 && tx->hist[tx->bins - 1] > 0);
    struct sp_histogram hv;
    sp_calib_tensor_histogram(tx, &hv);
    CU_ASSERT_EQUAL(hv.counts, tx->hist);
    CU_ASSERT_PTR_NOT_NULL(sp_calib_find_tensor(st, "ya"));
    sp_calib_stats_free(st);
}

/* Different group sizes are different computations, but the statistics must
 * agree to float rounding; and a checkpoint resumes bit-identically. */
static void test_batches_and_checkpoint_round_trip(void)
{
    char ck[600];
    snprintf(ck, sizeof ck, "%s/ck.h5", sp_test_tmpdir());
    struct sp_calib_stats *a = calibrate(data_dir(), 2, ck, NULL);
    struct sp_calib_stats *b = calibrate(data_dir(), 3, NULL, NULL);
    struct sp_calib_stats *c = calibrate(data_dir(), 2, NULL, ck);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char da[65], db[65], dc[65];
    sp_calib_stats_digest(a, da);
    sp_calib_stats_digest(b, db);
    sp_calib_stats_digest(c, dc);
    CU_ASSERT_STRING_EQUAL(da, dc);
    CU_ASSERT_TRUE(c->resumed);
    for (int i = 0; i < a->n_hessians; i++) {
        int64_t n = a->hessians[i].groups * a->hessians[i].cols * a->hessians[i].cols;
        CU_ASSERT(relerr(b->hessians[i].h, a->hessians[i].h, n) < 1e-5);
    }
    /* The file reads back with the same counts. */
    struct sp_ckpt *k = NULL;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_ckpt_read(ck, &k, &err), SP_OK);
    CU_ASSERT_EQUAL(k->pass, 3);
    CU_ASSERT_EQUAL(k->n_tensors, a->n_tensors);
    CU_ASSERT_EQUAL(k->n_hessians, a->n_hessians);
    CU_ASSERT_EQUAL(k->batch_size, 2);
    sp_ckpt_free(k);
    sp_calib_stats_free(a);
    sp_calib_stats_free(b);
    sp_calib_stats_free(c);
}

static bool same_ckpt(const struct sp_ckpt *x, const struct sp_ckpt *y)
{
    if (x->pass != y->pass || x->groups_done != y->groups_done || x->n_tensors != y->n_tensors ||
        x->n_hessians != y->n_hessians || x->bins != y->bins || strcmp(x->model_sha256, y->model_sha256) ||
        strcmp(x->data_sha256, y->data_sha256) || (!x->hist) != (!y->hist))
        return false;
    for (int i = 0; i < x->n_tensors; i++) {
        const struct sp_ckpt_tensor *a = &x->tensors[i], *b = &y->tensors[i];
        if (strcmp(a->name, b->name) || memcmp(&a->min, &b->min, sizeof a->min) ||
            memcmp(&a->max, &b->max, sizeof a->max) || a->count != b->count)
            return false;
    }
    if (x->hist && memcmp(x->hist, y->hist, sizeof *x->hist * (size_t)x->n_tensors * (size_t)x->bins))
        return false;
    for (int i = 0; i < x->n_hessians; i++) {
        const struct sp_ckpt_hessian *a = &x->hess[i], *b = &y->hess[i];
        if (strcmp(a->key, b->key) || a->cols != b->cols || a->groups != b->groups || a->rows != b->rows ||
            (!a->acc) != (!b->acc))
            return false;
        if (a->acc && memcmp(a->acc, b->acc, sizeof *a->acc * (size_t)(a->groups * sp_ckpt_tri(a->cols))))
            return false;
    }
    return true;
}

/* The file is in HDF5's checksummed 1.10 format, and its raw data is
 * checksummed too: a byte flipped anywhere is refused as a corrupt
 * checkpoint or, in bytes the file does not use, changes nothing. Never a
 * silently different checkpoint. */
static void test_checkpoint_detects_flipped_bytes(void)
{
    char ck[600], bad[620];
    snprintf(ck, sizeof ck, "%s/flip.h5", sp_test_tmpdir());
    snprintf(bad, sizeof bad, "%s/flipped.h5", sp_test_tmpdir());
    struct sp_calib_stats *a = calibrate(data_dir(), 2, ck, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    sp_calib_stats_free(a);
    size_t size = 0;
    unsigned char *img = sp_test_read_file(ck, &size);
    CU_ASSERT_PTR_NOT_NULL_FATAL(img);
    CU_ASSERT_EQUAL(img[8], 3); /* superblock version 3 */
    struct sp_ckpt *good = NULL;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sp_ckpt_read(ck, &good, &err), SP_OK);
    int refused = 0, same = 0, silent = 0;
    /* Every 7th byte (and a prime stride, so every structure is hit). */
    for (size_t off = 0; off < size; off += 7) {
        img[off] ^= 0x10;
        sp_test_write_file(bad, img, size);
        img[off] ^= 0x10;
        struct sp_ckpt *k = NULL;
        sp_error_clear(&err);
        enum sp_status st = sp_ckpt_read(bad, &k, &err);
        if (st == SP_ERR_CHECKPOINT)
            refused++;
        else if (st == SP_OK && same_ckpt(good, k))
            same++;
        else {
            silent++;
            if (silent < 4)
                fprintf(stderr, "\n  flipped byte %zu of %zu: status %d, content differs\n", off, size, (int)st);
        }
        sp_ckpt_free(k);
    }
    CU_ASSERT_EQUAL(silent, 0);
    CU_ASSERT(refused > (int)(size / 7) / 2); /* most bytes are in use */
    sp_ckpt_free(good);
    free(img);
    unlink(bad);
    unlink(ck);
}

int main(void)
{
    struct sp_comm *world = sp_comm_init(NULL, NULL, NULL);
    if (!world || CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("calib", NULL, NULL);
    CU_add_test(s, "sha256 matches the FIPS 180-4 examples", test_sha256_fips_vectors);
    CU_add_test(s, "held-out samples are every round(1/h)-th", test_holdout_selection);
    CU_add_test(s, "Hessians equal explicit row sums (conv grouped/strided/padded/dilated, depthwise, Gemm, MatMul)",
                test_hessians_match_naive_rows);
    CU_add_test(s, "batch sizes agree; a checkpoint resumes bit-identically", test_batches_and_checkpoint_round_trip);
    CU_add_test(s, "a flipped checkpoint byte is refused or harmless, never silent", test_checkpoint_detects_flipped_bytes);
    return sp_comm_finalize(world, sp_test_main());
}
