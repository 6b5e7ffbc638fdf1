/* examples/fashion_mnist/trainer.h: what the training driver (train.c) needs from a compiled
 * training package: one optimizer step on a batch, a forward pass for evaluation, and the
 * parameters under their state_dict names. trainer.c implements it on the public C API
 * (include/ctorch/ctorch.h). */
#ifndef CT_FM_TRAINER_H
#define CT_FM_TRAINER_H

#include <stdint.h>

#include "ctorch/tensor.h"

typedef struct fm_trainer fm_trainer;

/* Loads the training package at path (built by ctorchc --train). init, when not NULL, is a
 * safetensors file whose tensors replace the package's initial parameters (by state_dict
 * name; every parameter must be present with its shape). */
ct_status fm_trainer_open(const char *path, const char *init, fm_trainer **out, ct_diag *diag);
void fm_trainer_free(fm_trainer *t);

/* One train step on x (f32 [n,1,28,28]) and y (i64 [n]); *loss is the batch's mean loss. */
ct_status fm_trainer_step(fm_trainer *t, ct_tensor *x, ct_tensor *y, float *loss, ct_diag *diag);
/* logits (f32 [n,10], preallocated) = forward(x) with the current parameters. */
ct_status fm_trainer_forward(fm_trainer *t, ct_tensor *x, ct_tensor *logits, ct_diag *diag);
/* Writes the current parameters to path as safetensors with their state_dict names, through a
 * temporary file renamed into place. */
ct_status fm_trainer_save(fm_trainer *t, const char *path, ct_diag *diag);

#endif
