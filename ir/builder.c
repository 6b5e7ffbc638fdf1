/* ir/builder.c: building nodes with inferred result types at an insertion point; the helpers
 * the frontend, autodiff and passes use to write IR. */
#include <string.h>

#include "ir.h"

ct_builder ct_builder_at_end(ct_module *m, ct_block *b, ct_diag *diag) {
  ct_builder bld;
  memset(&bld, 0, sizeof bld);
  bld.m = m;
  bld.block = b;
  bld.diag = diag;
  return bld;
}

ct_node *ct_build_node(ct_builder *b, ct_op op, int n_in, ct_value *const *in,
                       const ct_attr *attrs, int n_attrs) {
  ct_type in_types[64], out_types[8];
  if (n_in > 64) {
    ct_diag_error(b->diag, b->loc.file, b->loc.line, b->loc.col,
                  "%s: too many operands (%d; at most 64)", ct_op_name(op), n_in);
    return NULL;
  }
  for (int i = 0; i < n_in; i++) {
    if (!in[i]) return NULL; /* an earlier error already reported */
    in_types[i] = in[i]->type;
  }
  int n_out = 0;
  if (ct_infer_types(b->m, op, n_in, in_types, attrs, n_attrs, out_types, 8, &n_out, b->diag,
                     b->loc) != CT_OK)
    return NULL;
  ct_node *n = ct_node_new(b->m, op, n_in, in, n_out, out_types, attrs, n_attrs, b->loc);
  ct_node_normalize_attrs(b->m, n);
  ct_block_insert_before(b->block, b->before, n);
  return n;
}

ct_value *ct_build(ct_builder *b, ct_op op, int n_in, ct_value *const *in, const ct_attr *attrs,
                   int n_attrs) {
  ct_node *n = ct_build_node(b, op, n_in, in, attrs, n_attrs);
  return n && n->n_results ? n->results[0] : NULL;
}

ct_value *ct_build_unary(ct_builder *b, ct_op op, ct_value *x) {
  return ct_build(b, op, 1, &x, NULL, 0);
}

ct_value *ct_build_binary(ct_builder *b, ct_op op, ct_value *x, ct_value *y) {
  ct_value *in[2] = {x, y};
  return ct_build(b, op, 2, in, NULL, 0);
}

ct_value *ct_build_where(ct_builder *b, ct_value *c, ct_value *x, ct_value *y) {
  ct_value *in[3] = {c, x, y};
  return ct_build(b, CT_OP_WHERE, 3, in, NULL, 0);
}

ct_value *ct_build_full(ct_builder *b, const ct_type *t, double v) {
  ct_attr attrs[3] = {ct_attr_dims("shape", t->rank, t->dims), ct_attr_dtype("dtype", t->dtype),
                      ct_attr_float("value", v)};
  return ct_build(b, CT_OP_CONSTANT, 0, NULL, attrs, 3);
}

ct_value *ct_build_scalar(ct_builder *b, ct_dtype dt, double v) {
  ct_type t = ct_type_scalar(dt);
  return ct_build_full(b, &t, v);
}

ct_value *ct_build_cast(ct_builder *b, ct_value *x, ct_dtype dt) {
  ct_attr a = ct_attr_dtype("dtype", dt);
  return ct_build(b, CT_OP_CAST, 1, &x, &a, 1);
}

ct_value *ct_build_reduce(ct_builder *b, ct_op op, ct_value *x, int n_dims, const int64_t *dims,
                          bool keepdim) {
  ct_attr attrs[2] = {ct_attr_ints("dims", n_dims, dims), ct_attr_bool("keepdim", keepdim)};
  return ct_build(b, op, 1, &x, attrs, 2);
}

ct_value *ct_build_reshape(ct_builder *b, ct_value *x, int rank, const ct_dim *shape) {
  ct_attr a = ct_attr_dims("shape", rank, shape);
  return ct_build(b, CT_OP_RESHAPE, 1, &x, &a, 1);
}

ct_value *ct_build_permute(ct_builder *b, ct_value *x, int rank, const int64_t *perm) {
  ct_attr a = ct_attr_ints("dims", rank, perm);
  return ct_build(b, CT_OP_PERMUTE, 1, &x, &a, 1);
}

ct_value *ct_build_expand(ct_builder *b, ct_value *x, int rank, const ct_dim *shape) {
  ct_attr a = ct_attr_dims("shape", rank, shape);
  return ct_build(b, CT_OP_EXPAND, 1, &x, &a, 1);
}

ct_value *ct_build_return(ct_builder *b, int n, ct_value *const *values) {
  ct_node *r = ct_node_new(b->m, CT_OP_RETURN, n, values, 0, NULL, NULL, 0, b->loc);
  ct_block_insert_before(b->block, b->before, r);
  return NULL;
}
