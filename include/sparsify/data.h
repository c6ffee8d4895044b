/*
 * Calibration data: a folder of .npz files (numpy's np.savez / np.savez_compressed),
 * one sample each, no batch dimension, keys = the model's input names.
 *
 * Files are read in sorted (byte-wise strcmp) file-name order; the index of a file
 * in that order is the sample's global index, which partitioning relies on.
 */
#ifndef SPARSIFY_DATA_H
#define SPARSIFY_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "sparsify/log.h"
#include "sparsify/model.h"
#include "sparsify/status.h"
#include "sparsify/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default per-array size limit when reading samples (sp_dataset_open sets
 * sp_dataset.max_bytes to it): 2 GiB, far above any calibration sample, far
 * below what a lying header or a zip bomb would make us allocate. */
#define SP_NPZ_DEFAULT_MAX_BYTES ((size_t)1 << 31)

/* Arrays read from one .npz file (or written to one). */
struct sp_npz {
    int count;
    char **names;               /* owned; key without the ".npy" suffix */
    struct sp_tensor *arrays;   /* owned tensors */
};

/*
 * Reads every array of an .npz archive. Supported: little-endian (or
 * byte-order-free) float32, float64, float16, int64, int32, int8, uint8, bool,
 * C order, npy format 1.0/2.0/3.0, stored or deflated members (zip64 allowed).
 * Errors (one line, naming the file and key): corrupt zip, bad npy header,
 * Fortran order, object arrays, big-endian, unsupported dtype, data size that
 * disagrees with the header, declared sizes above `max_bytes` per array.
 */
enum sp_status sp_npz_read(const char *path, size_t max_bytes, struct sp_npz *out, struct sp_error *err);

/*
 * Writes arrays as an uncompressed .npz (np.load reads it) atomically: a
 * temporary ".NAME.tmp-PID" in the same folder, fsync, rename, fsync of the
 * folder. Keys must be non-empty and distinct; dtypes those sp_npz_read reads.
 * On failure no file is left behind and an existing `path` is untouched.
 */
enum sp_status sp_npz_write(const char *path, const struct sp_npz *npz, struct sp_error *err);

/* Frees names and arrays and resets *npz to empty. NULL-safe, idempotent. */
void sp_npz_free(struct sp_npz *npz);

/* Parses one .npy image held in memory. `what` names it in messages ("f.npz:
 * key 'x'"). The array must not exceed `max_bytes` and the data must be exactly
 * product(shape) * itemsize bytes. On success `out` owns a copy of the data. */
enum sp_status sp_npy_parse(const void *buf, size_t len, const char *what, size_t max_bytes,
                            struct sp_tensor *out, struct sp_error *err);

/* Serializes one tensor as .npy (format 1.0, C order, little-endian, data
 * 64-byte aligned like numpy) into a malloc'ed buffer the caller frees. */
enum sp_status sp_npy_serialize(const struct sp_tensor *t, void **buf, size_t *len, struct sp_error *err);

/* Reads a standalone .npy file (same rules as sp_npy_parse; the file size is
 * checked against `max_bytes` before it is read). */
enum sp_status sp_npy_read(const char *path, size_t max_bytes, struct sp_tensor *out, struct sp_error *err);

/* The sorted list of samples in a data folder. */
struct sp_dataset {
    char *dir;        /* owned */
    size_t count;
    char **files;     /* owned; full paths, sorted by file name */
    size_t max_bytes; /* per-array limit for sp_dataset_load; open sets
                         SP_NPZ_DEFAULT_MAX_BYTES, callers may change it */
};

/*
 * Lists `dir`: regular files ending in ".npz" (case-sensitive), sorted by name.
 * Other entries are skipped with a warning through `log`. Errors: folder missing
 * or unreadable (SP_ERR_IO), not a folder (SP_ERR_IO), no .npz file in it
 * (SP_ERR_IO, an input failure: "DIR: no .npz files (expected one sample per
 * .npz file)").
 * The files themselves are not opened here.
 */
enum sp_status sp_dataset_open(const char *dir, const struct sp_logger *log, struct sp_dataset *out,
                               struct sp_error *err);
/* Frees the listing and resets *ds. NULL-safe, idempotent. */
void sp_dataset_free(struct sp_dataset *ds);

/*
 * Loads sample `index` and checks it against the model's inputs: one array per
 * input name, no extra keys, rank = model rank - 1 (the batch dimension is not
 * stored), every fixed model dimension equal. Values are cast to the input's
 * dtype when that is lossless (int32/int8/uint8/bool -> int64, float16 -> float32,
 * int8/uint8/bool -> int32, float32/float16 -> float64...), refused otherwise.
 * On success `out->arrays[i]` is the array for model input i (same order as
 * sp_model_input) and out->names[i] its name. Failures name the file and key:
 * SP_ERR_MISMATCH for missing/extra keys, rank, fixed dims and lossy dtypes,
 * SP_ERR_FORMAT/UNSUPPORTED/NOMEM from reading, SP_ERR_USAGE for a bad index.
 * On failure *out is empty.
 */
enum sp_status sp_dataset_load(const struct sp_dataset *ds, size_t index, const struct sp_model *model,
                               struct sp_npz *out, struct sp_error *err);

/* Same check for an npz already read (`path` names it in messages); reorders
 * and casts `npz` in place. On failure `npz` is left unchanged. */
enum sp_status sp_sample_conform(const char *path, const struct sp_model *model, struct sp_npz *npz,
                                 struct sp_error *err);

/*
 * True when every value of dtype `from` is exactly representable in `to`:
 * numpy's "safe" casting (np.can_cast(from, to, 'safe')) except that int64 and
 * uint64 -> float64 are refused (numpy calls those safe; they lose digits
 * above 2^53). So bool -> any number, integers -> wider integers that hold
 * their whole range, integers -> floats whose mantissa holds them (uint8 ->
 * float16, int16 -> float32, int32 -> float64), float16 -> float32 -> float64.
 * Never float -> integer, never narrowing. Identity is always true.
 */
bool sp_dtype_can_cast_lossless(enum sp_dtype from, enum sp_dtype to);

/* Converts `src` to dtype `to` into the new owning tensor `dst`. Refuses
 * (SP_ERR_MISMATCH) casts sp_dtype_can_cast_lossless rejects. */
enum sp_status sp_tensor_cast_lossless(const struct sp_tensor *src, enum sp_dtype to, struct sp_tensor *dst,
                                       struct sp_error *err);

#ifdef __cplusplus
}
#endif
#endif
