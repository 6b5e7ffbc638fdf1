/* runtime/kernels/shape_ops.c: CPU kernels of the shape ops (reshape, permute, expand, concat,
 * slice, slice_grad). Each is a strided copy (ct_copy_strided) from a view of the input into the
 * contiguous result, so they work for any dtype and any input strides. */
#include <string.h>

#include "kernels_internal.h"

static ct_status check_io(const char *name, int n_in, int n_out, ct_tensor *const *in,
                          ct_tensor *const *out, char *err, size_t err_size) {
  if (n_in < 1 || n_out != 1 || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: expected operands and 1 result", name);
  for (int k = 0; k < n_in; k++)
    if (!in[k]) return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: missing operand %d", name, k);
  if (!ct_tensor_is_contiguous(out[0]))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: result must be contiguous", name);
  for (int k = 0; k < n_in; k++)
    if (in[k]->dtype != out[0]->dtype)
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: operand %d dtype %s differs from the result's %s",
                            name, k, ct_dtype_name(in[k]->dtype), ct_dtype_name(out[0]->dtype));
  return CT_OK;
}

static ct_status shape_err(const char *name, const ct_tensor *x, const ct_tensor *o, char *err,
                           size_t err_size) {
  char a[96], b[96];
  ct_tensor_describe(x, a, sizeof a);
  ct_tensor_describe(o, b, sizeof b);
  return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: result %s does not fit operand %s", name, b, a);
}

/* Checks a `shape:dims` attribute, when present and concrete, against the result's shape. */
static ct_status check_shape_attr(const char *name, const ct_attr *attrs, int n_attrs,
                                  const ct_tensor *o, char *err, size_t err_size) {
  const ct_attr *a = ct_attr_find(attrs, n_attrs, "shape");
  if (!a || a->kind != CT_ATTR_DIMS) return CT_OK;
  if (a->n != o->rank)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: shape attribute has rank %d, result %d",
                          name, a->n, o->rank);
  for (int d = 0; d < a->n; d++)
    if (ct_dim_is_const(a->u.dims[d]) && a->u.dims[d].off != o->shape[d])
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: shape attribute dim %d is %lld, result %lld",
                            name, d, (long long)a->u.dims[d].off, (long long)o->shape[d]);
  return CT_OK;
}

static ct_status norm_dim(const char *name, int64_t d, int rank, int *out, char *err,
                          size_t err_size) {
  if (rank == 0 || d < -rank || d >= rank)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: dim %lld out of range for rank %d", name,
                          (long long)d, rank);
  *out = (int)(d < 0 ? d + rank : d);
  return CT_OK;
}

ct_status ct_kernel_RESHAPE(CT_KERNEL_ARGS) {
  ct_status st = check_io("reshape", n_in, n_out, in, out, err, err_size);
  if (st) return st;
  if (n_in != 1) return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "reshape: expected 1 operand");
  ct_tensor *x = in[0], *o = out[0];
  if ((st = check_shape_attr("reshape", attrs, n_attrs, o, err, err_size))) return st;
  if (ct_tensor_numel(x) != ct_tensor_numel(o)) return shape_err("reshape", x, o, err, err_size);
  size_t es = ct_dtype_size(x->dtype);
  if (ct_tensor_is_contiguous(x)) {
    size_t nb = (size_t)ct_tensor_numel(x) * es;
    if (nb) memmove(ct_tensor_data(o), ct_tensor_data(x), nb);
    return CT_OK;
  }
  int64_t cs[CT_MAX_RANK];
  ct_contiguous_strides(x->rank, x->shape, cs);
  ct_copy_strided(x->rank, x->shape, ct_tensor_data(o), cs, ct_tensor_data(x), x->strides, es);
  return CT_OK;
}

ct_status ct_kernel_PERMUTE(CT_KERNEL_ARGS) {
  ct_status st = check_io("permute", n_in, n_out, in, out, err, err_size);
  if (st) return st;
  if (n_in != 1) return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "permute: expected 1 operand");
  ct_tensor *x = in[0], *o = out[0];
  int64_t dims[CT_MAX_RANK + 1];
  int nd = ct_attr_get_ints(attrs, n_attrs, "dims", dims, CT_MAX_RANK + 1);
  if (nd < 0) nd = 0;
  if (nd != x->rank || o->rank != x->rank)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "permute: dims has %d entries for rank %d", nd,
                          x->rank);
  int seen[CT_MAX_RANK] = {0};
  int64_t ss[CT_MAX_RANK], os[CT_MAX_RANK];
  for (int i = 0; i < nd; i++) {
    int d = 0;
    if ((st = norm_dim("permute", dims[i], x->rank, &d, err, err_size))) return st;
    if (seen[d]) return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "permute: dim %d repeated", d);
    seen[d] = 1;
    if (o->shape[i] != x->shape[d]) return shape_err("permute", x, o, err, err_size);
    ss[i] = x->strides[d];
  }
  ct_contiguous_strides(o->rank, o->shape, os);
  ct_copy_strided(o->rank, o->shape, ct_tensor_data(o), os, ct_tensor_data(x), ss,
                  ct_dtype_size(x->dtype));
  return CT_OK;
}

ct_status ct_kernel_EXPAND(CT_KERNEL_ARGS) {
  ct_status st = check_io("expand", n_in, n_out, in, out, err, err_size);
  if (st) return st;
  if (n_in != 1) return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "expand: expected 1 operand");
  ct_tensor *x = in[0], *o = out[0];
  if ((st = check_shape_attr("expand", attrs, n_attrs, o, err, err_size))) return st;
  int64_t ss[CT_MAX_RANK], os[CT_MAX_RANK];
  if (ct_bcast_strides(x, o->rank, o->shape, ss) != 0) return shape_err("expand", x, o, err, err_size);
  ct_contiguous_strides(o->rank, o->shape, os);
  ct_copy_strided(o->rank, o->shape, ct_tensor_data(o), os, ct_tensor_data(x), ss,
                  ct_dtype_size(x->dtype));
  return CT_OK;
}

ct_status ct_kernel_CONCAT(CT_KERNEL_ARGS) {
  ct_status st = check_io("concat", n_in, n_out, in, out, err, err_size);
  if (st) return st;
  ct_tensor *o = out[0];
  int d = 0;
  if ((st = norm_dim("concat", ct_attr_get_int(attrs, n_attrs, "dim", 0), o->rank, &d, err, err_size)))
    return st;
  int64_t total = 0;
  for (int k = 0; k < n_in; k++) {
    const ct_tensor *x = in[k];
    if (x->rank != o->rank) return shape_err("concat", x, o, err, err_size);
    for (int i = 0; i < o->rank; i++)
      if (i != d && x->shape[i] != o->shape[i]) return shape_err("concat", x, o, err, err_size);
    total += x->shape[d];
  }
  if (total != o->shape[d])
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "concat: operands sum to %lld along dim %d, result has %lld",
                          (long long)total, d, (long long)o->shape[d]);
  int64_t os[CT_MAX_RANK];
  ct_contiguous_strides(o->rank, o->shape, os);
  size_t es = ct_dtype_size(o->dtype);
  char *ob = ct_tensor_data(o);
  int64_t at = 0;
  for (int k = 0; k < n_in; k++) {
    const ct_tensor *x = in[k];
    ct_copy_strided(x->rank, x->shape, ob + at * os[d] * (int64_t)es, os, ct_tensor_data(x),
                    x->strides, es);
    at += x->shape[d];
  }
  return CT_OK;
}

typedef struct slice_spec {
  int dim;
  int64_t start, len, step;
} slice_spec;

/* Resolves dim/start/end/step (Python rules) against a dim of the given rank and shape. */
static ct_status resolve_slice(const char *name, const ct_attr *attrs, int n_attrs, int rank,
                               const int64_t *shape, slice_spec *s, char *err, size_t err_size) {
  ct_status st = norm_dim(name, ct_attr_get_int(attrs, n_attrs, "dim", 0), rank, &s->dim, err, err_size);
  if (st) return st;
  int64_t size = shape[s->dim];
  int64_t start = ct_attr_get_int(attrs, n_attrs, "start", 0);
  int64_t end = ct_attr_get_int(attrs, n_attrs, "end", INT64_MAX);
  int64_t step = ct_attr_get_int(attrs, n_attrs, "step", 1);
  if (step < 1) return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: step %lld must be >= 1", name, (long long)step);
  if (start < 0) start = start < -size ? 0 : start + size;
  if (start > size) start = size;
  if (end < 0) end = end < -size ? 0 : end + size;
  if (end > size) end = size;
  s->start = start;
  s->step = step;
  s->len = end > start ? (end - start - 1) / step + 1 : 0;
  return CT_OK;
}

ct_status ct_kernel_SLICE(CT_KERNEL_ARGS) {
  ct_status st = check_io("slice", n_in, n_out, in, out, err, err_size);
  if (st) return st;
  if (n_in != 1) return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "slice: expected 1 operand");
  ct_tensor *x = in[0], *o = out[0];
  slice_spec s;
  if ((st = resolve_slice("slice", attrs, n_attrs, x->rank, x->shape, &s, err, err_size))) return st;
  int64_t vs[CT_MAX_RANK], vst[CT_MAX_RANK], os[CT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    vs[i] = x->shape[i];
    vst[i] = x->strides[i];
  }
  vs[s.dim] = s.len;
  vst[s.dim] = x->strides[s.dim] * s.step;
  if (!ct_shape_is(o, x->rank, vs)) return shape_err("slice", x, o, err, err_size);
  size_t es = ct_dtype_size(x->dtype);
  const char *src = (const char *)ct_tensor_data(x) + (s.len ? s.start * x->strides[s.dim] * (int64_t)es : 0);
  ct_contiguous_strides(o->rank, o->shape, os);
  ct_copy_strided(o->rank, o->shape, ct_tensor_data(o), os, src, vst, es);
  return CT_OK;
}

ct_status ct_kernel_SLICE_GRAD(CT_KERNEL_ARGS) {
  ct_status st = check_io("slice_grad", n_in, n_out, in, out, err, err_size);
  if (st) return st;
  if (n_in != 1) return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "slice_grad: expected 1 operand");
  ct_tensor *g = in[0], *o = out[0];
  if ((st = check_shape_attr("slice_grad", attrs, n_attrs, o, err, err_size))) return st;
  slice_spec s;
  if ((st = resolve_slice("slice_grad", attrs, n_attrs, o->rank, o->shape, &s, err, err_size))) return st;
  int64_t vs[CT_MAX_RANK], os[CT_MAX_RANK], dst[CT_MAX_RANK];
  ct_contiguous_strides(o->rank, o->shape, os);
  for (int i = 0; i < o->rank; i++) {
    vs[i] = o->shape[i];
    dst[i] = os[i];
  }
  vs[s.dim] = s.len;
  dst[s.dim] = os[s.dim] * s.step;
  if (!ct_shape_is(g, o->rank, vs)) return shape_err("slice_grad", g, o, err, err_size);
  size_t es = ct_dtype_size(o->dtype);
  memset(ct_tensor_data(o), 0, ct_tensor_nbytes(o));
  char *db = (char *)ct_tensor_data(o) + (s.len ? s.start * os[s.dim] * (int64_t)es : 0);
  ct_copy_strided(g->rank, g->shape, db, dst, ct_tensor_data(g), g->strides, es);
  return CT_OK;
}
