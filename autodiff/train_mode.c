/* autodiff/train_mode.c: the training-mode forward. batch_norm in training mode normalizes
 * with the batch's statistics (biased variance) and updates the running statistics with
 * PyTorch's unbiased variance; here each batch_norm node of a training copy is rewritten into
 * those primitive ops, which the ordinary rules then differentiate. */
#include <string.h>

#include "autodiff_internal.h"

static ct_value *kc(ct_builder *b, const ct_value *like, double v) {
  return ct_build_scalar(b, like->type.dtype, v);
}

/* The graph input named prefix + suffix, where name = prefix + "running_mean". */
static ct_value *sibling_input(ct_graph *g, const char *name, const char *suffix) {
  static const char tail[] = "running_mean";
  size_t n = name ? strlen(name) : 0, t = sizeof tail - 1;
  if (n < t || strcmp(name + n - t, tail) != 0) return NULL;
  char buf[512];
  if (n - t + strlen(suffix) + 1 > sizeof buf) return NULL;
  memcpy(buf, name, n - t);
  strcpy(buf + n - t, suffix);
  return ct_graph_find_input(g, buf);
}

ct_status ad_dropout_train(ct_module *m, ct_graph *g, ct_value *step, ct_diag *diag) {
  int64_t seed = 0;
  ct_node *next;
  for (ct_node *n = g->body->first; n; n = next) {
    next = n->next;
    if (n->op != CT_OP_DROPOUT) continue;
    ct_value *x = ct_node_operand(n, 0), *y = x;
    double p = ct_node_attr_float(n, "p", 0.5);
    if (p != 0.0) {
      ct_builder b = ct_builder_at_end(m, g->body, diag);
      b.before = n;
      b.loc = n->loc;
      ct_value *s = step ? step : ct_build_scalar(&b, CT_DT_I64, 0.0);
      ct_attr attrs[4] = {ct_attr_dims("shape", x->type.rank, x->type.dims),
                          ct_attr_dtype("dtype", x->type.dtype), ct_attr_float("p", p),
                          ct_attr_int("seed", seed++)};
      ct_value *mask = ct_build(&b, CT_OP_DROPOUT_MASK, 1, &s, attrs, 4);
      y = ct_build_binary(&b, CT_OP_MUL, x, mask);
      if (!y) return CT_ERR_SHAPE;
    }
    ct_value_replace_uses(n->results[0], y);
    ct_node_erase(n);
  }
  return CT_OK;
}

ct_status ad_batch_norm_train(ct_module *m, ct_graph *g, ct_value **upd_of, ct_value **upd_new,
                              int cap, int *n_updates, ct_diag *diag) {
  *n_updates = 0;
  ct_node *next;
  for (ct_node *n = g->body->first; n; n = next) {
    next = n->next;
    if (n->op != CT_OP_BATCH_NORM) continue;
    ct_builder bb = ct_builder_at_end(m, g->body, diag);
    ct_builder *b = &bb;
    b->before = n;
    b->loc = n->loc;
    ct_value *x = ct_node_operand(n, 0), *w = ct_node_operand(n, 1), *bias = ct_node_operand(n, 2);
    ct_value *rm = ct_node_operand(n, 3), *rv = ct_node_operand(n, 4);
    const ct_type *xt = &x->type;
    double eps = ct_node_attr_float(n, "eps", 1e-5), mom = ct_node_attr_float(n, "momentum", 0.1);
    int64_t dims[CT_MAX_RANK];
    int nd = 0;
    for (int i = 0; i < xt->rank; i++)
      if (i != 1) dims[nd++] = i;
    ct_value *mean = ct_build_reduce(b, CT_OP_MEAN, x, nd, dims, true);
    ct_value *xc = ct_build_binary(b, CT_OP_SUB, x, mean);
    ct_value *sq = ct_build_binary(b, CT_OP_MUL, xc, xc);
    ct_value *var = ct_build_reduce(b, CT_OP_MEAN, sq, nd, dims, true);
    ct_value *epsv = kc(b, var, eps);
    ct_value *rstd = ct_build_unary(b, CT_OP_RSQRT, ct_build_binary(b, CT_OP_ADD, var, epsv));
    ct_dim cs[CT_MAX_RANK];
    cs[0] = xt->dims[1];
    for (int i = 1; i < xt->rank - 1; i++) cs[i] = ct_dim_const(1);
    ct_value *wc = ct_build_reshape(b, w, xt->rank - 1, cs);
    ct_value *bc = ct_build_reshape(b, bias, xt->rank - 1, cs);
    ct_value *xhat = ct_build_binary(b, CT_OP_MUL, xc, rstd);
    ct_value *y = ct_build_binary(b, CT_OP_ADD, ct_build_binary(b, CT_OP_MUL, xhat, wc), bc);
    if (!y) return CT_ERR_SHAPE;

    if (!rm->def && !rv->def && *n_updates + 3 <= cap) {
      ct_dim c1 = xt->dims[1];
      ct_value *mean_c = ct_build_reshape(b, mean, 1, &c1);
      ct_value *var_c = ct_build_reshape(b, var, 1, &c1);
      /* elements per channel: a constant, or counted at run time when N is symbolic */
      ct_dim count = ct_dim_const(1);
      bool constant = true;
      for (int i = 0; i < nd && constant; i++) constant = ct_dim_mul(count, xt->dims[dims[i]], &count) && !count.sym;
      ct_value *corr;
      if (constant && count.off <= 1) {
        return ct_diag_error(diag, n->loc.file, n->loc.line, n->loc.col,
                             "batch_norm: expected more than 1 value per channel when training");
      } else if (constant) {
        corr = kc(b, x, (double)count.off / (double)(count.off - 1));
      } else {
        ct_type one_c = *xt;
        one_c.dims[1] = ct_dim_const(1);
        ct_value *ones = ct_build_full(b, &one_c, 1.0);
        ct_value *cnt = ct_build_reduce(b, CT_OP_SUM, ones, 0, NULL, false);
        ct_value *one = kc(b, cnt, 1.0);
        corr = ct_build_binary(b, CT_OP_DIV, cnt, ct_build_binary(b, CT_OP_SUB, cnt, one));
      }
      ct_value *unbiased = ct_build_binary(b, CT_OP_MUL, var_c, corr);
      /* running = (1 - momentum) * running + momentum * batch */
      ct_value *keep = kc(b, x, 1.0 - mom);
      ct_value *take = kc(b, x, mom);
      ct_value *rm_kept = ct_build_binary(b, CT_OP_MUL, rm, keep);
      ct_value *rm_added = ct_build_binary(b, CT_OP_MUL, mean_c, take);
      upd_of[*n_updates] = rm;
      upd_new[(*n_updates)++] = ct_build_binary(b, CT_OP_ADD, rm_kept, rm_added);
      ct_value *rv_kept = ct_build_binary(b, CT_OP_MUL, rv, keep);
      ct_value *rv_added = ct_build_binary(b, CT_OP_MUL, unbiased, take);
      upd_of[*n_updates] = rv;
      upd_new[(*n_updates)++] = ct_build_binary(b, CT_OP_ADD, rv_kept, rv_added);
      ct_value *nbt = sibling_input(g, rm->name, "num_batches_tracked");
      if (nbt) {
        ct_value *one = kc(b, nbt, 1.0);
        upd_of[*n_updates] = nbt;
        upd_new[(*n_updates)++] = ct_build_binary(b, CT_OP_ADD, nbt, one);
      }
    }
    ct_value_replace_uses(n->results[0], y);
    ct_node_erase(n);
  }
  for (int i = 0; i < *n_updates; i++)
    if (!upd_new[i]) return CT_ERR_SHAPE;
  return CT_OK;
}
