/* frontend/lower.c: lowers a parsed model.py to IR: checks the imports, finds the root
 * nn.Module class, evaluates its __init__ (lower_init.c) into a tree of modules whose parameters
 * are named and ordered like PyTorch's state_dict, then lowers forward (lower_forward.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

ct_lower_val ct_lower_error(ct_lower *L, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_diag_vadd(L->diag, CT_SEV_ERROR, L->file, line, col, fmt, ap);
  va_end(ap);
  return ct_lower_err_val();
}
#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

void ct_lower_env_set(ct_lower *L, ct_lower_env *e, const char *name, ct_lower_val v) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->names[i], name) == 0) {
      e->vals[i] = v;
      return;
    }
  if (e->n == e->cap) {
    int cap = e->cap ? 2 * e->cap : 8;
    const char **names = ct_arena_alloc(L->arena, (size_t)cap * sizeof *names);
    ct_lower_val *vals = ct_arena_alloc(L->arena, (size_t)cap * sizeof *vals);
    if (e->n) {
      memcpy(names, e->names, (size_t)e->n * sizeof *names);
      memcpy(vals, e->vals, (size_t)e->n * sizeof *vals);
    }
    e->names = names, e->vals = vals, e->cap = cap;
  }
  e->names[e->n] = name;
  e->vals[e->n++] = v;
}

ct_lower_val *ct_lower_env_get(ct_lower_env *e, const char *name) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->names[i], name) == 0) return &e->vals[i];
  return NULL;
}

void ct_lower_mod_set(ct_lower *L, ct_lower_mod *m, const char *name, ct_lower_val v) {
  ct_lower_env e = {m->names, m->vals, m->n, m->cap};
  ct_lower_env_set(L, &e, name, v);
  m->names = e.names, m->vals = e.vals, m->n = e.n, m->cap = e.cap;
}

ct_lower_mod *ct_lower_mod_new(ct_lower *L, ct_lower_mod_kind k) {
  ct_lower_mod *m = ct_arena_alloc(L->arena, sizeof *m);
  m->kind = k;
  return m;
}

/* ---- imports ------------------------------------------------------------------------------ */

static const char supported_imports[] =
    "import torch, import torch.nn as nn, import torch.nn.functional as F, from torch import nn, "
    "from typing import ...";

ct_lower_val ct_lower_ns(ct_lower *L, const char *q) {
  ct_lower_val v = {0};
  v.kind = CT_LV_NS;
  v.s = ct_arena_strdup(L->arena, q);
  return v;
}

static void check_import(ct_lower *L, const ct_py_stmt *s) {
  if (s->kind == CT_PY_IMPORT) {
    for (int i = 0; i < s->u.import.n_names; i++) {
      const ct_py_alias *a = &s->u.import.names[i];
      if (strcmp(a->name, "torch") != 0 && strcmp(a->name, "torch.nn") != 0 &&
          strcmp(a->name, "torch.nn.functional") != 0) {
        ERR(a, "unsupported import '%s' (supported: %s)", a->name, supported_imports);
        continue;
      }
      if (a->asname)
        ct_lower_env_set(L, &L->imports, a->asname, ct_lower_ns(L, a->name));
      else
        ct_lower_env_set(L, &L->imports, "torch", ct_lower_ns(L, "torch"));
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
    ct_lower_env_set(L, &L->imports, a->asname ? a->asname : a->name, ct_lower_ns(L, q));
  }
}

/* ---- parameters --------------------------------------------------------------------------- */

static ct_value *add_param_spec(ct_lower *L, ct_graph *g, const char *prefix, const char *leaf,
                                ct_type t, ct_param_kind kind, const char *spec) {
  char name[512];
  snprintf(name, sizeof name, "%s%s", prefix, leaf);
  int idx = ct_module_add_param(L->m, name, t, kind, NULL);
  L->m->params[idx].init_spec = ct_arena_strdup(L->m->arena, spec);
  return ct_graph_add_input(g, name, t);
}

/* PyTorch's default for Linear and Conv2d: kaiming_uniform(a=sqrt(5)) for the weight and
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias come to the same bound. */
static ct_value *add_param(ct_lower *L, ct_graph *g, const char *prefix, const char *leaf, int rank,
                           const int64_t *shape, int64_t fan_in) {
  char spec[96];
  double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
  snprintf(spec, sizeof spec, "uniform(%g,%g)", -bound, bound);
  return add_param_spec(L, g, prefix, leaf, ct_type_concrete(CT_DT_F32, rank, shape),
                        CT_PARAM_WEIGHT, spec);
}

/* Registers parameters in state_dict order: a module's own parameters, then its buffers, then
 * its children's in the order they were assigned. */
static void register_params(ct_lower *L, ct_graph *g, ct_lower_mod *m, const char *prefix) {
  ct_type vec = ct_type_concrete(CT_DT_F32, 1, &m->out);
  switch (m->kind) {
  case CT_LM_LINEAR: {
    int64_t w[2] = {m->out, m->in};
    m->weight_v = add_param(L, g, prefix, "weight", 2, w, m->in);
    if (m->bias) m->bias_v = add_param(L, g, prefix, "bias", 1, &m->out, m->in);
    break;
  }
  case CT_LM_CONV2D: {
    int64_t g1 = m->groups > 0 ? m->groups : 1;
    int64_t w[4] = {m->out, m->in / g1, m->k[0], m->k[1]};
    int64_t fan = m->in / g1 * m->k[0] * m->k[1];
    m->weight_v = add_param(L, g, prefix, "weight", 4, w, fan);
    if (m->bias) m->bias_v = add_param(L, g, prefix, "bias", 1, &m->out, fan);
    break;
  }
  case CT_LM_BATCHNORM:
    if (m->bias) {
      m->weight_v = add_param_spec(L, g, prefix, "weight", vec, CT_PARAM_WEIGHT, "ones");
      m->bias_v = add_param_spec(L, g, prefix, "bias", vec, CT_PARAM_WEIGHT, "zeros");
    }
    m->mean_v = add_param_spec(L, g, prefix, "running_mean", vec, CT_PARAM_BUFFER, "zeros");
    m->var_v = add_param_spec(L, g, prefix, "running_var", vec, CT_PARAM_BUFFER, "ones");
    add_param_spec(L, g, prefix, "num_batches_tracked", ct_type_scalar(CT_DT_I64), CT_PARAM_BUFFER,
                   "zeros");
    break;
  case CT_LM_LAYERNORM:
    if (m->bias) {
      ct_type t = ct_type_concrete(CT_DT_F32, m->n_norm, m->norm_shape);
      m->weight_v = add_param_spec(L, g, prefix, "weight", t, CT_PARAM_WEIGHT, "ones");
      m->bias_v = add_param_spec(L, g, prefix, "bias", t, CT_PARAM_WEIGHT, "zeros");
    }
    break;
  case CT_LM_EMBEDDING: {
    int64_t w[2] = {m->in, m->out};
    /* PyTorch draws normal(0,1) and zeroes the padding_idx row. */
    char spec[64];
    if (m->padding_idx >= 0)
      snprintf(spec, sizeof spec, "normal_pad(0,1,%lld)", (long long)m->padding_idx);
    else
      snprintf(spec, sizeof spec, "normal(0,1)");
    m->weight_v = add_param_spec(L, g, prefix, "weight", ct_type_concrete(CT_DT_F32, 2, w),
                                 CT_PARAM_WEIGHT, spec);
    break;
  }
  default: break;
  }
  /* nn.Parameter attributes, then register_buffer ones, then children, as state_dict. */
  for (int pass = 0; pass < 3; pass++)
    for (int i = 0; i < m->n; i++) {
      ct_lower_val *v = &m->vals[i];
      if (pass < 2 && v->kind == CT_LV_PARAM && v->param->registered_buffer == (pass == 1)) {
        ct_lower_param *p = v->param;
        p->v = add_param_spec(L, g, prefix, m->names[i],
                              ct_type_concrete(CT_DT_F32, p->rank, p->shape), p->kind, p->spec);
      } else if (pass == 2 && v->kind == CT_LV_MODULE) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s%s.", prefix, m->names[i]);
        register_params(L, g, v->mod, sub);
      }
    }
}

/* ---- entry -------------------------------------------------------------------------------- */

static bool is_nn_module_base(const ct_py_expr *b) {
  return (b->kind == CT_PY_ATTR && strcmp(b->u.attr.attr, "Module") == 0) ||
         (b->kind == CT_PY_NAME && strcmp(b->u.name, "Module") == 0);
}

static void lower_root(ct_lower *L, const ct_frontend_options *opt) {
  const ct_py_stmt *root = NULL;
  for (int i = 0; i < L->ast->body.n; i++) {
    const ct_py_stmt *s = L->ast->body.items[i];
    if (s->kind == CT_PY_IMPORT || s->kind == CT_PY_FROM) check_import(L, s);
    if (s->kind != CT_PY_CLASS) continue;
    bool nn = false;
    for (int k = 0; k < s->u.class_.bases.n; k++)
      nn |= is_nn_module_base(s->u.class_.bases.items[k]);
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
  const ct_py_stmt *fwd = ct_lower_find_method(root, "forward");
  if (!fwd) {
    ERR(root, "class %s has no forward method", root->u.class_.name);
    return;
  }
  char lname[256];
  snprintf(lname, sizeof lname, "%s", root->u.class_.name);
  for (char *c = lname; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  L->m->name = ct_arena_strdup(L->m->arena, lname);

  /* Errors in __init__ leave the attributes they assign unbound (error values, which later
   * uses pass on silently), so forward is still lowered and its own errors reported. */
  ct_lower_val rootv = ct_lower_construct_user(L, NULL, NULL, root);
  if (rootv.kind != CT_LV_MODULE) return;
  ct_graph *g = ct_module_add_graph(L->m, "forward");
  int n_in = opt ? opt->n_inputs : 0, n_params = fwd->u.def.n_params - 1, n_required = 0;
  for (int i = 1; i <= n_params; i++)
    if (!fwd->u.def.params[i].dflt) n_required = i;
  if (n_in < n_required || n_in > n_params) {
    if (n_required == n_params)
      ERR(fwd, "forward takes %d inputs but %d --input specs were given", n_params, n_in);
    else
      ERR(fwd, "forward takes %d to %d inputs but %d --input specs were given", n_required,
          n_params, n_in);
    return;
  }
  ct_lower_val args[16];
  if (n_in > 16) n_in = 16;
  for (int i = 0; i < n_in; i++) {
    ct_input_spec in;
    if (ct_input_spec_parse(L->m, opt->input_specs[i], true, &in) != CT_SPEC_OK) {
      ct_diag_error(L->diag, NULL, 0, 0,
                    "invalid input spec '%s' (expected NAME=DTYPE[DIM,...], e.g. x=f32[N,784])",
                    opt->input_specs[i]);
      return;
    }
    args[i] = ct_lower_tensor(ct_graph_add_input(g, in.name, in.type));
  }
  register_params(L, g, rootv.mod, "");
  L->b = ct_builder_at_end(L->m, g->body, L->diag);
  L->in_forward = true;
  ct_py_expr site = {0};
  site.line = fwd->line, site.col = fwd->col;
  ct_lower_val r = ct_lower_call_module(L, rootv.mod, &site, n_in, args, NULL);
  if (r.kind == CT_LV_ERR || L->diag->n_errors) return;
  ct_value *res[16];
  int n = 0;
  if (r.kind == CT_LV_TENSOR) {
    res[n++] = r.t;
  } else if (r.kind == CT_LV_TUPLE && r.n <= 16) {
    for (int i = 0; i < r.n; i++)
      if (r.elts[i].kind == CT_LV_TENSOR) res[n++] = r.elts[i].t;
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

/* A class used twice, or a loop body, reports the same error at the same place again: keep the
 * first of identical diagnostics added since entry `from`. */
static void drop_repeated(ct_diag *d, int from) {
  int n = from;
  for (int i = from; i < d->n; i++) {
    ct_diag_entry *x = &d->items[i];
    bool seen = false;
    for (int j = from; j < n && !seen; j++) {
      const ct_diag_entry *y = &d->items[j];
      seen = y->sev == x->sev && y->line == x->line && y->col == x->col &&
             strcmp(y->msg, x->msg) == 0 &&
             (y->file && x->file ? strcmp(y->file, x->file) == 0 : y->file == x->file);
    }
    if (seen) {
      if (x->sev == CT_SEV_ERROR) d->n_errors--;
      free(x->file);
      free(x->msg);
    } else {
      d->items[n++] = *x;
    }
  }
  d->n = n;
}

ct_status ct_frontend_compile(const char *text, size_t len, const char *file,
                              const ct_frontend_options *opt, ct_module **out, ct_diag *diag) {
  *out = NULL;
  ct_lower L = {0};
  L.arena = ct_arena_new();
  L.diag = diag;
  L.file = file;
  int errors_before = diag->n_errors, entries_before = diag->n;
  if (ct_py_parse(text, len, file, L.arena, &L.ast, diag) != CT_OK) {
    ct_arena_free(L.arena);
    return CT_ERR_INVALID;
  }
  L.m = ct_module_new();
  L.file = ct_arena_strdup(L.m->arena, file);
  lower_root(&L, opt);
  ct_arena_free(L.arena);
  drop_repeated(diag, entries_before);
  if (diag->n_errors > errors_before) {
    ct_module_free(L.m);
    return CT_ERR_INVALID;
  }
  *out = L.m;
  return CT_OK;
}
