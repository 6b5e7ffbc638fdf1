/* tests/fuzz/fuzz_idx.c: libFuzzer target for the IDX reader of examples/fashion_mnist (idx.h)
 * and the dataset pairing on top of it: any input either parses into an array whose every byte
 * can be read, or fails with a diagnostic. The same bytes are also tried as a labels file. */
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ct_diag diag;
  ct_diag_init(&diag);
  ct_idx *images = NULL, *labels = NULL;
  if (ct_idx_parse(data, size, "fuzz.idx", &images, &diag) == CT_OK) {
    uint8_t sum = 0;
    for (int64_t i = 0; i < images->count; i++) sum ^= images->data[i];
    fuzz_sink = sum;
    /* Pair it with a labels array of the right count when that is small enough to make. */
    if (images->rank == 3 && images->dims[0] <= 4096) {
      uint8_t buf[8 + 4096] = {0, 0, 0x08, 1};
      uint32_t n = (uint32_t)images->dims[0];
      buf[4] = (uint8_t)(n >> 24), buf[5] = (uint8_t)(n >> 16), buf[6] = (uint8_t)(n >> 8);
      buf[7] = (uint8_t)n;
      for (uint32_t i = 0; i < n; i++) buf[8 + i] = (uint8_t)(i % 11); /* 10 is out of range */
      if (ct_idx_parse(buf, 8 + n, "labels.idx", &labels, &diag) == CT_OK) {
        fm_dataset ds;
        if (fm_dataset_from_idx(images, labels, "labels.idx", 0, &ds, &diag) == CT_OK) {
          if (ds.n > 0 && ds.rows * ds.cols <= 4096) {
            float x[4096];
            int64_t y;
            fm_fill_batch(&ds, NULL, ds.n - 1, 1, x, &y);
            fuzz_sink ^= (uint8_t)y;
          }
          fm_dataset_free(&ds);
        }
        images = labels = NULL; /* owned (and freed) by fm_dataset_from_idx either way */
      }
    }
  }
  ct_idx_free(images);
  ct_idx_free(labels);
  ct_diag_free(&diag);
  return 0;
}
