/* codegen/llvm/lower_norm.c: layer_norm (rows of the trailing normalized dims, split over the
 * thread pool; mean and biased variance in double, two passes, as the runtime computes them)
 * and embedding (a row gather; an index outside [0, V) returns CT_ERR_INVALID with the
 * runtime's message through ct_abi_set_error). */
#include <string.h>

#include "cg_internal.h"

static LLVMValueRef load_f64(cg *c, ct_dtype dt, LLVMValueRef base, LLVMValueRef idx) {
  LLVMTypeRef et = cg_elem_type(c, dt);
  LLVMValueRef v = LLVMBuildLoad2(c->b, et, cg_gep(c, et, base, idx), "");
  return dt == CT_DT_F32 ? LLVMBuildFPExt(c->b, v, c->t_f64, "") : v;
}

ct_status cg_lower_layer_norm(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  const ct_type *xt = &ct_node_operand(n, 0)->type;
  ct_dtype dt = xt->dtype;
  if (dt != CT_DT_F32 && dt != CT_DT_F64) return CT_ERR_UNSUPPORTED;
  for (int i = 1; i < n->n_operands; i++)
    if (ct_node_operand(n, i)->type.dtype != dt) return CT_ERR_UNSUPPORTED;
  const ct_attr *ns = ct_node_attr(n, "normalized_shape");
  if (!ns || ns->kind != CT_ATTR_INTS || ns->n < 1 || ns->n > xt->rank) return CT_ERR_UNSUPPORTED;
  LLVMValueRef d = cg_i64(c, 1), rows = cg_i64(c, 1);
  for (int i = 0; i < xt->rank; i++) {
    LLVMValueRef s = cg_dim(c, xt->dims[i]);
    if (i >= xt->rank - ns->n)
      d = LLVMBuildMul(c->b, d, s, "");
    else
      rows = LLVMBuildMul(c->b, rows, s, "");
  }
  double eps = ct_node_attr_float(n, "eps", 1e-5);
  LLVMValueRef x = cg_value_ptr(c, ct_node_operand(n, 0)), y = cg_value_ptr(c, n->results[0]);
  LLVMValueRef w = n->n_operands > 1 ? cg_value_ptr(c, ct_node_operand(n, 1)) : NULL;
  LLVMValueRef b = n->n_operands > 2 ? cg_value_ptr(c, ct_node_operand(n, 2)) : NULL;
  LLVMValueRef grain = LLVMBuildSDiv(c->b, cg_i64(c, 8192), LLVMBuildAdd(c->b, d, cg_i64(c, 1), ""), "");
  grain = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, grain, cg_i64(c, 1), ""), cg_i64(c, 1), grain, "");
  cg_kernel k;
  cg_kernel_begin(c, &k, "layer_norm");
  x = cg_kernel_capture(c, &k, x);
  y = cg_kernel_capture(c, &k, y);
  if (w) w = cg_kernel_capture(c, &k, w);
  if (b) b = cg_kernel_capture(c, &k, b);
  d = cg_kernel_capture(c, &k, d);
  LLVMTypeRef f64 = c->t_f64, et = cg_elem_type(c, dt);
  LLVMValueRef acc = cg_entry_alloca(c, f64, "acc", 0);
  LLVMValueRef dd = LLVMBuildSIToFP(c->b, d, f64, "");
  cg_loop lr, l1, l2, l3;
  LLVMValueRef r = cg_loop_begin(c, &lr, k.begin, k.end, "row");
  LLVMValueRef base = LLVMBuildNSWMul(c->b, r, d, "");
  LLVMBuildStore(c->b, LLVMConstReal(f64, 0.0), acc);
  LLVMValueRef i = cg_loop_begin(c, &l1, cg_i64(c, 0), d, "i");
  LLVMValueRef v = load_f64(c, dt, x, LLVMBuildNSWAdd(c->b, base, i, ""));
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, f64, acc, ""), v, ""), acc);
  cg_loop_end(c, &l1);
  LLVMValueRef mean = LLVMBuildFDiv(c->b, LLVMBuildLoad2(c->b, f64, acc, ""), dd, "mean");
  LLVMBuildStore(c->b, LLVMConstReal(f64, 0.0), acc);
  i = cg_loop_begin(c, &l2, cg_i64(c, 0), d, "i");
  v = LLVMBuildFSub(c->b, load_f64(c, dt, x, LLVMBuildNSWAdd(c->b, base, i, "")), mean, "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, f64, acc, ""), LLVMBuildFMul(c->b, v, v, ""), ""), acc);
  cg_loop_end(c, &l2);
  LLVMValueRef var = LLVMBuildFDiv(c->b, LLVMBuildLoad2(c->b, f64, acc, ""), dd, "var");
  LLVMValueRef sq = LLVMBuildFAdd(c->b, var, LLVMConstReal(f64, eps), "");
  unsigned id = LLVMLookupIntrinsicID("llvm.sqrt", 9);
  LLVMValueRef sqrt_fn = LLVMGetIntrinsicDeclaration(c->mod, id, &f64, 1);
  sq = LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &f64, 1), sqrt_fn, &sq, 1, "");
  LLVMValueRef rstd = LLVMBuildFDiv(c->b, LLVMConstReal(f64, 1.0), sq, "rstd");
  i = cg_loop_begin(c, &l3, cg_i64(c, 0), d, "i");
  LLVMValueRef at = LLVMBuildNSWAdd(c->b, base, i, "");
  v = LLVMBuildFMul(c->b, LLVMBuildFSub(c->b, load_f64(c, dt, x, at), mean, ""), rstd, "");
  if (w) v = LLVMBuildFMul(c->b, v, load_f64(c, dt, w, i), "");
  if (b) v = LLVMBuildFAdd(c->b, v, load_f64(c, dt, b, i), "");
  if (dt == CT_DT_F32) v = LLVMBuildFPTrunc(c->b, v, et, "");
  LLVMBuildStore(c->b, v, cg_gep(c, et, y, at));
  cg_loop_end(c, &l3);
  cg_loop_end(c, &lr);
  cg_kernel_end(c, &k, rows, grain);
  return CT_OK;
}

ct_status cg_lower_embedding(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  const ct_type *it = &ct_node_operand(n, 0)->type, *wt = &ct_node_operand(n, 1)->type;
  if ((it->dtype != CT_DT_I64 && it->dtype != CT_DT_I32) || wt->rank != 2 ||
      (wt->dtype != CT_DT_F32 && wt->dtype != CT_DT_F64))
    return CT_ERR_UNSUPPORTED;
  LLVMTypeRef ity = cg_elem_type(c, it->dtype);
  LLVMValueRef idx = cg_value_ptr(c, ct_node_operand(n, 0)), w = cg_value_ptr(c, ct_node_operand(n, 1));
  LLVMValueRef y = cg_value_ptr(c, n->results[0]);
  LLVMValueRef v = cg_dim(c, wt->dims[0]);
  LLVMValueRef row_bytes = LLVMBuildMul(c->b, cg_dim(c, wt->dims[1]), cg_i64(c, (int64_t)ct_dtype_size(wt->dtype)), "");
  cg_loop l;
  LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), cg_numel(c, it), "i");
  LLVMValueRef ix = LLVMBuildLoad2(c->b, ity, cg_gep(c, ity, idx, i), "index");
  if (it->dtype == CT_DT_I32) ix = LLVMBuildSExt(c->b, ix, c->t_i64, "");
  LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntUGE, ix, v, "");
  LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "bad.index");
  LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "gather");
  LLVMBuildCondBr(c->b, bad, fail, ok);
  LLVMPositionBuilderAtEnd(c->b, fail);
  /* The runtime kernel reports it ("embedding: index 12 is out of range for 10 rows") and
   * returns its status; the return after it is never reached. */
  cg_emit_kernel_call(c, n);
  LLVMBuildRet(c->b, cg_i32(c, CT_ERR_INVALID));
  LLVMPositionBuilderAtEnd(c->b, ok);
  LLVMValueRef src = LLVMBuildInBoundsGEP2(c->b, c->t_i8, w, (LLVMValueRef[]){LLVMBuildMul(c->b, ix, row_bytes, "")}, 1, "");
  LLVMValueRef dst = LLVMBuildInBoundsGEP2(c->b, c->t_i8, y, (LLVMValueRef[]){LLVMBuildMul(c->b, i, row_bytes, "")}, 1, "");
  LLVMBuildMemCpy(c->b, dst, 1, src, 1, row_bytes);
  cg_loop_end(c, &l);
  return CT_OK;
}
