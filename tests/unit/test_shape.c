/* tests/unit/test_shape.c: the shape and dtype rules of ir/shape.c: result types of every op
 * (symbolic batch dims included), broadcasting, and the exact text of shape errors. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "testlib.h"

static ct_module *M;

/* Parses a type such as "f32[N,3]", "i64[]", "f32[2*N+1,4]" (symbols are created in M). */
static ct_type T(const char *s) {
  const char *lb = strchr(s, '[');
  ct_dtype dt = CT_DT_F32;
  if (ct_dtype_parse(s, (size_t)(lb - s), &dt) != 0) abort();
  ct_type t = ct_type_scalar(dt);
  const char *p = lb + 1;
  while (*p && *p != ']') {
    ct_dim d = ct_dim_const(0);
    int64_t k = strtoll(p, (char **)&p, 10);
    if (*p == '*') p++;
    if (isalpha((unsigned char)*p)) {
      const char *name = p;
      while (isalnum((unsigned char)*p)) p++;
      d = ct_dim_sym(ct_module_sym(M, name, (size_t)(p - name)));
      if (name > lb + 1 && name[-1] == '*') d.coef = k;
      if (*p == '+' || *p == '-') d.off = strtoll(p, (char **)&p, 10);
    } else {
      d = ct_dim_const(k);
    }
    t.dims[t.rank++] = d;
    if (*p == ',') p++;
  }
  return t;
}

/* Infers op's result and formats it, or returns the first error's text. */
static const char *infer(ct_op op, const ct_attr *attrs, int n_attrs, int n_in,
                         const char *const *types) {
  static char buf[512];
  ct_type in[8], out[8];
  for (int i = 0; i < n_in; i++) in[i] = T(types[i]);
  ct_diag diag;
  ct_diag_init(&diag);
  int n_out = -1;
  ct_loc loc = {"m.ctir", 3, 7};
  ct_status st = ct_infer_types(M, op, n_in, in, attrs, n_attrs, out, 8, &n_out, &diag, loc);
  if (st != CT_OK) {
    snprintf(buf, sizeof buf, "error: %s", ct_diag_first_error(&diag));
    CHECK(st == CT_ERR_SHAPE);
    CHECK(diag.n_errors == 1 && diag.items[0].line == 3 && diag.items[0].col == 7);
  } else if (n_out == 0) {
    snprintf(buf, sizeof buf, "(none)");
  } else {
    CHECK_EQ_INT(n_out, 1);
    ct_type_format(M, &out[0], buf, sizeof buf);
  }
  ct_diag_free(&diag);
  return buf;
}

#define TYPES(...) (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
                   ((const char *[]){__VA_ARGS__})
#define INFER(op, ...) infer(CT_OP_##op, NULL, 0, TYPES(__VA_ARGS__))
#define INFER_A(op, attrs, ...) \
  infer(CT_OP_##op, attrs, (int)(sizeof(attrs) / sizeof(attrs[0])), TYPES(__VA_ARGS__))

static void setup(void) {
  ct_module_free(M);
  M = ct_module_new();
  ct_module_sym(M, "N", 1);
}

static void test_every_op_has_rule(void) {
  setup();
  for (int op = 0; op < CT_OP_COUNT; op++) {
    if (op == CT_OP_FUSION) continue;
    ct_diag diag;
    ct_diag_init(&diag);
    ct_type out[8];
    int n_out;
    ct_status st = ct_infer_types(M, (ct_op)op, 0, NULL, NULL, 0, out, 8, &n_out, &diag,
                                  (ct_loc){0});
    CHECK_MSG(st != CT_ERR_UNSUPPORTED || !strstr(ct_diag_first_error(&diag), "no shape rule"),
              "op %s has no shape rule", ct_op_name((ct_op)op));
    ct_diag_free(&diag);
  }
}

static void test_elementwise(void) {
  setup();
  CHECK_STR_EQ(INFER(RELU, "f32[N,3]"), "f32[N,3]");
  CHECK_STR_EQ(INFER(NEG, "i64[2]"), "i64[2]");
  CHECK_STR_EQ(INFER(EXP, "i64[2]"), "error: exp: expected a float operand, got i64[2]");
  CHECK_STR_EQ(INFER(RELU, "bool[2]"), "error: relu: expected a numeric operand, got bool[2]");
  CHECK_STR_EQ(INFER(SQRT, "f64[]"), "f64[]");
  ct_attr tanh_a[] = {ct_attr_str("approximate", "tanh")};
  CHECK_STR_EQ(INFER_A(GELU, tanh_a, "f32[N]"), "f32[N]");
  ct_attr bad_a[] = {ct_attr_str("approximate", "fast")};
  CHECK_STR_EQ(INFER_A(GELU, bad_a, "f32[N]"),
               "error: gelu: approximate must be \"none\" or \"tanh\", got \"fast\"");
  ct_attr cast_a[] = {ct_attr_dtype("dtype", CT_DT_I32)};
  CHECK_STR_EQ(INFER_A(CAST, cast_a, "f32[N,2]"), "i32[N,2]");
  CHECK_STR_EQ(INFER(CAST, "f32[N,2]"), "error: cast: missing attribute 'dtype'");
  CHECK_STR_EQ(INFER(LOGICAL_NOT, "bool[3]"), "bool[3]");
  CHECK_STR_EQ(INFER(LOGICAL_NOT, "f32[3]"), "error: logical_not: operand must be bool, got f32[3]");
  CHECK_STR_EQ(INFER(RELU, "f32[3]", "f32[3]"), "error: relu: expected 1 operand, got 2");
}

static void test_broadcast(void) {
  setup();
  CHECK_STR_EQ(INFER(ADD, "f32[N,3]", "f32[3]"), "f32[N,3]");
  CHECK_STR_EQ(INFER(MUL, "f32[N,1,5]", "f32[4,1]"), "f32[N,4,5]");
  CHECK_STR_EQ(INFER(SUB, "f32[1]", "f32[N,2*N+1]"), "f32[N,2*N+1]");
  CHECK_STR_EQ(INFER(ADD, "f32[]", "f32[N]"), "f32[N]");
  CHECK_STR_EQ(INFER(ADD, "f32[N,3]", "f32[4]"), "error: add: cannot broadcast f32[N,3] with f32[4]");
  CHECK_STR_EQ(INFER(ADD, "f32[N]", "f32[2*N]"), "error: add: cannot broadcast f32[N] with f32[2*N]");
  CHECK_STR_EQ(INFER(ADD, "f32[N]", "f64[N]"), "error: add: operand dtypes differ: f32[N] and f64[N]");
  CHECK_STR_EQ(INFER(DIV, "i64[2]", "i64[2]"), "error: div: expected a float operand, got i64[2]");
  CHECK_STR_EQ(INFER(LT, "f32[N,1]", "f32[4]"), "bool[N,4]");
  CHECK_STR_EQ(INFER(EQ, "i64[N]", "i32[N]"), "error: eq: operand dtypes differ: i64[N] and i32[N]");
  CHECK_STR_EQ(INFER(LOGICAL_AND, "bool[N]", "bool[1]"), "bool[N]");
  CHECK_STR_EQ(INFER(LOGICAL_OR, "bool[N]", "f32[N]"),
               "error: logical_or: operand 1 must be bool, got f32[N]");
  CHECK_STR_EQ(INFER(WHERE, "bool[N,1]", "f32[3]", "f32[]"), "f32[N,3]");
  CHECK_STR_EQ(INFER(WHERE, "bool[2]", "f32[3]", "f32[]"),
               "error: where: cannot broadcast bool[2], f32[3] and f32[]");
  CHECK_STR_EQ(INFER(WHERE, "f32[3]", "f32[3]", "f32[3]"),
               "error: where: condition must be bool, got f32[3]");
  ct_type a = T("f32[N,1]"), b = T("f32[1,7]"), r;
  CHECK(ct_broadcast_shapes(&a, &b, &r));
  CHECK_EQ_INT(r.rank, 2);
  CHECK(ct_dim_eq(r.dims[0], ct_dim_sym(1)) && ct_dim_eq(r.dims[1], ct_dim_const(7)));
  a = T("f32[N,2]");
  b = T("f32[N+1]");
  CHECK(!ct_broadcast_shapes(&a, &b, &r));
}

static void test_sources(void) {
  setup();
  ct_dim shape[2] = {ct_dim_sym(1), ct_dim_const(4)};
  ct_attr c1[] = {ct_attr_dtype("dtype", CT_DT_F64), ct_attr_dims("shape", 2, shape)};
  CHECK_STR_EQ(infer(CT_OP_CONSTANT, c1, 2, 0, NULL), "f64[N,4]");
  double data[3] = {1, 2, 3};
  ct_dim s3[2] = {ct_dim_const(2), ct_dim_const(2)};
  ct_attr c2[] = {ct_attr_dims("shape", 2, s3), ct_attr_dtype("dtype", CT_DT_F32),
                  ct_attr_floats("data", 3, data)};
  CHECK_STR_EQ(infer(CT_OP_CONSTANT, c2, 3, 0, NULL), "error: constant: data holds 3 values, f32[2,2] needs 4");
  ct_attr oh[] = {ct_attr_int("num_classes", 10)};
  CHECK_STR_EQ(INFER_A(ONE_HOT, oh, "i64[N]"), "f32[N,10]");
  ct_attr oh2[] = {ct_attr_dtype("dtype", CT_DT_I64), ct_attr_int("num_classes", 3)};
  CHECK_STR_EQ(INFER_A(ONE_HOT, oh2, "i64[N,2]"), "i64[N,2,3]");
  CHECK_STR_EQ(INFER_A(ONE_HOT, oh, "f32[N]"), "error: one_hot: indices must be i64, got f32[N]");
}

static void test_reductions(void) {
  setup();
  CHECK_STR_EQ(INFER(SUM, "f32[N,3,4]"), "f32[]");
  int64_t d1[] = {1}, dneg[] = {-1, 0}, drep[] = {1, -2}, dbad[] = {3};
  ct_attr a1[] = {ct_attr_ints("dims", 1, d1)};
  CHECK_STR_EQ(INFER_A(SUM, a1, "f32[N,3,4]"), "f32[N,4]");
  ct_attr a2[] = {ct_attr_bool("keepdim", true), ct_attr_ints("dims", 2, dneg)};
  CHECK_STR_EQ(INFER_A(MEAN, a2, "f32[N,3,4]"), "f32[1,3,1]");
  ct_attr a3[] = {ct_attr_bool("keepdim", true)};
  CHECK_STR_EQ(INFER_A(AMAX, a3, "i64[N,3]"), "i64[1,1]");
  ct_attr a4[] = {ct_attr_ints("dims", 2, drep)};
  CHECK_STR_EQ(INFER_A(AMIN, a4, "f32[N,3,4]"), "error: amin: dim -2 repeated");
  ct_attr a5[] = {ct_attr_ints("dims", 1, dbad)};
  CHECK_STR_EQ(INFER_A(SUM, a5, "f32[N,3,4]"), "error: sum: dim 3 out of range for f32[N,3,4]");
  CHECK_STR_EQ(INFER(MEAN, "i64[3]"), "error: mean: expected a float operand, got i64[3]");
  CHECK_STR_EQ(INFER(SUM, "bool[3]"), "error: sum: expected a float, i64 or i32 operand, got bool[3]");
  ct_attr am[] = {ct_attr_int("dim", -1)};
  CHECK_STR_EQ(INFER_A(ARGMAX, am, "f32[N,10]"), "i64[N]");
  ct_attr amk[] = {ct_attr_bool("keepdim", true), ct_attr_int("dim", 1)};
  CHECK_STR_EQ(INFER_A(ARGMAX, amk, "f32[N,10]"), "i64[N,1]");
  CHECK_STR_EQ(INFER(ARGMAX, "f32[N,10]"), "error: argmax: missing attribute 'dim'");
  CHECK_STR_EQ(INFER_A(SOFTMAX, am, "f32[N,10]"), "f32[N,10]");
  ct_attr sm2[] = {ct_attr_int("dim", 2)};
  CHECK_STR_EQ(INFER_A(LOG_SOFTMAX, sm2, "f32[N,10]"),
               "error: log_softmax: dim 2 out of range for f32[N,10]");
}

static void test_reshape_symbolic(void) {
  setup();
  ct_dim flat[2] = {ct_dim_sym(1), ct_dim_const(400)};
  ct_attr r1[] = {ct_attr_dims("shape", 2, flat)};
  CHECK_STR_EQ(INFER_A(RESHAPE, r1, "f32[N,16,5,5]"), "f32[N,400]");
  ct_dim back[4] = {ct_dim_sym(1), ct_dim_const(16), ct_dim_const(25), ct_dim_const(1)};
  ct_attr r2[] = {ct_attr_dims("shape", 4, back)};
  CHECK_STR_EQ(INFER_A(RESHAPE, r2, "f32[N,400]"), "f32[N,16,25,1]");
  ct_dim merged[1] = {{400, 0, 1}};
  ct_attr r3[] = {ct_attr_dims("shape", 1, merged)};
  CHECK_STR_EQ(INFER_A(RESHAPE, r3, "f32[N,16,5,5]"), "f32[400*N]");
  ct_dim wrong[2] = {ct_dim_sym(1), ct_dim_const(401)};
  ct_attr r4[] = {ct_attr_dims("shape", 2, wrong)};
  CHECK_STR_EQ(INFER_A(RESHAPE, r4, "f32[N,16,5,5]"),
               "error: reshape: cannot reshape f32[N,16,5,5] to f32[N,401]: element counts differ");
  ct_dim fixed[1] = {ct_dim_const(400)};
  ct_attr r5[] = {ct_attr_dims("shape", 1, fixed)};
  CHECK_STR_EQ(INFER_A(RESHAPE, r5, "f32[N,400]"),
               "error: reshape: cannot reshape f32[N,400] to f32[400]: element counts differ");
  ct_dim nt[1] = {ct_dim_sym(1)};
  ct_attr r6[] = {ct_attr_dims("shape", 1, nt)};
  CHECK_STR_EQ(INFER_A(RESHAPE, r6, "f32[N,T]"),
               "error: reshape: cannot reshape f32[N,T] to f32[N]: element counts not provably "
               "equal");

  /* through the builder: flatten keeps N */
  ct_graph *g = ct_module_add_graph(M, "forward");
  ct_value *x = ct_graph_add_input(g, "x", T("f32[N,16,5,5]"));
  ct_diag diag;
  ct_diag_init(&diag);
  ct_builder b = ct_builder_at_end(M, g->body, &diag);
  ct_value *y = ct_build_reshape(&b, x, 2, flat);
  CHECK(y != NULL);
  char buf[64];
  ct_type_format(M, &y->type, buf, sizeof buf);
  CHECK_STR_EQ(buf, "f32[N,400]");
  CHECK(ct_build_reshape(&b, x, 2, wrong) == NULL);
  CHECK_EQ_INT(diag.n_errors, 1);
  ct_diag_free(&diag);
}

static void test_shape_ops(void) {
  setup();
  int64_t perm[3] = {0, -1, 1}, bad[3] = {0, 0, 1};
  ct_attr p1[] = {ct_attr_ints("dims", 3, perm)};
  CHECK_STR_EQ(INFER_A(PERMUTE, p1, "f32[N,3,4]"), "f32[N,4,3]");
  ct_attr p2[] = {ct_attr_ints("dims", 3, bad)};
  CHECK_STR_EQ(INFER_A(PERMUTE, p2, "f32[N,3,4]"), "error: permute: dims is not a permutation of 3 dims");
  CHECK_STR_EQ(INFER_A(PERMUTE, p1, "f32[N,3]"), "error: permute: dims has 3 entries, f32[N,3] has rank 2");
  ct_dim ex[3] = {ct_dim_const(2), ct_dim_sym(1), ct_dim_const(5)};
  ct_attr e1[] = {ct_attr_dims("shape", 3, ex)};
  CHECK_STR_EQ(INFER_A(EXPAND, e1, "f32[N,1]"), "f32[2,N,5]");
  CHECK_STR_EQ(INFER_A(EXPAND, e1, "f32[N,3]"), "error: expand: cannot expand f32[N,3] to f32[2,N,5]");
  ct_attr c0[] = {ct_attr_int("dim", -1)};
  CHECK_STR_EQ(INFER_A(CONCAT, c0, "f32[N,3]", "f32[N,4]", "f32[N,1]"), "f32[N,8]");
  ct_attr c1[] = {ct_attr_int("dim", 0)};
  CHECK_STR_EQ(INFER_A(CONCAT, c1, "f32[N,3]", "f32[N,3]"), "f32[2*N,3]");
  CHECK_STR_EQ(INFER_A(CONCAT, c1, "f32[N,3]", "f32[2,4]"),
               "error: concat: cannot concatenate f32[N,3] with f32[2,4] along dim 0");
  CHECK_STR_EQ(infer(CT_OP_CONCAT, c1, 1, 0, NULL), "error: concat: expected at least 1 operand, got 0");
}

static void test_slice(void) {
  setup();
  ct_attr s1[] = {ct_attr_int("dim", 1), ct_attr_int("start", 1), ct_attr_int("end", 7),
                  ct_attr_int("step", 2)};
  CHECK_STR_EQ(INFER_A(SLICE, s1, "f32[N,10]"), "f32[N,3]");
  ct_attr s2[] = {ct_attr_int("dim", -1), ct_attr_int("start", -3),
                  ct_attr_int("end", INT64_MAX)};
  CHECK_STR_EQ(INFER_A(SLICE, s2, "f32[N,10]"), "f32[N,3]");
  ct_attr s3[] = {ct_attr_int("dim", 1), ct_attr_int("start", 5), ct_attr_int("end", 100)};
  CHECK_STR_EQ(INFER_A(SLICE, s3, "f32[N,10]"), "f32[N,5]");
  ct_attr s4[] = {ct_attr_int("dim", 1), ct_attr_int("start", 8), ct_attr_int("end", 2)};
  CHECK_STR_EQ(INFER_A(SLICE, s4, "f32[N,10]"), "f32[N,0]");
  ct_attr s5[] = {ct_attr_int("dim", 0), ct_attr_int("start", 1), ct_attr_int("end", INT64_MAX)};
  CHECK_STR_EQ(INFER_A(SLICE, s5, "f32[N,10]"), "f32[N-1,10]");
  ct_attr s6[] = {ct_attr_int("dim", 0), ct_attr_int("start", 0), ct_attr_int("end", 2),
                  ct_attr_int("step", 0)};
  CHECK_STR_EQ(INFER_A(SLICE, s6, "f32[N,10]"), "error: slice: step must be >= 1, got 0");
  ct_dim xs[2] = {ct_dim_sym(1), ct_dim_const(10)};
  ct_attr g1[] = {ct_attr_dims("shape", 2, xs), ct_attr_int("dim", 1), ct_attr_int("start", 1),
                  ct_attr_int("end", 7), ct_attr_int("step", 2)};
  CHECK_STR_EQ(INFER_A(SLICE_GRAD, g1, "f32[N,3]"), "f32[N,10]");
  CHECK_STR_EQ(INFER_A(SLICE_GRAD, g1, "f32[N,4]"),
               "error: slice_grad: gradient f32[N,4] does not match the slice f32[N,3] of "
               "f32[N,10]");
}

static void test_matmul_linear(void) {
  setup();
  CHECK_STR_EQ(INFER(MATMUL, "f32[N,3]", "f32[3,5]"), "f32[N,5]");
  CHECK_STR_EQ(INFER(MATMUL, "f32[3]", "f32[3]"), "f32[]");
  CHECK_STR_EQ(INFER(MATMUL, "f32[3]", "f32[2,3,5]"), "f32[2,5]");
  CHECK_STR_EQ(INFER(MATMUL, "f32[N,4,3]", "f32[3]"), "f32[N,4]");
  CHECK_STR_EQ(INFER(MATMUL, "f32[N,1,4,3]", "f32[7,3,5]"), "f32[N,7,4,5]");
  CHECK_STR_EQ(INFER(MATMUL, "f32[2,3]", "f32[4,5]"), "error: matmul: cannot multiply f32[2,3] by f32[4,5]");
  CHECK_STR_EQ(INFER(MATMUL, "f32[2,4,3]", "f32[5,3,5]"),
               "error: matmul: cannot broadcast batch dims of f32[2,4,3] and f32[5,3,5]");
  CHECK_STR_EQ(INFER(LINEAR, "f32[N,784]", "f32[256,784]", "f32[256]"), "f32[N,256]");
  CHECK_STR_EQ(INFER(LINEAR, "f32[N,T,8]", "f32[4,8]"), "f32[N,T,4]");
  CHECK_STR_EQ(INFER(LINEAR, "f32[N,784]", "f32[256,780]"),
               "error: linear: input f32[N,784] does not match weight f32[256,780]");
  CHECK_STR_EQ(INFER(LINEAR, "f32[N,784]", "f32[256,784]", "f32[10]"),
               "error: linear: bias f32[10] does not match weight f32[256,784]");
}

static void test_conv_pool(void) {
  setup();
  CHECK_STR_EQ(INFER(CONV2D, "f32[N,1,28,28]", "f32[6,1,5,5]", "f32[6]"), "f32[N,6,24,24]");
  int64_t two[2] = {2, 2}, one[2] = {1, 1}, three[2] = {3, 3};
  ct_attr a1[] = {ct_attr_ints("padding", 2, two), ct_attr_ints("stride", 2, two)};
  CHECK_STR_EQ(INFER_A(CONV2D, a1, "f32[N,3,32,31]", "f32[8,3,5,5]"), "f32[N,8,16,16]");
  ct_attr a2[] = {ct_attr_ints("dilation", 2, two), ct_attr_ints("padding", 2, one)};
  CHECK_STR_EQ(INFER_A(CONV2D, a2, "f32[N,3,10,10]", "f32[4,3,3,3]"), "f32[N,4,8,8]");
  ct_attr g2[] = {ct_attr_int("groups", 2)};
  CHECK_STR_EQ(INFER_A(CONV2D, g2, "f32[N,4,8,8]", "f32[6,2,3,3]"), "f32[N,6,6,6]");
  CHECK_STR_EQ(INFER_A(CONV2D, g2, "f32[N,4,8,8]", "f32[6,4,3,3]"),
               "error: conv2d: input f32[N,4,8,8] does not match weight f32[6,4,3,3] with groups=2");
  CHECK_STR_EQ(INFER(CONV2D, "f32[N,1,3,3]", "f32[6,1,5,5]"),
               "error: conv2d: input f32[N,1,3,3] is too small: output size -1");
  /* symbolic spatial dims: H = 2*S works with stride 2, S alone does not */
  CHECK_STR_EQ(INFER_A(CONV2D, a1, "f32[N,3,4*S,4*S]", "f32[8,3,5,5]"), "f32[N,8,2*S,2*S]");
  CHECK_STR_EQ(INFER_A(CONV2D, a1, "f32[N,3,S,S]", "f32[8,3,5,5]"),
               "error: conv2d: unsupported symbolic shape f32[N,3,S,S]: output size is not "
               "affine in one symbol");

  ct_dim xs[4] = {ct_dim_sym(1), ct_dim_const(1), ct_dim_const(28), ct_dim_const(28)};
  ct_attr gi[] = {ct_attr_dims("input_shape", 4, xs)};
  CHECK_STR_EQ(INFER_A(CONV2D_GRAD_INPUT, gi, "f32[N,6,24,24]", "f32[6,1,5,5]"), "f32[N,1,28,28]");
  CHECK_STR_EQ(INFER_A(CONV2D_GRAD_INPUT, gi, "f32[N,6,23,24]", "f32[6,1,5,5]"),
               "error: conv2d_grad_input: gradient f32[N,6,23,24] does not match the forward "
               "result f32[N,6,24,24]");
  ct_dim ws[4] = {ct_dim_const(6), ct_dim_const(1), ct_dim_const(5), ct_dim_const(5)};
  ct_attr gw[] = {ct_attr_dims("weight_shape", 4, ws)};
  CHECK_STR_EQ(INFER_A(CONV2D_GRAD_WEIGHT, gw, "f32[N,6,24,24]", "f32[N,1,28,28]"), "f32[6,1,5,5]");

  ct_attr p1[] = {ct_attr_ints("kernel_size", 2, two), ct_attr_ints("stride", 2, two)};
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p1, "f32[N,6,24,24]"), "f32[N,6,12,12]");
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p1, "f32[6,5,5]"), "f32[6,2,2]");
  ct_attr p2[] = {ct_attr_bool("ceil_mode", true), ct_attr_ints("kernel_size", 2, two),
                  ct_attr_ints("stride", 2, two)};
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p2, "f32[N,6,5,5]"), "f32[N,6,3,3]");
  /* ceil_mode: the last window would start in the padding and is dropped */
  ct_attr p3[] = {ct_attr_bool("ceil_mode", true), ct_attr_ints("kernel_size", 2, two),
                  ct_attr_ints("stride", 2, two), ct_attr_ints("padding", 2, one)};
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p3, "f32[N,1,5,5]"), "f32[N,1,3,3]");
  CHECK_STR_EQ(INFER_A(AVG_POOL2D, p3, "f32[N,1,6,6]"), "f32[N,1,4,4]");
  ct_attr p4[] = {ct_attr_ints("kernel_size", 2, three), ct_attr_ints("stride", 2, one),
                  ct_attr_ints("dilation", 2, two)};
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p4, "f32[N,1,10,10]"), "f32[N,1,6,6]");
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p1, "f32[N,6,2*S,2*S]"), "f32[N,6,S,S]");
  ct_attr p5[] = {ct_attr_ints("kernel_size", 2, two), ct_attr_ints("stride", 2, two),
                  ct_attr_ints("padding", 2, three)};
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p5, "f32[N,6,24,24]"),
               "error: max_pool2d: padding 3 must be at most half the kernel size 2");
  ct_attr p6[] = {ct_attr_ints("kernel_size", 2, two)};
  CHECK_STR_EQ(INFER_A(MAX_POOL2D, p6, "f32[N,6,24,24]"),
               "error: max_pool2d: missing attribute 'stride'");
  CHECK_STR_EQ(INFER_A(MAX_POOL2D_GRAD, p1, "f32[N,6,12,12]", "f32[N,6,24,24]"), "f32[N,6,24,24]");
  CHECK_STR_EQ(INFER_A(AVG_POOL2D_GRAD, p1, "f32[N,6,12,12]", "f32[N,6,25,25]"), "f32[N,6,25,25]");
  CHECK_STR_EQ(INFER_A(AVG_POOL2D_GRAD, p1, "f32[N,6,11,12]", "f32[N,6,24,24]"),
               "error: avg_pool2d_grad: gradient f32[N,6,11,12] does not match the forward "
               "result f32[N,6,12,12]");
}

static void test_norm_embedding(void) {
  setup();
  CHECK_STR_EQ(INFER(BATCH_NORM, "f32[N,16,5,5]", "f32[16]", "f32[16]", "f32[16]", "f32[16]"),
               "f32[N,16,5,5]");
  CHECK_STR_EQ(INFER(BATCH_NORM, "f32[N,16,5,5]", "f32[16]", "f32[16]", "f32[8]", "f32[16]"),
               "error: batch_norm: running_mean f32[8] does not match input f32[N,16,5,5]");
  int64_t ns[1] = {8};
  ct_attr ln[] = {ct_attr_ints("normalized_shape", 1, ns)};
  CHECK_STR_EQ(INFER_A(LAYER_NORM, ln, "f32[N,T,8]", "f32[8]", "f32[8]"), "f32[N,T,8]");
  CHECK_STR_EQ(INFER_A(LAYER_NORM, ln, "f32[N,T,8]"), "f32[N,T,8]");
  CHECK_STR_EQ(INFER_A(LAYER_NORM, ln, "f32[N,T,8]", "f32[8]"),
               "error: layer_norm: takes weight and bias together, or neither");
  CHECK_STR_EQ(INFER_A(LAYER_NORM, ln, "f32[N,8,4]"),
               "error: layer_norm: normalized_shape f32[8] does not match input f32[N,8,4]");
  CHECK_STR_EQ(INFER(EMBEDDING, "i64[N,T]", "f32[100,16]"), "f32[N,T,16]");
  CHECK_STR_EQ(INFER(EMBEDDING, "i32[N]", "f32[100,16]"), "f32[N,16]");
  CHECK_STR_EQ(INFER(EMBEDDING, "f32[N]", "f32[100,16]"),
               "error: embedding: indices must be i64 or i32, got f32[N]");
  ct_attr eg[] = {ct_attr_int("num_weights", 100)};
  CHECK_STR_EQ(INFER_A(EMBEDDING_GRAD, eg, "f32[N,T,16]", "i64[N,T]"), "f32[100,16]");
  CHECK_STR_EQ(INFER_A(EMBEDDING_GRAD, eg, "f32[N,16]", "i64[N,T]"),
               "error: embedding_grad: gradient f32[N,16] does not match indices i64[N,T]");
  CHECK_STR_EQ(INFER(RETURN, "f32[N]", "i64[]"), "(none)");
  CHECK_STR_EQ(infer(CT_OP_RETURN, NULL, 0, 0, NULL), "(none)");
}

static void test_norm_dim(void) {
  CHECK_EQ_INT(ct_norm_dim(-1, 3), 2);
  CHECK_EQ_INT(ct_norm_dim(-3, 3), 0);
  CHECK_EQ_INT(ct_norm_dim(-4, 3), -1);
  CHECK_EQ_INT(ct_norm_dim(3, 3), -1);
  CHECK_EQ_INT(ct_norm_dim(0, 0), -1);
}

int main(void) {
  RUN_TEST(test_every_op_has_rule);
  RUN_TEST(test_elementwise);
  RUN_TEST(test_broadcast);
  RUN_TEST(test_sources);
  RUN_TEST(test_reductions);
  RUN_TEST(test_reshape_symbolic);
  RUN_TEST(test_shape_ops);
  RUN_TEST(test_slice);
  RUN_TEST(test_matmul_linear);
  RUN_TEST(test_conv_pool);
  RUN_TEST(test_norm_embedding);
  RUN_TEST(test_norm_dim);
  ct_module_free(M);
  return test_summary();
}
