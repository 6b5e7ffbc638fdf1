/* frontend/lower_call.c: calls of torch.*, F.* and tensor methods, lowered to IR nodes with
 * PyTorch's parameter names (so keyword arguments bind as they do in PyTorch), and the Python
 * builtins a model uses on compile-time values (range, len, enumerate, zip, int, float, ...). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

enum { MAX_ARGS = 8 };

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

static ct_op unary_op(const char *name) {
  static const struct {
    const char *name;
    ct_op op;
  } t[] = {{"relu", CT_OP_RELU},
           {"silu", CT_OP_SILU},
           {"tanh", CT_OP_TANH},
           {"sigmoid", CT_OP_SIGMOID},
           {"exp", CT_OP_EXP},
           {"log", CT_OP_LOG},
           {"sqrt", CT_OP_SQRT},
           {"rsqrt", CT_OP_RSQRT},
           {"abs", CT_OP_ABS},
           {"neg", CT_OP_NEG},
           {"erf", CT_OP_ERF},
           {"sign", CT_OP_SIGN},
           {"logical_not", CT_OP_LOGICAL_NOT}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(name, t[i].name) == 0) return t[i].op;
  return CT_OP_COUNT;
}

static ct_op binary_op(const char *name) {
  static const struct {
    const char *name;
    ct_op op;
  } t[] = {{"add", CT_OP_ADD},
           {"sub", CT_OP_SUB},
           {"mul", CT_OP_MUL},
           {"div", CT_OP_DIV},
           {"pow", CT_OP_POW},
           {"maximum", CT_OP_MAXIMUM},
           {"minimum", CT_OP_MINIMUM},
           {"eq", CT_OP_EQ},
           {"ne", CT_OP_NE},
           {"lt", CT_OP_LT},
           {"le", CT_OP_LE},
           {"gt", CT_OP_GT},
           {"ge", CT_OP_GE},
           {"logical_and", CT_OP_LOGICAL_AND},
           {"logical_or", CT_OP_LOGICAL_OR}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(name, t[i].name) == 0) return t[i].op;
  return CT_OP_COUNT;
}

/* Binds a function's arguments; for a method the receiver is the first parameter. */
static bool bind(ct_lower *L, ct_lower_env *e, const ct_py_expr *call, const char *fn,
                 ct_lower_val *self, int n, const char *const *names, ct_lower_val *a, bool *h) {
  char qual[96];
  snprintf(qual, sizeof qual, "%s%s", self ? "Tensor." : "", fn);
  if (!self) return ct_lower_bind_args(L, e, call, qual, n, names, a, h);
  a[0] = *self, h[0] = true;
  return ct_lower_bind_args(L, e, call, qual, n - 1, names + 1, a + 1, h + 1);
}

static bool need_tensor(ct_lower *L, const ct_py_expr *call, ct_lower_val v, const char *fn,
                        const char *param) {
  if (v.kind == CT_LV_ERR) return false;
  if (v.kind == CT_LV_TENSOR) return true;
  ERR(call, "%s expects a tensor for '%s', got a value of type %s", fn, param,
      ct_lower_kind_name(v.kind));
  return false;
}

/* Varargs sizes or dims: f(2, 3), f((2, 3)) and f([2, 3]) alike. */
static bool int_varargs(ct_lower *L, ct_lower_env *e, const ct_py_expr *call, int skip,
                        ct_lower_val *out, int *n) {
  const ct_py_expr_list *args = &call->u.call.args;
  *n = 0;
  for (int i = skip; i < args->n; i++) {
    const ct_py_expr *ax = args->items[i];
    bool starred = ax->kind == CT_PY_STARRED;
    ct_lower_val v = ct_lower_eval(L, e, starred ? ax->u.starred.value : ax);
    if (v.kind == CT_LV_ERR) return false;
    if (v.kind == CT_LV_TUPLE && (args->n - skip == 1 || starred)) {
      for (int j = 0; j < v.n; j++) {
        if (*n == CT_MAX_RANK) return ERR(call, "more than %d sizes", CT_MAX_RANK), false;
        out[(*n)++] = v.elts[j];
      }
    } else {
      if (*n == CT_MAX_RANK) return ERR(call, "more than %d sizes", CT_MAX_RANK), false;
      out[(*n)++] = v;
    }
  }
  for (int i = 0; i < *n; i++)
    if (out[i].kind != CT_LV_INT && out[i].kind != CT_LV_BOOL) {
      ERR(call, "expected integer sizes, got a value of type %s", ct_lower_kind_name(out[i].kind));
      return false;
    }
  return true;
}

static bool parse_dtype(ct_lower *L, const ct_py_expr *x, ct_lower_val v, ct_dtype *out) {
  if (v.kind == CT_LV_NONE) return true;
  if (v.kind == CT_LV_NS) {
    static const struct {
      const char *name;
      ct_dtype dt;
    } t[] = {{"torch.float32", CT_DT_F32}, {"torch.float", CT_DT_F32}, {"torch.float64", CT_DT_F64},
             {"torch.double", CT_DT_F64},  {"torch.int64", CT_DT_I64}, {"torch.long", CT_DT_I64},
             {"torch.int32", CT_DT_I32},   {"torch.int", CT_DT_I32},   {"torch.bool", CT_DT_BOOL}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
      if (strcmp(v.s, t[i].name) == 0) {
        *out = t[i].dt;
        return true;
      }
  }
  ERR(x, "unsupported dtype; supported: torch.float32/float64/int64/int32/bool");
  return false;
}

/* torch.zeros/ones/randn/rand(*size, dtype=...): a constant in forward; in __init__ an
 * initializer that nn.Parameter turns into a parameter. */
static ct_lower_val factory(ct_lower *L, ct_lower_env *e, const ct_py_expr *call, const char *fn) {
  ct_lower_val size[CT_MAX_RANK];
  int n;
  ct_dtype dt = CT_DT_F32;
  for (int k = 0; k < call->u.call.kwargs.n; k++) {
    const ct_py_keyword *kw = &call->u.call.kwargs.items[k];
    if (kw->name && strcmp(kw->name, "dtype") == 0) {
      if (!parse_dtype(L, kw->value, ct_lower_eval(L, e, kw->value), &dt))
        return ct_lower_err_val();
    } else if (!kw->name ||
               (strcmp(kw->name, "requires_grad") != 0 && strcmp(kw->name, "device") != 0)) {
      return ERR(kw,
                 "unexpected keyword argument '%s' for torch.%s; supported: dtype, device, "
                 "requires_grad",
                 kw->name ? kw->name : "**", fn);
    }
  }
  if (!int_varargs(L, e, call, 0, size, &n)) return ct_lower_err_val();
  bool random = fn[0] == 'r';
  if (!L->in_forward) {
    ct_lower_param *p = ct_arena_alloc(L->arena, sizeof *p);
    p->rank = n;
    int64_t numel = 1;
    for (int i = 0; i < n; i++) {
      if (!ct_lower_as_int(L, call, size[i], &p->shape[i])) return ct_lower_err_val();
      if (p->shape[i] < 0 || p->shape[i] > (1 << 30))
        return ERR(call, "torch.%s: size %lld out of range", fn, (long long)p->shape[i]);
      numel *= p->shape[i];
      if (numel > ((int64_t)1 << 40)) return ERR(call, "torch.%s: more than 2^40 elements", fn);
    }
    p->spec = fn[0] == 'z'               ? "zeros"
              : fn[0] == 'o'             ? "ones"
              : strcmp(fn, "randn") == 0 ? "normal(0,1)"
                                         : "uniform(0,1)";
    if (dt != CT_DT_F32) return ERR(call, "unsupported: a parameter of dtype other than f32");
    ct_lower_val v = {0};
    v.kind = CT_LV_INIT;
    v.param = p;
    return v;
  }
  if (random) return ERR(call, "unsupported: torch.%s in forward (random numbers at run time)", fn);
  ct_dim dims[CT_MAX_RANK];
  for (int i = 0; i < n; i++) {
    dims[i] = size[i].i;
    if (ct_dim_is_const(dims[i]) && (dims[i].off < 0 || dims[i].off > (1 << 30)))
      return ERR(call, "torch.%s: size %lld out of range", fn, (long long)dims[i].off);
  }
  ct_type t = ct_type_make(dt, n, dims);
  ct_lower_set_loc(L, call);
  return ct_lower_tensor(ct_build_full(&L->b, &t, fn[0] == 'o' ? 1.0 : 0.0));
}

/* x.split(size, dim) and x.chunk(n, dim): a tuple of slices. */
static ct_lower_val split(ct_lower *L, const ct_py_expr *call, ct_value *t, int64_t size,
                          int64_t dim, bool chunks) {
  int d = ct_norm_dim(dim, t->type.rank);
  if (d < 0) return ERR(call, "dim %lld out of range for rank %d", (long long)dim, t->type.rank);
  ct_dim n = t->type.dims[d];
  if (!ct_dim_is_const(n))
    return ERR(call, "unsupported: splitting a symbolic dimension; supported: constant dims");
  if (size < 1) return ERR(call, "split size must be positive, got %lld", (long long)size);
  if (chunks) size = (n.off + size - 1) / size;
  int64_t count = size ? (n.off + size - 1) / size : 0;
  if (count > 4096) return ERR(call, "split into more than 4096 pieces");
  ct_lower_val r = ct_lower_tuple(L, (int)count);
  for (int64_t i = 0; i < count; i++) {
    int64_t end = (i + 1) * size < n.off ? (i + 1) * size : n.off;
    r.elts[i] = ct_lower_slice(L, call, t, d, i * size, end, 1);
    if (r.elts[i].kind == CT_LV_ERR) return r.elts[i];
  }
  return r;
}

static ct_lower_val unsqueeze(ct_lower *L, const ct_py_expr *call, ct_value *t, int64_t dim) {
  int r = t->type.rank, d = ct_norm_dim(dim, r + 1);
  if (d < 0) return ERR(call, "dim %lld out of range for unsqueeze of rank %d", (long long)dim, r);
  if (r == CT_MAX_RANK) return ERR(call, "result rank exceeds %d", CT_MAX_RANK);
  ct_dim shape[CT_MAX_RANK];
  for (int i = 0, k = 0; i <= r; i++)
    shape[i] = i == d ? ct_dim_const(1) : t->type.dims[k++];
  ct_lower_set_loc(L, call);
  return ct_lower_tensor(ct_build_reshape(&L->b, t, r + 1, shape));
}

static ct_lower_val squeeze(ct_lower *L, const ct_py_expr *call, ct_value *t, bool all,
                            int64_t dim) {
  int r = t->type.rank, d = all ? -1 : ct_norm_dim(dim, r);
  if (!all && d < 0) return ERR(call, "dim %lld out of range for rank %d", (long long)dim, r);
  ct_dim shape[CT_MAX_RANK];
  int n = 0;
  for (int i = 0; i < r; i++) {
    ct_dim s = t->type.dims[i];
    bool one = ct_dim_is_const(s) && s.off == 1;
    if (one && (all || i == d)) continue;
    shape[n++] = s;
  }
  if (n == r) return ct_lower_tensor(t);
  ct_lower_set_loc(L, call);
  return ct_lower_tensor(ct_build_reshape(&L->b, t, n, shape));
}

static ct_lower_val permute(ct_lower *L, const ct_py_expr *call, ct_value *t, int n,
                            const int64_t *perm) {
  ct_lower_set_loc(L, call);
  return ct_lower_tensor(ct_build_permute(&L->b, t, n, perm));
}

static ct_lower_val transpose(ct_lower *L, const ct_py_expr *call, ct_value *t, int64_t d0,
                              int64_t d1) {
  int r = t->type.rank, a = ct_norm_dim(d0, r), b = ct_norm_dim(d1, r);
  if (a < 0 || b < 0)
    return ERR(call, "transpose dims (%lld, %lld) out of range for rank %d", (long long)d0,
               (long long)d1, r);
  int64_t perm[CT_MAX_RANK];
  for (int i = 0; i < r; i++)
    perm[i] = i;
  perm[a] = b, perm[b] = a;
  return permute(L, call, t, r, perm);
}

/* leaky_relu has no op of its own: where(x > 0, x, slope * x). */
ct_lower_val ct_lower_leaky_relu(ct_lower *L, const ct_py_expr *x, ct_value *t, double slope) {
  ct_lower_set_loc(L, x);
  ct_dtype dt = t->type.dtype;
  ct_value *pos = ct_build_binary(&L->b, CT_OP_GT, t, ct_build_scalar(&L->b, dt, 0.0));
  ct_value *neg = ct_build_binary(&L->b, CT_OP_MUL, t, ct_build_scalar(&L->b, dt, slope));
  if (!pos || !neg) return ct_lower_err_val();
  return ct_lower_tensor(ct_build_where(&L->b, pos, t, neg));
}

/* nn.Dropout and F.dropout: the dropout op (the identity in @forward; autodiff's training graphs
 * multiply by a fresh Bernoulli mask at every step). p = 0 is the identity. */
/* `self.training` for a module `self` (a user module's forward). */
static bool is_self_training(ct_lower *L, ct_lower_env *e, const ct_py_expr *x) {
  if (x->kind != CT_PY_ATTR || strcmp(x->u.attr.attr, "training") != 0 ||
      x->u.attr.value->kind != CT_PY_NAME || strcmp(x->u.attr.value->u.name, "self") != 0)
    return false;
  ct_lower_val v = ct_lower_eval(L, e, x->u.attr.value);
  return v.kind == CT_LV_MODULE;
}

bool ct_lower_dropout_p(ct_lower *L, const ct_py_expr *x, ct_lower_val v, double *p) {
  if (v.kind == CT_LV_FLOAT)
    *p = v.f;
  else if ((v.kind == CT_LV_INT || v.kind == CT_LV_BOOL) && ct_dim_is_const(v.i))
    *p = (double)v.i.off;
  else {
    ERR(x, "dropout probability must be a number");
    return false;
  }
  if (!(*p >= 0.0 && *p <= 1.0)) {
    ERR(x, "dropout probability has to be between 0 and 1, but got %g", *p);
    return false;
  }
  if (*p == 1.0) {
    ERR(x, "unsupported: dropout with p=1 (every element zeroed); supported: 0 <= p < 1");
    return false;
  }
  return true;
}

ct_lower_val ct_lower_dropout(ct_lower *L, const ct_py_expr *x, ct_value *t, double p) {
  if (p == 0.0) return ct_lower_tensor(t);
  ct_lower_set_loc(L, x);
  ct_attr at = ct_attr_float("p", p);
  return ct_lower_tensor(ct_build(&L->b, CT_OP_DROPOUT, 1, &t, &at, 1));
}

/* ---- torch.*, F.* and tensor methods ------------------------------------------------------- */

static const char supported_calls[] =
    "F.relu/gelu/silu/softmax/log_softmax/max_pool2d/avg_pool2d/adaptive_avg_pool2d/linear/"
    "layer_norm/dropout/leaky_relu/cross_entropy/nll_loss/mse_loss/l1_loss, "
    "torch.tanh/sigmoid/exp/log/sqrt/matmul/cat/"
    "stack/flatten/transpose/permute/where/maximum/minimum/zeros/ones/zeros_like/ones_like/"
    "mean/sum, Tensor.view/reshape/flatten/permute/transpose/contiguous/unsqueeze/squeeze/"
    "size/dim/mean/sum/max/min/amax/amin/argmax/split/chunk/masked_fill/clamp/expand/"
    "expand_as/float/long/to and the "
    "elementwise methods";

ct_lower_val ct_lower_call_function(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                    const char *fn, ct_lower_val *self) {
  ct_lower_val a[MAX_ARGS];
  bool h[MAX_ARGS];
  const ct_py_expr_list *args = &call->u.call.args;
  ct_op op = unary_op(fn);
  if (op != CT_OP_COUNT || strcmp(fn, "gelu") == 0) {
    static const char *const nm[] = {"input", "inplace"};
    static const char *const gelu_nm[] = {"input", "approximate"};
    bool gelu = op == CT_OP_COUNT;
    /* F.relu(x, inplace) has a second parameter; torch.tanh(x) and methods have none. */
    int n = gelu ? 2 : (self ? 1 : (strcmp(fn, "relu") == 0 || strcmp(fn, "silu") == 0) ? 2 : 1);
    if (!bind(L, e, call, fn, self, n, gelu ? gelu_nm : nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    ct_lower_set_loc(L, call);
    if (!gelu) return ct_lower_tensor(ct_build_unary(&L->b, op, a[0].t));
    const char *approx = "none";
    if (h[1]) {
      if (a[1].kind != CT_LV_STR || (strcmp(a[1].s, "none") != 0 && strcmp(a[1].s, "tanh") != 0))
        return ERR(call, "gelu: approximate must be 'none' or 'tanh'");
      approx = a[1].s;
    }
    ct_attr at = ct_attr_str("approximate", approx);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_GELU, 1, &a[0].t, &at, 1));
  }
  op = binary_op(fn);
  if (op != CT_OP_COUNT) {
    static const char *const nm[] = {"input", "other"};
    if (!bind(L, e, call, fn, self, 2, nm, a, h)) return ct_lower_err_val();
    if (!h[1]) return ERR(call, "%s needs 'other'", fn);
    if (a[0].kind != CT_LV_TENSOR && a[1].kind != CT_LV_TENSOR)
      return ERR(call, "%s expects a tensor", fn);
    ct_dtype dt = (a[0].kind == CT_LV_TENSOR ? a[0] : a[1]).t->type.dtype;
    ct_lower_set_loc(L, call);
    ct_value *p = ct_lower_to_tensor(L, a[0], dt), *q = ct_lower_to_tensor(L, a[1], dt);
    if (!p || !q) return ERR(call, "%s expects tensors or numbers", fn);
    return ct_lower_tensor(ct_build_binary(&L->b, op, p, q));
  }
  if (strcmp(fn, "softmax") == 0 || strcmp(fn, "log_softmax") == 0) {
    static const char *const nm[] = {"input", "dim", "_stacklevel", "dtype"};
    if (!bind(L, e, call, fn, self, self ? 2 : 4, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (!h[1] || a[1].kind == CT_LV_NONE) return ERR(call, "%s needs dim=", fn);
    int64_t d;
    if (!ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    ct_attr at = ct_attr_int("dim", d);
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(
        ct_build(&L->b, fn[0] == 's' ? CT_OP_SOFTMAX : CT_OP_LOG_SOFTMAX, 1, &a[0].t, &at, 1));
  }
  if (!self && (strcmp(fn, "max_pool2d") == 0 || strcmp(fn, "avg_pool2d") == 0)) {
    bool max = fn[0] == 'm';
    const char *nm[7] = {"input"};
    memcpy(nm + 1, max ? ct_lower_max_pool_names : ct_lower_avg_pool_names, sizeof(char *) * 6);
    ct_lower_mod m = {0};
    if (!ct_lower_bind_args(L, e, call, fn, 7, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input") ||
        !ct_lower_pool_params(L, call, fn, max, a + 1, h + 1, &m))
      return ct_lower_err_val();
    return ct_lower_pool(L, call, max, a[0].t, &m);
  }
  if (!self && strcmp(fn, "adaptive_avg_pool2d") == 0) {
    static const char *const nm[] = {"input", "output_size"};
    int64_t o[2];
    if (!ct_lower_bind_args(L, e, call, fn, 2, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (!h[1]) return ERR(call, "%s needs output_size", fn);
    if (!ct_lower_as_pair(L, call, a[1], o)) return ct_lower_err_val();
    return ct_lower_adaptive_avg_pool(L, call, a[0].t, o);
  }
  if (strcmp(fn, "flatten") == 0) {
    static const char *const nm[] = {"input", "start_dim", "end_dim"};
    if (!bind(L, e, call, fn, self, 3, nm, a, h) || !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    int64_t s = 0, en = -1;
    if ((h[1] && !ct_lower_as_int(L, call, a[1], &s)) ||
        (h[2] && !ct_lower_as_int(L, call, a[2], &en)))
      return ct_lower_err_val();
    return ct_lower_flatten(L, call, a[0].t, s, en);
  }
  if (strcmp(fn, "matmul") == 0 || strcmp(fn, "mm") == 0 || strcmp(fn, "bmm") == 0) {
    static const char *const nm[] = {"input", "other"};
    if (!bind(L, e, call, fn, self, 2, nm, a, h) || !need_tensor(L, call, a[0], fn, "input") ||
        !need_tensor(L, call, a[1], fn, "other"))
      return ct_lower_err_val();
    return ct_lower_binary(L, call, CT_PY_MATMUL, a[0], a[1]);
  }
  if (!self && strcmp(fn, "linear") == 0) {
    static const char *const nm[] = {"input", "weight", "bias"};
    if (!ct_lower_bind_args(L, e, call, fn, 3, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input") || !need_tensor(L, call, a[1], fn, "weight"))
      return ct_lower_err_val();
    bool bias = h[2] && a[2].kind != CT_LV_NONE;
    if (bias && !need_tensor(L, call, a[2], fn, "bias")) return ct_lower_err_val();
    ct_value *in[3] = {a[0].t, a[1].t, bias ? a[2].t : NULL};
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_LINEAR, bias ? 3 : 2, in, NULL, 0));
  }
  if (!self && strcmp(fn, "layer_norm") == 0) {
    static const char *const nm[] = {"input", "normalized_shape", "weight", "bias", "eps"};
    int64_t ns[CT_MAX_RANK];
    int n = 0;
    double eps = 1e-5;
    if (!ct_lower_bind_args(L, e, call, fn, 5, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (!h[1]) return ERR(call, "layer_norm needs normalized_shape");
    if (!dims_list(L, call, a[1], ns, &n)) return ct_lower_err_val();
    if (h[4]) {
      if (a[4].kind == CT_LV_FLOAT)
        eps = a[4].f;
      else if (a[4].kind == CT_LV_INT && ct_dim_is_const(a[4].i))
        eps = (double)a[4].i.off;
      else
        return ERR(call, "eps must be a number");
    }
    bool w = h[2] && a[2].kind != CT_LV_NONE, b = h[3] && a[3].kind != CT_LV_NONE;
    if ((w && !need_tensor(L, call, a[2], fn, "weight")) ||
        (b && !need_tensor(L, call, a[3], fn, "bias")))
      return ct_lower_err_val();
    if (w != b) return ERR(call, "unsupported: layer_norm with only one of weight and bias");
    ct_value *in[3] = {a[0].t, w ? a[2].t : NULL, b ? a[3].t : NULL};
    ct_attr at[2] = {ct_attr_ints("normalized_shape", n, ns), ct_attr_float("eps", eps)};
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_LAYER_NORM, w ? 3 : 1, in, at, 2));
  }
  if (!self && strcmp(fn, "dropout") == 0) {
    static const char *const nm[] = {"input", "p", "training", "inplace"};
    /* training=self.training: dropout in the training graphs, the identity in @forward,
     * which is the dropout op's meaning (the module has no `training` attribute otherwise). */
    ct_py_expr c = *call;
    ct_py_keyword kws[8];
    bool self_training = false;
    const ct_py_expr_list *pa = &call->u.call.args;
    const ct_py_keyword_list *pk = &call->u.call.kwargs;
    if (pa->n == 3 && is_self_training(L, e, pa->items[2])) {
      c.u.call.args.n = 2;
      self_training = true;
    } else if (pk->n <= 8) {
      for (int i = 0; i < pk->n; i++)
        if (pk->items[i].name && strcmp(pk->items[i].name, "training") == 0 &&
            is_self_training(L, e, pk->items[i].value)) {
          int k = 0;
          for (int j = 0; j < pk->n; j++)
            if (j != i) kws[k++] = pk->items[j];
          c.u.call.kwargs.items = kws;
          c.u.call.kwargs.n = k;
          self_training = true;
          break;
        }
    }
    if (!ct_lower_bind_args(L, e, &c, fn, 4, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    double p = 0.5;
    if (h[1] && !ct_lower_dropout_p(L, call, a[1], &p)) return ct_lower_err_val();
    bool training = true; /* F.dropout's default */
    if (!self_training && h[2] && a[2].kind == CT_LV_TENSOR)
      return ERR(call, "dropout: training must be a compile-time constant or self.training");
    if (!self_training && h[2] && !ct_lower_cond(L, call, a[2], &training))
      return ct_lower_err_val();
    return training ? ct_lower_dropout(L, call, a[0].t, p) : a[0];
  }
  if (!self && ct_lower_is_loss(fn)) return ct_lower_loss(L, e, call, fn);
  if (!self && (strcmp(fn, "cat") == 0 || strcmp(fn, "concat") == 0 || strcmp(fn, "stack") == 0)) {
    static const char *const nm[] = {"tensors", "dim"};
    if (!ct_lower_bind_args(L, e, call, fn, 2, nm, a, h)) return ct_lower_err_val();
    int64_t d = 0;
    if (h[1] && !ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    if (a[0].kind != CT_LV_TUPLE || a[0].n == 0 || a[0].n > 64)
      return ERR(call, "torch.%s expects a list of 1 to 64 tensors", fn);
    ct_value *ts[64];
    for (int i = 0; i < a[0].n; i++) {
      if (!need_tensor(L, call, a[0].elts[i], fn, "tensors")) return ct_lower_err_val();
      ts[i] = a[0].elts[i].t;
      if (fn[0] == 's') {
        if (ct_norm_dim(d, ts[i]->type.rank + 1) < 0)
          return ERR(call, "dim %lld out of range for stack", (long long)d);
        ct_lower_val u = unsqueeze(L, call, ts[i], d);
        if (u.kind == CT_LV_ERR) return u;
        ts[i] = u.t;
      }
    }
    ct_attr at = ct_attr_int("dim", d);
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_CONCAT, a[0].n, ts, &at, 1));
  }
  if (!self && strcmp(fn, "where") == 0) {
    static const char *const nm[] = {"condition", "input", "other"};
    if (!ct_lower_bind_args(L, e, call, fn, 3, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "condition"))
      return ct_lower_err_val();
    if (!h[1] || !h[2]) return ERR(call, "torch.where needs condition, input and other");
    ct_dtype dt = a[1].kind == CT_LV_TENSOR   ? a[1].t->type.dtype
                  : a[2].kind == CT_LV_TENSOR ? a[2].t->type.dtype
                                              : CT_DT_F32;
    ct_lower_set_loc(L, call);
    ct_value *p = ct_lower_to_tensor(L, a[1], dt), *q = ct_lower_to_tensor(L, a[2], dt);
    if (!p || !q) return ERR(call, "torch.where expects tensors or numbers");
    return ct_lower_tensor(ct_build_where(&L->b, a[0].t, p, q));
  }
  if (!self && (strcmp(fn, "zeros") == 0 || strcmp(fn, "ones") == 0 || strcmp(fn, "randn") == 0 ||
                strcmp(fn, "rand") == 0))
    return factory(L, e, call, fn);
  if (!self && (strcmp(fn, "zeros_like") == 0 || strcmp(fn, "ones_like") == 0)) {
    static const char *const nm[] = {"input", "dtype"};
    if (!ct_lower_bind_args(L, e, call, fn, 2, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    ct_type t = a[0].t->type;
    if (h[1] && !parse_dtype(L, call, a[1], &t.dtype)) return ct_lower_err_val();
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build_full(&L->b, &t, fn[0] == 'o' ? 1.0 : 0.0));
  }
  if (strcmp(fn, "transpose") == 0 || strcmp(fn, "swapaxes") == 0) {
    static const char *const nm[] = {"input", "dim0", "dim1"};
    int64_t d0, d1;
    if (!bind(L, e, call, fn, self, 3, nm, a, h) || !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (!h[1] || !h[2]) return ERR(call, "transpose needs dim0 and dim1");
    if (!ct_lower_as_int(L, call, a[1], &d0) || !ct_lower_as_int(L, call, a[2], &d1))
      return ct_lower_err_val();
    return transpose(L, call, a[0].t, d0, d1);
  }
  if (strcmp(fn, "permute") == 0) {
    ct_lower_val d[CT_MAX_RANK];
    int n;
    int64_t perm[CT_MAX_RANK];
    ct_lower_val x = self ? *self : ct_lower_none();
    if (call->u.call.kwargs.n == 1 && strcmp(call->u.call.kwargs.items[0].name, "dims") == 0 &&
        args->n == (self ? 0 : 1)) {
      ct_lower_val v = ct_lower_eval(L, e, call->u.call.kwargs.items[0].value);
      if (v.kind == CT_LV_ERR) return v;
      if (!dims_list(L, call, v, perm, &n)) return ct_lower_err_val();
    } else {
      if (call->u.call.kwargs.n)
        return ERR(&call->u.call.kwargs.items[0],
                   "unexpected keyword argument '%s' for permute; "
                   "supported: dims",
                   call->u.call.kwargs.items[0].name ? call->u.call.kwargs.items[0].name : "**");
      if (!int_varargs(L, e, call, self ? 0 : 1, d, &n)) return ct_lower_err_val();
      for (int i = 0; i < n; i++)
        if (!ct_lower_as_int(L, call, d[i], &perm[i])) return ct_lower_err_val();
    }
    if (!self) {
      if (args->n < 1) return ERR(call, "torch.permute needs input");
      x = ct_lower_eval(L, e, args->items[0]);
    }
    if (!need_tensor(L, call, x, fn, "input")) return ct_lower_err_val();
    return permute(L, call, x.t, n, perm);
  }
  if (strcmp(fn, "clamp") == 0 || strcmp(fn, "clip") == 0) {
    static const char *const nm[] = {"input", "min", "max"};
    if (!bind(L, e, call, fn, self, 3, nm, a, h) || !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    bool lo = h[1] && a[1].kind != CT_LV_NONE, hi = h[2] && a[2].kind != CT_LV_NONE;
    if (!lo && !hi) return ERR(call, "%s needs min or max", fn);
    ct_lower_set_loc(L, call);
    ct_value *r = a[0].t;
    ct_dtype dt = r->type.dtype;
    if (lo) {
      ct_value *m = ct_lower_to_tensor(L, a[1], dt);
      if (!m) return ERR(call, "%s: min must be a number or a tensor", fn);
      r = ct_build_binary(&L->b, CT_OP_MAXIMUM, r, m);
    }
    if (hi && r) {
      ct_value *m = ct_lower_to_tensor(L, a[2], dt);
      if (!m) return ERR(call, "%s: max must be a number or a tensor", fn);
      r = ct_build_binary(&L->b, CT_OP_MINIMUM, r, m);
    }
    return ct_lower_tensor(r);
  }
  if (self && (strcmp(fn, "expand") == 0 || strcmp(fn, "expand_as") == 0)) {
    /* -1 keeps a dim; new leading dims are allowed, as in PyTorch. */
    ct_lower_val d[CT_MAX_RANK];
    int n;
    if (fn[6] == '_') {
      static const char *const nm[] = {"other"};
      if (!ct_lower_bind_args(L, e, call, "Tensor.expand_as", 1, nm, a, h) ||
          !need_tensor(L, call, a[0], fn, "other"))
        return ct_lower_err_val();
      n = a[0].t->type.rank;
      for (int i = 0; i < n; i++)
        d[i] = ct_lower_dim(a[0].t->type.dims[i]);
    } else {
      if (call->u.call.kwargs.n)
        return ERR(&call->u.call.kwargs.items[0], "Tensor.expand takes sizes only");
      if (!int_varargs(L, e, call, 0, d, &n)) return ct_lower_err_val();
    }
    const ct_type *ty = &self->t->type;
    if (n < ty->rank) return ERR(call, "expand: %d sizes for a tensor of rank %d", n, ty->rank);
    ct_dim shape[CT_MAX_RANK];
    for (int i = 0; i < n; i++) {
      int src = i - (n - ty->rank);
      bool keep = ct_dim_is_const(d[i].i) && d[i].i.off == -1;
      if (keep && src < 0) return ERR(call, "expand: -1 is not allowed for a new leading dim");
      shape[i] = keep ? ty->dims[src] : d[i].i;
    }
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build_expand(&L->b, self->t, n, shape));
  }
  if (self && strcmp(fn, "t") == 0) {
    if (args->n || call->u.call.kwargs.n) return ERR(call, "Tensor.t takes no arguments");
    if (self->t->type.rank < 2) return *self;
    if (self->t->type.rank != 2) return ERR(call, "Tensor.t expects a tensor of rank <= 2");
    return transpose(L, call, self->t, 0, 1);
  }
  if (self &&
      (strcmp(fn, "contiguous") == 0 || strcmp(fn, "clone") == 0 || strcmp(fn, "detach") == 0)) {
    static const char *const nm[] = {"memory_format"};
    if (!ct_lower_bind_args(L, e, call, fn, fn[0] == 'c' && fn[1] == 'o' ? 1 : 0, nm, a, h))
      return ct_lower_err_val();
    return *self; /* values have no layout or history in the IR */
  }
  if (self && (strcmp(fn, "float") == 0 || strcmp(fn, "double") == 0 || strcmp(fn, "long") == 0 ||
               strcmp(fn, "int") == 0 || strcmp(fn, "bool") == 0 || strcmp(fn, "to") == 0)) {
    ct_dtype dt = fn[0] == 'f'   ? CT_DT_F32
                  : fn[0] == 'd' ? CT_DT_F64
                  : fn[0] == 'l' ? CT_DT_I64
                  : fn[0] == 'i' ? CT_DT_I32
                                 : CT_DT_BOOL;
    if (fn[0] == 't') {
      static const char *const nm[] = {"dtype"};
      if (!ct_lower_bind_args(L, e, call, "Tensor.to", 1, nm, a, h)) return ct_lower_err_val();
      if (!h[0]) return ERR(call, "unsupported: Tensor.to without a dtype; supported: x.to(dtype)");
      if (!parse_dtype(L, call, a[0], &dt)) return ct_lower_err_val();
    } else if (args->n || call->u.call.kwargs.n) {
      return ERR(call, "Tensor.%s takes no arguments", fn);
    }
    if (self->t->type.dtype == dt) return *self;
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build_cast(&L->b, self->t, dt));
  }
  if (self && strcmp(fn, "masked_fill") == 0) {
    static const char *const nm[] = {"input", "mask", "value"};
    if (!bind(L, e, call, fn, self, 3, nm, a, h) || !need_tensor(L, call, a[1], fn, "mask"))
      return ct_lower_err_val();
    if (!h[2]) return ERR(call, "masked_fill needs value");
    ct_lower_set_loc(L, call);
    ct_value *v = ct_lower_to_tensor(L, a[2], self->t->type.dtype);
    if (!v) return ERR(call, "masked_fill: value must be a number or a tensor");
    return ct_lower_tensor(ct_build_where(&L->b, a[1].t, v, self->t));
  }
  if (strcmp(fn, "leaky_relu") == 0) {
    static const char *const nm[] = {"input", "negative_slope", "inplace"};
    double slope = 0.01;
    if (!bind(L, e, call, fn, self, self ? 2 : 3, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (h[1]) {
      if (a[1].kind == CT_LV_FLOAT)
        slope = a[1].f;
      else if (a[1].kind == CT_LV_INT && ct_dim_is_const(a[1].i))
        slope = (double)a[1].i.off;
      else
        return ERR(call, "leaky_relu: negative_slope must be a number");
    }
    return ct_lower_leaky_relu(L, call, a[0].t, slope);
  }
  if (self && (strcmp(fn, "max") == 0 || strcmp(fn, "min") == 0)) {
    /* x.max() is the maximum; x.max(dim) is (values, indices) as in PyTorch. */
    static const char *const nm[] = {"input", "dim", "keepdim"};
    bool mx = fn[1] == 'a';
    if (!bind(L, e, call, fn, self, 3, nm, a, h)) return ct_lower_err_val();
    if (h[1] && a[1].kind == CT_LV_TENSOR)
      return ERR(call, "unsupported: Tensor.%s(other); use torch.%simum", fn, mx ? "max" : "min");
    ct_lower_val vals =
        reduce(L, call, mx ? CT_OP_AMAX : CT_OP_AMIN, self->t, h[1] ? a[1] : ct_lower_none(), a[2]);
    if (!h[1] || vals.kind == CT_LV_ERR) return vals;
    int64_t d;
    if (!ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    ct_value *src = self->t;
    if (!mx) src = ct_build_unary(&L->b, CT_OP_NEG, src); /* argmin(x) = argmax(-x) */
    ct_attr at[2] = {ct_attr_int("dim", d), ct_attr_bool("keepdim", ct_lower_truthy(a[2]))};
    ct_value *idx = src ? ct_build(&L->b, CT_OP_ARGMAX, 1, &src, at, 2) : NULL;
    if (!idx) return ct_lower_err_val();
    ct_lower_val r = ct_lower_tuple(L, 2);
    r.elts[0] = vals;
    r.elts[1] = ct_lower_tensor(idx);
    return r;
  }
  if (strcmp(fn, "unsqueeze") == 0) {
    static const char *const nm[] = {"input", "dim"};
    int64_t d;
    if (!bind(L, e, call, fn, self, 2, nm, a, h) || !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (!h[1]) return ERR(call, "unsqueeze needs dim");
    if (!ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    return unsqueeze(L, call, a[0].t, d);
  }
  if (strcmp(fn, "squeeze") == 0) {
    static const char *const nm[] = {"input", "dim"};
    int64_t d = 0;
    if (!bind(L, e, call, fn, self, 2, nm, a, h) || !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (h[1] && !ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    return squeeze(L, call, a[0].t, !h[1], d);
  }
  if (self && (strcmp(fn, "view") == 0 || strcmp(fn, "reshape") == 0)) {
    if (call->u.call.kwargs.n)
      return ERR(&call->u.call.kwargs.items[0], "%s takes no keyword arguments", fn);
    ct_lower_val d[CT_MAX_RANK];
    int n;
    if (!int_varargs(L, e, call, 0, d, &n)) return ct_lower_err_val();
    return ct_lower_reshape(L, call, self->t, n, d);
  }
  if (!self && strcmp(fn, "reshape") == 0) {
    static const char *const nm[] = {"input", "shape"};
    if (!ct_lower_bind_args(L, e, call, fn, 2, nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (a[1].kind != CT_LV_TUPLE) return ERR(call, "torch.reshape expects a shape tuple");
    return ct_lower_reshape(L, call, a[0].t, a[1].n, a[1].elts);
  }
  if (self && strcmp(fn, "size") == 0) {
    static const char *const nm[] = {"dim"};
    if (!ct_lower_bind_args(L, e, call, "Tensor.size", 1, nm, a, h)) return ct_lower_err_val();
    const ct_type *ty = &self->t->type;
    if (!h[0]) {
      ct_lower_val t = ct_lower_tuple(L, ty->rank);
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
  if (self && strcmp(fn, "dim") == 0) {
    if (args->n || call->u.call.kwargs.n) return ERR(call, "Tensor.dim takes no arguments");
    return ct_lower_int(self->t->type.rank);
  }
  if (strcmp(fn, "mean") == 0 || strcmp(fn, "sum") == 0 || strcmp(fn, "amax") == 0 ||
      strcmp(fn, "amin") == 0) {
    static const char *const nm[] = {"input", "dim", "keepdim"};
    if (!bind(L, e, call, fn, self, 3, nm, a, h) || !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    ct_op r = fn[0] == 's'   ? CT_OP_SUM
              : fn[0] == 'm' ? CT_OP_MEAN
              : fn[2] == 'a' ? CT_OP_AMAX
                             : CT_OP_AMIN;
    return reduce(L, call, r, a[0].t, a[1], a[2]);
  }
  if (strcmp(fn, "argmax") == 0) {
    static const char *const nm[] = {"input", "dim", "keepdim"};
    int64_t d;
    if (!bind(L, e, call, fn, self, 3, nm, a, h) || !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (!h[1] || a[1].kind == CT_LV_NONE)
      return ERR(call, "unsupported: argmax without dim; supported: argmax(dim=...)");
    if (!ct_lower_as_int(L, call, a[1], &d)) return ct_lower_err_val();
    ct_attr at[2] = {ct_attr_int("dim", d), ct_attr_bool("keepdim", ct_lower_truthy(a[2]))};
    ct_lower_set_loc(L, call);
    return ct_lower_tensor(ct_build(&L->b, CT_OP_ARGMAX, 1, &a[0].t, at, 2));
  }
  if (strcmp(fn, "split") == 0 || strcmp(fn, "chunk") == 0) {
    static const char *const split_nm[] = {"tensor", "split_size_or_sections", "dim"};
    static const char *const chunk_nm[] = {"input", "chunks", "dim"};
    bool chunks = fn[0] == 'c';
    int64_t size, d = 0;
    if (!bind(L, e, call, fn, self, 3, chunks ? chunk_nm : split_nm, a, h) ||
        !need_tensor(L, call, a[0], fn, "input"))
      return ct_lower_err_val();
    if (!h[1]) return ERR(call, "%s needs %s", fn, chunks ? "chunks" : "split_size_or_sections");
    if (a[1].kind == CT_LV_TUPLE)
      return ERR(call, "unsupported: %s with a list of sizes; supported: one size", fn);
    if (!ct_lower_as_int(L, call, a[1], &size) || (h[2] && !ct_lower_as_int(L, call, a[2], &d)))
      return ct_lower_err_val();
    return split(L, call, a[0].t, size, d, chunks);
  }
  return ERR(call, "unsupported call: %s%s; supported: %s", self ? "method ." : "", fn,
             supported_calls);
}
