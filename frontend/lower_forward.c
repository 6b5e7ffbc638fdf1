/* frontend/lower_forward.c: the forward side of the lowering: expressions over tensors and
 * compile-time sizes, module calls, torch.* / F.* functions and tensor methods, built as IR. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

/* ---- expressions -------------------------------------------------------------------------- */

static const char *value_kind_name(ct_lower_val_kind k) {
  static const char *const names[] = {"error", "None",  "int",    "float",  "bool",
                                      "str",   "tuple", "tensor", "module", "namespace"};
  return names[k];
}

void ct_lower_set_loc(ct_lower *L, const ct_py_expr *x) {
  L->b.loc.file = L->file;
  L->b.loc.line = x->line;
  L->b.loc.col = x->col;
}

/* A tensor operand: tensors as they are, Python numbers as rank-0 constants of like's dtype. */
static ct_value *to_tensor(ct_lower *L, ct_lower_val v, ct_dtype like) {
  if (v.kind == CT_LV_TENSOR) return v.t;
  if (v.kind == CT_LV_FLOAT) return ct_build_scalar(&L->b, like, v.f);
  if ((v.kind == CT_LV_INT || v.kind == CT_LV_BOOL) && ct_dim_is_const(v.i))
    return ct_build_scalar(&L->b, like, (double)v.i.off);
  return NULL;
}

ct_lower_val ct_lower_binary(ct_lower *L, const ct_py_expr *x, ct_py_binop op, ct_lower_val a,
                             ct_lower_val c) {
  if (a.kind == CT_LV_ERR || c.kind == CT_LV_ERR) return ct_lower_err_val();
  if (a.kind == CT_LV_INT && c.kind == CT_LV_INT) {
    ct_dim r;
    bool ok = op == CT_PY_ADD        ? ct_dim_add(a.i, c.i, &r)
              : op == CT_PY_SUB      ? ct_dim_sub(a.i, c.i, &r)
              : op == CT_PY_MUL      ? ct_dim_mul(a.i, c.i, &r)
              : op == CT_PY_FLOORDIV ? ct_dim_div(a.i, c.i, &r)
                                     : false;
    if (ok) return ct_lower_dim(r);
    if (op == CT_PY_DIV && ct_dim_is_const(a.i) && ct_dim_is_const(c.i) && c.i.off)
      return ct_lower_float((double)a.i.off / (double)c.i.off);
    return ERR(x, "unsupported integer expression: '%s'; supported: + - * // on sizes",
               ct_py_binop_str(op));
  }
  if ((a.kind == CT_LV_FLOAT || a.kind == CT_LV_INT) &&
      (c.kind == CT_LV_FLOAT || c.kind == CT_LV_INT)) {
    if (!ct_dim_is_const(a.i) || !ct_dim_is_const(c.i))
      return ERR(x, "unsupported: float arithmetic on a symbolic size");
    double p = a.kind == CT_LV_FLOAT ? a.f : (double)a.i.off,
           q = c.kind == CT_LV_FLOAT ? c.f : (double)c.i.off;
    switch (op) {
    case CT_PY_ADD: return ct_lower_float(p + q);
    case CT_PY_SUB: return ct_lower_float(p - q);
    case CT_PY_MUL: return ct_lower_float(p * q);
    case CT_PY_DIV: return ct_lower_float(p / q);
    default: return ERR(x, "unsupported operator '%s' on numbers", ct_py_binop_str(op));
    }
  }
  if (a.kind != CT_LV_TENSOR && c.kind != CT_LV_TENSOR)
    return ERR(x, "unsupported operands for '%s'", ct_py_binop_str(op));
  ct_dtype dt = a.kind == CT_LV_TENSOR ? a.t->type.dtype : c.t->type.dtype;
  ct_lower_set_loc(L, x);
  ct_value *p = to_tensor(L, a, dt), *q = to_tensor(L, c, dt);
  if (!p || !q)
    return ERR(x, "unsupported operands for '%s': a tensor and a non-number", ct_py_binop_str(op));
  ct_op o;
  switch (op) {
  case CT_PY_ADD: o = CT_OP_ADD; break;
  case CT_PY_SUB: o = CT_OP_SUB; break;
  case CT_PY_MUL: o = CT_OP_MUL; break;
  case CT_PY_DIV: o = CT_OP_DIV; break;
  case CT_PY_POW: o = CT_OP_POW; break;
  case CT_PY_MATMUL: o = CT_OP_MATMUL; break;
  default:
    return ERR(x, "unsupported operator on tensors: '%s'; supported: + - * / ** @",
               ct_py_binop_str(op));
  }
  return ct_lower_tensor(ct_build_binary(&L->b, o, p, q));
}

bool ct_lower_tensor_arg(ct_lower *L, const ct_py_expr *x, ct_lower_val v, const char *what) {
  if (v.kind == CT_LV_ERR) return false;
  if (v.kind != CT_LV_TENSOR) {
    ERR(x, "%s expects a tensor", what);
    return false;
  }
  return true;
}

/* view/reshape: resolves one -1 from the element count, keeping symbolic dims. */
static ct_lower_val reshape(ct_lower *L, const ct_py_expr *x, ct_value *t, int n,
                            const ct_lower_val *dims) {
  ct_dim shape[CT_MAX_RANK], known = ct_dim_const(1), numel;
  int hole = -1;
  if (n > CT_MAX_RANK) return ERR(x, "too many dims");
  for (int i = 0; i < n; i++) {
    if (dims[i].kind != CT_LV_INT) return ERR(x, "view/reshape expects integer sizes");
    shape[i] = dims[i].i;
    if (ct_dim_is_const(shape[i]) && shape[i].off == -1) {
      if (hole >= 0) return ERR(x, "only one dimension can be -1");
      hole = i;
    } else if (!ct_dim_mul(known, shape[i], &known)) {
      return ERR(x, "unsupported symbolic shape in view/reshape");
    }
  }
  if (hole >= 0) {
    if (!ct_type_numel(&t->type, &numel) || !ct_dim_div(numel, known, &shape[hole]))
      return ERR(x, "cannot infer the -1 dimension of view/reshape");
  }
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build_reshape(&L->b, t, n, shape));
}

static ct_lower_val flatten(ct_lower *L, const ct_py_expr *x, ct_value *t, int64_t start,
                            int64_t end) {
  int r = t->type.rank, s = ct_norm_dim(start, r), e = ct_norm_dim(end, r);
  if (r == 0) s = e = 0;
  if (s < 0 || e < 0 || s > e) return ERR(x, "flatten dims out of range");
  ct_dim shape[CT_MAX_RANK];
  int n = 0;
  for (int i = 0; i < s; i++)
    shape[n++] = t->type.dims[i];
  ct_dim p = ct_dim_const(1);
  for (int i = s; i <= e && i < r; i++)
    if (!ct_dim_mul(p, t->type.dims[i], &p)) return ERR(x, "unsupported symbolic shape in flatten");
  shape[n++] = p;
  for (int i = e + 1; i < r; i++)
    shape[n++] = t->type.dims[i];
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build_reshape(&L->b, t, n, shape));
}

static bool dims_list(ct_lower *L, const ct_py_expr *x, ct_lower_val v, int64_t *out, int *n) {
  if (v.kind == CT_LV_TUPLE) {
    *n = 0;
    for (int i = 0; i < v.n && i < CT_MAX_RANK; i++)
      if (!ct_lower_as_int(L, x, v.elts[i], &out[(*n)++])) return false;
    return true;
  }
  *n = 1;
  return ct_lower_as_int(L, x, v, &out[0]);
}

static ct_lower_val reduce(ct_lower *L, const ct_py_expr *x, ct_op op, ct_value *t,
                           ct_lower_val dim, ct_lower_val keep) {
  int64_t dims[CT_MAX_RANK];
  int n = 0;
  if (dim.kind != CT_LV_NONE && !dims_list(L, x, dim, dims, &n)) return ct_lower_err_val();
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build_reduce(&L->b, op, t, n, dims, ct_lower_truthy(keep)));
}

static ct_lower_val pool(ct_lower *L, const ct_py_expr *x, ct_op op, ct_value *t,
                         const int64_t k[2], const int64_t s[2], const int64_t p[2]) {
  ct_attr at[3] = {ct_attr_ints("kernel_size", 2, k), ct_attr_ints("stride", 2, s),
                   ct_attr_ints("padding", 2, p)};
  ct_lower_set_loc(L, x);
  return ct_lower_tensor(ct_build(&L->b, op, 1, &t, at, 3));
}

static ct_op activation(const char *name) {
  static const struct {
    const char *name;
    ct_op op;
  } t[] = {{"relu", CT_OP_RELU}, {"gelu", CT_OP_GELU},       {"silu", CT_OP_SILU},
           {"tanh", CT_OP_TANH}, {"sigmoid", CT_OP_SIGMOID}, {"exp", CT_OP_EXP},
           {"log", CT_OP_LOG},   {"sqrt", CT_OP_SQRT},       {"abs", CT_OP_ABS},
           {"neg", CT_OP_NEG}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(name, t[i].name) == 0) return t[i].op;
  return CT_OP_COUNT;
}

/* torch.*, F.* and tensor methods, after the receiver (for methods) is the first argument. */
static ct_lower_val call_function(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                  const char *fn, ct_lower_val *self) {
  static const char supported[] =
      "F.relu/gelu/silu, torch.tanh/sigmoid, F.softmax, F.log_softmax, F.max_pool2d, "
      "F.avg_pool2d, torch.flatten, torch.matmul, torch.cat, .view, .reshape, .flatten, "
      ".size, .mean, .sum";
  ct_lower_val a[4];
  bool h[4];
  const ct_py_expr_list *args = &call->u.call.args;
  ct_op act = activation(fn);
  /* Methods take the receiver as their first parameter: prepend it by binding with offset. */
  if (act != CT_OP_COUNT) {
    static const char *const nm[] = {"input", "inplace"};
    if (self) {
      if (!ct_lower_bind_args(L, e, call, fn, 0, nm + 1, a + 1, h + 1)) return ct_lower_err_val();
      a[0] = *self;
    } else if (!ct_lower_bind_args(L, e, call, fn, 2, nm, a, h))
      return ct_lower_err_val();
    if (!ct_lower_tensor_arg(L, call, a[0], fn)) return ct_lower_err_val();
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build_unary(&L->b, act, a[0].t));
  }
  if (strcmp(fn, "softmax") == 0 || strcmp(fn, "log_softmax") == 0) {
    static const char *const nm[] = {"input", "dim"};
    int off = self ? 1 : 0;
    if (!ct_lower_bind_args(L, e, call, fn, 2 - off, nm + off, a + off, h + off))
      return ct_lower_err_val();
    if (self) a[0] = *self;
    int64_t d;
    if (!ct_lower_tensor_arg(L, call, a[0], fn)) return ct_lower_err_val();
    if (!h[1]) return ERR(call, "%s needs dim=", fn);
    if (!ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    ct_attr at = ct_attr_int("dim", d);
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(
        ct_build(&L->b, fn[0] == 's' ? CT_OP_SOFTMAX : CT_OP_LOG_SOFTMAX, 1, &a[0].t, &at, 1));
  }
  if (strcmp(fn, "max_pool2d") == 0 || strcmp(fn, "avg_pool2d") == 0) {
    static const char *const nm[] = {"input", "kernel_size", "stride", "padding"};
    if (self || !ct_lower_bind_args(L, e, call, fn, 4, nm, a, h))
      return self ? ERR(call, "unsupported method: %s", fn) : ct_lower_err_val();
    int64_t k[2], s[2], p[2] = {0, 0};
    if (!ct_lower_tensor_arg(L, call, a[0], fn) || !ct_lower_as_pair(L, call, a[1], k))
      return ct_lower_err_val();
    s[0] = k[0], s[1] = k[1];
    if (h[2] && a[2].kind != CT_LV_NONE && !ct_lower_as_pair(L, call, a[2], s))
      return ct_lower_err_val();
    if (h[3] && !ct_lower_as_pair(L, call, a[3], p)) return ct_lower_err_val();
    return pool(L, call, fn[0] == 'm' ? CT_OP_MAX_POOL2D : CT_OP_AVG_POOL2D, a[0].t, k, s, p);
  }
  if (strcmp(fn, "flatten") == 0) {
    static const char *const nm[] = {"input", "start_dim", "end_dim"};
    int off = self ? 1 : 0;
    if (!ct_lower_bind_args(L, e, call, fn, 3 - off, nm + off, a + off, h + off))
      return ct_lower_err_val();
    if (self) a[0] = *self;
    int64_t s = 0, en = -1;
    if (!ct_lower_tensor_arg(L, call, a[0], fn)) return ct_lower_err_val();
    if ((h[1] && !ct_lower_as_int(L, call, a[1], &s)) ||
        (h[2] && !ct_lower_as_int(L, call, a[2], &en)))
      return ct_lower_err_val();
    return flatten(L, call, a[0].t, s, en);
  }
  if (strcmp(fn, "matmul") == 0 || strcmp(fn, "mm") == 0) {
    static const char *const nm[] = {"input", "other"};
    int off = self ? 1 : 0;
    if (!ct_lower_bind_args(L, e, call, fn, 2 - off, nm + off, a + off, h + off))
      return ct_lower_err_val();
    if (self) a[0] = *self;
    if (!ct_lower_tensor_arg(L, call, a[0], fn) || !ct_lower_tensor_arg(L, call, a[1], fn))
      return ct_lower_err_val();
    return ct_lower_binary(L, call, CT_PY_MATMUL, a[0], a[1]);
  }
  if (strcmp(fn, "cat") == 0 && !self) {
    static const char *const nm[] = {"tensors", "dim"};
    if (!ct_lower_bind_args(L, e, call, fn, 2, nm, a, h)) return ct_lower_err_val();
    int64_t d = 0;
    if (h[1] && !ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    if (a[0].kind != CT_LV_TUPLE || a[0].n == 0 || a[0].n > 64)
      return ERR(call, "torch.cat expects a list of tensors");
    ct_value *ts[64];
    for (int i = 0; i < a[0].n; i++) {
      if (!ct_lower_tensor_arg(L, call, a[0].elts[i], fn)) return ct_lower_err_val();
      ts[i] = a[0].elts[i].t;
    }
    ct_attr at = ct_attr_int("dim", d);
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_CONCAT, a[0].n, ts, &at, 1));
  }
  if (self && (strcmp(fn, "view") == 0 || strcmp(fn, "reshape") == 0)) {
    if (call->u.call.kwargs.n)
      return ERR(&call->u.call.kwargs.items[0], "%s takes no keyword arguments", fn);
    ct_lower_val d[CT_MAX_RANK];
    int n = 0;
    for (int i = 0; i < args->n && n < CT_MAX_RANK; i++) {
      ct_lower_val v = ct_lower_eval(L, e, args->items[i]);
      if (v.kind == CT_LV_ERR) return v;
      if (v.kind == CT_LV_TUPLE && args->n == 1) {
        for (int j = 0; j < v.n && n < CT_MAX_RANK; j++)
          d[n++] = v.elts[j];
      } else {
        d[n++] = v;
      }
    }
    return reshape(L, call, self->t, n, d);
  }
  if (self && strcmp(fn, "size") == 0) {
    static const char *const nm[] = {"dim"};
    if (!ct_lower_bind_args(L, e, call, fn, 1, nm, a, h)) return ct_lower_err_val();
    const ct_type *ty = &self->t->type;
    if (!h[0]) {
      ct_lower_val t = {0};
      t.kind = CT_LV_TUPLE;
      t.n = ty->rank;
      t.elts = ct_arena_alloc(L->arena, (size_t)(ty->rank + 1) * sizeof *t.elts);
      for (int i = 0; i < ty->rank; i++)
        t.elts[i] = ct_lower_dim(ty->dims[i]);
      return t;
    }
    int64_t d;
    if (!ct_lower_as_int(L, call, a[0], &d)) return ct_lower_err_val();
    int k = ct_norm_dim(d, ty->rank);
    if (k < 0) return ERR(call, "dim %lld out of range for rank %d", (long long)d, ty->rank);
    return ct_lower_dim(ty->dims[k]);
  }
  if (self && (strcmp(fn, "mean") == 0 || strcmp(fn, "sum") == 0)) {
    static const char *const nm[] = {"dim", "keepdim"};
    if (!ct_lower_bind_args(L, e, call, fn, 2, nm, a, h)) return ct_lower_err_val();
    return reduce(L, call, fn[0] == 'm' ? CT_OP_MEAN : CT_OP_SUM, self->t, a[0], a[1]);
  }
  return ERR(call, "unsupported call: %s%s; supported: %s", self ? "method ." : "", fn, supported);
}

static ct_lower_val call(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  const ct_py_expr *f = x->u.call.func;
  if (f->kind == CT_PY_ATTR && f->u.attr.value->kind == CT_PY_CALL &&
      f->u.attr.value->u.call.func->kind == CT_PY_NAME &&
      strcmp(f->u.attr.value->u.call.func->u.name, "super") == 0)
    return ct_lower_none(); /* super().__init__() */
  if (f->kind == CT_PY_NAME && !ct_lower_env_get(e, f->u.name) &&
      ct_lower_find_class(L, f->u.name)) {
    if (L->in_forward) return ERR(x, "unsupported: constructing a module in forward");
    return ct_lower_construct_user(L, e, x, ct_lower_find_class(L, f->u.name));
  }
  ct_lower_val fv;
  if (f->kind == CT_PY_ATTR) {
    ct_lower_val recv = ct_lower_eval(L, e, f->u.attr.value);
    if (recv.kind == CT_LV_ERR) return recv;
    if (recv.kind == CT_LV_TENSOR) return call_function(L, e, x, f->u.attr.attr, &recv);
    if (recv.kind == CT_LV_NS) {
      const char *q = recv.s, *a = f->u.attr.attr;
      if (strcmp(q, "torch.nn") == 0) {
        if (L->in_forward) return ERR(x, "unsupported: constructing a module in forward");
        return ct_lower_construct_nn(L, e, x, a);
      }
      if (strcmp(q, "torch.nn.functional") == 0 || strcmp(q, "torch") == 0)
        return call_function(L, e, x, a, NULL);
      return ERR(x, "unsupported call: %s.%s", q, a);
    }
    fv = ct_lower_eval(L, e, f);
  } else {
    fv = ct_lower_eval(L, e, f);
  }
  if (fv.kind == CT_LV_ERR) return fv;
  if (fv.kind == CT_LV_MODULE) {
    if (!L->in_forward) return ERR(x, "unsupported: calling a module in __init__");
    if (x->u.call.kwargs.n)
      return ERR(&x->u.call.kwargs.items[0], "unsupported: keyword arguments to a module call");
    ct_lower_val args[16];
    int n = 0;
    for (int i = 0; i < x->u.call.args.n && n < 16; i++) {
      args[n] = ct_lower_eval(L, e, x->u.call.args.items[i]);
      if (args[n++].kind == CT_LV_ERR) return ct_lower_err_val();
    }
    return ct_lower_call_module(L, fv.mod, x, n, args);
  }
  return ERR(x,
             "unsupported call: a value of type %s is not callable; supported: modules, torch.*, "
             "F.*, tensor "
             "methods",
             value_kind_name(fv.kind));
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
      if (!v) return ERR(x, "module has no attribute '%s'", a);
      return *v;
    }
    if (o.kind == CT_LV_NS) {
      char q[256];
      snprintf(q, sizeof q, "%s.%s", o.s, a);
      if (strcmp(q, "torch.nn.functional") == 0 || strcmp(q, "torch.nn") == 0)
        return ct_lower_ns(L, q);
      if (strcmp(q, "torch.float32") == 0) return ct_lower_ns(L, q);
      return ERR(x, "unsupported: %s", q);
    }
    if (o.kind == CT_LV_TENSOR && strcmp(a, "shape") == 0) {
      ct_lower_val t = {0};
      const ct_type *ty = &o.t->type;
      t.kind = CT_LV_TUPLE;
      t.n = ty->rank;
      t.elts = ct_arena_alloc(L->arena, (size_t)(ty->rank + 1) * sizeof *t.elts);
      for (int i = 0; i < ty->rank; i++)
        t.elts[i] = ct_lower_dim(ty->dims[i]);
      return t;
    }
    return ERR(x, "unsupported attribute: .%s; supported: module attributes, .shape", a);
  }
  case CT_PY_SUBSCRIPT: {
    ct_lower_val o = ct_lower_eval(L, e, x->u.sub.value), i = ct_lower_eval(L, e, x->u.sub.index);
    int64_t k;
    if (o.kind == CT_LV_ERR || i.kind == CT_LV_ERR) return ct_lower_err_val();
    if (o.kind == CT_LV_TUPLE && ct_lower_as_int(L, x->u.sub.index, i, &k)) {
      if (k < 0) k += o.n;
      if (k < 0 || k >= o.n) return ERR(x, "index %lld out of range", (long long)k);
      return o.elts[k];
    }
    if (o.kind == CT_LV_MODULE && o.mod->kind == CT_LM_SEQ &&
        ct_lower_as_int(L, x->u.sub.index, i, &k)) {
      if (k < 0) k += o.mod->n;
      if (k < 0 || k >= o.mod->n) return ERR(x, "index %lld out of range", (long long)k);
      return o.mod->vals[k];
    }
    return ERR(x, "unsupported subscript: %s[...]; supported: tuple[i], x.shape[i], Sequential[i]",
               value_kind_name(o.kind));
  }
  case CT_PY_TUPLE:
  case CT_PY_LIST: {
    ct_lower_val t = {0};
    t.kind = CT_LV_TUPLE;
    t.n = x->u.elts.n;
    t.elts = ct_arena_alloc(L->arena, (size_t)(t.n + 1) * sizeof *t.elts);
    for (int i = 0; i < t.n; i++) {
      t.elts[i] = ct_lower_eval(L, e, x->u.elts.items[i]);
      if (t.elts[i].kind == CT_LV_ERR) return ct_lower_err_val();
    }
    return t;
  }
  case CT_PY_UNARY: {
    ct_lower_val o = ct_lower_eval(L, e, x->u.unary.operand);
    if (o.kind == CT_LV_ERR) return o;
    if (x->u.unary.op == CT_PY_POS) return o;
    if (x->u.unary.op == CT_PY_NEG) {
      if (o.kind == CT_LV_INT && ct_dim_is_const(o.i)) return ct_lower_int(-o.i.off);
      if (o.kind == CT_LV_FLOAT) return ct_lower_float(-o.f);
      if (o.kind == CT_LV_TENSOR) {
        ct_lower_set_loc(L, x);
        return ct_lower_tensor(ct_build_unary(&L->b, CT_OP_NEG, o.t));
      }
    }
    return ERR(x, "unsupported unary operator '%s'", ct_py_unop_str(x->u.unary.op));
  }
  case CT_PY_BINARY: {
    ct_lower_val a = ct_lower_eval(L, e, x->u.binary.lhs), c = ct_lower_eval(L, e, x->u.binary.rhs);
    return ct_lower_binary(L, x, x->u.binary.op, a, c);
  }
  case CT_PY_CALL: return call(L, e, x);
  default:
    return ERR(x,
               "unsupported expression: %s; supported: names, attributes, calls, numbers, "
               "tuples, lists, arithmetic, subscripts",
               ct_py_expr_kind_name(x->kind));
  }
}

ct_lower_val ct_lower_call_module(ct_lower *L, ct_lower_mod *m, const ct_py_expr *site, int n,
                                  ct_lower_val *args) {
  if (m->kind == CT_LM_USER) {
    const ct_py_stmt *fwd = ct_lower_find_method(m->cls, "forward");
    if (!fwd) return ERR(site, "class %s has no forward", m->cls->u.class_.name);
    if (++L->depth > 64) return ERR(site, "modules nested too deeply");
    ct_lower_env e = {0};
    ct_lower_env_set(L, &e, "self", ct_lower_modv(m));
    ct_lower_val r = ct_lower_bind_params(L, &e, fwd, site->line, site->col, n, args, NULL)
                         ? ct_lower_body(L, &e, &fwd->u.def.body, m)
                         : ct_lower_err_val();
    L->depth--;
    return r;
  }
  if (n != 1) return ERR(site, "this module takes one tensor argument");
  if (!ct_lower_tensor_arg(L, site, args[0], "module call")) return ct_lower_err_val();
  ct_value *x = args[0].t;
  ct_lower_set_loc(L, site);
  switch (m->kind) {
  case CT_LM_LINEAR: {
    ct_value *in[3] = {x, m->weight_v, m->bias_v};
    return ct_lower_tensor(ct_build(&L->b, CT_OP_LINEAR, m->bias ? 3 : 2, in, NULL, 0));
  }
  case CT_LM_CONV2D: {
    ct_value *in[3] = {x, m->weight_v, m->bias_v};
    ct_attr at[4] = {ct_attr_ints("stride", 2, m->stride), ct_attr_ints("padding", 2, m->pad),
                     ct_attr_ints("dilation", 2, m->dil), ct_attr_int("groups", m->groups)};
    return ct_lower_tensor(ct_build(&L->b, CT_OP_CONV2D, m->bias ? 3 : 2, in, at, 4));
  }
  case CT_LM_MAXPOOL: return pool(L, site, CT_OP_MAX_POOL2D, x, m->k, m->stride, m->pad);
  case CT_LM_AVGPOOL: return pool(L, site, CT_OP_AVG_POOL2D, x, m->k, m->stride, m->pad);
  case CT_LM_ACT: return ct_lower_tensor(ct_build_unary(&L->b, m->op, x));
  case CT_LM_IDENTITY: return args[0];
  case CT_LM_FLATTEN: return flatten(L, site, x, m->start_dim, m->end_dim);
  case CT_LM_SEQ: {
    ct_lower_val v = args[0];
    for (int i = 0; i < m->n && v.kind != CT_LV_ERR; i++)
      if (m->vals[i].kind == CT_LV_MODULE) v = ct_lower_call_module(L, m->vals[i].mod, site, 1, &v);
    return v;
  }
  case CT_LM_USER: break;
  }
  return ct_lower_err_val();
}
