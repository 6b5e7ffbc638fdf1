/* passes/canonicalize.c: local algebraic identities, applied to a fixpoint in every block
 * (nested fusion bodies included). Each rewrite keeps the value's type: an identity that would
 * change the result's shape (x + 0 broadcasting x up) is left alone.
 *   x+0, 0+x, x-0, x*1, 1*x, x/1, x**1 -> x        neg(neg(x)) -> x
 *   permute(x, identity) -> x                       permute(permute(x, p), q) -> permute(x, p∘q)
 *   reshape(reshape(x)) -> reshape(x)               reshape(x) to x's shape -> x
 *   expand(expand(x)) -> expand(x)                  expand(x) to x's shape -> x
 *   cast(x) to x's dtype -> x                       concat(x) -> x, full slice -> x
 *   dropout(x) -> x (its inference meaning; autodiff has already rewritten training copies)
 *   commutative op(constant, y) -> op(y, constant)  (one canonical order for cse) */
#include <string.h>

#include "passes_internal.h"

typedef struct stats {
  int rewrites;
} stats;

static bool same_type(const ct_value *a, const ct_value *b) {
  return ct_type_eq(&a->type, &b->type);
}

/* Replaces n by x when the types agree. */
static bool forward_to(ct_node *n, ct_value *x) {
  if (!same_type(n->results[0], x)) return false;
  pass_replace_node(n, x);
  return true;
}

static bool is_identity_perm(const ct_attr *p) {
  for (int i = 0; i < p->n; i++)
    if (p->u.ints[i] != i) return false;
  return true;
}

static bool def_is(const ct_value *v, ct_op op) { return v->def && v->def->op == op; }

static bool rewrite(ct_module *m, ct_node *n) {
  if (n->n_results != 1 || n->n_operands < 1) return false;
  ct_value *x = ct_node_operand(n, 0);
  ct_value *y = n->n_operands > 1 ? ct_node_operand(n, 1) : NULL;
  switch (n->op) {
  case CT_OP_ADD:
    if (pass_const_is(y, 0.0) && forward_to(n, x)) return true;
    if (pass_const_is(x, 0.0) && forward_to(n, y)) return true;
    break;
  case CT_OP_SUB:
    if (pass_const_is(y, 0.0) && forward_to(n, x)) return true;
    break;
  case CT_OP_MUL:
    if (pass_const_is(y, 1.0) && forward_to(n, x)) return true;
    if (pass_const_is(x, 1.0) && forward_to(n, y)) return true;
    break;
  case CT_OP_DIV:
  case CT_OP_POW:
    if (pass_const_is(y, 1.0) && forward_to(n, x)) return true;
    break;
  case CT_OP_DROPOUT: /* the identity (inference); training graphs no longer contain it */
    if (forward_to(n, x)) return true;
    break;
  case CT_OP_NEG:
    if (def_is(x, CT_OP_NEG) && forward_to(n, ct_node_operand(x->def, 0))) return true;
    break;
  case CT_OP_CAST:
    if (x->type.dtype == (ct_dtype)ct_node_attr(n, "dtype")->u.dt && forward_to(n, x)) return true;
    break;
  case CT_OP_RESHAPE:
  case CT_OP_EXPAND:
    if (forward_to(n, x)) return true;
    if (def_is(x, n->op)) {
      ct_node_set_operand(n, 0, ct_node_operand(x->def, 0));
      return true;
    }
    break;
  case CT_OP_PERMUTE: {
    const ct_attr *q = ct_node_attr(n, "dims");
    if (is_identity_perm(q) && forward_to(n, x)) return true;
    if (def_is(x, CT_OP_PERMUTE)) {
      const ct_attr *p = ct_node_attr(x->def, "dims");
      int64_t r[CT_MAX_RANK];
      for (int i = 0; i < q->n; i++)
        r[i] = p->u.ints[q->u.ints[i]];
      ct_node_set_attr(m, n, ct_attr_ints("dims", q->n, r));
      ct_node_set_operand(n, 0, ct_node_operand(x->def, 0));
      return true;
    }
    break;
  }
  case CT_OP_CONCAT:
    if (n->n_operands == 1 && forward_to(n, x)) return true;
    break;
  case CT_OP_SLICE:
    if (ct_node_attr_int(n, "step", 1) == 1 && ct_node_attr_int(n, "start", 0) == 0 &&
        forward_to(n, x))
      return true;
    break;
  default: break;
  }
  /* Canonical operand order: a constant goes right. */
  if ((ct_op_table[n->op].flags & CT_OPF_COMMUTE) && n->n_operands == 2 && x->def &&
      x->def->op == CT_OP_CONSTANT && !(y->def && y->def->op == CT_OP_CONSTANT)) {
    ct_node_set_operand(n, 0, y);
    ct_node_set_operand(n, 1, x);
    return true;
  }
  return false;
}

static void run_block(ct_block *b, void *ctx) {
  stats *s = ctx;
  ct_module *m = b->graph->module;
  bool changed = true;
  while (changed) {
    changed = false;
    for (ct_node *n = b->first, *next; n; n = next) {
      next = n->next;
      if (rewrite(m, n)) {
        s->rewrites++;
        changed = true;
      }
    }
  }
}

ct_status ct_pass_canonicalize(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  (void)args;
  (void)diag;
  stats s = {0};
  for (int i = 0; i < m->n_graphs; i++)
    pass_for_each_block(m->graphs[i], run_block, &s);
  return CT_OK;
}
