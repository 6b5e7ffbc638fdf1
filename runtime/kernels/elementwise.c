/* runtime/kernels/elementwise.c: CPU kernels of the source and elementwise ops: constant,
 * one_hot, unary math, cast, broadcasting binary arithmetic, comparisons, logical ops and where.
 * Float dtypes compute in double through typed row loops over ct_iter (a same-shape contiguous
 * or scalar-broadcast operation is a single row); integer dtypes compute in int64 with
 * wrapping arithmetic. f16/bf16 are handled by cast and constant only. */
#include <math.h>
#include <string.h>

#include "kernels_internal.h"

/* ---- shared checks ---- */

static ct_status check_counts(const char *op, int n_in, int want_in, int n_out, char *err,
                              size_t err_size) {
  if (n_in != want_in || n_out != 1)
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "%s: expected %d operand(s) and 1 result, got %d and %d", op, want_in,
                          n_in, n_out);
  return CT_OK;
}

static ct_status check_out(const char *op, const ct_tensor *o, char *err, size_t err_size) {
  if (!o || !ct_tensor_is_contiguous(o))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: result must be contiguous", op);
  return CT_OK;
}

/* Strides of in[k] broadcast to out's shape into s; also checks that out's shape is exactly the
 * broadcast of all inputs. */
static ct_status bcast_setup(const char *op, ct_tensor *const *in, int n_in, const ct_tensor *o,
                             int64_t (*s)[CT_MAX_RANK], char *err, size_t err_size) {
  int rank = o->rank;
  for (int k = 0; k < n_in; k++) {
    if (!in[k] || ct_bcast_strides(in[k], rank, o->shape, s[k]) != 0) {
      char a[96], b[96];
      if (in[k])
        ct_tensor_describe(in[k], a, sizeof a);
      else
        snprintf(a, sizeof a, "(null)");
      ct_tensor_describe(o, b, sizeof b);
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "%s: operand %d %s does not broadcast to %s", op, k, a, b);
    }
  }
  for (int d = 0; d < rank; d++) {
    int64_t want = 1;
    for (int k = 0; k < n_in; k++) {
      int lead = rank - in[k]->rank;
      if (d < lead) continue;
      int64_t n = in[k]->shape[d - lead];
      if (n != 1) want = n;
    }
    if (want != o->shape[d] && !(want == 1 && o->shape[d] == 1))
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "%s: result dim %d is %lld, the broadcast gives %lld", op, d,
                            (long long)o->shape[d], (long long)want);
  }
  return CT_OK;
}

static void iter_setup(ct_iter *it, const ct_tensor *o, ct_tensor *const *in, int n_in,
                       int64_t (*s)[CT_MAX_RANK]) {
  char *base[CT_ITER_MAX_OPS];
  const int64_t *strides[CT_ITER_MAX_OPS];
  size_t es[CT_ITER_MAX_OPS];
  int64_t os[CT_MAX_RANK];
  ct_contiguous_strides(o->rank, o->shape, os);
  base[0] = ct_tensor_data(o);
  strides[0] = os;
  es[0] = ct_dtype_size(o->dtype);
  for (int k = 0; k < n_in; k++) {
    base[k + 1] = ct_tensor_data(in[k]);
    strides[k + 1] = s[k];
    es[k + 1] = ct_dtype_size(in[k]->dtype);
  }
  ct_iter_init(it, o->rank, o->shape, n_in + 1, base, strides, es);
}

/* ---- sources ---- */

ct_status ct_kernel_CONSTANT(CT_KERNEL_ARGS) {
  ct_status st = check_counts("constant", n_in, 0, n_out, err, err_size);
  (void)in;
  if (st) return st;
  ct_tensor *o = out[0];
  if ((st = check_out("constant", o, err, err_size))) return st;
  double value = ct_attr_get_float(attrs, n_attrs, "value", 0.0);
  const ct_attr *data = ct_attr_find(attrs, n_attrs, "data");
  int64_t n = ct_tensor_numel(o);
  const double *vals = NULL;
  if (data && data->kind == CT_ATTR_FLOATS && data->n > 0) {
    if ((int64_t)data->n != n)
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "constant: data has %d values, shape has %lld", data->n, (long long)n);
    vals = data->u.floats;
  }
  char *p = ct_tensor_data(o);
  size_t es = ct_dtype_size(o->dtype);
  int fast = ct_k_is_float(o->dtype) || ct_k_is_int(o->dtype);
  for (int64_t i = 0; i < n; i++) {
    double v = vals ? vals[i] : value;
    if (fast)
      ct_k_store_d(o->dtype, p + (size_t)i * es, v);
    else
      ct_tensor_set(o, i, v);
  }
  return CT_OK;
}

ct_status ct_kernel_ONE_HOT(CT_KERNEL_ARGS) {
  ct_status st = check_counts("one_hot", n_in, 1, n_out, err, err_size);
  if (st) return st;
  ct_tensor *x = in[0], *o = out[0];
  if ((st = check_out("one_hot", o, err, err_size))) return st;
  int64_t nc = ct_attr_get_int(attrs, n_attrs, "num_classes", -1);
  if (x->dtype != CT_DT_I64 && x->dtype != CT_DT_I32)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "one_hot: indices must be i64, got %s",
                          ct_dtype_name(x->dtype));
  if (nc < 0 || o->rank != x->rank + 1 || o->shape[x->rank] != nc ||
      !(ct_k_is_float(o->dtype) || ct_k_is_int(o->dtype)))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "one_hot: bad result shape or dtype");
  for (int d = 0; d < x->rank; d++)
    if (o->shape[d] != x->shape[d])
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                            "one_hot: result shape does not match indices");
  memset(ct_tensor_data(o), 0, ct_tensor_nbytes(o));
  ct_iter it;
  char *base[2] = {ct_tensor_data(o), ct_tensor_data(x)};
  size_t es[2] = {1, ct_dtype_size(x->dtype)};
  /* Operand 0 is a dummy that is never advanced; we count positions ourselves. */
  int64_t zero[CT_MAX_RANK] = {0};
  const int64_t *strides[2] = {zero, x->strides};
  ct_iter_init(&it, x->rank, x->shape, 2, base, strides, es);
  char *p[2];
  int64_t n, pos = 0;
  size_t oes = ct_dtype_size(o->dtype);
  char *ob = ct_tensor_data(o);
  while ((n = ct_iter_next(&it, p)) > 0) {
    int64_t sx = it.strides[1][it.rank - 1];
    for (int64_t i = 0; i < n; i++, pos++) {
      int64_t idx = ct_k_load_i(x->dtype, p[1] + i * sx * (int64_t)es[1]);
      if (idx < 0 || idx >= nc)
        return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                              "one_hot: index %lld outside [0, %lld)", (long long)idx,
                              (long long)nc);
      ct_k_store_d(o->dtype, ob + (size_t)(pos * nc + idx) * oes, 1.0);
    }
  }
  return CT_OK;
}

/* ---- unary ---- */

static double gelu_none(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh(double x) {
  const double k = 0.7978845608028654; /* sqrt(2/pi) */
  return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}
static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }
static double sgn(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; /* keeps NaN, +-0 */ }

/* One case per unary op; ROW is ROWS (unit stride) or ROWS_S (strided input). */
#define UNARY_CASES(ROW, OPV)                                                                      \
  switch (OPV) {                                                                                   \
  case CT_OP_NEG: ROW(-x); break;                                                                  \
  case CT_OP_ABS: ROW(fabs(x)); break;                                                             \
  case CT_OP_EXP: ROW(exp(x)); break;                                                              \
  case CT_OP_LOG: ROW(log(x)); break;                                                              \
  case CT_OP_SQRT: ROW(sqrt(x)); break;                                                            \
  case CT_OP_RSQRT: ROW(1.0 / sqrt(x)); break;                                                     \
  case CT_OP_TANH: ROW(tanh(x)); break;                                                            \
  case CT_OP_SIGMOID: ROW(sigm(x)); break;                                                         \
  case CT_OP_RELU: ROW(x > 0 ? x : (x != x ? x : 0.0)); break;                                     \
  case CT_OP_SILU: ROW(x *sigm(x)); break;                                                         \
  case CT_OP_ERF: ROW(erf(x)); break;                                                              \
  case CT_OP_SIGN: ROW(sgn(x)); break;                                                             \
  case CT_OP_GELU:                                                                                 \
    if (tanh_approx) {                                                                             \
      ROW(gelu_tanh(x));                                                                           \
    } else {                                                                                       \
      ROW(gelu_none(x));                                                                           \
    }                                                                                              \
    break;                                                                                         \
  default: break;                                                                                  \
  }

#define UNARY_ROWS_T(T)                                                                            \
  static void unary_rows_##T(int op, int tanh_approx, ct_iter *it) {                               \
    char *p[2];                                                                                    \
    int64_t n;                                                                                     \
    while ((n = ct_iter_next(it, p)) > 0) {                                                        \
      T *o = (T *)(void *)p[0];                                                                    \
      const T *a = (const T *)(void *)p[1];                                                        \
      int64_t sa = it->strides[1][it->rank - 1];                                                   \
      if (sa == 1) {                                                                               \
        UNARY_CASES(ROWS, op)                                                                      \
      } else {                                                                                     \
        UNARY_CASES(ROWS_S, op)                                                                    \
      }                                                                                            \
    }                                                                                              \
  }

#define ROWS(EXPR)                                                                                 \
  for (int64_t i = 0; i < n; i++) {                                                                \
    double x = (double)a[i];                                                                       \
    o[i] = (__typeof__(*o))(EXPR);                                                                 \
  }
#define ROWS_S(EXPR)                                                                               \
  for (int64_t i = 0; i < n; i++) {                                                                \
    double x = (double)a[i * sa];                                                                  \
    o[i] = (__typeof__(*o))(EXPR);                                                                 \
  }
typedef float f32;
typedef double f64;
UNARY_ROWS_T(f32)
UNARY_ROWS_T(f64)
#undef ROWS
#undef ROWS_S

static ct_status unary(int op, CT_KERNEL_ARGS) {
  const char *name = ct_op_name((ct_op)op);
  ct_status st = check_counts(name, n_in, 1, n_out, err, err_size);
  if (st) return st;
  ct_tensor *x = in[0], *o = out[0];
  if ((st = check_out(name, o, err, err_size))) return st;
  if (!ct_shape_is(o, x->rank, x->shape) || o->dtype != x->dtype) {
    char a[96], b[96];
    ct_tensor_describe(x, a, sizeof a);
    ct_tensor_describe(o, b, sizeof b);
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: result %s does not match operand %s",
                          name, b, a);
  }
  int int_ok = op == CT_OP_NEG || op == CT_OP_ABS || op == CT_OP_SIGN || op == CT_OP_RELU;
  if (!ct_k_is_float(x->dtype) &&
      !(int_ok && ct_k_is_int(x->dtype) && !(op == CT_OP_NEG && x->dtype == CT_DT_BOOL)))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: unsupported dtype %s", name,
                          ct_dtype_name(x->dtype));
  int tanh_approx = 0;
  if (op == CT_OP_GELU) {
    const char *ap = ct_attr_get_str(attrs, n_attrs, "approximate", "none");
    if (strcmp(ap, "tanh") == 0)
      tanh_approx = 1;
    else if (strcmp(ap, "none") != 0)
      return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "gelu: unknown approximate \"%s\"", ap);
  }
  int64_t s[1][CT_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    s[0][d] = x->strides[d];
  ct_iter it;
  iter_setup(&it, o, in, 1, s);
  if (x->dtype == CT_DT_F32) {
    unary_rows_f32(op, tanh_approx, &it);
  } else if (x->dtype == CT_DT_F64) {
    unary_rows_f64(op, tanh_approx, &it);
  } else {
    char *p[2];
    int64_t n;
    size_t es = ct_dtype_size(x->dtype);
    while ((n = ct_iter_next(&it, p)) > 0) {
      int64_t sa = it.strides[1][it.rank - 1];
      for (int64_t i = 0; i < n; i++) {
        int64_t v = ct_k_load_i(x->dtype, p[1] + i * sa * (int64_t)es), r = v;
        uint64_t uv = (uint64_t)v;
        switch (op) {
        case CT_OP_NEG: r = (int64_t)(0 - uv); break;
        case CT_OP_ABS: r = v < 0 ? (int64_t)(0 - uv) : v; break;
        case CT_OP_SIGN: r = v > 0 ? 1 : v < 0 ? -1 : 0; break;
        case CT_OP_RELU: r = v > 0 ? v : 0; break;
        default: break;
        }
        ct_k_store_i(o->dtype, p[0] + (size_t)i * es, r);
      }
    }
  }
  return CT_OK;
}

#define UNARY_KERNEL(ID)                                                                           \
  ct_status ct_kernel_##ID(CT_KERNEL_ARGS) {                                                       \
    return unary(CT_OP_##ID, attrs, n_attrs, in, n_in, out, n_out, err, err_size);                 \
  }
UNARY_KERNEL(NEG)
UNARY_KERNEL(ABS)
UNARY_KERNEL(EXP)
UNARY_KERNEL(LOG)
UNARY_KERNEL(SQRT)
UNARY_KERNEL(RSQRT)
UNARY_KERNEL(TANH)
UNARY_KERNEL(SIGMOID)
UNARY_KERNEL(RELU)
UNARY_KERNEL(GELU)
UNARY_KERNEL(SILU)
UNARY_KERNEL(ERF)
UNARY_KERNEL(SIGN)

ct_status ct_kernel_CAST(CT_KERNEL_ARGS) {
  ct_status st = check_counts("cast", n_in, 1, n_out, err, err_size);
  if (st) return st;
  ct_tensor *x = in[0], *o = out[0];
  if ((st = check_out("cast", o, err, err_size))) return st;
  if (!ct_shape_is(o, x->rank, x->shape))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "cast: result shape does not match operand");
  (void)attrs;
  (void)n_attrs;
  int xd = ct_k_is_float(x->dtype) || ct_k_is_int(x->dtype),
      od = ct_k_is_float(o->dtype) || ct_k_is_int(o->dtype);
  if (!xd || !od) {
    if (ct_tensor_copy_into(o, x) != CT_OK)
      return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "cast: copy failed");
    return CT_OK;
  }
  int64_t s[1][CT_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    s[0][d] = x->strides[d];
  ct_iter it;
  iter_setup(&it, o, in, 1, s);
  char *p[2];
  int64_t n;
  size_t xes = ct_dtype_size(x->dtype), oes = ct_dtype_size(o->dtype);
  while ((n = ct_iter_next(&it, p)) > 0) {
    int64_t sa = it.strides[1][it.rank - 1];
    for (int64_t i = 0; i < n; i++) {
      const char *ap = p[1] + i * sa * (int64_t)xes;
      char *op = p[0] + (size_t)i * oes;
      if (ct_k_is_float(x->dtype))
        ct_k_store_d(o->dtype, op, ct_k_load_d(x->dtype, ap));
      else if (ct_k_is_float(o->dtype))
        ct_k_store_d(o->dtype, op, (double)ct_k_load_i(x->dtype, ap));
      else
        ct_k_store_i(o->dtype, op, ct_k_load_i(x->dtype, ap));
    }
  }
  return CT_OK;
}

/* ---- binary ---- */

static double fmax_nan(double a, double b) { return (a != a || b != b) ? NAN : (a > b ? a : b); }
static double fmin_nan(double a, double b) { return (a != a || b != b) ? NAN : (a < b ? a : b); }

static int64_t ipow(int64_t b, int64_t e) {
  if (e < 0) return b == 1 ? 1 : b == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t r = 1, ub = (uint64_t)b;
  while (e) {
    if (e & 1) r *= ub;
    ub *= ub;
    e >>= 1;
  }
  return (int64_t)r;
}

#define BIN_CASES(R)                                                                               \
  switch (op) {                                                                                    \
  case CT_OP_ADD: R(x + y); break;                                                                 \
  case CT_OP_SUB: R(x - y); break;                                                                 \
  case CT_OP_MUL: R(x *y); break;                                                                  \
  case CT_OP_DIV: R(x / y); break;                                                                 \
  case CT_OP_POW: R(pow(x, y)); break;                                                             \
  case CT_OP_MAXIMUM: R(fmax_nan(x, y)); break;                                                    \
  case CT_OP_MINIMUM: R(fmin_nan(x, y)); break;                                                    \
  default: break;                                                                                  \
  }

#define BIN_ROWS_T(T)                                                                              \
  static void bin_rows_##T(int op, ct_iter *it) {                                                  \
    char *p[3];                                                                                    \
    int64_t n;                                                                                     \
    while ((n = ct_iter_next(it, p)) > 0) {                                                        \
      T *o = (T *)(void *)p[0];                                                                    \
      const T *a = (const T *)(void *)p[1], *b = (const T *)(void *)p[2];                          \
      int64_t sa = it->strides[1][it->rank - 1], sb = it->strides[2][it->rank - 1];                \
      if (sa == 1 && sb == 1) {                                                                    \
        BIN_CASES(R_CC)                                                                            \
      } else if (sa == 1 && sb == 0) {                                                             \
        BIN_CASES(R_CS)                                                                            \
      } else if (sa == 0 && sb == 1) {                                                             \
        BIN_CASES(R_SC)                                                                            \
      } else {                                                                                     \
        BIN_CASES(R_GEN)                                                                           \
      }                                                                                            \
    }                                                                                              \
  }

#define R_CC(EXPR)                                                                                 \
  for (int64_t i = 0; i < n; i++) {                                                                \
    double x = a[i], y = b[i];                                                                     \
    o[i] = (__typeof__(*o))(EXPR);                                                                 \
  }
#define R_CS(EXPR)                                                                                 \
  {                                                                                                \
    double y = b[0];                                                                               \
    for (int64_t i = 0; i < n; i++) {                                                              \
      double x = a[i];                                                                             \
      o[i] = (__typeof__(*o))(EXPR);                                                               \
    }                                                                                              \
  }
#define R_SC(EXPR)                                                                                 \
  {                                                                                                \
    double x = a[0];                                                                               \
    for (int64_t i = 0; i < n; i++) {                                                              \
      double y = b[i];                                                                             \
      o[i] = (__typeof__(*o))(EXPR);                                                               \
    }                                                                                              \
  }
#define R_GEN(EXPR)                                                                                \
  for (int64_t i = 0; i < n; i++) {                                                                \
    double x = a[i * sa], y = b[i * sb];                                                           \
    o[i] = (__typeof__(*o))(EXPR);                                                                 \
  }
BIN_ROWS_T(f32)
BIN_ROWS_T(f64)

static int64_t bin_int(int op, int64_t x, int64_t y) {
  uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
  switch (op) {
  case CT_OP_ADD: return (int64_t)(ux + uy);
  case CT_OP_SUB: return (int64_t)(ux - uy);
  case CT_OP_MUL: return (int64_t)(ux * uy);
  case CT_OP_POW: return ipow(x, y);
  case CT_OP_MAXIMUM: return x > y ? x : y;
  case CT_OP_MINIMUM: return x < y ? x : y;
  default: return 0;
  }
}

static int cmp_d(int op, double x, double y) {
  switch (op) {
  case CT_OP_EQ: return x == y;
  case CT_OP_NE: return x != y;
  case CT_OP_LT: return x < y;
  case CT_OP_LE: return x <= y;
  case CT_OP_GT: return x > y;
  case CT_OP_GE: return x >= y;
  case CT_OP_LOGICAL_AND: return x != 0 && y != 0;
  case CT_OP_LOGICAL_OR: return x != 0 || y != 0;
  default: return 0;
  }
}
static int cmp_i(int op, int64_t x, int64_t y) {
  switch (op) {
  case CT_OP_EQ: return x == y;
  case CT_OP_NE: return x != y;
  case CT_OP_LT: return x < y;
  case CT_OP_LE: return x <= y;
  case CT_OP_GT: return x > y;
  case CT_OP_GE: return x >= y;
  case CT_OP_LOGICAL_AND: return x != 0 && y != 0;
  case CT_OP_LOGICAL_OR: return x != 0 || y != 0;
  default: return 0;
  }
}

static ct_status binary(int op, CT_KERNEL_ARGS) {
  const char *name = ct_op_name((ct_op)op);
  (void)attrs;
  (void)n_attrs;
  ct_status st = check_counts(name, n_in, 2, n_out, err, err_size);
  if (st) return st;
  ct_tensor *o = out[0];
  if ((st = check_out(name, o, err, err_size))) return st;
  if (!in[0] || !in[1])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: missing operand", name);
  ct_dtype dt = in[0]->dtype;
  if (in[1]->dtype != dt)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: operand dtypes differ (%s, %s)", name,
                          ct_dtype_name(dt), ct_dtype_name(in[1]->dtype));
  int boolout = op >= CT_OP_EQ && op <= CT_OP_LOGICAL_OR;
  if (!ct_k_is_float(dt) && !ct_k_is_int(dt))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: unsupported dtype %s", name,
                          ct_dtype_name(dt));
  if (op == CT_OP_DIV && !ct_k_is_float(dt))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "div: needs a float dtype, got %s",
                          ct_dtype_name(dt));
  if ((op == CT_OP_LOGICAL_AND || op == CT_OP_LOGICAL_OR) && dt != CT_DT_BOOL)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: needs bool, got %s", name,
                          ct_dtype_name(dt));
  if (o->dtype != (boolout ? CT_DT_BOOL : dt))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: result dtype %s is wrong", name,
                          ct_dtype_name(o->dtype));
  int64_t s[2][CT_MAX_RANK];
  if ((st = bcast_setup(name, in, 2, o, s, err, err_size))) return st;
  ct_iter it;
  iter_setup(&it, o, in, 2, s);
  if (!boolout && dt == CT_DT_F32) {
    bin_rows_f32(op, &it);
    return CT_OK;
  }
  if (!boolout && dt == CT_DT_F64) {
    bin_rows_f64(op, &it);
    return CT_OK;
  }
  char *p[3];
  int64_t n;
  size_t es = ct_dtype_size(dt), oes = ct_dtype_size(o->dtype);
  while ((n = ct_iter_next(&it, p)) > 0) {
    int64_t sa = it.strides[1][it.rank - 1], sb = it.strides[2][it.rank - 1];
    for (int64_t i = 0; i < n; i++) {
      const char *ap = p[1] + i * sa * (int64_t)es, *bp = p[2] + i * sb * (int64_t)es;
      char *opp = p[0] + (size_t)i * oes;
      if (boolout) {
        int r = ct_k_is_float(dt) ? cmp_d(op, ct_k_load_d(dt, ap), ct_k_load_d(dt, bp))
                                  : cmp_i(op, ct_k_load_i(dt, ap), ct_k_load_i(dt, bp));
        *(uint8_t *)opp = (uint8_t)r;
      } else {
        ct_k_store_i(dt, opp, bin_int(op, ct_k_load_i(dt, ap), ct_k_load_i(dt, bp)));
      }
    }
  }
  return CT_OK;
}

#define BINARY_KERNEL(ID)                                                                          \
  ct_status ct_kernel_##ID(CT_KERNEL_ARGS) {                                                       \
    return binary(CT_OP_##ID, attrs, n_attrs, in, n_in, out, n_out, err, err_size);                \
  }
BINARY_KERNEL(ADD)
BINARY_KERNEL(SUB)
BINARY_KERNEL(MUL)
BINARY_KERNEL(DIV)
BINARY_KERNEL(POW)
BINARY_KERNEL(MAXIMUM)
BINARY_KERNEL(MINIMUM)
BINARY_KERNEL(EQ)
BINARY_KERNEL(NE)
BINARY_KERNEL(LT)
BINARY_KERNEL(LE)
BINARY_KERNEL(GT)
BINARY_KERNEL(GE)
BINARY_KERNEL(LOGICAL_AND)
BINARY_KERNEL(LOGICAL_OR)

ct_status ct_kernel_LOGICAL_NOT(CT_KERNEL_ARGS) {
  ct_status st = check_counts("logical_not", n_in, 1, n_out, err, err_size);
  (void)attrs;
  (void)n_attrs;
  if (st) return st;
  ct_tensor *x = in[0], *o = out[0];
  if ((st = check_out("logical_not", o, err, err_size))) return st;
  if (x->dtype != CT_DT_BOOL || o->dtype != CT_DT_BOOL || !ct_shape_is(o, x->rank, x->shape))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "logical_not: needs bool operand and result of the same shape");
  int64_t s[1][CT_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    s[0][d] = x->strides[d];
  ct_iter it;
  iter_setup(&it, o, in, 1, s);
  char *p[2];
  int64_t n;
  while ((n = ct_iter_next(&it, p)) > 0) {
    int64_t sa = it.strides[1][it.rank - 1];
    for (int64_t i = 0; i < n; i++)
      p[0][i] = (char)(p[1][i * sa] == 0);
  }
  return CT_OK;
}

ct_status ct_kernel_WHERE(CT_KERNEL_ARGS) {
  ct_status st = check_counts("where", n_in, 3, n_out, err, err_size);
  (void)attrs;
  (void)n_attrs;
  if (st) return st;
  ct_tensor *o = out[0];
  if ((st = check_out("where", o, err, err_size))) return st;
  if (!in[0] || !in[1] || !in[2])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "where: missing operand");
  if (in[0]->dtype != CT_DT_BOOL)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "where: condition must be bool, got %s",
                          ct_dtype_name(in[0]->dtype));
  if (in[1]->dtype != in[2]->dtype || o->dtype != in[1]->dtype)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "where: x, y and result dtypes differ");
  int64_t s[3][CT_MAX_RANK];
  if ((st = bcast_setup("where", in, 3, o, s, err, err_size))) return st;
  ct_iter it;
  iter_setup(&it, o, in, 3, s);
  char *p[4];
  int64_t n;
  size_t es = ct_dtype_size(o->dtype);
  /* Typed rows for 1-, 4- and 8-byte elements (a select the compiler can vectorize). */
#define WHERE_ROWS(T)                                                                              \
  while ((n = ct_iter_next(&it, p)) > 0) {                                                         \
    int64_t sc = it.strides[1][it.rank - 1], sx = it.strides[2][it.rank - 1],                      \
            sy = it.strides[3][it.rank - 1];                                                       \
    T *dst = (T *)(void *)p[0];                                                                    \
    const T *xa = (const T *)(void *)p[2], *ya = (const T *)(void *)p[3];                          \
    const uint8_t *ca = (const uint8_t *)p[1];                                                     \
    for (int64_t i = 0; i < n; i++)                                                                \
      dst[i] = ca[i * sc] ? xa[i * sx] : ya[i * sy];                                               \
  }
  if (es == 4) {
    WHERE_ROWS(uint32_t)
  } else if (es == 8) {
    WHERE_ROWS(uint64_t)
  } else if (es == 1) {
    WHERE_ROWS(uint8_t)
  } else {
    while ((n = ct_iter_next(&it, p)) > 0) {
      int64_t sc = it.strides[1][it.rank - 1], sx = it.strides[2][it.rank - 1],
              sy = it.strides[3][it.rank - 1];
      for (int64_t i = 0; i < n; i++) {
        const char *src = p[1][i * sc] ? p[2] + i * sx * (int64_t)es : p[3] + i * sy * (int64_t)es;
        memcpy(p[0] + (size_t)i * es, src, es);
      }
    }
  }
#undef WHERE_ROWS
  return CT_OK;
}
