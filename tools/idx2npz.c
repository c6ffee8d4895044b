/*
 * idx2npz: Fashion-MNIST (or MNIST) idx files -> a sparsify data folder.
 *
 * The quality benchmark and its CI test score compressed models on the full
 * 10,000-image Fashion-MNIST test set that Debian ships as gzip'ed idx files
 * (dataset-fashion-mnist). Committing 10,000 .npz files would bloat the
 * repository, and Python must not be needed at test time, so this tool makes
 * the folder on the fly: one .npz per image, key "input", float32 [1, H, W],
 * normalized exactly as tools/make_demo.py trained the demo model
 * (((float)pixel / 255 - mean) / std in float32 arithmetic, as numpy does for a
 * float32 array and Python float scalars), plus the labels as an int64 .npy.
 *
 *   idx2npz --images t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz
 *           --out DIR --labels-out LABELS.npy [--offset K] [--count N]
 *           [--mean 0.286] [--std 0.353] [--key input]
 *
 * Exit codes: 0 done, 2 usage, 3 bad or unreadable input, 6 cannot write.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zip.h>
#include <zlib.h>

#include "sparsify/data.h"

/* Fashion-MNIST is 28 x 28; anything beyond these is not an image set we know. */
#define MAX_SIDE 4096
#define MAX_ITEMS 10000000

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "idx2npz: %s\n", msg);
    fprintf(stderr, "usage: idx2npz --images IDX3[.gz] --labels IDX1[.gz] --out DIR --labels-out FILE.npy\n"
                    "               [--offset K] [--count N] [--mean M] [--std S] [--key NAME]\n");
    return 2;
}

/* Reads exactly n bytes; false on a short file. */
static bool read_exact(gzFile f, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0)
            return false;
        p += got;
        n -= (size_t)got;
    }
    return true;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/*
 * Reads an idx file of unsigned bytes with `ndim` dimensions (idx magic
 * 0x0000_08_<ndim>), checking the header and that the data is exactly as long
 * as the header says. *data is malloc'ed.
 */
static int read_idx(const char *path, int ndim, uint32_t dims[3], unsigned char **data, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, "idx2npz: %s: cannot open: %s\n", path, strerror(errno));
        return 3;
    }
    unsigned char hdr[16];
    int rc = 3;
    *data = NULL;
    if (!read_exact(f, hdr, 4 + 4 * (size_t)ndim)) {
        fprintf(stderr, "idx2npz: %s: shorter than an idx header\n", path);
        goto out;
    }
    if (hdr[0] || hdr[1] || hdr[2] != 0x08 || hdr[3] != ndim) {
        fprintf(stderr, "idx2npz: %s: expected an idx file of unsigned bytes with %d dimensions "
                        "(magic 00 00 08 %02x), got %02x %02x %02x %02x\n",
                path, ndim, ndim, hdr[0], hdr[1], hdr[2], hdr[3]);
        goto out;
    }
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        uint32_t lim = i == 0 ? MAX_ITEMS : MAX_SIDE;
        if (dims[i] == 0 || dims[i] > lim) {
            fprintf(stderr, "idx2npz: %s: dimension %d is %u, expected 1 to %u\n", path, i, dims[i], lim);
            goto out;
        }
        total *= dims[i];
    }
    if (total > ((size_t)1 << 34) || !(*data = malloc(total))) {
        fprintf(stderr, "idx2npz: %s: cannot allocate %zu bytes\n", path, total);
        goto out;
    }
    if (!read_exact(f, *data, total)) {
        fprintf(stderr, "idx2npz: %s: truncated: the header announces %zu data bytes\n", path, total);
        goto out;
    }
    unsigned char extra;
    if (gzread(f, &extra, 1) != 0) {
        fprintf(stderr, "idx2npz: %s: data continues past the %zu bytes the header announces\n", path, total);
        goto out;
    }
    *len = total;
    rc = 0;
out:
    if (rc) {
        free(*data);
        *data = NULL;
    }
    gzclose(f);
    return rc;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v == v))
        return false;
    *out = v;
    return true;
}

/*
 * One sample as an .npz (a zip holding KEY.npy, stored). Not sp_npz_write:
 * that one fsyncs every file and its folder, which for 10,000 throw-away test
 * files costs minutes; libzip still writes a temporary file and renames it,
 * so a killed run never leaves half a sample. Member times are fixed so the
 * bytes depend on the pixels only.
 */
static int write_npz(const char *path, const char *member, const struct sp_tensor *t)
{
    struct sp_error err = {0};
    void *buf = NULL;
    size_t len = 0;
    if (sp_npy_serialize(t, &buf, &len, &err)) {
        fprintf(stderr, "idx2npz: %s\n", err.msg);
        return 6;
    }
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
    if (!z) {
        free(buf);
        fprintf(stderr, "idx2npz: %s: cannot create (libzip error %d)\n", path, zerr);
        return 6;
    }
    zip_source_t *src = zip_source_buffer(z, buf, len, 0);
    zip_int64_t idx = src ? zip_file_add(z, member, src, ZIP_FL_OVERWRITE) : -1;
    if (idx < 0) {
        zip_source_free(src);
        fprintf(stderr, "idx2npz: %s: %s\n", path, zip_strerror(z));
        zip_discard(z);
        free(buf);
        return 6;
    }
    zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    zip_file_set_mtime(z, (zip_uint64_t)idx, 0, 0);
    int rc = 0;
    if (zip_close(z) != 0) {
        fprintf(stderr, "idx2npz: %s: cannot write: %s\n", path, zip_strerror(z));
        zip_discard(z);
        rc = 6;
    }
    free(buf); /* after zip_close: libzip reads the buffer while writing */
    return rc;
}

int main(int argc, char **argv)
{
    const char *images = NULL, *labels = NULL, *out_dir = NULL, *labels_out = NULL, *key = "input";
    long offset = 0, count = -1;
    double mean = 0.286, stdev = 0.353;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(NULL), 0;
        if (!v)
            return usage("every option takes a value");
        i++;
        if (!strcmp(a, "--images"))
            images = v;
        else if (!strcmp(a, "--labels"))
            labels = v;
        else if (!strcmp(a, "--out"))
            out_dir = v;
        else if (!strcmp(a, "--labels-out"))
            labels_out = v;
        else if (!strcmp(a, "--key"))
            key = v;
        else if (!strcmp(a, "--offset")) {
            if (!parse_long(v, 0, MAX_ITEMS, &offset))
                return usage("--offset: expected an integer >= 0");
        } else if (!strcmp(a, "--count")) {
            if (!parse_long(v, 1, MAX_ITEMS, &count))
                return usage("--count: expected an integer >= 1");
        } else if (!strcmp(a, "--mean")) {
            if (!parse_double(v, &mean))
                return usage("--mean: expected a number");
        } else if (!strcmp(a, "--std")) {
            if (!parse_double(v, &stdev) || !(stdev > 0))
                return usage("--std: expected a positive number");
        } else {
            fprintf(stderr, "idx2npz: unknown option '%s'\n", a);
            return usage(NULL);
        }
    }
    if (!images || !labels || !out_dir || !labels_out || !*key)
        return usage("--images, --labels, --out and --labels-out are required");

    uint32_t idims[3], ldims[3];
    unsigned char *px = NULL, *lab = NULL;
    size_t plen, llen;
    int rc = read_idx(images, 3, idims, &px, &plen);
    if (!rc)
        rc = read_idx(labels, 1, ldims, &lab, &llen);
    if (rc)
        goto out;
    if (idims[0] != ldims[0]) {
        fprintf(stderr, "idx2npz: %s has %u images but %s has %u labels\n", images, idims[0], labels, ldims[0]);
        rc = 3;
        goto out;
    }
    if ((unsigned long)offset >= idims[0]) {
        fprintf(stderr, "idx2npz: --offset %ld: the files hold %u images\n", offset, idims[0]);
        rc = 2;
        goto out;
    }
    long avail = (long)idims[0] - offset;
    if (count < 0 || count > avail)
        count = avail;
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "idx2npz: --out %s: cannot create the folder: %s\n", out_dir, strerror(errno));
        rc = 6;
        goto out;
    }

    /* Same arithmetic as numpy on a float32 array: each step rounds to float. */
    const float fmean = (float)mean, fstd = (float)stdev;
    const size_t hw = (size_t)idims[1] * idims[2];
    int width = 5;
    for (long c = 100000; c <= offset + count; c *= 10)
        width++;
    char member[256];
    if (snprintf(member, sizeof member, "%s.npy", key) >= (int)sizeof member) {
        fprintf(stderr, "idx2npz: --key %s: too long\n", key);
        rc = 2;
        goto out;
    }
    struct sp_tensor t = {0};
    struct sp_error err = {0};
    int64_t dims[3] = {1, idims[1], idims[2]};
    if (sp_tensor_alloc(&t, SP_DTYPE_FLOAT, 3, dims, &err)) {
        fprintf(stderr, "idx2npz: %s\n", err.msg);
        rc = 3;
        goto out;
    }
    for (long i = 0; i < count && !rc; i++) {
        const unsigned char *img = px + (size_t)(offset + i) * hw;
        float *x = t.data;
        for (size_t j = 0; j < hw; j++) {
            float v = (float)img[j] / 255.0f;
            v = v - fmean;
            x[j] = v / fstd;
        }
        char path[4096];
        /* Named by the index in the idx file, so that sorted order = file order. */
        if (snprintf(path, sizeof path, "%s/sample_%0*ld.npz", out_dir, width, offset + i) >= (int)sizeof path) {
            fprintf(stderr, "idx2npz: --out %s: path too long\n", out_dir);
            rc = 6;
        } else {
            rc = write_npz(path, member, &t);
        }
    }
    sp_tensor_free(&t);
    if (rc)
        goto out;

    struct sp_tensor lt = {0};
    int64_t ld[1] = {count};
    if (sp_tensor_alloc(&lt, SP_DTYPE_INT64, 1, ld, &err)) {
        fprintf(stderr, "idx2npz: %s\n", err.msg);
        rc = 3;
        goto out;
    }
    for (long i = 0; i < count; i++)
        ((int64_t *)lt.data)[i] = lab[offset + i];
    void *buf = NULL;
    size_t blen = 0;
    if (sp_npy_serialize(&lt, &buf, &blen, &err)) {
        fprintf(stderr, "idx2npz: %s\n", err.msg);
        rc = 6;
    } else {
        /* Written whole to a temporary name and renamed, so a reader never sees
         * half a labels file. */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", labels_out);
        FILE *f = fopen(tmp, "wb");
        bool ok = f && fwrite(buf, 1, blen, f) == blen && fflush(f) == 0;
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok || rename(tmp, labels_out) != 0) {
            fprintf(stderr, "idx2npz: --labels-out %s: cannot write: %s\n", labels_out, strerror(errno));
            remove(tmp);
            rc = 6;
        }
    }
    free(buf);
    sp_tensor_free(&lt);
    if (!rc)
        printf("idx2npz: %ld samples [%u x %u] in %s, labels in %s\n", count, idims[1], idims[2], out_dir, labels_out);
out:
    free(px);
    free(lab);
    return rc;
}
