/* tests/fuzz/fuzz_ir_parse.c: libFuzzer target for the IR text parser: any input either parses
 * into a module that prints, or fails with diagnostics; never a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ct_diag diag;
  ct_diag_init(&diag);
  ct_module *m = ct_module_parse((const char *)data, size, "fuzz.ctir", &diag);
  if (m) {
    free(ct_module_to_string(m));
    ct_module_free(m);
  }
  ct_diag_free(&diag);
  return 0;
}
