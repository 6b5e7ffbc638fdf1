/* codegen/llvm/lower_softmax.c: softmax and log_softmax over the last dim, one row per
 * iteration of a kernel split over the thread pool: a max pass, a sum-of-exp pass, a write pass,
 * with the runtime's rules (NaN propagates; a row of -inf gives NaN). Another dim falls back. */
#include <string.h>

#include "cg_internal.h"

static LLVMValueRef call_intrinsic(cg *c, const char *name, LLVMTypeRef t, LLVMValueRef x) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
  return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &t, 1), f, &x, 1, "");
}

ct_status cg_lower_softmax(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  const ct_type *xt = &ct_node_operand(n, 0)->type;
  ct_dtype dt = xt->dtype;
  if ((dt != CT_DT_F32 && dt != CT_DT_F64) || xt->rank < 1) return CT_ERR_UNSUPPORTED;
  if (ct_norm_dim(ct_node_attr_int(n, "dim", -1), xt->rank) != xt->rank - 1) return CT_ERR_UNSUPPORTED;
  bool logv = n->op == CT_OP_LOG_SOFTMAX;
  LLVMTypeRef ft = cg_elem_type(c, dt);
  LLVMValueRef d = cg_dim(c, xt->dims[xt->rank - 1]);
  LLVMValueRef rows = cg_i64(c, 1);
  for (int i = 0; i + 1 < xt->rank; i++) rows = LLVMBuildMul(c->b, rows, cg_dim(c, xt->dims[i]), "");
  LLVMValueRef xp = cg_value_ptr(c, ct_node_operand(n, 0)), yp = cg_value_ptr(c, n->results[0]);
  LLVMValueRef grain = LLVMBuildSDiv(c->b, cg_i64(c, 4096), LLVMBuildAdd(c->b, d, cg_i64(c, 1), ""), "");
  grain = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, grain, cg_i64(c, 1), ""), cg_i64(c, 1), grain, "");
  cg_kernel k;
  cg_kernel_begin(c, &k, logv ? "log_softmax" : "softmax");
  xp = cg_kernel_capture(c, &k, xp);
  yp = cg_kernel_capture(c, &k, yp);
  d = cg_kernel_capture(c, &k, d);
  LLVMValueRef mx = cg_entry_alloca(c, ft, "acc", 0), sum = cg_entry_alloca(c, ft, "acc", 0);
  cg_loop lr, l1, l2, l3;
  LLVMValueRef r = cg_loop_begin(c, &lr, k.begin, k.end, "row");
  LLVMValueRef base = LLVMBuildNSWMul(c->b, r, d, "");
  LLVMBuildStore(c->b, LLVMConstReal(ft, -__builtin_inf()), mx);
  LLVMValueRef i = cg_loop_begin(c, &l1, cg_i64(c, 0), d, "i");
  LLVMValueRef v = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, xp, LLVMBuildNSWAdd(c->b, base, i, "")), "");
  LLVMValueRef m = LLVMBuildLoad2(c->b, ft, mx, "");
  /* v > m or v is NaN (UGT: unordered or greater; m is never NaN before v is). */
  LLVMValueRef take = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, m, ""),
                                  LLVMBuildFCmp(c->b, LLVMRealUNO, v, v, ""), "");
  LLVMValueRef keep_nan = LLVMBuildFCmp(c->b, LLVMRealUNO, m, m, "");
  LLVMBuildStore(c->b, LLVMBuildSelect(c->b, LLVMBuildAnd(c->b, take, LLVMBuildNot(c->b, keep_nan, ""), ""), v, m, ""), mx);
  cg_loop_end(c, &l1);
  m = LLVMBuildLoad2(c->b, ft, mx, "max");
  LLVMValueRef all_ninf = LLVMBuildFCmp(c->b, LLVMRealOEQ, m, LLVMConstReal(ft, -__builtin_inf()), "");
  m = LLVMBuildSelect(c->b, all_ninf, LLVMConstReal(ft, 0.0), m, "");
  LLVMBuildStore(c->b, LLVMConstReal(ft, 0.0), sum);
  i = cg_loop_begin(c, &l2, cg_i64(c, 0), d, "i");
  v = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, xp, LLVMBuildNSWAdd(c->b, base, i, "")), "");
  LLVMValueRef e = cg_exp(c, ft, LLVMBuildFSub(c->b, v, m, ""));
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, ft, sum, ""), e, ""), sum);
  cg_loop_end(c, &l2);
  LLVMValueRef s = LLVMBuildLoad2(c->b, ft, sum, "sum");
  LLVMValueRef lse = call_intrinsic(c, "llvm.log", ft, s);
  LLVMValueRef inv = LLVMBuildFDiv(c->b, LLVMConstReal(ft, 1.0), s, "");
  i = cg_loop_begin(c, &l3, cg_i64(c, 0), d, "i");
  LLVMValueRef at = LLVMBuildNSWAdd(c->b, base, i, "");
  v = LLVMBuildFSub(c->b, LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, xp, at), ""), m, "");
  LLVMValueRef out = logv ? LLVMBuildFSub(c->b, v, lse, "")
                          : LLVMBuildFMul(c->b, cg_exp(c, ft, v), inv, "");
  LLVMBuildStore(c->b, out, cg_gep(c, ft, yp, at));
  cg_loop_end(c, &l3);
  cg_loop_end(c, &lr);
  cg_kernel_end(c, &k, rows, grain);
  return CT_OK;
}
