/* runtime/kernels/kernels_internal.h: what the CPU kernel files share: one prototype per op of
 * ir/ops.def (ct_kernel_<ID>, declared weak so that an op without a kernel is a NULL in the
 * table that tests catch, not a link error), and small helpers for strided iteration. */
#ifndef CT_KERNELS_INTERNAL_H
#define CT_KERNELS_INTERNAL_H

#include <stdio.h>

#include "ctorch/kernels.h"
#include "ops.h"

#define CT_KERNEL_ARGS                                                                             \
  const ct_attr *attrs, int n_attrs, ct_tensor *const *in, int n_in, ct_tensor *const *out,        \
      int n_out, char *err, size_t err_size

#define OP(id, name, cls, min_in, max_in, n_out, flags, attrs)                                     \
  __attribute__((weak)) ct_status ct_kernel_##id(CT_KERNEL_ARGS);
#include "ops.def"
#undef OP

/* Writes a message to err and returns st: `return kernel_fail(err, err_size, CT_ERR_SHAPE, ...)`.
 */
ct_status ct_kernel_fail(char *err, size_t err_size, ct_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Strided iteration (iter.c) over one shape for up to CT_ITER_MAX_OPS operands, one innermost
 * row at a time. Strides are in elements (0 on a broadcast dim). Dims of size 1 are dropped and
 * dims contiguous for every operand are merged, so a same-shape contiguous operation, or one
 * against a broadcast scalar, is a single row. */
#define CT_ITER_MAX_OPS 4
typedef struct ct_iter {
  int rank; /* after merging; >= 1 */
  int n_ops;
  int done;
  int64_t shape[CT_MAX_RANK];
  int64_t strides[CT_ITER_MAX_OPS][CT_MAX_RANK];
  int64_t idx[CT_MAX_RANK];
  int64_t off[CT_ITER_MAX_OPS];
  size_t esize[CT_ITER_MAX_OPS];
  char *base[CT_ITER_MAX_OPS];
} ct_iter;

/* Prepares it over shape (rank dims) for n_ops operands: operand k starts at base[k], has
 * element size esize[k] and element strides strides[k][0..rank). */
void ct_iter_init(ct_iter *it, int rank, const int64_t *shape, int n_ops, char *const *base,
                  const int64_t *const *strides, const size_t *esize);
/* Restarts it from the first row with new base pointers (same shape and strides). */
void ct_iter_reset(ct_iter *it, char *const *base);
/* Stores the next row's first element of every operand in ptr and returns the row length, or 0
 * when done. Row strides are it->strides[k][it->rank - 1]. */
int64_t ct_iter_next(ct_iter *it, char **ptr);
/* Element strides of t broadcast to shape (right-aligned, 0 on broadcast dims); returns -1 when
 * t does not broadcast to shape. */
int ct_bcast_strides(const ct_tensor *t, int rank, const int64_t *shape, int64_t *strides);
/* Copies a strided block of shape between two buffers of elements of esize bytes. */
void ct_copy_strided(int rank, const int64_t *shape, void *dst, const int64_t *dst_strides,
                     const void *src, const int64_t *src_strides, size_t esize);
/* 1 when t has exactly this shape. */
int ct_shape_is(const ct_tensor *t, int rank, const int64_t *shape);

/* ---- scalar access by dtype (the general, strided paths of the kernels) ---- */
#include <string.h>

static inline int ct_k_is_float(ct_dtype dt) { return dt == CT_DT_F32 || dt == CT_DT_F64; }
static inline int ct_k_is_int(ct_dtype dt) {
  return dt == CT_DT_I64 || dt == CT_DT_I32 || dt == CT_DT_BOOL || dt == CT_DT_U8;
}

static inline int64_t ct_k_load_i(ct_dtype dt, const char *p) {
  switch (dt) {
  case CT_DT_I64: {
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  case CT_DT_I32: {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  case CT_DT_BOOL: return *(const uint8_t *)p != 0;
  case CT_DT_U8: return *(const uint8_t *)p;
  default: return 0;
  }
}

/* Stores v wrapping to the dtype's width (two's complement), bool as v != 0. */
static inline void ct_k_store_i(ct_dtype dt, char *p, int64_t v) {
  switch (dt) {
  case CT_DT_I64: memcpy(p, &v, sizeof v); break;
  case CT_DT_I32: {
    int32_t w = (int32_t)(uint32_t)(uint64_t)v;
    memcpy(p, &w, sizeof w);
    break;
  }
  case CT_DT_BOOL: *(uint8_t *)p = v != 0; break;
  case CT_DT_U8: *(uint8_t *)p = (uint8_t)(uint64_t)v; break;
  default: break;
  }
}

static inline double ct_k_load_d(ct_dtype dt, const char *p) {
  if (dt == CT_DT_F32) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  if (dt == CT_DT_F64) {
    double v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  return (double)ct_k_load_i(dt, p);
}

/* Float to int64 truncating toward zero; NaN is 0 and out-of-range values saturate. */
static inline int64_t ct_k_d_to_i(double v) {
  if (v != v) return 0;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)v;
}

static inline void ct_k_store_d(ct_dtype dt, char *p, double v) {
  if (dt == CT_DT_F32) {
    float f = (float)v;
    memcpy(p, &f, sizeof f);
  } else if (dt == CT_DT_F64) {
    memcpy(p, &v, sizeof v);
  } else if (dt == CT_DT_BOOL) {
    *(uint8_t *)p = v != 0;
  } else {
    ct_k_store_i(dt, p, ct_k_d_to_i(v));
  }
}


/* A malloc'd contiguous f64 copy of t's elements (t is f32 or f64, any strides); NULL when out of
 * memory. The caller frees it. */
double *ct_k_load_f64(ct_tensor *t);
/* Writes numel(y) doubles into contiguous y (f32 or f64), rounding once. */
void ct_k_store_f64(ct_tensor *y, const double *v);

#endif
