/* frontend/lower_init.c: the constructor side of the lowering: nn.Linear, nn.Conv2d, ... and
 * user classes built by evaluating __init__ with constant arguments and defaults. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

/* ---- values ------------------------------------------------------------------------------- */

bool ct_lower_as_int(ct_lower *L, const ct_py_expr *x, ct_lower_val v, int64_t *out) {
  if (v.kind == CT_LV_ERR) return false;
  if ((v.kind == CT_LV_INT && ct_dim_is_const(v.i)) || v.kind == CT_LV_BOOL) {
    *out = v.i.off;
    return true;
  }
  ERR(x, "expected a constant integer here");
  return false;
}

bool ct_lower_as_pair(ct_lower *L, const ct_py_expr *x, ct_lower_val v, int64_t out[2]) {
  if (v.kind == CT_LV_TUPLE && v.n == 2)
    return ct_lower_as_int(L, x, v.elts[0], &out[0]) && ct_lower_as_int(L, x, v.elts[1], &out[1]);
  if (!ct_lower_as_int(L, x, v, &out[0])) return false;
  out[1] = out[0];
  return true;
}

bool ct_lower_truthy(ct_lower_val v) {
  return (v.kind == CT_LV_BOOL || v.kind == CT_LV_INT) ? v.i.off != 0 : v.kind != CT_LV_NONE;
}

/* Binds a call's arguments to the parameter names of fname; missing ones stay V_NONE with
 * have[i] false. Reports unknown keywords and extra positional arguments. */
bool ct_lower_bind_args(ct_lower *L, ct_lower_env *e, const ct_py_expr *call, const char *fname,
                        int n_names, const char *const *names, ct_lower_val *out, bool *have) {
  bool ok = true;
  for (int i = 0; i < n_names; i++)
    out[i] = ct_lower_none(), have[i] = false;
  const ct_py_expr_list *args = &call->u.call.args;
  if (args->n > n_names) {
    ERR(args->items[n_names], "%s takes at most %d positional arguments", fname, n_names);
    ok = false;
  }
  for (int i = 0; i < args->n && i < n_names; i++) {
    out[i] = ct_lower_eval(L, e, args->items[i]);
    have[i] = true;
    if (out[i].kind == CT_LV_ERR) ok = false;
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
      ERR(kw, "unexpected keyword argument '%s' for %s; supported: %s", kw->name ? kw->name : "**",
          fname, list);
      ok = false;
      continue;
    }
    out[j] = ct_lower_eval(L, e, kw->value);
    have[j] = true;
    if (out[j].kind == CT_LV_ERR) ok = false;
  }
  return ok;
}

/* The nn.Module classes ctorch knows, constructed in __init__. */
ct_lower_val ct_lower_construct_nn(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                   const char *cls) {
  const char *fname = cls;
  if (strcmp(cls, "Linear") == 0) {
    static const char *const nm[] = {"in_features", "out_features", "bias"};
    ct_lower_val a[3];
    bool h[3];
    if (!ct_lower_bind_args(L, e, call, "nn.Linear", 3, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_LINEAR);
    if (!ct_lower_as_int(L, call, a[0], &m->in) || !ct_lower_as_int(L, call, a[1], &m->out))
      return ct_lower_err_val();
    m->bias = h[2] ? ct_lower_truthy(a[2]) : true;
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "Conv2d") == 0) {
    static const char *const nm[] = {"in_channels", "out_channels", "kernel_size", "stride",
                                     "padding",     "dilation",     "groups",      "bias"};
    ct_lower_val a[8];
    bool h[8];
    if (!ct_lower_bind_args(L, e, call, "nn.Conv2d", 8, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_CONV2D);
    m->stride[0] = m->stride[1] = m->dil[0] = m->dil[1] = m->groups = 1;
    if (!ct_lower_as_int(L, call, a[0], &m->in) || !ct_lower_as_int(L, call, a[1], &m->out) ||
        !ct_lower_as_pair(L, call, a[2], m->k) ||
        (h[3] && !ct_lower_as_pair(L, call, a[3], m->stride)) ||
        (h[4] && !ct_lower_as_pair(L, call, a[4], m->pad)) ||
        (h[5] && !ct_lower_as_pair(L, call, a[5], m->dil)) ||
        (h[6] && !ct_lower_as_int(L, call, a[6], &m->groups)))
      return ct_lower_err_val();
    m->bias = h[7] ? ct_lower_truthy(a[7]) : true;
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "MaxPool2d") == 0 || strcmp(cls, "AvgPool2d") == 0) {
    static const char *const nm[] = {"kernel_size", "stride", "padding"};
    ct_lower_val a[3];
    bool h[3];
    if (!ct_lower_bind_args(L, e, call, cls[0] == 'M' ? "nn.MaxPool2d" : "nn.AvgPool2d", 3, nm, a,
                            h))
      return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, cls[0] == 'M' ? CT_LM_MAXPOOL : CT_LM_AVGPOOL);
    if (!h[0]) return ERR(call, "%s needs kernel_size", fname);
    if (!ct_lower_as_pair(L, call, a[0], m->k)) return ct_lower_err_val();
    m->stride[0] = m->k[0], m->stride[1] = m->k[1];
    if (h[1] && a[1].kind != CT_LV_NONE && !ct_lower_as_pair(L, call, a[1], m->stride))
      return ct_lower_err_val();
    if (h[2] && !ct_lower_as_pair(L, call, a[2], m->pad)) return ct_lower_err_val();
    return ct_lower_modv(m);
  }
  static const struct {
    const char *name;
    ct_op op;
  } acts[] = {{"ReLU", CT_OP_RELU},
              {"GELU", CT_OP_GELU},
              {"SiLU", CT_OP_SILU},
              {"Tanh", CT_OP_TANH},
              {"Sigmoid", CT_OP_SIGMOID}};
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
    if (strcmp(cls, acts[i].name) == 0) {
      static const char *const nm[] = {"inplace"};
      ct_lower_val a[1];
      bool h[1];
      if (!ct_lower_bind_args(L, e, call, cls, cls[0] == 'R' ? 1 : 0, nm, a, h))
        return ct_lower_err_val();
      ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_ACT);
      m->op = acts[i].op;
      return ct_lower_modv(m);
    }
  if (strcmp(cls, "Identity") == 0 || strcmp(cls, "Dropout") == 0) {
    static const char *const nm[] = {"p", "inplace"};
    ct_lower_val a[2];
    bool h[2];
    if (!ct_lower_bind_args(L, e, call, cls, cls[0] == 'D' ? 2 : 0, nm, a, h))
      return ct_lower_err_val();
    return ct_lower_modv(ct_lower_mod_new(L, CT_LM_IDENTITY));
  }
  if (strcmp(cls, "Flatten") == 0) {
    static const char *const nm[] = {"start_dim", "end_dim"};
    ct_lower_val a[2];
    bool h[2];
    if (!ct_lower_bind_args(L, e, call, "nn.Flatten", 2, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_FLATTEN);
    m->start_dim = 1, m->end_dim = -1;
    if ((h[0] && !ct_lower_as_int(L, call, a[0], &m->start_dim)) ||
        (h[1] && !ct_lower_as_int(L, call, a[1], &m->end_dim)))
      return ct_lower_err_val();
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "Sequential") == 0) {
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_SEQ);
    bool ok = true;
    for (int i = 0; i < call->u.call.args.n; i++) {
      const ct_py_expr *ax = call->u.call.args.items[i];
      ct_lower_val v = ct_lower_eval(L, e, ax);
      if (v.kind == CT_LV_ERR) {
        ok = false;
        continue;
      }
      if (v.kind != CT_LV_MODULE) {
        ERR(ax, "nn.Sequential takes modules");
        ok = false;
        continue;
      }
      char name[24];
      snprintf(name, sizeof name, "%d", i);
      ct_lower_mod_set(L, m, ct_arena_strdup(L->arena, name), v);
    }
    if (call->u.call.kwargs.n)
      return ERR(&call->u.call.kwargs.items[0], "nn.Sequential takes no keyword arguments");
    return ok ? ct_lower_modv(m) : ct_lower_err_val();
  }
  return ERR(call,
             "unsupported module: nn.%s; supported: Linear, Conv2d, MaxPool2d, AvgPool2d, "
             "ReLU, GELU, SiLU, Tanh, Sigmoid, Identity, Dropout, Flatten, Sequential",
             cls);
}

/* ---- user classes and __init__ ------------------------------------------------------------ */

const ct_py_stmt *ct_lower_find_class(ct_lower *L, const char *name) {
  for (int i = 0; i < L->ast->body.n; i++) {
    const ct_py_stmt *s = L->ast->body.items[i];
    if (s->kind == CT_PY_CLASS && strcmp(s->u.class_.name, name) == 0) return s;
  }
  return NULL;
}

const ct_py_stmt *ct_lower_find_method(const ct_py_stmt *cls, const char *name) {
  for (int i = 0; i < cls->u.class_.body.n; i++) {
    const ct_py_stmt *s = cls->u.class_.body.items[i];
    if (s->kind == CT_PY_DEF && strcmp(s->u.def.name, name) == 0) return s;
  }
  return NULL;
}

/* Binds a def's parameters (after self) to argument values and its defaults. */
bool ct_lower_bind_params(ct_lower *L, ct_lower_env *e, const ct_py_stmt *def, int line, int col,
                          int n, const ct_lower_val *args, ct_lower_env *kwvals) {
  int np = def->u.def.n_params;
  if (n > np - 1) {
    ct_lower_error(L, line, col, "%s() takes %d arguments but %d were given", def->u.def.name,
                   np - 1, n);
    return false;
  }
  for (int i = 1; i < np; i++) {
    const ct_py_param *p = &def->u.def.params[i];
    if (p->kind != CT_PY_PARAM_NORMAL) {
      ERR(p, "unsupported parameter kind in %s(); supported: plain parameters with defaults",
          def->u.def.name);
      return false;
    }
    ct_lower_val *kv = kwvals ? ct_lower_env_get(kwvals, p->name) : NULL;
    if (i - 1 < n)
      ct_lower_env_set(L, e, p->name, args[i - 1]);
    else if (kv)
      ct_lower_env_set(L, e, p->name, *kv);
    else if (p->dflt)
      ct_lower_env_set(L, e, p->name, ct_lower_eval(L, e, p->dflt));
    else {
      ct_lower_error(L, line, col, "missing argument '%s' of %s()", p->name, def->u.def.name);
      return false;
    }
  }
  return true;
}

ct_lower_val ct_lower_construct_user(ct_lower *L, ct_lower_env *caller, const ct_py_expr *call,
                                     const ct_py_stmt *cls) {
  if (++L->depth > 64) return ERR(call, "modules nested too deeply");
  ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_USER);
  m->cls = cls;
  const ct_py_stmt *init = ct_lower_find_method(cls, "__init__");
  ct_lower_val args[16];
  int n = 0;
  ct_lower_env kw = {0};
  for (int i = 0; call && i < call->u.call.args.n && n < 16; i++)
    args[n++] = ct_lower_eval(L, caller, call->u.call.args.items[i]);
  for (int i = 0; call && i < call->u.call.kwargs.n; i++) {
    const ct_py_keyword *k = &call->u.call.kwargs.items[i];
    if (k->name) ct_lower_env_set(L, &kw, k->name, ct_lower_eval(L, caller, k->value));
  }
  if (init) {
    ct_lower_env e = {0};
    ct_lower_env_set(L, &e, "self", ct_lower_modv(m));
    if (ct_lower_bind_params(L, &e, init, call ? call->line : cls->line,
                             call ? call->col : cls->col, n, args, &kw))
      ct_lower_body(L, &e, &init->u.def.body, m);
  }
  L->depth--;
  return ct_lower_modv(m);
}
