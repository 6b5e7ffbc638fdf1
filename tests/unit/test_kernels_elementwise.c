/* tests/unit/test_kernels_elementwise.c: the CPU kernels of the elementwise, reduction and shape
 * ops against simple double reference code: broadcasting, rank 0, strided (permuted) inputs,
 * f64, integer dtypes, keepdim and negative dims, softmax, slicing and concat, and errors. */
#include <math.h>
#include <stdint.h>

#include "ctorch/kernels.h"
#include "ctorch/tensor.h"
#include "ops.h"
#include "testlib.h"

static ct_tensor *mk(ct_dtype dt, int rank, const int64_t *shape, const double *vals) {
  ct_tensor *t = ct_tensor_empty(dt, rank, shape);
  int64_t n = ct_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) ct_tensor_set(t, i, vals ? vals[i] : (double)i);
  return t;
}

static ct_status run1(int op, const ct_attr *attrs, int na, ct_tensor *a, ct_tensor *b,
                      ct_tensor *o) {
  ct_tensor *in[2] = {a, b};
  char err[256] = "";
  ct_status st = ct_kernel_run(op, attrs, na, in, b ? 2 : 1, &o, 1, err, sizeof err);
  return st;
}

static double ref_unary(int op, double x) {
  switch (op) {
  case CT_OP_NEG: return -x;
  case CT_OP_ABS: return fabs(x);
  case CT_OP_EXP: return exp(x);
  case CT_OP_LOG: return log(x);
  case CT_OP_SQRT: return sqrt(x);
  case CT_OP_RSQRT: return 1 / sqrt(x);
  case CT_OP_TANH: return tanh(x);
  case CT_OP_SIGMOID: return 1 / (1 + exp(-x));
  case CT_OP_RELU: return x > 0 ? x : 0;
  case CT_OP_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
  case CT_OP_SILU: return x / (1 + exp(-x));
  case CT_OP_ERF: return erf(x);
  case CT_OP_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
  default: return NAN;
  }
}

static void test_unary(void) {
  int ops[] = {CT_OP_NEG,  CT_OP_ABS,  CT_OP_EXP,  CT_OP_LOG,     CT_OP_SQRT,
               CT_OP_RSQRT, CT_OP_TANH, CT_OP_SIGMOID, CT_OP_RELU, CT_OP_GELU,
               CT_OP_SILU, CT_OP_ERF,  CT_OP_SIGN};
  int64_t shape[2] = {2, 3};
  double pos[6] = {0.5, 1, 2, 3, 0.25, 4};
  double mixed[6] = {-1.5, 0, 2, -3, 0.25, 4};
  for (int dti = 0; dti < 2; dti++) {
    ct_dtype dt = dti ? CT_DT_F64 : CT_DT_F32;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
      int op = ops[k];
      const double *v = (op == CT_OP_LOG || op == CT_OP_SQRT || op == CT_OP_RSQRT) ? pos : mixed;
      ct_tensor *x = mk(dt, 2, shape, v), *o = ct_tensor_empty(dt, 2, shape);
      CHECK_OK(run1(op, NULL, 0, x, NULL, o));
      for (int i = 0; i < 6; i++) CHECK_CLOSE(ct_tensor_get(o, i), ref_unary(op, v[i]), 1e-6, 1e-6);
      ct_tensor_release(x);
      ct_tensor_release(o);
    }
  }
  /* gelu tanh approximation */
  ct_tensor *x = mk(CT_DT_F64, 2, shape, mixed), *o = ct_tensor_empty(CT_DT_F64, 2, shape);
  ct_attr ap = ct_attr_str("approximate", "tanh");
  CHECK_OK(run1(CT_OP_GELU, &ap, 1, x, NULL, o));
  for (int i = 0; i < 6; i++) {
    double z = mixed[i];
    double r = 0.5 * z * (1 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)));
    CHECK_CLOSE(ct_tensor_get(o, i), r, 1e-12, 1e-12);
  }
  ct_tensor_release(x);
  ct_tensor_release(o);
  /* integer neg/abs/relu/sign */
  x = mk(CT_DT_I64, 2, shape, mixed);
  o = ct_tensor_empty(CT_DT_I64, 2, shape);
  CHECK_OK(run1(CT_OP_ABS, NULL, 0, x, NULL, o));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(o, i) == fabs(trunc(mixed[i])));
  CHECK_OK(run1(CT_OP_RELU, NULL, 0, x, NULL, o));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(o, i) == (mixed[i] > 0 ? trunc(mixed[i]) : 0));
  /* exp of an integer tensor is an error */
  CHECK(run1(CT_OP_EXP, NULL, 0, x, NULL, o) != CT_OK);
  ct_tensor_release(x);
  ct_tensor_release(o);
}

static void test_permuted_input(void) {
  int64_t shape[2] = {2, 3};
  ct_tensor *t = mk(CT_DT_F32, 2, shape, NULL);
  int64_t vs[2] = {3, 2}, vst[2] = {1, 3};
  ct_tensor *v = ct_tensor_view(t, 2, vs, vst, 0); /* transpose */
  ct_tensor *o = ct_tensor_empty(CT_DT_F32, 2, vs);
  CHECK_OK(run1(CT_OP_NEG, NULL, 0, v, NULL, o));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(o, i) == -ct_tensor_get(v, i));
  ct_tensor *o2 = ct_tensor_empty(CT_DT_F32, 2, vs);
  CHECK_OK(run1(CT_OP_ADD, NULL, 0, v, o, o2)); /* v + (-v) = 0 */
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(o2, i) == 0.0);
  CHECK_OK(run1(CT_OP_MUL, NULL, 0, v, v, o2));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(o2, i) == ct_tensor_get(v, i) * ct_tensor_get(v, i));
  ct_tensor_release(t);
  ct_tensor_release(v);
  ct_tensor_release(o);
  ct_tensor_release(o2);
}

static double ref_bin(int op, double a, double b) {
  switch (op) {
  case CT_OP_ADD: return a + b;
  case CT_OP_SUB: return a - b;
  case CT_OP_MUL: return a * b;
  case CT_OP_DIV: return a / b;
  case CT_OP_POW: return pow(a, b);
  case CT_OP_MAXIMUM: return a > b ? a : b;
  case CT_OP_MINIMUM: return a < b ? a : b;
  case CT_OP_EQ: return a == b;
  case CT_OP_NE: return a != b;
  case CT_OP_LT: return a < b;
  case CT_OP_LE: return a <= b;
  case CT_OP_GT: return a > b;
  case CT_OP_GE: return a >= b;
  default: return NAN;
  }
}

/* out[i,j] of a broadcast binary op over out shape [2,3] with operands of shapes sa, sb. */
static void check_bcast(int op, ct_dtype dt, int ra, const int64_t *sa, int rb, const int64_t *sb) {
  int64_t os[2] = {2, 3};
  double av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {2, 2, 1, 5, 0.5, 3};
  ct_tensor *a = mk(dt, ra, sa, av), *b = mk(dt, rb, sb, bv);
  int boolout = op >= CT_OP_EQ && op <= CT_OP_GE;
  ct_tensor *o = ct_tensor_empty(boolout ? CT_DT_BOOL : dt, 2, os);
  CHECK_OK(run1(op, NULL, 0, a, b, o));
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++) {
      /* index into each operand with broadcasting */
      int64_t ia = 0, ib = 0, ma = 1, mb = 1;
      int64_t idx[2] = {i, j};
      for (int d = 1; d >= 0; d--) {
        int da = d - (2 - ra), db = d - (2 - rb);
        if (da >= 0) {
          if (sa[da] != 1) ia += idx[d] * ma;
          ma *= sa[da];
        }
        if (db >= 0) {
          if (sb[db] != 1) ib += idx[d] * mb;
          mb *= sb[db];
        }
      }
      double x = av[ia], y = bv[ib];
      if (dt != CT_DT_F32 && dt != CT_DT_F64) {
        x = trunc(x);
        y = trunc(y);
      }
      double r = ref_bin(op, x, y);
      CHECK_CLOSE(ct_tensor_get(o, i * 3 + j), r, 1e-6, 1e-6);
    }
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(o);
}

static void test_binary_broadcast(void) {
  int ops[] = {CT_OP_ADD, CT_OP_SUB, CT_OP_MUL, CT_OP_DIV, CT_OP_POW, CT_OP_MAXIMUM,
               CT_OP_MINIMUM, CT_OP_EQ, CT_OP_NE, CT_OP_LT, CT_OP_LE, CT_OP_GT, CT_OP_GE};
  int64_t s23[2] = {2, 3}, s3[1] = {3}, s21[2] = {2, 1}, s13[2] = {1, 3};
  ct_dtype dts[3] = {CT_DT_F32, CT_DT_F64, CT_DT_I64};
  for (int t = 0; t < 3; t++)
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
      if (dts[t] == CT_DT_I64 && ops[k] == CT_OP_DIV) continue;
      check_bcast(ops[k], dts[t], 2, s23, 2, s23);
      check_bcast(ops[k], dts[t], 2, s23, 1, s3);
      check_bcast(ops[k], dts[t], 2, s21, 2, s13);
      check_bcast(ops[k], dts[t], 0, NULL, 2, s23);
      check_bcast(ops[k], dts[t], 2, s23, 0, NULL);
    }
  check_bcast(CT_OP_ADD, CT_DT_I32, 2, s21, 1, s3);
}

static void test_binary_errors_and_nan(void) {
  int64_t s23[2] = {2, 3}, s2[1] = {2}, s1[1] = {1};
  ct_tensor *a = mk(CT_DT_F32, 2, s23, NULL), *b = mk(CT_DT_F32, 1, s2, NULL);
  ct_tensor *o = ct_tensor_empty(CT_DT_F32, 2, s23);
  CHECK(run1(CT_OP_ADD, NULL, 0, a, b, o) == CT_ERR_SHAPE); /* [2,3] + [2] */
  ct_tensor *bi = mk(CT_DT_I64, 2, s23, NULL);
  CHECK(run1(CT_OP_ADD, NULL, 0, a, bi, o) != CT_OK); /* dtype mismatch */
  ct_tensor *o1 = ct_tensor_empty(CT_DT_F32, 1, s1);
  CHECK(run1(CT_OP_ADD, NULL, 0, a, a, o1) != CT_OK); /* wrong result shape */
  double nanv[6] = {NAN, 1, 2, 3, 4, 5}, other[6] = {0, NAN, 1, 9, 9, 0};
  ct_tensor *x = mk(CT_DT_F32, 2, s23, nanv), *y = mk(CT_DT_F32, 2, s23, other);
  CHECK_OK(run1(CT_OP_MAXIMUM, NULL, 0, x, y, o));
  CHECK(isnan(ct_tensor_get(o, 0)) && isnan(ct_tensor_get(o, 1)));
  CHECK(ct_tensor_get(o, 3) == 9 && ct_tensor_get(o, 5) == 5);
  CHECK_OK(run1(CT_OP_MINIMUM, NULL, 0, x, y, o));
  CHECK(isnan(ct_tensor_get(o, 0)) && isnan(ct_tensor_get(o, 1)) && ct_tensor_get(o, 2) == 1);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(bi);
  ct_tensor_release(o);
  ct_tensor_release(o1);
  ct_tensor_release(x);
  ct_tensor_release(y);
}

static void test_logical_where_cast(void) {
  int64_t s4[1] = {4}, s21[2] = {2, 1}, s24[2] = {2, 4};
  double av[4] = {1, 0, 1, 0}, bv[4] = {1, 1, 0, 0};
  ct_tensor *a = mk(CT_DT_BOOL, 1, s4, av), *b = mk(CT_DT_BOOL, 1, s4, bv);
  ct_tensor *o = ct_tensor_empty(CT_DT_BOOL, 1, s4);
  CHECK_OK(run1(CT_OP_LOGICAL_AND, NULL, 0, a, b, o));
  for (int i = 0; i < 4; i++) CHECK(ct_tensor_get(o, i) == (av[i] && bv[i]));
  CHECK_OK(run1(CT_OP_LOGICAL_OR, NULL, 0, a, b, o));
  for (int i = 0; i < 4; i++) CHECK(ct_tensor_get(o, i) == (av[i] || bv[i]));
  CHECK_OK(run1(CT_OP_LOGICAL_NOT, NULL, 0, a, NULL, o));
  for (int i = 0; i < 4; i++) CHECK(ct_tensor_get(o, i) == !av[i]);
  /* where(cond[4], x[2,1], y scalar) -> [2,4] */
  double xv[2] = {10, 20}, yv[1] = {-1};
  ct_tensor *x = mk(CT_DT_F32, 2, s21, xv), *y = mk(CT_DT_F32, 0, NULL, yv);
  ct_tensor *w = ct_tensor_empty(CT_DT_F32, 2, s24);
  ct_tensor *in[3] = {a, x, y};
  char err[128];
  CHECK_OK(ct_kernel_run(CT_OP_WHERE, NULL, 0, in, 3, &w, 1, err, sizeof err));
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 4; j++) CHECK(ct_tensor_get(w, i * 4 + j) == (av[j] ? xv[i] : -1));
  /* cast f32 -> i32 truncates toward zero, -> bool is != 0 */
  double cv[4] = {-1.7, 2.9, 0, 0.25};
  ct_tensor *c = mk(CT_DT_F32, 1, s4, cv), *ci = ct_tensor_empty(CT_DT_I32, 1, s4);
  ct_attr dta = ct_attr_dtype("dtype", CT_DT_I32);
  CHECK_OK(run1(CT_OP_CAST, &dta, 1, c, NULL, ci));
  CHECK(ct_tensor_get(ci, 0) == -1 && ct_tensor_get(ci, 1) == 2 && ct_tensor_get(ci, 3) == 0);
  CHECK_OK(run1(CT_OP_CAST, &dta, 1, c, NULL, o));
  CHECK(ct_tensor_get(o, 0) == 1 && ct_tensor_get(o, 2) == 0 && ct_tensor_get(o, 3) == 1);
  ct_tensor_release(a);
  ct_tensor_release(b);
  ct_tensor_release(o);
  ct_tensor_release(x);
  ct_tensor_release(y);
  ct_tensor_release(w);
  ct_tensor_release(c);
  ct_tensor_release(ci);
}

static void test_constant_one_hot(void) {
  int64_t s23[2] = {2, 3};
  ct_tensor *o = ct_tensor_empty(CT_DT_F32, 2, s23);
  ct_attr at[2] = {ct_attr_float("value", 2.5), ct_attr_floats("data", 0, NULL)};
  char err[128];
  CHECK_OK(ct_kernel_run(CT_OP_CONSTANT, at, 2, NULL, 0, &o, 1, err, sizeof err));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(o, i) == 2.5);
  double d[6] = {1, 2, 3, 4, 5, 6};
  at[1] = ct_attr_floats("data", 6, d);
  CHECK_OK(ct_kernel_run(CT_OP_CONSTANT, at, 2, NULL, 0, &o, 1, err, sizeof err));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(o, i) == d[i]);
  at[1] = ct_attr_floats("data", 5, d);
  CHECK(ct_kernel_run(CT_OP_CONSTANT, at, 2, NULL, 0, &o, 1, err, sizeof err) != CT_OK);
  ct_tensor_release(o);
  int64_t s3[1] = {3}, s34[2] = {3, 4};
  double iv[3] = {2, 0, 3};
  ct_tensor *idx = mk(CT_DT_I64, 1, s3, iv), *oh = ct_tensor_empty(CT_DT_F32, 2, s34);
  ct_attr nc = ct_attr_int("num_classes", 4);
  CHECK_OK(run1(CT_OP_ONE_HOT, &nc, 1, idx, NULL, oh));
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) CHECK(ct_tensor_get(oh, i * 4 + j) == (j == iv[i]));
  ct_tensor_set(idx, 1, 4);
  CHECK(run1(CT_OP_ONE_HOT, &nc, 1, idx, NULL, oh) != CT_OK);
  ct_tensor_release(idx);
  ct_tensor_release(oh);
}

static ct_status run_attrs(int op, const ct_attr *attrs, int na, ct_tensor *x, ct_tensor *o) {
  char err[256] = "";
  return ct_kernel_run(op, attrs, na, &x, 1, &o, 1, err, sizeof err);
}

static void test_reductions(void) {
  /* x[2,3,4] = i, viewed through a permutation [4,2,3] to make it strided */
  int64_t s234[3] = {2, 3, 4};
  ct_tensor *base = mk(CT_DT_F64, 3, s234, NULL);
  int64_t ps[3] = {4, 2, 3}, pst[3] = {1, 12, 4};
  ct_tensor *x = ct_tensor_view(base, 3, ps, pst, 0); /* x[a,b,c] = base[b,c,a] */
  /* sum over dims [-1] (c) keepdim -> [4,2,1] */
  int64_t dm1[1] = {-1};
  ct_attr at[2] = {ct_attr_ints("dims", 1, dm1), ct_attr_bool("keepdim", 1)};
  int64_t s421[3] = {4, 2, 1};
  ct_tensor *o = ct_tensor_empty(CT_DT_F64, 3, s421);
  CHECK_OK(run_attrs(CT_OP_SUM, at, 2, x, o));
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 2; b++) {
      double r = 0;
      for (int c = 0; c < 3; c++) r += b * 12 + c * 4 + a;
      CHECK(ct_tensor_get(o, a * 2 + b) == r);
    }
  /* mean over dims [0, 2] no keepdim -> [2] */
  int64_t d02[2] = {0, -1};
  at[0] = ct_attr_ints("dims", 2, d02);
  at[1] = ct_attr_bool("keepdim", 0);
  int64_t s2[1] = {2};
  ct_tensor *o2 = ct_tensor_empty(CT_DT_F64, 1, s2);
  CHECK_OK(run_attrs(CT_OP_MEAN, at, 2, x, o2));
  for (int b = 0; b < 2; b++) CHECK_CLOSE(ct_tensor_get(o2, b), b * 12 + 5.5, 1e-12, 0);
  CHECK_OK(run_attrs(CT_OP_AMAX, at, 2, x, o2));
  CHECK(ct_tensor_get(o2, 0) == 11 && ct_tensor_get(o2, 1) == 23);
  CHECK_OK(run_attrs(CT_OP_AMIN, at, 2, x, o2));
  CHECK(ct_tensor_get(o2, 0) == 0 && ct_tensor_get(o2, 1) == 12);
  /* all dims -> rank 0 */
  at[0] = ct_attr_ints("dims", 0, NULL);
  ct_tensor *o0 = ct_tensor_empty(CT_DT_F64, 0, NULL);
  CHECK_OK(run_attrs(CT_OP_SUM, at, 2, x, o0));
  CHECK(ct_tensor_get(o0, 0) == 276);
  /* errors: wrong result shape, repeated dim */
  CHECK(run_attrs(CT_OP_SUM, at, 2, x, o2) == CT_ERR_SHAPE);
  int64_t rep[2] = {1, -2};
  at[0] = ct_attr_ints("dims", 2, rep);
  CHECK(run_attrs(CT_OP_SUM, at, 2, x, o2) != CT_OK);
  /* i64 sum */
  ct_tensor *xi = mk(CT_DT_I64, 3, s234, NULL), *oi = ct_tensor_empty(CT_DT_I64, 0, NULL);
  at[0] = ct_attr_ints("dims", 0, NULL);
  CHECK_OK(run_attrs(CT_OP_SUM, at, 2, xi, oi));
  CHECK(ct_tensor_get(oi, 0) == 276);
  CHECK(run_attrs(CT_OP_MEAN, at, 2, xi, oi) != CT_OK);
  /* argmax over dim 1 of [2,3] with ties: first wins */
  int64_t s23[2] = {2, 3};
  double av[6] = {1, 5, 5, 7, 2, 7};
  ct_tensor *a = mk(CT_DT_F32, 2, s23, av), *ai = ct_tensor_empty(CT_DT_I64, 1, s2);
  ct_attr aa[2] = {ct_attr_int("dim", -1), ct_attr_bool("keepdim", 0)};
  CHECK_OK(run_attrs(CT_OP_ARGMAX, aa, 2, a, ai));
  CHECK(ct_tensor_get(ai, 0) == 1 && ct_tensor_get(ai, 1) == 0);
  ct_tensor_release(base);
  ct_tensor_release(x);
  ct_tensor_release(o);
  ct_tensor_release(o2);
  ct_tensor_release(o0);
  ct_tensor_release(xi);
  ct_tensor_release(oi);
  ct_tensor_release(a);
  ct_tensor_release(ai);
}

static void test_softmax(void) {
  int64_t s23[2] = {2, 3};
  double v[6] = {1, 2, 3, 1000, 1001, 999};
  for (int dti = 0; dti < 2; dti++) {
    ct_dtype dt = dti ? CT_DT_F64 : CT_DT_F32;
    ct_tensor *x = mk(dt, 2, s23, v), *o = ct_tensor_empty(dt, 2, s23);
    ct_attr dim = ct_attr_int("dim", 1);
    CHECK_OK(run_attrs(CT_OP_SOFTMAX, &dim, 1, x, o));
    ct_tensor *lo = ct_tensor_empty(dt, 2, s23);
    CHECK_OK(run_attrs(CT_OP_LOG_SOFTMAX, &dim, 1, x, lo));
    for (int i = 0; i < 2; i++) {
      double m = fmax(v[i * 3], fmax(v[i * 3 + 1], v[i * 3 + 2])), s = 0;
      for (int j = 0; j < 3; j++) s += exp(v[i * 3 + j] - m);
      for (int j = 0; j < 3; j++) {
        CHECK_CLOSE(ct_tensor_get(o, i * 3 + j), exp(v[i * 3 + j] - m) / s, 1e-6, 1e-7);
        CHECK_CLOSE(ct_tensor_get(lo, i * 3 + j), v[i * 3 + j] - m - log(s), 1e-6, 1e-6);
      }
    }
    /* dim 0 on a transposed view */
    int64_t ts[2] = {3, 2}, tst[2] = {1, 3};
    ct_tensor *t = ct_tensor_view(x, 2, ts, tst, 0), *to = ct_tensor_empty(dt, 2, ts);
    ct_attr d0 = ct_attr_int("dim", 0);
    CHECK_OK(run_attrs(CT_OP_SOFTMAX, &d0, 1, t, to));
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 2; j++)
        CHECK_CLOSE(ct_tensor_get(to, i * 2 + j), ct_tensor_get(o, j * 3 + i), 1e-6, 1e-7);
    ct_tensor_release(x);
    ct_tensor_release(o);
    ct_tensor_release(lo);
    ct_tensor_release(t);
    ct_tensor_release(to);
  }
}

static void test_shape_ops(void) {
  char err[256];
  int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s6[1] = {6};
  ct_tensor *x = mk(CT_DT_F32, 2, s23, NULL); /* x[i,j] = 3i + j */
  /* permute [1,0] then reshape the (strided) result view to [6] */
  int64_t perm[2] = {-1, 0};
  ct_attr pa = ct_attr_ints("dims", 2, perm);
  ct_tensor *p = ct_tensor_empty(CT_DT_F32, 2, s32);
  CHECK_OK(run_attrs(CT_OP_PERMUTE, &pa, 1, x, p));
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++) CHECK(ct_tensor_get(p, i * 2 + j) == 3 * j + i);
  int64_t tst[2] = {1, 3};
  ct_tensor *t = ct_tensor_view(x, 2, s32, tst, 0);
  ct_dim d6 = ct_dim_const(6);
  ct_attr ra = ct_attr_dims("shape", 1, &d6);
  ct_tensor *r = ct_tensor_empty(CT_DT_F32, 1, s6);
  CHECK_OK(run_attrs(CT_OP_RESHAPE, &ra, 1, t, r));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(r, i) == ct_tensor_get(p, i));
  CHECK_OK(run_attrs(CT_OP_RESHAPE, &ra, 1, x, r));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(r, i) == i);
  ct_tensor *bad = ct_tensor_empty(CT_DT_F32, 1, s32); /* 3 elements */
  CHECK(run_attrs(CT_OP_RESHAPE, NULL, 0, x, bad) == CT_ERR_SHAPE);
  /* expand [3] -> [2,3] */
  int64_t s3[1] = {3};
  ct_tensor *v = mk(CT_DT_I64, 1, s3, NULL), *e = ct_tensor_empty(CT_DT_I64, 2, s23);
  CHECK_OK(run_attrs(CT_OP_EXPAND, NULL, 0, v, e));
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(e, i) == i % 3);
  ct_tensor *e2 = ct_tensor_empty(CT_DT_I64, 2, s32);
  CHECK(run_attrs(CT_OP_EXPAND, NULL, 0, v, e2) == CT_ERR_SHAPE);
  /* concat dim 1: [2,3] ++ [2,1] (a strided column) -> [2,4] */
  int64_t s21[2] = {2, 1}, s21st[2] = {3, 1}, s24[2] = {2, 4};
  ct_tensor *col = ct_tensor_view(x, 2, s21, s21st, 2); /* x[:, 2:3] */
  ct_tensor *c = ct_tensor_empty(CT_DT_F32, 2, s24);
  ct_tensor *cin[2] = {x, col};
  ct_attr ca = ct_attr_int("dim", 1);
  CHECK_OK(ct_kernel_run(CT_OP_CONCAT, &ca, 1, cin, 2, &c, 1, err, sizeof err));
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 4; j++) CHECK(ct_tensor_get(c, i * 4 + j) == (j < 3 ? 3 * i + j : 3 * i + 2));
  ct_tensor *cin2[2] = {x, x};
  CHECK(ct_kernel_run(CT_OP_CONCAT, &ca, 1, cin2, 2, &c, 1, err, sizeof err) == CT_ERR_SHAPE);
  /* slice x10 = [0..9], start -8, end max, step 2 -> [2,4,6,8] */
  int64_t s10[1] = {10}, s4[1] = {4};
  ct_tensor *ten = mk(CT_DT_F64, 1, s10, NULL), *sl = ct_tensor_empty(CT_DT_F64, 1, s4);
  ct_attr sa[4] = {ct_attr_int("dim", 0), ct_attr_int("start", -8), ct_attr_int("end", INT64_MAX),
                   ct_attr_int("step", 2)};
  CHECK_OK(run_attrs(CT_OP_SLICE, sa, 4, ten, sl));
  for (int i = 0; i < 4; i++) CHECK(ct_tensor_get(sl, i) == 2 + 2 * i);
  sa[2] = ct_attr_int("end", -1); /* [2:9:2] = 2,4,6,8 */
  CHECK_OK(run_attrs(CT_OP_SLICE, sa, 4, ten, sl));
  CHECK(ct_tensor_get(sl, 3) == 8);
  sa[2] = ct_attr_int("end", -2); /* [2:8:2] = 2,4,6: 3 elements, result has 4 */
  CHECK(run_attrs(CT_OP_SLICE, sa, 4, ten, sl) == CT_ERR_SHAPE);
  /* slice along dim 1 of x with step 2: x[:, 0::2] -> [2,2] */
  int64_t s22[2] = {2, 2};
  ct_attr sb[4] = {ct_attr_int("dim", -1), ct_attr_int("start", 0), ct_attr_int("end", 100),
                   ct_attr_int("step", 2)};
  ct_tensor *sl2 = ct_tensor_empty(CT_DT_F32, 2, s22);
  CHECK_OK(run_attrs(CT_OP_SLICE, sb, 4, x, sl2));
  CHECK(ct_tensor_get(sl2, 0) == 0 && ct_tensor_get(sl2, 1) == 2 && ct_tensor_get(sl2, 2) == 3 &&
        ct_tensor_get(sl2, 3) == 5);
  /* slice_grad: back into zeros of [2,3] */
  ct_dim gd[2] = {ct_dim_const(2), ct_dim_const(3)};
  ct_attr ga[5] = {ct_attr_dims("shape", 2, gd), sb[0], sb[1], sb[2], sb[3]};
  ct_tensor *g = ct_tensor_empty(CT_DT_F32, 2, s23);
  CHECK_OK(run_attrs(CT_OP_SLICE_GRAD, ga, 5, sl2, g));
  double want[6] = {0, 0, 2, 3, 0, 5};
  for (int i = 0; i < 6; i++) CHECK(ct_tensor_get(g, i) == want[i]);
  CHECK(run_attrs(CT_OP_SLICE_GRAD, ga, 5, x, g) == CT_ERR_SHAPE);
  ct_tensor *objs[] = {x, p, t, r, bad, v, e, e2, col, c, ten, sl, sl2, g};
  for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ct_tensor_release(objs[i]);
}

int main(void) {
  RUN_TEST(test_unary);
  RUN_TEST(test_permuted_input);
  RUN_TEST(test_binary_broadcast);
  RUN_TEST(test_binary_errors_and_nan);
  RUN_TEST(test_logical_where_cast);
  RUN_TEST(test_constant_one_hot);
  RUN_TEST(test_reductions);
  RUN_TEST(test_softmax);
  RUN_TEST(test_shape_ops);
  return test_summary();
}
