/* ctorch/ctorch.h: the deployment API. Loads a compiled model (a .ctm package or a .so built by
 * ctorchc), lists its entry points and their signatures, and runs them on tensors. Entries with
 * native code call it through the ABI (docs/abi.md); entries without (an IR-only package, or a
 * .ctm whose native code cannot be loaded on this host) run through the reference interpreter
 * over the package's IR: the dynamic fallback.
 *
 * Errors: every function that can fail returns a ct_status (CT_OK is 0) and records a message
 * for the calling thread, read with ct_last_error(). Nothing aborts on a malformed file.
 *
 * Threads: ct_set_num_threads (ctorch/parallel.h, included here) sets how many threads the
 * kernels and native code use; call it before the first run.
 *
 * Ownership: tensors passed in are borrowed. ct_model_run stores new references in the output
 * slots it allocates. A ct_model is not safe to run from two threads at once (it owns one
 * workspace and the training state); load one model per thread instead.
 *
 *   ct_model *m;
 *   if (ct_model_load("model.ctm", &m)) { fprintf(stderr, "%s\n", ct_last_error()); ... }
 *   ct_tensor *out[1] = {NULL};
 *   ct_model_run(m, ct_model_find_entry(m, "forward"), &x, out);
 */
#ifndef CTORCH_CTORCH_H
#define CTORCH_CTORCH_H

#include <stdbool.h>

#include "ctorch/parallel.h"
#include "ctorch/tensor.h"
#include "ctorch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_model ct_model;

/* Roles of an entry's inputs, as in the metadata (docs/abi.md). */
typedef enum ct_role {
  CT_ROLE_INPUT,
  CT_ROLE_TARGET,
  CT_ROLE_PARAM,
  CT_ROLE_BUFFER,
  CT_ROLE_STATE
} ct_role;

/* One input or result of an entry. dims[i] is coef * symbol + off (ct_dim); its symbol names
 * come from ct_model_symbol. */
typedef struct ct_io_info {
  const char *name;
  ct_role role; /* CT_ROLE_INPUT for results */
  ct_dtype dtype;
  int rank;
  ct_dim dims[CT_MAX_RANK];
} ct_io_info;

/* The calling thread's last error message, or "" when none. */
const char *ct_last_error(void);

/* Loads path: a .ctm package (by its magic) or a shared object built by ctorchc (anything else
 * is tried with dlopen). The model keeps the package mapped; parameters start as views of its
 * weights. Returns CT_ERR_IO, CT_ERR_FORMAT, CT_ERR_VERSION or CT_ERR_UNSUPPORTED with a message
 * naming the file and the problem. */
ct_status ct_model_load(const char *path, ct_model **out);

/* Load flags. */
enum {
  /* Ignore a package's native code: every entry runs through the interpreter over the IR
   * section (profiling, debugging, or untrusted packages: no code from the file is run). */
  CT_LOAD_INTERPRET = 1u
};
/* ct_model_load with flags. A .so always runs its native code; with CT_LOAD_INTERPRET it is
 * CT_ERR_UNSUPPORTED. */
ct_status ct_model_load_flags(const char *path, unsigned flags, ct_model **out);
/* Loads a .ctm package from memory (copied); name stands for the file in messages. */
ct_status ct_model_load_memory(const void *data, size_t len, const char *name, unsigned flags,
                               ct_model **out);
void ct_model_free(ct_model *m);

/* The model's name (the exported symbol prefix) and symbols (1-based, as in ct_dim.sym). */
const char *ct_model_name(const ct_model *m);
int ct_model_num_symbols(const ct_model *m);
const char *ct_model_symbol(const ct_model *m, int sym);

/* Entries ("forward", "train_step", ...), by index 0..n-1. */
int ct_model_num_entries(const ct_model *m);
const char *ct_model_entry_name(const ct_model *m, int entry);
/* The entry's index, or -1 (with a message for ct_last_error) when there is none. */
int ct_model_find_entry(const ct_model *m, const char *name);
/* true when the entry runs native code, false when it runs through the interpreter. */
bool ct_model_entry_is_native(const ct_model *m, int entry);
/* The caller's inputs: the entry's inputs of role input or target, in order. Parameters,
 * buffers and optimizer state are fed by the model itself. */
int ct_model_num_inputs(const ct_model *m, int entry);
const ct_io_info *ct_model_input(const ct_model *m, int entry, int i);
/* The caller's outputs: the entry's results except the updated state `new.<key>`, in order. */
int ct_model_num_outputs(const ct_model *m, int entry);
const ct_io_info *ct_model_output(const ct_model *m, int entry, int i);
/* Formats an input or output's type as the IR prints it ("f32[N,784]"). */
void ct_model_format_type(const ct_model *m, const ct_io_info *io, char *buf, size_t size);

/* Runs an entry. inputs holds ct_model_num_inputs tensors (any strides; converted to contiguous
 * when needed), whose shapes bind the symbols. outputs holds ct_model_num_outputs slots: a NULL
 * slot receives a new tensor allocated by the runtime (a new reference), a non-NULL one must be
 * a contiguous tensor of the result's dtype and shape and is written in place; it may not
 * overlap an input or another output (CT_ERR_INVALID, docs/abi.md). An entry with
 * results `new.<key>` (a train step) replaces the stored value of parameter or state <key> with
 * it after a successful call. On failure the outputs and the stored state are unchanged. */
ct_status ct_model_run(ct_model *m, int entry, ct_tensor *const *inputs, ct_tensor **outputs);

/* Parameters, buffers and optimizer state, by PyTorch state_dict key ("fc1.weight") or the
 * optimizer's key ("exp_avg.fc1.weight", "step"). */
int ct_model_num_params(const ct_model *m);
const char *ct_model_param_name(const ct_model *m, int i);
/* The current value (borrowed: valid until the next run, set or free), or NULL when the key is
 * unknown or (a .so built with --external-weights) not yet given. */
ct_tensor *ct_model_get_param(const ct_model *m, const char *name);
/* Replaces a value with a copy of t (same dtype and shape). */
ct_status ct_model_set_param(ct_model *m, const char *name, const ct_tensor *t);
/* Sets every parameter found in a safetensors file; a key the model lacks, or a dtype or shape
 * mismatch, is an error (and nothing changes). */
ct_status ct_model_load_params(ct_model *m, const char *path);
/* Writes the weights and buffers (the state_dict, PyTorch's key names) to a safetensors file;
 * with_state adds the optimizer state. */
ct_status ct_model_save_params(const ct_model *m, const char *path, bool with_state);

/* Writes the model as a .ctm package again, with the current parameter, buffer and optimizer
 * state values in its weights section (the other sections are copied): a trained model is then
 * one file again. Only for models loaded from a package (CT_ERR_UNSUPPORTED for a .so). */
ct_status ct_model_save_package(const ct_model *m, const char *path);

/* Per-node timing, for profilers. Interpreted entries: called after each node with its op name
 * and wall time. Native entries: after each call, once per lowered node that ran, with its
 * label from the code's NAME_E_profile table ("%12 = fusion[linear,relu]"; valid while the model
 * is loaded) and its time. NULL turns it off (native code then skips its timers). */
typedef void (*ct_model_profile_fn)(void *ctx, const char *op, double seconds);
void ct_model_set_profiler(ct_model *m, ct_model_profile_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
