/* passes/pass.h: the pass registry and pipelines. A pass is a name and a function over a module;
 * a pipeline is a comma-separated list of pass names, each optionally with arguments in braces:
 * "canonicalize,fold,cse,dce,fuse,schedule,plan-memory" or "autodiff{entry=forward}".
 *
 * Every pass of passes.def is declared weak here: one whose file is not linked in is simply not
 * registered (ct_pass_find returns NULL, and the error lists the passes that exist). */
#ifndef CTORCH_PASS_H
#define CTORCH_PASS_H

#include <stdbool.h>
#include <stdio.h>

#include "ir.h"

/* Arguments of one pipeline item: the text between the braces ("" when none), split into
 * key=value pairs by ct_pass_arg. */
typedef struct ct_pass_args {
  const char *text;
} ct_pass_args;

/* Looks up key in "k1=v1;k2=v2" style arguments (';' or ' ' separated). Copies the value into
 * buf and returns true when present. */
bool ct_pass_arg(const ct_pass_args *a, const char *key, char *buf, size_t size);

typedef ct_status (*ct_pass_fn)(ct_module *m, const ct_pass_args *args, ct_diag *diag);

typedef struct ct_pass {
  const char *name;    /* as written in pipelines */
  const char *summary; /* one line for --help */
  ct_pass_fn run;
} ct_pass;

#define PASS(ident, name, summary) \
  ct_status ct_pass_##ident(ct_module *m, const ct_pass_args *args, ct_diag *diag) \
      __attribute__((weak));
#include "passes.def"
#undef PASS

/* The pass named name (length len), or NULL when none is linked in. */
const ct_pass *ct_pass_find(const char *name, size_t len);
/* The registered passes, in passes.def order; *n receives their count. */
const ct_pass *ct_pass_list(int *n);
/* Writes "a, b, c" (the registered pass names) into buf. */
void ct_pass_names(char *buf, size_t size);

typedef struct ct_pipeline_options {
  bool verify_each;     /* run the verifier after every pass (always on in debug builds) */
  FILE *print_after;    /* when non-NULL, print the module there after each pass */
  bool print_loc;       /* with print_after: print source locations */
  bool quiet;           /* no per-pass statistics on stderr */
} ct_pipeline_options;

/* Checks that every item of pipeline names a registered pass; reports the unknown ones (with
 * the list of available passes) to diag. */
ct_status ct_pipeline_check(const char *pipeline, ct_diag *diag);
/* Runs the pipeline on m. Stops at the first pass that fails or leaves an invalid module (the
 * verifier's messages then name the pass). */
ct_status ct_pipeline_run(ct_module *m, const char *pipeline, const ct_pipeline_options *opt,
                          ct_diag *diag);

/* Prints every graph's memory plan (each buffer's value, type, size, offset, live range and
 * aliasing; the arena peak, naive total and lower bound), or a line saying it has none. */
void ct_mem_plan_print(const ct_module *m, FILE *out);

/* The pipeline of one of ctorchc's optimization levels, of the passes linked in: -O0 runs none,
 * -O1 the cleanups, schedule and plan-memory, -O2 also decompose and fuse. */
const char *ct_pipeline_for_level(int level);

#endif
