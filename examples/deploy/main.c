/* examples/deploy/main.c: deploying a compiled model from C: `ctorch-deploy MODEL.ctm|.so
 * INPUTS.safetensors` runs `forward` on the file's input and prints each row's top class. */
#include <stdio.h>
#include "ctorch/ctorch.h"
#include "ctorch/safetensors.h"
static int fail(const char *msg) { return fprintf(stderr, "deploy: %s\n", msg) > 0; }

int main(int argc, char **argv) {
  ct_model *m = NULL;
  ct_st_file *in = NULL;
  ct_tensor *x = NULL, *y = NULL;
  if (argc != 3) return fail("usage: ctorch-deploy MODEL INPUTS.safetensors");
  if (ct_model_load(argv[1], &m) != CT_OK) return fail(ct_last_error());
  int fwd = ct_model_find_entry(m, "forward"), rc = 1;
  if (fwd < 0) fail(ct_last_error());
  else if (ct_st_load(argv[2], &in, NULL) != CT_OK) fail("cannot read the inputs");
  else if (!(x = ct_st_find(in, ct_model_input(m, fwd, 0)->name))) fail("no input tensor");
  else rc = ct_model_run(m, fwd, &x, &y) != CT_OK ? fail(ct_last_error()) : 0;
  for (int64_t i = 0; !rc && i < y->shape[0]; i++) {
    const float *row = (const float *)ct_tensor_data(y) + i * y->shape[1];
    int top = 0;
    for (int k = 1; k < y->shape[1]; k++) top = row[k] > row[top] ? k : top;
    printf("%lld: class %d (score %.4f)\n", (long long)i, top, row[top]);
  }
  ct_tensor_release(y);
  ct_st_free(in);
  ct_model_free(m);
  return rc;
}
