/* codegen/llvm/lower_shape.c: permute, expand, slice and concat as strided copies: one loop
 * nest over the copied block with a source and a destination stride per dim (the innermost
 * loop has constant strides when both are contiguous there, so it vectorizes), split over the
 * thread pool by the outer dim. reshape never gets here (entry.c aliases it). */
#include <string.h>

#include "cg_internal.h"

/* dst[sum i_d*dst_st[d]] = src[sum i_d*src_st[d]] over the block shape[0..rank). */
static void strided_copy(cg *c, ct_dtype dt, int rank, LLVMValueRef *shape, LLVMValueRef src,
                         LLVMValueRef *src_st, LLVMValueRef dst, LLVMValueRef *dst_st) {
  LLVMTypeRef et = cg_elem_type(c, dt);
  if (rank == 0) {
    LLVMBuildStore(c->b, LLVMBuildLoad2(c->b, et, cg_gep(c, et, src, cg_i64(c, 0)), ""), cg_gep(c, et, dst, cg_i64(c, 0)));
    return;
  }
  LLVMValueRef inner = cg_i64(c, 1);
  for (int d = 1; d < rank; d++) inner = LLVMBuildMul(c->b, inner, shape[d], "");
  LLVMValueRef grain = LLVMBuildSDiv(c->b, cg_i64(c, 32768), LLVMBuildAdd(c->b, inner, cg_i64(c, 1), ""), "");
  grain = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, grain, cg_i64(c, 1), ""), cg_i64(c, 1), grain, "");
  LLVMValueRef n0 = shape[0];
  cg_kernel k;
  cg_kernel_begin(c, &k, "copy");
  src = cg_kernel_capture(c, &k, src);
  dst = cg_kernel_capture(c, &k, dst);
  LLVMValueRef sh[CT_MAX_RANK], ss[CT_MAX_RANK], ds[CT_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    sh[d] = cg_kernel_capture(c, &k, shape[d]);
    ss[d] = cg_kernel_capture(c, &k, src_st[d]);
    ds[d] = cg_kernel_capture(c, &k, dst_st[d]);
  }
  cg_loop loops[CT_MAX_RANK];
  LLVMValueRef so = cg_i64(c, 0), dof = cg_i64(c, 0);
  for (int d = 0; d < rank; d++) {
    LLVMValueRef iv = d == 0 ? cg_loop_begin(c, &loops[d], k.begin, k.end, "i0")
                             : cg_loop_begin(c, &loops[d], cg_i64(c, 0), sh[d], "i");
    so = LLVMBuildNSWAdd(c->b, so, LLVMBuildNSWMul(c->b, iv, ss[d], ""), "");
    dof = LLVMBuildNSWAdd(c->b, dof, LLVMBuildNSWMul(c->b, iv, ds[d], ""), "");
  }
  LLVMValueRef v = LLVMBuildLoad2(c->b, et, cg_gep(c, et, src, so), "");
  LLVMBuildStore(c->b, v, cg_gep(c, et, dst, dof));
  for (int d = rank - 1; d >= 0; d--) cg_loop_end(c, &loops[d]);
  cg_kernel_end(c, &k, n0, grain);
}

/* Contiguous strides of t, in elements. */
static void strides_of(cg *c, const ct_type *t, LLVMValueRef *st) {
  LLVMValueRef s = cg_i64(c, 1);
  for (int d = t->rank - 1; d >= 0; d--) {
    st[d] = s;
    s = LLVMBuildMul(c->b, s, cg_dim(c, t->dims[d]), "");
  }
}

static bool copyable(cg *c, ct_dtype dt) { return cg_elem_type(c, dt) != NULL; }

ct_status cg_lower_shape(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  const ct_type *yt = &n->results[0]->type;
  ct_dtype dt = yt->dtype;
  if (!copyable(c, dt) || yt->rank > CT_MAX_RANK) return CT_ERR_UNSUPPORTED;
  LLVMValueRef y = cg_value_ptr(c, n->results[0]);
  LLVMValueRef shape[CT_MAX_RANK], ys[CT_MAX_RANK], xs[CT_MAX_RANK], src_st[CT_MAX_RANK];
  for (int d = 0; d < yt->rank; d++) shape[d] = cg_dim(c, yt->dims[d]);
  strides_of(c, yt, ys);
  const ct_type *xt = &ct_node_operand(n, 0)->type;
  LLVMValueRef x = cg_value_ptr(c, ct_node_operand(n, 0));
  switch (n->op) {
  case CT_OP_PERMUTE: {
    const ct_attr *p = ct_node_attr(n, "dims");
    if (!p || p->kind != CT_ATTR_INTS || p->n != xt->rank || xt->rank != yt->rank) return CT_ERR_UNSUPPORTED;
    strides_of(c, xt, xs);
    for (int d = 0; d < yt->rank; d++) {
      int from = ct_norm_dim(p->u.ints[d], xt->rank);
      if (from < 0) return CT_ERR_UNSUPPORTED;
      src_st[d] = xs[from];
    }
    strided_copy(c, dt, yt->rank, shape, x, src_st, y, ys);
    return CT_OK;
  }
  case CT_OP_EXPAND: {
    if (xt->rank > yt->rank) return CT_ERR_UNSUPPORTED;
    strides_of(c, xt, xs);
    int lead = yt->rank - xt->rank;
    for (int d = 0; d < yt->rank; d++) {
      int od = d - lead;
      bool bcast = od < 0 || (!xt->dims[od].sym && xt->dims[od].off == 1 &&
                              !(!yt->dims[d].sym && yt->dims[d].off == 1));
      src_st[d] = bcast ? cg_i64(c, 0) : xs[od];
    }
    strided_copy(c, dt, yt->rank, shape, x, src_st, y, ys);
    return CT_OK;
  }
  case CT_OP_SLICE: {
    int dim = ct_norm_dim(ct_node_attr_int(n, "dim", 0), xt->rank);
    if (dim < 0 || xt->rank != yt->rank || xt->dims[dim].sym) return CT_ERR_UNSUPPORTED;
    /* Python's rules, as the runtime resolves them (shape_ops.c). */
    int64_t size = xt->dims[dim].off, start = ct_node_attr_int(n, "start", 0);
    int64_t step = ct_node_attr_int(n, "step", 1);
    if (step < 1) return CT_ERR_UNSUPPORTED;
    if (start < 0) start = start < -size ? 0 : start + size;
    if (start > size) start = size;
    strides_of(c, xt, xs);
    for (int d = 0; d < yt->rank; d++) src_st[d] = d == dim ? LLVMBuildMul(c->b, xs[d], cg_i64(c, step), "") : xs[d];
    LLVMValueRef off = LLVMBuildMul(c->b, xs[dim], cg_i64(c, start), "");
    LLVMValueRef src = LLVMBuildInBoundsGEP2(c->b, c->t_i8, x, (LLVMValueRef[]){LLVMBuildMul(c->b, off, cg_i64(c, (int64_t)ct_dtype_size(dt)), "")}, 1, "");
    strided_copy(c, dt, yt->rank, shape, src, src_st, y, ys);
    return CT_OK;
  }
  case CT_OP_CONCAT: {
    int dim = ct_norm_dim(ct_node_attr_int(n, "dim", 0), yt->rank);
    if (dim < 0) return CT_ERR_UNSUPPORTED;
    LLVMValueRef at = cg_i64(c, 0);
    for (int i = 0; i < n->n_operands; i++) {
      const ct_type *it = &ct_node_operand(n, i)->type;
      if (it->rank != yt->rank || it->dtype != dt) return CT_ERR_UNSUPPORTED;
    }
    for (int i = 0; i < n->n_operands; i++) {
      const ct_type *it = &ct_node_operand(n, i)->type;
      LLVMValueRef part[CT_MAX_RANK];
      for (int d = 0; d < it->rank; d++) part[d] = cg_dim(c, it->dims[d]);
      strides_of(c, it, xs);
      LLVMValueRef off = LLVMBuildMul(c->b, LLVMBuildMul(c->b, at, ys[dim], ""), cg_i64(c, (int64_t)ct_dtype_size(dt)), "");
      LLVMValueRef dst = LLVMBuildInBoundsGEP2(c->b, c->t_i8, y, &off, 1, "");
      strided_copy(c, dt, it->rank, part, cg_value_ptr(c, ct_node_operand(n, i)), xs, dst, ys);
      at = LLVMBuildAdd(c->b, at, part[dim], "");
    }
    return CT_OK;
  }
  default: return CT_ERR_UNSUPPORTED;
  }
}
