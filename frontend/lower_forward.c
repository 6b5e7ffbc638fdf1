/* frontend/lower_forward.c: the forward side of the lowering: expressions over tensors and
 * compile-time sizes, module calls, torch.* / F.* functions and tensor methods, built as IR. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

/* ---- expressions -------------------------------------------------------------------------- */

const char *ct_lower_kind_name(ct_lower_val_kind k) {
  static const char *const names[] = {"error",  "None",      "int",         "float",
                                      "bool",   "str",       "tuple",       "tensor",
                                      "module", "namespace", "initializer", "parameter"};
  return names[k];
}

void ct_lower_set_loc(ct_lower *L, const ct_py_expr *x) {
  L->b.loc.file = L->file;
  L->b.loc.line = x->line;
  L->b.loc.col = x->col;
}

ct_value *ct_lower_to_tensor(ct_lower *L, ct_lower_val v, ct_dtype like) {
  if (v.kind == CT_LV_TENSOR) return v.t;
  if (v.kind == CT_LV_FLOAT) return ct_build_scalar(&L->b, like, v.f);
  if ((v.kind == CT_LV_INT || v.kind == CT_LV_BOOL) && ct_dim_is_const(v.i))
    return ct_build_scalar(&L->b, like, (double)v.i.off);
  return NULL;
}

static bool is_num(ct_lower_val v) {
  return v.kind == CT_LV_FLOAT || v.kind == CT_LV_INT || v.kind == CT_LV_BOOL;
}

/* Python's floor division and modulo on integers (rounding toward negative infinity). */
static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* An initializer times a number: torch.randn(...) * 0.02 is normal(0, 0.02). */
static ct_lower_val scale_init(ct_lower *L, const ct_py_expr *x, ct_lower_val init, double k) {
  ct_lower_param *p = ct_arena_memdup(L->arena, init.param, sizeof *p);
  char spec[96];
  double lo, hi, mean, std;
  if (strcmp(p->spec, "zeros") == 0) return init;
  if (strcmp(p->spec, "ones") == 0) {
    snprintf(spec, sizeof spec, "constant(%.17g)", k);
  } else if (sscanf(p->spec, "normal(%lf,%lf)", &mean, &std) == 2) {
    snprintf(spec, sizeof spec, "normal(%.17g,%.17g)", mean * k, std * fabs(k));
  } else if (sscanf(p->spec, "uniform(%lf,%lf)", &lo, &hi) == 2) {
    snprintf(spec, sizeof spec, "uniform(%.17g,%.17g)", k < 0 ? hi * k : lo * k,
             k < 0 ? lo * k : hi * k);
  } else {
    return ERR(x, "unsupported: scaling the initializer %s", p->spec);
  }
  p->spec = ct_arena_strdup(L->arena, spec);
  init.param = p;
  return init;
}

ct_lower_val ct_lower_binary(ct_lower *L, const ct_py_expr *x, ct_py_binop op, ct_lower_val a,
                             ct_lower_val c) {
  if (a.kind == CT_LV_ERR || c.kind == CT_LV_ERR) return ct_lower_err_val();
  if (a.kind == CT_LV_INIT || c.kind == CT_LV_INIT) {
    ct_lower_val init = a.kind == CT_LV_INIT ? a : c, k = a.kind == CT_LV_INIT ? c : a;
    bool num = (k.kind == CT_LV_FLOAT || k.kind == CT_LV_INT) &&
               (k.kind == CT_LV_FLOAT || ct_dim_is_const(k.i));
    if (op == CT_PY_MUL && num)
      return scale_init(L, x, init, k.kind == CT_LV_FLOAT ? k.f : (double)k.i.off);
    if (op == CT_PY_DIV && num && a.kind == CT_LV_INIT) {
      double d = k.kind == CT_LV_FLOAT ? k.f : (double)k.i.off;
      if (d != 0) return scale_init(L, x, init, 1.0 / d);
    }
    return ERR(x,
               "unsupported: '%s' on an initializer in __init__; supported: "
               "torch.zeros/ones/randn/rand(...) times or divided by a number",
               ct_py_binop_str(op));
  }
  if ((a.kind == CT_LV_INT || a.kind == CT_LV_BOOL) &&
      (c.kind == CT_LV_INT || c.kind == CT_LV_BOOL)) {
    ct_dim r;
    bool ok = op == CT_PY_ADD                                 ? ct_dim_add(a.i, c.i, &r)
              : op == CT_PY_SUB                               ? ct_dim_sub(a.i, c.i, &r)
              : op == CT_PY_MUL                               ? ct_dim_mul(a.i, c.i, &r)
              : op == CT_PY_FLOORDIV && !ct_dim_is_const(a.i) ? ct_dim_div(a.i, c.i, &r)
                                                              : false;
    if (ok) return ct_lower_dim(r);
    if (ct_dim_is_const(a.i) && ct_dim_is_const(c.i)) {
      int64_t p = a.i.off, q = c.i.off;
      switch (op) {
      case CT_PY_DIV:
        if (!q) return ERR(x, "division by zero");
        return ct_lower_float((double)p / (double)q);
      case CT_PY_FLOORDIV:
      case CT_PY_MOD:
        if (!q) return ERR(x, "integer division or modulo by zero");
        if (q == -1 && p == INT64_MIN)
          return ERR(x, "integer overflow in '%s'", ct_py_binop_str(op));
        return ct_lower_int(op == CT_PY_FLOORDIV ? floordiv(p, q) : p - floordiv(p, q) * q);
      case CT_PY_POW:
        if (q < 0) return ct_lower_float(pow((double)p, (double)q));
        {
          int64_t prod = 1;
          for (int64_t i = 0; i < q; i++)
            if (__builtin_mul_overflow(prod, p, &prod)) return ERR(x, "integer overflow in '**'");
          return ct_lower_int(prod);
        }
      case CT_PY_BITAND: return ct_lower_int(p & q);
      case CT_PY_BITOR: return ct_lower_int(p | q);
      case CT_PY_BITXOR: return ct_lower_int(p ^ q);
      case CT_PY_LSHIFT: return ct_lower_int(q >= 0 && q < 63 ? (int64_t)((uint64_t)p << q) : 0);
      case CT_PY_RSHIFT: return ct_lower_int(q >= 0 && q < 63 ? p >> q : 0);
      default: break;
      }
    }
    return ERR(x,
               "unsupported integer expression: '%s' on a symbolic size; supported: + - * // "
               "on sizes",
               ct_py_binop_str(op));
  }
  if (is_num(a) && is_num(c)) {
    if ((a.kind != CT_LV_FLOAT && !ct_dim_is_const(a.i)) ||
        (c.kind != CT_LV_FLOAT && !ct_dim_is_const(c.i)))
      return ERR(x, "unsupported: float arithmetic on a symbolic size");
    double p = a.kind == CT_LV_FLOAT ? a.f : (double)a.i.off,
           q = c.kind == CT_LV_FLOAT ? c.f : (double)c.i.off;
    switch (op) {
    case CT_PY_ADD: return ct_lower_float(p + q);
    case CT_PY_SUB: return ct_lower_float(p - q);
    case CT_PY_MUL: return ct_lower_float(p * q);
    case CT_PY_DIV:
      if (q == 0) return ERR(x, "float division by zero");
      return ct_lower_float(p / q);
    case CT_PY_FLOORDIV:
      if (q == 0) return ERR(x, "float floor division by zero");
      return ct_lower_float(floor(p / q));
    case CT_PY_MOD:
      if (q == 0) return ERR(x, "float modulo by zero");
      return ct_lower_float(p - floor(p / q) * q);
    case CT_PY_POW: return ct_lower_float(pow(p, q));
    default: return ERR(x, "unsupported operator '%s' on numbers", ct_py_binop_str(op));
    }
  }
  if (a.kind == CT_LV_TUPLE && c.kind == CT_LV_TUPLE && op == CT_PY_ADD) {
    ct_lower_val t = ct_lower_tuple(L, a.n + c.n);
    memcpy(t.elts, a.elts, (size_t)a.n * sizeof *a.elts);
    memcpy(t.elts + a.n, c.elts, (size_t)c.n * sizeof *c.elts);
    return t;
  }
  if (a.kind != CT_LV_TENSOR && c.kind != CT_LV_TENSOR)
    return ERR(x, "unsupported operands for '%s': %s and %s", ct_py_binop_str(op),
               ct_lower_kind_name(a.kind), ct_lower_kind_name(c.kind));
  ct_dtype dt = a.kind == CT_LV_TENSOR ? a.t->type.dtype : c.t->type.dtype;
  ct_lower_set_loc(L, x);
  ct_value *p = ct_lower_to_tensor(L, a, dt), *q = ct_lower_to_tensor(L, c, dt);
  if (!p || !q)
    return ERR(x, "unsupported operands for '%s': a tensor and a value of type %s",
               ct_py_binop_str(op), ct_lower_kind_name((a.kind == CT_LV_TENSOR ? c : a).kind));
  ct_op o;
  switch (op) {
  case CT_PY_ADD: o = CT_OP_ADD; break;
  case CT_PY_SUB: o = CT_OP_SUB; break;
  case CT_PY_MUL: o = CT_OP_MUL; break;
  case CT_PY_DIV: o = CT_OP_DIV; break;
  case CT_PY_POW: o = CT_OP_POW; break;
  case CT_PY_MATMUL: o = CT_OP_MATMUL; break;
  case CT_PY_BITAND:
  case CT_PY_BITOR:
    if (dt != CT_DT_BOOL)
      return ERR(x, "unsupported: '%s' on %s tensors; supported: bool tensors", ct_py_binop_str(op),
                 ct_dtype_name(dt));
    o = op == CT_PY_BITAND ? CT_OP_LOGICAL_AND : CT_OP_LOGICAL_OR;
    break;
  default:
    return ERR(x, "unsupported operator on tensors: '%s'; supported: + - * / ** @, & | on bool",
               ct_py_binop_str(op));
  }
  return ct_lower_tensor(ct_build_binary(&L->b, o, p, q));
}

/* Evaluates a call's arguments for a module call: positional (with *tuple) and keywords. */
static bool call_args(ct_lower *L, ct_lower_env *e, const ct_py_expr *x, ct_lower_val *args, int *n,
                      ct_lower_env *kw) {
  *n = 0;
  for (int i = 0; i < x->u.call.args.n; i++) {
    const ct_py_expr *ax = x->u.call.args.items[i];
    bool starred = ax->kind == CT_PY_STARRED && !ax->u.starred.double_star;
    ct_lower_val v = ct_lower_eval(L, e, starred ? ax->u.starred.value : ax);
    if (v.kind == CT_LV_ERR) return false;
    int k = starred && v.kind == CT_LV_TUPLE ? v.n : 1;
    if (starred && v.kind != CT_LV_TUPLE) {
      ERR(ax, "unsupported: *%s in a call; supported: *tuple, *list", ct_lower_kind_name(v.kind));
      return false;
    }
    for (int j = 0; j < k; j++) {
      if (*n == 16) return ERR(ax, "more than 16 arguments"), false;
      args[(*n)++] = starred ? v.elts[j] : v;
    }
  }
  for (int i = 0; i < x->u.call.kwargs.n; i++) {
    const ct_py_keyword *k = &x->u.call.kwargs.items[i];
    if (!k->name) return ERR(k, "unsupported: **kwargs in a call"), false;
    if (ct_lower_env_get(kw, k->name)) {
      ERR(k, "keyword argument repeated: %s", k->name);
      return false;
    }
    ct_lower_val v = ct_lower_eval(L, e, k->value);
    if (v.kind == CT_LV_ERR) return false;
    ct_lower_env_set(L, kw, k->name, v);
  }
  return true;
}

/* self.register_buffer(name, torch.zeros/ones/randn/rand(...), persistent=True): a state_dict
 * entry that is not trained. */
static ct_lower_val register_buffer(ct_lower *L, ct_lower_env *e, const ct_py_expr *x,
                                    ct_lower_mod *m) {
  static const char *const nm[] = {"name", "tensor", "persistent"};
  ct_lower_val a[3];
  bool h[3];
  if (L->in_forward) return ERR(x, "unsupported: register_buffer in forward");
  if (!ct_lower_bind_args(L, e, x, "register_buffer", 3, nm, a, h)) return ct_lower_err_val();
  if (!h[0] || a[0].kind != CT_LV_STR) return ERR(x, "register_buffer needs a name string");
  if (!h[1] || a[1].kind != CT_LV_INIT)
    return ERR(x,
               "unsupported register_buffer tensor; supported: torch.zeros/ones/randn/rand(...), "
               "optionally times a number");
  if (h[2] && !ct_lower_truthy(a[2]))
    return ERR(x, "unsupported: register_buffer(persistent=False); supported: persistent buffers");
  ct_lower_param *p = ct_arena_memdup(L->arena, a[1].param, sizeof *p);
  p->kind = CT_PARAM_BUFFER;
  p->registered_buffer = true;
  ct_lower_val v = {0};
  v.kind = CT_LV_PARAM;
  v.param = p;
  ct_lower_mod_set(L, m, a[0].s, v);
  return ct_lower_none();
}

static ct_lower_val call(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  const ct_py_expr *f = x->u.call.func;
  if (f->kind == CT_PY_ATTR && f->u.attr.value->kind == CT_PY_CALL &&
      f->u.attr.value->u.call.func->kind == CT_PY_NAME &&
      strcmp(f->u.attr.value->u.call.func->u.name, "super") == 0)
    return ct_lower_none(); /* super().__init__() */
  if (f->kind == CT_PY_NAME && !ct_lower_env_get(e, f->u.name) &&
      !ct_lower_env_get(&L->imports, f->u.name)) {
    if (ct_lower_find_class(L, f->u.name)) {
      if (L->in_forward) return ERR(x, "unsupported: constructing a module in forward");
      return ct_lower_construct_user(L, e, x, ct_lower_find_class(L, f->u.name));
    }
    if (ct_lower_is_builtin(f->u.name)) return ct_lower_call_builtin(L, e, x, f->u.name);
  }
  ct_lower_val fv;
  if (f->kind == CT_PY_ATTR) {
    ct_lower_val recv = ct_lower_eval(L, e, f->u.attr.value);
    if (recv.kind == CT_LV_ERR) return recv;
    if (recv.kind == CT_LV_TENSOR) return ct_lower_call_function(L, e, x, f->u.attr.attr, &recv);
    if (recv.kind == CT_LV_MODULE && strcmp(f->u.attr.attr, "register_buffer") == 0)
      return register_buffer(L, e, x, recv.mod);
    if (recv.kind == CT_LV_NS) {
      const char *q = recv.s, *a = f->u.attr.attr;
      if (strcmp(q, "torch.nn") == 0) {
        if (L->in_forward) return ERR(x, "unsupported: constructing a module in forward");
        return ct_lower_construct_nn(L, e, x, a);
      }
      if (strcmp(q, "torch.nn.functional") == 0 || strcmp(q, "torch") == 0)
        return ct_lower_call_function(L, e, x, a, NULL);
      return ERR(x, "unsupported call: %s.%s", q, a);
    }
    fv = ct_lower_eval(L, e, f);
  } else {
    fv = ct_lower_eval(L, e, f);
  }
  if (fv.kind == CT_LV_ERR) return fv;
  if (fv.kind == CT_LV_MODULE) {
    if (!L->in_forward) return ERR(x, "unsupported: calling a module in __init__");
    ct_lower_val args[16];
    ct_lower_env kw = {0};
    int n;
    if (!call_args(L, e, x, args, &n, &kw)) return ct_lower_err_val();
    return ct_lower_call_module(L, fv.mod, x, n, args, &kw);
  }
  return ERR(x,
             "unsupported call: a value of type %s is not callable; supported: modules, torch.*, "
             "F.*, tensor methods",
             ct_lower_kind_name(fv.kind));
}

static ct_lower_val shape_tuple(ct_lower *L, const ct_type *ty) {
  ct_lower_val t = ct_lower_tuple(L, ty->rank);
  for (int i = 0; i < ty->rank; i++)
    t.elts[i] = ct_lower_dim(ty->dims[i]);
  return t;
}

ct_lower_val ct_lower_eval(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  switch (x->kind) {
  case CT_PY_INT: return ct_lower_int(x->u.i);
  case CT_PY_FLOAT: return ct_lower_float(x->u.f);
  case CT_PY_BOOL: {
    ct_lower_val v = ct_lower_int(x->u.b);
    v.kind = CT_LV_BOOL;
    return v;
  }
  case CT_PY_NONE: return ct_lower_none();
  case CT_PY_STR: {
    ct_lower_val v = {0};
    v.kind = CT_LV_STR;
    v.s = x->u.str.s;
    return v;
  }
  case CT_PY_NAME: {
    ct_lower_val *v = ct_lower_env_get(e, x->u.name);
    if (!v) v = ct_lower_env_get(&L->imports, x->u.name);
    if (!v) return ERR(x, "name '%s' is not defined", x->u.name);
    return *v;
  }
  case CT_PY_ATTR: {
    ct_lower_val o = ct_lower_eval(L, e, x->u.attr.value);
    const char *a = x->u.attr.attr;
    if (o.kind == CT_LV_ERR) return o;
    if (o.kind == CT_LV_MODULE) {
      ct_lower_env me = {o.mod->names, o.mod->vals, o.mod->n, o.mod->cap};
      ct_lower_val *v = ct_lower_env_get(&me, a);
      if (!v)
        return ERR(x, "%s has no attribute '%s'", o.mod->type_name ? o.mod->type_name : "module",
                   a);
      if (v->kind == CT_LV_PARAM && L->in_forward) return ct_lower_tensor(v->param->v);
      return *v;
    }
    if (o.kind == CT_LV_NS) {
      char q[256];
      snprintf(q, sizeof q, "%s.%s", o.s, a);
      if (strcmp(q, "torch.nn.functional") == 0 || strcmp(q, "torch.nn") == 0)
        return ct_lower_ns(L, q);
      static const char *const dtypes[] = {"float32", "float", "float64", "double", "int64",
                                           "long",    "int32", "int",     "bool"};
      for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(o.s, "torch") == 0 && strcmp(a, dtypes[i]) == 0) return ct_lower_ns(L, q);
      return ERR(x, "unsupported: %s", q);
    }
    if (o.kind == CT_LV_TENSOR && strcmp(a, "shape") == 0) return shape_tuple(L, &o.t->type);
    if (o.kind == CT_LV_TENSOR && strcmp(a, "ndim") == 0) return ct_lower_int(o.t->type.rank);
    if (o.kind == CT_LV_TENSOR && strcmp(a, "T") == 0 && o.t->type.rank <= 2) {
      if (o.t->type.rank < 2) return o;
      int64_t perm[2] = {1, 0};
      ct_lower_set_loc(L, x);
      return ct_lower_tensor(ct_build_permute(&L->b, o.t, 2, perm));
    }
    return ERR(x,
               "unsupported attribute: .%s of a value of type %s; supported: module "
               "attributes, .shape, .ndim, .T",
               a, ct_lower_kind_name(o.kind));
  }
  case CT_PY_SUBSCRIPT: return ct_lower_subscript(L, e, x);
  case CT_PY_TUPLE:
  case CT_PY_LIST: {
    ct_lower_val t = ct_lower_tuple(L, x->u.elts.n);
    for (int i = 0; i < t.n; i++) {
      t.elts[i] = ct_lower_eval(L, e, x->u.elts.items[i]);
      if (t.elts[i].kind == CT_LV_ERR) return ct_lower_err_val();
    }
    return t;
  }
  case CT_PY_LISTCOMP: return ct_lower_listcomp(L, e, x);
  case CT_PY_COMPARE: return ct_lower_compare(L, e, x);
  case CT_PY_BOOLOP: return ct_lower_boolop(L, e, x);
  case CT_PY_IFEXP: {
    bool t;
    if (!ct_lower_cond(L, x->u.ifexp.cond, ct_lower_eval(L, e, x->u.ifexp.cond), &t))
      return ct_lower_err_val();
    return ct_lower_eval(L, e, t ? x->u.ifexp.then : x->u.ifexp.orelse);
  }
  case CT_PY_UNARY: {
    ct_lower_val o = ct_lower_eval(L, e, x->u.unary.operand);
    if (o.kind == CT_LV_ERR) return o;
    ct_py_unop op = x->u.unary.op;
    if (op == CT_PY_NOT) {
      if (o.kind == CT_LV_TENSOR)
        return ERR(x, "unsupported: 'not' on a tensor; use ~ or torch.logical_not");
      bool t;
      if (!ct_lower_cond(L, x->u.unary.operand, o, &t)) return ct_lower_err_val();
      ct_lower_val v = ct_lower_int(!t);
      v.kind = CT_LV_BOOL;
      return v;
    }
    if (op == CT_PY_POS && (is_num(o) || o.kind == CT_LV_TENSOR)) return o;
    if (op == CT_PY_NEG) {
      if ((o.kind == CT_LV_INT || o.kind == CT_LV_BOOL)) {
        ct_dim r;
        if (ct_dim_mul(o.i, ct_dim_const(-1), &r)) return ct_lower_dim(r);
      }
      if (o.kind == CT_LV_FLOAT) return ct_lower_float(-o.f);
      if (o.kind == CT_LV_TENSOR) {
        ct_lower_set_loc(L, x);
        return ct_lower_tensor(ct_build_unary(&L->b, CT_OP_NEG, o.t));
      }
      if (o.kind == CT_LV_INIT) return ct_lower_binary(L, x, CT_PY_MUL, o, ct_lower_int(-1));
    }
    if (op == CT_PY_INVERT) {
      if (o.kind == CT_LV_TENSOR && o.t->type.dtype == CT_DT_BOOL) {
        ct_lower_set_loc(L, x);
        return ct_lower_tensor(ct_build_unary(&L->b, CT_OP_LOGICAL_NOT, o.t));
      }
      if (o.kind == CT_LV_INT && ct_dim_is_const(o.i)) return ct_lower_int(~o.i.off);
    }
    return ERR(x, "unsupported unary operator '%s' on a value of type %s", ct_py_unop_str(op),
               ct_lower_kind_name(o.kind));
  }
  case CT_PY_BINARY: {
    ct_lower_val a = ct_lower_eval(L, e, x->u.binary.lhs), c = ct_lower_eval(L, e, x->u.binary.rhs);
    return ct_lower_binary(L, x, x->u.binary.op, a, c);
  }
  case CT_PY_CALL: return call(L, e, x);
  default:
    return ERR(x,
               "unsupported expression: %s; supported: names, attributes, calls, numbers, "
               "strings, tuples, lists, list comprehensions, arithmetic, comparisons, and/or/not, "
               "conditional expressions, subscripts",
               ct_py_expr_kind_name(x->kind));
  }
}

/* A built-in module's forward(input): one positional argument or input=. */
static bool module_input(ct_lower *L, ct_lower_mod *m, const ct_py_expr *site, int n,
                         ct_lower_val *args, ct_lower_env *kw, ct_lower_val *out) {
  const char *name = m->type_name ? m->type_name : "module";
  for (int i = 0; kw && i < kw->n; i++)
    if (strcmp(kw->names[i], "input") != 0 || n > 0) {
      ct_lower_error(L, site->line, site->col,
                     strcmp(kw->names[i], "input") == 0
                         ? "%s.forward() got multiple values for argument '%s'"
                         : "%s.forward() got an unexpected keyword argument '%s'; supported: input",
                     name, kw->names[i]);
      return false;
    }
  int total = n + (kw ? kw->n : 0);
  if (total != 1) {
    ct_lower_error(L, site->line, site->col,
                   "%s.forward() takes 1 argument (input) but %d were given", name, total);
    return false;
  }
  *out = n ? args[0] : kw->vals[0];
  if (out->kind == CT_LV_ERR) return false;
  if (out->kind != CT_LV_TENSOR) {
    ct_lower_error(L, site->line, site->col, "%s expects a tensor, got a value of type %s", name,
                   ct_lower_kind_name(out->kind));
    return false;
  }
  return true;
}

ct_lower_val ct_lower_call_module(ct_lower *L, ct_lower_mod *m, const ct_py_expr *site, int n,
                                  ct_lower_val *args, ct_lower_env *kw) {
  if (m->kind == CT_LM_USER) {
    const ct_py_stmt *fwd = ct_lower_find_method(m->cls, "forward");
    if (!fwd) return ERR(site, "class %s has no forward method", m->cls->u.class_.name);
    if (++L->depth > 64) return ERR(site, "modules nested too deeply");
    ct_lower_env e = {0};
    const char *outer = L->cur_class;
    L->cur_class = m->cls->u.class_.name;
    ct_lower_env_set(L, &e, "self", ct_lower_modv(m));
    ct_lower_val r = ct_lower_bind_params(L, &e, fwd, site->line, site->col, n, args, kw)
                         ? ct_lower_body(L, &e, &fwd->u.def.body, m)
                         : ct_lower_err_val();
    L->cur_class = outer;
    L->depth--;
    return r;
  }
  if (m->kind == CT_LM_LIST)
    return ERR(site, "nn.ModuleList is not callable; iterate over it or index it");
  ct_lower_val in;
  if (!module_input(L, m, site, n, args, kw, &in)) return ct_lower_err_val();
  ct_value *x = in.t;
  ct_lower_set_loc(L, site);
  switch (m->kind) {
  case CT_LM_LINEAR: {
    ct_value *ops[3] = {x, m->weight_v, m->bias_v};
    return ct_lower_tensor(ct_build(&L->b, CT_OP_LINEAR, m->bias ? 3 : 2, ops, NULL, 0));
  }
  case CT_LM_CONV2D: {
    ct_value *ops[3] = {x, m->weight_v, m->bias_v};
    ct_attr at[4] = {ct_attr_ints("stride", 2, m->stride), ct_attr_ints("padding", 2, m->pad),
                     ct_attr_ints("dilation", 2, m->dil), ct_attr_int("groups", m->groups)};
    return ct_lower_tensor(ct_build(&L->b, CT_OP_CONV2D, m->bias ? 3 : 2, ops, at, 4));
  }
  case CT_LM_MAXPOOL: return ct_lower_pool(L, site, true, x, m);
  case CT_LM_AVGPOOL: return ct_lower_pool(L, site, false, x, m);
  case CT_LM_ADAPTIVE_AVGPOOL: return ct_lower_adaptive_avg_pool(L, site, x, m->k);
  case CT_LM_ACT:
    if (m->op == CT_OP_GELU && strcmp(m->approximate, "none") != 0) {
      ct_attr at = ct_attr_str("approximate", m->approximate);
      return ct_lower_tensor(ct_build(&L->b, CT_OP_GELU, 1, &x, &at, 1));
    }
    return ct_lower_tensor(ct_build_unary(&L->b, m->op, x));
  case CT_LM_SOFTMAX: {
    ct_attr at = ct_attr_int("dim", m->start_dim);
    return ct_lower_tensor(ct_build(&L->b, m->op, 1, &x, &at, 1));
  }
  case CT_LM_LEAKY_RELU: return ct_lower_leaky_relu(L, site, x, m->eps);
  case CT_LM_IDENTITY: return in;
  case CT_LM_DROPOUT: return ct_lower_dropout(L, site, x, m->eps);
  case CT_LM_FLATTEN: return ct_lower_flatten(L, site, x, m->start_dim, m->end_dim);
  case CT_LM_BATCHNORM: {
    int r = x->type.rank;
    if (m->k[0] == 4 ? r != 4 : (r != 2 && r != 3)) {
      char ty[128];
      ct_type_format(L->m, &x->type, ty, sizeof ty);
      return ERR(site, "%s expects a rank-%s input, got %s", m->type_name,
                 m->k[0] == 4 ? "4" : "2 or 3", ty);
    }
    ct_value *w = m->weight_v, *b = m->bias_v;
    if (!m->bias) {
      ct_type t = ct_type_concrete(x->type.dtype, 1, &m->out);
      w = ct_build_full(&L->b, &t, 1.0);
      b = ct_build_full(&L->b, &t, 0.0);
    }
    ct_value *ops[5] = {x, w, b, m->mean_v, m->var_v};
    ct_attr at = ct_attr_float("eps", m->eps);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_BATCH_NORM, 5, ops, &at, 1));
  }
  case CT_LM_LAYERNORM: {
    ct_value *ops[3] = {x, m->weight_v, m->bias_v};
    ct_attr at[2] = {ct_attr_ints("normalized_shape", m->n_norm, m->norm_shape),
                     ct_attr_float("eps", m->eps)};
    return ct_lower_tensor(ct_build(&L->b, CT_OP_LAYER_NORM, m->bias ? 3 : 1, ops, at, 2));
  }
  case CT_LM_EMBEDDING: {
    ct_value *ops[2] = {x, m->weight_v};
    ct_attr at = ct_attr_int("padding_idx", m->padding_idx);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_EMBEDDING, 2, ops, &at, 1));
  }
  case CT_LM_SEQ: {
    ct_lower_val v = in;
    for (int i = 0; i < m->n && v.kind != CT_LV_ERR; i++)
      if (m->vals[i].kind == CT_LV_MODULE)
        v = ct_lower_call_module(L, m->vals[i].mod, site, 1, &v, NULL);
    return v;
  }
  case CT_LM_LIST:
  case CT_LM_USER: break;
  }
  return ct_lower_err_val();
}
