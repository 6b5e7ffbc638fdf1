/* runtime/api/api_internal.h: what the files of the deployment API (include/ctorch/ctorch.h)
 * share: the loaded model, its entries and parameter slots, the metadata reader, the native and
 * interpreted call paths, and the thread-local error. */
#ifndef CT_API_INTERNAL_H
#define CT_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ctorch/abi.h"
#include "ctorch/ctorch.h"
#include "ctorch/package.h"

#define CT_API_MAX_SYMS 63 /* symbol ids 1..63; the interpreter binds up to 63 too */

typedef struct api_param {
  char *name;
  ct_role role; /* CT_ROLE_PARAM (a weight), CT_ROLE_BUFFER or CT_ROLE_STATE */
  ct_dtype dtype;
  int rank;
  int64_t shape[CT_MAX_RANK];
  uint64_t offset, nbytes; /* in the weights blob */
  ct_tensor *cur;          /* the current value, or NULL when not given (external weights) */
  bool writable;           /* cur may be written (ours, or a view of the private package mapping) */
  ct_tensor *spare;        /* a writable buffer a native train step writes the next value into */
} api_param;

typedef struct api_entry {
  char *name;
  int n_in, n_res;
  ct_io_info *in, *res; /* every graph input and result, in ABI order */
  int *in_param;        /* per input: its parameter slot, or -1 for a caller input */
  int *res_param;       /* per result: the slot a `new.<key>` result replaces, or -1 */
  int n_user_in, n_user_out;
  int *user_in, *user_out; /* indices into in / res */
  ct_abi_entry_fn call;    /* native code, or NULL: the interpreter runs `graph` */
  ct_abi_workspace_fn workspace_size;
  ct_abi_profile *profile; /* NAME_E_profile of native code that has one, or NULL */
  const void *graph; /* const ct_graph * of the fallback module, when interpreted */
} api_entry;

struct ct_model {
  char *path, *name;
  int n_syms;
  char *syms[CT_API_MAX_SYMS + 1]; /* syms[1..n_syms] */
  int n_params;
  api_param *params;
  int n_entries;
  api_entry *entries;
  ct_package *pkg; /* .ctm: the mapped package; NULL for a .so */
  void *dl;        /* the dlopen'ed native code, or NULL */
  void *ir;        /* ct_module * parsed from the IR section, or NULL */
  void *workspace; /* native calls' workspace, grown on demand */
  size_t workspace_cap;
  /* The native code's runtime (its own copy in a self-contained .so): error text and thread
   * count go through these when the .so exports them. */
  ct_abi_last_error_fn native_error;
  ct_abi_set_threads_fn native_threads;
  ct_model_profile_fn profile;
  void *profile_ctx;
};

/* Records the calling thread's error message; returns st so callers can `return api_fail(...)`. */
ct_status api_fail(ct_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses the metadata JSON (len bytes, not necessarily NUL-terminated) into m's name, symbols,
 * params and entries, checking every field. weights_size bounds the params' offsets (pass
 * UINT64_MAX when the blob's size is not known up front). where names the file in messages. */
ct_status api_parse_meta(ct_model *m, const char *json, size_t len, uint64_t weights_size,
                         const char *where);

/* Native code: resolves each entry's symbols in m->dl; entries it cannot find stay NULL. */
ct_status api_bind_native(ct_model *m, const char *where);
/* A package's native code must describe its entries as the package's metadata does: same
 * model name, and for every native entry the same inputs and results (names, roles, types). */
ct_status api_check_native_meta(ct_model *m, const char *where);
/* Parses the IR text and points every entry without native code at its graph. */
ct_status api_load_ir(ct_model *m, const char *text, size_t len, const char *where);
/* Runs an entry through the interpreter: args are every graph input in order (borrowed);
 * *results receives n_res new references. */
ct_status api_interpret(ct_model *m, const api_entry *e, ct_tensor *const *args,
                        ct_tensor **results);
void api_free_ir(ct_model *m);

#endif
