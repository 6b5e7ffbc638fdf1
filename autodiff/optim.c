/* autodiff/optim.c: torch.optim's SGD, Adam and AdamW (PyTorch 1.13, single-tensor form)
 * lowered to IR: one update per weight from its gradient, with the optimizer state as graph
 * inputs and results. Also clip_grad_norm_ on the gradients before the step. */
#include <stdio.h>
#include <string.h>

#include "autodiff_internal.h"

bool ct_optim_parse(const char *name, ct_optim_kind *out) {
  if (strcmp(name, "sgd") == 0) *out = CT_OPTIM_SGD;
  else if (strcmp(name, "adam") == 0) *out = CT_OPTIM_ADAM;
  else if (strcmp(name, "adamw") == 0) *out = CT_OPTIM_ADAMW;
  else return false;
  return true;
}

void ct_optim_defaults(ct_optim_kind kind, ct_optim_options *o) {
  memset(o, 0, sizeof *o);
  o->kind = kind;
  if (kind == CT_OPTIM_SGD) return; /* lr is required; momentum, dampening, wd 0 */
  o->lr = 1e-3;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = 1e-8;
  o->weight_decay = kind == CT_OPTIM_ADAMW ? 1e-2 : 0.0;
}

ct_status ct_optim_check(const ct_optim_options *o, ct_diag *diag) {
  if (!(o->lr >= 0.0)) return ct_diag_error(diag, NULL, 0, 0, "Invalid learning rate: %g", o->lr);
  if (!(o->weight_decay >= 0.0))
    return ct_diag_error(diag, NULL, 0, 0, "Invalid weight_decay value: %g", o->weight_decay);
  if (!(o->clip_grad_norm >= 0.0))
    return ct_diag_error(diag, NULL, 0, 0, "Invalid clip_grad_norm max_norm: %g", o->clip_grad_norm);
  if (o->kind == CT_OPTIM_SGD) {
    if (!(o->momentum >= 0.0))
      return ct_diag_error(diag, NULL, 0, 0, "Invalid momentum value: %g", o->momentum);
    if (o->nesterov && (o->momentum <= 0.0 || o->dampening != 0.0))
      return ct_diag_error(diag, NULL, 0, 0, "Nesterov momentum requires a momentum and zero "
                           "dampening");
    return CT_OK;
  }
  if (!(o->eps >= 0.0)) return ct_diag_error(diag, NULL, 0, 0, "Invalid epsilon value: %g", o->eps);
  if (!(o->beta1 >= 0.0 && o->beta1 < 1.0))
    return ct_diag_error(diag, NULL, 0, 0, "Invalid beta parameter at index 0: %g", o->beta1);
  if (!(o->beta2 >= 0.0 && o->beta2 < 1.0))
    return ct_diag_error(diag, NULL, 0, 0, "Invalid beta parameter at index 1: %g", o->beta2);
  return CT_OK;
}

static const char *key(ct_module *m, const char *prefix, const char *name) {
  size_t n = strlen(prefix) + strlen(name) + 1;
  char *s = ct_arena_alloc(m->arena, n);
  snprintf(s, n, "%s%s", prefix, name);
  return s;
}

int ad_optim_state_keys(ct_module *m, const ct_optim_options *o, int n_params,
                        const char *const *param_names, const ct_type *param_types,
                        bool need_step, const char **names, ct_type *types, int cap) {
  int n = 0;
  bool sgd = o->kind == CT_OPTIM_SGD;
  if (sgd && o->momentum == 0.0 && !need_step) return 0;
  for (int i = 0; i < n_params && n + 2 < cap; i++) {
    if (sgd && o->momentum == 0.0) {
      break;
    } else if (sgd) {
      names[n] = key(m, "momentum_buffer.", param_names[i]);
      types[n++] = param_types[i];
    } else {
      names[n] = key(m, "exp_avg.", param_names[i]);
      types[n++] = param_types[i];
      names[n] = key(m, "exp_avg_sq.", param_names[i]);
      types[n++] = param_types[i];
    }
  }
  names[n] = "step";
  types[n++] = ct_type_scalar(n_params ? param_types[0].dtype : CT_DT_F32);
  return n;
}

static ct_value *kc(ct_builder *b, const ct_value *like, double v) {
  return ct_build_scalar(b, like->type.dtype, v);
}
static ct_value *bin(ct_builder *b, ct_op op, ct_value *x, ct_value *y) {
  return ct_build_binary(b, op, x, y);
}
static ct_value *cast_to(ct_builder *b, ct_value *v, ct_dtype dt) {
  return v && v->type.dtype != dt ? ct_build_cast(b, v, dt) : v;
}
static ct_value *scale(ct_builder *b, ct_value *x, double v) {
  return bin(b, CT_OP_MUL, x, kc(b, x, v));
}

/* clip_grad_norm_(max_norm, norm_type=2): g *= min(max_norm / (||g||_2 + 1e-6), 1) */
static void clip_grads(ct_builder *b, double max_norm, ad_optim_io *io) {
  ct_value *total = NULL;
  for (int i = 0; i < io->n_params; i++) {
    ct_value *g = io->grads[i];
    if (!g) continue;
    ct_value *g2 = bin(b, CT_OP_MUL, g, g);
    ct_value *sq = ct_build_reduce(b, CT_OP_SUM, g2, 0, NULL, false);
    total = total ? bin(b, CT_OP_ADD, total, sq) : sq;
  }
  if (!total) return;
  ct_value *norm = ct_build_unary(b, CT_OP_SQRT, total);
  ct_value *tiny = kc(b, norm, 1e-6);
  ct_value *denom = bin(b, CT_OP_ADD, norm, tiny);
  ct_value *max = kc(b, norm, max_norm);
  ct_value *coef = bin(b, CT_OP_DIV, max, denom);
  ct_value *one = kc(b, coef, 1.0);
  coef = bin(b, CT_OP_MINIMUM, coef, one);
  for (int i = 0; i < io->n_params; i++)
    if (io->grads[i]) io->grads[i] = bin(b, CT_OP_MUL, io->grads[i], cast_to(b, coef, io->grads[i]->type.dtype));
}

ct_status ad_build_optim(ct_builder *b, const ct_optim_options *o, ad_optim_io *io) {
  if (o->clip_grad_norm > 0.0) clip_grads(b, o->clip_grad_norm, io);
  for (int k = 0; k < io->n_state; k++) io->new_state[k] = io->state_in[k];
  ct_value *step = io->n_state ? io->state_in[io->n_state - 1] : NULL;
  ct_value *one = step ? kc(b, step, 1.0) : NULL;
  ct_value *step_new = step ? bin(b, CT_OP_ADD, step, one) : NULL;
  if (step) io->new_state[io->n_state - 1] = step_new;
  bool sgd = o->kind == CT_OPTIM_SGD;
  ct_value *first = NULL, *step_size = NULL, *bc2_sqrt = NULL;
  if (sgd && step && o->momentum != 0.0) {
    ct_value *zero = kc(b, step, 0.0);
    first = bin(b, CT_OP_EQ, step, zero);
  } else if (!sgd && step) {
    /* 1 - beta^t, lr / (1 - beta1^t), sqrt(1 - beta2^t) */
    ct_value *beta1 = kc(b, step, o->beta1);
    ct_value *bc1 = bin(b, CT_OP_SUB, one, bin(b, CT_OP_POW, beta1, step_new));
    ct_value *beta2 = kc(b, step, o->beta2);
    ct_value *bc2 = bin(b, CT_OP_SUB, one, bin(b, CT_OP_POW, beta2, step_new));
    ct_value *lr = kc(b, step, o->lr);
    step_size = bin(b, CT_OP_DIV, lr, bc1);
    bc2_sqrt = ct_build_unary(b, CT_OP_SQRT, bc2);
  }
  for (int i = 0; i < io->n_params; i++) {
    ct_value *p = io->params[i], *g = io->grads[i];
    io->new_params[i] = p;
    if (!g) continue; /* PyTorch skips parameters without a gradient */
    if (sgd) {
      ct_value *d = g;
      if (o->weight_decay != 0.0) d = bin(b, CT_OP_ADD, d, scale(b, p, o->weight_decay));
      if (o->momentum != 0.0) {
        ct_value *buf = io->state_in[i];
        ct_value *kept = scale(b, buf, o->momentum);
        ct_value *added = scale(b, d, 1.0 - o->dampening);
        ct_value *upd = bin(b, CT_OP_ADD, kept, added);
        ct_value *nbuf = ct_build_where(b, first, d, upd);
        io->new_state[i] = nbuf;
        d = o->nesterov ? bin(b, CT_OP_ADD, d, scale(b, nbuf, o->momentum)) : nbuf;
      }
      io->new_params[i] = bin(b, CT_OP_SUB, p, scale(b, d, o->lr));
      continue;
    }
    ct_value *m = io->state_in[2 * i], *v = io->state_in[2 * i + 1];
    if (o->kind == CT_OPTIM_ADAMW) {
      if (o->weight_decay != 0.0) p = scale(b, p, 1.0 - o->lr * o->weight_decay);
    } else if (o->weight_decay != 0.0) {
      g = bin(b, CT_OP_ADD, g, scale(b, p, o->weight_decay));
    }
    ct_value *m_kept = scale(b, m, o->beta1);
    ct_value *m_added = scale(b, g, 1.0 - o->beta1);
    ct_value *nm = bin(b, CT_OP_ADD, m_kept, m_added);
    ct_value *v_kept = scale(b, v, o->beta2);
    ct_value *v_added = scale(b, bin(b, CT_OP_MUL, g, g), 1.0 - o->beta2);
    ct_value *nv = bin(b, CT_OP_ADD, v_kept, v_added);
    /* denom = sqrt(v) / sqrt(1 - beta2^t) + eps; p -= step_size * m / denom */
    ct_value *root = ct_build_unary(b, CT_OP_SQRT, nv);
    ct_value *corr = cast_to(b, bc2_sqrt, nv->type.dtype);
    ct_value *eps = kc(b, nv, o->eps);
    ct_value *denom = bin(b, CT_OP_ADD, bin(b, CT_OP_DIV, root, corr), eps);
    ct_value *ratio = bin(b, CT_OP_DIV, nm, denom);
    ct_value *upd = bin(b, CT_OP_MUL, cast_to(b, step_size, p->type.dtype), ratio);
    io->new_params[i] = bin(b, CT_OP_SUB, p, upd);
    io->new_state[2 * i] = nm;
    io->new_state[2 * i + 1] = nv;
  }
  for (int i = 0; i < io->n_params; i++)
    if (!io->new_params[i]) return CT_ERR_SHAPE;
  for (int k = 0; k < io->n_state; k++)
    if (!io->new_state[k]) return CT_ERR_SHAPE;
  return CT_OK;
}
