/* ctorch/compiler.h: the compiler's public entry points: Python model source in, IR module out.
 * The runtime never includes this header. */
#ifndef CTORCH_COMPILER_H
#define CTORCH_COMPILER_H

#include <stddef.h>

#include "ctorch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_module ct_module;

typedef struct ct_frontend_options {
  const char *root_class; /* the nn.Module class to compile; NULL: the last one in the file */
  int n_inputs;
  const char *const *input_specs; /* one per forward input: "x=f32[N,784]" */
} ct_frontend_options;

/* Compiles the nn.Module source text (len bytes, need not be NUL-terminated; file names it in
 * diagnostics) into a new module holding the parameters (state_dict names, PyTorch's default
 * init specs) and graph @forward, whose inputs are the forward inputs typed by opt->input_specs
 * followed by the parameters. Syntax, unsupported-construct, name and shape errors go to diag
 * with file:line:col; several independent ones are reported in one run. Returns CT_OK and sets
 * *out (the caller frees it with ct_module_free), or an error status with *out = NULL. */
ct_status ct_frontend_compile(const char *text, size_t len, const char *file,
                              const ct_frontend_options *opt, ct_module **out, ct_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
