/* runtime/abi.c: the per-thread error message through which generated code reports failures. */
#include <string.h>
#include <time.h>

#include "ctorch/abi.h"
#include "ctorch/parallel.h"

static _Thread_local char last_error[512];

void ct_abi_set_error(const char *msg) {
  if (!msg) msg = "";
  strncpy(last_error, msg, sizeof last_error - 1);
  last_error[sizeof last_error - 1] = 0;
}

const char *ct_abi_last_error(void) { return last_error; }

/* Exported by a self-contained .so (ctorchc --self-contained) for its own copy of the runtime:
 * the loader reads the model's error and forwards its thread count through them. */
const char *ctorch_rt_last_error(void) { return last_error; }

void ctorch_rt_set_num_threads(int n) { ct_set_num_threads(n); }

int64_t ct_abi_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
