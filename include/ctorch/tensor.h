/* ctorch/tensor.h: runtime tensors: a dtype, a shape, strides and an offset over refcounted
 * storage. Used by the reference interpreter, the runtime kernels, the package loader and the
 * public C API.
 *
 * Ownership: every function that returns a ct_tensor * returns a new reference, which the caller
 * releases with ct_tensor_release. Tensor arguments are borrowed: a callee that keeps one takes
 * its own reference. Storage is shared between views and freed when the last tensor using it is
 * released. Allocated storage is 64-byte aligned. */
#ifndef CTORCH_TENSOR_H
#define CTORCH_TENSOR_H

#include "ctorch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_ALIGN 64

typedef struct ct_storage {
  void *data;
  size_t nbytes;
  int refcount;
  /* Called on the last release. NULL: data came from ct_aligned_alloc and is freed with it. */
  void (*release)(void *ctx, void *data);
  void *release_ctx;
} ct_storage;

typedef struct ct_tensor {
  ct_dtype dtype;
  int rank;
  int64_t shape[CT_MAX_RANK];
  int64_t strides[CT_MAX_RANK]; /* in elements */
  int64_t offset;               /* in elements, from storage->data */
  ct_storage *storage;
  int refcount;
} ct_tensor;

/* 64-byte aligned allocation; ct_aligned_free releases it. Returns NULL on failure; a request
 * of 0 bytes returns a valid unique pointer. */
void *ct_aligned_alloc(size_t nbytes);
void ct_aligned_free(void *p);

/* A new contiguous tensor; contents uninitialized (ct_tensor_empty) or zero (ct_tensor_zeros).
 * Returns NULL when the size overflows or memory runs out. */
ct_tensor *ct_tensor_empty(ct_dtype dt, int rank, const int64_t *shape);
ct_tensor *ct_tensor_zeros(ct_dtype dt, int rank, const int64_t *shape);
/* A contiguous tensor over caller memory. release(ctx, data) runs when the last reference goes;
 * release == NULL means the caller keeps ownership and must outlive the tensor. */
ct_tensor *ct_tensor_wrap(ct_dtype dt, int rank, const int64_t *shape, void *data,
                          void (*release)(void *ctx, void *data), void *ctx);
/* A view sharing t's storage with the given shape, strides and offset (in elements).
 * The caller guarantees the view stays inside the storage. */
ct_tensor *ct_tensor_view(ct_tensor *t, int rank, const int64_t *shape, const int64_t *strides,
                          int64_t offset);
/* A contiguous copy, or a new reference to t when it is already contiguous. */
ct_tensor *ct_tensor_contiguous(ct_tensor *t);
/* A deep contiguous copy. */
ct_tensor *ct_tensor_clone(const ct_tensor *t);
/* Copies src into dst elementwise (same shape, any strides, dtypes converted). */
ct_status ct_tensor_copy_into(ct_tensor *dst, const ct_tensor *src);

ct_tensor *ct_tensor_retain(ct_tensor *t);
void ct_tensor_release(ct_tensor *t);

int64_t ct_tensor_numel(const ct_tensor *t);
size_t ct_tensor_nbytes(const ct_tensor *t);
int ct_tensor_is_contiguous(const ct_tensor *t);
/* Pointer to the first element (storage data + offset). */
void *ct_tensor_data(const ct_tensor *t);
/* Element at a flat row-major index as a double, through strides (slow; tests and printing). */
double ct_tensor_get(const ct_tensor *t, int64_t flat_index);
void ct_tensor_set(ct_tensor *t, int64_t flat_index, double v);
/* Fills contiguous strides for shape; returns the element count or -1 on overflow. */
int64_t ct_contiguous_strides(int rank, const int64_t *shape, int64_t *strides);
/* Formats "f32[2,3]" into buf. */
void ct_tensor_describe(const ct_tensor *t, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
