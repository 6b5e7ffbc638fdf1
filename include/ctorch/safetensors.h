/* ctorch/safetensors.h: reading and writing safetensors files, the format PyTorch users already
 * have: an 8-byte little-endian header length, a JSON header mapping names to
 * {dtype, shape, data_offsets} (plus an optional "__metadata__" string map), then the data.
 * The reader validates every field and offset and never trusts the file. */
#ifndef CTORCH_SAFETENSORS_H
#define CTORCH_SAFETENSORS_H

#include "ctorch/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_st_file ct_st_file;

/* Reads path (memory-mapped). Tensors are views of the mapping and keep it alive. Errors name
 * the file and the offending byte offset or key, and return CT_ERR_IO or CT_ERR_FORMAT. */
ct_status ct_st_load(const char *path, ct_st_file **out, ct_diag *diag);
/* Parses an in-memory image (copied). file names it in diagnostics (may be NULL). */
ct_status ct_st_parse(const void *data, size_t len, const char *file, ct_st_file **out,
                      ct_diag *diag);
void ct_st_free(ct_st_file *f);

/* Tensors in the header's order. Returned tensors are borrowed from f. */
int ct_st_count(const ct_st_file *f);
const char *ct_st_name(const ct_st_file *f, int i);
ct_tensor *ct_st_tensor(const ct_st_file *f, int i);
ct_tensor *ct_st_find(const ct_st_file *f, const char *name);
/* A "__metadata__" value, or NULL. */
const char *ct_st_metadata(const ct_st_file *f, const char *key);

/* Writes n named tensors (any strides; written contiguous) with optional metadata pairs
 * (meta_keys/meta_values, n_meta may be 0) to path, through a temporary file renamed into place
 * so that an interrupted write never leaves a truncated file. */
ct_status ct_st_save(const char *path, int n, const char *const *names, ct_tensor *const *tensors,
                     int n_meta, const char *const *meta_keys, const char *const *meta_values,
                     ct_diag *diag);
/* Same, into a malloc'd buffer (*out, *out_len) the caller frees. */
ct_status ct_st_serialize(int n, const char *const *names, ct_tensor *const *tensors, int n_meta,
                          const char *const *meta_keys, const char *const *meta_values,
                          void **out, size_t *out_len, ct_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
