/* frontend/lower.c: lowers a parsed model.py to IR: checks the imports, evaluates the root
 * nn.Module class's __init__ symbolically into a tree of modules (parameters named and ordered
 * like PyTorch's state_dict), then evaluates forward into graph @forward with the builder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

typedef enum vkind { V_ERR, V_NONE, V_INT, V_FLOAT, V_BOOL, V_STR, V_TUPLE, V_TENSOR, V_MODULE, V_NS } vkind;

typedef struct nnmod nnmod;

/* A compile-time value. Ints are dims so x.shape[0] can stay symbolic. */
typedef struct val {
  vkind kind;
  ct_dim i;
  double f;
  const char *s; /* V_STR text, V_NS dotted name ("torch.nn.functional") */
  ct_value *t;
  nnmod *mod;
  struct val *elts;
  int n;
} val;

typedef enum mkind { M_LINEAR, M_CONV2D, M_MAXPOOL, M_AVGPOOL, M_ACT, M_IDENTITY, M_FLATTEN, M_SEQ, M_USER } mkind;

struct nnmod {
  mkind kind;
  ct_op op;                    /* M_ACT */
  int64_t in, out, groups;     /* Linear, Conv2d */
  int64_t k[2], stride[2], pad[2], dil[2];
  bool bias;
  int64_t start_dim, end_dim;  /* Flatten */
  const ct_py_stmt *cls;       /* M_USER */
  const char **names;          /* attributes and children, in assignment order */
  val *vals;
  int n, cap;
  ct_value *weight_v, *bias_v; /* graph inputs, once the forward graph exists */
};

typedef struct env {
  const char **names;
  val *vals;
  int n, cap;
} env;

typedef struct lower {
  ct_arena *arena; /* AST and scratch */
  ct_module *m;
  ct_diag *diag;
  const char *file;
  ct_py_module *ast;
  env imports; /* alias -> V_NS */
  ct_builder b;
  bool in_forward;
  int depth;
} lower;

static val verr(void) { val v = {0}; v.kind = V_ERR; return v; }
static val vnone(void) { val v = {0}; v.kind = V_NONE; return v; }
static val vint(int64_t i) { val v = {0}; v.kind = V_INT; v.i = ct_dim_const(i); return v; }
static val vdim(ct_dim d) { val v = {0}; v.kind = V_INT; v.i = d; return v; }
static val vfloat(double f) { val v = {0}; v.kind = V_FLOAT; v.f = f; return v; }
static val vtensor(ct_value *t) { val v = {0}; v.kind = t ? V_TENSOR : V_ERR; v.t = t; return v; }
static val vmod(nnmod *m) { val v = {0}; v.kind = V_MODULE; v.mod = m; return v; }

static val err_at(lower *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static val err_at(lower *L, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_diag_vadd(L->diag, CT_SEV_ERROR, L->file, line, col, fmt, ap);
  va_end(ap);
  return verr();
}
#define ERR(node, ...) err_at(L, (node)->line, (node)->col, __VA_ARGS__)

static void env_set(lower *L, env *e, const char *name, val v) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->names[i], name) == 0) {
      e->vals[i] = v;
      return;
    }
  if (e->n == e->cap) {
    int cap = e->cap ? 2 * e->cap : 8;
    const char **names = ct_arena_alloc(L->arena, (size_t)cap * sizeof *names);
    val *vals = ct_arena_alloc(L->arena, (size_t)cap * sizeof *vals);
    if (e->n) {
      memcpy(names, e->names, (size_t)e->n * sizeof *names);
      memcpy(vals, e->vals, (size_t)e->n * sizeof *vals);
    }
    e->names = names, e->vals = vals, e->cap = cap;
  }
  e->names[e->n] = name;
  e->vals[e->n++] = v;
}

static val *env_get(env *e, const char *name) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->names[i], name) == 0) return &e->vals[i];
  return NULL;
}

static void mod_set(lower *L, nnmod *m, const char *name, val v) {
  env e = {m->names, m->vals, m->n, m->cap};
  env_set(L, &e, name, v);
  m->names = e.names, m->vals = e.vals, m->n = e.n, m->cap = e.cap;
}

static nnmod *mod_new(lower *L, mkind k) {
  nnmod *m = ct_arena_alloc(L->arena, sizeof *m);
  m->kind = k;
  return m;
}

/* ---- imports ------------------------------------------------------------------------------ */

static const char supported_imports[] =
    "import torch, import torch.nn as nn, import torch.nn.functional as F, from torch import nn, "
    "from typing import ...";

static val vns(lower *L, const char *q) {
  val v = {0};
  v.kind = V_NS;
  v.s = ct_arena_strdup(L->arena, q);
  return v;
}

static void check_import(lower *L, const ct_py_stmt *s) {
  if (s->kind == CT_PY_IMPORT) {
    for (int i = 0; i < s->u.import.n_names; i++) {
      const ct_py_alias *a = &s->u.import.names[i];
      if (strcmp(a->name, "torch") != 0 && strcmp(a->name, "torch.nn") != 0 &&
          strcmp(a->name, "torch.nn.functional") != 0) {
        ERR(a, "unsupported import '%s' (supported: %s)", a->name, supported_imports);
        continue;
      }
      if (a->asname)
        env_set(L, &L->imports, a->asname, vns(L, a->name));
      else
        env_set(L, &L->imports, "torch", vns(L, "torch"));
    }
    return;
  }
  const char *mod = s->u.import.module;
  if (strcmp(mod, "typing") == 0 || strcmp(mod, "__future__") == 0) return;
  if (strcmp(mod, "torch") != 0 && strcmp(mod, "torch.nn") != 0) {
    ERR(s, "unsupported import '%s' (supported: %s)", mod, supported_imports);
    return;
  }
  for (int i = 0; i < s->u.import.n_names; i++) {
    const ct_py_alias *a = &s->u.import.names[i];
    char q[256];
    snprintf(q, sizeof q, "%s.%s", mod, a->name);
    bool ok = strcmp(q, "torch.nn") == 0 || strcmp(q, "torch.nn.functional") == 0;
    if (!ok) {
      ERR(a, "unsupported import '%s' (supported: %s)", q, supported_imports);
      continue;
    }
    env_set(L, &L->imports, a->asname ? a->asname : a->name, vns(L, q));
  }
}

/* ---- values ------------------------------------------------------------------------------- */

static val eval(lower *L, env *e, const ct_py_expr *x);
static val call_module(lower *L, nnmod *m, const ct_py_expr *site, int n, val *args);

static bool as_int(lower *L, const ct_py_expr *x, val v, int64_t *out) {
  if (v.kind == V_ERR) return false;
  if ((v.kind == V_INT && ct_dim_is_const(v.i)) || v.kind == V_BOOL) {
    *out = v.i.off;
    return true;
  }
  ERR(x, "expected a constant integer here");
  return false;
}

static bool as_pair(lower *L, const ct_py_expr *x, val v, int64_t out[2]) {
  if (v.kind == V_TUPLE && v.n == 2)
    return as_int(L, x, v.elts[0], &out[0]) && as_int(L, x, v.elts[1], &out[1]);
  if (!as_int(L, x, v, &out[0])) return false;
  out[1] = out[0];
  return true;
}

static bool truthy(val v) {
  return (v.kind == V_BOOL || v.kind == V_INT) ? v.i.off != 0 : v.kind != V_NONE;
}

/* Binds a call's arguments to the parameter names of fname; missing ones stay V_NONE with
 * have[i] false. Reports unknown keywords and extra positional arguments. */
static bool bind_args(lower *L, env *e, const ct_py_expr *call, const char *fname, int n_names,
                      const char *const *names, val *out, bool *have) {
  bool ok = true;
  for (int i = 0; i < n_names; i++) out[i] = vnone(), have[i] = false;
  const ct_py_expr_list *args = &call->u.call.args;
  if (args->n > n_names) {
    ERR(args->items[n_names], "%s takes at most %d positional arguments", fname, n_names);
    ok = false;
  }
  for (int i = 0; i < args->n && i < n_names; i++) {
    out[i] = eval(L, e, args->items[i]);
    have[i] = true;
    if (out[i].kind == V_ERR) ok = false;
  }
  for (int k = 0; k < call->u.call.kwargs.n; k++) {
    const ct_py_keyword *kw = &call->u.call.kwargs.items[k];
    int j = -1;
    for (int i = 0; kw->name && i < n_names; i++)
      if (strcmp(names[i], kw->name) == 0) j = i;
    if (j < 0) {
      char list[256] = "";
      for (int i = 0; i < n_names; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
      ERR(kw, "unexpected keyword argument '%s' for %s; supported: %s",
          kw->name ? kw->name : "**", fname, list);
      ok = false;
      continue;
    }
    out[j] = eval(L, e, kw->value);
    have[j] = true;
    if (out[j].kind == V_ERR) ok = false;
  }
  return ok;
}

/* The nn.Module classes ctorch knows, constructed in __init__. */
static val construct_nn(lower *L, env *e, const ct_py_expr *call, const char *cls) {
  const char *fname = cls;
  if (strcmp(cls, "Linear") == 0) {
    static const char *const nm[] = {"in_features", "out_features", "bias"};
    val a[3];
    bool h[3];
    if (!bind_args(L, e, call, "nn.Linear", 3, nm, a, h)) return verr();
    nnmod *m = mod_new(L, M_LINEAR);
    if (!as_int(L, call, a[0], &m->in) || !as_int(L, call, a[1], &m->out)) return verr();
    m->bias = h[2] ? truthy(a[2]) : true;
    return vmod(m);
  }
  if (strcmp(cls, "Conv2d") == 0) {
    static const char *const nm[] = {"in_channels", "out_channels", "kernel_size", "stride",
                                     "padding", "dilation", "groups", "bias"};
    val a[8];
    bool h[8];
    if (!bind_args(L, e, call, "nn.Conv2d", 8, nm, a, h)) return verr();
    nnmod *m = mod_new(L, M_CONV2D);
    m->stride[0] = m->stride[1] = m->dil[0] = m->dil[1] = m->groups = 1;
    if (!as_int(L, call, a[0], &m->in) || !as_int(L, call, a[1], &m->out) ||
        !as_pair(L, call, a[2], m->k) || (h[3] && !as_pair(L, call, a[3], m->stride)) ||
        (h[4] && !as_pair(L, call, a[4], m->pad)) || (h[5] && !as_pair(L, call, a[5], m->dil)) ||
        (h[6] && !as_int(L, call, a[6], &m->groups)))
      return verr();
    m->bias = h[7] ? truthy(a[7]) : true;
    return vmod(m);
  }
  if (strcmp(cls, "MaxPool2d") == 0 || strcmp(cls, "AvgPool2d") == 0) {
    static const char *const nm[] = {"kernel_size", "stride", "padding"};
    val a[3];
    bool h[3];
    if (!bind_args(L, e, call, cls[0] == 'M' ? "nn.MaxPool2d" : "nn.AvgPool2d", 3, nm, a, h))
      return verr();
    nnmod *m = mod_new(L, cls[0] == 'M' ? M_MAXPOOL : M_AVGPOOL);
    if (!h[0]) return ERR(call, "%s needs kernel_size", fname);
    if (!as_pair(L, call, a[0], m->k)) return verr();
    m->stride[0] = m->k[0], m->stride[1] = m->k[1];
    if (h[1] && a[1].kind != V_NONE && !as_pair(L, call, a[1], m->stride)) return verr();
    if (h[2] && !as_pair(L, call, a[2], m->pad)) return verr();
    return vmod(m);
  }
  static const struct { const char *name; ct_op op; } acts[] = {
      {"ReLU", CT_OP_RELU}, {"GELU", CT_OP_GELU}, {"SiLU", CT_OP_SILU},
      {"Tanh", CT_OP_TANH}, {"Sigmoid", CT_OP_SIGMOID}};
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
    if (strcmp(cls, acts[i].name) == 0) {
      static const char *const nm[] = {"inplace"};
      val a[1];
      bool h[1];
      if (!bind_args(L, e, call, cls, cls[0] == 'R' ? 1 : 0, nm, a, h)) return verr();
      nnmod *m = mod_new(L, M_ACT);
      m->op = acts[i].op;
      return vmod(m);
    }
  if (strcmp(cls, "Identity") == 0 || strcmp(cls, "Dropout") == 0) {
    static const char *const nm[] = {"p", "inplace"};
    val a[2];
    bool h[2];
    if (!bind_args(L, e, call, cls, cls[0] == 'D' ? 2 : 0, nm, a, h)) return verr();
    return vmod(mod_new(L, M_IDENTITY));
  }
  if (strcmp(cls, "Flatten") == 0) {
    static const char *const nm[] = {"start_dim", "end_dim"};
    val a[2];
    bool h[2];
    if (!bind_args(L, e, call, "nn.Flatten", 2, nm, a, h)) return verr();
    nnmod *m = mod_new(L, M_FLATTEN);
    m->start_dim = 1, m->end_dim = -1;
    if ((h[0] && !as_int(L, call, a[0], &m->start_dim)) ||
        (h[1] && !as_int(L, call, a[1], &m->end_dim)))
      return verr();
    return vmod(m);
  }
  if (strcmp(cls, "Sequential") == 0) {
    nnmod *m = mod_new(L, M_SEQ);
    bool ok = true;
    for (int i = 0; i < call->u.call.args.n; i++) {
      const ct_py_expr *ax = call->u.call.args.items[i];
      val v = eval(L, e, ax);
      if (v.kind == V_ERR) {
        ok = false;
        continue;
      }
      if (v.kind != V_MODULE) {
        ERR(ax, "nn.Sequential takes modules");
        ok = false;
        continue;
      }
      char name[24];
      snprintf(name, sizeof name, "%d", i);
      mod_set(L, m, ct_arena_strdup(L->arena, name), v);
    }
    if (call->u.call.kwargs.n) return ERR(&call->u.call.kwargs.items[0], "nn.Sequential takes no keyword arguments");
    return ok ? vmod(m) : verr();
  }
  return ERR(call, "unsupported module: nn.%s; supported: Linear, Conv2d, MaxPool2d, AvgPool2d, "
             "ReLU, GELU, SiLU, Tanh, Sigmoid, Identity, Dropout, Flatten, Sequential", cls);
}

/* ---- user classes and __init__ ------------------------------------------------------------ */

static const ct_py_stmt *find_class(lower *L, const char *name) {
  for (int i = 0; i < L->ast->body.n; i++) {
    const ct_py_stmt *s = L->ast->body.items[i];
    if (s->kind == CT_PY_CLASS && strcmp(s->u.class_.name, name) == 0) return s;
  }
  return NULL;
}

static const ct_py_stmt *find_method(const ct_py_stmt *cls, const char *name) {
  for (int i = 0; i < cls->u.class_.body.n; i++) {
    const ct_py_stmt *s = cls->u.class_.body.items[i];
    if (s->kind == CT_PY_DEF && strcmp(s->u.def.name, name) == 0) return s;
  }
  return NULL;
}

static val run_body(lower *L, env *e, const ct_py_stmt_list *body, nnmod *self);

/* Binds a def's parameters (after self) to argument values and its defaults. */
static bool bind_params(lower *L, env *e, const ct_py_stmt *def, int line, int col, int n,
                        const val *args, env *kwvals) {
  int np = def->u.def.n_params;
  if (n > np - 1) {
    err_at(L, line, col, "%s() takes %d arguments but %d were given", def->u.def.name, np - 1, n);
    return false;
  }
  for (int i = 1; i < np; i++) {
    const ct_py_param *p = &def->u.def.params[i];
    if (p->kind != CT_PY_PARAM_NORMAL) {
      ERR(p, "unsupported parameter kind in %s(); supported: plain parameters with defaults",
          def->u.def.name);
      return false;
    }
    val *kv = kwvals ? env_get(kwvals, p->name) : NULL;
    if (i - 1 < n)
      env_set(L, e, p->name, args[i - 1]);
    else if (kv)
      env_set(L, e, p->name, *kv);
    else if (p->dflt)
      env_set(L, e, p->name, eval(L, e, p->dflt));
    else {
      err_at(L, line, col, "missing argument '%s' of %s()", p->name, def->u.def.name);
      return false;
    }
  }
  return true;
}

static val construct_user(lower *L, env *caller, const ct_py_expr *call, const ct_py_stmt *cls) {
  if (++L->depth > 64) return ERR(call, "modules nested too deeply");
  nnmod *m = mod_new(L, M_USER);
  m->cls = cls;
  const ct_py_stmt *init = find_method(cls, "__init__");
  val args[16];
  int n = 0;
  env kw = {0};
  for (int i = 0; call && i < call->u.call.args.n && n < 16; i++)
    args[n++] = eval(L, caller, call->u.call.args.items[i]);
  for (int i = 0; call && i < call->u.call.kwargs.n; i++) {
    const ct_py_keyword *k = &call->u.call.kwargs.items[i];
    if (k->name) env_set(L, &kw, k->name, eval(L, caller, k->value));
  }
  if (init) {
    env e = {0};
    env_set(L, &e, "self", vmod(m));
    if (bind_params(L, &e, init, call ? call->line : cls->line, call ? call->col : cls->col, n,
                    args, &kw))
      run_body(L, &e, &init->u.def.body, m);
  }
  L->depth--;
  return vmod(m);
}

/* ---- expressions -------------------------------------------------------------------------- */

static void set_loc(lower *L, const ct_py_expr *x) {
  L->b.loc.file = L->file;
  L->b.loc.line = x->line;
  L->b.loc.col = x->col;
}

/* A tensor operand: tensors as they are, Python numbers as rank-0 constants of like's dtype. */
static ct_value *to_tensor(lower *L, val v, ct_dtype like) {
  if (v.kind == V_TENSOR) return v.t;
  if (v.kind == V_FLOAT) return ct_build_scalar(&L->b, like, v.f);
  if ((v.kind == V_INT || v.kind == V_BOOL) && ct_dim_is_const(v.i))
    return ct_build_scalar(&L->b, like, (double)v.i.off);
  return NULL;
}

static val binary(lower *L, const ct_py_expr *x, ct_py_binop op, val a, val c) {
  if (a.kind == V_ERR || c.kind == V_ERR) return verr();
  if (a.kind == V_INT && c.kind == V_INT) {
    ct_dim r;
    bool ok = op == CT_PY_ADD   ? ct_dim_add(a.i, c.i, &r)
              : op == CT_PY_SUB ? ct_dim_sub(a.i, c.i, &r)
              : op == CT_PY_MUL ? ct_dim_mul(a.i, c.i, &r)
              : op == CT_PY_FLOORDIV ? ct_dim_div(a.i, c.i, &r)
                                     : false;
    if (ok) return vdim(r);
    if (op == CT_PY_DIV && ct_dim_is_const(a.i) && ct_dim_is_const(c.i) && c.i.off)
      return vfloat((double)a.i.off / (double)c.i.off);
    return ERR(x, "unsupported integer expression: '%s'; supported: + - * // on sizes",
               ct_py_binop_str(op));
  }
  if ((a.kind == V_FLOAT || a.kind == V_INT) && (c.kind == V_FLOAT || c.kind == V_INT)) {
    if (!ct_dim_is_const(a.i) || !ct_dim_is_const(c.i))
      return ERR(x, "unsupported: float arithmetic on a symbolic size");
    double p = a.kind == V_FLOAT ? a.f : (double)a.i.off, q = c.kind == V_FLOAT ? c.f : (double)c.i.off;
    switch (op) {
    case CT_PY_ADD: return vfloat(p + q);
    case CT_PY_SUB: return vfloat(p - q);
    case CT_PY_MUL: return vfloat(p * q);
    case CT_PY_DIV: return vfloat(p / q);
    default: return ERR(x, "unsupported operator '%s' on numbers", ct_py_binop_str(op));
    }
  }
  if (a.kind != V_TENSOR && c.kind != V_TENSOR)
    return ERR(x, "unsupported operands for '%s'", ct_py_binop_str(op));
  ct_dtype dt = a.kind == V_TENSOR ? a.t->type.dtype : c.t->type.dtype;
  set_loc(L, x);
  ct_value *p = to_tensor(L, a, dt), *q = to_tensor(L, c, dt);
  if (!p || !q) return ERR(x, "unsupported operands for '%s': a tensor and a non-number", ct_py_binop_str(op));
  ct_op o;
  switch (op) {
  case CT_PY_ADD: o = CT_OP_ADD; break;
  case CT_PY_SUB: o = CT_OP_SUB; break;
  case CT_PY_MUL: o = CT_OP_MUL; break;
  case CT_PY_DIV: o = CT_OP_DIV; break;
  case CT_PY_POW: o = CT_OP_POW; break;
  case CT_PY_MATMUL: o = CT_OP_MATMUL; break;
  default:
    return ERR(x, "unsupported operator on tensors: '%s'; supported: + - * / ** @", ct_py_binop_str(op));
  }
  return vtensor(ct_build_binary(&L->b, o, p, q));
}

static bool tensor_arg(lower *L, const ct_py_expr *x, val v, const char *what) {
  if (v.kind == V_ERR) return false;
  if (v.kind != V_TENSOR) {
    ERR(x, "%s expects a tensor", what);
    return false;
  }
  return true;
}

/* view/reshape: resolves one -1 from the element count, keeping symbolic dims. */
static val reshape(lower *L, const ct_py_expr *x, ct_value *t, int n, const val *dims) {
  ct_dim shape[CT_MAX_RANK], known = ct_dim_const(1), numel;
  int hole = -1;
  if (n > CT_MAX_RANK) return ERR(x, "too many dims");
  for (int i = 0; i < n; i++) {
    if (dims[i].kind != V_INT) return ERR(x, "view/reshape expects integer sizes");
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
  set_loc(L, x);
  return vtensor(ct_build_reshape(&L->b, t, n, shape));
}

static val flatten(lower *L, const ct_py_expr *x, ct_value *t, int64_t start, int64_t end) {
  int r = t->type.rank, s = ct_norm_dim(start, r), e = ct_norm_dim(end, r);
  if (r == 0) s = e = 0;
  if (s < 0 || e < 0 || s > e) return ERR(x, "flatten dims out of range");
  ct_dim shape[CT_MAX_RANK];
  int n = 0;
  for (int i = 0; i < s; i++) shape[n++] = t->type.dims[i];
  ct_dim p = ct_dim_const(1);
  for (int i = s; i <= e && i < r; i++)
    if (!ct_dim_mul(p, t->type.dims[i], &p)) return ERR(x, "unsupported symbolic shape in flatten");
  shape[n++] = p;
  for (int i = e + 1; i < r; i++) shape[n++] = t->type.dims[i];
  set_loc(L, x);
  return vtensor(ct_build_reshape(&L->b, t, n, shape));
}

static bool dims_list(lower *L, const ct_py_expr *x, val v, int64_t *out, int *n) {
  if (v.kind == V_TUPLE) {
    *n = 0;
    for (int i = 0; i < v.n && i < CT_MAX_RANK; i++)
      if (!as_int(L, x, v.elts[i], &out[(*n)++])) return false;
    return true;
  }
  *n = 1;
  return as_int(L, x, v, &out[0]);
}

static val reduce(lower *L, const ct_py_expr *x, ct_op op, ct_value *t, val dim, val keep) {
  int64_t dims[CT_MAX_RANK];
  int n = 0;
  if (dim.kind != V_NONE && !dims_list(L, x, dim, dims, &n)) return verr();
  set_loc(L, x);
  return vtensor(ct_build_reduce(&L->b, op, t, n, dims, truthy(keep)));
}

static val pool(lower *L, const ct_py_expr *x, ct_op op, ct_value *t, const int64_t k[2],
                const int64_t s[2], const int64_t p[2]) {
  ct_attr at[3] = {ct_attr_ints("kernel_size", 2, k), ct_attr_ints("stride", 2, s),
                   ct_attr_ints("padding", 2, p)};
  set_loc(L, x);
  return vtensor(ct_build(&L->b, op, 1, &t, at, 3));
}

static ct_op activation(const char *name) {
  static const struct { const char *name; ct_op op; } t[] = {
      {"relu", CT_OP_RELU}, {"gelu", CT_OP_GELU}, {"silu", CT_OP_SILU}, {"tanh", CT_OP_TANH},
      {"sigmoid", CT_OP_SIGMOID}, {"exp", CT_OP_EXP}, {"log", CT_OP_LOG}, {"sqrt", CT_OP_SQRT},
      {"abs", CT_OP_ABS}, {"neg", CT_OP_NEG}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(name, t[i].name) == 0) return t[i].op;
  return CT_OP_COUNT;
}

/* torch.*, F.* and tensor methods, after the receiver (for methods) is the first argument. */
static val call_function(lower *L, env *e, const ct_py_expr *call, const char *fn, val *self) {
  static const char supported[] =
      "F.relu/gelu/silu, torch.tanh/sigmoid, F.softmax, F.log_softmax, F.max_pool2d, "
      "F.avg_pool2d, torch.flatten, torch.matmul, torch.cat, .view, .reshape, .flatten, "
      ".size, .mean, .sum";
  val a[4];
  bool h[4];
  const ct_py_expr_list *args = &call->u.call.args;
  ct_op act = activation(fn);
  /* Methods take the receiver as their first parameter: prepend it by binding with offset. */
  if (act != CT_OP_COUNT) {
    static const char *const nm[] = {"input", "inplace"};
    if (self) {
      if (!bind_args(L, e, call, fn, 0, nm + 1, a + 1, h + 1)) return verr();
      a[0] = *self;
    } else if (!bind_args(L, e, call, fn, 2, nm, a, h))
      return verr();
    if (!tensor_arg(L, call, a[0], fn)) return verr();
    set_loc(L, call);
    return vtensor(ct_build_unary(&L->b, act, a[0].t));
  }
  if (strcmp(fn, "softmax") == 0 || strcmp(fn, "log_softmax") == 0) {
    static const char *const nm[] = {"input", "dim"};
    int off = self ? 1 : 0;
    if (!bind_args(L, e, call, fn, 2 - off, nm + off, a + off, h + off)) return verr();
    if (self) a[0] = *self;
    int64_t d;
    if (!tensor_arg(L, call, a[0], fn)) return verr();
    if (!h[1]) return ERR(call, "%s needs dim=", fn);
    if (!as_int(L, call, a[1], &d)) return verr();
    ct_attr at = ct_attr_int("dim", d);
    set_loc(L, call);
    return vtensor(ct_build(&L->b, fn[0] == 's' ? CT_OP_SOFTMAX : CT_OP_LOG_SOFTMAX, 1, &a[0].t, &at, 1));
  }
  if (strcmp(fn, "max_pool2d") == 0 || strcmp(fn, "avg_pool2d") == 0) {
    static const char *const nm[] = {"input", "kernel_size", "stride", "padding"};
    if (self || !bind_args(L, e, call, fn, 4, nm, a, h)) return self ? ERR(call, "unsupported method: %s", fn) : verr();
    int64_t k[2], s[2], p[2] = {0, 0};
    if (!tensor_arg(L, call, a[0], fn) || !as_pair(L, call, a[1], k)) return verr();
    s[0] = k[0], s[1] = k[1];
    if (h[2] && a[2].kind != V_NONE && !as_pair(L, call, a[2], s)) return verr();
    if (h[3] && !as_pair(L, call, a[3], p)) return verr();
    return pool(L, call, fn[0] == 'm' ? CT_OP_MAX_POOL2D : CT_OP_AVG_POOL2D, a[0].t, k, s, p);
  }
  if (strcmp(fn, "flatten") == 0) {
    static const char *const nm[] = {"input", "start_dim", "end_dim"};
    int off = self ? 1 : 0;
    if (!bind_args(L, e, call, fn, 3 - off, nm + off, a + off, h + off)) return verr();
    if (self) a[0] = *self;
    int64_t s = 0, en = -1;
    if (!tensor_arg(L, call, a[0], fn)) return verr();
    if ((h[1] && !as_int(L, call, a[1], &s)) || (h[2] && !as_int(L, call, a[2], &en))) return verr();
    return flatten(L, call, a[0].t, s, en);
  }
  if (strcmp(fn, "matmul") == 0 || strcmp(fn, "mm") == 0) {
    static const char *const nm[] = {"input", "other"};
    int off = self ? 1 : 0;
    if (!bind_args(L, e, call, fn, 2 - off, nm + off, a + off, h + off)) return verr();
    if (self) a[0] = *self;
    if (!tensor_arg(L, call, a[0], fn) || !tensor_arg(L, call, a[1], fn)) return verr();
    return binary(L, call, CT_PY_MATMUL, a[0], a[1]);
  }
  if (strcmp(fn, "cat") == 0 && !self) {
    static const char *const nm[] = {"tensors", "dim"};
    if (!bind_args(L, e, call, fn, 2, nm, a, h)) return verr();
    int64_t d = 0;
    if (h[1] && !as_int(L, call, a[1], &d)) return verr();
    if (a[0].kind != V_TUPLE || a[0].n == 0 || a[0].n > 64) return ERR(call, "torch.cat expects a list of tensors");
    ct_value *ts[64];
    for (int i = 0; i < a[0].n; i++) {
      if (!tensor_arg(L, call, a[0].elts[i], fn)) return verr();
      ts[i] = a[0].elts[i].t;
    }
    ct_attr at = ct_attr_int("dim", d);
    set_loc(L, call);
    return vtensor(ct_build(&L->b, CT_OP_CONCAT, a[0].n, ts, &at, 1));
  }
  if (self && (strcmp(fn, "view") == 0 || strcmp(fn, "reshape") == 0)) {
    if (call->u.call.kwargs.n) return ERR(&call->u.call.kwargs.items[0], "%s takes no keyword arguments", fn);
    val d[CT_MAX_RANK];
    int n = 0;
    for (int i = 0; i < args->n && n < CT_MAX_RANK; i++) {
      val v = eval(L, e, args->items[i]);
      if (v.kind == V_ERR) return v;
      if (v.kind == V_TUPLE && args->n == 1) {
        for (int j = 0; j < v.n && n < CT_MAX_RANK; j++) d[n++] = v.elts[j];
      } else {
        d[n++] = v;
      }
    }
    return reshape(L, call, self->t, n, d);
  }
  if (self && strcmp(fn, "size") == 0) {
    static const char *const nm[] = {"dim"};
    if (!bind_args(L, e, call, fn, 1, nm, a, h)) return verr();
    const ct_type *ty = &self->t->type;
    if (!h[0]) {
      val t = {0};
      t.kind = V_TUPLE;
      t.n = ty->rank;
      t.elts = ct_arena_alloc(L->arena, (size_t)(ty->rank + 1) * sizeof *t.elts);
      for (int i = 0; i < ty->rank; i++) t.elts[i] = vdim(ty->dims[i]);
      return t;
    }
    int64_t d;
    if (!as_int(L, call, a[0], &d)) return verr();
    int k = ct_norm_dim(d, ty->rank);
    if (k < 0) return ERR(call, "dim %lld out of range for rank %d", (long long)d, ty->rank);
    return vdim(ty->dims[k]);
  }
  if (self && (strcmp(fn, "mean") == 0 || strcmp(fn, "sum") == 0)) {
    static const char *const nm[] = {"dim", "keepdim"};
    if (!bind_args(L, e, call, fn, 2, nm, a, h)) return verr();
    return reduce(L, call, fn[0] == 'm' ? CT_OP_MEAN : CT_OP_SUM, self->t, a[0], a[1]);
  }
  return ERR(call, "unsupported call: %s%s; supported: %s", self ? "method ." : "", fn, supported);
}

static val call(lower *L, env *e, const ct_py_expr *x) {
  const ct_py_expr *f = x->u.call.func;
  if (f->kind == CT_PY_ATTR && f->u.attr.value->kind == CT_PY_CALL &&
      f->u.attr.value->u.call.func->kind == CT_PY_NAME &&
      strcmp(f->u.attr.value->u.call.func->u.name, "super") == 0)
    return vnone(); /* super().__init__() */
  if (f->kind == CT_PY_NAME && !env_get(e, f->u.name) && find_class(L, f->u.name)) {
    if (L->in_forward) return ERR(x, "unsupported: constructing a module in forward");
    return construct_user(L, e, x, find_class(L, f->u.name));
  }
  val fv;
  if (f->kind == CT_PY_ATTR) {
    val recv = eval(L, e, f->u.attr.value);
    if (recv.kind == V_ERR) return recv;
    if (recv.kind == V_TENSOR) return call_function(L, e, x, f->u.attr.attr, &recv);
    if (recv.kind == V_NS) {
      const char *q = recv.s, *a = f->u.attr.attr;
      if (strcmp(q, "torch.nn") == 0) {
        if (L->in_forward) return ERR(x, "unsupported: constructing a module in forward");
        return construct_nn(L, e, x, a);
      }
      if (strcmp(q, "torch.nn.functional") == 0 || strcmp(q, "torch") == 0)
        return call_function(L, e, x, a, NULL);
      return ERR(x, "unsupported call: %s.%s", q, a);
    }
    fv = eval(L, e, f);
  } else {
    fv = eval(L, e, f);
  }
  if (fv.kind == V_ERR) return fv;
  if (fv.kind == V_MODULE) {
    if (!L->in_forward) return ERR(x, "unsupported: calling a module in __init__");
    if (x->u.call.kwargs.n) return ERR(&x->u.call.kwargs.items[0], "unsupported: keyword arguments to a module call");
    val args[16];
    int n = 0;
    for (int i = 0; i < x->u.call.args.n && n < 16; i++) {
      args[n] = eval(L, e, x->u.call.args.items[i]);
      if (args[n++].kind == V_ERR) return verr();
    }
    return call_module(L, fv.mod, x, n, args);
  }
  if (f->kind == CT_PY_NAME && (strcmp(f->u.name, "int") == 0 || strcmp(f->u.name, "float") == 0)) {
    /* unreachable: builtins are not bound */
  }
  return ERR(x, "unsupported call; supported: modules, torch.*, F.*, tensor methods");
}

static val eval(lower *L, env *e, const ct_py_expr *x) {
  switch (x->kind) {
  case CT_PY_INT: return vint(x->u.i);
  case CT_PY_FLOAT: return vfloat(x->u.f);
  case CT_PY_BOOL: {
    val v = vint(x->u.b);
    v.kind = V_BOOL;
    return v;
  }
  case CT_PY_NONE: return vnone();
  case CT_PY_STR: {
    val v = {0};
    v.kind = V_STR;
    v.s = x->u.str.s;
    return v;
  }
  case CT_PY_NAME: {
    val *v = env_get(e, x->u.name);
    if (!v) v = env_get(&L->imports, x->u.name);
    if (!v) return ERR(x, "name '%s' is not defined", x->u.name);
    return *v;
  }
  case CT_PY_ATTR: {
    val o = eval(L, e, x->u.attr.value);
    const char *a = x->u.attr.attr;
    if (o.kind == V_ERR) return o;
    if (o.kind == V_MODULE) {
      env me = {o.mod->names, o.mod->vals, o.mod->n, o.mod->cap};
      val *v = env_get(&me, a);
      if (!v) return ERR(x, "module has no attribute '%s'", a);
      return *v;
    }
    if (o.kind == V_NS) {
      char q[256];
      snprintf(q, sizeof q, "%s.%s", o.s, a);
      if (strcmp(q, "torch.nn.functional") == 0 || strcmp(q, "torch.nn") == 0) return vns(L, q);
      if (strcmp(q, "torch.float32") == 0) return vns(L, q);
      return ERR(x, "unsupported: %s", q);
    }
    if (o.kind == V_TENSOR && strcmp(a, "shape") == 0) {
      val t = {0};
      const ct_type *ty = &o.t->type;
      t.kind = V_TUPLE;
      t.n = ty->rank;
      t.elts = ct_arena_alloc(L->arena, (size_t)(ty->rank + 1) * sizeof *t.elts);
      for (int i = 0; i < ty->rank; i++) t.elts[i] = vdim(ty->dims[i]);
      return t;
    }
    return ERR(x, "unsupported attribute: .%s; supported: module attributes, .shape", a);
  }
  case CT_PY_SUBSCRIPT: {
    val o = eval(L, e, x->u.sub.value), i = eval(L, e, x->u.sub.index);
    int64_t k;
    if (o.kind == V_ERR || i.kind == V_ERR) return verr();
    if (o.kind == V_TUPLE && as_int(L, x->u.sub.index, i, &k)) {
      if (k < 0) k += o.n;
      if (k < 0 || k >= o.n) return ERR(x, "index %lld out of range", (long long)k);
      return o.elts[k];
    }
    if (o.kind == V_MODULE && o.mod->kind == M_SEQ && as_int(L, x->u.sub.index, i, &k)) {
      if (k < 0) k += o.mod->n;
      if (k < 0 || k >= o.mod->n) return ERR(x, "index %lld out of range", (long long)k);
      return o.mod->vals[k];
    }
    return ERR(x, "unsupported subscript; supported: tuple[i], x.shape[i], Sequential[i]");
  }
  case CT_PY_TUPLE:
  case CT_PY_LIST: {
    val t = {0};
    t.kind = V_TUPLE;
    t.n = x->u.elts.n;
    t.elts = ct_arena_alloc(L->arena, (size_t)(t.n + 1) * sizeof *t.elts);
    for (int i = 0; i < t.n; i++) {
      t.elts[i] = eval(L, e, x->u.elts.items[i]);
      if (t.elts[i].kind == V_ERR) return verr();
    }
    return t;
  }
  case CT_PY_UNARY: {
    val o = eval(L, e, x->u.unary.operand);
    if (o.kind == V_ERR) return o;
    if (x->u.unary.op == CT_PY_POS) return o;
    if (x->u.unary.op == CT_PY_NEG) {
      if (o.kind == V_INT && ct_dim_is_const(o.i)) return vint(-o.i.off);
      if (o.kind == V_FLOAT) return vfloat(-o.f);
      if (o.kind == V_TENSOR) {
        set_loc(L, x);
        return vtensor(ct_build_unary(&L->b, CT_OP_NEG, o.t));
      }
    }
    return ERR(x, "unsupported unary operator '%s'", ct_py_unop_str(x->u.unary.op));
  }
  case CT_PY_BINARY: {
    val a = eval(L, e, x->u.binary.lhs), c = eval(L, e, x->u.binary.rhs);
    return binary(L, x, x->u.binary.op, a, c);
  }
  case CT_PY_CALL: return call(L, e, x);
  default:
    return ERR(x, "unsupported expression: %s; supported: names, attributes, calls, numbers, "
               "tuples, lists, arithmetic, subscripts", ct_py_expr_kind_name(x->kind));
  }
}

/* ---- statements --------------------------------------------------------------------------- */

static void assign(lower *L, env *e, const ct_py_expr *t, val v, nnmod *self) {
  if (t->kind == CT_PY_NAME) {
    env_set(L, e, t->u.name, v);
  } else if (t->kind == CT_PY_ATTR && t->u.attr.value->kind == CT_PY_NAME &&
             strcmp(t->u.attr.value->u.name, "self") == 0 && self) {
    if (L->in_forward) {
      ERR(t, "unsupported: assigning to self.%s in forward", t->u.attr.attr);
      return;
    }
    mod_set(L, self, t->u.attr.attr, v);
  } else if (t->kind == CT_PY_TUPLE || t->kind == CT_PY_LIST) {
    if (v.kind == V_ERR) {
      for (int i = 0; i < t->u.elts.n; i++) assign(L, e, t->u.elts.items[i], v, self);
      return;
    }
    if (v.kind != V_TUPLE || v.n != t->u.elts.n) {
      ERR(t, "cannot unpack into %d targets", t->u.elts.n);
      v = verr();
    }
    for (int i = 0; i < t->u.elts.n; i++) assign(L, e, t->u.elts.items[i], v.kind == V_ERR ? v : v.elts[i], self);
  } else {
    ERR(t, "unsupported assignment target: %s; supported: names, tuples, self.attr in __init__",
        ct_py_expr_kind_name(t->kind));
  }
}

static val run_body(lower *L, env *e, const ct_py_stmt_list *body, nnmod *self) {
  for (int i = 0; i < body->n; i++) {
    const ct_py_stmt *s = body->items[i];
    switch (s->kind) {
    case CT_PY_PASS: break;
    case CT_PY_EXPR_STMT:
      if (s->u.expr->kind != CT_PY_STR) eval(L, e, s->u.expr);
      break;
    case CT_PY_ASSIGN: {
      if (!s->u.assign.value) break;
      val v = eval(L, e, s->u.assign.value);
      for (int k = 0; k < s->u.assign.targets.n; k++) assign(L, e, s->u.assign.targets.items[k], v, self);
      break;
    }
    case CT_PY_AUGASSIGN: {
      val a = eval(L, e, s->u.aug.target), c = eval(L, e, s->u.aug.value);
      assign(L, e, s->u.aug.target, binary(L, s->u.aug.value, s->u.aug.op, a, c), self);
      break;
    }
    case CT_PY_RETURN: return s->u.ret ? eval(L, e, s->u.ret) : vnone();
    default:
      ERR(s, "unsupported statement: %s; supported: assignment, tuple unpacking, augmented "
          "assignment, return, pass", ct_py_stmt_kind_name(s->kind));
      break;
    }
  }
  return vnone();
}

static val call_module(lower *L, nnmod *m, const ct_py_expr *site, int n, val *args) {
  if (m->kind == M_USER) {
    const ct_py_stmt *fwd = find_method(m->cls, "forward");
    if (!fwd) return ERR(site, "class %s has no forward", m->cls->u.class_.name);
    if (++L->depth > 64) return ERR(site, "modules nested too deeply");
    env e = {0};
    env_set(L, &e, "self", vmod(m));
    val r = bind_params(L, &e, fwd, site->line, site->col, n, args, NULL)
                ? run_body(L, &e, &fwd->u.def.body, m)
                : verr();
    L->depth--;
    return r;
  }
  if (n != 1) return ERR(site, "this module takes one tensor argument");
  if (!tensor_arg(L, site, args[0], "module call")) return verr();
  ct_value *x = args[0].t;
  set_loc(L, site);
  switch (m->kind) {
  case M_LINEAR: {
    ct_value *in[3] = {x, m->weight_v, m->bias_v};
    return vtensor(ct_build(&L->b, CT_OP_LINEAR, m->bias ? 3 : 2, in, NULL, 0));
  }
  case M_CONV2D: {
    ct_value *in[3] = {x, m->weight_v, m->bias_v};
    ct_attr at[4] = {ct_attr_ints("stride", 2, m->stride), ct_attr_ints("padding", 2, m->pad),
                     ct_attr_ints("dilation", 2, m->dil), ct_attr_int("groups", m->groups)};
    return vtensor(ct_build(&L->b, CT_OP_CONV2D, m->bias ? 3 : 2, in, at, 4));
  }
  case M_MAXPOOL: return pool(L, site, CT_OP_MAX_POOL2D, x, m->k, m->stride, m->pad);
  case M_AVGPOOL: return pool(L, site, CT_OP_AVG_POOL2D, x, m->k, m->stride, m->pad);
  case M_ACT: return vtensor(ct_build_unary(&L->b, m->op, x));
  case M_IDENTITY: return args[0];
  case M_FLATTEN: return flatten(L, site, x, m->start_dim, m->end_dim);
  case M_SEQ: {
    val v = args[0];
    for (int i = 0; i < m->n && v.kind != V_ERR; i++)
      if (m->vals[i].kind == V_MODULE) v = call_module(L, m->vals[i].mod, site, 1, &v);
    return v;
  }
  case M_USER: break;
  }
  return verr();
}

/* ---- parameters --------------------------------------------------------------------------- */

static ct_value *add_param(lower *L, ct_graph *g, const char *prefix, const char *leaf, int rank,
                           const int64_t *shape, int64_t fan_in) {
  char name[512], spec[96];
  snprintf(name, sizeof name, "%s%s", prefix, leaf);
  double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
  snprintf(spec, sizeof spec, "uniform(%g,%g)", -bound, bound);
  ct_type t = ct_type_concrete(CT_DT_F32, rank, shape);
  int idx = ct_module_add_param(L->m, name, t, CT_PARAM_WEIGHT, NULL);
  L->m->params[idx].init_spec = ct_arena_strdup(L->m->arena, spec);
  return ct_graph_add_input(g, name, t);
}

/* Registers parameters in state_dict order: a module's own, then its children's in order. */
static void register_params(lower *L, ct_graph *g, nnmod *m, const char *prefix) {
  if (m->kind == M_LINEAR) {
    int64_t w[2] = {m->out, m->in};
    m->weight_v = add_param(L, g, prefix, "weight", 2, w, m->in);
    if (m->bias) m->bias_v = add_param(L, g, prefix, "bias", 1, &m->out, m->in);
  } else if (m->kind == M_CONV2D) {
    int64_t g1 = m->groups > 0 ? m->groups : 1;
    int64_t w[4] = {m->out, m->in / g1, m->k[0], m->k[1]};
    int64_t fan = m->in / g1 * m->k[0] * m->k[1];
    m->weight_v = add_param(L, g, prefix, "weight", 4, w, fan);
    if (m->bias) m->bias_v = add_param(L, g, prefix, "bias", 1, &m->out, fan);
  }
  for (int i = 0; i < m->n; i++)
    if (m->vals[i].kind == V_MODULE) {
      char p[512];
      snprintf(p, sizeof p, "%s%s.", prefix, m->names[i]);
      register_params(L, g, m->vals[i].mod, p);
    }
}

/* ---- entry -------------------------------------------------------------------------------- */

static bool parse_spec(lower *L, const char *spec, char *name, size_t name_size, ct_type *out) {
  const char *eq = strchr(spec, '='), *lb = eq ? strchr(eq, '[') : NULL;
  size_t n = eq ? (size_t)(eq - spec) : 0;
  if (!eq || !lb || n == 0 || n >= name_size || spec[strlen(spec) - 1] != ']') goto bad;
  memcpy(name, spec, n);
  name[n] = 0;
  ct_dtype dt;
  if (ct_dtype_parse(eq + 1, (size_t)(lb - eq - 1), &dt) != 0) goto bad;
  ct_dim dims[CT_MAX_RANK];
  int rank = 0;
  const char *p = lb + 1;
  while (*p != ']') {
    const char *q = p;
    while (*q && *q != ',' && *q != ']') q++;
    if (q == p || rank == CT_MAX_RANK) goto bad;
    if (*p >= '0' && *p <= '9') {
      char *end;
      long long v = strtoll(p, &end, 10);
      if (end != q) goto bad;
      dims[rank++] = ct_dim_const(v);
    } else {
      dims[rank++] = ct_dim_sym(ct_module_sym(L->m, p, (size_t)(q - p)));
    }
    p = *q == ',' ? q + 1 : q;
    if (!*p) goto bad;
  }
  *out = ct_type_make(dt, rank, dims);
  return true;
bad:
  ct_diag_error(L->diag, NULL, 0, 0, "invalid input spec '%s' (expected NAME=DTYPE[DIM,...], e.g. x=f32[N,784])", spec);
  return false;
}

static bool is_nn_module_base(const ct_py_expr *b) {
  return (b->kind == CT_PY_ATTR && strcmp(b->u.attr.attr, "Module") == 0) ||
         (b->kind == CT_PY_NAME && strcmp(b->u.name, "Module") == 0);
}

static void lower_root(lower *L, const ct_frontend_options *opt) {
  const ct_py_stmt *root = NULL;
  for (int i = 0; i < L->ast->body.n; i++) {
    const ct_py_stmt *s = L->ast->body.items[i];
    if (s->kind == CT_PY_IMPORT || s->kind == CT_PY_FROM) check_import(L, s);
    if (s->kind != CT_PY_CLASS) continue;
    bool nn = false;
    for (int k = 0; k < s->u.class_.bases.n; k++) nn |= is_nn_module_base(s->u.class_.bases.items[k]);
    if (!nn) continue;
    if (opt && opt->root_class ? strcmp(s->u.class_.name, opt->root_class) == 0 : true) root = s;
  }
  if (!root) {
    if (opt && opt->root_class)
      ct_diag_error(L->diag, L->file, 0, 0, "no nn.Module class named '%s'", opt->root_class);
    else
      ct_diag_error(L->diag, L->file, 0, 0, "no class deriving from nn.Module");
    return;
  }
  const ct_py_stmt *fwd = find_method(root, "forward");
  if (!fwd) {
    ERR(root, "class %s has no forward method", root->u.class_.name);
    return;
  }
  char lname[256];
  snprintf(lname, sizeof lname, "%s", root->u.class_.name);
  for (char *c = lname; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  L->m->name = ct_arena_strdup(L->m->arena, lname);

  val rootv = construct_user(L, NULL, NULL, root);
  if (L->diag->n_errors) return;
  ct_graph *g = ct_module_add_graph(L->m, "forward");
  int n_in = opt ? opt->n_inputs : 0;
  if (n_in != fwd->u.def.n_params - 1) {
    ERR(fwd, "forward takes %d inputs but %d --input specs were given", fwd->u.def.n_params - 1, n_in);
    return;
  }
  val args[16];
  if (n_in > 16) n_in = 16;
  for (int i = 0; i < n_in; i++) {
    char name[128];
    ct_type t;
    if (!parse_spec(L, opt->input_specs[i], name, sizeof name, &t)) return;
    args[i] = vtensor(ct_graph_add_input(g, name, t));
  }
  register_params(L, g, rootv.mod, "");
  L->b = ct_builder_at_end(L->m, g->body, L->diag);
  L->in_forward = true;
  ct_py_expr site = {0};
  site.line = fwd->line, site.col = fwd->col;
  val r = call_module(L, rootv.mod, &site, n_in, args);
  if (r.kind == V_ERR || L->diag->n_errors) return;
  ct_value *res[16];
  int n = 0;
  if (r.kind == V_TENSOR) {
    res[n++] = r.t;
  } else if (r.kind == V_TUPLE && r.n <= 16) {
    for (int i = 0; i < r.n; i++)
      if (r.elts[i].kind == V_TENSOR) res[n++] = r.elts[i].t;
    if (n != r.n) n = -1;
  } else {
    n = -1;
  }
  if (n <= 0) {
    ERR(fwd, "forward must return a tensor or a tuple of tensors");
    return;
  }
  ct_build_return(&L->b, n, res);
  for (int i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, n == 1 ? "output" : "output%d", i);
    ct_graph_set_result_name(g, i, name);
  }
}

ct_status ct_frontend_compile(const char *text, size_t len, const char *file,
                              const ct_frontend_options *opt, ct_module **out, ct_diag *diag) {
  *out = NULL;
  lower L = {0};
  L.arena = ct_arena_new();
  L.diag = diag;
  L.file = file;
  int errors_before = diag->n_errors;
  if (ct_py_parse(text, len, file, L.arena, &L.ast, diag) != CT_OK) {
    ct_arena_free(L.arena);
    return CT_ERR_INVALID;
  }
  L.m = ct_module_new();
  L.file = ct_arena_strdup(L.m->arena, file);
  lower_root(&L, opt);
  ct_arena_free(L.arena);
  if (diag->n_errors > errors_before) {
    ct_module_free(L.m);
    return CT_ERR_INVALID;
  }
  *out = L.m;
  return CT_OK;
}
