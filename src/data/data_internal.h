/*
 * Helpers shared by the npy, npz and dataset code of src/data/ and not part of
 * the public API.
 */
#ifndef SPARSIFY_DATA_INTERNAL_H
#define SPARSIFY_DATA_INTERNAL_H

#include <stddef.h>

#include "sparsify/status.h"
#include "sparsify/tensor.h"

/* Maps an npy 'descr' string ("<f4", "|b1", ...) to a dtype. Refuses big-endian,
 * object, structured and unknown dtypes with a message starting with `what`. */
enum sp_status sp_npy_descr_to_dtype(const char *descr, const char *what, enum sp_dtype *out,
                                     struct sp_error *err);

/* The descr numpy writes for `dt` ("<f4", "|b1"), or NULL if .npy cannot hold it. */
const char *sp_npy_dtype_descr(enum sp_dtype dt);

/* Largest .npy image (header + data) that can hold an array of `max_bytes`:
 * the bound applied to a file or zip member before it is read. Saturates. */
size_t sp_npy_max_image_bytes(size_t max_bytes);

#endif
