/* ir/interp.c: the reference interpreter. Runs any graph on the runtime's CPU kernels, binding
 * symbolic dims from the actual inputs. It is the oracle every compiled path is tested against,
 * so it favours clarity over speed: every node allocates its own results. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctorch/kernels.h"
#include "ir.h"

/* An open-addressing map from values to their tensors and remaining use counts. */
typedef struct slot {
  const ct_value *key;
  ct_tensor *tensor;
  int uses_left;
  bool pinned; /* a graph result: never released early */
} slot;

typedef struct env {
  slot *slots;
  size_t cap;
  int64_t bind[64]; /* symbol values, index = symbol id */
  bool bound[64];
  const ct_module *m;
  const ct_graph *g;
  ct_diag *diag;
} env;

static slot *lookup(env *e, const ct_value *v, bool insert) {
  size_t mask = e->cap - 1;
  for (size_t i = ct_hash_ptr(v) & mask;; i = (i + 1) & mask) {
    if (e->slots[i].key == v) return &e->slots[i];
    if (!e->slots[i].key) {
      if (!insert) return NULL;
      e->slots[i].key = v;
      return &e->slots[i];
    }
  }
}

static size_t count_values(const ct_block *b) {
  size_t n = (size_t)b->n_params;
  for (const ct_node *node = b->first; node; node = node->next) {
    n += (size_t)node->n_results;
    if (node->body) n += count_values(node->body);
  }
  return n;
}

static ct_status err_at(env *e, const ct_node *n, const char *fmt, const char *detail) {
  char buf[512];
  snprintf(buf, sizeof buf, fmt, detail);
  if (n && n->loc.line)
    return ct_diag_error(e->diag, n->loc.file, n->loc.line, n->loc.col, "@%s: %s: %s",
                         e->g->name, ct_op_name(n->op), buf);
  if (n) return ct_diag_error(e->diag, NULL, 0, 0, "@%s: %s: %s", e->g->name, ct_op_name(n->op), buf);
  return ct_diag_error(e->diag, NULL, 0, 0, "@%s: %s", e->g->name, buf);
}

/* Binds the symbols of declared type t from the actual shape of x; checks constant dims. */
static ct_status bind_input(env *e, const ct_value *v, const ct_tensor *x) {
  char want[256], got[256];
  ct_type_format(e->m, &v->type, want, sizeof want);
  ct_tensor_describe(x, got, sizeof got);
  const char *name = v->name ? v->name : "?";
  if (x->dtype != v->type.dtype || x->rank != v->type.rank)
    return ct_diag_error(e->diag, NULL, 0, 0, "@%s: input '%s': expected %s, got %s", e->g->name,
                         name, want, got);
  for (int i = 0; i < x->rank; i++) {
    ct_dim d = v->type.dims[i];
    int64_t actual = x->shape[i];
    if (!d.sym) {
      if (d.off != actual)
        return ct_diag_error(e->diag, NULL, 0, 0, "@%s: input '%s': expected %s, got %s (dim %d)",
                             e->g->name, name, want, got, i);
      continue;
    }
    if (d.sym >= 64)
      return ct_diag_error(e->diag, NULL, 0, 0, "@%s: too many symbols", e->g->name);
    int64_t num = actual - d.off;
    if (d.coef == 0 || num % d.coef != 0 || num / d.coef < 0)
      return ct_diag_error(e->diag, NULL, 0, 0,
                           "@%s: input '%s': dim %d of %s cannot be %lld", e->g->name, name, i,
                           want, (long long)actual);
    int64_t val = num / d.coef;
    const char *sym = e->m->syms[d.sym];
    if (e->bound[d.sym] && e->bind[d.sym] != val)
      return ct_diag_error(e->diag, NULL, 0, 0,
                           "@%s: input '%s' gives %s = %lld, but an earlier input gave %s = %lld",
                           e->g->name, name, sym, (long long)val, sym,
                           (long long)e->bind[d.sym]);
    e->bind[d.sym] = val;
    e->bound[d.sym] = true;
  }
  return CT_OK;
}

/* Evaluates a declared type under the current binding. */
static ct_status concrete_shape(env *e, const ct_node *n, const ct_type *t, int64_t *shape) {
  for (int i = 0; i < t->rank; i++) {
    ct_dim d = t->dims[i];
    if (d.sym && (d.sym >= 64 || !e->bound[d.sym]))
      return err_at(e, n, "symbol '%s' is not bound by any graph input",
                    d.sym < 64 && d.sym <= e->m->n_syms ? e->m->syms[d.sym] : "?");
    shape[i] = ct_dim_eval(d, e->bind);
    if (shape[i] < 0) return err_at(e, n, "%s", "a dim evaluates to a negative size");
  }
  return CT_OK;
}

static void set_value(env *e, const ct_value *v, ct_tensor *t) {
  slot *s = lookup(e, v, true);
  ct_tensor_release(s->tensor);
  s->tensor = t;
  s->uses_left = ct_value_num_uses(v);
}

static void use_done(env *e, const ct_value *v) {
  slot *s = lookup(e, v, false);
  if (!s || s->pinned) return;
  if (--s->uses_left <= 0) {
    ct_tensor_release(s->tensor);
    s->tensor = NULL;
  }
}

static ct_status run_block(env *e, const ct_block *b, ct_tensor **results, int max_results,
                           int *n_results);

static ct_status run_node(env *e, const ct_node *n) {
  ct_tensor *in[64];
  ct_tensor *out[16];
  if (n->n_operands > 64 || n->n_results > 16) return err_at(e, n, "%s", "too many operands");
  for (int i = 0; i < n->n_operands; i++) {
    slot *s = lookup(e, ct_node_operand(n, i), false);
    if (!s || !s->tensor) return err_at(e, n, "%s", "operand has no value (IR not verified?)");
    in[i] = s->tensor;
  }
  ct_status st = CT_OK;
  if (n->op == CT_OP_FUSION) {
    if (!n->body || n->body->n_params != n->n_operands)
      return err_at(e, n, "%s", "malformed fusion body");
    for (int i = 0; i < n->n_operands; i++) {
      set_value(e, n->body->params[i], ct_tensor_retain(in[i]));
    }
    int got = 0;
    st = run_block(e, n->body, out, 16, &got);
    if (st != CT_OK) return st;
    if (got != n->n_results) {
      for (int i = 0; i < got; i++) ct_tensor_release(out[i]);
      return err_at(e, n, "%s", "fusion body returns the wrong number of values");
    }
  } else {
    /* DIMS attributes are evaluated under the binding, so kernels only see concrete dims. */
    ct_attr attrs[16];
    ct_dim dims_store[16][CT_MAX_RANK];
    int n_attrs = n->n_attrs < 16 ? n->n_attrs : 16;
    for (int i = 0; i < n_attrs; i++) {
      attrs[i] = n->attrs[i];
      if (attrs[i].kind == CT_ATTR_DIMS && attrs[i].n <= CT_MAX_RANK) {
        for (int k = 0; k < attrs[i].n; k++) {
          ct_dim d = attrs[i].u.dims[k];
          if (d.sym && (d.sym >= 64 || !e->bound[d.sym]))
            return err_at(e, n, "%s", "attribute uses an unbound symbol");
          dims_store[i][k] = ct_dim_const(ct_dim_eval(d, e->bind));
        }
        attrs[i].u.dims = dims_store[i];
      }
    }
    for (int i = 0; i < n->n_results; i++) {
      int64_t shape[CT_MAX_RANK];
      const ct_type *t = &n->results[i]->type;
      st = concrete_shape(e, n, t, shape);
      if (st == CT_OK) {
        out[i] = ct_tensor_empty(t->dtype, t->rank, shape);
        if (!out[i]) st = err_at(e, n, "%s", "out of memory allocating a result");
      }
      if (st != CT_OK) {
        for (int k = 0; k < i; k++) ct_tensor_release(out[k]);
        return st;
      }
    }
    char msg[400] = "";
    st = ct_kernel_run((int)n->op, attrs, n_attrs, in, n->n_operands, out, n->n_results, msg,
                       sizeof msg);
    if (st != CT_OK) {
      for (int i = 0; i < n->n_results; i++) ct_tensor_release(out[i]);
      return err_at(e, n, "%s", msg[0] ? msg : ct_status_name(st));
    }
  }
  for (int i = 0; i < n->n_results; i++) set_value(e, n->results[i], out[i]);
  for (int i = 0; i < n->n_operands; i++) use_done(e, ct_node_operand(n, i));
  return CT_OK;
}

static _Thread_local ct_interp_observer observer;
static _Thread_local void *observer_ctx;

void ct_interp_set_observer(ct_interp_observer fn, void *ctx) {
  observer = fn;
  observer_ctx = ctx;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ct_status run_block(env *e, const ct_block *b, ct_tensor **results, int max_results,
                           int *n_results) {
  for (const ct_node *n = b->first; n; n = n->next) {
    if (n->op == CT_OP_RETURN) {
      if (n->n_operands > max_results) return err_at(e, n, "%s", "too many results");
      for (int i = 0; i < n->n_operands; i++) {
        slot *s = lookup(e, ct_node_operand(n, i), false);
        if (!s || !s->tensor) return err_at(e, n, "%s", "result has no value");
        results[i] = ct_tensor_retain(s->tensor);
      }
      for (int i = 0; i < n->n_operands; i++) use_done(e, ct_node_operand(n, i));
      *n_results = n->n_operands;
      return CT_OK;
    }
    bool timed = observer && b == e->g->body;
    double t0 = timed ? now_seconds() : 0;
    ct_status st = run_node(e, n);
    if (st != CT_OK) return st;
    if (timed) observer(observer_ctx, n, now_seconds() - t0);
  }
  return err_at(e, NULL, "%s", "block has no return");
}

ct_status ct_interpret(const ct_graph *g, ct_tensor *const *inputs, int n_inputs,
                       ct_tensor ***outputs, int *n_outputs, ct_diag *diag) {
  *outputs = NULL;
  *n_outputs = 0;
  env e;
  memset(&e, 0, sizeof e);
  e.m = g->module;
  e.g = g;
  e.diag = diag;
  if (n_inputs != g->body->n_params)
    return ct_diag_error(diag, NULL, 0, 0, "@%s: expected %d inputs, got %d", g->name,
                         g->body->n_params, n_inputs);
  size_t need = count_values(g->body) * 2 + 16;
  e.cap = 16;
  while (e.cap < need) e.cap *= 2;
  e.slots = calloc(e.cap, sizeof *e.slots);
  if (!e.slots) return CT_ERR_NOMEM;

  ct_status st = CT_OK;
  for (int i = 0; i < n_inputs && st == CT_OK; i++) {
    st = bind_input(&e, g->body->params[i], inputs[i]);
    if (st == CT_OK) set_value(&e, g->body->params[i], ct_tensor_retain(inputs[i]));
  }
  int n_res = ct_graph_num_results(g);
  ct_tensor **res = calloc((size_t)(n_res ? n_res : 1), sizeof *res);
  if (!res) st = CT_ERR_NOMEM;
  int got = 0;
  if (st == CT_OK) st = run_block(&e, g->body, res, n_res, &got);
  for (size_t i = 0; i < e.cap; i++) ct_tensor_release(e.slots[i].tensor);
  free(e.slots);
  if (st != CT_OK) {
    free(res);
    return st;
  }
  *outputs = res;
  *n_outputs = got;
  return CT_OK;
}
