/* tests/fuzz/fuzz_safetensors.c: libFuzzer target for the safetensors reader: any input either
 * parses into tensors whose every byte can be read, or fails with a diagnostic. */
#include <stddef.h>
#include <stdint.h>

#include "ctorch/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every tensor byte is folded into this, so the reads cannot be optimized away. */
volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ct_diag diag;
  ct_diag_init(&diag);
  ct_st_file *f = NULL;
  if (ct_st_parse(data, size, "fuzz.safetensors", &f, &diag) == CT_OK) {
    uint8_t sum = 0;
    for (int i = 0; i < ct_st_count(f); i++) {
      const ct_tensor *t = ct_st_tensor(f, i);
      const uint8_t *p = ct_tensor_data(t);
      size_t n = ct_tensor_nbytes(t);
      for (size_t k = 0; k < n; k++) sum ^= p[k];
      (void)ct_st_find(f, ct_st_name(f, i));
    }
    fuzz_sink = sum;
    (void)ct_st_metadata(f, "format");
    ct_st_free(f);
  }
  ct_diag_free(&diag);
  return 0;
}
