/* frontend/lower_index.c: subscripts. On tensors, basic indexing as PyTorch does it: integers
 * (negative from the end), slices with steps, `...` and None, lowered to slice nodes and one
 * reshape that drops the indexed dims and inserts the new ones. Tuples (x.shape[1:]) and
 * nn.Sequential / nn.ModuleList index at compile time. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

/* The end-of-dimension sentinel of the slice op's `end` attribute (ir/shape.c). */
#define SLICE_TO_END INT64_MAX

ct_lower_val ct_lower_slice(ct_lower *L, const ct_py_expr *x, ct_value *t, int dim, int64_t start,
                            int64_t end, int64_t step) {
  ct_attr at[4] = {ct_attr_int("dim", dim), ct_attr_int("start", start), ct_attr_int("end", end),
                   ct_attr_int("step", step)};
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build(&L->b, CT_OP_SLICE, 1, &t, at, 4));
}

/* A slice bound: None, or a constant integer. */
static bool bound(ct_lower *L, ct_lower_env *e, const ct_py_expr *b, int64_t dflt, int64_t *out) {
  if (!b) {
    *out = dflt;
    return true;
  }
  ct_lower_val v = ct_lower_eval(L, e, b);
  if (v.kind == CT_LV_NONE) {
    *out = dflt;
    return true;
  }
  if (v.kind == CT_LV_INT && !ct_dim_is_const(v.i)) {
    ERR(b, "unsupported: a slice bound that is a symbolic size; supported: constant bounds");
    return false;
  }
  return ct_lower_as_int(L, b, v, out);
}

static bool slice_parts(ct_lower *L, ct_lower_env *e, const ct_py_expr *s, int64_t *lo, int64_t *hi,
                        int64_t *step) {
  if (!bound(L, e, s->u.slice.step, 1, step)) return false;
  if (*step < 1) {
    ERR(s->u.slice.step ? s->u.slice.step : s,
        "unsupported: slice step %lld; supported: steps >= 1", (long long)*step);
    return false;
  }
  return bound(L, e, s->u.slice.lo, 0, lo) && bound(L, e, s->u.slice.hi, SLICE_TO_END, hi);
}

static ct_lower_val index_tensor(ct_lower *L, ct_lower_env *e, const ct_py_expr *x, ct_value *t) {
  const ct_py_expr *ix = x->u.sub.index;
  const ct_py_expr *const *items = &ix;
  int n = 1;
  if (ix->kind == CT_PY_TUPLE && !ix->parenthesized) {
    items = (const ct_py_expr *const *)ix->u.elts.items;
    n = ix->u.elts.n;
  }
  int rank = t->type.rank, consumed = 0, ellipsis = -1;
  for (int i = 0; i < n; i++) {
    if (items[i]->kind == CT_PY_ELLIPSIS) {
      if (ellipsis >= 0) return ERR(items[i], "an index can only have a single ellipsis ('...')");
      ellipsis = i;
    } else if (items[i]->kind != CT_PY_NONE) {
      consumed++;
    }
  }
  if (consumed > rank)
    return ERR(x, "too many indices for a tensor of rank %d: %d were given", rank, consumed);
  if (rank + (n - consumed - (ellipsis >= 0)) > CT_MAX_RANK)
    return ERR(x, "result rank exceeds %d", CT_MAX_RANK);
  /* Walk the index items against the input dims; out_dims collects the result shape. */
  ct_dim out_dims[CT_MAX_RANK];
  int n_out = 0, d = 0;
  bool reshaped = false;
  ct_value *cur = t;
  for (int i = 0; i < n; i++) {
    const ct_py_expr *it = items[i];
    if (it->kind == CT_PY_ELLIPSIS) {
      for (int k = 0; k < rank - consumed; k++, d++)
        out_dims[n_out++] = cur->type.dims[d];
      continue;
    }
    if (it->kind == CT_PY_NONE) {
      if (n_out == CT_MAX_RANK) return ERR(it, "result rank exceeds %d", CT_MAX_RANK);
      out_dims[n_out++] = ct_dim_const(1);
      reshaped = true;
      continue;
    }
    if (it->kind == CT_PY_SLICE) {
      int64_t lo, hi, step;
      if (!slice_parts(L, e, it, &lo, &hi, &step)) return ct_lower_err_val();
      ct_dim size = cur->type.dims[d];
      if (ct_dim_is_const(size)) {
        /* Python's clamping, so the IR says [start, end) within the dim. */
        int64_t len = size.off;
        if (lo < 0) lo = lo + len < 0 ? 0 : lo + len;
        if (hi == SLICE_TO_END || hi > len)
          hi = len;
        else if (hi < 0)
          hi = hi + len < 0 ? 0 : hi + len;
        if (lo > len) lo = len;
        if (hi < lo) hi = lo;
      }
      if (!(lo == 0 && (hi == SLICE_TO_END || (ct_dim_is_const(size) && hi == size.off)) &&
            step == 1)) {
        ct_lower_val s = ct_lower_slice(L, it, cur, d, lo, hi, step);
        if (s.kind == CT_LV_ERR) return s;
        cur = s.t;
      }
      out_dims[n_out++] = cur->type.dims[d++];
      continue;
    }
    ct_lower_val v = ct_lower_eval(L, e, it);
    if (v.kind == CT_LV_ERR) return v;
    if (v.kind == CT_LV_TENSOR)
      return ERR(it, "unsupported: indexing with a tensor (advanced indexing); supported: "
                     "integers, slices, '...', None");
    int64_t k;
    if (v.kind == CT_LV_INT && !ct_dim_is_const(v.i))
      return ERR(it, "unsupported: an index that is a symbolic size; supported: constants");
    if (!ct_lower_as_int(L, it, v, &k)) return ct_lower_err_val();
    ct_dim size = cur->type.dims[d];
    if (ct_dim_is_const(size) && (k >= size.off || k < -size.off))
      return ERR(it, "index %lld is out of bounds for dimension %d with size %lld", (long long)k, d,
                 (long long)size.off);
    if (ct_dim_is_const(size) && k < 0) k += size.off;
    ct_lower_val s = ct_lower_slice(L, it, cur, d, k, k == -1 ? SLICE_TO_END : k + 1, 1);
    if (s.kind == CT_LV_ERR) return s;
    cur = s.t;
    d++;
    reshaped = true;
  }
  for (; d < rank; d++)
    out_dims[n_out++] = cur->type.dims[d];
  if (!reshaped) return ct_lower_tensor(cur);
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build_reshape(&L->b, cur, n_out, out_dims));
}

static ct_lower_val index_tuple(ct_lower *L, ct_lower_env *e, const ct_py_expr *x, ct_lower_val o) {
  const ct_py_expr *ix = x->u.sub.index;
  if (ix->kind == CT_PY_SLICE) {
    int64_t lo, hi, step;
    if (!slice_parts(L, e, ix, &lo, &hi, &step)) return ct_lower_err_val();
    if (lo < 0) lo += o.n;
    if (hi != SLICE_TO_END && hi < 0) hi += o.n;
    if (lo < 0) lo = 0;
    if (hi > o.n) hi = o.n;
    int n = hi > lo ? (int)((hi - lo + step - 1) / step) : 0;
    ct_lower_val t = ct_lower_tuple(L, n);
    for (int i = 0; i < n; i++)
      t.elts[i] = o.elts[lo + i * step];
    return t;
  }
  int64_t k;
  ct_lower_val i = ct_lower_eval(L, e, ix);
  if (!ct_lower_as_int(L, ix, i, &k)) return ct_lower_err_val();
  if (k < 0) k += o.n;
  if (k < 0 || k >= o.n) return ERR(x, "index %lld out of range", (long long)k);
  return o.elts[k];
}

ct_lower_val ct_lower_subscript(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  ct_lower_val o = ct_lower_eval(L, e, x->u.sub.value);
  if (o.kind == CT_LV_ERR) return o;
  if (o.kind == CT_LV_TENSOR) return index_tensor(L, e, x, o.t);
  if (o.kind == CT_LV_TUPLE) return index_tuple(L, e, x, o);
  if (o.kind == CT_LV_MODULE && (o.mod->kind == CT_LM_SEQ || o.mod->kind == CT_LM_LIST)) {
    ct_lower_val items;
    if (!ct_lower_iter_items(L, x, o, &items)) return ct_lower_err_val();
    if (x->u.sub.index->kind == CT_PY_SLICE)
      return ERR(x, "unsupported: slicing a %s; supported: integer indices", o.mod->type_name);
    return index_tuple(L, e, x, items);
  }
  return ERR(x,
             "unsupported subscript: %s[...]; supported: tensor[...] (integers, slices, '...', "
             "None), tuple[i], x.shape[i], Sequential[i], ModuleList[i]",
             ct_lower_kind_name(o.kind));
}
