/* runtime/kernels/dropout.c: dropout (the identity: its inference meaning; training graphs
 * multiply by a dropout_mask instead) and dropout_mask, a counter-based Bernoulli mask: element
 * i keeps 1/(1-p) when splitmix64(seed, step, i) maps to a uniform >= p, else 0. The mask is a
 * pure function of (seed, step, i), so every backend and thread order draws the same one. */
#include <stdlib.h>

#include "kernels_internal.h"

ct_status ct_kernel_DROPOUT(CT_KERNEL_ARGS) {
  (void)attrs, (void)n_attrs;
  if (n_in != 1 || n_out != 1 || !in[0] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "dropout: expected 1 input, 1 output");
  ct_status st = ct_tensor_copy_into(out[0], in[0]);
  if (st != CT_OK) return ct_kernel_fail(err, err_size, st, "dropout: output has the wrong shape");
  return CT_OK;
}

static uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

ct_status ct_kernel_DROPOUT_MASK(CT_KERNEL_ARGS) {
  if (n_in != 1 || n_out != 1 || !in[0] || !out[0] || in[0]->rank != 0)
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "dropout_mask: expected a scalar step operand and 1 output");
  ct_tensor *y = out[0];
  if ((y->dtype != CT_DT_F32 && y->dtype != CT_DT_F64) || !ct_tensor_is_contiguous(y))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "dropout_mask: the output must be a contiguous f32 or f64 tensor");
  double p = ct_attr_get_float(attrs, n_attrs, "p", 0.5);
  if (!(p >= 0.0 && p < 1.0))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "dropout_mask: p must be in [0, 1)");
  uint64_t seed = (uint64_t)ct_attr_get_int(attrs, n_attrs, "seed", 0);
  double step = ct_tensor_get(in[0], 0);
  if (!(step > -9e18 && step < 9e18)) step = 0; /* NaN or out of range: no cast UB */
  uint64_t key = mix(mix(seed) ^ (uint64_t)(int64_t)step);
  double keep = 1.0 / (1.0 - p);
  int64_t n = ct_tensor_numel(y);
  for (int64_t i = 0; i < n; i++) {
    double u = (double)(mix(key ^ mix((uint64_t)i)) >> 11) * 0x1.0p-53;
    double v = u < p ? 0.0 : keep;
    if (y->dtype == CT_DT_F32)
      ((float *)ct_tensor_data(y))[i] = (float)v;
    else
      ((double *)ct_tensor_data(y))[i] = v;
  }
  return CT_OK;
}
