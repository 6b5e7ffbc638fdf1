/* tests/unit/test_kernels_f32.c: the f32 fast paths of conv2d, its gradients and pooling
 * (runtime/kernels/conv.c, pool.c) and of sum/mean (reduce.c) against the f64 paths on the same
 * (f32-representable) inputs, at 1e-5 of the output's largest magnitude: odd shapes, stride,
 * padding, dilation, groups, 1x1 kernels, ceil_mode, non-contiguous inputs, ties and NaNs, size-1
 * and empty dims, on 1 and 3 pool threads (3 splits the batch into chunks and sums
 * conv2d_grad_weight's partials); where's typed row loops for every element size. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "ctorch/kernels.h"
#include "ctorch/parallel.h"
#include "ctorch/tensor.h"
#include "ops.h"
#include "testlib.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* A random f64 tensor whose values are exact in f32. */
static ct_tensor *rand64(int rank, const int64_t *shape) {
  ct_tensor *t = ct_tensor_empty(CT_DT_F64, rank, shape);
  int64_t n = ct_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) ct_tensor_set(t, i, (double)(float)urand());
  return t;
}

/* An f32 copy of t; when strided, a view of a [.., W, H] buffer with the last two dims swapped
 * (so the kernels see a non-contiguous operand). */
static ct_tensor *to32(const ct_tensor *t, int strided) {
  if (!strided || t->rank < 2) {
    ct_tensor *c = ct_tensor_empty(CT_DT_F32, t->rank, t->shape);
    CHECK_OK(ct_tensor_copy_into(c, t));
    return c;
  }
  int r = t->rank;
  int64_t bs[CT_MAX_RANK], st[CT_MAX_RANK];
  for (int i = 0; i < r; i++) bs[i] = t->shape[i];
  bs[r - 2] = t->shape[r - 1], bs[r - 1] = t->shape[r - 2];
  ct_tensor *base = ct_tensor_empty(CT_DT_F32, r, bs);
  ct_contiguous_strides(r, bs, st);
  int64_t tmp = st[r - 2];
  st[r - 2] = st[r - 1], st[r - 1] = tmp;
  ct_tensor *v = ct_tensor_view(base, r, t->shape, st, 0);
  ct_tensor_release(base);
  CHECK(!ct_tensor_is_contiguous(v));
  CHECK_OK(ct_tensor_copy_into(v, t));
  return v;
}

/* got (f32) against ref (f64): |got - ref| <= 1e-5 * max|ref| (+ a floor for all-zero refs);
 * NaN must match NaN. */
static void check_vs64(const ct_tensor *got, const ct_tensor *ref, const char *what) {
  int64_t n = ct_tensor_numel(ref);
  double scale = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = fabs(ct_tensor_get(ref, i));
    if (v == v && v > scale) scale = v;
  }
  double tol = 1e-5 * (scale > 1e-30 ? scale : 1.0);
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 3; i++) {
    double g = ct_tensor_get(got, i), r = ct_tensor_get(ref, i);
    int ok = (r != r) ? (g != g) : (fabs(g - r) <= tol || g == r);
    if (!ok) {
      test_fail(__FILE__, __LINE__, "%s: element %lld: f32 %.9g vs f64 %.9g", what, (long long)i,
                g, r);
      bad++;
    }
  }
  test_checks++;
}

static ct_status run1(int op, const ct_attr *attrs, int n_attrs, ct_tensor *const *in, int n_in,
                      ct_tensor *y) {
  char err[256] = "";
  ct_tensor *outs[1] = {y};
  ct_status st = ct_kernel_run(op, attrs, n_attrs, in, n_in, outs, 1, err, sizeof err);
  if (st) test_fail(__FILE__, __LINE__, "kernel %d: %s", op, err);
  return st;
}

/* ---- conv2d ---- */

typedef struct conv_case {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, G;
} conv_case;

static void conv_case_run(conv_case k, int strided) {
  int64_t Cg = k.C / k.G;
  int64_t Ho = (k.H + 2 * k.ph - k.dh * (k.kh - 1) - 1) / k.sh + 1;
  int64_t Wo = (k.W + 2 * k.pw - k.dw * (k.kw - 1) - 1) / k.sw + 1;
  int64_t xs[4] = {k.N, k.C, k.H, k.W}, ws[4] = {k.O, Cg, k.kh, k.kw}, bs[1] = {k.O};
  int64_t ys[4] = {k.N, k.O, Ho, Wo};
  ct_tensor *x = rand64(4, xs), *w = rand64(4, ws), *b = rand64(1, bs), *gy = rand64(4, ys);
  ct_tensor *x32 = to32(x, strided), *w32 = to32(w, 0), *b32 = to32(b, 0);
  ct_tensor *gy32 = to32(gy, strided);
  int64_t stride[2] = {k.sh, k.sw}, pad[2] = {k.ph, k.pw}, dil[2] = {k.dh, k.dw};
  ct_dim xd[4], wd[4];
  for (int i = 0; i < 4; i++) xd[i] = ct_dim_const(xs[i]), wd[i] = ct_dim_const(ws[i]);
  ct_attr a[5] = {ct_attr_ints("stride", 2, stride), ct_attr_ints("padding", 2, pad),
                  ct_attr_ints("dilation", 2, dil), ct_attr_int("groups", k.G),
                  ct_attr_dims("input_shape", 4, xd)};
  ct_tensor *y64 = ct_tensor_empty(CT_DT_F64, 4, ys), *y32 = ct_tensor_empty(CT_DT_F32, 4, ys);
  ct_tensor *gx64 = ct_tensor_empty(CT_DT_F64, 4, xs), *gx32 = ct_tensor_empty(CT_DT_F32, 4, xs);
  ct_tensor *gw64 = ct_tensor_empty(CT_DT_F64, 4, ws), *gw32 = ct_tensor_empty(CT_DT_F32, 4, ws);
  for (int bias = 0; bias < 2; bias++) {
    ct_tensor *in64[3] = {x, w, b}, *in32[3] = {x32, w32, b32};
    CHECK_OK(run1(CT_OP_CONV2D, a, 4, in64, 2 + bias, y64));
    CHECK_OK(run1(CT_OP_CONV2D, a, 4, in32, 2 + bias, y32));
    check_vs64(y32, y64, "conv2d");
  }
  ct_tensor *gi64[2] = {gy, w}, *gi32[2] = {gy32, w32};
  CHECK_OK(run1(CT_OP_CONV2D_GRAD_INPUT, a, 5, gi64, 2, gx64));
  CHECK_OK(run1(CT_OP_CONV2D_GRAD_INPUT, a, 5, gi32, 2, gx32));
  check_vs64(gx32, gx64, "conv2d_grad_input");
  a[4] = ct_attr_dims("weight_shape", 4, wd);
  ct_tensor *gw64in[2] = {gy, x}, *gw32in[2] = {gy32, x32};
  CHECK_OK(run1(CT_OP_CONV2D_GRAD_WEIGHT, a, 5, gw64in, 2, gw64));
  CHECK_OK(run1(CT_OP_CONV2D_GRAD_WEIGHT, a, 5, gw32in, 2, gw32));
  check_vs64(gw32, gw64, "conv2d_grad_weight");
  ct_tensor *all[] = {x, w, b, gy, x32, w32, b32, gy32, y64, y32, gx64, gx32, gw64, gw32};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ct_tensor_release(all[i]);
}

static void test_conv2d_f32(void) {
  conv_case cases[] = {
      {64, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1},  /* LeNet conv1 */
      {64, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1}, /* LeNet conv2 */
      {5, 4, 13, 11, 6, 3, 2, 2, 3, 1, 2, 2, 1, 2},   /* stride, padding, dilation, groups */
      {7, 6, 5, 9, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2},     /* 1x1: GEMM on the input directly */
      {3, 3, 7, 6, 5, 1, 1, 2, 2, 1, 0, 1, 1, 1},     /* 1x1 with stride and padding */
      {9, 2, 9, 9, 3, 2, 2, 4, 4, 1, 1, 1, 1, 1},     /* stride past the kernel */
      {1, 3, 8, 8, 3, 3, 3, 1, 1, 1, 1, 3, 3, 3},     /* depthwise, batch 1 */
  };
  int saved = ct_get_num_threads();
  for (int t = 0; t < 2; t++) {
    ct_set_num_threads(t ? 3 : 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
      for (int s = 0; s < 2; s++) conv_case_run(cases[i], s);
  }
  ct_set_num_threads(saved);
}

/* ---- pooling ---- */

typedef struct pool_case {
  int rank;
  int64_t shape[4];
  int64_t k, s, p, d;
  int ceil_mode, cip;
  int64_t Ho, Wo;
} pool_case;

/* nan: plant NaNs; ties: constant input (the first maximum takes the gradient). */
static void pool_case_run(pool_case c, int is_max, int strided, int nan, int ties) {
  int r = c.rank;
  int64_t ys[4];
  for (int i = 0; i < 4; i++) ys[i] = c.shape[i];
  ys[r - 2] = c.Ho, ys[r - 1] = c.Wo;
  ct_tensor *x = rand64(r, c.shape), *gy = rand64(r, ys);
  int64_t nx = ct_tensor_numel(x);
  if (ties)
    for (int64_t i = 0; i < nx; i++) ct_tensor_set(x, i, 0.25);
  if (nan)
    for (int64_t i = 3; i < nx; i += 7) ct_tensor_set(x, i, NAN);
  ct_tensor *x32 = to32(x, strided), *gy32 = to32(gy, strided);
  int64_t k[2] = {c.k, c.k}, st[2] = {c.s, c.s}, pd[2] = {c.p, c.p}, dl[2] = {c.d, c.d};
  ct_attr a[5] = {ct_attr_ints("kernel_size", 2, k), ct_attr_ints("stride", 2, st),
                  ct_attr_ints("padding", 2, pd), ct_attr_bool("ceil_mode", c.ceil_mode),
                  is_max ? ct_attr_ints("dilation", 2, dl)
                         : ct_attr_bool("count_include_pad", c.cip)};
  ct_tensor *y64 = ct_tensor_empty(CT_DT_F64, r, ys), *y32 = ct_tensor_empty(CT_DT_F32, r, ys);
  ct_tensor *g64 = ct_tensor_empty(CT_DT_F64, r, c.shape);
  ct_tensor *g32 = ct_tensor_empty(CT_DT_F32, r, c.shape);
  ct_tensor *f64in[1] = {x}, *f32in[1] = {x32}, *b64in[2] = {gy, x}, *b32in[2] = {gy32, x32};
  int fwd = is_max ? CT_OP_MAX_POOL2D : CT_OP_AVG_POOL2D;
  int bwd = is_max ? CT_OP_MAX_POOL2D_GRAD : CT_OP_AVG_POOL2D_GRAD;
  CHECK_OK(run1(fwd, a, 5, f64in, 1, y64));
  CHECK_OK(run1(fwd, a, 5, f32in, 1, y32));
  check_vs64(y32, y64, is_max ? "max_pool2d" : "avg_pool2d");
  CHECK_OK(run1(bwd, a, 5, b64in, 2, g64));
  CHECK_OK(run1(bwd, a, 5, b32in, 2, g32));
  check_vs64(g32, g64, is_max ? "max_pool2d_grad" : "avg_pool2d_grad");
  ct_tensor *all[] = {x, gy, x32, gy32, y64, y32, g64, g32};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ct_tensor_release(all[i]);
}

static void test_pool_f32(void) {
  pool_case cases[] = {
      {4, {64, 6, 28, 28}, 2, 2, 0, 1, 0, 1, 14, 14}, /* LeNet pool1 */
      {4, {64, 16, 10, 10}, 2, 2, 0, 1, 0, 1, 5, 5},  /* LeNet pool2 */
      {4, {2, 3, 7, 6}, 3, 2, 1, 1, 1, 1, 4, 4},      /* ceil_mode */
      {3, {3, 5, 5, 0}, 2, 2, 1, 1, 1, 0, 3, 3},      /* ceil_mode drops the last window */
      {4, {1, 2, 9, 8}, 3, 1, 1, 2, 0, 1, 7, 6},      /* dilation (max only) */
      {4, {2, 2, 7, 7}, 3, 2, 1, 1, 1, 0, 4, 4},      /* count_include_pad=false */
      {4, {1, 2, 5, 6}, 4, 3, 2, 1, 1, 1, 3, 3},      /* overhang past the padding */
      {4, {3, 5, 11, 13}, 3, 3, 0, 1, 0, 1, 3, 4},    /* odd sizes, floor mode */
  };
  int saved = ct_get_num_threads();
  for (int t = 0; t < 2; t++) {
    ct_set_num_threads(t ? 3 : 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
      for (int s = 0; s < 2; s++) {
        pool_case_run(cases[i], 1, s, 0, 0);
        if (cases[i].d == 1) pool_case_run(cases[i], 0, s, 0, 0);
      }
    pool_case_run(cases[2], 1, 0, 0, 1); /* ties */
    pool_case_run(cases[2], 1, 1, 1, 0); /* NaN wins the window and takes the gradient */
    pool_case_run(cases[2], 0, 0, 1, 0); /* NaN propagates through the average */
  }
  ct_set_num_threads(saved);
}

/* ---- sum / mean ---- */

/* sum or mean of x (shape xs, rank r) over dims (nd of them, nd 0: all) against the f64 path. */
static void reduce_case_run(int op, int r, const int64_t *xs, int nd, const int64_t *dims,
                            int keepdim, int strided) {
  ct_tensor *x = rand64(r, xs), *x32 = to32(x, strided);
  int64_t ys[CT_MAX_RANK];
  int ry = 0;
  for (int d = 0; d < r; d++) {
    int red = nd == 0;
    for (int k = 0; k < nd; k++) red |= dims[k] == d || dims[k] == d - r;
    if (!red)
      ys[ry++] = xs[d];
    else if (keepdim)
      ys[ry++] = 1;
  }
  ct_tensor *y64 = ct_tensor_empty(CT_DT_F64, ry, ys), *y32 = ct_tensor_empty(CT_DT_F32, ry, ys);
  ct_attr a[2] = {ct_attr_ints("dims", nd, dims), ct_attr_bool("keepdim", keepdim)};
  ct_tensor *in64[1] = {x}, *in32[1] = {x32};
  CHECK_OK(run1(op, a, 2, in64, 1, y64));
  CHECK_OK(run1(op, a, 2, in32, 1, y32));
  check_vs64(y32, y64, op == CT_OP_SUM ? "sum" : "mean");
  ct_tensor_release(x);
  ct_tensor_release(x32);
  ct_tensor_release(y64);
  ct_tensor_release(y32);
}

static void test_reduce_f32(void) {
  int64_t conv_g[4] = {64, 16, 10, 10}, fc[2] = {64, 10}, odd[4] = {3, 1, 7, 5};
  int64_t bias_dims[3] = {0, 2, 3}, d0[1] = {0}, d1[1] = {1}, dl[1] = {-1}, d02[2] = {0, 2};
  int64_t d13[2] = {1, 3}, empty[3] = {4, 0, 3};
  for (int m = 0; m < 2; m++) {
    int op = m ? CT_OP_MEAN : CT_OP_SUM;
    for (int s = 0; s < 2; s++) {
      reduce_case_run(op, 4, conv_g, 3, bias_dims, 0, s); /* conv bias gradient */
      reduce_case_run(op, 4, conv_g, 3, bias_dims, 1, s);
      reduce_case_run(op, 2, fc, 1, d0, 0, s);  /* linear bias gradient: kept inner dim */
      reduce_case_run(op, 2, fc, 1, d1, 1, s);  /* row sums */
      reduce_case_run(op, 2, fc, 0, NULL, 0, s); /* everything */
      reduce_case_run(op, 4, odd, 2, d02, 0, s); /* a size-1 dim between */
      reduce_case_run(op, 4, odd, 2, d13, 1, s);
      reduce_case_run(op, 4, odd, 1, dl, 0, s);
      reduce_case_run(op, 4, odd, 0, NULL, 1, s);
    }
    reduce_case_run(op, 3, empty, 1, d1, 0, 0); /* sum 0, mean NaN */
    reduce_case_run(op, 3, empty, 1, d0, 0, 0); /* empty result */
  }
}

/* ---- where: the typed row loops (1-, 4- and 8-byte elements) ---- */

static void test_where_typed(void) {
  ct_dtype dts[] = {CT_DT_F32, CT_DT_F64, CT_DT_I64, CT_DT_I32, CT_DT_BOOL, CT_DT_U8};
  int64_t cs[3] = {4, 1, 9}, xs[3] = {4, 7, 9}, ys[1] = {9}, os[3] = {4, 7, 9};
  ct_tensor *c = ct_tensor_empty(CT_DT_BOOL, 3, cs);
  for (int64_t i = 0; i < 36; i++) ct_tensor_set(c, i, urand() > 0);
  for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++)
    for (int s = 0; s < 2; s++) {
      ct_tensor *x64 = rand64(3, xs), *y = ct_tensor_empty(dts[d], 1, ys);
      for (int64_t i = 0; i < 9; i++) ct_tensor_set(y, i, (double)(i % 3));
      for (int64_t i = 0; i < ct_tensor_numel(x64); i++)
        ct_tensor_set(x64, i, dts[d] == CT_DT_BOOL ? (double)(i % 2) : (double)(i % 100) + 3.0);
      ct_tensor *x;
      if (s) { /* non-contiguous: every other row of a [4,14,9] buffer */
        int64_t bs[3] = {4, 14, 9}, st[3] = {14 * 9, 18, 1};
        ct_tensor *b = ct_tensor_zeros(dts[d], 3, bs);
        x = ct_tensor_view(b, 3, xs, st, 0);
        ct_tensor_release(b);
      } else {
        x = ct_tensor_empty(dts[d], 3, xs);
      }
      CHECK_OK(ct_tensor_copy_into(x, x64));
      ct_tensor *o = ct_tensor_empty(dts[d], 3, os);
      ct_tensor *in[3] = {c, x, y};
      CHECK_OK(run1(CT_OP_WHERE, NULL, 0, in, 3, o));
      int bad = 0;
      for (int64_t a = 0; a < 4; a++)
        for (int64_t b = 0; b < 7; b++)
          for (int64_t k = 0; k < 9; k++) {
            double want = ct_tensor_get(c, a * 9 + k) != 0 ? ct_tensor_get(x, (a * 7 + b) * 9 + k)
                                                           : ct_tensor_get(y, k);
            double got = ct_tensor_get(o, (a * 7 + b) * 9 + k);
            if (got != want && bad++ < 3)
              test_fail(__FILE__, __LINE__, "where %s [%lld,%lld,%lld]: %g vs %g",
                        ct_dtype_name(dts[d]), (long long)a, (long long)b, (long long)k, got,
                        want);
          }
      test_checks++;
      ct_tensor_release(x64);
      ct_tensor_release(x);
      ct_tensor_release(y);
      ct_tensor_release(o);
    }
  ct_tensor_release(c);
}

int main(void) {
  RUN_TEST(test_conv2d_f32);
  RUN_TEST(test_pool_f32);
  RUN_TEST(test_reduce_f32);
  RUN_TEST(test_where_typed);
  return test_summary();
}
