/* runtime/kernels/norm.c: batch_norm (inference form, over channel dim 1) and layer_norm (over
 * the last len(normalized_shape) dims, biased variance). Computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

static int is_float(ct_dtype dt) { return dt == CT_DT_F32 || dt == CT_DT_F64; }

static int same_out(const ct_tensor *y, const ct_tensor *x) {
  return y->dtype == x->dtype && ct_shape_is(y, x->rank, x->shape) && ct_tensor_is_contiguous(y);
}

ct_status ct_kernel_BATCH_NORM(CT_KERNEL_ARGS) {
  if (n_in != 5 || n_out != 1 || !in[0] || !in[3] || !in[4] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "batch_norm: expected 5 inputs, 1 output");
  const ct_tensor *x = in[0];
  if (!is_float(x->dtype))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "batch_norm: x must be f32 or f64");
  if (x->rank < 2)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "batch_norm: x must be [N,C,...]");
  int64_t C = x->shape[1];
  for (int i = 1; i < 5; i++) {
    const ct_tensor *p = in[i];
    if (!p) continue; /* weight or bias absent */
    if (p->dtype != x->dtype || p->rank != 1 || p->shape[0] != C)
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "batch_norm: operand %d must be [%lld] of x's dtype", i,
                            (long long)C);
  }
  if (!same_out(out[0], x))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "batch_norm: output has the wrong shape");
  double eps = ct_attr_get_float(attrs, n_attrs, "eps", 1e-5);
  int64_t N = x->shape[0], inner = 1;
  for (int i = 2; i < x->rank; i++) inner *= x->shape[i];
  double *xd = ct_k_load_f64(in[0]);
  double *w = in[1] ? ct_k_load_f64(in[1]) : NULL, *b = in[2] ? ct_k_load_f64(in[2]) : NULL;
  double *rm = ct_k_load_f64(in[3]), *rv = ct_k_load_f64(in[4]);
  ct_status st = CT_OK;
  if (!xd || (in[1] && !w) || (in[2] && !b) || !rm || !rv) {
    st = ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "batch_norm: out of memory");
    goto done;
  }
  for (int64_t c = 0; c < C; c++) {
    double scale = (w ? w[c] : 1.0) / sqrt(rv[c] + eps);
    double shift = (b ? b[c] : 0.0) - rm[c] * scale;
    for (int64_t n = 0; n < N; n++) {
      double *row = xd + (n * C + c) * inner;
      for (int64_t i = 0; i < inner; i++) row[i] = row[i] * scale + shift;
    }
  }
  ct_k_store_f64(out[0], xd);
done:
  free(xd);
  free(w);
  free(b);
  free(rm);
  free(rv);
  return st;
}

ct_status ct_kernel_LAYER_NORM(CT_KERNEL_ARGS) {
  if (n_in < 1 || n_in > 3 || n_out != 1 || !in[0] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "layer_norm: expected 1-3 inputs, 1 output");
  const ct_tensor *x = in[0];
  const ct_tensor *wt = n_in >= 2 ? in[1] : NULL, *bt = n_in >= 3 ? in[2] : NULL;
  if (!is_float(x->dtype))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "layer_norm: x must be f32 or f64");
  int64_t ns[CT_MAX_RANK];
  int k = ct_attr_get_ints(attrs, n_attrs, "normalized_shape", ns, CT_MAX_RANK);
  if (k < 1 || k > x->rank)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "layer_norm: normalized_shape must have 1..rank(x) dims");
  int64_t inner = 1;
  for (int i = 0; i < k; i++) {
    if (x->shape[x->rank - k + i] != ns[i])
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "layer_norm: x's trailing dims do not match normalized_shape");
    inner *= ns[i];
  }
  const ct_tensor *params[2] = {wt, bt};
  for (int i = 0; i < 2; i++)
    if (params[i] && (params[i]->dtype != x->dtype || !ct_shape_is(params[i], k, ns)))
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "layer_norm: %s must have normalized_shape and x's dtype",
                            i ? "bias" : "weight");
  if (!same_out(out[0], x))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "layer_norm: output has the wrong shape");
  double eps = ct_attr_get_float(attrs, n_attrs, "eps", 1e-5);
  int64_t outer = inner ? ct_tensor_numel(x) / inner : 0;
  double *xd = ct_k_load_f64(in[0]);
  double *w = wt ? ct_k_load_f64(in[1]) : NULL, *b = bt ? ct_k_load_f64(in[2]) : NULL;
  ct_status st = CT_OK;
  if (!xd || (wt && !w) || (bt && !b)) {
    st = ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "layer_norm: out of memory");
    goto done;
  }
  for (int64_t r = 0; r < outer; r++) {
    double *row = xd + r * inner;
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < inner; i++) mean += row[i];
    mean /= (double)inner;
    for (int64_t i = 0; i < inner; i++) var += (row[i] - mean) * (row[i] - mean);
    var /= (double)inner;
    double rstd = 1.0 / sqrt(var + eps);
    for (int64_t i = 0; i < inner; i++) {
      double v = (row[i] - mean) * rstd;
      if (w) v *= w[i];
      if (b) v += b[i];
      row[i] = v;
    }
  }
  ct_k_store_f64(out[0], xd);
done:
  free(xd);
  free(w);
  free(b);
  return st;
}
