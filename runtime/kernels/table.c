/* runtime/kernels/table.c: the kernel table, indexed by op, filled from ir/ops.def. An op whose
 * ct_kernel_<ID> is not defined anywhere (fusion, return) has a NULL entry. */
#include <stdarg.h>

#include "kernels_internal.h"

static ct_kernel_fn const kernel_table[CT_OP_COUNT] = {
#define OP(id, name, cls, min_in, max_in, n_out, flags, attrs) [CT_OP_##id] = ct_kernel_##id,
#include "ops.def"
#undef OP
};

ct_kernel_fn ct_kernel_lookup(int op) {
  if (op < 0 || op >= CT_OP_COUNT) return NULL;
  return kernel_table[op];
}

ct_status ct_kernel_run(int op, const ct_attr *attrs, int n_attrs, ct_tensor *const *in, int n_in,
                        ct_tensor *const *out, int n_out, char *err, size_t err_size) {
  ct_kernel_fn fn = ct_kernel_lookup(op);
  if (!fn)
    return ct_kernel_fail(err, err_size, CT_ERR_UNSUPPORTED, "op '%s' has no CPU kernel",
                          ct_op_name((ct_op)op));
  return fn(attrs, n_attrs, in, n_in, out, n_out, err, err_size);
}

ct_status ct_kernel_fail(char *err, size_t err_size, ct_status st, const char *fmt, ...) {
  if (err && err_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
  }
  return st;
}
