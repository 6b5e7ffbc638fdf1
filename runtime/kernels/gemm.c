/* runtime/kernels/gemm.c: matmul (torch.matmul's 1-D promotion and broadcast batch dims) and
 * linear (x @ w^T + b), on CBLAS sgemm/dgemm over contiguous copies of the inputs. */
#include <cblas.h>
#include <string.h>

#include "kernels_internal.h"

static int is_float(ct_dtype dt) { return dt == CT_DT_F32 || dt == CT_DT_F64; }

/* C[M,N] = A[M,K] @ op(B) (+0). transb: B is [N,K]. Row-major, contiguous. */
static void gemm(ct_dtype dt, int transb, int64_t M, int64_t N, int64_t K, const void *A,
                 const void *B, void *C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    memset(C, 0, (size_t)(M * N) * ct_dtype_size(dt));
    return;
  }
  enum CBLAS_TRANSPOSE tb = transb ? CblasTrans : CblasNoTrans;
  int ldb = (int)(transb ? K : N);
  if (dt == CT_DT_F32)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)K, B, ldb,
                0.0f, C, (int)N);
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, tb, (int)M, (int)N, (int)K, 1.0, A, (int)K, B, ldb,
                0.0, C, (int)N);
}

ct_status ct_kernel_MATMUL(CT_KERNEL_ARGS) {
  (void)attrs, (void)n_attrs;
  if (n_in != 2 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "matmul: expected 2 inputs, 1 output");
  const ct_tensor *a = in[0], *b = in[1], *y = out[0];
  ct_dtype dt = a->dtype;
  if (!is_float(dt) || b->dtype != dt || y->dtype != dt)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "matmul: operands must share f32/f64");
  if (a->rank < 1 || b->rank < 1)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "matmul: 0-d operand");
  int ra = a->rank, rb = b->rank;
  int64_t M = ra == 1 ? 1 : a->shape[ra - 2], K = a->shape[ra - 1];
  int64_t Kb = rb == 1 ? b->shape[0] : b->shape[rb - 2], N = rb == 1 ? 1 : b->shape[rb - 1];
  if (K != Kb)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "matmul: inner dims differ (%lld vs %lld)", (long long)K,
                          (long long)Kb);
  int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
  int nb = ba > bb ? ba : bb;
  int64_t bshape[CT_MAX_RANK], sa[CT_MAX_RANK], sb[CT_MAX_RANK];
  int64_t nbatch = 1;
  for (int i = 0; i < nb; i++) {
    int ia = i - (nb - ba), ib = i - (nb - bb);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "matmul: batch dims do not broadcast");
    bshape[i] = da == 1 ? db : da;
    nbatch *= bshape[i];
  }
  /* batch strides (in matrices) of the contiguous copies; 0 on broadcast dims */
  int64_t acc_a = 1, acc_b = 1;
  for (int i = nb - 1; i >= 0; i--) {
    int ia = i - (nb - ba), ib = i - (nb - bb);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    sa[i] = da == 1 ? 0 : acc_a;
    sb[i] = db == 1 ? 0 : acc_b;
    acc_a *= da;
    acc_b *= db;
  }
  int64_t yshape[CT_MAX_RANK];
  int ry = 0;
  for (int i = 0; i < nb; i++) yshape[ry++] = bshape[i];
  if (ra > 1) yshape[ry++] = M;
  if (rb > 1) yshape[ry++] = N;
  if (ry > CT_MAX_RANK || !ct_shape_is(y, ry, yshape) || !ct_tensor_is_contiguous(y))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "matmul: output has the wrong shape");
  ct_tensor *ac = ct_tensor_contiguous(in[0]);
  ct_tensor *bc = ct_tensor_contiguous(in[1]);
  if (!ac || !bc) {
    ct_tensor_release(ac);
    ct_tensor_release(bc);
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "matmul: out of memory");
  }
  size_t es = ct_dtype_size(dt);
  const char *pa = ct_tensor_data(ac), *pb = ct_tensor_data(bc);
  char *py = ct_tensor_data(y);
  int64_t idx[CT_MAX_RANK] = {0};
  for (int64_t t = 0; t < nbatch; t++) {
    int64_t oa = 0, ob = 0;
    for (int i = 0; i < nb; i++) {
      oa += idx[i] * sa[i];
      ob += idx[i] * sb[i];
    }
    gemm(dt, 0, M, N, K, pa + (size_t)(oa * M * K) * es, pb + (size_t)(ob * K * N) * es,
         py + (size_t)(t * M * N) * es);
    for (int i = nb - 1; i >= 0; i--) {
      if (++idx[i] < bshape[i]) break;
      idx[i] = 0;
    }
  }
  ct_tensor_release(ac);
  ct_tensor_release(bc);
  return CT_OK;
}

ct_status ct_kernel_LINEAR(CT_KERNEL_ARGS) {
  (void)attrs, (void)n_attrs;
  if (n_in < 2 || n_in > 3 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "linear: expected 2-3 inputs, 1 output");
  const ct_tensor *x = in[0], *w = in[1], *y = out[0];
  const ct_tensor *bias = n_in == 3 ? in[2] : NULL;
  ct_dtype dt = x->dtype;
  if (!is_float(dt) || w->dtype != dt || y->dtype != dt || (bias && bias->dtype != dt))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "linear: operands must share f32/f64");
  if (x->rank < 1 || w->rank != 2)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "linear: x must be [..., in], w [out, in]");
  int64_t K = x->shape[x->rank - 1], O = w->shape[0];
  if (w->shape[1] != K)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "linear: in_features differ (x %lld, w %lld)", (long long)K,
                          (long long)w->shape[1]);
  if (bias && (bias->rank != 1 || bias->shape[0] != O))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "linear: bias must be [out]");
  int64_t yshape[CT_MAX_RANK];
  int64_t M = 1;
  for (int i = 0; i < x->rank - 1; i++) {
    yshape[i] = x->shape[i];
    M *= x->shape[i];
  }
  yshape[x->rank - 1] = O;
  if (!ct_shape_is(y, x->rank, yshape) || !ct_tensor_is_contiguous(y))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "linear: output has the wrong shape");
  ct_tensor *xc = ct_tensor_contiguous(in[0]);
  ct_tensor *wc = ct_tensor_contiguous(in[1]);
  ct_tensor *bc = bias ? ct_tensor_contiguous(in[2]) : NULL;
  if (!xc || !wc || (bias && !bc)) {
    ct_tensor_release(xc);
    ct_tensor_release(wc);
    ct_tensor_release(bc);
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "linear: out of memory");
  }
  gemm(dt, 1, M, O, K, ct_tensor_data(xc), ct_tensor_data(wc), ct_tensor_data(y));
  if (bc) {
    if (dt == CT_DT_F32) {
      float *py = ct_tensor_data(y);
      const float *pb = ct_tensor_data(bc);
      for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < O; o++) py[m * O + o] += pb[o];
    } else {
      double *py = ct_tensor_data(y);
      const double *pb = ct_tensor_data(bc);
      for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < O; o++) py[m * O + o] += pb[o];
    }
  }
  ct_tensor_release(xc);
  ct_tensor_release(wc);
  ct_tensor_release(bc);
  return CT_OK;
}
