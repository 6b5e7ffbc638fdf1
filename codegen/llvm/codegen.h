/* codegen/llvm/codegen.h: CPU code generation through the LLVM C API. Input: a verified module
 * whose graphs have been scheduled and (optionally) memory-planned; a graph without a plan gets
 * one buffer per intermediate. Output: LLVM IR text, assembly, an object file or a shared object
 * exporting the symbols of docs/abi.md. */
#ifndef CTORCH_CODEGEN_LLVM_H
#define CTORCH_CODEGEN_LLVM_H

#include <stdbool.h>

#include "ir.h"

typedef enum ct_emit_kind {
  CT_EMIT_LLVM, /* textual LLVM IR (.ll) */
  CT_EMIT_ASM,  /* target assembly (.s) */
  CT_EMIT_OBJ,  /* relocatable object (.o) */
  CT_EMIT_SO    /* shared object linked with the system toolchain (.so) */
} ct_emit_kind;

typedef struct ct_codegen_options {
  const char *name;      /* exported symbol prefix (docs/abi.md); NULL: m->name or "model" */
  const char *cpu;       /* NULL: the host CPU */
  const char *features;  /* NULL: the host's features */
  int opt_level;         /* 0: no LLVM optimization; 2: default<O3> */
  bool embed_weights;    /* embed every parameter's init tensor as NAME_weights */
  bool self_contained;   /* link a static copy of the runtime instead of libctorch_rt.so */
  bool print_fallbacks;  /* list the ops that call runtime kernels on stderr */
  const char *header;    /* with CT_EMIT_SO: also write the generated C header there, or NULL */
  bool keep_denormals;   /* false: entries run with denormals flushed to zero (runtime/fpmode.c) */
} ct_codegen_options;

/* Emits every graph of m as an entry `<name>_<graph>` to path ("-" is stdout for text kinds).
 * Ops without a native lowering call the runtime's kernel (the dynamic fallback). */
ct_status ct_codegen_llvm(const ct_module *m, const ct_codegen_options *opt, ct_emit_kind kind,
                          const char *path, ct_diag *diag) __attribute__((weak));

#endif
