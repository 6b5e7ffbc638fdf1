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
  int n_pos = 0;
  const ct_py_expr *extra = NULL;
  for (int i = 0; i < args->n; i++) {
    const ct_py_expr *ax = args->items[i];
    if (n_pos >= n_names && !extra) extra = ax;
    if (ax->kind == CT_PY_STARRED && !ax->u.starred.double_star) {
      ct_lower_val v = ct_lower_eval(L, e, ax->u.starred.value);
      if (v.kind == CT_LV_ERR) {
        ok = false;
        continue;
      }
      if (v.kind != CT_LV_TUPLE) {
        ERR(ax, "unsupported: *%s in a call; supported: *tuple, *list", ct_lower_kind_name(v.kind));
        ok = false;
        continue;
      }
      for (int j = 0; j < v.n; j++, n_pos++)
        if (n_pos < n_names) out[n_pos] = v.elts[j], have[n_pos] = true;
      continue;
    }
    if (n_pos < n_names) {
      out[n_pos] = ct_lower_eval(L, e, ax);
      have[n_pos] = true;
      if (out[n_pos].kind == CT_LV_ERR) ok = false;
    }
    n_pos++;
  }
  if (n_pos > n_names) {
    ERR(extra ? extra : call, "%s takes at most %d positional argument%s but %d were given", fname,
        n_names, n_names == 1 ? "" : "s", n_pos);
    ok = false;
  }
  for (int k = 0; k < call->u.call.kwargs.n; k++) {
    const ct_py_keyword *kw = &call->u.call.kwargs.items[k];
    int j = -1;
    for (int i = 0; kw->name && i < n_names; i++)
      if (strcmp(names[i], kw->name) == 0) j = i;
    if (j >= 0 && have[j]) {
      ERR(kw, "%s got multiple values for argument '%s'", fname, kw->name);
      ok = false;
      continue;
    }
    if (j < 0) {
      char list[256] = "";
      for (int i = 0; i < n_names; i++)
        if (names[i][0] != '_')
          snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
                   names[i]);
      if (list[0])
        ERR(kw, "unexpected keyword argument '%s' for %s; supported: %s",
            kw->name ? kw->name : "**", fname, list);
      else
        ERR(kw, "unexpected keyword argument '%s' for %s; it takes none",
            kw->name ? kw->name : "**", fname);
      ok = false;
      continue;
    }
    out[j] = ct_lower_eval(L, e, kw->value);
    have[j] = true;
    if (out[j].kind == CT_LV_ERR) ok = false;
  }
  return ok;
}

static bool as_float(ct_lower *L, const ct_py_expr *x, ct_lower_val v, double *out) {
  if (v.kind == CT_LV_FLOAT) {
    *out = v.f;
    return true;
  }
  int64_t i;
  if (!ct_lower_as_int(L, x, v, &i)) return false;
  *out = (double)i;
  return true;
}

/* nn.Parameter(torch.zeros/ones/randn/rand(...) [* scalar], requires_grad=...). */
static ct_lower_val construct_parameter(ct_lower *L, ct_lower_env *e, const ct_py_expr *call) {
  static const char *const nm[] = {"data", "requires_grad"};
  ct_lower_val a[2];
  bool h[2];
  if (!ct_lower_bind_args(L, e, call, "nn.Parameter", 2, nm, a, h)) return ct_lower_err_val();
  if (!h[0] || a[0].kind != CT_LV_INIT)
    return ERR(call,
               "unsupported nn.Parameter argument%s%s; supported: torch.zeros/ones/randn/"
               "rand(*size), optionally times a number",
               h[0] ? " of type " : "", h[0] ? ct_lower_kind_name(a[0].kind) : "");
  ct_lower_param *p = ct_arena_memdup(L->arena, a[0].param, sizeof *p);
  p->kind = h[1] && !ct_lower_truthy(a[1]) ? CT_PARAM_BUFFER : CT_PARAM_WEIGHT;
  ct_lower_val v = {0};
  v.kind = CT_LV_PARAM;
  v.param = p;
  return v;
}

static bool norm_args(ct_lower *L, const ct_py_expr *call, const ct_lower_val *a, const bool *h,
                      int eps_i, int affine_i, ct_lower_mod *m) {
  m->eps = 1e-5;
  m->bias = true;
  if (h[eps_i] && !as_float(L, call, a[eps_i], &m->eps)) return false;
  if (affine_i >= 0 && h[affine_i]) m->bias = ct_lower_truthy(a[affine_i]);
  return true;
}

static ct_lower_val construct_nn_kind(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                      const char *cls);

/* Sizes a parameter may have: each dim below 2^31 and at most 2^40 elements, so a typo never
 * becomes an allocation the runtime cannot make. */
enum { MAX_DIM = 1 << 30 };
#define MAX_NUMEL ((int64_t)1 << 40)

static bool in_range(ct_lower *L, const ct_py_expr *call, const char *cls, const char *what,
                     int64_t v, int64_t lo) {
  if (v >= lo && v <= MAX_DIM) return true;
  ERR(call, "nn.%s: %s must be %s, got %lld", cls, what,
      lo == 0   ? "non-negative"
      : lo == 1 ? "positive"
                : "in range",
      (long long)v);
  return false;
}

/* Checks a built-in module's arguments as PyTorch's constructors do. */
static bool validate(ct_lower *L, const ct_py_expr *call, const char *cls, const ct_lower_mod *m) {
  bool ok = true;
  switch (m->kind) {
  case CT_LM_LINEAR:
    ok = in_range(L, call, cls, "in_features", m->in, 0) &&
         in_range(L, call, cls, "out_features", m->out, 0);
    break;
  case CT_LM_CONV2D:
    ok = in_range(L, call, cls, "in_channels", m->in, 1) &&
         in_range(L, call, cls, "out_channels", m->out, 1) &&
         in_range(L, call, cls, "groups", m->groups, 1);
    for (int i = 0; ok && i < 2; i++)
      ok = in_range(L, call, cls, "kernel_size", m->k[i], 1) &&
           in_range(L, call, cls, "stride", m->stride[i], 1) &&
           in_range(L, call, cls, "padding", m->pad[i], 0) &&
           in_range(L, call, cls, "dilation", m->dil[i], 1);
    if (ok && (m->in % m->groups || m->out % m->groups)) {
      ERR(call, "nn.%s: in_channels and out_channels must be divisible by groups", cls);
      return false;
    }
    break;
  case CT_LM_MAXPOOL:
  case CT_LM_AVGPOOL:
    for (int i = 0; ok && i < 2; i++)
      ok = in_range(L, call, cls, "kernel_size", m->k[i], 1) &&
           in_range(L, call, cls, "stride", m->stride[i], 1) &&
           in_range(L, call, cls, "padding", m->pad[i], 0) &&
           in_range(L, call, cls, "dilation", m->dil[i], 1);
    if (ok && (2 * m->pad[0] > m->k[0] || 2 * m->pad[1] > m->k[1])) {
      ERR(call, "nn.%s: padding should be at most half of kernel_size", cls);
      return false;
    }
    break;
  case CT_LM_ADAPTIVE_AVGPOOL:
    ok = in_range(L, call, cls, "output_size", m->k[0], 1) &&
         in_range(L, call, cls, "output_size", m->k[1], 1);
    break;
  case CT_LM_BATCHNORM: ok = in_range(L, call, cls, "num_features", m->out, 1); break;
  case CT_LM_LAYERNORM:
    for (int i = 0; ok && i < m->n_norm; i++)
      ok = in_range(L, call, cls, "normalized_shape", m->norm_shape[i], 1);
    break;
  case CT_LM_EMBEDDING:
    ok = in_range(L, call, cls, "num_embeddings", m->in, 1) &&
         in_range(L, call, cls, "embedding_dim", m->out, 1);
    break;
  default: break;
  }
  if (!ok) return false;
  int64_t numel = 0;
  if (m->kind == CT_LM_LINEAR || m->kind == CT_LM_EMBEDDING) numel = m->in * m->out;
  if (m->kind == CT_LM_CONV2D) numel = m->out * (m->in / m->groups) * m->k[0] * m->k[1];
  if (m->kind == CT_LM_LAYERNORM) {
    numel = 1;
    for (int i = 0; i < m->n_norm && numel <= MAX_NUMEL; i++)
      numel *= m->norm_shape[i];
  }
  if (numel > MAX_NUMEL) {
    ERR(call, "nn.%s: the weight would have %lld elements; at most 2^40 are supported", cls,
        (long long)numel);
    return false;
  }
  return true;
}

/* The nn.Module classes ctorch knows, constructed in __init__. */
ct_lower_val ct_lower_construct_nn(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                   const char *cls) {
  if (strcmp(cls, "Parameter") == 0) return construct_parameter(L, e, call);
  ct_lower_val v = construct_nn_kind(L, e, call, cls);
  if (v.kind == CT_LV_MODULE && !validate(L, call, cls, v.mod)) return ct_lower_err_val();
  if (v.kind == CT_LV_MODULE) {
    char name[64];
    snprintf(name, sizeof name, "nn.%s", cls);
    v.mod->type_name = ct_arena_strdup(L->arena, name);
  }
  return v;
}

static ct_lower_val construct_nn_kind(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                      const char *cls) {
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
    static const char *const nm[] = {"in_channels", "out_channels", "kernel_size",
                                     "stride",      "padding",      "dilation",
                                     "groups",      "bias",         "padding_mode"};
    ct_lower_val a[9];
    bool h[9];
    if (!ct_lower_bind_args(L, e, call, "nn.Conv2d", 9, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_CONV2D);
    m->stride[0] = m->stride[1] = m->dil[0] = m->dil[1] = m->groups = 1;
    bool pad_str = h[4] && a[4].kind == CT_LV_STR;
    if (!ct_lower_as_int(L, call, a[0], &m->in) || !ct_lower_as_int(L, call, a[1], &m->out) ||
        !ct_lower_as_pair(L, call, a[2], m->k) ||
        (h[3] && !ct_lower_as_pair(L, call, a[3], m->stride)) ||
        (h[4] && !pad_str && !ct_lower_as_pair(L, call, a[4], m->pad)) ||
        (h[5] && !ct_lower_as_pair(L, call, a[5], m->dil)) ||
        (h[6] && !ct_lower_as_int(L, call, a[6], &m->groups)))
      return ct_lower_err_val();
    if (h[8] && (a[8].kind != CT_LV_STR || strcmp(a[8].s, "zeros") != 0))
      return ERR(call, "unsupported: nn.Conv2d padding_mode other than 'zeros'");
    if (pad_str && strcmp(a[4].s, "same") == 0) {
      /* PyTorch pads (dilation * (kernel - 1)) / 2 on each side when that total is even. */
      for (int i = 0; i < 2; i++) {
        int64_t total = m->dil[i] * (m->k[i] - 1);
        if (m->stride[i] != 1)
          return ERR(call, "nn.Conv2d: padding='same' is not supported for strided convolutions");
        if (total % 2)
          return ERR(call, "unsupported: nn.Conv2d(padding='same') with an even kernel "
                           "(asymmetric padding)");
        m->pad[i] = total / 2;
      }
    } else if (pad_str && strcmp(a[4].s, "valid") != 0) {
      return ERR(call, "nn.Conv2d: invalid padding string '%s'; supported: 'same', 'valid'",
                 a[4].s);
    }
    m->bias = h[7] ? ct_lower_truthy(a[7]) : true;
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "MaxPool2d") == 0 || strcmp(cls, "AvgPool2d") == 0) {
    bool max = cls[0] == 'M';
    const char *qual = max ? "nn.MaxPool2d" : "nn.AvgPool2d";
    ct_lower_val a[6];
    bool h[6];
    ct_lower_mod *m = ct_lower_mod_new(L, max ? CT_LM_MAXPOOL : CT_LM_AVGPOOL);
    if (!ct_lower_bind_args(L, e, call, qual, 6,
                            max ? ct_lower_max_pool_names : ct_lower_avg_pool_names, a, h) ||
        !ct_lower_pool_params(L, call, qual, max, a, h, m))
      return ct_lower_err_val();
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
      static const char *const gelu_nm[] = {"approximate"};
      bool gelu = acts[i].op == CT_OP_GELU;
      bool inplace = acts[i].op == CT_OP_RELU || acts[i].op == CT_OP_SILU;
      char qual[32];
      snprintf(qual, sizeof qual, "nn.%s", cls);
      ct_lower_val a[1];
      bool h[1];
      if (!ct_lower_bind_args(L, e, call, qual, gelu || inplace ? 1 : 0, gelu ? gelu_nm : nm, a, h))
        return ct_lower_err_val();
      ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_ACT);
      m->op = acts[i].op;
      m->approximate = "none";
      if (gelu && h[0]) {
        if (a[0].kind != CT_LV_STR || (strcmp(a[0].s, "none") != 0 && strcmp(a[0].s, "tanh") != 0))
          return ERR(call, "nn.GELU: approximate must be 'none' or 'tanh'");
        m->approximate = a[0].s;
      }
      return ct_lower_modv(m);
    }
  if (strcmp(cls, "Identity") == 0) {
    ct_lower_val a[1];
    bool h[1];
    if (!ct_lower_bind_args(L, e, call, "nn.Identity", 0, NULL, a, h)) return ct_lower_err_val();
    return ct_lower_modv(ct_lower_mod_new(L, CT_LM_IDENTITY));
  }
  if (strcmp(cls, "Dropout") == 0) {
    static const char *const nm[] = {"p", "inplace"};
    ct_lower_val a[2];
    bool h[2];
    if (!ct_lower_bind_args(L, e, call, "nn.Dropout", 2, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_DROPOUT);
    m->eps = 0.5;
    if (h[0] && !ct_lower_dropout_p(L, call, a[0], &m->eps)) return ct_lower_err_val();
    return ct_lower_modv(m);
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
    int k = 0;
    for (int i = 0; i < call->u.call.args.n; i++) {
      const ct_py_expr *ax = call->u.call.args.items[i];
      bool starred = ax->kind == CT_PY_STARRED;
      ct_lower_val v = ct_lower_eval(L, e, starred ? ax->u.starred.value : ax);
      if (v.kind == CT_LV_ERR) {
        ok = false;
        continue;
      }
      int n = starred && v.kind == CT_LV_TUPLE ? v.n : 1;
      for (int j = 0; j < n; j++) {
        ct_lower_val c = starred && v.kind == CT_LV_TUPLE ? v.elts[j] : v;
        if (c.kind != CT_LV_MODULE) {
          ERR(ax, "nn.Sequential takes modules, got a value of type %s",
              ct_lower_kind_name(c.kind));
          ok = false;
          continue;
        }
        char name[24];
        snprintf(name, sizeof name, "%d", k++);
        ct_lower_mod_set(L, m, ct_arena_strdup(L->arena, name), c);
      }
    }
    if (call->u.call.kwargs.n)
      return ERR(&call->u.call.kwargs.items[0], "nn.Sequential takes no keyword arguments");
    return ok ? ct_lower_modv(m) : ct_lower_err_val();
  }
  if (strcmp(cls, "ModuleList") == 0) {
    static const char *const nm[] = {"modules"};
    ct_lower_val a[1];
    bool h[1];
    if (!ct_lower_bind_args(L, e, call, "nn.ModuleList", 1, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_LIST);
    if (!h[0] || a[0].kind == CT_LV_NONE) return ct_lower_modv(m);
    if (a[0].kind != CT_LV_TUPLE)
      return ERR(call, "nn.ModuleList takes a list of modules, got a value of type %s",
                 ct_lower_kind_name(a[0].kind));
    for (int i = 0; i < a[0].n; i++) {
      if (a[0].elts[i].kind != CT_LV_MODULE)
        return ERR(call, "nn.ModuleList takes modules; item %d is a value of type %s", i,
                   ct_lower_kind_name(a[0].elts[i].kind));
      char name[24];
      snprintf(name, sizeof name, "%d", i);
      ct_lower_mod_set(L, m, ct_arena_strdup(L->arena, name), a[0].elts[i]);
    }
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "BatchNorm1d") == 0 || strcmp(cls, "BatchNorm2d") == 0) {
    static const char *const nm[] = {"num_features", "eps", "momentum", "affine",
                                     "track_running_stats"};
    ct_lower_val a[5];
    bool h[5];
    char qual[32];
    snprintf(qual, sizeof qual, "nn.%s", cls);
    if (!ct_lower_bind_args(L, e, call, qual, 5, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_BATCHNORM);
    m->k[0] = cls[9] == '2' ? 4 : 0; /* BatchNorm2d takes rank-4 input, 1d rank 2 or 3 */
    if (!h[0]) return ERR(call, "%s needs num_features", qual);
    if (!ct_lower_as_int(L, call, a[0], &m->out) || !norm_args(L, call, a, h, 1, 3, m))
      return ct_lower_err_val();
    if (h[4] && !ct_lower_truthy(a[4]))
      return ERR(call,
                 "unsupported: %s(track_running_stats=False) (batch statistics in eval "
                 "mode); supported: running statistics",
                 qual);
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "LayerNorm") == 0) {
    static const char *const nm[] = {"normalized_shape", "eps", "elementwise_affine"};
    ct_lower_val a[3];
    bool h[3];
    if (!ct_lower_bind_args(L, e, call, "nn.LayerNorm", 3, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_LAYERNORM);
    if (!h[0]) return ERR(call, "nn.LayerNorm needs normalized_shape");
    if (a[0].kind == CT_LV_TUPLE) {
      if (a[0].n < 1 || a[0].n > CT_MAX_RANK)
        return ERR(call, "nn.LayerNorm: normalized_shape needs 1 to %d dims", CT_MAX_RANK);
      for (int i = 0; i < a[0].n; i++)
        if (!ct_lower_as_int(L, call, a[0].elts[i], &m->norm_shape[i])) return ct_lower_err_val();
      m->n_norm = a[0].n;
    } else {
      if (!ct_lower_as_int(L, call, a[0], &m->norm_shape[0])) return ct_lower_err_val();
      m->n_norm = 1;
    }
    if (!norm_args(L, call, a, h, 1, 2, m)) return ct_lower_err_val();
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "Embedding") == 0) {
    static const char *const nm[] = {"num_embeddings", "embedding_dim", "padding_idx",
                                     "max_norm",       "norm_type",     "scale_grad_by_freq",
                                     "sparse"};
    ct_lower_val a[7];
    bool h[7];
    if (!ct_lower_bind_args(L, e, call, "nn.Embedding", 7, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_EMBEDDING);
    if (!h[0] || !h[1]) return ERR(call, "nn.Embedding needs num_embeddings and embedding_dim");
    if (!ct_lower_as_int(L, call, a[0], &m->in) || !ct_lower_as_int(L, call, a[1], &m->out))
      return ct_lower_err_val();
    m->padding_idx = -1;
    if (h[2] && a[2].kind != CT_LV_NONE) {
      if (!ct_lower_as_int(L, call, a[2], &m->padding_idx)) return ct_lower_err_val();
      if (m->padding_idx < -m->in || m->padding_idx >= m->in)
        return ERR(call, "nn.Embedding: padding_idx must be within num_embeddings");
      if (m->padding_idx < 0) m->padding_idx += m->in;
    }
    if (h[3] && a[3].kind != CT_LV_NONE)
      return ERR(call, "unsupported: nn.Embedding(max_norm=...) (renormalizes weights in place)");
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "AdaptiveAvgPool2d") == 0) {
    static const char *const nm[] = {"output_size"};
    ct_lower_val a[1];
    bool h[1];
    if (!ct_lower_bind_args(L, e, call, "nn.AdaptiveAvgPool2d", 1, nm, a, h))
      return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_ADAPTIVE_AVGPOOL);
    if (!h[0]) return ERR(call, "nn.AdaptiveAvgPool2d needs output_size");
    if (!ct_lower_as_pair(L, call, a[0], m->k)) return ct_lower_err_val();
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "LeakyReLU") == 0) {
    static const char *const nm[] = {"negative_slope", "inplace"};
    ct_lower_val a[2];
    bool h[2];
    if (!ct_lower_bind_args(L, e, call, "nn.LeakyReLU", 2, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_LEAKY_RELU);
    m->eps = 0.01;
    if (h[0] && !as_float(L, call, a[0], &m->eps)) return ct_lower_err_val();
    return ct_lower_modv(m);
  }
  if (strcmp(cls, "Softmax") == 0 || strcmp(cls, "LogSoftmax") == 0) {
    static const char *const nm[] = {"dim"};
    ct_lower_val a[1];
    bool h[1];
    char qual[32];
    snprintf(qual, sizeof qual, "nn.%s", cls);
    if (!ct_lower_bind_args(L, e, call, qual, 1, nm, a, h)) return ct_lower_err_val();
    ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_SOFTMAX);
    m->op = cls[0] == 'S' ? CT_OP_SOFTMAX : CT_OP_LOG_SOFTMAX;
    if (!h[0] || a[0].kind == CT_LV_NONE)
      return ERR(call,
                 "unsupported: %s without dim (PyTorch's implicit dim is deprecated); "
                 "pass dim=",
                 qual);
    if (!ct_lower_as_int(L, call, a[0], &m->start_dim)) return ct_lower_err_val();
    return ct_lower_modv(m);
  }
  return ERR(call,
             "unsupported module: nn.%s; supported: Linear, Conv2d, MaxPool2d, AvgPool2d, "
             "AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, LayerNorm, Embedding, ReLU, GELU, "
             "SiLU, Tanh, Sigmoid, LeakyReLU, Softmax, LogSoftmax, Identity, Dropout, Flatten, "
             "Sequential, "
             "ModuleList, Parameter",
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

/* Binds a def's parameters (after self) to positional arguments, keyword arguments kwvals (may
 * be NULL) and its defaults, as Python does; line:col is the call site. */
bool ct_lower_bind_params(ct_lower *L, ct_lower_env *e, const ct_py_stmt *def, int line, int col,
                          int n, const ct_lower_val *args, ct_lower_env *kwvals) {
  int np = def->u.def.n_params;
  const char *cls = L->cur_class ? L->cur_class : "";
  char fname[160];
  snprintf(fname, sizeof fname, "%s%s%s()", cls, cls[0] ? "." : "", def->u.def.name);
  bool ok = true;
  for (int i = 1; i < np; i++) {
    const ct_py_param *p = &def->u.def.params[i];
    if (p->kind != CT_PY_PARAM_NORMAL) {
      ERR(p, "unsupported parameter kind in %s; supported: plain parameters with defaults", fname);
      return false;
    }
  }
  if (n > np - 1) {
    ct_lower_error(L, line, col, "%s takes %d argument%s but %d were given", fname, np - 1,
                   np - 1 == 1 ? "" : "s", n);
    return false;
  }
  for (int k = 0; kwvals && k < kwvals->n; k++) {
    int j = -1;
    for (int i = 1; i < np; i++)
      if (strcmp(def->u.def.params[i].name, kwvals->names[k]) == 0) j = i;
    if (j < 0) {
      ct_lower_error(L, line, col, "%s got an unexpected keyword argument '%s'", fname,
                     kwvals->names[k]);
      ok = false;
    } else if (j - 1 < n) {
      ct_lower_error(L, line, col, "%s got multiple values for argument '%s'", fname,
                     kwvals->names[k]);
      ok = false;
    }
  }
  if (!ok) return false;
  for (int i = 1; i < np; i++) {
    const ct_py_param *p = &def->u.def.params[i];
    ct_lower_val *kv = kwvals ? ct_lower_env_get(kwvals, p->name) : NULL;
    if (i - 1 < n)
      ct_lower_env_set(L, e, p->name, args[i - 1]);
    else if (kv)
      ct_lower_env_set(L, e, p->name, *kv);
    else if (p->dflt)
      ct_lower_env_set(L, e, p->name, ct_lower_eval(L, e, p->dflt));
    else {
      ct_lower_error(L, line, col, "%s missing required argument '%s'", fname, p->name);
      ok = false;
    }
  }
  return ok;
}

ct_lower_val ct_lower_construct_user(ct_lower *L, ct_lower_env *caller, const ct_py_expr *call,
                                     const ct_py_stmt *cls) {
  if (++L->depth > 64) return ERR(call, "modules nested too deeply");
  ct_lower_mod *m = ct_lower_mod_new(L, CT_LM_USER);
  m->cls = cls;
  m->type_name = cls->u.class_.name;
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
    const char *outer = L->cur_class;
    ct_lower_env_set(L, &e, "self", ct_lower_modv(m));
    L->cur_class = cls->u.class_.name;
    if (ct_lower_bind_params(L, &e, init, call ? call->line : cls->line,
                             call ? call->col : cls->col, n, args, &kw))
      ct_lower_body(L, &e, &init->u.def.body, m);
    L->cur_class = outer;
  } else if (n || kw.n) {
    ERR(call, "%s() takes no arguments", cls->u.class_.name);
  }
  L->depth--;
  return ct_lower_modv(m);
}
