/* autodiff/train.c: the training entries. @grad and @train_step are single graphs: the
 * forward in training mode, the loss, the backward built in the same graph (so the passes see
 * and fuse across all of it), and for @train_step the optimizer update. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff_internal.h"

static const char *prefixed(ct_module *m, const char *prefix, const char *key) {
  size_t n = strlen(prefix) + strlen(key) + 1;
  char *s = ct_arena_alloc(m->arena, n);
  snprintf(s, n, "%s%s", prefix, key);
  return s;
}

typedef struct train_spec {
  const ct_loss_options *loss;
  const ct_optim_options *optim; /* NULL: @grad */
  int n_targets;
  const char *const *target_names;
  const ct_type *target_types;
  int n_state;
  const char **state_names;
  ct_type *state_types;
} train_spec;

static bool is_param(const ct_module *m, const ct_value *v, ct_param_kind *kind) {
  const ct_param *p = v->name ? ct_module_find_param(m, v->name) : NULL;
  if (p) *kind = p->kind;
  return p != NULL;
}

/* Builds one training graph named name from fwd; on failure the graph is removed. */
static ct_status build_entry(ct_module *m, ct_graph *fwd, const char *name, const train_spec *sp,
                             ct_diag *diag) {
  ct_graph *g = ct_module_add_graph(m, name);
  int n_in = ct_graph_num_inputs(fwd);
  ct_status st = ad_attach_info(m, fwd->body, diag);
  if (st != CT_OK) goto fail;
  /* inputs: user inputs, targets, params and buffers (the forward's order), state */
  ct_param_kind kind;
  for (int i = 0; i < n_in; i++) {
    ct_value *v = ct_graph_input(fwd, i);
    if (!is_param(m, v, &kind)) ad_info_of(v)->clone = ct_graph_add_input(g, v->name, v->type);
  }
  ct_value *targets[CTORCH_MAX_TARGETS];
  for (int i = 0; i < sp->n_targets; i++) {
    if (ct_graph_find_input(g, sp->target_names[i]) || ct_module_find_param(m, sp->target_names[i])) {
      st = ct_diag_error(diag, NULL, 0, 0, "target '%s' has the name of an input or parameter",
                         sp->target_names[i]);
      goto fail;
    }
    targets[i] = ct_graph_add_input(g, sp->target_names[i], sp->target_types[i]);
  }
  for (int i = 0; i < n_in; i++) {
    ct_value *v = ct_graph_input(fwd, i);
    if (is_param(m, v, &kind)) ad_info_of(v)->clone = ct_graph_add_input(g, v->name, v->type);
  }
  ct_value **state_in = calloc((size_t)sp->n_state + 1, sizeof *state_in);
  ct_value **new_state = calloc((size_t)sp->n_state + 1, sizeof *new_state);
  ct_value **wrt = calloc((size_t)n_in + 1, sizeof *wrt);
  ct_value **grads = calloc((size_t)n_in + 1, sizeof *grads);
  ct_value **new_params = calloc((size_t)n_in + 1, sizeof *new_params);
  const char **wrt_names = calloc((size_t)n_in + 1, sizeof *wrt_names);
  ct_value *upd_of[3 * 64], *upd_new[3 * 64];
  ct_value **res = NULL;
  int n_upd = 0;
  if (!state_in || !new_state || !wrt || !grads || !new_params || !wrt_names) {
    st = CT_ERR_NOMEM;
    goto done;
  }
  for (int k = 0; k < sp->n_state; k++)
    state_in[k] = ct_graph_add_input(g, sp->state_names[k], sp->state_types[k]);

  ct_builder b = ct_builder_at_end(m, g->body, diag);
  ad_clone_nodes(m, fwd->body, &b);
  ct_value *pred = ad_info_of(ct_graph_result(fwd, 0))->clone;
  if (sp->n_targets < 1) {
    st = ct_diag_error(diag, NULL, 0, 0, "training needs a target (--target y=i64[N])");
    goto done;
  }
  ct_value *loss = ct_build_loss(&b, sp->loss, pred, targets[0]);
  if (!loss) {
    st = CT_ERR_SHAPE;
    goto done;
  }
  /* after the loss, so that a batch_norm result the loss reads is replaced there too */
  st = ad_batch_norm_train(m, g, upd_of, upd_new, 3 * 64, &n_upd, diag);
  if (st == CT_OK) st = ad_dropout_train(m, g, sp->n_state ? state_in[sp->n_state - 1] : NULL, diag);
  if (st != CT_OK) goto done;

  /* the backward, in the same graph */
  ct_value *one = ct_build_scalar(&b, loss->type.dtype, 1.0);
  st = ad_attach_info(m, g->body, diag);
  if (st != CT_OK) goto done;
  int n_wrt = 0;
  for (int i = 0; i < ct_graph_num_inputs(g); i++) {
    ct_value *v = ct_graph_input(g, i);
    if (is_param(m, v, &kind) && kind == CT_PARAM_WEIGHT && ct_dtype_is_float(v->type.dtype)) {
      wrt_names[n_wrt] = v->name;
      wrt[n_wrt++] = v;
    }
  }
  ad_ctx c = {m, b, diag, NULL, NULL, NULL};
  st = ad_backprop(&c, g->body, 1, &loss, &one, n_wrt, wrt, grads);
  if (st != CT_OK) goto done;

  int n_res = 0;
  res = calloc((size_t)(1 + 2 * n_wrt + n_upd + sp->n_state), sizeof *res);
  const char **names = calloc((size_t)(1 + 2 * n_wrt + n_upd + sp->n_state), sizeof *names);
  if (!res || !names) {
    free(names);
    st = CT_ERR_NOMEM;
    goto done;
  }
  res[n_res] = loss;
  names[n_res++] = "loss";
  if (!sp->optim) {
    for (int i = 0; i < n_wrt; i++) {
      res[n_res] = grads[i] ? grads[i] : ct_build_full(&c.b, &wrt[i]->type, 0.0);
      names[n_res++] = prefixed(m, "grad.", wrt_names[i]);
    }
  } else {
    ad_optim_io io = {n_wrt, wrt, grads, new_params, wrt_names, sp->n_state, state_in, new_state,
                      sp->state_names};
    st = ad_build_optim(&c.b, sp->optim, &io);
    if (st != CT_OK) {
      free(names);
      goto done;
    }
    for (int i = 0; i < n_wrt; i++) {
      res[n_res] = new_params[i];
      names[n_res++] = prefixed(m, "new.", wrt_names[i]);
    }
    for (int i = 0; i < n_upd; i++) {
      res[n_res] = upd_new[i];
      names[n_res++] = prefixed(m, "new.", upd_of[i]->name);
    }
    for (int k = 0; k < sp->n_state; k++) {
      res[n_res] = new_state[k];
      names[n_res++] = prefixed(m, "new.", sp->state_names[k]);
    }
  }
  ct_build_return(&c.b, n_res, res);
  for (int i = 0; i < n_res; i++) ct_graph_set_result_name(g, i, names[i]);
  free(names);

done:
  for (int i = 0; i < ct_graph_num_inputs(g); i++) ct_graph_input(g, i)->aux = NULL;
  for (ct_node *n = g->body->first; n; n = n->next)
    for (int i = 0; i < n->n_results; i++) n->results[i]->aux = NULL;
  free(res);
  free(state_in);
  free(new_state);
  free(wrt);
  free(grads);
  free(new_params);
  free(wrt_names);
fail:
  for (int i = 0; i < ct_graph_num_inputs(fwd); i++) ct_graph_input(fwd, i)->aux = NULL;
  for (ct_node *n = fwd->body->first; n; n = n->next)
    for (int i = 0; i < n->n_results; i++) n->results[i]->aux = NULL;
  if (st != CT_OK) ct_module_remove_graph(m, g);
  return st;
}

ct_status ct_build_training(ct_module *m, const char *entry, const ct_loss_options *loss,
                            const ct_optim_options *optim, int n_targets,
                            const char *const *target_names, const ct_type *target_types,
                            ct_diag *diag) {
  ct_graph *fwd = ct_module_find_graph(m, entry);
  if (!fwd || !ct_graph_return(fwd) || ct_graph_num_results(fwd) < 1)
    return ct_diag_error(diag, NULL, 0, 0, "training: no graph @%s with a result", entry);
  if (ct_module_find_graph(m, "grad") || ct_module_find_graph(m, "train_step"))
    return ct_diag_error(diag, NULL, 0, 0, "training: the module already has @grad or @train_step");
  if (n_targets > CTORCH_MAX_TARGETS)
    return ct_diag_error(diag, NULL, 0, 0, "training: at most %d targets", CTORCH_MAX_TARGETS);
  ct_status st = ct_optim_check(optim, diag);
  if (st != CT_OK) return st;

  /* the weights, in the forward's order, and their optimizer state */
  int n_in = ct_graph_num_inputs(fwd), n_w = 0;
  const char **wn = calloc((size_t)n_in + 1, sizeof *wn);
  ct_type *wt = calloc((size_t)n_in + 1, sizeof *wt);
  int cap = 2 * n_in + 2;
  const char **sn = calloc((size_t)cap, sizeof *sn);
  ct_type *stypes = calloc((size_t)cap, sizeof *stypes);
  if (!wn || !wt || !sn || !stypes) {
    st = CT_ERR_NOMEM;
    goto out;
  }
  for (int i = 0; i < n_in; i++) {
    ct_value *v = ct_graph_input(fwd, i);
    const ct_param *p = v->name ? ct_module_find_param(m, v->name) : NULL;
    if (p && p->kind == CT_PARAM_WEIGHT && ct_dtype_is_float(v->type.dtype)) {
      wn[n_w] = v->name;
      wt[n_w++] = v->type;
    }
  }
  bool dropout = false;
  for (ct_node *n = fwd->body->first; n; n = n->next)
    dropout |= n->op == CT_OP_DROPOUT && ct_node_attr_float(n, "p", 0.5) != 0.0;
  int n_state = ad_optim_state_keys(m, optim, n_w, wn, wt, dropout, sn, stypes, cap);
  bool have_init = false;
  for (int i = 0; i < m->n_params; i++) have_init |= m->params[i].init != NULL;
  for (int k = 0; k < n_state; k++) {
    if (ct_module_find_param(m, sn[k])) {
      st = ct_diag_error(diag, NULL, 0, 0, "training: the module already has a parameter '%s'", sn[k]);
      goto out;
    }
    int64_t shape[CT_MAX_RANK];
    for (int d = 0; d < stypes[k].rank; d++) shape[d] = stypes[k].dims[d].off;
    ct_tensor *init = have_init ? ct_tensor_zeros(stypes[k].dtype, stypes[k].rank, shape) : NULL;
    int idx = ct_module_add_param(m, sn[k], stypes[k], CT_PARAM_STATE, init);
    m->params[idx].init_spec = "zeros";
  }
  train_spec grad = {loss, NULL, n_targets, target_names, target_types, 0, NULL, NULL};
  train_spec step = {loss, optim, n_targets, target_names, target_types, n_state, sn, stypes};
  st = build_entry(m, fwd, "grad", &grad, diag);
  if (st == CT_OK) st = build_entry(m, fwd, "train_step", &step, diag);
  if (st != CT_OK) {
    ct_graph *g = ct_module_find_graph(m, "grad");
    if (g) ct_module_remove_graph(m, g);
  }
out:
  free(wn);
  free(wt);
  free(sn);
  free(stypes);
  return st;
}
