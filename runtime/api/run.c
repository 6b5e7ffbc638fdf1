/* runtime/api/run.c: running an entry. Binds the symbols from the caller's input shapes, checks
 * or allocates the outputs, feeds the stored parameters and state, calls the native code (with
 * the workspace it asks for) or the interpreter, and after a successful train step swaps each
 * `new.<key>` result in as the parameter's value (double buffering). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "ctorch/parallel.h"

/* Binds symbols from one input; checks its dtype and constant dims. */
static ct_status bind_input(const ct_model *m, const api_entry *e, const ct_io_info *io,
                            const ct_tensor *t, int64_t *syms, bool *bound) {
  char want[256], got[256];
  ct_model_format_type(m, io, want, sizeof want);
  ct_tensor_describe(t, got, sizeof got);
  if (t->dtype != io->dtype || t->rank != io->rank)
    return api_fail(CT_ERR_SHAPE, "%s: input '%s' must be %s, got %s", e->name, io->name, want,
                    got);
  for (int d = 0; d < io->rank; d++) {
    ct_dim dim = io->dims[d];
    int64_t n = t->shape[d];
    if (!dim.sym) {
      if (n != dim.off)
        return api_fail(CT_ERR_SHAPE, "%s: input '%s' must be %s, got %s (dim %d)", e->name,
                        io->name, want, got, d);
      continue;
    }
    int64_t num = n - dim.off;
    if (num < 0 || num % dim.coef != 0)
      return api_fail(CT_ERR_SHAPE, "%s: input '%s': dim %d of %s cannot be %lld", e->name,
                      io->name, d, want, (long long)n);
    int64_t v = num / dim.coef;
    if (bound[dim.sym] && syms[dim.sym] != v)
      return api_fail(CT_ERR_SHAPE, "%s: input '%s' gives %s = %lld, an earlier input %lld",
                      e->name, io->name, m->syms[dim.sym], (long long)v, (long long)syms[dim.sym]);
    syms[dim.sym] = v;
    bound[dim.sym] = true;
  }
  return CT_OK;
}

static void shape_of(const ct_io_info *io, const int64_t *syms, int64_t *shape) {
  for (int d = 0; d < io->rank; d++) {
    ct_dim dim = io->dims[d];
    shape[d] = dim.sym ? dim.coef * syms[dim.sym] + dim.off : dim.off;
  }
}

static bool has_shape(const ct_tensor *t, const ct_io_info *io, const int64_t *shape) {
  if (t->dtype != io->dtype || t->rank != io->rank || !ct_tensor_is_contiguous(t)) return false;
  for (int d = 0; d < io->rank; d++)
    if (t->shape[d] != shape[d]) return false;
  return true;
}

/* Do two tensors' bytes overlap? */
static bool overlaps(const ct_tensor *a, const ct_tensor *b) {
  const char *pa = ct_tensor_data(a), *pb = ct_tensor_data(b);
  size_t na = ct_tensor_nbytes(a), nb = ct_tensor_nbytes(b);
  return na && nb && pa < pb + nb && pb < pa + na;
}

typedef struct call_state {
  ct_tensor **args; /* every graph input (owned references) */
  ct_tensor **res;  /* every graph result (owned references) */
  int n_in, n_res;
} call_state;

static void call_state_free(call_state *c) {
  for (int i = 0; c->args && i < c->n_in; i++)
    ct_tensor_release(c->args[i]);
  for (int i = 0; c->res && i < c->n_res; i++)
    ct_tensor_release(c->res[i]);
  free(c->args);
  free(c->res);
}

static ct_status run_native(ct_model *m, const api_entry *e, const int64_t *syms, call_state *c) {
  int64_t ws = e->workspace_size(syms);
  if (ws < 0) return api_fail(CT_ERR_INTERNAL, "%s: workspace size %lld", e->name, (long long)ws);
  if ((size_t)ws > m->workspace_cap) {
    void *p = ct_aligned_alloc((size_t)ws);
    if (!p)
      return api_fail(CT_ERR_NOMEM, "%s: out of memory for a %lld-byte workspace", e->name,
                      (long long)ws);
    ct_aligned_free(m->workspace);
    m->workspace = p;
    m->workspace_cap = (size_t)ws;
  }
  void **args = calloc((size_t)e->n_in + 1, sizeof *args);
  void **res = calloc((size_t)e->n_res + 1, sizeof *res);
  ct_status st = CT_OK;
  if (!args || !res) {
    st = api_fail(CT_ERR_NOMEM, "out of memory");
  } else {
    for (int i = 0; i < e->n_in; i++)
      args[i] = ct_tensor_data(c->args[i]);
    for (int i = 0; i < e->n_res; i++)
      res[i] = ct_tensor_data(c->res[i]);
    ct_abi_call call = {syms, args, res, m->workspace};
    ct_abi_set_error("");
    if (m->native_threads) m->native_threads(ct_get_num_threads());
    ct_abi_profile *prof = m->profile ? e->profile : NULL;
    if (prof) {
      for (int32_t i = 0; i < prof->n_rows; i++)
        prof->rows[i].calls = prof->rows[i].ns = 0;
      prof->enabled = 1;
    }
    int32_t rc = e->call(&call);
    if (prof) {
      prof->enabled = 0;
      for (int32_t i = 0; i < prof->n_rows; i++)
        if (prof->rows[i].calls)
          m->profile(m->profile_ctx, prof->rows[i].label, 1e-9 * (double)prof->rows[i].ns);
    }
    if (rc != 0) {
      const char *msg = m->native_error ? m->native_error() : ct_abi_last_error();
      st = api_fail(rc > 0 && rc <= CT_ERR_INTERNAL ? (ct_status)rc : CT_ERR_INTERNAL, "%s: %s",
                    e->name, msg[0] ? msg : "the native code failed");
    }
  }
  free(args);
  free(res);
  return st;
}

ct_status ct_model_run(ct_model *m, int entry, ct_tensor *const *inputs, ct_tensor **outputs) {
  if (entry < 0 || entry >= m->n_entries)
    return api_fail(CT_ERR_INVALID, "%s: entry index %d out of range (0..%d)", m->path, entry,
                    m->n_entries - 1);
  const api_entry *e = &m->entries[entry];
  if (e->n_user_in && !inputs) return api_fail(CT_ERR_INVALID, "%s: inputs is NULL", e->name);
  if (e->n_user_out && !outputs) return api_fail(CT_ERR_INVALID, "%s: outputs is NULL", e->name);
  int64_t syms[CT_API_MAX_SYMS + 1] = {0};
  bool bound[CT_API_MAX_SYMS + 1] = {false};
  for (int i = 0; i < e->n_user_in; i++) {
    if (!inputs[i])
      return api_fail(CT_ERR_INVALID, "%s: input '%s' is NULL", e->name, e->in[e->user_in[i]].name);
    ct_status st = bind_input(m, e, &e->in[e->user_in[i]], inputs[i], syms, bound);
    if (st != CT_OK) return st;
  }
  for (int i = 0; i < e->n_in; i++)
    if (e->in_param[i] >= 0 && !m->params[e->in_param[i]].cur)
      return api_fail(CT_ERR_INVALID,
                      "%s: parameter '%s' has no value (the model was built "
                      "with external weights: load them with ct_model_load_params)",
                      e->name, e->in[i].name);

  call_state c = {calloc((size_t)e->n_in + 1, sizeof(ct_tensor *)),
                  calloc((size_t)e->n_res + 1, sizeof(ct_tensor *)), e->n_in, e->n_res};
  if (!c.args || !c.res) {
    call_state_free(&c);
    return api_fail(CT_ERR_NOMEM, "out of memory");
  }
  ct_status st = CT_OK;
  for (int i = 0, u = 0; i < e->n_in && st == CT_OK; i++) {
    int p = e->in_param[i];
    c.args[i] = p >= 0 ? ct_tensor_retain(m->params[p].cur) : ct_tensor_contiguous(inputs[u++]);
    if (!c.args[i]) st = api_fail(CT_ERR_NOMEM, "out of memory");
  }
  /* Result buffers: native code writes into them; the interpreter returns its own. */
  for (int i = 0, u = 0; i < e->n_res && st == CT_OK; i++) {
    int64_t shape[CT_MAX_RANK];
    shape_of(&e->res[i], syms, shape);
    int p = e->res_param[i];
    ct_tensor *given = p < 0 ? outputs[u++] : NULL;
    if (given && !has_shape(given, &e->res[i], shape)) {
      char want[256], got[256];
      size_t used = (size_t)snprintf(want, sizeof want, "%s[", ct_dtype_name(e->res[i].dtype));
      for (int d = 0; d < e->res[i].rank && used < sizeof want; d++)
        used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", d ? "," : "",
                                 (long long)shape[d]);
      if (used < sizeof want) snprintf(want + used, sizeof want - used, "]");
      ct_tensor_describe(given, got, sizeof got);
      st = api_fail(CT_ERR_SHAPE, "%s: output '%s' must be a contiguous %s, got %s", e->name,
                    e->res[i].name, want, got);
      break;
    }
    for (int k = 0; given && k < e->n_in && st == CT_OK; k++)
      if (overlaps(given, c.args[k]))
        st = api_fail(CT_ERR_INVALID,
                      "%s: output '%s' overlaps input '%s' (results never alias "
                      "inputs)",
                      e->name, e->res[i].name, e->in[k].name);
    for (int k = 0, v = 0; given && k < i && st == CT_OK; k++) {
      if (e->res_param[k] >= 0) continue;
      if (outputs[v] && overlaps(given, outputs[v]))
        st = api_fail(CT_ERR_INVALID,
                      "%s: output '%s' overlaps output '%s' (results never alias "
                      "each other)",
                      e->name, e->res[i].name, e->res[k].name);
      v++;
    }
    if (st != CT_OK) break;
    if (!e->call) continue;
    if (given) {
      c.res[i] = ct_tensor_retain(given);
    } else if (p >= 0 && m->params[p].spare) {
      c.res[i] = ct_tensor_retain(m->params[p].spare);
    } else {
      c.res[i] = ct_tensor_empty(e->res[i].dtype, e->res[i].rank, shape);
      if (!c.res[i])
        st = api_fail(CT_ERR_NOMEM, "%s: out of memory for result '%s'", e->name, e->res[i].name);
    }
  }
  if (st == CT_OK) {
    if (e->call) {
      st = run_native(m, e, syms, &c);
    } else {
      for (int i = 0; i < e->n_res; i++) {
        ct_tensor_release(c.res[i]);
        c.res[i] = NULL;
      }
      st = api_interpret(m, e, c.args, c.res);
    }
  }
  for (int i = 0, u = 0; i < e->n_res && st == CT_OK; i++) {
    if (e->res_param[i] >= 0) continue;
    ct_tensor *given = outputs[u];
    if (given && !e->call) st = ct_tensor_copy_into(given, c.res[i]);
    if (st != CT_OK) api_fail(st, "%s: copying result '%s'", e->name, e->res[i].name);
    u++;
  }
  if (st == CT_OK) {
    /* Commit: outputs first (allocated ones move to the caller), then the new state. */
    for (int i = 0, u = 0; i < e->n_res; i++) {
      int p = e->res_param[i];
      if (p < 0) {
        if (!outputs[u]) outputs[u] = ct_tensor_retain(c.res[i]);
        u++;
        continue;
      }
      api_param *ps = &m->params[p];
      ct_tensor *old = ps->cur;
      bool old_writable = ps->writable;
      ps->cur = ct_tensor_retain(c.res[i]);
      ps->writable = true;
      ct_tensor_release(ps->spare);
      /* The old value becomes the next native step's result buffer when it may be written. */
      ps->spare = e->call && old_writable ? old : NULL;
      if (!ps->spare) ct_tensor_release(old);
    }
  }
  call_state_free(&c);
  return st;
}
