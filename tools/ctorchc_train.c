/* tools/ctorchc_train.c: ctorchc --train. Turns the --loss/--target/--optim flags into
 * autodiff's options (PyTorch's defaults where a flag is absent) and adds the @grad and
 * @train_step entries to the module the frontend built. */
#include <string.h>

#include "autodiff.h"
#include "ctorchc.h"

/* "y=i64[N]": the same form as --input, with the inputs' symbols only. */
static ct_status parse_target(ct_module *m, const char *spec, ct_input_spec *out, ct_diag *diag) {
  switch (ct_input_spec_parse(m, spec, false, out)) {
  case CT_SPEC_OK: return CT_OK;
  case CT_SPEC_UNKNOWN_SYM:
    return ct_diag_error(diag, NULL, 0, 0, "--target '%s': '%.*s' is not a symbol of the inputs",
                         spec, out->sym_len, out->sym);
  case CT_SPEC_MALFORMED: break;
  }
  return ct_diag_error(diag, NULL, 0, 0, "invalid --target '%s' (expected NAME=DTYPE[DIM,...], "
                       "e.g. y=i64[N])", spec);
}

/* --no-dropout: p = 0 on @forward's dropout nodes (the identity there either way), so the
 * training copies multiply by no mask and plain SGD gets no step counter for them. */
static void no_dropout(ct_module *m) {
  ct_graph *g = ct_module_find_graph(m, "forward");
  for (ct_node *n = g ? g->body->first : NULL; n; n = n->next)
    if (n->op == CT_OP_DROPOUT) ct_node_set_attr(m, n, ct_attr_float("p", 0.0));
}

ct_status ctorchc_train(ct_module *m, const ctorchc_options *o, ct_diag *diag) {
  ct_loss_options loss = {CT_LOSS_CROSS_ENTROPY, false, o->label_smoothing};
  if (!o->loss)
    return ct_diag_error(diag, NULL, 0, 0, "--train needs --loss (cross_entropy, nll_loss, "
                         "mse_loss, l1_loss, binary_cross_entropy_with_logits)");
  if (!ct_loss_parse(o->loss, &loss.kind))
    return ct_diag_error(diag, NULL, 0, 0, "unknown --loss '%s' (cross_entropy, nll_loss, "
                         "mse_loss, l1_loss, binary_cross_entropy_with_logits)", o->loss);
  if (o->reduction && strcmp(o->reduction, "sum") == 0) loss.sum = true;
  else if (o->reduction && strcmp(o->reduction, "mean") != 0)
    return ct_diag_error(diag, NULL, 0, 0, "unknown --reduction '%s' (mean, sum)", o->reduction);
  if (o->label_smoothing != 0.0 && loss.kind != CT_LOSS_CROSS_ENTROPY)
    return ct_diag_error(diag, NULL, 0, 0, "--label-smoothing applies to cross_entropy only");

  ct_optim_kind kind;
  if (!o->optim) return ct_diag_error(diag, NULL, 0, 0, "--train needs --optim (sgd, adam, adamw)");
  if (!ct_optim_parse(o->optim, &kind))
    return ct_diag_error(diag, NULL, 0, 0, "unknown --optim '%s' (sgd, adam, adamw)", o->optim);
  ct_optim_options opt;
  ct_optim_defaults(kind, &opt);
  if (kind == CT_OPTIM_SGD && !o->lr_set)
    return ct_diag_error(diag, NULL, 0, 0, "--optim sgd needs --lr (torch.optim.SGD has no "
                         "default learning rate)");
  if (o->lr_set) opt.lr = o->lr;
  if (o->weight_decay_set) opt.weight_decay = o->weight_decay;
  if (kind == CT_OPTIM_SGD) {
    if (o->betas_set || o->eps_set)
      return ct_diag_error(diag, NULL, 0, 0, "--betas and --eps apply to adam and adamw only");
    opt.momentum = o->momentum;
    opt.dampening = o->dampening;
    opt.nesterov = o->nesterov;
  } else {
    if (o->momentum != 0.0 || o->dampening != 0.0 || o->nesterov)
      return ct_diag_error(diag, NULL, 0, 0, "--momentum, --dampening and --nesterov apply to "
                           "sgd only");
    if (o->betas_set) {
      opt.beta1 = o->beta1;
      opt.beta2 = o->beta2;
    }
    if (o->eps_set) opt.eps = o->eps;
  }
  opt.clip_grad_norm = o->clip_grad_norm;

  if (o->n_targets < 1)
    return ct_diag_error(diag, NULL, 0, 0, "--train needs --target NAME=DTYPE[DIMS] (e.g. y=i64[N])");
  ct_input_spec targets[CTORCHC_MAX_INPUTS];
  const char *names[CTORCHC_MAX_INPUTS];
  ct_type types[CTORCHC_MAX_INPUTS];
  for (int i = 0; i < o->n_targets && i < CTORCHC_MAX_INPUTS; i++) {
    ct_status st = parse_target(m, o->targets[i], &targets[i], diag);
    if (st != CT_OK) return st;
    names[i] = targets[i].name;
    types[i] = targets[i].type;
  }
  if (o->no_dropout) no_dropout(m);
  return ct_build_training(m, "forward", &loss, &opt, o->n_targets, names, types, diag);
}
