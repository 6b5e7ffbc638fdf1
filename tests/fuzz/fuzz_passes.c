/* tests/fuzz/fuzz_passes.c: libFuzzer target for the optimization passes: any IR text that
 * parses and verifies goes through the whole -O2 pipeline (verifier after every pass); a pass
 * that fails on valid IR or leaves it invalid aborts (a bug), as does a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir.h"
#include "pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ct_diag diag;
  ct_diag_init(&diag);
  ct_module *m = ct_module_parse((const char *)data, size, "fuzz.ctir", &diag);
  if (m && ct_module_verify(m, &diag) == CT_OK) {
    ct_pipeline_options opt = {true, NULL, false, true};
    if (ct_pipeline_run(m,
                        "decompose{target=generic},canonicalize,fold{max-elements=64},cse,dce,"
                        "fuse,schedule,plan-memory",
                        &opt, &diag) != CT_OK) {
      ct_diag_print(&diag, stderr);
      abort();
    }
    free(ct_module_to_string(m));
  }
  ct_module_free(m);
  ct_diag_free(&diag);
  return 0;
}
