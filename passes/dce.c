/* passes/dce.c: dead code elimination. Every op is pure, so a node none of whose results is used
 * is removed, from the end of each block backwards (a chain dies in one sweep). A fusion node
 * whose results are partly dead loses those results (and its body the values that computed only
 * them); a body parameter nothing reads is dropped with its operand. The return node, and so
 * every graph result, always stays. */
#include <string.h>

#include "passes_internal.h"

static bool has_uses(const ct_node *n) {
  for (int i = 0; i < n->n_results; i++)
    if (n->results[i]->uses) return true;
  return false;
}

static int sweep(ct_block *b);

/* Rebuilds fusion node n without its unused results and unread parameters. */
static int shrink_fusion(ct_module *m, ct_node *n) {
  ct_block *body = n->body;
  ct_node *ret = body->last;
  int keep_res = 0, removed = 0;
  for (int i = 0; i < n->n_results; i++)
    keep_res += n->results[i]->uses != NULL;
  if (keep_res < n->n_results) {
    /* The body's return loses the dead results' operands. */
    ct_value *vals[256];
    ct_type types[256];
    int k = 0;
    if (n->n_results > 256) return 0;
    for (int i = 0; i < n->n_results; i++)
      if (n->results[i]->uses) {
        vals[k] = ct_node_operand(ret, i);
        types[k++] = n->results[i]->type;
      }
    ct_node *new_ret = ct_node_new(m, CT_OP_RETURN, k, vals, 0, NULL, NULL, 0, ret->loc);
    ct_block_insert_before(body, ret, new_ret);
    ct_node_erase(ret);
    ct_value *ins[256];
    if (n->n_operands > 256) return 0;
    for (int i = 0; i < n->n_operands; i++)
      ins[i] = ct_node_operand(n, i);
    ct_node *nn =
        ct_node_new(m, CT_OP_FUSION, n->n_operands, ins, k, types, n->attrs, n->n_attrs, n->loc);
    nn->body = body;
    body->parent_node = nn;
    ct_block_insert_before(n->parent, n, nn);
    k = 0;
    for (int i = 0; i < n->n_results; i++)
      if (n->results[i]->uses) ct_value_replace_uses(n->results[i], nn->results[k++]);
    n->body = NULL;
    ct_node_erase(n);
    n = nn;
    removed += sweep(body);
  }
  /* Unread body parameters go with their operands. */
  int unread = 0;
  for (int i = 0; i < body->n_params; i++)
    unread += body->params[i]->uses == NULL;
  if (unread) {
    ct_value *ins[256];
    int k = 0;
    if (n->n_operands > 256) return removed;
    for (int i = 0; i < body->n_params; i++)
      if (body->params[i]->uses) {
        ins[k] = ct_node_operand(n, i);
        body->params[k] = body->params[i];
        body->params[k]->index = k;
        k++;
      }
    body->n_params = k;
    ct_type types[256];
    for (int i = 0; i < n->n_results; i++)
      types[i] = n->results[i]->type;
    ct_node *nn =
        ct_node_new(m, CT_OP_FUSION, k, ins, n->n_results, types, n->attrs, n->n_attrs, n->loc);
    nn->body = body;
    body->parent_node = nn;
    ct_block_insert_before(n->parent, n, nn);
    for (int i = 0; i < n->n_results; i++)
      ct_value_replace_uses(n->results[i], nn->results[i]);
    n->body = NULL;
    ct_node_erase(n);
  }
  return removed;
}

static int sweep(ct_block *b) {
  int removed = 0;
  ct_module *m = b->graph->module;
  for (ct_node *n = b->last, *prev; n; n = prev) {
    prev = n->prev;
    if (n->op == CT_OP_RETURN) continue;
    if (!has_uses(n)) {
      ct_node_erase(n);
      removed++;
    } else if (n->op == CT_OP_FUSION && n->body) {
      removed += sweep(n->body);
      removed += shrink_fusion(m, n);
    }
  }
  return removed;
}

ct_status ct_pass_dce(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  (void)args;
  (void)diag;
  for (int i = 0; i < m->n_graphs; i++)
    sweep(m->graphs[i]->body);
  return CT_OK;
}
