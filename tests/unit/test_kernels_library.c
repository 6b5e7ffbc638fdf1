/* tests/unit/test_kernels_library.c: the library ops' CPU kernels (matmul, linear, conv2d and its
 * gradients, pooling, batch/layer norm, embedding) against naive loops written here. */
#include <stdint.h>
#include <stdlib.h>

#include "ctorch/kernels.h"
#include "ctorch/tensor.h"
#include "ops.h"
#include "testlib.h"

/* Deterministic pseudo-random values in [-1, 1). */
static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static ct_tensor *rand_tensor(ct_dtype dt, int rank, const int64_t *shape) {
  ct_tensor *t = ct_tensor_empty(dt, rank, shape);
  int64_t n = ct_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) ct_tensor_set(t, i, urand());
  return t;
}

/* A transposed (non-contiguous) view of a fresh [b,a] tensor, shaped [a,b]; same values as
 * rand_tensor would give in its own order is not needed: only the values read through it. */
static ct_tensor *rand_strided_2d(ct_dtype dt, int64_t a, int64_t b) {
  int64_t sh[2] = {b, a};
  ct_tensor *base = rand_tensor(dt, 2, sh);
  int64_t vs[2] = {a, b}, st[2] = {1, a};
  ct_tensor *v = ct_tensor_view(base, 2, vs, st, 0);
  ct_tensor_release(base);
  return v;
}

static double at(const ct_tensor *t, int64_t i) { return ct_tensor_get(t, i); }

static void check_close_all(const ct_tensor *got, const double *ref, int64_t n, double tol) {
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 5; i++) {
    double g = ct_tensor_get(got, i);
    if (!(fabs(g - ref[i]) <= tol + tol * fabs(ref[i]))) {
      test_fail(__FILE__, __LINE__, "element %lld: %.9g vs %.9g", (long long)i, g, ref[i]);
      bad++;
    }
  }
  test_checks++;
}

static double tol_of(ct_dtype dt) { return dt == CT_DT_F32 ? 1e-4 : 1e-10; }

static ct_status run1(int op, const ct_attr *attrs, int n_attrs, ct_tensor *const *in, int n_in,
                      ct_tensor *y) {
  char err[256] = "";
  ct_tensor *outs[1] = {y};
  return ct_kernel_run(op, attrs, n_attrs, in, n_in, outs, 1, err, sizeof err);
}

/* ---- matmul / linear ---- */

static void matmul_case(ct_dtype dt, int ra, const int64_t *sa, int rb, const int64_t *sb,
                        int ry, const int64_t *sy, int strided_a) {
  ct_tensor *a = strided_a ? rand_strided_2d(dt, sa[0], sa[1]) : rand_tensor(dt, ra, sa);
  ct_tensor *b = rand_tensor(dt, rb, sb);
  ct_tensor *y = ct_tensor_empty(dt, ry, sy);
  ct_tensor *in[2] = {a, b};
  CHECK_OK(run1(CT_OP_MATMUL, NULL, 0, in, 2, y));
  /* reference: promote to [batch..., M, K] @ [batch..., K, N] */
  int64_t M = ra == 1 ? 1 : sa[ra - 2], K = sa[ra - 1], N = rb == 1 ? 1 : sb[rb - 1];
  int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0, nb = ba > bb ? ba : bb;
  int64_t nbatch = 1, bs[CT_MAX_RANK];
  for (int i = 0; i < nb; i++) {
    int ia = i - (nb - ba), ib = i - (nb - bb);
    int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
    bs[i] = da > db ? da : db;
    nbatch *= bs[i];
  }
  double *ref = calloc((size_t)(nbatch * M * N) + 1, sizeof(double));
  for (int64_t t = 0; t < nbatch; t++) {
    int64_t rem = t, offa = 0, offb = 0, mula = 1, mulb = 1;
    for (int i = nb - 1; i >= 0; i--) {
      int64_t ix = rem % bs[i];
      rem /= bs[i];
      int ia = i - (nb - ba), ib = i - (nb - bb);
      int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
      offa += (da == 1 ? 0 : ix) * mula;
      offb += (db == 1 ? 0 : ix) * mulb;
      mula *= da;
      mulb *= db;
    }
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++)
          s += at(a, offa * M * K + m * K + k) * at(b, offb * K * N + k * N + n);
        ref[t * M * N + m * N + n] = s;
      }
  }
  check_close_all(y, ref, nbatch * M * N, tol_of(dt));
  free(ref);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(y);
}

static void test_matmul(void) {
  for (int d = 0; d < 2; d++) {
    ct_dtype dt = d ? CT_DT_F64 : CT_DT_F32;
    int64_t a[2] = {5, 7}, b[2] = {7, 3}, y[2] = {5, 3};
    matmul_case(dt, 2, a, 2, b, 2, y, 0);
    matmul_case(dt, 2, a, 2, b, 2, y, 1); /* strided a */
    int64_t a3[3] = {2, 4, 3}, b4[4] = {3, 1, 3, 5}, y4[4] = {3, 2, 4, 5};
    matmul_case(dt, 3, a3, 4, b4, 4, y4, 0);
    int64_t a1[1] = {7}, y1[1] = {3};
    matmul_case(dt, 1, a1, 2, b, 1, y1, 0);
    int64_t b1[1] = {7}, y5[1] = {5};
    matmul_case(dt, 2, a, 1, b1, 1, y5, 0);
    matmul_case(dt, 1, a1, 1, b1, 0, NULL, 0);
  }
  /* errors */
  int64_t a[2] = {2, 3}, b[2] = {4, 2}, y[2] = {2, 2};
  ct_tensor *ta = ct_tensor_zeros(CT_DT_F32, 2, a), *tb = ct_tensor_zeros(CT_DT_F32, 2, b);
  ct_tensor *ty = ct_tensor_zeros(CT_DT_F32, 2, y);
  ct_tensor *in[2] = {ta, tb};
  CHECK_EQ_INT(run1(CT_OP_MATMUL, NULL, 0, in, 2, ty), CT_ERR_SHAPE);
  ct_tensor_release(ta);
  ct_tensor_release(tb);
  ct_tensor_release(ty);
}

static void linear_case(ct_dtype dt, int with_bias) {
  int64_t xs[3] = {2, 3, 4}, bs[1] = {5}, ys[3] = {2, 3, 5};
  ct_tensor *x = rand_tensor(dt, 3, xs), *b = rand_tensor(dt, 1, bs);
  ct_tensor *w = rand_strided_2d(dt, 5, 4);
  ct_tensor *y = ct_tensor_empty(dt, 3, ys);
  ct_tensor *in[3] = {x, w, b};
  CHECK_OK(run1(CT_OP_LINEAR, NULL, 0, in, with_bias ? 3 : 2, y));
  double ref[30];
  for (int m = 0; m < 6; m++)
    for (int o = 0; o < 5; o++) {
      double s = with_bias ? at(b, o) : 0;
      for (int k = 0; k < 4; k++) s += at(x, m * 4 + k) * at(w, o * 4 + k);
      ref[m * 5 + o] = s;
    }
  check_close_all(y, ref, 30, tol_of(dt));
  /* bad bias shape */
  int64_t bad[1] = {4};
  ct_tensor *bb = ct_tensor_zeros(dt, 1, bad);
  in[2] = bb;
  CHECK_EQ_INT(run1(CT_OP_LINEAR, NULL, 0, in, 3, y), CT_ERR_SHAPE);
  ct_tensor_release(bb);
  ct_tensor_release(x);
  ct_tensor_release(w);
  ct_tensor_release(b);
  ct_tensor_release(y);
}

static void test_linear(void) {
  linear_case(CT_DT_F32, 0);
  linear_case(CT_DT_F32, 1);
  linear_case(CT_DT_F64, 0);
  linear_case(CT_DT_F64, 1);
}

/* ---- conv2d ---- */

typedef struct conv_case {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, G;
} conv_case;

static void conv_case_run(ct_dtype dt, conv_case k, int with_bias) {
  int64_t Cg = k.C / k.G, Og = k.O / k.G;
  int64_t Ho = (k.H + 2 * k.ph - k.dh * (k.kh - 1) - 1) / k.sh + 1;
  int64_t Wo = (k.W + 2 * k.pw - k.dw * (k.kw - 1) - 1) / k.sw + 1;
  int64_t xs[4] = {k.N, k.C, k.H, k.W}, ws[4] = {k.O, Cg, k.kh, k.kw}, bs[1] = {k.O};
  int64_t ys[4] = {k.N, k.O, Ho, Wo};
  ct_tensor *x = rand_tensor(dt, 4, xs), *w = rand_tensor(dt, 4, ws), *b = rand_tensor(dt, 1, bs);
  ct_tensor *gy = rand_tensor(dt, 4, ys);
  ct_tensor *y = ct_tensor_empty(dt, 4, ys), *gx = ct_tensor_empty(dt, 4, xs);
  ct_tensor *gw = ct_tensor_empty(dt, 4, ws);
  int64_t stride[2] = {k.sh, k.sw}, pad[2] = {k.ph, k.pw}, dil[2] = {k.dh, k.dw};
  ct_dim xd[4], wd[4];
  for (int i = 0; i < 4; i++) xd[i] = ct_dim_const(xs[i]), wd[i] = ct_dim_const(ws[i]);
  ct_attr at5[6] = {ct_attr_ints("stride", 2, stride), ct_attr_ints("padding", 2, pad),
                    ct_attr_ints("dilation", 2, dil), ct_attr_int("groups", k.G),
                    ct_attr_dims("input_shape", 4, xd)};
  ct_tensor *in[3] = {x, w, b};
  CHECK_OK(run1(CT_OP_CONV2D, at5, 4, in, with_bias ? 3 : 2, y));
  ct_tensor *gin[2] = {gy, w};
  CHECK_OK(run1(CT_OP_CONV2D_GRAD_INPUT, at5, 5, gin, 2, gx));
  at5[4] = ct_attr_dims("weight_shape", 4, wd);
  ct_tensor *gwin[2] = {gy, x};
  CHECK_OK(run1(CT_OP_CONV2D_GRAD_WEIGHT, at5, 5, gwin, 2, gw));
  int64_t ny = k.N * k.O * Ho * Wo, nx = k.N * k.C * k.H * k.W, nw = k.O * Cg * k.kh * k.kw;
  double *ry = calloc((size_t)ny, sizeof(double)), *rx = calloc((size_t)nx, sizeof(double));
  double *rw = calloc((size_t)nw, sizeof(double));
  for (int64_t n = 0; n < k.N; n++)
    for (int64_t o = 0; o < k.O; o++)
      for (int64_t oh = 0; oh < Ho; oh++)
        for (int64_t ow = 0; ow < Wo; ow++) {
          int64_t yi = ((n * k.O + o) * Ho + oh) * Wo + ow;
          double s = with_bias ? ct_tensor_get(b, o) : 0.0, g = ct_tensor_get(gy, yi);
          int64_t grp = o / Og;
          for (int64_t c = 0; c < Cg; c++)
            for (int64_t i = 0; i < k.kh; i++)
              for (int64_t j = 0; j < k.kw; j++) {
                int64_t ih = oh * k.sh - k.ph + i * k.dh, iw = ow * k.sw - k.pw + j * k.dw;
                if (ih < 0 || ih >= k.H || iw < 0 || iw >= k.W) continue;
                int64_t xi = ((n * k.C + grp * Cg + c) * k.H + ih) * k.W + iw;
                int64_t wi = ((o * Cg + c) * k.kh + i) * k.kw + j;
                s += ct_tensor_get(x, xi) * ct_tensor_get(w, wi);
                rx[xi] += g * ct_tensor_get(w, wi);
                rw[wi] += g * ct_tensor_get(x, xi);
              }
          ry[yi] = s;
        }
  check_close_all(y, ry, ny, tol_of(dt));
  check_close_all(gx, rx, nx, tol_of(dt));
  check_close_all(gw, rw, nw, tol_of(dt));
  free(ry);
  free(rx);
  free(rw);
  ct_tensor_release(x);
  ct_tensor_release(w);
  ct_tensor_release(b);
  ct_tensor_release(gy);
  ct_tensor_release(y);
  ct_tensor_release(gx);
  ct_tensor_release(gw);
}

static void test_conv2d(void) {
  conv_case plain = {2, 3, 6, 5, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  conv_case fancy = {2, 4, 9, 8, 6, 3, 2, 2, 1, 1, 2, 2, 1, 2};
  conv_case all2 = {1, 4, 11, 10, 4, 3, 3, 2, 2, 1, 1, 2, 2, 2};
  for (int d = 0; d < 2; d++) {
    ct_dtype dt = d ? CT_DT_F64 : CT_DT_F32;
    conv_case_run(dt, plain, 0);
    conv_case_run(dt, plain, 1);
    conv_case_run(dt, fancy, 1);
    conv_case_run(dt, all2, 1);
    conv_case_run(dt, all2, 0);
  }
  /* errors: channel mismatch, wrong output shape */
  int64_t xs[4] = {1, 3, 5, 5}, ws[4] = {2, 2, 3, 3}, ys[4] = {1, 2, 3, 3};
  ct_tensor *x = ct_tensor_zeros(CT_DT_F32, 4, xs), *w = ct_tensor_zeros(CT_DT_F32, 4, ws);
  ct_tensor *y = ct_tensor_zeros(CT_DT_F32, 4, ys);
  ct_tensor *in[2] = {x, w};
  CHECK_EQ_INT(run1(CT_OP_CONV2D, NULL, 0, in, 2, y), CT_ERR_SHAPE);
  ct_tensor_release(x);
  xs[1] = 2;
  x = ct_tensor_zeros(CT_DT_F32, 4, xs);
  in[0] = x;
  CHECK_OK(run1(CT_OP_CONV2D, NULL, 0, in, 2, y));
  int64_t stride[2] = {2, 2};
  ct_attr a[1] = {ct_attr_ints("stride", 2, stride)};
  CHECK_EQ_INT(run1(CT_OP_CONV2D, a, 1, in, 2, y), CT_ERR_SHAPE);
  ct_tensor_release(x);
  ct_tensor_release(w);
  ct_tensor_release(y);
}

/* ---- pooling ---- */

typedef struct pool_case {
  int rank;
  int64_t shape[4];
  int64_t k, s, p, d;
  int ceil_mode, cip;
  int64_t Ho, Wo; /* expected output size, worked out by hand */
} pool_case;

static void pool_case_run(ct_dtype dt, pool_case c, int is_max, int constant) {
  int r = c.rank;
  int64_t H = c.shape[r - 2], W = c.shape[r - 1], planes = 1;
  for (int i = 0; i < r - 2; i++) planes *= c.shape[i];
  int64_t ys[4];
  memcpy(ys, c.shape, sizeof ys);
  ys[r - 2] = c.Ho, ys[r - 1] = c.Wo;
  ct_tensor *x = rand_tensor(dt, r, c.shape);
  if (constant)
    for (int64_t i = 0; i < planes * H * W; i++) ct_tensor_set(x, i, 0.5);
  ct_tensor *gy = rand_tensor(dt, r, ys), *y = ct_tensor_empty(dt, r, ys);
  ct_tensor *gx = ct_tensor_empty(dt, r, c.shape);
  int64_t k[2] = {c.k, c.k}, st[2] = {c.s, c.s}, pd[2] = {c.p, c.p}, dl[2] = {c.d, c.d};
  ct_attr a[6] = {ct_attr_ints("kernel_size", 2, k), ct_attr_ints("stride", 2, st),
                  ct_attr_ints("padding", 2, pd), ct_attr_bool("ceil_mode", c.ceil_mode),
                  is_max ? ct_attr_ints("dilation", 2, dl) : ct_attr_bool("count_include_pad", c.cip)};
  ct_tensor *in1[1] = {x}, *in2[2] = {gy, x};
  CHECK_OK(run1(is_max ? CT_OP_MAX_POOL2D : CT_OP_AVG_POOL2D, a, 5, in1, 1, y));
  CHECK_OK(run1(is_max ? CT_OP_MAX_POOL2D_GRAD : CT_OP_AVG_POOL2D_GRAD, a, 5, in2, 2, gx));
  int64_t ny = planes * c.Ho * c.Wo, nx = planes * H * W;
  double *ry = calloc((size_t)ny, sizeof(double)), *rx = calloc((size_t)nx, sizeof(double));
  for (int64_t pl = 0; pl < planes; pl++)
    for (int64_t oh = 0; oh < c.Ho; oh++)
      for (int64_t ow = 0; ow < c.Wo; ow++) {
        int64_t o = (pl * c.Ho + oh) * c.Wo + ow;
        double g = ct_tensor_get(gy, o);
        if (is_max) {
          double best = -INFINITY;
          int64_t arg = -1;
          for (int64_t i = 0; i < c.k; i++)
            for (int64_t j = 0; j < c.k; j++) {
              int64_t ih = oh * c.s - c.p + i * c.d, iw = ow * c.s - c.p + j * c.d;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              double v = ct_tensor_get(x, (pl * H + ih) * W + iw);
              if (arg < 0 || v > best) best = v, arg = (pl * H + ih) * W + iw;
            }
          ry[o] = best;
          rx[arg] += g;
        } else {
          double sum = 0;
          int64_t cnt = 0, padded = 0;
          for (int64_t ih = oh * c.s - c.p; ih < oh * c.s - c.p + c.k; ih++)
            for (int64_t iw = ow * c.s - c.p; iw < ow * c.s - c.p + c.k; iw++) {
              if (ih >= H + c.p || iw >= W + c.p) continue; /* overhang past the padding */
              padded++;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              cnt++;
              sum += ct_tensor_get(x, (pl * H + ih) * W + iw);
            }
          int64_t div = c.cip ? padded : cnt;
          ry[o] = sum / (double)div;
          for (int64_t ih = oh * c.s - c.p; ih < oh * c.s - c.p + c.k; ih++)
            for (int64_t iw = ow * c.s - c.p; iw < ow * c.s - c.p + c.k; iw++)
              if (ih >= 0 && ih < H && iw >= 0 && iw < W) rx[(pl * H + ih) * W + iw] += g / div;
        }
      }
  check_close_all(y, ry, ny, tol_of(dt));
  check_close_all(gx, rx, nx, tol_of(dt));
  free(ry);
  free(rx);
  ct_tensor_release(x);
  ct_tensor_release(gy);
  ct_tensor_release(y);
  ct_tensor_release(gx);
}

static void test_pool(void) {
  pool_case cases[] = {
      {4, {2, 3, 7, 6}, 3, 2, 1, 1, 1, 1, 4, 4}, /* ceil_mode, no dropped window */
      {3, {3, 5, 5, 0}, 2, 2, 1, 1, 1, 1, 3, 3}, /* ceil_mode drops the last window */
      {3, {3, 5, 5, 0}, 2, 2, 1, 1, 1, 0, 3, 3},
      {4, {1, 2, 9, 8}, 3, 1, 1, 2, 0, 1, 7, 6}, /* dilation (max only) */
      {4, {2, 2, 8, 7}, 2, 2, 0, 1, 0, 1, 4, 3}, /* floor mode */
      {4, {2, 2, 7, 7}, 3, 2, 1, 1, 1, 0, 4, 4}, /* ceil_mode, count_include_pad=false */
      {4, {1, 1, 6, 6}, 3, 3, 0, 1, 1, 1, 2, 2},
      {4, {1, 2, 5, 6}, 4, 3, 2, 1, 1, 1, 3, 3}, /* ceil_mode overhang past the padding */
  };
  for (int d = 0; d < 2; d++) {
    ct_dtype dt = d ? CT_DT_F64 : CT_DT_F32;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      pool_case_run(dt, cases[i], 1, 0);
      if (cases[i].d == 1) pool_case_run(dt, cases[i], 0, 0);
    }
    pool_case_run(dt, cases[0], 1, 1); /* ties: the first maximum takes the gradient */
  }
  /* errors: wrong output shape, rank 2 input, padding over half the kernel */
  int64_t xs[4] = {1, 1, 4, 4}, ys[4] = {1, 1, 3, 3}, x2[2] = {4, 4};
  ct_tensor *x = ct_tensor_zeros(CT_DT_F32, 4, xs), *y = ct_tensor_zeros(CT_DT_F32, 4, ys);
  ct_tensor *xr2 = ct_tensor_zeros(CT_DT_F32, 2, x2);
  int64_t k[2] = {2, 2}, pbig[2] = {2, 2};
  ct_attr a[3] = {ct_attr_ints("kernel_size", 2, k), ct_attr_ints("stride", 2, k),
                  ct_attr_ints("padding", 2, pbig)};
  ct_tensor *in[1] = {x};
  CHECK_EQ_INT(run1(CT_OP_MAX_POOL2D, a, 2, in, 1, y), CT_ERR_SHAPE);
  CHECK_EQ_INT(run1(CT_OP_AVG_POOL2D, a, 2, in, 1, y), CT_ERR_SHAPE);
  CHECK(run1(CT_OP_MAX_POOL2D, a, 3, in, 1, y) != CT_OK);
  in[0] = xr2;
  CHECK_EQ_INT(run1(CT_OP_MAX_POOL2D, a, 2, in, 1, y), CT_ERR_SHAPE);
  ct_tensor_release(x);
  ct_tensor_release(y);
  ct_tensor_release(xr2);
}

/* ---- batch_norm / layer_norm ---- */

static void test_batch_norm(void) {
  for (int d = 0; d < 2; d++) {
    ct_dtype dt = d ? CT_DT_F64 : CT_DT_F32;
    int64_t xs[4] = {2, 3, 4, 5}, cs[1] = {3};
    ct_tensor *x = rand_tensor(dt, 4, xs), *w = rand_tensor(dt, 1, cs), *b = rand_tensor(dt, 1, cs);
    ct_tensor *rm = rand_tensor(dt, 1, cs), *rv = rand_tensor(dt, 1, cs);
    for (int c = 0; c < 3; c++) ct_tensor_set(rv, c, fabs(ct_tensor_get(rv, c)) + 0.1);
    ct_tensor *y = ct_tensor_empty(dt, 4, xs);
    double eps = 1e-3;
    ct_attr a[1] = {ct_attr_float("eps", eps)};
    ct_tensor *in[5] = {x, w, b, rm, rv};
    CHECK_OK(run1(CT_OP_BATCH_NORM, a, 1, in, 5, y));
    double ref[120];
    for (int i = 0; i < 120; i++) {
      int c = (i / 20) % 3;
      ref[i] = (at(x, i) - at(rm, c)) / sqrt(at(rv, c) + eps) * at(w, c) + at(b, c);
    }
    check_close_all(y, ref, 120, tol_of(dt));
    /* a 2-D input, strided */
    ct_tensor *x2 = rand_strided_2d(dt, 4, 3);
    int64_t s2[2] = {4, 3};
    ct_tensor *y2 = ct_tensor_empty(dt, 2, s2);
    in[0] = x2;
    CHECK_OK(run1(CT_OP_BATCH_NORM, a, 1, in, 5, y2));
    for (int i = 0; i < 12; i++)
      ref[i] = (at(x2, i) - at(rm, i % 3)) / sqrt(at(rv, i % 3) + eps) * at(w, i % 3) + at(b, i % 3);
    check_close_all(y2, ref, 12, tol_of(dt));
    /* bad running_var shape */
    int64_t bad[1] = {4};
    ct_tensor *rvb = ct_tensor_zeros(dt, 1, bad);
    in[0] = x, in[4] = rvb;
    CHECK_EQ_INT(run1(CT_OP_BATCH_NORM, a, 1, in, 5, y), CT_ERR_SHAPE);
    ct_tensor_release(rvb);
    ct_tensor_release(x2);
    ct_tensor_release(y2);
    ct_tensor_release(x);
    ct_tensor_release(w);
    ct_tensor_release(b);
    ct_tensor_release(rm);
    ct_tensor_release(rv);
    ct_tensor_release(y);
  }
}

static void test_layer_norm(void) {
  for (int d = 0; d < 2; d++) {
    ct_dtype dt = d ? CT_DT_F64 : CT_DT_F32;
    int64_t xs[3] = {3, 4, 5}, ns[2] = {4, 5};
    ct_tensor *x = rand_tensor(dt, 3, xs), *w = rand_tensor(dt, 2, ns), *b = rand_tensor(dt, 2, ns);
    ct_tensor *y = ct_tensor_empty(dt, 3, xs);
    for (int affine = 0; affine < 2; affine++) {
      for (int nk = 1; nk <= 2; nk++) {
        int64_t inner = nk == 2 ? 20 : 5;
        ct_tensor *wv = w, *bv = b;
        if (nk == 1) { /* weight/bias of shape [5]: views of the first row */
          int64_t s1[1] = {5}, st1[1] = {1};
          wv = ct_tensor_view(w, 1, s1, st1, 0);
          bv = ct_tensor_view(b, 1, s1, st1, 0);
        }
        ct_attr a[2] = {ct_attr_ints("normalized_shape", nk, ns + 2 - nk),
                        ct_attr_float("eps", 1e-5)};
        ct_tensor *in[3] = {x, wv, bv};
        CHECK_OK(run1(CT_OP_LAYER_NORM, a, 2, in, affine ? 3 : 1, y));
        double ref[60];
        for (int64_t r = 0; r < 60 / inner; r++) {
          double m = 0, v = 0;
          for (int64_t i = 0; i < inner; i++) m += at(x, r * inner + i);
          m /= inner;
          for (int64_t i = 0; i < inner; i++) v += pow(at(x, r * inner + i) - m, 2);
          v /= inner;
          for (int64_t i = 0; i < inner; i++) {
            double o = (at(x, r * inner + i) - m) / sqrt(v + 1e-5);
            ref[r * inner + i] = affine ? o * at(wv, i) + at(bv, i) : o;
          }
        }
        check_close_all(y, ref, 60, tol_of(dt));
        if (nk == 1) {
          ct_tensor_release(wv);
          ct_tensor_release(bv);
        }
      }
    }
    /* normalized_shape not matching x */
    int64_t badns[1] = {4};
    ct_attr a[1] = {ct_attr_ints("normalized_shape", 1, badns)};
    ct_tensor *in[1] = {x};
    CHECK_EQ_INT(run1(CT_OP_LAYER_NORM, a, 1, in, 1, y), CT_ERR_SHAPE);
    ct_tensor_release(x);
    ct_tensor_release(w);
    ct_tensor_release(b);
    ct_tensor_release(y);
  }
}

/* ---- embedding ---- */

static void test_embedding(void) {
  for (int d = 0; d < 4; d++) {
    ct_dtype dt = d & 1 ? CT_DT_F64 : CT_DT_F32, it = d & 2 ? CT_DT_I32 : CT_DT_I64;
    int64_t is[2] = {2, 3}, ws[2] = {5, 4}, ys[3] = {2, 3, 4};
    int64_t idxv[6] = {1, 4, 1, 0, 2, 1};
    ct_tensor *idx = ct_tensor_empty(it, 2, is);
    for (int i = 0; i < 6; i++) ct_tensor_set(idx, i, (double)idxv[i]);
    ct_tensor *w = rand_strided_2d(dt, 5, 4);
    ct_tensor *y = ct_tensor_empty(dt, 3, ys), *gy = rand_tensor(dt, 3, ys);
    ct_tensor *gw = ct_tensor_empty(dt, 2, ws);
    ct_attr a[2] = {ct_attr_int("padding_idx", 1), ct_attr_int("num_weights", 5)};
    ct_tensor *in[2] = {idx, w};
    CHECK_OK(run1(CT_OP_EMBEDDING, a, 1, in, 2, y));
    double ref[24], rg[20] = {0};
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 4; j++) {
        ref[i * 4 + j] = at(w, idxv[i] * 4 + j);
        if (idxv[i] != 1) rg[idxv[i] * 4 + j] += at(gy, i * 4 + j);
      }
    check_close_all(y, ref, 24, 0.0);
    ct_tensor *gin[2] = {gy, idx};
    CHECK_OK(run1(CT_OP_EMBEDDING_GRAD, a, 2, gin, 2, gw));
    check_close_all(gw, rg, 20, tol_of(dt));
    for (int j = 0; j < 4; j++) CHECK(ct_tensor_get(gw, 4 + j) == 0.0);
    /* without padding_idx, row 1 gets its three rows of gy */
    ct_attr a2[1] = {ct_attr_int("num_weights", 5)};
    CHECK_OK(run1(CT_OP_EMBEDDING_GRAD, a2, 1, gin, 2, gw));
    for (int j = 0; j < 4; j++)
      CHECK_CLOSE(ct_tensor_get(gw, 4 + j),
                  at(gy, 0 * 4 + j) + at(gy, 2 * 4 + j) + at(gy, 5 * 4 + j), tol_of(dt),
                  tol_of(dt));
    /* out-of-range indices are errors, in both directions */
    ct_tensor_set(idx, 3, 5);
    CHECK(run1(CT_OP_EMBEDDING, a, 1, in, 2, y) != CT_OK);
    CHECK(run1(CT_OP_EMBEDDING_GRAD, a, 2, gin, 2, gw) != CT_OK);
    ct_tensor_set(idx, 3, -1);
    CHECK(run1(CT_OP_EMBEDDING, a, 1, in, 2, y) != CT_OK);
    /* wrong output shape */
    ct_tensor_set(idx, 3, 0);
    CHECK_EQ_INT(run1(CT_OP_EMBEDDING, a, 1, in, 2, gw), CT_ERR_SHAPE);
    ct_tensor_release(idx);
    ct_tensor_release(w);
    ct_tensor_release(y);
    ct_tensor_release(gy);
    ct_tensor_release(gw);
  }
}

int main(void) {
  RUN_TEST(test_matmul);
  RUN_TEST(test_linear);
  RUN_TEST(test_conv2d);
  RUN_TEST(test_pool);
  RUN_TEST(test_batch_norm);
  RUN_TEST(test_layer_norm);
  RUN_TEST(test_embedding);
  return test_summary();
}
