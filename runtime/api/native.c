/* runtime/api/native.c: binding a model's entries to the native code ctorchc emitted (the ABI
 * of docs/abi.md): the ABI version check and the NAME_E_call / NAME_E_workspace_size symbols. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

typedef int32_t (*abi_version_fn)(void);

ct_status api_bind_native(ct_model *m, const char *where) {
  abi_version_fn version = (abi_version_fn)dlsym(m->dl, "ctorch_abi_version");
  if (!version)
    return api_fail(CT_ERR_FORMAT, "%s: the native code has no ctorch_abi_version", where);
  int32_t v = version();
  if (v != CT_ABI_VERSION)
    return api_fail(CT_ERR_VERSION,
                    "%s: the native code is built for model ABI %d; this runtime "
                    "runs ABI %d",
                    where, (int)v, CT_ABI_VERSION);
  m->native_error = (ct_abi_last_error_fn)dlsym(m->dl, "ctorch_rt_last_error");
  m->native_threads = (ct_abi_set_threads_fn)dlsym(m->dl, "ctorch_rt_set_num_threads");
  for (int i = 0; i < m->n_entries; i++) {
    api_entry *e = &m->entries[i];
    char sym[1200];
    snprintf(sym, sizeof sym, "%s_%s_call", m->name, e->name);
    ct_abi_entry_fn call = (ct_abi_entry_fn)dlsym(m->dl, sym);
    snprintf(sym, sizeof sym, "%s_%s_workspace_size", m->name, e->name);
    ct_abi_workspace_fn ws = (ct_abi_workspace_fn)dlsym(m->dl, sym);
    if (call && !ws)
      return api_fail(CT_ERR_FORMAT, "%s: the native code exports %s_%s_call but not %s", where,
                      m->name, e->name, sym);
    e->call = call;
    e->workspace_size = ws;
    snprintf(sym, sizeof sym, "%s_%s_profile", m->name, e->name);
    e->profile = call ? (ct_abi_profile *)dlsym(m->dl, sym) : NULL;
  }
  return CT_OK;
}

/* input and target are both fed by the caller: code generators may not tell them apart. */
static bool caller_fed(ct_role r) { return r == CT_ROLE_INPUT || r == CT_ROLE_TARGET; }

static bool same_io(const ct_model *a, const ct_io_info *x, const ct_model *b,
                    const ct_io_info *y) {
  if (strcmp(x->name, y->name) != 0 || x->dtype != y->dtype || x->rank != y->rank ||
      (x->role != y->role && !(caller_fed(x->role) && caller_fed(y->role))))
    return false;
  for (int d = 0; d < x->rank; d++) {
    ct_dim p = x->dims[d], q = y->dims[d];
    if (p.coef != q.coef || p.off != q.off || !p.sym != !q.sym) return false;
    if (p.sym && strcmp(a->syms[p.sym], b->syms[q.sym]) != 0) return false;
  }
  return true;
}

ct_status api_check_native_meta(ct_model *m, const char *where) {
  ct_abi_info_fn info = (ct_abi_info_fn)dlsym(m->dl, "ctorch_model_info");
  const char *json = info ? info() : NULL;
  if (!json) return api_fail(CT_ERR_FORMAT, "%s: the native code has no ctorch_model_info", where);
  ct_model *native = calloc(1, sizeof *native);
  if (!native) return api_fail(CT_ERR_NOMEM, "out of memory");
  char what[1200];
  snprintf(what, sizeof what, "%s (native code)", where);
  ct_status st = api_parse_meta(native, json, strlen(json), UINT64_MAX, what);
  if (st == CT_OK && strcmp(native->name, m->name) != 0)
    st = api_fail(CT_ERR_FORMAT, "%s: the native code is model '%s', the package '%s'", where,
                  native->name, m->name);
  for (int i = 0; st == CT_OK && i < m->n_entries; i++) {
    const api_entry *e = &m->entries[i];
    const api_entry *n = NULL;
    for (int k = 0; k < native->n_entries && !n; k++)
      if (strcmp(native->entries[k].name, e->name) == 0) n = &native->entries[k];
    if (!e->call) continue;
    bool same = n && n->n_in == e->n_in && n->n_res == e->n_res;
    for (int k = 0; same && k < e->n_in; k++)
      same = same_io(m, &e->in[k], native, &n->in[k]);
    for (int k = 0; same && k < e->n_res; k++)
      same = same_io(m, &e->res[k], native, &n->res[k]);
    if (!same)
      st = api_fail(CT_ERR_FORMAT,
                    "%s: the native code's signature of entry '%s' differs from "
                    "the package metadata's",
                    where, e->name);
  }
  native->dl = NULL;
  ct_model_free(native);
  return st;
}
