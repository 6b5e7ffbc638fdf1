/* passes/decompose.c: rewrites composite ops into the core set, per target (`decompose{target=T}`):
 *   cpu (the default, ctorchc's -O2)  layer_norm and batch_norm become reductions and
 *       elementwise ops the fuser groups; linear, matmul and conv2d stay (they call GEMM), and
 *       so does gelu (one elementwise op already, fused as it is);
 *   generic  also linear -> matmul(x, permute(w)) + b, and gelu -> its erf (or tanh) formula.
 *   layer_norm(x, w, b)  d = x - mean(x); y = d * rsqrt(mean(d*d) + eps) * w + b  (over the
 *                        normalized dims, biased variance, as PyTorch)
 *   batch_norm(x, w, b, rm, rv)  s = w * rsqrt(rv + eps); y = x * s + (b - rm * s), with s and
 *                        the shift reshaped to [C, 1, ...] (inference form, channel dim 1) */
#include <math.h>
#include <string.h>

#include "passes_internal.h"

typedef struct target {
  bool linear, gelu;
} target;

static ct_value *scalar(ct_builder *b, const ct_value *like, double v) {
  return ct_build_scalar(b, like->type.dtype, v);
}

static ct_value *layer_norm(ct_builder *b, ct_node *n) {
  ct_value *x = ct_node_operand(n, 0);
  const ct_attr *ns = ct_node_attr(n, "normalized_shape");
  double eps = ct_node_attr_float(n, "eps", 1e-5);
  int k = ns ? ns->n : 0;
  int64_t dims[CT_MAX_RANK];
  for (int i = 0; i < k; i++)
    dims[i] = x->type.rank - k + i;
  ct_value *mean = ct_build_reduce(b, CT_OP_MEAN, x, k, dims, true);
  ct_value *d = ct_build_binary(b, CT_OP_SUB, x, mean);
  ct_value *var =
      ct_build_reduce(b, CT_OP_MEAN, ct_build_binary(b, CT_OP_MUL, d, d), k, dims, true);
  ct_value *rstd =
      ct_build_unary(b, CT_OP_RSQRT, ct_build_binary(b, CT_OP_ADD, var, scalar(b, x, eps)));
  ct_value *y = ct_build_binary(b, CT_OP_MUL, d, rstd);
  if (n->n_operands > 1) y = ct_build_binary(b, CT_OP_MUL, y, ct_node_operand(n, 1));
  if (n->n_operands > 2) y = ct_build_binary(b, CT_OP_ADD, y, ct_node_operand(n, 2));
  return y;
}

static ct_value *batch_norm(ct_builder *b, ct_node *n) {
  ct_value *x = ct_node_operand(n, 0), *w = ct_node_operand(n, 1), *bias = ct_node_operand(n, 2);
  ct_value *rm = ct_node_operand(n, 3), *rv = ct_node_operand(n, 4);
  double eps = ct_node_attr_float(n, "eps", 1e-5);
  ct_value *s = ct_build_binary(
      b, CT_OP_MUL, w,
      ct_build_unary(b, CT_OP_RSQRT, ct_build_binary(b, CT_OP_ADD, rv, scalar(b, x, eps))));
  ct_value *shift = ct_build_binary(b, CT_OP_SUB, bias, ct_build_binary(b, CT_OP_MUL, rm, s));
  ct_dim shape[CT_MAX_RANK];
  int rank = x->type.rank - 1;
  shape[0] = x->type.dims[1];
  for (int i = 1; i < rank; i++)
    shape[i] = ct_dim_const(1);
  ct_value *y = ct_build_binary(b, CT_OP_MUL, x, ct_build_reshape(b, s, rank, shape));
  return ct_build_binary(b, CT_OP_ADD, y, ct_build_reshape(b, shift, rank, shape));
}

static ct_value *linear(ct_builder *b, ct_node *n) {
  int64_t perm[2] = {1, 0};
  ct_value *wt = ct_build_permute(b, ct_node_operand(n, 1), 2, perm);
  ct_value *y = ct_build_binary(b, CT_OP_MATMUL, ct_node_operand(n, 0), wt);
  if (n->n_operands > 2) y = ct_build_binary(b, CT_OP_ADD, y, ct_node_operand(n, 2));
  return y;
}

static ct_value *gelu(ct_builder *b, ct_node *n) {
  ct_value *x = ct_node_operand(n, 0);
  const ct_attr *a = ct_node_attr(n, "approximate");
  ct_value *inner;
  if (a && strcmp(a->u.s, "tanh") == 0) {
    ct_value *x3 = ct_build_binary(b, CT_OP_MUL, ct_build_binary(b, CT_OP_MUL, x, x), x);
    ct_value *t =
        ct_build_binary(b, CT_OP_ADD, x, ct_build_binary(b, CT_OP_MUL, x3, scalar(b, x, 0.044715)));
    inner = ct_build_unary(b, CT_OP_TANH,
                           ct_build_binary(b, CT_OP_MUL, t, scalar(b, x, sqrt(2.0 / M_PI))));
  } else {
    inner = ct_build_unary(b, CT_OP_ERF, ct_build_binary(b, CT_OP_MUL, x, scalar(b, x, M_SQRT1_2)));
  }
  ct_value *half_x = ct_build_binary(b, CT_OP_MUL, x, scalar(b, x, 0.5));
  return ct_build_binary(b, CT_OP_MUL, half_x,
                         ct_build_binary(b, CT_OP_ADD, inner, scalar(b, x, 1.0)));
}

static ct_status run_block(ct_module *m, ct_block *blk, const target *t, ct_diag *diag) {
  for (ct_node *n = blk->first, *next; n; n = next) {
    next = n->next;
    if (n->body && run_block(m, n->body, t, diag) != CT_OK) return CT_ERR_INTERNAL;
    ct_value *(*rule)(ct_builder *, ct_node *) = NULL;
    if (n->op == CT_OP_LAYER_NORM)
      rule = layer_norm;
    else if (n->op == CT_OP_BATCH_NORM)
      rule = batch_norm;
    else if (n->op == CT_OP_LINEAR && t->linear && !blk->parent_node)
      rule = linear; /* an epilogue keeps its GEMM */
    else if (n->op == CT_OP_GELU && t->gelu && ct_dtype_is_float(n->results[0]->type.dtype))
      rule = gelu;
    if (!rule) continue;
    ct_builder b = ct_builder_at_end(m, blk, diag);
    b.before = n;
    b.loc = n->loc;
    ct_value *y = rule(&b, n);
    if (!y || !ct_type_eq(&y->type, &n->results[0]->type))
      return ct_diag_error(diag, n->loc.file, n->loc.line, n->loc.col,
                           "decompose: could not rewrite %s", ct_op_name(n->op));
    pass_replace_node(n, y);
  }
  return CT_OK;
}

ct_status ct_pass_decompose(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  char name[32] = "cpu";
  ct_pass_arg(args, "target", name, sizeof name);
  target t;
  if (strcmp(name, "cpu") == 0)
    t = (target){false, false};
  else if (strcmp(name, "generic") == 0)
    t = (target){true, true};
  else
    return ct_diag_error(diag, NULL, 0, 0,
                         "decompose: unknown target '%s' (expected cpu or generic)", name);
  for (int i = 0; i < m->n_graphs; i++)
    if (run_block(m, m->graphs[i]->body, &t, diag) != CT_OK) return CT_ERR_INVALID;
  return CT_OK;
}
