/* autodiff/losses.c: PyTorch 1.13's loss functions lowered to IR (torch.nn.functional's
 * cross_entropy, nll_loss, mse_loss, l1_loss, binary_cross_entropy_with_logits), reduced to a
 * scalar by 'mean' or 'sum'. The training builder (train.c) appends one after the forward. */
#include <string.h>

#include "autodiff.h"

static const struct {
  const char *name;
  ct_loss_kind kind;
} loss_names[] = {
    {"cross_entropy", CT_LOSS_CROSS_ENTROPY},
    {"nll_loss", CT_LOSS_NLL},
    {"mse_loss", CT_LOSS_MSE},
    {"l1_loss", CT_LOSS_L1},
    {"binary_cross_entropy_with_logits", CT_LOSS_BCE_WITH_LOGITS},
};

bool ct_loss_parse(const char *name, ct_loss_kind *out) {
  for (size_t i = 0; i < sizeof loss_names / sizeof loss_names[0]; i++)
    if (strcmp(name, loss_names[i].name) == 0) {
      *out = loss_names[i].kind;
      return true;
    }
  return false;
}

static ct_value *reduce_all(ct_builder *b, ct_value *v, bool sum) {
  return ct_build_reduce(b, sum ? CT_OP_SUM : CT_OP_MEAN, v, 0, NULL, false);
}

static ct_value *fail(ct_builder *b, const char *fmt, const ct_value *p, const ct_value *t) {
  char ps[128], ts[128];
  ct_type_format(b->m, &p->type, ps, sizeof ps);
  ct_type_format(b->m, &t->type, ts, sizeof ts);
  ct_diag_error(b->diag, b->loc.file, b->loc.line, b->loc.col, fmt, ps, ts);
  return NULL;
}

/* The reduced loss: -sum_c w_c * logp_c per sample, w = (1 - eps) * one_hot(target) + eps / C. Classes are
 * dim 1 of [N,C,d1,...] (PyTorch's layout; the target is [N,d1,...]) or dim 0 of [C]; here they
 * are moved last for one_hot. */
static ct_value *class_loss(ct_builder *b, const ct_loss_options *o, ct_value *logp,
                            ct_value *target) {
  const ct_type *lt = &logp->type, *tt = &target->type;
  bool ok = lt->rank >= 1 && target->type.dtype == CT_DT_I64 && tt->rank == lt->rank - 1;
  for (int i = 0, j = 0; ok && i < lt->rank; i++)
    if (i != (lt->rank == 1 ? 0 : 1)) ok = ct_dim_eq(lt->dims[i], tt->dims[j++]);
  if (!ok)
    return fail(b, "loss: expected logits [N,C,...] with i64 class indices [N,...] (or [C] with "
                "[]), got %s and %s", logp, target);
  int cdim = lt->rank == 1 ? 0 : 1;
  ct_dim classes = lt->dims[cdim];
  if (classes.sym) return fail(b, "loss: the class count of %s must be constant (target %s)", logp, target);
  if (lt->rank > 2) {
    int64_t perm[CT_MAX_RANK];
    for (int i = 0, k = 0; i < lt->rank; i++)
      if (i != cdim) perm[k++] = i;
    perm[lt->rank - 1] = cdim;
    logp = ct_build_permute(b, logp, lt->rank, perm);
    lt = &logp->type;
  }
  /* targets equal to ignore_index (-100, PyTorch's default) count neither in the sum nor in
   * the mean's divisor; they are sent to class 0 of one_hot and masked out */
  ct_value *ignore = ct_build_scalar(b, CT_DT_I64, (double)CT_LOSS_IGNORE_INDEX);
  ct_value *valid = ct_build_binary(b, CT_OP_NE, target, ignore);
  ct_value *zero = ct_build_scalar(b, CT_DT_I64, 0.0);
  ct_value *safe = ct_build_where(b, valid, target, zero);
  ct_attr oh[2] = {ct_attr_int("num_classes", classes.off), ct_attr_dtype("dtype", lt->dtype)};
  ct_value *w = ct_build(b, CT_OP_ONE_HOT, 1, &safe, oh, 2);
  double eps = o->kind == CT_LOSS_CROSS_ENTROPY ? o->label_smoothing : 0.0;
  if (eps != 0.0) {
    ct_value *keep = ct_build_scalar(b, lt->dtype, 1.0 - eps);
    w = ct_build_binary(b, CT_OP_MUL, w, keep);
    ct_value *spread = ct_build_scalar(b, lt->dtype, eps / (double)classes.off);
    w = ct_build_binary(b, CT_OP_ADD, w, spread);
  }
  int64_t last = lt->rank - 1;
  ct_value *wl = ct_build_binary(b, CT_OP_MUL, w, logp);
  ct_value *per = ct_build_reduce(b, CT_OP_SUM, wl, 1, &last, false);
  ct_value *validf = ct_build_cast(b, valid, lt->dtype);
  per = ct_build_binary(b, CT_OP_MUL, ct_build_unary(b, CT_OP_NEG, per), validf);
  ct_value *total = ct_build_reduce(b, CT_OP_SUM, per, 0, NULL, false);
  if (o->sum) return total;
  ct_value *count = ct_build_reduce(b, CT_OP_SUM, validf, 0, NULL, false);
  return ct_build_binary(b, CT_OP_DIV, total, count);
}

ct_value *ct_build_loss(ct_builder *b, const ct_loss_options *o, ct_value *pred,
                        ct_value *target) {
  if (!pred || !target) return NULL;
  if (!ct_dtype_is_float(pred->type.dtype))
    return fail(b, "loss: the prediction must be float, got %s (target %s)", pred, target);
  ct_value *per;
  switch (o->kind) {
  case CT_LOSS_CROSS_ENTROPY: {
    if (o->label_smoothing < 0.0 || o->label_smoothing > 1.0) {
      ct_diag_error(b->diag, b->loc.file, b->loc.line, b->loc.col,
                    "loss: label_smoothing must be in [0, 1], got %g", o->label_smoothing);
      return NULL;
    }
    ct_attr dim = ct_attr_int("dim", pred->type.rank == 1 ? 0 : 1);
    ct_value *logp = ct_build(b, CT_OP_LOG_SOFTMAX, 1, &pred, &dim, 1);
    return class_loss(b, o, logp, target);
  }
  case CT_LOSS_NLL:
    return class_loss(b, o, pred, target);
  case CT_LOSS_MSE:
  case CT_LOSS_L1:
  case CT_LOSS_BCE_WITH_LOGITS: {
    ct_type bt;
    if (target->type.dtype != pred->type.dtype || !ct_broadcast_shapes(&pred->type, &target->type, &bt) ||
        !ct_type_eq(&bt, &pred->type))
      return fail(b, "loss: the target must have the prediction's dtype and shape, got %s and %s",
                  pred, target);
    if (o->kind == CT_LOSS_BCE_WITH_LOGITS) {
      /* max(x, 0) - x * t + log(1 + exp(-|x|)): PyTorch's stable form */
      ct_value *relu = ct_build_unary(b, CT_OP_RELU, pred);
      ct_value *xt = ct_build_binary(b, CT_OP_MUL, pred, target);
      ct_value *lin = ct_build_binary(b, CT_OP_SUB, relu, xt);
      ct_value *na = ct_build_unary(b, CT_OP_NEG, ct_build_unary(b, CT_OP_ABS, pred));
      ct_value *e = ct_build_unary(b, CT_OP_EXP, na);
      ct_value *one = ct_build_scalar(b, pred->type.dtype, 1.0);
      ct_value *soft = ct_build_unary(b, CT_OP_LOG, ct_build_binary(b, CT_OP_ADD, one, e));
      per = ct_build_binary(b, CT_OP_ADD, lin, soft);
    } else {
      ct_value *d = ct_build_binary(b, CT_OP_SUB, pred, target);
      per = o->kind == CT_LOSS_MSE ? ct_build_binary(b, CT_OP_MUL, d, d)
                                   : ct_build_unary(b, CT_OP_ABS, d);
    }
    break;
  }
  default:
    return NULL;
  }
  return per ? reduce_all(b, per, o->sum) : NULL;
}
