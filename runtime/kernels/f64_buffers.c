/* runtime/kernels/f64_buffers.c: contiguous float64 working copies of tensors, for the library
 * kernels (conv, pooling, normalization) that compute in double and round once on the way out. */
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

/* A contiguous f64 copy of t's elements (malloc'd), or NULL when out of memory. */
double *ct_k_load_f64(ct_tensor *t) {
  int64_t n = ct_tensor_numel(t);
  double *buf = malloc((size_t)n * sizeof(double) + 1);
  if (!buf) return NULL;
  ct_tensor *c = ct_tensor_contiguous(t);
  if (!c) {
    free(buf);
    return NULL;
  }
  if (c->dtype == CT_DT_F32) {
    const float *s = ct_tensor_data(c);
    for (int64_t i = 0; i < n; i++) buf[i] = s[i];
  } else {
    memcpy(buf, ct_tensor_data(c), (size_t)n * sizeof(double));
  }
  ct_tensor_release(c);
  return buf;
}

void ct_k_store_f64(ct_tensor *y, const double *v) {
  int64_t n = ct_tensor_numel(y);
  if (y->dtype == CT_DT_F32) {
    float *d = ct_tensor_data(y);
    for (int64_t i = 0; i < n; i++) d[i] = (float)v[i];
  } else {
    memcpy(ct_tensor_data(y), v, (size_t)n * sizeof(double));
  }
}
