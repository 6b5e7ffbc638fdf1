/* runtime/kernels/kernels_internal.h: what the CPU kernel files share: one prototype per op of
 * ir/ops.def (ct_kernel_<ID>, declared weak so that an op without a kernel is a NULL in the
 * table that tests catch, not a link error), and small helpers for strided iteration. */
#ifndef CT_KERNELS_INTERNAL_H
#define CT_KERNELS_INTERNAL_H

#include <stdio.h>

#include "ctorch/kernels.h"
#include "ops.h"

#define CT_KERNEL_ARGS                                                                          \
  const ct_attr *attrs, int n_attrs, ct_tensor *const *in, int n_in, ct_tensor *const *out,   \
      int n_out, char *err, size_t err_size

#define OP(id, name, cls, min_in, max_in, n_out, flags, attrs) \
  __attribute__((weak)) ct_status ct_kernel_##id(CT_KERNEL_ARGS);
#include "ops.def"
#undef OP

/* Writes a message to err and returns st: `return kernel_fail(err, err_size, CT_ERR_SHAPE, ...)`. */
ct_status ct_kernel_fail(char *err, size_t err_size, ct_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
