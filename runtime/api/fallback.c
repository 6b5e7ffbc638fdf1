/* runtime/api/fallback.c: the dynamic fallback. Entries without native code run their graph
 * from the package's IR section through the reference interpreter (ir/interp.c). The IR is
 * parsed and verified at load, and each graph's signature must match the metadata's. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "ir.h"

static ct_status fail_first(const ct_diag *d, const char *where, const char *what) {
  return api_fail(CT_ERR_FORMAT, "%s: %s: %s", where, what,
                  d->n_errors ? ct_diag_first_error(d) : "invalid");
}

/* Does graph input or result v agree with the metadata's io? */
static bool same_sig(const ct_module *ir, const ct_model *m, const ct_type *t,
                     const ct_io_info *io) {
  if (t->dtype != io->dtype || t->rank != io->rank) return false;
  for (int d = 0; d < t->rank; d++) {
    ct_dim a = t->dims[d], b = io->dims[d];
    if (a.sym != 0) {
      if (!b.sym || a.coef != b.coef || a.off != b.off) return false;
      if (a.sym > ir->n_syms || strcmp(ir->syms[a.sym], m->syms[b.sym]) != 0) return false;
    } else if (b.sym || a.off != b.off) {
      return false;
    }
  }
  return true;
}

ct_status api_load_ir(ct_model *m, const char *text, size_t len, const char *where) {
  ct_diag diag;
  ct_diag_init(&diag);
  ct_module *ir = ct_module_parse(text, len, "<package ir>", &diag);
  ct_status st = CT_OK;
  if (!ir)
    st = fail_first(&diag, where, "IR section");
  else if (ct_module_verify(ir, &diag) != CT_OK)
    st = fail_first(&diag, where, "IR section");
  ct_diag_free(&diag);
  if (st != CT_OK) {
    ct_module_free(ir);
    return st;
  }
  m->ir = ir;
  for (int i = 0; i < m->n_entries; i++) {
    api_entry *e = &m->entries[i];
    if (e->call) continue;
    const ct_graph *g = ct_module_find_graph(ir, e->name);
    if (!g) return api_fail(CT_ERR_FORMAT, "%s: the IR has no graph @%s", where, e->name);
    if (ct_graph_num_inputs(g) != e->n_in || ct_graph_num_results(g) != e->n_res)
      return api_fail(CT_ERR_FORMAT,
                      "%s: graph @%s has %d inputs and %d results, the metadata "
                      "%d and %d",
                      where, e->name, ct_graph_num_inputs(g), ct_graph_num_results(g), e->n_in,
                      e->n_res);
    for (int k = 0; k < e->n_in; k++) {
      const ct_value *v = ct_graph_input(g, k);
      if (!v->name || strcmp(v->name, e->in[k].name) != 0 || !same_sig(ir, m, &v->type, &e->in[k]))
        return api_fail(CT_ERR_FORMAT,
                        "%s: graph @%s input %d does not match the metadata's "
                        "'%s'",
                        where, e->name, k, e->in[k].name);
    }
    for (int k = 0; k < e->n_res; k++)
      if (!same_sig(ir, m, &ct_graph_result(g, k)->type, &e->res[k]))
        return api_fail(CT_ERR_FORMAT,
                        "%s: graph @%s result %d does not match the metadata's "
                        "'%s'",
                        where, e->name, k, e->res[k].name);
    e->graph = g;
  }
  return CT_OK;
}

void api_free_ir(ct_model *m) {
  ct_module_free(m->ir);
  m->ir = NULL;
}

typedef struct profile_bridge {
  ct_model_profile_fn fn;
  void *ctx;
} profile_bridge;

static void observe(void *ctx, const ct_node *n, double seconds) {
  const profile_bridge *b = ctx;
  b->fn(b->ctx, ct_op_name(n->op), seconds);
}

ct_status api_interpret(ct_model *m, const api_entry *e, ct_tensor *const *args,
                        ct_tensor **results) {
  ct_diag diag;
  ct_diag_init(&diag);
  profile_bridge bridge = {m->profile, m->profile_ctx};
  if (m->profile) ct_interp_set_observer(observe, &bridge);
  ct_tensor **out = NULL;
  int n_out = 0;
  ct_status st = ct_interpret(e->graph, args, e->n_in, &out, &n_out, &diag);
  if (m->profile) ct_interp_set_observer(NULL, NULL);
  if (st == CT_OK && n_out != e->n_res) {
    for (int i = 0; i < n_out; i++)
      ct_tensor_release(out[i]);
    st = api_fail(CT_ERR_INTERNAL, "%s: @%s returned %d results, expected %d", m->path, e->name,
                  n_out, e->n_res);
  } else if (st != CT_OK) {
    api_fail(st, "%s: %s", m->path, diag.n_errors ? ct_diag_first_error(&diag) : "failed");
  } else {
    for (int i = 0; i < n_out; i++)
      results[i] = out[i];
  }
  free(out);
  ct_diag_free(&diag);
  return st;
}
