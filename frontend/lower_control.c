/* frontend/lower_control.c: statements and Python's control flow, resolved at compile time:
 * `if` on constants and shapes takes one branch, `for` over range / ModuleList / tuples is
 * unrolled, comparisons and `and`/`or`/`not` on compile-time values fold, list comprehensions
 * build tuples. Comparisons of tensors become eq/lt/... nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

/* Unrolled loops and comprehensions stop here rather than run the compiler out of memory. */
enum { MAX_UNROLL = 100000 };

typedef enum flow { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE, FLOW_RETURN } flow;

ct_lower_val ct_lower_tuple(ct_lower *L, int n) {
  ct_lower_val t = {0};
  t.kind = CT_LV_TUPLE;
  t.n = n;
  t.elts = ct_arena_alloc(L->arena, (size_t)(n + 1) * sizeof *t.elts);
  return t;
}

ct_lower_env ct_lower_env_copy(ct_lower *L, const ct_lower_env *e) {
  ct_lower_env c = {0};
  for (int i = 0; i < e->n; i++)
    ct_lower_env_set(L, &c, e->names[i], e->vals[i]);
  return c;
}

void ct_lower_assign(ct_lower *L, ct_lower_env *e, const ct_py_expr *t, ct_lower_val v,
                     ct_lower_mod *self) {
  if (t->kind == CT_PY_NAME) {
    ct_lower_env_set(L, e, t->u.name, v);
  } else if (t->kind == CT_PY_ATTR && t->u.attr.value->kind == CT_PY_NAME &&
             strcmp(t->u.attr.value->u.name, "self") == 0 && self) {
    if (L->in_forward) {
      ERR(t, "unsupported: assigning to self.%s in forward", t->u.attr.attr);
      return;
    }
    if (v.kind == CT_LV_INIT)
      ERR(t,
          "unsupported: a plain tensor attribute self.%s; wrap it in nn.Parameter(...) or "
          "compute it in forward",
          t->u.attr.attr);
    ct_lower_mod_set(L, self, t->u.attr.attr, v.kind == CT_LV_INIT ? ct_lower_err_val() : v);
  } else if (t->kind == CT_PY_TUPLE || t->kind == CT_PY_LIST) {
    if (v.kind == CT_LV_ERR) {
      for (int i = 0; i < t->u.elts.n; i++)
        ct_lower_assign(L, e, t->u.elts.items[i], v, self);
      return;
    }
    if (v.kind != CT_LV_TUPLE || v.n != t->u.elts.n) {
      if (v.kind == CT_LV_TUPLE)
        ERR(t, "cannot unpack %d values into %d targets", v.n, t->u.elts.n);
      else
        ERR(t, "cannot unpack a value of type %s into %d targets", ct_lower_kind_name(v.kind),
            t->u.elts.n);
      v = ct_lower_err_val();
    }
    for (int i = 0; i < t->u.elts.n; i++)
      ct_lower_assign(L, e, t->u.elts.items[i], v.kind == CT_LV_ERR ? v : v.elts[i], self);
  } else {
    ERR(t, "unsupported assignment target: %s; supported: names, tuples, self.attr in __init__",
        ct_py_expr_kind_name(t->kind));
  }
}

/* ---- conditions ----------------------------------------------------------------------------- */

bool ct_lower_cond(ct_lower *L, const ct_py_expr *x, ct_lower_val v, bool *out) {
  switch (v.kind) {
  case CT_LV_ERR: return false;
  case CT_LV_NONE: *out = false; return true;
  case CT_LV_BOOL:
  case CT_LV_INT:
    if (!ct_dim_is_const(v.i)) {
      ERR(x, "condition on a symbolic size is not known at compile time; supported: "
             "conditions on constants and constant dims");
      return false;
    }
    *out = v.i.off != 0;
    return true;
  case CT_LV_FLOAT: *out = v.f != 0; return true;
  case CT_LV_STR: *out = v.s[0] != 0; return true;
  case CT_LV_TUPLE: *out = v.n > 0; return true;
  case CT_LV_TENSOR:
    ERR(x, "unsupported: a condition on a tensor value (data-dependent control flow); "
           "supported: conditions on compile-time constants and shapes");
    return false;
  default: *out = true; return true;
  }
}

static ct_lower_val bool_val(bool b) {
  ct_lower_val v = ct_lower_int(b);
  v.kind = CT_LV_BOOL;
  return v;
}

static bool is_number(ct_lower_val v) {
  return v.kind == CT_LV_INT || v.kind == CT_LV_BOOL || v.kind == CT_LV_FLOAT;
}

/* Compares two compile-time values; false (with an error) when undecidable. */
static bool compare_const(ct_lower *L, const ct_py_expr *x, ct_py_cmpop op, ct_lower_val a,
                          ct_lower_val c, bool *out) {
  if (op == CT_PY_IS || op == CT_PY_IS_NOT) {
    if (a.kind != CT_LV_NONE && c.kind != CT_LV_NONE) {
      ERR(x, "unsupported: '%s' between values of type %s and %s; supported: 'is None'",
          ct_py_cmpop_str(op), ct_lower_kind_name(a.kind), ct_lower_kind_name(c.kind));
      return false;
    }
    *out = (a.kind == c.kind) == (op == CT_PY_IS);
    return true;
  }
  if (op == CT_PY_IN || op == CT_PY_NOT_IN) {
    if (c.kind != CT_LV_TUPLE) {
      ERR(x, "unsupported: '%s' on a value of type %s; supported: tuples and lists",
          ct_py_cmpop_str(op), ct_lower_kind_name(c.kind));
      return false;
    }
    bool found = false;
    for (int i = 0; i < c.n && !found; i++) {
      bool eq;
      if (!compare_const(L, x, CT_PY_EQ, a, c.elts[i], &eq)) return false;
      found = eq;
    }
    *out = found == (op == CT_PY_IN);
    return true;
  }
  if (a.kind == CT_LV_STR && c.kind == CT_LV_STR && (op == CT_PY_EQ || op == CT_PY_NE)) {
    *out = (strcmp(a.s, c.s) == 0) == (op == CT_PY_EQ);
    return true;
  }
  if (a.kind == CT_LV_NONE || c.kind == CT_LV_NONE) {
    if (op == CT_PY_EQ || op == CT_PY_NE) {
      *out = (a.kind == c.kind) == (op == CT_PY_EQ);
      return true;
    }
  }
  if (!is_number(a) || !is_number(c)) {
    ERR(x, "unsupported comparison '%s' between values of type %s and %s", ct_py_cmpop_str(op),
        ct_lower_kind_name(a.kind), ct_lower_kind_name(c.kind));
    return false;
  }
  bool ia = a.kind != CT_LV_FLOAT, ic = c.kind != CT_LV_FLOAT;
  if ((ia && !ct_dim_is_const(a.i)) || (ic && !ct_dim_is_const(c.i))) {
    /* A symbolic size equals itself; anything else about it is unknown until run time. */
    if (ia && ic && ct_dim_eq(a.i, c.i) && (op == CT_PY_EQ || op == CT_PY_NE)) {
      *out = op == CT_PY_EQ;
      return true;
    }
    ERR(x, "comparison on a symbolic size is not known at compile time; supported: "
           "comparisons of constants and constant dims");
    return false;
  }
  double p = ia ? (double)a.i.off : a.f, q = ic ? (double)c.i.off : c.f;
  switch (op) {
  case CT_PY_LT: *out = p < q; break;
  case CT_PY_GT: *out = p > q; break;
  case CT_PY_LE: *out = p <= q; break;
  case CT_PY_GE: *out = p >= q; break;
  case CT_PY_EQ: *out = p == q; break;
  case CT_PY_NE: *out = p != q; break;
  default: return false;
  }
  return true;
}

static ct_op tensor_cmp_op(ct_py_cmpop op) {
  switch (op) {
  case CT_PY_LT: return CT_OP_LT;
  case CT_PY_GT: return CT_OP_GT;
  case CT_PY_LE: return CT_OP_LE;
  case CT_PY_GE: return CT_OP_GE;
  case CT_PY_EQ: return CT_OP_EQ;
  case CT_PY_NE: return CT_OP_NE;
  default: return CT_OP_COUNT;
  }
}

ct_lower_val ct_lower_compare(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  ct_lower_val a = ct_lower_eval(L, e, x->u.compare.first);
  bool all = true;
  for (int i = 0; i < x->u.compare.n; i++) {
    ct_py_cmpop op = x->u.compare.ops[i];
    ct_lower_val c = ct_lower_eval(L, e, x->u.compare.others[i]);
    if (a.kind == CT_LV_ERR || c.kind == CT_LV_ERR) return ct_lower_err_val();
    bool is_op = op == CT_PY_IS || op == CT_PY_IS_NOT;
    if (!is_op && (a.kind == CT_LV_TENSOR || c.kind == CT_LV_TENSOR)) {
      ct_op o = tensor_cmp_op(op);
      if (x->u.compare.n != 1 || o == CT_OP_COUNT)
        return ERR(x, "unsupported comparison on tensors: %s; supported: one of < > <= >= == !=",
                   x->u.compare.n != 1 ? "a chain" : ct_py_cmpop_str(op));
      ct_dtype dt = a.kind == CT_LV_TENSOR ? a.t->type.dtype : c.t->type.dtype;
      ct_lower_set_loc(L, x);
      ct_value *p = ct_lower_to_tensor(L, a, dt), *q = ct_lower_to_tensor(L, c, dt);
      if (!p || !q)
        return ERR(x, "unsupported comparison between a tensor and a value of type %s",
                   ct_lower_kind_name((a.kind == CT_LV_TENSOR ? c : a).kind));
      return ct_lower_tensor(ct_build_binary(&L->b, o, p, q));
    }
    bool r;
    if (!compare_const(L, x, op, a, c, &r)) return ct_lower_err_val();
    all = all && r;
    a = c;
  }
  return bool_val(all);
}

ct_lower_val ct_lower_boolop(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  ct_lower_val a = ct_lower_eval(L, e, x->u.boolop.lhs);
  if (a.kind == CT_LV_TENSOR)
    return ERR(x, "unsupported: '%s' on tensors; use & or | for elementwise logic",
               x->u.boolop.op == CT_PY_AND ? "and" : "or");
  bool t;
  if (!ct_lower_cond(L, x->u.boolop.lhs, a, &t)) return ct_lower_err_val();
  /* Python's short circuit: the right operand is only evaluated when it decides. */
  if ((x->u.boolop.op == CT_PY_AND) != t) return a;
  return ct_lower_eval(L, e, x->u.boolop.rhs);
}

/* ---- iteration ----------------------------------------------------------------------------- */

bool ct_lower_iter_items(ct_lower *L, const ct_py_expr *x, ct_lower_val v, ct_lower_val *out) {
  if (v.kind == CT_LV_ERR) return false;
  if (v.kind == CT_LV_TUPLE) {
    *out = v;
    return true;
  }
  if (v.kind == CT_LV_MODULE && (v.mod->kind == CT_LM_LIST || v.mod->kind == CT_LM_SEQ)) {
    int n = 0;
    for (int i = 0; i < v.mod->n; i++)
      n += v.mod->vals[i].kind == CT_LV_MODULE;
    *out = ct_lower_tuple(L, n);
    n = 0;
    for (int i = 0; i < v.mod->n; i++)
      if (v.mod->vals[i].kind == CT_LV_MODULE) out->elts[n++] = v.mod->vals[i];
    return true;
  }
  ERR(x,
      "unsupported: iterating over a value of type %s; supported: range(CONST), tuples, lists, "
      "nn.ModuleList, nn.Sequential, enumerate(...), zip(...)",
      ct_lower_kind_name(v.kind));
  return false;
}

ct_lower_val ct_lower_listcomp(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  /* Each generator multiplies the items; build the result by walking them recursively with an
   * explicit index stack (generators are few). */
  int ng = x->u.comp.n_gens;
  ct_lower_env scope = ct_lower_env_copy(L, e);
  ct_lower_val items[8];
  int idx[8] = {0};
  if (ng > 8) return ERR(x, "unsupported: more than 8 'for' clauses in a comprehension");
  int cap = 16, n = 0;
  ct_lower_val *res = ct_arena_alloc(L->arena, (size_t)cap * sizeof *res);
  int level = 0;
  bool ok = true;
  while (ok && level >= 0) {
    const ct_py_comp_for *g = &x->u.comp.gens[level];
    if (idx[level] == 0 &&
        !ct_lower_iter_items(L, g->iter, ct_lower_eval(L, &scope, g->iter), &items[level])) {
      ok = false;
      break;
    }
    if (idx[level] >= items[level].n) {
      idx[level] = 0;
      if (--level >= 0) idx[level]++;
      continue;
    }
    ct_lower_assign(L, &scope, g->target, items[level].elts[idx[level]], NULL);
    bool keep = true;
    for (int k = 0; keep && k < g->ifs.n; k++) {
      if (!ct_lower_cond(L, g->ifs.items[k], ct_lower_eval(L, &scope, g->ifs.items[k]), &keep))
        ok = false, keep = false;
    }
    if (!keep) {
      idx[level]++;
      continue;
    }
    if (level + 1 < ng) {
      level++;
      idx[level] = 0;
      continue;
    }
    if (n == MAX_UNROLL) return ERR(x, "comprehension has more than %d items", MAX_UNROLL);
    if (n == cap) {
      ct_lower_val *grown = ct_arena_alloc(L->arena, (size_t)cap * 2 * sizeof *grown);
      memcpy(grown, res, (size_t)cap * sizeof *res);
      res = grown, cap *= 2;
    }
    res[n] = ct_lower_eval(L, &scope, x->u.comp.elt);
    if (res[n++].kind == CT_LV_ERR) ok = false;
    idx[level]++;
  }
  if (!ok) return ct_lower_err_val();
  ct_lower_val t = ct_lower_tuple(L, n);
  memcpy(t.elts, res, (size_t)n * sizeof *res);
  return t;
}

/* ---- statements ---------------------------------------------------------------------------- */

static flow exec_block(ct_lower *L, ct_lower_env *e, const ct_py_stmt_list *body,
                       ct_lower_mod *self, ct_lower_val *ret, int loop_depth);

static flow exec_for(ct_lower *L, ct_lower_env *e, const ct_py_stmt *s, ct_lower_mod *self,
                     ct_lower_val *ret, int loop_depth) {
  ct_lower_val items;
  if (!ct_lower_iter_items(L, s->u.for_.iter, ct_lower_eval(L, e, s->u.for_.iter), &items)) {
    /* The loop variable stays unbound: later uses are reported once, at the loop. */
    return FLOW_NEXT;
  }
  if (items.n > MAX_UNROLL) {
    ERR(s, "loop has %d iterations; at most %d are unrolled", items.n, MAX_UNROLL);
    return FLOW_NEXT;
  }
  int errors = L->diag->n_errors;
  for (int i = 0; i < items.n; i++) {
    ct_lower_assign(L, e, s->u.for_.target, items.elts[i], self);
    flow f = exec_block(L, e, &s->u.for_.body, self, ret, loop_depth + 1);
    if (f == FLOW_RETURN) return f;
    if (f == FLOW_BREAK) break;
    /* An error in the body repeats in every iteration: report it once. */
    if (L->diag->n_errors > errors) break;
  }
  return FLOW_NEXT;
}

static flow exec_stmt(ct_lower *L, ct_lower_env *e, const ct_py_stmt *s, ct_lower_mod *self,
                      ct_lower_val *ret, int loop_depth) {
  switch (s->kind) {
  case CT_PY_PASS: return FLOW_NEXT;
  case CT_PY_EXPR_STMT:
    if (s->u.expr->kind != CT_PY_STR) ct_lower_eval(L, e, s->u.expr);
    return FLOW_NEXT;
  case CT_PY_ASSIGN: {
    if (!s->u.assign.value) return FLOW_NEXT;
    ct_lower_val v = ct_lower_eval(L, e, s->u.assign.value);
    for (int k = 0; k < s->u.assign.targets.n; k++)
      ct_lower_assign(L, e, s->u.assign.targets.items[k], v, self);
    return FLOW_NEXT;
  }
  case CT_PY_AUGASSIGN: {
    ct_lower_val a = ct_lower_eval(L, e, s->u.aug.target), c = ct_lower_eval(L, e, s->u.aug.value);
    ct_lower_assign(L, e, s->u.aug.target, ct_lower_binary(L, s->u.aug.value, s->u.aug.op, a, c),
                    self);
    return FLOW_NEXT;
  }
  case CT_PY_RETURN:
    *ret = s->u.ret ? ct_lower_eval(L, e, s->u.ret) : ct_lower_none();
    return FLOW_RETURN;
  case CT_PY_IF: {
    bool t;
    if (!ct_lower_cond(L, s->u.if_.cond, ct_lower_eval(L, e, s->u.if_.cond), &t)) return FLOW_NEXT;
    return exec_block(L, e, t ? &s->u.if_.body : &s->u.if_.orelse, self, ret, loop_depth);
  }
  case CT_PY_FOR: return exec_for(L, e, s, self, ret, loop_depth);
  case CT_PY_BREAK:
  case CT_PY_CONTINUE:
    if (!loop_depth) {
      ERR(s, "'%s' outside a loop", s->kind == CT_PY_BREAK ? "break" : "continue");
      return FLOW_NEXT;
    }
    return s->kind == CT_PY_BREAK ? FLOW_BREAK : FLOW_CONTINUE;
  case CT_PY_ASSERT: {
    bool t;
    ct_lower_val v = ct_lower_eval(L, e, s->u.assert_.test);
    if (v.kind == CT_LV_TENSOR) {
      ERR(s->u.assert_.test, "unsupported: assert on a tensor value; supported: assertions on "
                             "compile-time constants and shapes");
      return FLOW_NEXT;
    }
    if (ct_lower_cond(L, s->u.assert_.test, v, &t) && !t) {
      ct_lower_val m = s->u.assert_.msg ? ct_lower_eval(L, e, s->u.assert_.msg) : ct_lower_none();
      if (m.kind == CT_LV_STR)
        ERR(s, "assertion failed at compile time: %s", m.s);
      else
        ERR(s, "assertion failed at compile time");
    }
    return FLOW_NEXT;
  }
  default:
    ERR(s,
        "unsupported statement: %s; supported: assignment, tuple unpacking, augmented "
        "assignment, return, pass, if (compile-time condition), for (unrolled), break, "
        "continue, assert",
        ct_py_stmt_kind_name(s->kind));
    return FLOW_NEXT;
  }
}

static flow exec_block(ct_lower *L, ct_lower_env *e, const ct_py_stmt_list *body,
                       ct_lower_mod *self, ct_lower_val *ret, int loop_depth) {
  for (int i = 0; i < body->n; i++) {
    flow f = exec_stmt(L, e, body->items[i], self, ret, loop_depth);
    if (f != FLOW_NEXT) return f;
  }
  return FLOW_NEXT;
}

bool ct_lower_exec(ct_lower *L, ct_lower_env *e, const ct_py_stmt_list *body, ct_lower_mod *self,
                   ct_lower_val *ret) {
  return exec_block(L, e, body, self, ret, 0) == FLOW_RETURN;
}

ct_lower_val ct_lower_body(ct_lower *L, ct_lower_env *e, const ct_py_stmt_list *body,
                           ct_lower_mod *self) {
  ct_lower_val r;
  return ct_lower_exec(L, e, body, self, &r) ? r : ct_lower_none();
}
