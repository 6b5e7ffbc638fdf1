/* runtime/tensor.c: tensors over refcounted, 64-byte aligned storage; views, copies and
 * element access. Refcounts are atomic so tensors may cross threads. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/tensor.h"

void *ct_aligned_alloc(size_t nbytes) {
  size_t rounded = (nbytes + CT_ALIGN - 1) / CT_ALIGN * CT_ALIGN;
  if (rounded < nbytes) return NULL;
  if (rounded == 0) rounded = CT_ALIGN;
  return aligned_alloc(CT_ALIGN, rounded);
}

void ct_aligned_free(void *p) { free(p); }

int64_t ct_contiguous_strides(int rank, const int64_t *shape, int64_t *strides) {
  int64_t n = 1;
  for (int i = rank - 1; i >= 0; i--) {
    if (strides) strides[i] = n;
    if (shape[i] < 0) return -1;
    if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
    n *= shape[i];
  }
  return n;
}

static ct_tensor *tensor_alloc(ct_dtype dt, int rank, const int64_t *shape, ct_storage *s) {
  ct_tensor *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->dtype = dt;
  t->rank = rank;
  if (rank > 0) memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
  ct_contiguous_strides(rank, shape, t->strides);
  t->storage = s;
  t->refcount = 1;
  return t;
}

static ct_storage *storage_new(void *data, size_t nbytes, void (*release)(void *, void *),
                               void *ctx) {
  ct_storage *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->data = data;
  s->nbytes = nbytes;
  s->refcount = 1;
  s->release = release;
  s->release_ctx = ctx;
  return s;
}

static void storage_release(ct_storage *s) {
  if (!s) return;
  if (atomic_fetch_sub_explicit((_Atomic int *)&s->refcount, 1, memory_order_acq_rel) != 1)
    return;
  if (s->release)
    s->release(s->release_ctx, s->data);
  else
    ct_aligned_free(s->data);
  free(s);
}

static void no_release(void *ctx, void *data) {
  (void)ctx;
  (void)data;
}

ct_tensor *ct_tensor_empty(ct_dtype dt, int rank, const int64_t *shape) {
  if ((unsigned)dt >= CT_DT_COUNT || rank < 0 || rank > CT_MAX_RANK) return NULL;
  int64_t n = ct_contiguous_strides(rank, shape, NULL);
  size_t es = ct_dtype_size(dt);
  if (n < 0 || (uint64_t)n > SIZE_MAX / es) return NULL;
  size_t nbytes = (size_t)n * es;
  void *data = ct_aligned_alloc(nbytes);
  if (!data) return NULL;
  ct_storage *s = storage_new(data, nbytes, NULL, NULL);
  if (!s) {
    ct_aligned_free(data);
    return NULL;
  }
  ct_tensor *t = tensor_alloc(dt, rank, shape, s);
  if (!t) storage_release(s);
  return t;
}

ct_tensor *ct_tensor_zeros(ct_dtype dt, int rank, const int64_t *shape) {
  ct_tensor *t = ct_tensor_empty(dt, rank, shape);
  if (t) memset(t->storage->data, 0, t->storage->nbytes);
  return t;
}

ct_tensor *ct_tensor_wrap(ct_dtype dt, int rank, const int64_t *shape, void *data,
                          void (*release)(void *ctx, void *data), void *ctx) {
  if ((unsigned)dt >= CT_DT_COUNT || rank < 0 || rank > CT_MAX_RANK) return NULL;
  int64_t n = ct_contiguous_strides(rank, shape, NULL);
  if (n < 0) return NULL;
  ct_storage *s = storage_new(data, (size_t)n * ct_dtype_size(dt), release ? release : no_release,
                              ctx);
  if (!s) return NULL;
  ct_tensor *t = tensor_alloc(dt, rank, shape, s);
  if (!t) {
    s->release = no_release; /* the caller still owns data when we fail */
    storage_release(s);
  }
  return t;
}

ct_tensor *ct_tensor_view(ct_tensor *t, int rank, const int64_t *shape, const int64_t *strides,
                          int64_t offset) {
  if (rank < 0 || rank > CT_MAX_RANK) return NULL;
  ct_tensor *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->dtype = t->dtype;
  v->rank = rank;
  if (rank > 0) memcpy(v->shape, shape, (size_t)rank * sizeof *shape);
  if (rank > 0) memcpy(v->strides, strides, (size_t)rank * sizeof *strides);
  v->offset = offset;
  v->storage = t->storage;
  atomic_fetch_add_explicit((_Atomic int *)&t->storage->refcount, 1, memory_order_relaxed);
  v->refcount = 1;
  return v;
}

ct_tensor *ct_tensor_retain(ct_tensor *t) {
  if (t) atomic_fetch_add_explicit((_Atomic int *)&t->refcount, 1, memory_order_relaxed);
  return t;
}

void ct_tensor_release(ct_tensor *t) {
  if (!t) return;
  if (atomic_fetch_sub_explicit((_Atomic int *)&t->refcount, 1, memory_order_acq_rel) != 1) return;
  storage_release(t->storage);
  free(t);
}

int64_t ct_tensor_numel(const ct_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->shape[i];
  return n;
}

size_t ct_tensor_nbytes(const ct_tensor *t) {
  return (size_t)ct_tensor_numel(t) * ct_dtype_size(t->dtype);
}

int ct_tensor_is_contiguous(const ct_tensor *t) {
  int64_t expect = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->strides[i] != expect) return 0;
    expect *= t->shape[i];
  }
  return 1;
}

void *ct_tensor_data(const ct_tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)ct_dtype_size(t->dtype);
}

/* Storage offset (in elements) of the element at flat row-major index i. */
static int64_t elem_offset(const ct_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->rank - 1; d >= 0; d--) {
    int64_t n = t->shape[d];
    if (n == 0) return off;
    off += (i % n) * t->strides[d];
    i /= n;
  }
  return off;
}

static uint16_t f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
  return (uint16_t)(u >> 16);
}

static float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else { /* subnormal: normalize */
      exp = 127 - 15 + 1;
      while (!(man & 0x400u)) {
        man <<= 1;
        exp--;
      }
      u = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint16_t f32_to_f16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  int32_t exp = (int32_t)((u >> 23) & 0xffu) - 127 + 15;
  uint32_t man = u & 0x7fffffu;
  if (((u >> 23) & 0xffu) == 0xffu) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000u;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13);
  uint32_t rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
  return (uint16_t)half;
}

static double load(const void *base, ct_dtype dt, int64_t off) {
  switch (dt) {
  case CT_DT_F32: return ((const float *)base)[off];
  case CT_DT_F64: return ((const double *)base)[off];
  case CT_DT_F16: return f16_to_f32(((const uint16_t *)base)[off]);
  case CT_DT_BF16: return bf16_to_f32(((const uint16_t *)base)[off]);
  case CT_DT_I64: return (double)((const int64_t *)base)[off];
  case CT_DT_I32: return ((const int32_t *)base)[off];
  case CT_DT_BOOL: return ((const uint8_t *)base)[off] != 0;
  case CT_DT_U8: return ((const uint8_t *)base)[off];
  case CT_DT_COUNT: break;
  }
  return 0;
}

static void store(void *base, ct_dtype dt, int64_t off, double v) {
  switch (dt) {
  case CT_DT_F32: ((float *)base)[off] = (float)v; break;
  case CT_DT_F64: ((double *)base)[off] = v; break;
  case CT_DT_F16: ((uint16_t *)base)[off] = f32_to_f16((float)v); break;
  case CT_DT_BF16: ((uint16_t *)base)[off] = f32_to_bf16((float)v); break;
  case CT_DT_I64: ((int64_t *)base)[off] = (int64_t)v; break;
  case CT_DT_I32: ((int32_t *)base)[off] = (int32_t)v; break;
  case CT_DT_BOOL: ((uint8_t *)base)[off] = v != 0; break;
  case CT_DT_U8: ((uint8_t *)base)[off] = (uint8_t)v; break;
  case CT_DT_COUNT: break;
  }
}

double ct_tensor_get(const ct_tensor *t, int64_t flat_index) {
  return load(t->storage->data, t->dtype, elem_offset(t, flat_index));
}

void ct_tensor_set(ct_tensor *t, int64_t flat_index, double v) {
  store(t->storage->data, t->dtype, elem_offset(t, flat_index), v);
}

ct_status ct_tensor_copy_into(ct_tensor *dst, const ct_tensor *src) {
  if (dst->rank != src->rank) return CT_ERR_SHAPE;
  for (int i = 0; i < dst->rank; i++)
    if (dst->shape[i] != src->shape[i]) return CT_ERR_SHAPE;
  int64_t n = ct_tensor_numel(src);
  size_t es = ct_dtype_size(src->dtype);
  if (dst->dtype == src->dtype && ct_tensor_is_contiguous(dst) && ct_tensor_is_contiguous(src)) {
    if (n) memmove(ct_tensor_data(dst), ct_tensor_data(src), (size_t)n * es);
    return CT_OK;
  }
  if (dst->dtype == src->dtype && dst->dtype != CT_DT_BOOL) { /* strided copy, bit exact */
    char *db = dst->storage->data;
    const char *sb = src->storage->data;
    for (int64_t i = 0; i < n; i++)
      memcpy(db + elem_offset(dst, i) * (int64_t)es, sb + elem_offset(src, i) * (int64_t)es, es);
    return CT_OK;
  }
  for (int64_t i = 0; i < n; i++) ct_tensor_set(dst, i, ct_tensor_get(src, i));
  return CT_OK;
}

ct_tensor *ct_tensor_clone(const ct_tensor *t) {
  ct_tensor *c = ct_tensor_empty(t->dtype, t->rank, t->shape);
  if (c && ct_tensor_copy_into(c, t) != CT_OK) {
    ct_tensor_release(c);
    return NULL;
  }
  return c;
}

ct_tensor *ct_tensor_contiguous(ct_tensor *t) {
  if (ct_tensor_is_contiguous(t)) return ct_tensor_retain(t);
  return ct_tensor_clone(t);
}

void ct_tensor_describe(const ct_tensor *t, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "%s[", ct_dtype_name(t->dtype));
  for (int i = 0; i < t->rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)t->shape[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
}
