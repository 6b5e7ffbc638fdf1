/* runtime/api/native.c: binding a model's entries to the native code ctorchc emitted (the ABI
 * of docs/abi.md): the ABI version check and the NAME_E_call / NAME_E_workspace_size symbols. */
#include <dlfcn.h>
#include <stdio.h>

#include "api_internal.h"

typedef int32_t (*abi_version_fn)(void);

ct_status api_bind_native(ct_model *m, const char *where) {
  abi_version_fn version = (abi_version_fn)dlsym(m->dl, "ctorch_abi_version");
  if (!version)
    return api_fail(CT_ERR_FORMAT, "%s: the native code has no ctorch_abi_version", where);
  int32_t v = version();
  if (v != CT_ABI_VERSION)
    return api_fail(CT_ERR_VERSION, "%s: the native code is built for model ABI %d; this runtime "
                    "runs ABI %d", where, (int)v, CT_ABI_VERSION);
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
  }
  return CT_OK;
}
