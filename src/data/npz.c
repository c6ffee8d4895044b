/* STUB: replaced by the npz/npy implementation. Every call fails loudly. */
#include <stdlib.h>
#include <string.h>
#include "sparsify/data.h"
#define NI(what) sp_error_set(err, SP_ERR_NOT_IMPLEMENTED, "%s: not implemented yet", what)
enum sp_status sp_npz_read(const char *path, size_t max_bytes, struct sp_npz *out, struct sp_error *err) { memset(out, 0, sizeof *out); return NI("sp_npz_read"); }
enum sp_status sp_npz_write(const char *path, const struct sp_npz *npz, struct sp_error *err) { return NI("sp_npz_write"); }
void sp_npz_free(struct sp_npz *npz) { (void)npz; }
enum sp_status sp_npy_parse(const void *buf, size_t len, const char *what, size_t max_bytes, struct sp_tensor *out, struct sp_error *err) { return NI("sp_npy_parse"); }
enum sp_status sp_npy_serialize(const struct sp_tensor *t, void **buf, size_t *len, struct sp_error *err) { return NI("sp_npy_serialize"); }
enum sp_status sp_npy_read(const char *path, size_t max_bytes, struct sp_tensor *out, struct sp_error *err) { return NI("sp_npy_read"); }
enum sp_status sp_dataset_open(const char *dir, const struct sp_logger *log, struct sp_dataset *out, struct sp_error *err) { memset(out, 0, sizeof *out); return NI("sp_dataset_open"); }
void sp_dataset_free(struct sp_dataset *ds) { (void)ds; }
enum sp_status sp_dataset_load(const struct sp_dataset *ds, size_t index, const struct sp_model *model, struct sp_npz *out, struct sp_error *err) { memset(out, 0, sizeof *out); return NI("sp_dataset_load"); }
enum sp_status sp_sample_conform(const char *path, const struct sp_model *model, struct sp_npz *npz, struct sp_error *err) { return NI("sp_sample_conform"); }
