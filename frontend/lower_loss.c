/* frontend/lower_loss.c: loss functions written in forward (F.cross_entropy, F.nll_loss,
 * F.mse_loss, F.l1_loss), lowered to the op set with PyTorch's reductions. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

bool ct_lower_is_loss(const char *fn) {
  return strcmp(fn, "cross_entropy") == 0 || strcmp(fn, "nll_loss") == 0 ||
         strcmp(fn, "mse_loss") == 0 || strcmp(fn, "l1_loss") == 0;
}

static bool need_tensor(ct_lower *L, const ct_py_expr *call, ct_lower_val v, const char *fn,
                        const char *param) {
  if (v.kind == CT_LV_ERR) return false;
  if (v.kind == CT_LV_TENSOR) return true;
  ERR(call, "%s expects a tensor for '%s', got a value of type %s", fn, param,
      ct_lower_kind_name(v.kind));
  return false;
}

static bool reduction(ct_lower *L, const ct_py_expr *call, ct_lower_val v, bool have,
                      const char **out) {
  *out = "mean";
  if (!have) return true;
  if (v.kind != CT_LV_STR) return ERR(call, "reduction must be a string"), false;
  if (strcmp(v.s, "mean") != 0 && strcmp(v.s, "sum") != 0 && strcmp(v.s, "none") != 0)
    return ERR(call, "unsupported reduction '%s'; supported: 'mean', 'sum', 'none'", v.s), false;
  *out = v.s;
  return true;
}

static ct_lower_val reduce_loss(ct_lower *L, ct_value *loss, const char *red) {
  if (!loss) return ct_lower_err_val();
  if (strcmp(red, "none") == 0) return ct_lower_tensor(loss);
  return ct_lower_tensor(
      ct_build_reduce(&L->b, red[0] == 'm' ? CT_OP_MEAN : CT_OP_SUM, loss, 0, NULL, false));
}

/* F.mse_loss / F.l1_loss: (input - target)^2 or |input - target|, then the reduction. */
static ct_lower_val pointwise(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                              const char *fn) {
  static const char *const nm[] = {"input", "target", "size_average", "reduce", "reduction"};
  ct_lower_val a[5];
  bool h[5];
  const char *red;
  char qual[32];
  snprintf(qual, sizeof qual, "F.%s", fn);
  if (!ct_lower_bind_args(L, e, call, qual, 5, nm, a, h) ||
      !need_tensor(L, call, a[0], fn, "input") || !need_tensor(L, call, a[1], fn, "target"))
    return ct_lower_err_val();
  if ((h[2] && a[2].kind != CT_LV_NONE) || (h[3] && a[3].kind != CT_LV_NONE))
    return ERR(call,
               "unsupported: %s with the deprecated size_average/reduce; use reduction=", qual);
  if (!reduction(L, call, a[4], h[4], &red)) return ct_lower_err_val();
  ct_lower_set_loc(L, call);
  ct_value *d = ct_build_binary(&L->b, CT_OP_SUB, a[0].t, a[1].t);
  ct_value *p = !d             ? NULL
                : fn[0] == 'm' ? ct_build_binary(&L->b, CT_OP_MUL, d, d)
                               : ct_build_unary(&L->b, CT_OP_ABS, d);
  return reduce_loss(L, p, red);
}

/* F.cross_entropy / F.nll_loss with class-index targets (or class probabilities for
 * cross_entropy) over [N, C] inputs: log_softmax, one_hot, mul, sum over classes, then the
 * reduction. */
ct_lower_val ct_lower_loss(ct_lower *L, ct_lower_env *e, const ct_py_expr *call, const char *fn) {
  if (fn[0] == 'm' || fn[0] == 'l') return pointwise(L, e, call, fn);
  static const char *const nm[] = {"input",        "target", "weight",    "size_average",
                                   "ignore_index", "reduce", "reduction", "label_smoothing"};
  ct_lower_val a[8];
  bool h[8];
  bool ce = fn[0] == 'c';
  if (!ct_lower_bind_args(L, e, call, ce ? "F.cross_entropy" : "F.nll_loss", ce ? 8 : 7, nm, a, h))
    return ct_lower_err_val();
  if (!need_tensor(L, call, a[0], fn, "input") || !need_tensor(L, call, a[1], fn, "target"))
    return ct_lower_err_val();
  for (int i = 2; i < 8; i++)
    if (h[i] && i != 6 && a[i].kind != CT_LV_NONE &&
        !(i == 4 && a[i].kind == CT_LV_INT && a[i].i.off == -100) &&
        !(i == 7 && (a[i].kind == CT_LV_FLOAT || a[i].kind == CT_LV_INT) &&
          (a[i].kind == CT_LV_FLOAT ? a[i].f : (double)a[i].i.off) == 0))
      return ERR(call, "unsupported: %s with '%s'; supported: input, target, reduction", fn, nm[i]);
  const char *red;
  if (!reduction(L, call, a[6], h[6], &red)) return ct_lower_err_val();
  ct_value *x = a[0].t, *t = a[1].t;
  char xs[128], ts[128];
  ct_type_format(L->m, &x->type, xs, sizeof xs);
  ct_type_format(L->m, &t->type, ts, sizeof ts);
  if (x->type.rank != 2)
    return ERR(call, "unsupported: %s on input %s; supported: [N, C] inputs", fn, xs);
  ct_lower_set_loc(L, call);
  ct_value *logp = x;
  if (ce) {
    ct_attr d = ct_attr_int("dim", 1);
    logp = ct_build(&L->b, CT_OP_LOG_SOFTMAX, 1, &x, &d, 1);
  }
  ct_value *w;
  if (t->type.dtype == CT_DT_I64 && t->type.rank == 1) {
    if (!ct_dim_is_const(x->type.dims[1]))
      return ERR(call, "%s needs a constant number of classes, got input %s", fn, xs);
    ct_attr at[2] = {ct_attr_int("num_classes", x->type.dims[1].off),
                     ct_attr_dtype("dtype", x->type.dtype)};
    w = ct_build(&L->b, CT_OP_ONE_HOT, 1, &t, at, 2);
  } else if (ce && ct_type_eq(&t->type, &x->type)) {
    w = t; /* class probabilities */
  } else {
    return ERR(call, "%s: target %s does not match input %s; supported: i64[N] class indices%s", fn,
               ts, xs, ce ? " or class probabilities of the input's shape" : "");
  }
  if (!logp || !w) return ct_lower_err_val();
  ct_value *prod = ct_build_binary(&L->b, CT_OP_MUL, w, logp);
  int64_t one = 1;
  ct_value *picked = prod ? ct_build_reduce(&L->b, CT_OP_SUM, prod, 1, &one, false) : NULL;
  return reduce_loss(L, picked ? ct_build_unary(&L->b, CT_OP_NEG, picked) : NULL, red);
}
