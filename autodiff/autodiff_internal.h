/* autodiff/autodiff_internal.h: what the files of autodiff/ share: the reverse-mode engine
 * (grad.c), the rule table (rules.c), graph cloning (clone.c) and the training-mode rewrite
 * (train_mode.c). Nothing outside autodiff/ includes this. */
#ifndef CT_AUTODIFF_INTERNAL_H
#define CT_AUTODIFF_INTERNAL_H

#include "autodiff.h"

typedef struct ad_ctx ad_ctx;
/* A forward value as a value usable at the context's insertion point (saved, recomputed or,
 * when the backward is built in the forward's own graph, the value itself). */
typedef ct_value *(*ad_map_fn)(ad_ctx *c, ct_value *v);

struct ad_ctx {
  ct_module *m;
  ct_builder b;   /* where backward nodes go */
  ct_diag *diag;
  ad_map_fn map;  /* NULL: identity (same graph) */
  void *state;    /* the map's */
  const ct_node *node; /* the node whose rule runs, for diagnostics */
};

/* Scratch attached to each forward value (ct_value.aux) while a graph is differentiated. */
typedef struct ad_info {
  ct_value *grad;  /* accumulated gradient, a value at the insertion point; NULL: zero */
  bool req;        /* depends on a value we differentiate with respect to */
  ct_value *bwd;   /* the map's memo */
  ct_value *clone; /* clone.c's map */
} ad_info;

static inline ad_info *ad_info_of(const ct_value *v) { return (ad_info *)v->aux; }

/* Attaches a zeroed ad_info to every value of block b (parameters and top-level results).
 * Fails on nodes with nested blocks (autodiff runs before fusion). */
ct_status ad_attach_info(ct_module *m, ct_block *b, ct_diag *diag);

ct_value *ad_fwd(ad_ctx *c, ct_value *v);

/* The rule of a differentiable op: writes into gx[i] the vector-Jacobian product for every
 * operand i with need[i] (NULL for a zero gradient). gy has the type of n's result. Returns
 * CT_OK, or an error with a diagnostic (unsupported shape). */
typedef ct_status (*ad_rule)(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                             const bool *need);
extern const ad_rule ad_rules[CT_OP_COUNT];

/* Reverse mode over the top-level nodes of b (which must carry ad_info): seeds the gradients
 * of seed_vals with seed_grads, propagates to every value, and writes the gradients of wrt into
 * out_grads (NULL where none flows). The backward nodes are built at c->b. */
ct_status ad_backprop(ad_ctx *c, ct_block *b, int n_seeds, ct_value *const *seed_vals,
                      ct_value *const *seed_grads, int n_wrt, ct_value *const *wrt,
                      ct_value **out_grads);

/* Gradient g summed over the broadcast dims so that it has type t (PyTorch's sum_to). */
ct_value *ad_sum_to(ad_ctx *c, ct_value *g, const ct_type *t);

/* Copies the non-return nodes of src into dst at b, operands mapped through ad_info.clone
 * (which must be set for src's parameters); sets clone for every copied result. */
void ad_clone_nodes(ct_module *m, const ct_block *src, ct_builder *b);

/* Rewrites batch_norm nodes of graph g (a training copy) to use batch statistics. For each,
 * appends to *updates (capacity cap) the (buffer input, new value) pairs of running_mean,
 * running_var and num_batches_tracked; *n_updates receives the count. */
ct_status ad_batch_norm_train(ct_module *m, ct_graph *g, ct_value **upd_of, ct_value **upd_new,
                              int cap, int *n_updates, ct_diag *diag);

/* Replaces each dropout node of g (a training copy) by x * dropout_mask(step), the k-th node
 * with seed k; step is the step-count input (NULL: a constant 0, as in @grad). Dropout with
 * p = 0 becomes the identity. */
ct_status ad_dropout_train(ct_module *m, ct_graph *g, ct_value *step, ct_diag *diag);

/* Builds the optimizer update of the weights at b. grads[i] is the gradient of params[i] (may
 * be NULL: zero). Reads and writes state through the module's CT_PARAM_STATE parameters, which
 * ct_optim_add_state adds: state_in[k] are the train_step inputs of the state keys, in the
 * order of ct_optim_state_names. Results: new_params[i], new_state[k]. */
typedef struct ad_optim_io {
  int n_params;
  ct_value **params, **grads, **new_params;
  const char **param_names;
  int n_state;
  ct_value **state_in, **new_state;
  const char **state_names;
} ad_optim_io;

/* The state keys of o for the given weight names (momentum_buffer.<k>, exp_avg.<k>, ...,
 * step), written into names (arena strings of m) with their types; returns their count. step
 * is the last key; plain SGD has none unless need_step (dropout draws its masks from it). */
int ad_optim_state_keys(ct_module *m, const ct_optim_options *o, int n_params,
                        const char *const *param_names, const ct_type *param_types,
                        bool need_step, const char **names, ct_type *types, int cap);
ct_status ad_build_optim(ct_builder *b, const ct_optim_options *o, ad_optim_io *io);

#endif
