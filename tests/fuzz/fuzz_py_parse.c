/* tests/fuzz/fuzz_py_parse.c: libFuzzer target for the Python-subset lexer and parser: any input
 * either parses into an AST that dumps, or fails with diagnostics; never a crash or a leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frontend.h"
#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *sink;
  if (!sink) sink = fopen("/dev/null", "w");
  ct_diag diag;
  ct_diag_init(&diag);
  ct_arena *arena = ct_arena_new();
  ct_py_module *m = NULL;
  if (ct_py_parse((const char *)data, size, "fuzz.py", arena, &m, &diag) == CT_OK && m && sink)
    ct_py_dump(m, sink);
  ct_arena_free(arena);
  ct_diag_free(&diag);
  return 0;
}
