/* runtime/abi.c: the per-thread error message through which generated code reports failures. */
#include <string.h>

#include "ctorch/abi.h"

static _Thread_local char last_error[512];

void ct_abi_set_error(const char *msg) {
  if (!msg) msg = "";
  strncpy(last_error, msg, sizeof last_error - 1);
  last_error[sizeof last_error - 1] = 0;
}

const char *ct_abi_last_error(void) { return last_error; }
