/* autodiff/autodiff.c: ct_autodiff, which splits the differentiation of a graph into
 * @forward_train (the forward plus the values the backward needs) and @backward, and the
 * `autodiff` pass that runs it from a pipeline (ctorch-opt -p autodiff{entry=forward}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff_internal.h"
#include "pass.h"

typedef struct split_state {
  ct_graph *bwd;
  ct_ad_policy policy;
  ct_value **saved; /* forward values @forward_train returns, in order */
  int n_saved, cap_saved;
  bool oom;
} split_state;

static bool recomputable(const ct_node *n, ct_ad_policy policy) {
  if (n->op == CT_OP_CONSTANT) return true;
  if (policy != CT_AD_RECOMPUTE || n->n_results != 1) return false;
  ct_op_class cls = ct_op_table[n->op].cls;
  return cls == CT_OPC_ELEMENTWISE || cls == CT_OPC_SHAPE;
}

/* A forward value inside @backward: a forward input is passed in under its own name, a cheap
 * value is recomputed from its (mapped) operands, anything else is saved. */
static ct_value *split_map(ad_ctx *c, ct_value *v) {
  split_state *s = c->state;
  ad_info *info = ad_info_of(v);
  if (info->bwd) return info->bwd;
  ct_value *r;
  if (!v->def) {
    r = ct_graph_add_input(s->bwd, v->name, v->type);
  } else if (recomputable(v->def, s->policy)) {
    const ct_node *n = v->def;
    ct_value *in[64];
    for (int i = 0; i < n->n_operands && i < 64; i++) in[i] = split_map(c, ct_node_operand(n, i));
    ct_node *copy =
        ct_node_new(c->m, n->op, n->n_operands, in, 1, &v->type, n->attrs, n->n_attrs, n->loc);
    ct_block_insert_before(c->b.block, c->b.before, copy);
    r = copy->results[0];
  } else {
    if (s->n_saved == s->cap_saved) {
      int cap = s->cap_saved ? 2 * s->cap_saved : 16;
      ct_value **grown = realloc(s->saved, sizeof *grown * (size_t)cap);
      if (!grown) {
        s->oom = true;
        return NULL;
      }
      s->saved = grown;
      s->cap_saved = cap;
    }
    char name[32];
    snprintf(name, sizeof name, "saved.%d", s->n_saved);
    s->saved[s->n_saved++] = v;
    r = ct_graph_add_input(s->bwd, name, v->type);
  }
  info->bwd = r;
  return r;
}

static void mark_syms(const ct_type *t, bool *used) {
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i].sym > 0 && t->dims[i].sym < 64) used[t->dims[i].sym] = true;
}

/* Every symbol @backward's nodes use must be bound by one of its inputs: when no input carries
 * it (sum over N of a value the rules do not read), pass in a forward input that does. */
static void bind_symbols(ad_ctx *c, ct_graph *fwd, ct_graph *bwd) {
  bool used[64] = {false}, bound[64] = {false};
  for (const ct_node *n = bwd->body->first; n; n = n->next) {
    for (int i = 0; i < n->n_results; i++) mark_syms(&n->results[i]->type, used);
    for (int a = 0; a < n->n_attrs; a++)
      if (n->attrs[a].kind == CT_ATTR_DIMS) {
        ct_type t = ct_type_make(CT_DT_F32, n->attrs[a].n <= CT_MAX_RANK ? n->attrs[a].n : 0,
                                 n->attrs[a].u.dims);
        mark_syms(&t, used);
      }
  }
  for (int i = 0; i < ct_graph_num_inputs(bwd); i++) mark_syms(&ct_graph_input(bwd, i)->type, bound);
  for (int s = 1; s < 64; s++) {
    if (!used[s] || bound[s]) continue;
    for (int i = 0; i < ct_graph_num_inputs(fwd); i++) {
      bool has[64] = {false};
      mark_syms(&ct_graph_input(fwd, i)->type, has);
      if (has[s]) {
        split_map(c, ct_graph_input(fwd, i));
        mark_syms(&ct_graph_input(fwd, i)->type, bound);
        break;
      }
    }
  }
}

/* Orders @backward's inputs: forward inputs (in the forward's order), saved values, gradients. */
static void order_inputs(ct_graph *fwd, ct_graph *bwd, ct_value **seeds, int n_seeds,
                         split_state *s) {
  ct_block *b = bwd->body;
  int n = 0;
  ct_value **order = malloc(sizeof *order * (size_t)(b->n_params ? b->n_params : 1));
  if (!order) return;
  for (int i = 0; i < ct_graph_num_inputs(fwd); i++) {
    ad_info *info = ad_info_of(ct_graph_input(fwd, i));
    if (info->bwd) order[n++] = info->bwd;
  }
  for (int i = 0; i < s->n_saved; i++) order[n++] = ad_info_of(s->saved[i])->bwd;
  for (int i = 0; i < n_seeds; i++)
    if (seeds[i]) order[n++] = seeds[i];
  if (n == b->n_params) {
    for (int i = 0; i < n; i++) {
      b->params[i] = order[i];
      order[i]->index = i;
    }
  }
  free(order);
}

static const char *result_key(ct_module *m, const ct_graph *g, int i) {
  const char *name = ct_graph_result_name(g, i);
  if (name) return name;
  char buf[16];
  snprintf(buf, sizeof buf, "%d", i);
  return ct_arena_strdup(m->arena, buf);
}

static const char *prefixed(ct_module *m, const char *prefix, const char *key) {
  size_t n = strlen(prefix) + strlen(key) + 1;
  char *s = ct_arena_alloc(m->arena, n);
  snprintf(s, n, "%s%s", prefix, key);
  return s;
}

ct_status ct_autodiff(ct_module *m, const char *entry, const ct_autodiff_options *opt,
                      ct_diag *diag) {
  ct_autodiff_options dflt = {false, CT_AD_SAVE};
  if (!opt) opt = &dflt;
  ct_graph *fwd = ct_module_find_graph(m, entry);
  if (!fwd || !ct_graph_return(fwd))
    return ct_diag_error(diag, NULL, 0, 0, "autodiff: no graph @%s to differentiate", entry);
  char train_name[256], bwd_name[256];
  snprintf(train_name, sizeof train_name, "%s_train", entry);
  snprintf(bwd_name, sizeof bwd_name, "%s", strcmp(entry, "forward") == 0 ? "backward" : "");
  if (!bwd_name[0]) snprintf(bwd_name, sizeof bwd_name, "%s_backward", entry);
  if (ct_module_find_graph(m, train_name) || ct_module_find_graph(m, bwd_name))
    return ct_diag_error(diag, NULL, 0, 0, "autodiff: @%s already has @%s or @%s", entry,
                         train_name, bwd_name);
  ct_status st = ad_attach_info(m, fwd->body, diag);
  if (st != CT_OK) return st;

  ct_graph *train = ct_module_add_graph(m, train_name);
  ct_graph *bwd = ct_module_add_graph(m, bwd_name);
  split_state s = {bwd, opt->policy, NULL, 0, 0, false};
  ad_ctx c = {m, ct_builder_at_end(m, bwd->body, diag), diag, split_map, &s, NULL};

  /* Seeds: one incoming gradient per float result. */
  int n_res = ct_graph_num_results(fwd);
  ct_value **seed_vals = calloc((size_t)n_res + 1, sizeof *seed_vals);
  ct_value **seeds = calloc((size_t)n_res + 1, sizeof *seeds);
  int n_in = ct_graph_num_inputs(fwd);
  ct_value **wrt = calloc((size_t)n_in + 1, sizeof *wrt);
  ct_value **grads = calloc((size_t)n_in + 1, sizeof *grads);
  if (!seed_vals || !seeds || !wrt || !grads) {
    st = CT_ERR_NOMEM;
    goto done;
  }
  int n_seeds = 0;
  for (int i = 0; i < n_res; i++) {
    ct_value *r = ct_graph_result(fwd, i);
    if (!ct_dtype_is_float(r->type.dtype)) continue;
    seed_vals[n_seeds] = r;
    seeds[n_seeds++] = ct_graph_add_input(bwd, prefixed(m, "grad.", result_key(m, fwd, i)), r->type);
  }
  int n_wrt = 0;
  for (int i = 0; i < n_in; i++) {
    ct_value *v = ct_graph_input(fwd, i);
    const ct_param *p = v->name ? ct_module_find_param(m, v->name) : NULL;
    bool is_weight = p && p->kind == CT_PARAM_WEIGHT;
    if ((is_weight || (!p && opt->wrt_inputs)) && ct_dtype_is_float(v->type.dtype)) wrt[n_wrt++] = v;
  }
  st = ad_backprop(&c, fwd->body, n_seeds, seed_vals, seeds, n_wrt, wrt, grads);
  if (st == CT_OK && s.oom) st = CT_ERR_NOMEM;
  if (st != CT_OK) goto done;

  ct_value **outs = calloc((size_t)n_wrt + 1, sizeof *outs);
  if (!outs) {
    st = CT_ERR_NOMEM;
    goto done;
  }
  for (int i = 0; i < n_wrt; i++)
    outs[i] = grads[i] ? grads[i] : ct_build_full(&c.b, &wrt[i]->type, 0.0);
  ct_build_return(&c.b, n_wrt, outs);
  for (int i = 0; i < n_wrt; i++) ct_graph_set_result_name(bwd, i, prefixed(m, "grad.", wrt[i]->name));
  free(outs);
  bind_symbols(&c, fwd, bwd);
  order_inputs(fwd, bwd, seeds, n_seeds, &s);

  /* @forward_train: the forward again, returning the saved values after its own results. */
  for (int i = 0; i < n_in; i++) {
    ct_value *v = ct_graph_input(fwd, i);
    ad_info_of(v)->clone = ct_graph_add_input(train, v->name, v->type);
  }
  ct_builder tb = ct_builder_at_end(m, train->body, diag);
  ad_clone_nodes(m, fwd->body, &tb);
  int n_out = n_res + s.n_saved;
  ct_value **res = calloc((size_t)n_out + 1, sizeof *res);
  if (!res) {
    st = CT_ERR_NOMEM;
    goto done;
  }
  for (int i = 0; i < n_res; i++) res[i] = ad_info_of(ct_graph_result(fwd, i))->clone;
  for (int i = 0; i < s.n_saved; i++) res[n_res + i] = ad_info_of(s.saved[i])->clone;
  ct_build_return(&tb, n_out, res);
  for (int i = 0; i < n_res; i++) ct_graph_set_result_name(train, i, ct_graph_result_name(fwd, i));
  for (int i = 0; i < s.n_saved; i++) {
    char name[32];
    snprintf(name, sizeof name, "saved.%d", i);
    ct_graph_set_result_name(train, n_res + i, name);
  }
  free(res);

done:
  for (int i = 0; i < ct_graph_num_inputs(fwd); i++) ct_graph_input(fwd, i)->aux = NULL;
  for (ct_node *n = fwd->body->first; n; n = n->next)
    for (int i = 0; i < n->n_results; i++) n->results[i]->aux = NULL;
  if (st != CT_OK) {
    ct_module_remove_graph(m, bwd);
    ct_module_remove_graph(m, train);
  }
  free(s.saved);
  free(seed_vals);
  free(seeds);
  free(wrt);
  free(grads);
  return st;
}

/* autodiff{entry=forward;wrt=params|all;policy=save|recompute} */
ct_status ct_pass_autodiff(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  char entry[128] = "forward", wrt[32] = "params", policy[32] = "save";
  ct_pass_arg(args, "entry", entry, sizeof entry);
  ct_pass_arg(args, "wrt", wrt, sizeof wrt);
  ct_pass_arg(args, "policy", policy, sizeof policy);
  ct_autodiff_options o = {false, CT_AD_SAVE};
  if (strcmp(wrt, "all") == 0)
    o.wrt_inputs = true;
  else if (strcmp(wrt, "params") != 0)
    return ct_diag_error(diag, NULL, 0, 0, "autodiff: wrt must be params or all, got '%s'", wrt);
  if (strcmp(policy, "recompute") == 0)
    o.policy = CT_AD_RECOMPUTE;
  else if (strcmp(policy, "save") != 0)
    return ct_diag_error(diag, NULL, 0, 0, "autodiff: policy must be save or recompute, got '%s'",
                         policy);
  return ct_autodiff(m, entry, &o, diag);
}
