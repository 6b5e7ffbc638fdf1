/* frontend/lower_shape.c: lowering helpers shared by module calls, torch/F functions and
 * subscripts: view/reshape with -1, flatten, pooling with PyTorch's argument names,
 * adaptive average pooling. */
#include <stdio.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

/* view/reshape: resolves one -1 from the element count, keeping symbolic dims. */
ct_lower_val ct_lower_reshape(ct_lower *L, const ct_py_expr *x, ct_value *t, int n,
                              const ct_lower_val *dims) {
  ct_dim shape[CT_MAX_RANK], known = ct_dim_const(1), numel;
  int hole = -1;
  if (n > CT_MAX_RANK) return ERR(x, "too many dims");
  for (int i = 0; i < n; i++) {
    if (dims[i].kind != CT_LV_INT) return ERR(x, "view/reshape expects integer sizes");
    shape[i] = dims[i].i;
    if (ct_dim_is_const(shape[i]) && shape[i].off == -1) {
      if (hole >= 0) return ERR(x, "only one dimension can be -1");
      hole = i;
    } else if (!ct_dim_mul(known, shape[i], &known)) {
      return ERR(x, "unsupported symbolic shape in view/reshape");
    }
  }
  if (hole >= 0) {
    if (!ct_type_numel(&t->type, &numel) || !ct_dim_div(numel, known, &shape[hole])) {
      char ty[128];
      ct_type_format(L->m, &t->type, ty, sizeof ty);
      return ERR(x, "cannot infer the -1 dimension of view/reshape of %s", ty);
    }
  }
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build_reshape(&L->b, t, n, shape));
}

ct_lower_val ct_lower_flatten(ct_lower *L, const ct_py_expr *x, ct_value *t, int64_t start,
                              int64_t end) {
  int r = t->type.rank, s = ct_norm_dim(start, r), e = ct_norm_dim(end, r);
  if (r == 0) s = e = 0;
  if (s < 0 || e < 0 || s > e) return ERR(x, "flatten dims out of range");
  ct_dim shape[CT_MAX_RANK];
  int n = 0;
  for (int i = 0; i < s; i++)
    shape[n++] = t->type.dims[i];
  ct_dim p = ct_dim_const(1);
  for (int i = s; i <= e && i < r; i++)
    if (!ct_dim_mul(p, t->type.dims[i], &p)) return ERR(x, "unsupported symbolic shape in flatten");
  shape[n++] = p;
  for (int i = e + 1; i < r; i++)
    shape[n++] = t->type.dims[i];
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build_reshape(&L->b, t, n, shape));
}

const char *const ct_lower_max_pool_names[6] = {"kernel_size", "stride",         "padding",
                                                "dilation",    "return_indices", "ceil_mode"};
const char *const ct_lower_avg_pool_names[6] = {
    "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"};

bool ct_lower_pool_params(ct_lower *L, const ct_py_expr *call, const char *fname, bool max,
                          const ct_lower_val *a, const bool *h, ct_lower_mod *m) {
  if (!h[0]) return ERR(call, "%s needs kernel_size", fname), false;
  if (!ct_lower_as_pair(L, call, a[0], m->k)) return false;
  m->stride[0] = m->k[0], m->stride[1] = m->k[1];
  m->pad[0] = m->pad[1] = 0;
  m->dil[0] = m->dil[1] = 1;
  m->ceil_mode = false;
  m->count_include_pad = true;
  if (h[1] && a[1].kind != CT_LV_NONE && !ct_lower_as_pair(L, call, a[1], m->stride)) return false;
  if (h[2] && !ct_lower_as_pair(L, call, a[2], m->pad)) return false;
  if (max) {
    if (h[3] && !ct_lower_as_pair(L, call, a[3], m->dil)) return false;
    if (h[4] && ct_lower_truthy(a[4]))
      return ERR(call, "unsupported: %s(return_indices=True)", fname), false;
    if (h[5]) m->ceil_mode = ct_lower_truthy(a[5]);
  } else {
    if (h[3]) m->ceil_mode = ct_lower_truthy(a[3]);
    if (h[4]) m->count_include_pad = ct_lower_truthy(a[4]);
    if (h[5] && a[5].kind != CT_LV_NONE)
      return ERR(call, "unsupported: %s(divisor_override=...)", fname), false;
  }
  return true;
}

ct_lower_val ct_lower_pool(ct_lower *L, const ct_py_expr *x, bool max, ct_value *t,
                           const ct_lower_mod *m) {
  ct_attr at[5] = {ct_attr_ints("kernel_size", 2, m->k), ct_attr_ints("stride", 2, m->stride),
                   ct_attr_ints("padding", 2, m->pad), ct_attr_bool("ceil_mode", m->ceil_mode),
                   max ? ct_attr_ints("dilation", 2, m->dil)
                       : ct_attr_bool("count_include_pad", m->count_include_pad)};
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build(&L->b, max ? CT_OP_MAX_POOL2D : CT_OP_AVG_POOL2D, 1, &t, at, 5));
}

/* AdaptiveAvgPool2d: output 1x1 is a mean over H and W; an output size that divides the input
 * is an avg_pool2d with kernel = stride = input / output. Other sizes have overlapping,
 * uneven windows and are not supported. */
ct_lower_val ct_lower_adaptive_avg_pool(ct_lower *L, const ct_py_expr *x, ct_value *t,
                                        const int64_t out[2]) {
  const ct_type *ty = &t->type;
  if (ty->rank != 4 && ty->rank != 3) {
    char s[128];
    ct_type_format(L->m, ty, s, sizeof s);
    return ERR(x, "adaptive_avg_pool2d expects a rank-3 or rank-4 input, got %s", s);
  }
  ct_dim h = ty->dims[ty->rank - 2], w = ty->dims[ty->rank - 1];
  if (out[0] == 1 && out[1] == 1) {
    int64_t dims[2] = {ty->rank - 2, ty->rank - 1};
    ct_lower_set_loc(L, x);
    return ct_lower_tensor(ct_build_reduce(&L->b, CT_OP_MEAN, t, 2, dims, true));
  }
  if (!ct_dim_is_const(h) || !ct_dim_is_const(w) || out[0] < 1 || out[1] < 1 || h.off % out[0] ||
      w.off % out[1]) {
    char s[128];
    ct_type_format(L->m, ty, s, sizeof s);
    return ERR(x,
               "unsupported: adaptive_avg_pool2d to (%lld, %lld) from %s; supported: output "
               "(1, 1) or sizes that divide the input",
               (long long)out[0], (long long)out[1], s);
  }
  ct_lower_mod m = {0};
  m.k[0] = m.stride[0] = h.off / out[0];
  m.k[1] = m.stride[1] = w.off / out[1];
  m.count_include_pad = true;
  return ct_lower_pool(L, x, false, t, &m);
}
