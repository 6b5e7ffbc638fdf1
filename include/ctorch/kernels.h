/* ctorch/kernels.h: the runtime's CPU kernels, one per op of ir/ops.def, behind one calling
 * convention. The reference interpreter runs graphs with them, compiled code calls them for ops
 * it does not lower (the dynamic fallback), and the eager API will use them. */
#ifndef CTORCH_KERNELS_H
#define CTORCH_KERNELS_H

#include "ctorch/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A kernel computes op(in) into out. Inputs are borrowed and may have any strides (views,
 * broadcast expansions with stride 0); outputs are preallocated, contiguous, with the shapes
 * and dtypes the op's shape rule gives. attrs hold every attribute of the op's schema. On
 * failure a kernel writes a one-line message to err (err_size bytes) and returns non-zero. */
typedef ct_status (*ct_kernel_fn)(const ct_attr *attrs, int n_attrs, ct_tensor *const *in,
                                  int n_in, ct_tensor *const *out, int n_out, char *err,
                                  size_t err_size);

/* The kernel of op (a ct_op from ops.def), or NULL when the op has none (fusion, return). */
ct_kernel_fn ct_kernel_lookup(int op);
/* Looks op up and runs it; an op without kernel is CT_ERR_UNSUPPORTED. */
ct_status ct_kernel_run(int op, const ct_attr *attrs, int n_attrs, ct_tensor *const *in, int n_in,
                        ct_tensor *const *out, int n_out, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
