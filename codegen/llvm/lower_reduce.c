/* codegen/llvm/lower_reduce.c: sum, mean, amax and amin over f32/f64. The input's dims collapse
 * into kept (K) and reduced (R) groups; [R], [K,R], [R,K], [K,R,K] and [R,K,R] lower natively, split
 * over the thread pool by the outer kept group. A trailing reduced group accumulates in eight
 * f64 lanes (<8 x double>: vector-friendly, and as accurate as the runtime's double
 * accumulation); a reduced group followed by kept dims accumulates whole rows, which is an
 * elementwise loop the vectorizer widens. Other patterns and dtypes fall back. */
#include <string.h>

#include "cg_internal.h"

typedef enum red_kind { RED_SUM, RED_MEAN, RED_MAX, RED_MIN } red_kind;

/* acc op v, with amax/amin's NaN rule (either NaN gives NaN: acc + v carries it). Works on
 * scalars and vectors alike. */
static LLVMValueRef combine(cg *c, red_kind k, LLVMValueRef acc, LLVMValueRef v) {
  if (k == RED_SUM || k == RED_MEAN) return LLVMBuildFAdd(c->b, acc, v, "");
  LLVMValueRef better = LLVMBuildFCmp(c->b, k == RED_MAX ? LLVMRealOGT : LLVMRealOLT, v, acc, "");
  LLVMValueRef pick = LLVMBuildSelect(c->b, better, v, acc, "");
  return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, acc, v, ""), LLVMBuildFAdd(c->b, acc, v, ""), pick, "");
}

static double init_value(red_kind k) {
  return k == RED_MAX ? -__builtin_inf() : k == RED_MIN ? __builtin_inf() : 0.0;
}

enum { LANES = 8 };

/* y[k] = reduce_{r0, r} x[(r0*K + k)*R + r] for k in the kernel's range: rows of R reduce in
 * eight f64 lanes plus a scalar tail, over r0 < R0 ([K,R] has R0 = 1; [R0,K,R] is, e.g., a
 * conv bias gradient over N, H, W). */
static void row_reduce(cg *c, cg_kernel *k, red_kind kind, ct_dtype dt, LLVMValueRef x,
                       LLVMValueRef y, LLVMValueRef r, LLVMValueRef r0, LLVMValueRef kk) {
  LLVMTypeRef et = cg_elem_type(c, dt), dtp = c->t_f64;
  LLVMTypeRef vin = LLVMVectorType(et, LANES), vacc = LLVMVectorType(dtp, LANES);
  LLVMValueRef vslot = cg_entry_alloca(c, vacc, "acc", 64);
  LLVMValueRef sslot = cg_entry_alloca(c, dtp, "acc", 64);
  LLVMValueRef init_lanes[LANES];
  for (int i = 0; i < LANES; i++) init_lanes[i] = LLVMConstReal(dtp, init_value(kind));
  LLVMValueRef vinit = LLVMConstVector(init_lanes, LANES);
  cg_loop lk, lo, lv, lt;
  LLVMValueRef row = cg_loop_begin(c, &lk, k->begin, k->end, "row");
  LLVMBuildStore(c->b, vinit, vslot);
  LLVMBuildStore(c->b, LLVMConstReal(dtp, init_value(kind)), sslot);
  LLVMValueRef nvec = LLVMBuildUDiv(c->b, r, cg_i64(c, LANES), "");
  LLVMValueRef o = cg_loop_begin(c, &lo, cg_i64(c, 0), r0, "r0");
  LLVMValueRef base = LLVMBuildNSWMul(c->b, LLVMBuildNSWAdd(c->b, LLVMBuildNSWMul(c->b, o, kk, ""), row, ""), r, "");
  LLVMValueRef v = cg_loop_begin(c, &lv, cg_i64(c, 0), nvec, "vec");
  LLVMValueRef at = LLVMBuildNSWAdd(c->b, base, LLVMBuildNSWMul(c->b, v, cg_i64(c, LANES), ""), "");
  LLVMValueRef vp = LLVMBuildBitCast(c->b, cg_gep(c, et, x, at), LLVMPointerType(vin, 0), "");
  LLVMValueRef xv = LLVMBuildLoad2(c->b, vin, vp, "");
  LLVMSetAlignment(xv, (unsigned)ct_dtype_size(dt));
  if (dt == CT_DT_F32) xv = LLVMBuildFPExt(c->b, xv, vacc, "");
  LLVMBuildStore(c->b, combine(c, kind, LLVMBuildLoad2(c->b, vacc, vslot, ""), xv), vslot);
  cg_loop_end(c, &lv);
  LLVMValueRef t = cg_loop_begin(c, &lt, LLVMBuildNSWMul(c->b, nvec, cg_i64(c, LANES), ""), r, "tail");
  LLVMValueRef xs = LLVMBuildLoad2(c->b, et, cg_gep(c, et, x, LLVMBuildNSWAdd(c->b, base, t, "")), "");
  if (dt == CT_DT_F32) xs = LLVMBuildFPExt(c->b, xs, dtp, "");
  LLVMBuildStore(c->b, combine(c, kind, LLVMBuildLoad2(c->b, dtp, sslot, ""), xs), sslot);
  cg_loop_end(c, &lt);
  cg_loop_end(c, &lo);
  LLVMValueRef acc = LLVMBuildLoad2(c->b, vacc, vslot, "");
  LLVMValueRef s = LLVMBuildLoad2(c->b, dtp, sslot, "");
  for (int i = 0; i < LANES; i++) s = combine(c, kind, s, LLVMBuildExtractElement(c->b, acc, cg_i32(c, i), ""));
  if (kind == RED_MEAN)
    s = LLVMBuildFDiv(c->b, s, LLVMBuildSIToFP(c->b, LLVMBuildMul(c->b, r, r0, ""), dtp, ""), "");
  if (dt == CT_DT_F32) s = LLVMBuildFPTrunc(c->b, s, et, "");
  LLVMBuildStore(c->b, s, cg_gep(c, et, y, row));
  cg_loop_end(c, &lk);
}

/* y[k1, k2] = reduce_r x[(k1*R + r)*K2 + k2]: whole rows of K2 accumulate at once. */
static void column_reduce(cg *c, cg_kernel *k, red_kind kind, ct_dtype dt, LLVMValueRef x,
                          LLVMValueRef y, LLVMValueRef r, LLVMValueRef k2) {
  LLVMTypeRef et = cg_elem_type(c, dt);
  cg_loop l1, li, lr, lj, lm;
  LLVMValueRef i1 = cg_loop_begin(c, &l1, k->begin, k->end, "outer");
  LLVMValueRef ybase = LLVMBuildNSWMul(c->b, i1, k2, "");
  LLVMValueRef xbase = LLVMBuildNSWMul(c->b, LLVMBuildNSWMul(c->b, i1, r, ""), k2, "");
  LLVMValueRef j = cg_loop_begin(c, &li, cg_i64(c, 0), k2, "init");
  LLVMBuildStore(c->b, LLVMConstReal(et, init_value(kind)), cg_gep(c, et, y, LLVMBuildNSWAdd(c->b, ybase, j, "")));
  cg_loop_end(c, &li);
  LLVMValueRef ri = cg_loop_begin(c, &lr, cg_i64(c, 0), r, "r");
  LLVMValueRef xrow = LLVMBuildNSWAdd(c->b, xbase, LLVMBuildNSWMul(c->b, ri, k2, ""), "");
  j = cg_loop_begin(c, &lj, cg_i64(c, 0), k2, "j");
  LLVMValueRef yp = cg_gep(c, et, y, LLVMBuildNSWAdd(c->b, ybase, j, ""));
  LLVMValueRef xv = LLVMBuildLoad2(c->b, et, cg_gep(c, et, x, LLVMBuildNSWAdd(c->b, xrow, j, "")), "");
  LLVMBuildStore(c->b, combine(c, kind, LLVMBuildLoad2(c->b, et, yp, ""), xv), yp);
  cg_loop_end(c, &lj);
  cg_loop_end(c, &lr);
  if (kind == RED_MEAN) {
    LLVMValueRef cnt = LLVMBuildSIToFP(c->b, r, et, "");
    j = cg_loop_begin(c, &lm, cg_i64(c, 0), k2, "mean");
    LLVMValueRef p = cg_gep(c, et, y, LLVMBuildNSWAdd(c->b, ybase, j, ""));
    LLVMBuildStore(c->b, LLVMBuildFDiv(c->b, LLVMBuildLoad2(c->b, et, p, ""), cnt, ""), p);
    cg_loop_end(c, &lm);
  }
  cg_loop_end(c, &l1);
}

ct_status cg_lower_reduce(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  const ct_type *xt = &ct_node_operand(n, 0)->type;
  ct_dtype dt = xt->dtype;
  if ((dt != CT_DT_F32 && dt != CT_DT_F64) || n->results[0]->type.dtype != dt) return CT_ERR_UNSUPPORTED;
  red_kind kind = n->op == CT_OP_SUM ? RED_SUM : n->op == CT_OP_MEAN ? RED_MEAN : n->op == CT_OP_AMAX ? RED_MAX : RED_MIN;
  bool mask[CT_MAX_RANK] = {false};
  const ct_attr *dims = ct_node_attr(n, "dims");
  if (!dims || dims->n == 0) {
    for (int d = 0; d < xt->rank; d++) mask[d] = true;
  } else {
    for (int i = 0; i < dims->n; i++) {
      int d = ct_norm_dim(dims->u.ints[i], xt->rank);
      if (d < 0) return CT_ERR_UNSUPPORTED;
      mask[d] = true;
    }
  }
  /* Groups of kept/reduced dims, size-1 dims dropped. */
  bool kinds[CT_MAX_RANK];
  LLVMValueRef sizes[CT_MAX_RANK];
  int ng = 0;
  for (int d = 0; d < xt->rank; d++) {
    if (!xt->dims[d].sym && xt->dims[d].off == 1) continue;
    LLVMValueRef s = cg_dim(c, xt->dims[d]);
    if (ng && kinds[ng - 1] == mask[d]) {
      sizes[ng - 1] = LLVMBuildMul(c->b, sizes[ng - 1], s, "");
    } else {
      kinds[ng] = mask[d];
      sizes[ng++] = s;
    }
  }
  LLVMValueRef k1 = cg_i64(c, 1), r = cg_i64(c, 1), k2 = NULL, r0 = cg_i64(c, 1);
  int g = 0;
  if (ng == 3 && kinds[0] && !kinds[1] && kinds[2]) {
    /* [R0, K, R]: rows of R, over r0. */
    r0 = sizes[0], k1 = sizes[1], r = sizes[2];
    g = 3;
  } else {
    if (g < ng && !kinds[g]) k1 = sizes[g++];
    if (g < ng && kinds[g]) r = sizes[g++];
    if (g < ng && !kinds[g]) k2 = sizes[g++];
  }
  if (g != ng) return CT_ERR_UNSUPPORTED; /* other interleavings of kept and reduced dims */
  LLVMValueRef x = cg_value_ptr(c, ct_node_operand(n, 0)), y = cg_value_ptr(c, n->results[0]);
  LLVMValueRef work = k2 ? LLVMBuildMul(c->b, r, k2, "") : LLVMBuildMul(c->b, r, r0, "");
  LLVMValueRef grain = LLVMBuildSDiv(c->b, cg_i64(c, 32768), LLVMBuildAdd(c->b, work, cg_i64(c, 1), ""), "");
  grain = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, grain, cg_i64(c, 1), ""), cg_i64(c, 1), grain, "");
  cg_kernel k;
  cg_kernel_begin(c, &k, ct_op_name(n->op));
  LLVMValueRef kx = cg_kernel_capture(c, &k, x), ky = cg_kernel_capture(c, &k, y);
  LLVMValueRef kr = cg_kernel_capture(c, &k, r);
  if (k2)
    column_reduce(c, &k, kind, dt, kx, ky, kr, cg_kernel_capture(c, &k, k2));
  else
    row_reduce(c, &k, kind, dt, kx, ky, kr, cg_kernel_capture(c, &k, r0), cg_kernel_capture(c, &k, k1));
  cg_kernel_end(c, &k, k1, grain);
  return CT_OK;
}
