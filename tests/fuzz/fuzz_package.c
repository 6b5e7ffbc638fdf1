/* tests/fuzz/fuzz_package.c: libFuzzer target for the package loader (container, metadata, IR,
 * weights) through the deployment API, native code off (CT_LOAD_INTERPRET: the fuzzer never
 * runs code from its input). An input either fails with a message or loads into a model whose
 * entries, signatures and parameters can all be read, and whose small entries run on zeros.
 * Inputs are loaded as they are and, a second time, with their checksums recomputed, so that
 * mutations reach the metadata, IR and weights readers instead of stopping at a CRC. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/ctorch.h"
#include "ctorch/package.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

volatile uint8_t fuzz_sink;

/* Runs entry e on zero inputs with every symbol bound to 2, when that stays small. */
static void run_on_zeros(ct_model *m, int e) {
  int n_in = ct_model_num_inputs(m, e), n_out = ct_model_num_outputs(m, e);
  if (n_in > 16 || n_out > 64) return;
  ct_tensor *in[16] = {0}, *out[64] = {0};
  int64_t total = 0;
  int ok = 1;
  for (int i = 0; i < n_in && ok; i++) {
    const ct_io_info *io = ct_model_input(m, e, i);
    int64_t shape[CT_MAX_RANK], numel = 1;
    for (int d = 0; d < io->rank && ok; d++) {
      ct_dim dim = io->dims[d];
      shape[d] = dim.sym ? 2 * dim.coef + dim.off : dim.off;
      ok = shape[d] >= 0 && shape[d] <= 4096;
      numel *= ok ? shape[d] : 1;
      ok = ok && numel <= 65536;
    }
    total += numel;
    ok = ok && total <= 65536 && (in[i] = ct_tensor_zeros(io->dtype, io->rank, shape)) != NULL;
  }
  if (ok && ct_model_run(m, e, in, out) == CT_OK)
    for (int i = 0; i < n_out; i++)
      fuzz_sink ^= (uint8_t)ct_tensor_nbytes(out[i]);
  for (int i = 0; i < n_in; i++)
    ct_tensor_release(in[i]);
  for (int i = 0; i < n_out; i++)
    ct_tensor_release(out[i]);
}

static uint64_t rd(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}
static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites every checksum of a package image whose table lies inside it. */
static void fix_checksums(uint8_t *b, size_t len) {
  if (len < CT_PKG_HEADER_SIZE) return;
  uint64_t n = rd(b + 12, 4);
  if (n > CT_PKG_MAX_SECTIONS || CT_PKG_HEADER_SIZE + n * CT_PKG_ENTRY_SIZE > len) return;
  for (uint64_t i = 0; i < n; i++) {
    uint8_t *e = b + CT_PKG_HEADER_SIZE + i * CT_PKG_ENTRY_SIZE;
    uint64_t off = rd(e + 8, 8), sz = rd(e + 16, 8);
    if (off <= len && sz <= len - off) wr32(e + 24, ct_crc32(0, b + off, (size_t)sz));
  }
  wr32(b + 24, ct_crc32(0, b + CT_PKG_HEADER_SIZE, (size_t)n * CT_PKG_ENTRY_SIZE));
  wr32(b + 28, ct_crc32(0, b, 28));
}

static void load_one(const uint8_t *data, size_t size) {
  ct_model *m = NULL;
  if (ct_model_load_memory(data, size, "fuzz.ctm", CT_LOAD_INTERPRET, &m) != CT_OK) {
    fuzz_sink ^= (uint8_t)ct_last_error()[0];
    return;
  }
  char buf[512];
  for (int e = 0; e < ct_model_num_entries(m); e++) {
    for (int i = 0; i < ct_model_num_inputs(m, e); i++)
      ct_model_format_type(m, ct_model_input(m, e, i), buf, sizeof buf);
    for (int i = 0; i < ct_model_num_outputs(m, e); i++)
      ct_model_format_type(m, ct_model_output(m, e, i), buf, sizeof buf);
    fuzz_sink ^= (uint8_t)buf[0];
    run_on_zeros(m, e);
  }
  for (int i = 0; i < ct_model_num_params(m); i++) {
    const ct_tensor *t = ct_model_get_param(m, ct_model_param_name(m, i));
    const uint8_t *p = t ? ct_tensor_data(t) : NULL;
    for (size_t k = 0; p && k < ct_tensor_nbytes(t); k++)
      fuzz_sink ^= p[k];
  }
  ct_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  load_one(data, size);
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  if (size) memcpy(copy, data, size);
  fix_checksums(copy, size);
  if (size && memcmp(copy, data, size) != 0) load_one(copy, size);
  free(copy);
  return 0;
}
