/* passes/cse.c: common subexpression elimination. Within each block (graph bodies and fusion
 * bodies alike; a fusion body is isolated, so it never shares values with its parent), a node
 * equal to an earlier one (same op, operands, attributes, result types and, for fusion, an
 * equivalent body) is replaced by it. Every op is pure and the earlier node dominates the later
 * one in a block's order, so the replacement is always valid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passes_internal.h"

static bool blocks_equivalent(const ct_block *a, const ct_block *b);

/* Values of two blocks compared positionally: a parameter by its index, a result by its
 * node's position (n->id, set by number_block) and result index. */
static bool value_equivalent(const ct_value *x, const ct_value *y, const ct_block *a,
                             const ct_block *b) {
  if (a == b) return x == y; /* two nodes of one block: the very same operands */
  bool xin = x->def ? x->def->parent == a : x->block == a;
  bool yin = y->def ? y->def->parent == b : y->block == b;
  if (!xin || !yin) return x == y;
  if (!x->def || !y->def) return !x->def && !y->def && x->index == y->index;
  return x->def->id == y->def->id && x->index == y->index;
}

static bool nodes_equal(const ct_node *x, const ct_node *y, const ct_block *a, const ct_block *b) {
  if (x->op != y->op || x->n_operands != y->n_operands || x->n_results != y->n_results)
    return false;
  for (int i = 0; i < x->n_operands; i++)
    if (!value_equivalent(ct_node_operand(x, i), ct_node_operand(y, i), a, b)) return false;
  for (int i = 0; i < x->n_results; i++)
    if (!ct_type_eq(&x->results[i]->type, &y->results[i]->type)) return false;
  if (!pass_attrs_equal(x, y)) return false;
  if (!x->body != !y->body) return false;
  return !x->body || blocks_equivalent(x->body, y->body);
}

static void number_block(const ct_block *b) {
  int i = 0;
  for (ct_node *n = b->first; n; n = n->next)
    n->id = i++;
}

static bool blocks_equivalent(const ct_block *a, const ct_block *b) {
  if (a->n_params != b->n_params) return false;
  for (int i = 0; i < a->n_params; i++)
    if (!ct_type_eq(&a->params[i]->type, &b->params[i]->type)) return false;
  number_block(a);
  number_block(b);
  const ct_node *x = a->first, *y = b->first;
  for (; x && y; x = x->next, y = y->next)
    if (!nodes_equal(x, y, a, b)) return false;
  return !x && !y;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

static uint64_t node_hash(const ct_node *n) {
  uint64_t h = mix(0, (uint64_t)n->op);
  for (int i = 0; i < n->n_operands; i++)
    h = mix(h, (uint64_t)(uintptr_t)ct_node_operand(n, i));
  h = mix(h, (uint64_t)n->n_results);
  for (int i = 0; i < n->n_attrs; i++) {
    const ct_attr *at = &n->attrs[i];
    if (at->kind == CT_ATTR_INT || at->kind == CT_ATTR_BOOL)
      h = mix(h, (uint64_t)at->u.i);
    else if (at->kind == CT_ATTR_FLOAT) {
      uint64_t bits;
      memcpy(&bits, &at->u.f, sizeof bits);
      h = mix(h, bits);
    } else
      h = mix(h, (uint64_t)at->n);
  }
  return h;
}

static void run_block(ct_block *b, void *ctx) {
  int *removed = ctx;
  size_t count = 0;
  for (ct_node *n = b->first; n; n = n->next)
    count++;
  size_t cap = 16;
  while (cap < count * 2)
    cap *= 2;
  ct_node **table = calloc(cap, sizeof *table);
  if (!table) return; /* cse is an optimization: without memory, leave the block as it is */
  for (ct_node *n = b->first, *next; n; n = next) {
    next = n->next;
    if (n->op == CT_OP_RETURN || n->n_results == 0) continue;
    uint64_t h = node_hash(n);
    size_t i = (size_t)h & (cap - 1);
    ct_node *hit = NULL;
    for (; table[i]; i = (i + 1) & (cap - 1))
      if (nodes_equal(table[i], n, b, b)) {
        hit = table[i];
        break;
      }
    if (!hit) {
      table[i] = n;
      continue;
    }
    for (int r = 0; r < n->n_results; r++)
      ct_value_replace_uses(n->results[r], hit->results[r]);
    ct_node_erase(n);
    (*removed)++;
  }
  free(table);
}

ct_status ct_pass_cse(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  (void)args;
  (void)diag;
  int removed = 0;
  for (int i = 0; i < m->n_graphs; i++)
    pass_for_each_block(m->graphs[i], run_block, &removed);
  return CT_OK;
}
