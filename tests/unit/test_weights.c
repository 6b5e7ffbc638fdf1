/* tests/unit/test_weights.c: binding parameters from safetensors by state_dict key, and drawing
 * defaults from init specs (checked against the distributions' moments and bounds). */
#include <math.h>
#include <stdlib.h>

#include "ctorch/safetensors.h"
#include "ir.h"
#include "testlib.h"

static ct_module *two_params(void) {
  ct_module *m = ct_module_new();
  int64_t ws[2] = {300, 200}, bs[1] = {300};
  ct_module_add_param(m, "fc.weight", ct_type_concrete(CT_DT_F32, 2, ws), CT_PARAM_WEIGHT, NULL);
  ct_module_add_param(m, "fc.bias", ct_type_concrete(CT_DT_F32, 1, bs), CT_PARAM_WEIGHT, NULL);
  return m;
}

static ct_st_file *serialize(int n, const char *const *names, ct_tensor *const *ts) {
  void *buf = NULL;
  size_t len = 0;
  ct_diag d;
  ct_diag_init(&d);
  ct_st_file *f = NULL;
  if (ct_st_serialize(n, names, ts, 0, NULL, NULL, &buf, &len, &d) == CT_OK)
    ct_st_parse(buf, len, "w.safetensors", &f, &d);
  free(buf);
  ct_diag_free(&d);
  return f;
}

static void test_bind(void) {
  ct_module *m = two_params();
  int64_t ws[2] = {300, 200}, bs[1] = {300};
  ct_tensor *w = ct_tensor_zeros(CT_DT_F32, 2, ws), *b = ct_tensor_zeros(CT_DT_F32, 1, bs);
  ct_tensor_set(w, 7, 1.5);
  ct_tensor_set(b, 299, -2.0);
  const char *names[2] = {"fc.bias", "fc.weight"};
  ct_tensor *ts[2] = {b, w};
  ct_st_file *f = serialize(2, names, ts);
  CHECK(f != NULL);
  ct_diag d;
  ct_diag_init(&d);
  CHECK_OK(ct_module_bind_weights(m, f, &d));
  CHECK(ct_tensor_get(ct_module_find_param(m, "fc.weight")->init, 7) == 1.5);
  CHECK(ct_tensor_get(ct_module_find_param(m, "fc.bias")->init, 299) == -2.0);
  ct_st_free(f); /* bound tensors stay valid */
  CHECK(ct_tensor_get(ct_module_find_param(m, "fc.weight")->init, 7) == 1.5);
  ct_diag_free(&d);
  ct_tensor_release(w);
  ct_tensor_release(b);
  ct_module_free(m);
}

static void test_bind_errors(void) {
  ct_module *m = two_params();
  int64_t other[2] = {200, 300};
  ct_tensor *w = ct_tensor_zeros(CT_DT_F32, 2, other), *x = ct_tensor_zeros(CT_DT_F32, 0, NULL);
  const char *names[2] = {"fc.weight", "extra"};
  ct_tensor *ts[2] = {w, x};
  ct_st_file *f = serialize(2, names, ts);
  ct_diag d;
  ct_diag_init(&d);
  CHECK(ct_module_bind_weights(m, f, &d) != CT_OK);
  CHECK_EQ_INT(d.n_errors, 3);
  if (d.n >= 3) {
    CHECK_STR_EQ(d.items[0].msg, "weights: key 'fc.weight' is f32[200,300], the model expects "
                                 "f32[300,200]");
    CHECK_STR_EQ(d.items[1].msg, "weights: missing key 'fc.bias' (expected f32[300])");
    CHECK_STR_EQ(d.items[2].msg, "weights: unexpected key 'extra' (not a parameter of the model)");
  }
  ct_diag_free(&d);
  ct_st_free(f);
  ct_tensor_release(w);
  ct_tensor_release(x);
  ct_module_free(m);
}

static void test_init_specs(void) {
  ct_module *m = two_params();
  m->params[0].init_spec = "uniform(-0.25,0.25)";
  m->params[1].init_spec = "normal(1,2)";
  ct_diag d;
  ct_diag_init(&d);
  CHECK_OK(ct_module_init_params(m, 42, &d));
  ct_tensor *w = m->params[0].init, *b = m->params[1].init;
  double lo = 1, hi = -1, sum = 0;
  for (int64_t i = 0; i < ct_tensor_numel(w); i++) {
    double v = ct_tensor_get(w, i);
    lo = fmin(lo, v), hi = fmax(hi, v), sum += v;
  }
  CHECK(lo >= -0.25 && hi < 0.25 && lo < -0.24 && hi > 0.24);
  CHECK(fabs(sum / ct_tensor_numel(w)) < 0.01); /* mean 0; sd of the mean ~0.0006 */
  double s1 = 0, s2 = 0;
  int64_t n = ct_tensor_numel(b);
  for (int64_t i = 0; i < n; i++) s1 += ct_tensor_get(b, i), s2 += ct_tensor_get(b, i) * ct_tensor_get(b, i);
  double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
  CHECK(fabs(mean - 1) < 0.4 && fabs(sd - 2) < 0.4);
  /* Same seed, same values; parameters that have values are left alone. */
  ct_module *m2 = two_params();
  m2->params[0].init_spec = "uniform(-0.25,0.25)";
  m2->params[1].init_spec = "normal(1,2)";
  CHECK_OK(ct_module_init_params(m2, 42, &d));
  CHECK(ct_tensor_get(m2->params[0].init, 123) == ct_tensor_get(w, 123));
  CHECK_OK(ct_module_init_params(m2, 7, &d));
  CHECK(ct_tensor_get(m2->params[0].init, 123) == ct_tensor_get(w, 123));
  ct_module_free(m2);
  ct_module_free(m);

  m = two_params();
  m->params[1].init_spec = "kaiming(3)";
  CHECK(ct_module_init_params(m, 1, &d) != CT_OK);
  CHECK(strstr(ct_diag_first_error(&d), "unknown init 'kaiming(3)'") != NULL);
  ct_module_free(m);
  ct_diag_free(&d);
}

/* nn.Embedding(padding_idx=row): normal(0,1) with that row zeroed, as PyTorch initializes it. */
static void test_normal_pad(void) {
  ct_module *m = ct_module_new();
  int64_t ws[2] = {50, 64};
  ct_module_add_param(m, "emb.weight", ct_type_concrete(CT_DT_F32, 2, ws), CT_PARAM_WEIGHT, NULL);
  m->params[0].init_spec = "normal_pad(0,1,7)";
  ct_diag d;
  ct_diag_init(&d);
  CHECK_OK(ct_module_init_params(m, 3, &d));
  const ct_tensor *t = m->params[0].init;
  double sum = 0, sq = 0;
  int nonzero_rows = 0;
  for (int r = 0; r < 50; r++) {
    bool any = false;
    for (int k = 0; k < 64; k++) {
      double v = ct_tensor_get(t, r * 64 + k);
      if (r == 7) {
        CHECK(v == 0.0);
        continue;
      }
      any |= v != 0.0;
      sum += v;
      sq += v * v;
    }
    nonzero_rows += any;
  }
  CHECK(nonzero_rows == 49);
  double n = 49.0 * 64, mean = sum / n, var = sq / n - mean * mean;
  CHECK_MSG(fabs(mean) < 0.1 && fabs(var - 1.0) < 0.1, "mean %g var %g", mean, var);
  ct_module_free(m);

  m = ct_module_new();
  ct_module_add_param(m, "emb.weight", ct_type_concrete(CT_DT_F32, 2, ws), CT_PARAM_WEIGHT, NULL);
  m->params[0].init_spec = "normal_pad(0,1,50)";
  CHECK(ct_module_init_params(m, 3, &d) != CT_OK);
  CHECK(strstr(ct_diag_first_error(&d), "normal_pad row 50 is not a row index below 50") != NULL);
  ct_module_free(m);
  ct_diag_free(&d);
}

int main(void) {
  RUN_TEST(test_normal_pad);
  RUN_TEST(test_bind);
  RUN_TEST(test_bind_errors);
  RUN_TEST(test_init_specs);
  return test_summary();
}
