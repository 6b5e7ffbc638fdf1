/* tests/fuzz/fuzz_py_lower.c: libFuzzer target for the whole Python frontend (parse, __init__
 * evaluation, forward lowering with the shape rules, verification): any input either compiles
 * to a module that verifies, or fails with diagnostics; never a crash, a hang or a leak.
 * forward is lowered with one to three inputs (a 4-d image, int64 tokens, a matrix), so
 * models of every arity in the corpus reach their forward. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctorch/compiler.h"
#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const specs[] = {"x=f32[N,3,16,16]", "tokens=i64[N,8]", "y=f32[N,8]"};
  for (int n = 1; n <= 3; n++) {
    ct_diag diag;
    ct_diag_init(&diag);
    ct_frontend_options opt = {NULL, n, specs};
    ct_module *m = NULL;
    if (ct_frontend_compile((const char *)data, size, "fuzz.py", &opt, &m, &diag) == CT_OK) {
      if (ct_module_verify(m, &diag) != CT_OK) __builtin_trap(); /* the frontend built bad IR */
      ct_module_free(m);
    }
    ct_diag_free(&diag);
  }
  return 0;
}
