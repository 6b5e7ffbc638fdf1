/* autodiff/autodiff.h: reverse-mode differentiation of IR graphs, loss and optimizer lowering,
 * and the training entries (@grad, @train_step). Runs after the frontend, before the passes.
 *
 * All builders here write ordinary IR with ct_build_*; nothing is evaluated. Errors (an op on the
 * gradient path without a derivative, an unsupported symbolic shape, a bad option) go to diag
 * and leave the module without the graph being built (partially built graphs are removed). */
#ifndef CTORCH_AUTODIFF_H
#define CTORCH_AUTODIFF_H

#include <stdbool.h>

#include "ir.h"

/* Which forward values @backward receives from @forward_train.
 * SAVE: every forward value a derivative rule reads is returned by @forward_train.
 * RECOMPUTE: values defined by elementwise and shape ops (and constants) whose own operands are
 * available are recomputed in @backward instead of saved; library ops (linear, conv2d, ...) and
 * reductions are always saved. */
typedef enum ct_ad_policy { CT_AD_SAVE, CT_AD_RECOMPUTE } ct_ad_policy;

typedef struct ct_autodiff_options {
  bool wrt_inputs;     /* differentiate w.r.t. the user inputs too, not only the weights */
  ct_ad_policy policy; /* CT_AD_SAVE by default */
} ct_autodiff_options;

/* Differentiates graph `entry` of m and adds @<entry>_train and @backward (for entry "forward":
 * @forward_train and @backward).
 *  @forward_train: the inputs of @entry; results: @entry's results, then the saved values,
 *    named "saved.<k>".
 *  @backward: inputs: the @entry inputs the rules read (same names), the saved values
 *    ("saved.<k>"), and one gradient per float result of @entry ("grad.<result name>", or
 *    "grad.<i>" when unnamed); results: one gradient per weight parameter (and per float user
 *    input with opt->wrt_inputs), named "grad.<state_dict key>" / "grad.<input name>". A weight
 *    the results do not depend on gets a zero gradient.
 * opt may be NULL (the defaults). Fails when @entry is missing, when @backward already exists,
 * or when a value on the gradient path is produced by an op without a derivative. */
ct_status ct_autodiff(ct_module *m, const char *entry, const ct_autodiff_options *opt,
                      ct_diag *diag);

enum { CTORCH_MAX_TARGETS = 16 };
/* cross_entropy and nll_loss skip targets equal to this (PyTorch's default ignore_index): they
 * add nothing, and 'mean' divides by the number of the others. */
enum { CT_LOSS_IGNORE_INDEX = -100 };

typedef enum ct_loss_kind {
  CT_LOSS_CROSS_ENTROPY, /* logits [N,C,d...] or [C] (classes in dim 1), indices i64 [N,d...] */
  CT_LOSS_NLL,           /* log-probabilities, the same layout */
  CT_LOSS_MSE,           /* prediction and target of one shape (target broadcast to it) */
  CT_LOSS_L1,
  CT_LOSS_BCE_WITH_LOGITS /* logits and float targets of one shape */
} ct_loss_kind;

typedef struct ct_loss_options {
  ct_loss_kind kind;
  bool sum;               /* reduction='sum'; false: 'mean' */
  double label_smoothing; /* cross_entropy only, in [0, 1] */
} ct_loss_options;

/* Parses a loss name as PyTorch spells it (cross_entropy, nll_loss, mse_loss, l1_loss,
 * binary_cross_entropy_with_logits); false when unknown. */
bool ct_loss_parse(const char *name, ct_loss_kind *out);
/* Builds the scalar loss of prediction `pred` against `target` at b with PyTorch 1.13's
 * formulas. Returns NULL with a diagnostic on mismatched shapes or dtypes. */
ct_value *ct_build_loss(ct_builder *b, const ct_loss_options *o, ct_value *pred,
                        ct_value *target);

typedef enum ct_optim_kind { CT_OPTIM_SGD, CT_OPTIM_ADAM, CT_OPTIM_ADAMW } ct_optim_kind;

/* Optimizer hyper-parameters with PyTorch's names. ct_optim_defaults fills PyTorch's defaults
 * (SGD: lr must be given; Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0; AdamW:
 * the same with weight_decay 1e-2). */
typedef struct ct_optim_options {
  ct_optim_kind kind;
  double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
  bool nesterov;
  double clip_grad_norm; /* > 0: clip_grad_norm_(max_norm) before the step; 0: off */
} ct_optim_options;

void ct_optim_defaults(ct_optim_kind kind, ct_optim_options *o);
bool ct_optim_parse(const char *name, ct_optim_kind *out);
/* Checks the options as torch.optim's constructors do (lr >= 0, 0 <= beta < 1, eps >= 0,
 * nesterov needs momentum > 0 and dampening 0, ...). */
ct_status ct_optim_check(const ct_optim_options *o, ct_diag *diag);

/* Adds @grad and @train_step built from graph `entry` (normally "forward") of m:
 *  @grad(user inputs, targets, params and buffers) -> (loss, grad.<key> per weight)
 *  @train_step(user inputs, targets, params and buffers, optimizer state)
 *      -> (loss, new.<key> per weight, new.<key> per updated buffer, new.<state key> per state)
 * Both run the forward in training mode: batch_norm uses batch statistics, and @train_step
 * returns the updated running_mean / running_var / num_batches_tracked; dropout multiplies by
 * a mask drawn from the step count (@grad: step 0). Optimizer state is added to m's parameters
 * with kind CT_PARAM_STATE and zero init: momentum_buffer.<key> (SGD with momentum),
 * exp_avg.<key> and exp_avg_sq.<key> (Adam, AdamW), and step (a scalar counting the steps
 * taken; SGD uses it to start the momentum buffer from the first gradient; present for plain
 * SGD only when the forward has dropout). Targets
 * are n_targets (name, type) pairs; the loss compares @entry's first result with targets[0]. */
ct_status ct_build_training(ct_module *m, const char *entry, const ct_loss_options *loss,
                            const ct_optim_options *optim, int n_targets,
                            const char *const *target_names, const ct_type *target_types,
                            ct_diag *diag);

/* The table of derivative rules, indexed by op: has_rule(op) is true exactly for the ops with a
 * rule. Tests use it to check that every op marked DIFF in ops.def has one. */
bool ct_autodiff_has_rule(ct_op op);

#endif
