/* tests/unit/test_attr_eq.c: ct_attr_eq, the one attribute comparison: every kind in both
 * modes, and the float semantics that tell them apart (bits for cse, IR text for the printer). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ir.h"
#include "testlib.h"

static const ct_attr_eq_mode modes[2] = {CT_ATTR_EQ_BITWISE, CT_ATTR_EQ_TEXT};

static double nan_with_payload(uint64_t payload) {
  uint64_t bits = 0x7ff8000000000000ull | payload;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* Kinds other than the floats compare the same way in both modes. */
static void test_exact_kinds(void) {
  int64_t i3[3] = {1, 2, 3}, j3[3] = {1, 2, 4};
  ct_dim d2[2] = {ct_dim_sym(1), ct_dim_const(4)}, e2[2] = {ct_dim_sym(2), ct_dim_const(4)};
  for (int k = 0; k < 2; k++) {
    ct_attr_eq_mode md = modes[k];
    ct_attr a = ct_attr_int("dim", 1), b = ct_attr_int("dim", 1), c = ct_attr_int("dim", 2);
    CHECK(ct_attr_eq(&a, &b, md) && !ct_attr_eq(&a, &c, md));
    ct_attr t = ct_attr_bool("keepdim", 1), f = ct_attr_bool("keepdim", 0);
    CHECK(ct_attr_eq(&t, &t, md) && !ct_attr_eq(&t, &f, md));
    /* an int 1 is not a bool true: kinds differ */
    ct_attr one = ct_attr_int("keepdim", 1);
    CHECK(!ct_attr_eq(&t, &one, md));
    ct_attr x = ct_attr_dtype("dtype", CT_DT_F32), y = ct_attr_dtype("dtype", CT_DT_F64);
    CHECK(ct_attr_eq(&x, &x, md) && !ct_attr_eq(&x, &y, md));
    ct_attr s = ct_attr_str("kind", "row"), s2 = ct_attr_str("kind", "row"),
            s3 = ct_attr_str("kind", "col"), sn = ct_attr_str("kind", NULL),
            se = ct_attr_str("kind", "");
    CHECK(ct_attr_eq(&s, &s2, md) && !ct_attr_eq(&s, &s3, md));
    CHECK(ct_attr_eq(&sn, &se, md) && !ct_attr_eq(&sn, &s, md));
    ct_attr ia = ct_attr_ints("shape", 3, i3), ib = ct_attr_ints("shape", 3, j3),
            ic = ct_attr_ints("shape", 2, i3), ie = ct_attr_ints("shape", 0, NULL);
    CHECK(ct_attr_eq(&ia, &ia, md) && !ct_attr_eq(&ia, &ib, md) && !ct_attr_eq(&ia, &ic, md));
    CHECK(ct_attr_eq(&ie, &ie, md) && !ct_attr_eq(&ie, &ia, md));
    ct_attr da = ct_attr_dims("shape", 2, d2), db = ct_attr_dims("shape", 2, e2),
            dc = ct_attr_dims("shape", 1, d2);
    CHECK(ct_attr_eq(&da, &da, md) && !ct_attr_eq(&da, &db, md) && !ct_attr_eq(&da, &dc, md));
    /* the same numbers as ints and as dims are different kinds */
    int64_t four[1] = {4};
    ct_dim dfour[1] = {ct_dim_const(4)};
    ct_attr i4 = ct_attr_ints("shape", 1, four), d4 = ct_attr_dims("shape", 1, dfour);
    CHECK(!ct_attr_eq(&i4, &d4, md));
    /* names are the caller's business */
    ct_attr other = ct_attr_int("axis", 1);
    CHECK(ct_attr_eq(&a, &other, md));
  }
}

static void test_floats_both_modes(void) {
  double v[2] = {0.5, -2.0}, w[2] = {0.5, -2.0}, u[2] = {0.5, 2.0};
  for (int k = 0; k < 2; k++) {
    ct_attr a = ct_attr_float("p", 0.5), b = ct_attr_float("p", 0.5), c = ct_attr_float("p", 0.25);
    CHECK(ct_attr_eq(&a, &b, modes[k]) && !ct_attr_eq(&a, &c, modes[k]));
    /* -0.0 == 0.0 as numbers, but they print differently and fold differently (1/x) */
    ct_attr z = ct_attr_float("p", 0.0), nz = ct_attr_float("p", -0.0);
    CHECK(!ct_attr_eq(&z, &nz, modes[k]));
    ct_attr fa = ct_attr_floats("data", 2, v), fb = ct_attr_floats("data", 2, w),
            fc = ct_attr_floats("data", 2, u), fd = ct_attr_floats("data", 1, v);
    CHECK(ct_attr_eq(&fa, &fb, modes[k]) && !ct_attr_eq(&fa, &fc, modes[k]));
    CHECK(!ct_attr_eq(&fa, &fd, modes[k]));
  }
}

/* NaN: BITWISE compares the bits (same payload equal, other payload or sign not); TEXT makes
 * every NaN equal, since the printer writes them all as `nan`. */
static void test_nan(void) {
  double q = nan_with_payload(0), q2 = nan_with_payload(0), p = nan_with_payload(1), neg = -q;
  ct_attr a = ct_attr_float("value", q), b = ct_attr_float("value", q2),
          c = ct_attr_float("value", p), d = ct_attr_float("value", neg),
          one = ct_attr_float("value", 1.0);
  CHECK(ct_attr_eq(&a, &b, CT_ATTR_EQ_BITWISE));
  CHECK(!ct_attr_eq(&a, &c, CT_ATTR_EQ_BITWISE));
  CHECK(!ct_attr_eq(&a, &d, CT_ATTR_EQ_BITWISE));
  CHECK(ct_attr_eq(&a, &b, CT_ATTR_EQ_TEXT));
  CHECK(ct_attr_eq(&a, &c, CT_ATTR_EQ_TEXT));
  CHECK(ct_attr_eq(&a, &d, CT_ATTR_EQ_TEXT));
  CHECK(!ct_attr_eq(&a, &one, CT_ATTR_EQ_TEXT) && !ct_attr_eq(&one, &a, CT_ATTR_EQ_TEXT));
  double xs[2] = {1.0, q}, ys[2] = {1.0, p};
  ct_attr fx = ct_attr_floats("data", 2, xs), fy = ct_attr_floats("data", 2, ys);
  CHECK(!ct_attr_eq(&fx, &fy, CT_ATTR_EQ_BITWISE));
  CHECK(ct_attr_eq(&fx, &fy, CT_ATTR_EQ_TEXT));
}

int main(void) {
  RUN_TEST(test_exact_kinds);
  RUN_TEST(test_floats_both_modes);
  RUN_TEST(test_nan);
  return test_summary();
}
