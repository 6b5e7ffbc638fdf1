/* tests/unit/test_input_spec.c: ct_input_spec_parse, the NAME=DTYPE[DIMS] specs of ctorchc's
 * --input (may create symbols) and --target (only the inputs' symbols): valid forms, the
 * symbol flag, and malformed specs, which leave the module's symbols as they were. */
#include <string.h>

#include "ir.h"
#include "testlib.h"

static const char *format(const ct_module *m, const ct_type *t) {
  static char buf[256];
  ct_type_format(m, t, buf, sizeof buf);
  return buf;
}

static void test_valid(void) {
  ct_module *m = ct_module_new();
  ct_input_spec s;
  CHECK_EQ_INT(ct_input_spec_parse(m, "x=f32[N,784]", true, &s), CT_SPEC_OK);
  CHECK_STR_EQ(s.name, "x");
  CHECK_STR_EQ(format(m, &s.type), "f32[N,784]");
  CHECK_EQ_INT(m->n_syms, 1);
  CHECK_EQ_INT(ct_input_spec_parse(m, "fc.weight=i64[]", true, &s), CT_SPEC_OK);
  CHECK_STR_EQ(s.name, "fc.weight");
  CHECK_EQ_INT(s.type.rank, 0);
  CHECK_EQ_INT(s.type.dtype, CT_DT_I64);
  CHECK_EQ_INT(ct_input_spec_parse(m, "img=bf16[_b1,3,0,T2]", true, &s), CT_SPEC_OK);
  CHECK_STR_EQ(format(m, &s.type), "bf16[_b1,3,0,T2]");
  CHECK_EQ_INT(ct_input_spec_parse(m, "x=f32[1,2,3,4,5,6,7,8]", true, &s), CT_SPEC_OK);
  CHECK_EQ_INT(s.type.rank, CT_MAX_RANK);
  ct_module_free(m);
}

/* create_syms: on, new symbols join m (N reused, M added); off, only m's symbols resolve. */
static void test_symbol_flag(void) {
  ct_module *m = ct_module_new();
  int32_t n = ct_module_sym(m, "N", 1);
  ct_input_spec s;
  CHECK_EQ_INT(ct_input_spec_parse(m, "y=i64[N]", false, &s), CT_SPEC_OK);
  CHECK_EQ_INT(s.type.dims[0].sym, n);
  CHECK_EQ_INT(m->n_syms, 1);
  CHECK_EQ_INT(ct_input_spec_parse(m, "y=i64[N,M]", false, &s), CT_SPEC_UNKNOWN_SYM);
  CHECK_EQ_INT(s.sym_len, 1);
  CHECK(s.sym && strncmp(s.sym, "M]", 2) == 0);
  CHECK_EQ_INT(m->n_syms, 1);
  CHECK_EQ_INT(ct_input_spec_parse(m, "t=f32[Mx,N]", false, &s), CT_SPEC_UNKNOWN_SYM);
  CHECK_EQ_INT(s.sym_len, 2);
  CHECK_EQ_INT(ct_input_spec_parse(m, "x=f32[N,M]", true, &s), CT_SPEC_OK);
  CHECK_EQ_INT(s.type.dims[0].sym, n);
  CHECK_EQ_INT(m->n_syms, 2);
  CHECK_EQ_INT(s.type.dims[1].sym, ct_module_find_sym(m, "M", 1));
  CHECK_EQ_INT(ct_input_spec_parse(m, "y=i64[M]", false, &s), CT_SPEC_OK);
  ct_module_free(m);
}

static void test_malformed(void) {
  static const char *const bad[] = {"x=f32[",
                                    "x=q8[2]",
                                    "=f32[2]",
                                    "x=f32[-1]",
                                    "x=f32[2,]",
                                    "x=f32[,2]",
                                    "x=f32[2]]",
                                    "x=f32[2]x",
                                    "x=f32[2][3]",
                                    "x=f32[N M]",
                                    "x=f32[2x]",
                                    "x=f32[N-1]",
                                    "x=f32[N,784",
                                    "x=f32",
                                    "xf32[2]",
                                    "x=[2]",
                                    "x=f32 [2]",
                                    "x=f32[ 2]",
                                    "",
                                    "x=f32[1,2,3,4,5,6,7,8,9]",
                                    "x=f32[99999999999999999999]"};
  char long_name[200];
  memset(long_name, 'a', 128);
  strcpy(long_name + 128, "=f32[2]");
  ct_module *m = ct_module_new();
  ct_input_spec s;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    for (int create = 0; create < 2; create++)
      CHECK_MSG(ct_input_spec_parse(m, bad[i], create, &s) == CT_SPEC_MALFORMED,
                "'%s' (create_syms %d) is not CT_SPEC_MALFORMED", bad[i], create);
  }
  CHECK_EQ_INT(ct_input_spec_parse(m, long_name, true, &s), CT_SPEC_MALFORMED);
  long_name[127] = 0;
  memcpy(long_name + 127, "=f32[2]", 8);
  CHECK_EQ_INT(ct_input_spec_parse(m, long_name, true, &s), CT_SPEC_OK);
  /* malformed after a valid symbol: N is not created */
  CHECK_EQ_INT(ct_input_spec_parse(m, "x=f32[N,-1]", true, &s), CT_SPEC_MALFORMED);
  CHECK_EQ_INT(m->n_syms, 0);
  /* malformed wins over an unknown symbol */
  CHECK_EQ_INT(ct_input_spec_parse(m, "y=i64[M", false, &s), CT_SPEC_MALFORMED);
  ct_module_free(m);
}

int main(void) {
  RUN_TEST(test_valid);
  RUN_TEST(test_symbol_flag);
  RUN_TEST(test_malformed);
  return test_summary();
}
