/* tools/ctorchc_plan.c: ctorchc --print-memory-plan, the plans plan-memory left in the module
 * (the format is passes/plan_print.c's, shared with ctorch-opt). */
#include "ctorchc.h"
#include "pass.h"

void ctorchc_print_memory_plan(const ct_module *m, FILE *out) { ct_mem_plan_print(m, out); }
