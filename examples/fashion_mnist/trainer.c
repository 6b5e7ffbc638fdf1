/* examples/fashion_mnist/trainer.c: trainer.h on the public deployment API (ctorch/ctorch.h):
 * the training package's train_step entry (parameters and Adam state live in the model) and
 * its forward entry for evaluation. */
#include "trainer.h"

#include <stdlib.h>
#include <string.h>

#include "ctorch/ctorch.h"

struct fm_trainer {
  ct_model *model;
  int step, forward;
  int step_x, step_y; /* positions of the image and label inputs of train_step */
  int step_loss;      /* position of the loss among train_step's outputs */
  int n_step_outputs;
};

/* Moves the API's message (which names the file or entry itself) into diag. */
static ct_status api_error(ct_diag *diag, const char *what, ct_status st) {
  const char *msg = ct_last_error();
  size_t n = strlen(what);
  if (strncmp(msg, what, n) == 0 && msg[n] == ':') ct_diag_error(diag, NULL, 0, 0, "%s", msg);
  else ct_diag_error(diag, NULL, 0, 0, "%s: %s", what, msg);
  return st ? st : CT_ERR_INVALID;
}

ct_status fm_trainer_open(const char *path, const char *init, fm_trainer **out, ct_diag *diag) {
  *out = NULL;
  fm_trainer *t = calloc(1, sizeof *t);
  if (!t) return ct_diag_error(diag, path, 0, 0, "out of memory");
  ct_status st = ct_model_load(path, &t->model);
  if (st != CT_OK) {
    free(t);
    return api_error(diag, path, st);
  }
  t->step = ct_model_find_entry(t->model, "train_step");
  t->forward = ct_model_find_entry(t->model, "forward");
  if (t->step < 0 || t->forward < 0) {
    ct_diag_error(diag, path, 0, 0,
                  "not a training package: needs entries train_step and forward (build it with "
                  "ctorchc --train)");
    fm_trainer_free(t);
    return CT_ERR_INVALID;
  }
  t->step_x = t->step_y = t->step_loss = -1;
  int n_in = ct_model_num_inputs(t->model, t->step);
  for (int i = 0; i < n_in; i++) {
    const ct_io_info *io = ct_model_input(t->model, t->step, i);
    if (io->role == CT_ROLE_INPUT && t->step_x < 0 && io->rank == 4 && io->dtype == CT_DT_F32)
      t->step_x = i;
    else if (io->role == CT_ROLE_TARGET && t->step_y < 0 && io->rank == 1)
      t->step_y = i;
  }
  t->n_step_outputs = ct_model_num_outputs(t->model, t->step);
  for (int i = 0; i < t->n_step_outputs; i++) {
    const ct_io_info *io = ct_model_output(t->model, t->step, i);
    if (io->rank == 0 && (t->step_loss < 0 || (io->name && strcmp(io->name, "loss") == 0)))
      t->step_loss = i;
  }
  if (t->step_x < 0 || t->step_y < 0 || n_in != 2 || t->step_loss < 0 ||
      ct_model_num_inputs(t->model, t->forward) != 1 ||
      ct_model_num_outputs(t->model, t->forward) != 1) {
    ct_diag_error(diag, path, 0, 0,
                  "train_step must take an f32 [N,1,28,28] image batch and a [N] label batch and "
                  "return a scalar loss; forward must map the images to one result");
    fm_trainer_free(t);
    return CT_ERR_INVALID;
  }
  if (init && (st = ct_model_load_params(t->model, init)) != CT_OK) {
    api_error(diag, init, st);
    fm_trainer_free(t);
    return st;
  }
  *out = t;
  return CT_OK;
}

void fm_trainer_free(fm_trainer *t) {
  if (!t) return;
  ct_model_free(t->model);
  free(t);
}

ct_status fm_trainer_step(fm_trainer *t, ct_tensor *x, ct_tensor *y, float *loss, ct_diag *diag) {
  ct_tensor *in[2];
  in[t->step_x] = x;
  in[t->step_y] = y;
  ct_tensor *outs[8] = {0};
  if (t->n_step_outputs > 8) return ct_diag_error(diag, NULL, 0, 0, "train_step has too many results");
  const ct_io_info *yi = ct_model_input(t->model, t->step, t->step_y);
  ct_tensor *y_conv = NULL;
  if (yi->dtype != y->dtype) { /* the package may take i32 labels */
    y_conv = ct_tensor_empty(yi->dtype, y->rank, y->shape);
    if (!y_conv || ct_tensor_copy_into(y_conv, y) != CT_OK) {
      ct_tensor_release(y_conv);
      return ct_diag_error(diag, NULL, 0, 0, "cannot convert the labels to %s",
                           ct_dtype_name(yi->dtype));
    }
    in[t->step_y] = y_conv;
  }
  ct_status st = ct_model_run(t->model, t->step, in, outs);
  ct_tensor_release(y_conv);
  if (st != CT_OK) return api_error(diag, "train_step", st);
  *loss = (float)ct_tensor_get(outs[t->step_loss], 0);
  for (int i = 0; i < t->n_step_outputs; i++) ct_tensor_release(outs[i]);
  return CT_OK;
}

ct_status fm_trainer_forward(fm_trainer *t, ct_tensor *x, ct_tensor *logits, ct_diag *diag) {
  ct_tensor *out[1] = {logits};
  ct_status st = ct_model_run(t->model, t->forward, &x, out);
  return st == CT_OK ? CT_OK : api_error(diag, "forward", st);
}

ct_status fm_trainer_save(fm_trainer *t, const char *path, ct_diag *diag) {
  ct_status st = ct_model_save_params(t->model, path, false);
  return st == CT_OK ? CT_OK : api_error(diag, path, st);
}
