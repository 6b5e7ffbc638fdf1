/* tools/ctorchc.c: ctorchc compiles a PyTorch nn.Module source file (model.py) ahead of time;
 * for now it lowers the model to verified IR (--emit ir), the input of every later stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctorch/compiler.h"
#include "ir.h"

static const char usage[] =
    "usage: ctorchc MODEL.py --input NAME=DTYPE[DIMS] [--input ...] [options]\n"
    "  --input x=f32[N,784]  one forward input: name, dtype and shape (symbols allowed)\n"
    "  --class NAME          the nn.Module class to compile (default: the last one)\n"
    "  --emit ir             print the IR module (the default and only output for now)\n"
    "  -o OUT                write the result to OUT (default: stdout)\n"
    "  --help                print this help\n";

enum { MAX_INPUTS = 16 };

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "ctorchc: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return 2;
}

int main(int argc, char **argv) {
  const char *input = NULL, *output = "-", *root = NULL;
  const char *specs[MAX_INPUTS];
  int n_specs = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(a, "--input") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--class") == 0 ||
               strcmp(a, "--emit") == 0) {
      if (i + 1 >= argc) return bad_usage("'%s' needs an argument", a);
      const char *v = argv[++i];
      if (a[2] == 'i') {
        if (n_specs == MAX_INPUTS) return bad_usage("%s", "too many --input options");
        specs[n_specs++] = v;
      } else if (a[1] == 'o') {
        output = v;
      } else if (a[2] == 'c') {
        root = v;
      } else if (strcmp(v, "ir") != 0) {
        fprintf(stderr, "ctorchc: error: not supported yet: --emit %s (supported: ir)\n", v);
        return 1;
      }
    } else if (strcmp(a, "--train") == 0 || strncmp(a, "-O", 2) == 0 ||
               strcmp(a, "--emit-so") == 0 || strcmp(a, "--target") == 0) {
      fprintf(stderr, "ctorchc: error: not supported yet: %s\n", a);
      return 1;
    } else if (a[0] == '-' && a[1] != 0) {
      return bad_usage("unknown option '%s'", a);
    } else if (input) {
      return bad_usage("more than one input file ('%s')", a);
    } else {
      input = a;
    }
  }
  if (!input) return bad_usage("%s", "no input file");
  size_t olen = strlen(output);
  if (olen > 3 && strcmp(output + olen - 3, ".so") == 0) {
    fprintf(stderr, "ctorchc: error: not supported yet: shared-library output '%s'\n", output);
    return 1;
  }

  ct_diag diag;
  ct_diag_init(&diag);
  size_t len;
  const char *name;
  char *text = cli_read_source(input, &len, &name, &diag);
  if (!text) {
    cli_report(&diag);
    ct_diag_free(&diag);
    return 1;
  }
  ct_frontend_options opt = {root, n_specs, specs};
  ct_module *m = NULL;
  int status = 0;
  if (ct_frontend_compile(text, len, name, &opt, &m, &diag) != CT_OK ||
      ct_module_verify(m, &diag) != CT_OK) {
    status = 1;
  } else {
    char *out = ct_module_to_string(m);
    if (cli_write_file(output, out, strlen(out), &diag) != CT_OK) status = 1;
    free(out);
  }
  free(text);
  if (cli_report(&diag)) status = 1;
  ct_module_free(m);
  ct_diag_free(&diag);
  return status;
}
