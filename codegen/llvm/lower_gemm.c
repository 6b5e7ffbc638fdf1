/* codegen/llvm/lower_gemm.c: linear and matmul as OpenBLAS calls (cblas_sgemm for f32,
 * cblas_dgemm for f64). linear is one GEMM against the transposed weight followed by a
 * vectorizable bias pass over the output rows; matmul is one GEMM, or one per batch entry when
 * both operands carry the same batch dims. Other shapes (vectors, broadcast batches) fall back. */
#include <cblas.h>
#include <string.h>

#include "cg_internal.h"

static LLVMTypeRef blas_int(cg *c) { return sizeof(blasint) == 8 ? c->t_i64 : c->t_i32; }

/* C[M,N] = A[M,K] * op(B) with op(B) = B[K,N] (trans_b false) or B[N,K]^T; beta 0. */
static void emit_gemm(cg *c, ct_dtype dt, LLVMValueRef a, LLVMValueRef b, LLVMValueRef out,
                      LLVMValueRef m, LLVMValueRef n, LLVMValueRef k, bool trans_b) {
  LLVMTypeRef bi = blas_int(c), ft = dt == CT_DT_F32 ? c->t_f32 : c->t_f64;
  LLVMTypeRef fp = LLVMPointerType(ft, 0);
  LLVMTypeRef args_t[] = {c->t_i32, c->t_i32, c->t_i32, bi, bi, bi, ft, fp, bi, fp, bi, ft, fp, bi};
  LLVMValueRef fn = cg_extern(c, dt == CT_DT_F32 ? "cblas_sgemm" : "cblas_dgemm",
                              LLVMFunctionType(c->t_void, args_t, 14, 0));
  /* M == 0 (an empty batch) is skipped: BLAS wants lda >= 1 and there is nothing to do. */
  LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "gemm");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "gemm.done");
  LLVMValueRef empty = LLVMBuildICmp(c->b, LLVMIntSLE, m, cg_i64(c, 0), "");
  LLVMBuildCondBr(c->b, empty, done, run);
  LLVMPositionBuilderAtEnd(c->b, run);
  LLVMValueRef mi = LLVMBuildTrunc(c->b, m, bi, ""), ni = LLVMBuildTrunc(c->b, n, bi, ""),
               ki = LLVMBuildTrunc(c->b, k, bi, "");
  if (bi == c->t_i64) mi = m, ni = n, ki = k;
  LLVMValueRef args[] = {cg_i32(c, CblasRowMajor),
                         cg_i32(c, CblasNoTrans),
                         cg_i32(c, trans_b ? CblasTrans : CblasNoTrans),
                         mi,
                         ni,
                         ki,
                         LLVMConstReal(ft, 1.0),
                         LLVMBuildBitCast(c->b, a, fp, ""),
                         ki,
                         LLVMBuildBitCast(c->b, b, fp, ""),
                         trans_b ? ki : ni,
                         LLVMConstReal(ft, 0.0),
                         LLVMBuildBitCast(c->b, out, fp, ""),
                         ni};
  cg_call(c, fn, args, 14, "");
  LLVMBuildBr(c->b, done);
  LLVMPositionBuilderAtEnd(c->b, done);
}

/* y[i, j] += bias[j] over rows x cols. */
static void emit_bias(cg *c, ct_dtype dt, LLVMValueRef y, LLVMValueRef bias, LLVMValueRef rows,
                      LLVMValueRef cols) {
  LLVMTypeRef ft = cg_elem_type(c, dt);
  cg_loop li, lj;
  LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), rows, "row");
  LLVMValueRef base = LLVMBuildNSWMul(c->b, i, cols, "");
  LLVMValueRef j = cg_loop_begin(c, &lj, cg_i64(c, 0), cols, "col");
  LLVMValueRef yp = cg_gep(c, ft, y, LLVMBuildNSWAdd(c->b, base, j, ""));
  LLVMValueRef bv = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, bias, j), "");
  LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, ft, yp, ""), bv, ""), yp);
  cg_loop_end(c, &lj);
  cg_loop_end(c, &li);
}

static bool gemm_dtype(const ct_node *n) {
  ct_dtype dt = n->results[0]->type.dtype;
  if (dt != CT_DT_F32 && dt != CT_DT_F64) return false;
  for (int i = 0; i < n->n_operands; i++)
    if (ct_node_operand(n, i)->type.dtype != dt) return false;
  return true;
}

ct_status cg_lower_linear(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  if (!gemm_dtype(n)) return CT_ERR_UNSUPPORTED;
  const ct_value *x = ct_node_operand(n, 0), *w = ct_node_operand(n, 1);
  const ct_value *y = n->results[0];
  if (x->type.rank < 1 || w->type.rank != 2) return CT_ERR_UNSUPPORTED;
  ct_dtype dt = y->type.dtype;
  LLVMValueRef k = cg_dim(c, w->type.dims[1]), o = cg_dim(c, w->type.dims[0]);
  LLVMValueRef m = cg_i64(c, 1);
  for (int i = 0; i + 1 < x->type.rank; i++) m = LLVMBuildMul(c->b, m, cg_dim(c, x->type.dims[i]), "");
  LLVMValueRef yp = cg_value_ptr(c, y), xp = cg_value_ptr(c, x), wp = cg_value_ptr(c, w);
  emit_gemm(c, dt, xp, wp, yp, m, o, k, true);
  if (n->n_operands == 3) emit_bias(c, dt, yp, cg_value_ptr(c, ct_node_operand(n, 2)), m, o);
  return CT_OK;
}

ct_status cg_lower_matmul(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  if (!gemm_dtype(n)) return CT_ERR_UNSUPPORTED;
  const ct_type *a = &ct_node_operand(n, 0)->type, *b = &ct_node_operand(n, 1)->type;
  if (a->rank < 2 || b->rank < 2) return CT_ERR_UNSUPPORTED;
  ct_dtype dt = n->results[0]->type.dtype;
  LLVMValueRef ap = cg_value_ptr(c, ct_node_operand(n, 0)), bp = cg_value_ptr(c, ct_node_operand(n, 1));
  LLVMValueRef yp = cg_value_ptr(c, n->results[0]);
  LLVMValueRef m = cg_dim(c, a->dims[a->rank - 2]), k = cg_dim(c, a->dims[a->rank - 1]);
  LLVMValueRef nn = cg_dim(c, b->dims[b->rank - 1]);
  if (b->rank == 2) {
    /* a's batch dims fold into its rows. */
    for (int i = 0; i + 2 < a->rank; i++) m = LLVMBuildMul(c->b, m, cg_dim(c, a->dims[i]), "");
    emit_gemm(c, dt, ap, bp, yp, m, nn, k, false);
    return CT_OK;
  }
  if (a->rank != b->rank) return CT_ERR_UNSUPPORTED;
  for (int i = 0; i + 2 < a->rank; i++)
    if (!ct_dim_eq(a->dims[i], b->dims[i])) return CT_ERR_UNSUPPORTED;
  LLVMValueRef batch = cg_i64(c, 1);
  for (int i = 0; i + 2 < a->rank; i++) batch = LLVMBuildMul(c->b, batch, cg_dim(c, a->dims[i]), "");
  LLVMValueRef es = cg_i64(c, (int64_t)ct_dtype_size(dt));
  LLVMValueRef sa = LLVMBuildMul(c->b, LLVMBuildMul(c->b, m, k, ""), es, "");
  LLVMValueRef sb = LLVMBuildMul(c->b, LLVMBuildMul(c->b, k, nn, ""), es, "");
  LLVMValueRef sy = LLVMBuildMul(c->b, LLVMBuildMul(c->b, m, nn, ""), es, "");
  cg_loop l;
  LLVMValueRef i = cg_loop_begin(c, &l, cg_i64(c, 0), batch, "batch");
  LLVMValueRef oa = LLVMBuildMul(c->b, i, sa, ""), ob = LLVMBuildMul(c->b, i, sb, ""),
               oy = LLVMBuildMul(c->b, i, sy, "");
  emit_gemm(c, dt, LLVMBuildInBoundsGEP2(c->b, c->t_i8, ap, &oa, 1, ""),
            LLVMBuildInBoundsGEP2(c->b, c->t_i8, bp, &ob, 1, ""),
            LLVMBuildInBoundsGEP2(c->b, c->t_i8, yp, &oy, 1, ""), m, nn, k, false);
  cg_loop_end(c, &l);
  return CT_OK;
}
