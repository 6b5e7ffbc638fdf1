/* autodiff/grad.c: the reverse-mode engine. Marks which values depend on the values we
 * differentiate with respect to, walks the nodes backwards calling each op's rule (rules.c) and
 * sums the gradients a value receives from its users. Also the node cloning the entry builders
 * use to copy a forward into a new graph. */
#include <stdlib.h>
#include <string.h>

#include "autodiff_internal.h"

ct_status ad_attach_info(ct_module *m, ct_block *b, ct_diag *diag) {
  for (int i = 0; i < b->n_params; i++)
    b->params[i]->aux = ct_arena_alloc(m->arena, sizeof(ad_info));
  for (ct_node *n = b->first; n; n = n->next) {
    if (n->body)
      return ct_diag_error(diag, n->loc.file, n->loc.line, n->loc.col,
                           "autodiff: %s nodes are not differentiable (run autodiff before fuse)",
                           ct_op_name(n->op));
    for (int i = 0; i < n->n_results; i++)
      n->results[i]->aux = ct_arena_alloc(m->arena, sizeof(ad_info));
  }
  return CT_OK;
}

ct_value *ad_fwd(ad_ctx *c, ct_value *v) { return c->map ? c->map(c, v) : v; }

ct_value *ad_sum_to(ad_ctx *c, ct_value *g, const ct_type *t) {
  if (!g) return NULL;
  if (ct_type_eq(&g->type, t)) return g;
  int lead = g->type.rank - t->rank;
  int64_t dims[CT_MAX_RANK];
  int n = 0;
  for (int i = 0; i < g->type.rank; i++) {
    if (i < lead) {
      dims[n++] = i;
      continue;
    }
    ct_dim want = t->dims[i - lead];
    if (ct_dim_eq(want, ct_dim_const(1)) && !ct_dim_eq(g->type.dims[i], want)) dims[n++] = i;
  }
  ct_value *s = n ? ct_build_reduce(&c->b, CT_OP_SUM, g, n, dims, true) : g;
  if (s && !ct_type_eq(&s->type, t)) s = ct_build_reshape(&c->b, s, t->rank, t->dims);
  return s;
}

static ct_status accumulate(ad_ctx *c, ct_value *v, ct_value *g) {
  ad_info *info = ad_info_of(v);
  if (!ct_type_eq(&g->type, &v->type)) {
    char want[128], got[128];
    ct_type_format(c->m, &v->type, want, sizeof want);
    ct_type_format(c->m, &g->type, got, sizeof got);
    const ct_node *n = c->node;
    return ct_diag_error(c->diag, n ? n->loc.file : NULL, n ? n->loc.line : 0,
                         n ? n->loc.col : 0,
                         "autodiff: internal error: %s rule gave a %s gradient for a %s operand",
                         n ? ct_op_name(n->op) : "seed", got, want);
  }
  info->grad = info->grad ? ct_build_binary(&c->b, CT_OP_ADD, info->grad, g) : g;
  return info->grad ? CT_OK : CT_ERR_INTERNAL;
}

ct_status ad_backprop(ad_ctx *c, ct_block *b, int n_seeds, ct_value *const *seed_vals,
                      ct_value *const *seed_grads, int n_wrt, ct_value *const *wrt,
                      ct_value **out_grads) {
  /* The forward nodes, collected first: in same-graph mode the rules append to b. */
  int n_nodes = 0;
  for (ct_node *n = b->first; n; n = n->next) n_nodes++;
  ct_node **nodes = malloc(sizeof *nodes * (size_t)(n_nodes ? n_nodes : 1));
  if (!nodes) return CT_ERR_NOMEM;
  n_nodes = 0;
  for (ct_node *n = b->first; n; n = n->next)
    if (n->op != CT_OP_RETURN) nodes[n_nodes++] = n;

  for (int i = 0; i < n_wrt; i++) ad_info_of(wrt[i])->req = ct_dtype_is_float(wrt[i]->type.dtype);
  for (int k = 0; k < n_nodes; k++) {
    ct_node *n = nodes[k];
    bool req = false;
    for (int i = 0; i < n->n_operands; i++) req |= ad_info_of(ct_node_operand(n, i))->req;
    if (ct_op_table[n->op].flags & CT_OPF_NOGRAD) req = false;
    for (int i = 0; i < n->n_results; i++)
      ad_info_of(n->results[i])->req = req && ct_dtype_is_float(n->results[i]->type.dtype);
  }

  ct_status st = CT_OK;
  c->node = NULL;
  for (int i = 0; i < n_seeds && st == CT_OK; i++)
    if (ad_info_of(seed_vals[i])->req) st = accumulate(c, seed_vals[i], seed_grads[i]);

  for (int k = n_nodes - 1; k >= 0 && st == CT_OK; k--) {
    ct_node *n = nodes[k];
    if (n->n_results != 1) continue;
    ct_value *gy = ad_info_of(n->results[0])->grad;
    if (!gy) continue;
    bool need[64] = {false};
    bool any = false;
    for (int i = 0; i < n->n_operands && i < 64; i++) {
      need[i] = ad_info_of(ct_node_operand(n, i))->req;
      any |= need[i];
    }
    if (!any) continue;
    c->node = n;
    ad_rule rule = ad_rules[n->op];
    if (!rule || !(ct_op_table[n->op].flags & CT_OPF_DIFF)) {
      st = ct_diag_error(c->diag, n->loc.file, n->loc.line, n->loc.col,
                         "autodiff: %s is not differentiable, but a gradient flows through it",
                         ct_op_name(n->op));
      break;
    }
    ct_value *gx[64] = {NULL};
    c->b.loc = n->loc;
    st = rule(c, n, gy, gx, need);
    for (int i = 0; i < n->n_operands && st == CT_OK; i++)
      if (need[i] && gx[i]) st = accumulate(c, ct_node_operand(n, i), gx[i]);
  }
  if (st == CT_OK && c->diag && c->diag->n_errors) st = CT_ERR_SHAPE;
  for (int i = 0; i < n_wrt && st == CT_OK; i++) out_grads[i] = ad_info_of(wrt[i])->grad;
  c->node = NULL;
  free(nodes);
  return st;
}

void ad_clone_nodes(ct_module *m, const ct_block *src, ct_builder *b) {
  for (const ct_node *n = src->first; n; n = n->next) {
    if (n->op == CT_OP_RETURN) continue;
    ct_value *in[64];
    for (int i = 0; i < n->n_operands && i < 64; i++)
      in[i] = ad_info_of(ct_node_operand(n, i))->clone;
    ct_type types[16];
    for (int i = 0; i < n->n_results && i < 16; i++) types[i] = n->results[i]->type;
    ct_node *copy = ct_node_new(m, n->op, n->n_operands, in, n->n_results, types, n->attrs,
                                n->n_attrs, n->loc);
    ct_block_insert_before(b->block, b->before, copy);
    for (int i = 0; i < n->n_results; i++) {
      copy->results[i]->name = n->results[i]->name;
      ad_info_of(n->results[i])->clone = copy->results[i];
    }
  }
}
