/* tests/unit/test_kernel_coverage.c: every op of ir/ops.def has a CPU kernel (the interpreter
 * and the dynamic fallback need one), except the control ops that the interpreter runs itself. */
#include "ctorch/kernels.h"
#include "ops.h"
#include "testlib.h"

static void test_every_op_has_a_kernel(void) {
  for (int op = 0; op < CT_OP_COUNT; op++) {
    if (op == CT_OP_FUSION || op == CT_OP_RETURN) {
      CHECK_MSG(ct_kernel_lookup(op) == NULL, "control op '%s' has a kernel", ct_op_name(op));
      continue;
    }
    CHECK_MSG(ct_kernel_lookup(op) != NULL, "op '%s' has no CPU kernel", ct_op_name(op));
  }
  CHECK(ct_kernel_lookup(-1) == NULL && ct_kernel_lookup(CT_OP_COUNT) == NULL);
}

int main(void) {
  RUN_TEST(test_every_op_has_a_kernel);
  return test_summary();
}
