/* runtime/kernels/embedding.c: embedding (row gather, an index outside [0, V) is an error) and
 * embedding_grad (scatter-add of gy rows into [num_weights, D], accumulated in double; the
 * padding_idx row stays 0). */
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

static int is_float(ct_dtype dt) { return dt == CT_DT_F32 || dt == CT_DT_F64; }

/* The indices as int64 (malloc'd), checked against [0, V); NULL and a message on failure. */
static int64_t *load_indices(ct_tensor *idx, int64_t V, const char *op, char *err,
                             size_t err_size, ct_status *st) {
  int64_t n = ct_tensor_numel(idx);
  int64_t *out = malloc((size_t)n * sizeof(int64_t) + 1);
  ct_tensor *c = out ? ct_tensor_contiguous(idx) : NULL;
  if (!c) {
    free(out);
    *st = ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  if (c->dtype == CT_DT_I64) {
    memcpy(out, ct_tensor_data(c), (size_t)n * sizeof(int64_t));
  } else {
    const int32_t *s = ct_tensor_data(c);
    for (int64_t i = 0; i < n; i++) out[i] = s[i];
  }
  ct_tensor_release(c);
  for (int64_t i = 0; i < n; i++)
    if (out[i] < 0 || out[i] >= V) {
      *st = ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                           "%s: index %lld is out of range for %lld rows", op,
                           (long long)out[i], (long long)V);
      free(out);
      return NULL;
    }
  return out;
}

ct_status ct_kernel_EMBEDDING(CT_KERNEL_ARGS) {
  if (n_in != 2 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "embedding: expected 2 inputs, 1 output");
  const ct_tensor *idx = in[0], *w = in[1];
  ct_tensor *y = out[0];
  if (idx->dtype != CT_DT_I64 && idx->dtype != CT_DT_I32)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "embedding: indices must be i64 or i32");
  if (!is_float(w->dtype) || w->rank != 2)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "embedding: weight must be f32/f64 [V,D]");
  if (idx->rank + 1 > CT_MAX_RANK)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "embedding: indices rank too large");
  int64_t V = w->shape[0], D = w->shape[1];
  int64_t ys[CT_MAX_RANK];
  for (int i = 0; i < idx->rank; i++) ys[i] = idx->shape[i];
  ys[idx->rank] = D;
  if (y->dtype != w->dtype || !ct_shape_is(y, idx->rank + 1, ys) || !ct_tensor_is_contiguous(y))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "embedding: output has the wrong shape");
  ct_status st = CT_OK;
  int64_t *ix = load_indices(in[0], V, "embedding", err, err_size, &st);
  if (!ix) return st;
  ct_tensor *wc = ct_tensor_contiguous(in[1]);
  if (!wc) {
    free(ix);
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "embedding: out of memory");
  }
  size_t row = (size_t)D * ct_dtype_size(w->dtype);
  const char *src = ct_tensor_data(wc);
  char *dst = ct_tensor_data(y);
  int64_t n = ct_tensor_numel(idx);
  for (int64_t i = 0; i < n; i++)
    if (row) memcpy(dst + (size_t)i * row, src + (size_t)ix[i] * row, row);
  ct_tensor_release(wc);
  free(ix);
  return CT_OK;
}

ct_status ct_kernel_EMBEDDING_GRAD(CT_KERNEL_ARGS) {
  if (n_in != 2 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "embedding_grad: expected 2 inputs, 1 output");
  const ct_tensor *gy = in[0], *idx = in[1];
  ct_tensor *gw = out[0];
  if (idx->dtype != CT_DT_I64 && idx->dtype != CT_DT_I32)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "embedding_grad: indices must be i64 or i32");
  if (!is_float(gy->dtype))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "embedding_grad: gy must be f32 or f64");
  if (gy->rank != idx->rank + 1)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "embedding_grad: gy must be [indices..., D]");
  for (int i = 0; i < idx->rank; i++)
    if (gy->shape[i] != idx->shape[i])
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "embedding_grad: gy's leading dims differ from the indices'");
  int64_t V = ct_attr_get_int(attrs, n_attrs, "num_weights", -1);
  int64_t pad = ct_attr_get_int(attrs, n_attrs, "padding_idx", -1);
  int64_t D = gy->shape[gy->rank - 1];
  int64_t gs[2] = {V, D};
  if (V < 0 || gw->dtype != gy->dtype || !ct_shape_is(gw, 2, gs) || !ct_tensor_is_contiguous(gw))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "embedding_grad: output must be [num_weights, D]");
  ct_status st = CT_OK;
  int64_t *ix = load_indices(in[1], V, "embedding_grad", err, err_size, &st);
  if (!ix) return st;
  ct_tensor *gc = ct_tensor_contiguous(in[0]);
  double *acc = calloc((size_t)(V * D) + 1, sizeof(double));
  if (!gc || !acc) {
    ct_tensor_release(gc);
    free(acc);
    free(ix);
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "embedding_grad: out of memory");
  }
  int64_t n = ct_tensor_numel(idx);
  int f32 = gy->dtype == CT_DT_F32;
  const float *gf = ct_tensor_data(gc);
  const double *gd = ct_tensor_data(gc);
  for (int64_t i = 0; i < n; i++) {
    if (ix[i] == pad) continue;
    double *r = acc + ix[i] * D;
    for (int64_t j = 0; j < D; j++) r[j] += f32 ? (double)gf[i * D + j] : gd[i * D + j];
  }
  if (f32) {
    float *o = ct_tensor_data(gw);
    for (int64_t i = 0; i < V * D; i++) o[i] = (float)acc[i];
  } else {
    memcpy(ct_tensor_data(gw), acc, (size_t)(V * D) * sizeof(double));
  }
  ct_tensor_release(gc);
  free(acc);
  free(ix);
  return CT_OK;
}
