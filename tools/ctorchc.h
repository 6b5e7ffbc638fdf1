/* tools/ctorchc.h: ctorchc's options and the stages its driver calls. Each stage beyond the
 * frontend lives in its own file (tools/ctorchc_<stage>.c) and is referenced weakly: a build
 * without it reports "not supported in this build" instead of failing to link. */
#ifndef CT_CTORCHC_H
#define CT_CTORCHC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

enum { CTORCHC_MAX_INPUTS = 16 };

typedef struct ctorchc_options {
  const char *input;  /* model.py */
  const char *output; /* "-" (stdout) by default */
  const char *root;   /* --class */
  const char *name;   /* --name: exported symbol prefix; NULL: the class name in snake_case */
  const char *specs[CTORCHC_MAX_INPUTS];
  int n_specs;
  const char *emit;   /* --emit ir|llvm|asm|obj|so|ctm; NULL: from -o's extension, else ir */
  int opt_level;      /* -O0, -O1, -O2 (default) */
  bool print_after_all, print_memory_plan, print_fallbacks;
  const char *weights; /* --weights w.safetensors */
  uint64_t seed;       /* --seed: parameter init without weights */
  /* --train */
  bool train;
  const char *loss;                        /* --loss cross_entropy|nll_loss|mse_loss|... */
  const char *reduction;                   /* --reduction mean|sum (default mean) */
  double label_smoothing;                  /* --label-smoothing */
  const char *targets[CTORCHC_MAX_INPUTS]; /* --target y=i64[N] */
  int n_targets;
  const char *optim;                       /* --optim sgd|adam|adamw */
  double lr, momentum, dampening, weight_decay, beta1, beta2, eps, clip_grad_norm;
  bool nesterov;
  bool no_dropout;                         /* --no-dropout: train as with dropout p = 0 */
  bool lr_set, weight_decay_set, betas_set, eps_set; /* whether given (defaults per optimizer) */
  /* code generation */
  const char *cpu, *features;
  bool external_weights, self_contained;
  bool keep_denormals; /* --keep-denormals: IEEE subnormals in compiled code (default: flushed) */
} ctorchc_options;

/* --train: adds the training graphs (train_step, grad) to m (tools/ctorchc_train.c). */
ct_status ctorchc_train(ct_module *m, const ctorchc_options *o, ct_diag *diag)
    __attribute__((weak));
/* --print-memory-plan: prints each graph's plan (tools/ctorchc_plan.c). */
void ctorchc_print_memory_plan(const ct_module *m, FILE *out) __attribute__((weak));
/* -o model.ctm: writes the single-file package (tools/ctorchc_package.c). */
ct_status ctorchc_write_package(const ct_module *m, const ctorchc_options *o, ct_diag *diag)
    __attribute__((weak));

#endif
