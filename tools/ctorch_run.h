/* tools/ctorch_run.h: what ctorch-run's interpreter path (tools/ctorch_run.c) and its compiled
 * model path (tools/ctorch_run_model.c) share: the options and result naming and checking. */
#ifndef CT_CTORCH_RUN_H
#define CT_CTORCH_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctorch/tensor.h"

typedef struct options {
  const char *model, *entry, *inputs, *weights, *outputs, *check, *save_weights, *save_state,
      *save_package;
  uint64_t seed;
  double rtol, atol;
  int print, threads, list, profile, interpret;
  long long bench; /* --bench K: runs; 0 when not benchmarking */
} options;

/* Prints a result's type and first values to stdout. */
void print_result(const char *name, const ct_tensor *t);
/* Compares got with want within o's tolerances; returns 0 when they agree, else reports the
 * worst element to stderr and returns 1. */
int check_result(const char *name, const ct_tensor *got, const ct_tensor *want, const options *o);

/* Is path a .ctm package or a shared object (by extension or magic)? */
bool ctorch_run_is_compiled(const char *path);
/* Runs a .ctm or .so model with the options; returns the exit status. */
int ctorch_run_compiled(const options *o);

#endif
