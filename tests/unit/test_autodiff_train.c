/* tests/unit/test_autodiff_train.c: the training entries as functions: @grad's gradients
 * against central finite differences of its own loss in float64 (training-mode batch_norm,
 * dropout with its mask, layer_norm, losses), and the dropout mask's statistics and its
 * dependence on the step count. */
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "ctorch/kernels.h"
#include "ir.h"
#include "testlib.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static double uniform(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / (double)(1ULL << 53);
}

static ct_tensor *random_tensor(const ct_type *t, int64_t n_bind, int classes) {
  int64_t shape[CT_MAX_RANK];
  for (int i = 0; i < t->rank; i++) shape[i] = t->dims[i].sym ? n_bind : t->dims[i].off;
  ct_tensor *x = ct_tensor_empty(t->dtype, t->rank, shape);
  for (int64_t i = 0; i < ct_tensor_numel(x); i++)
    ct_tensor_set(x, i, classes ? (double)(int)(uniform() * classes) : 2.0 * uniform() - 1.0);
  return x;
}

typedef struct train_case {
  const char *name;
  const char *module; /* IR text: params and @forward(input, params...) */
  ct_loss_options loss;
  const char *target; /* the target's type, e.g. "i64[N]" */
  int classes;        /* > 0: class targets in [0, classes) */
} train_case;

static const train_case cases[] = {
    {"batch_norm_train",
     "module @m\nsym N\nparam c.weight: f64[3,2,3,3]\nparam bn.weight: f64[3]\nparam bn.bias: f64[3]\n"
     "buffer bn.running_mean: f64[3]\nbuffer bn.running_var: f64[3]\nbuffer bn.num_batches_tracked: i64[]\n"
     "param fc.weight: f64[4,12]\n\n"
     "graph @forward(%x: f64[N,2,4,4], %c.weight: f64[3,2,3,3], %bn.weight: f64[3], %bn.bias: f64[3], "
     "%bn.running_mean: f64[3], %bn.running_var: f64[3], %bn.num_batches_tracked: i64[], %fc.weight: f64[4,12]) -> (f64[N,4]) {\n"
     "  %0: f64[N,3,2,2] = conv2d(%x, %c.weight)\n"
     "  %1: f64[N,3,2,2] = batch_norm(%0, %bn.weight, %bn.bias, %bn.running_mean, %bn.running_var)\n"
     "  %2: f64[N,3,2,2] = tanh(%1)\n"
     "  %3: f64[N,12] = reshape(%2) {shape=[N, 12]}\n"
     "  %4: f64[N,4] = linear(%3, %fc.weight)\n"
     "  return %4\n}\n",
     {CT_LOSS_CROSS_ENTROPY, false, 0.1}, "i64[N]", 4},
    {"dropout_train",
     "module @m\nsym N\nparam fc.weight: f64[6,5]\nparam fc.bias: f64[6]\n\n"
     "graph @forward(%x: f64[N,5], %fc.weight: f64[6,5], %fc.bias: f64[6]) -> (f64[N,6]) {\n"
     "  %0: f64[N,6] = linear(%x, %fc.weight, %fc.bias)\n"
     "  %1: f64[N,6] = dropout(%0) {p=0.4}\n"
     "  %2: f64[N,6] = sigmoid(%1)\n"
     "  return %2\n}\n",
     {CT_LOSS_MSE, true, 0.0}, "f64[N,6]", 0},
    {"layer_norm_attention",
     "module @m\nsym N\nparam ln.weight: f64[4]\nparam ln.bias: f64[4]\nparam q.weight: f64[4,4]\n\n"
     "graph @forward(%x: f64[N,3,4], %ln.weight: f64[4], %ln.bias: f64[4], %q.weight: f64[4,4]) -> (f64[N,3,4]) {\n"
     "  %0: f64[N,3,4] = layer_norm(%x, %ln.weight, %ln.bias) {normalized_shape=[4]}\n"
     "  %1: f64[N,3,4] = linear(%0, %q.weight)\n"
     "  %2: f64[N,4,3] = permute(%0) {dims=[0, 2, 1]}\n"
     "  %3: f64[N,3,3] = matmul(%1, %2)\n"
     "  %4: f64[N,3,3] = softmax(%3) {dim=-1}\n"
     "  %5: f64[N,3,4] = matmul(%4, %0)\n"
     "  %6: f64[N,3,4] = gelu(%5)\n"
     "  return %6\n}\n",
     {CT_LOSS_L1, false, 0.0}, "f64[N,3,4]", 0},
    {"bce_logits",
     "module @m\nsym N\nparam fc.weight: f64[3,4]\n\n"
     "graph @forward(%x: f64[N,4], %fc.weight: f64[3,4]) -> (f64[N,3]) {\n"
     "  %0: f64[N,3] = linear(%x, %fc.weight)\n"
     "  return %0\n}\n",
     {CT_LOSS_BCE_WITH_LOGITS, false, 0.0}, "f64[N,3]", 0},
};

static ct_type parse_type(ct_module *m, const char *s) {
  ct_dtype dt = CT_DT_F64;
  const char *lb = strchr(s, '[');
  ct_dtype_parse(s, (size_t)(lb - s), &dt);
  ct_dim dims[CT_MAX_RANK];
  int rank = 0;
  for (const char *p = lb + 1; *p && *p != ']';) {
    if (*p == 'N') dims[rank++] = ct_dim_sym(ct_module_find_sym(m, "N", 1));
    else dims[rank++] = ct_dim_const(strtoll(p, NULL, 10));
    p += strcspn(p, ",]");
    if (*p == ',') p++;
  }
  return ct_type_make(dt, rank, dims);
}

static double loss_of(const ct_graph *g, ct_tensor **in, int n) {
  ct_diag d;
  ct_diag_init(&d);
  ct_tensor **out = NULL;
  int n_out = 0;
  double l = NAN;
  if (ct_interpret(g, in, n, &out, &n_out, &d) == CT_OK) l = ct_tensor_get(out[0], 0);
  else test_fail(__FILE__, __LINE__, "%s: %s", test_current, ct_diag_first_error(&d));
  for (int i = 0; i < n_out; i++) ct_tensor_release(out[i]);
  free(out);
  ct_diag_free(&d);
  return l;
}

static void check_case(const train_case *tc) {
  ct_diag d;
  ct_diag_init(&d);
  ct_module *m = ct_module_parse(tc->module, strlen(tc->module), tc->name, &d);
  CHECK_MSG(m != NULL, "%s: %s", tc->name, ct_diag_first_error(&d));
  if (!m) {
    ct_diag_free(&d);
    return;
  }
  ct_optim_options opt;
  ct_optim_defaults(CT_OPTIM_SGD, &opt);
  opt.lr = 0.1;
  const char *tname = "t";
  ct_type tt = parse_type(m, tc->target);
  ct_status st = ct_build_training(m, "forward", &tc->loss, &opt, 1, &tname, &tt, &d);
  if (st == CT_OK) st = ct_module_verify(m, &d);
  CHECK_MSG(st == CT_OK, "%s: %s", tc->name, ct_diag_first_error(&d));
  const ct_graph *g = st == CT_OK ? ct_module_find_graph(m, "grad") : NULL;
  if (g) {
    int n = ct_graph_num_inputs(g);
    ct_tensor *in[32];
    for (int i = 0; i < n; i++) {
      const ct_value *v = ct_graph_input(g, i);
      const ct_param *p = ct_module_find_param(m, v->name);
      bool buffer = p && p->kind == CT_PARAM_BUFFER;
      in[i] = random_tensor(&v->type, 5, strcmp(v->name, "t") == 0 ? tc->classes : 0);
      if (buffer && v->type.dtype == CT_DT_F64) /* running_var > 0 */
        for (int64_t e = 0; e < ct_tensor_numel(in[i]); e++)
          ct_tensor_set(in[i], e, 1.0 + ct_tensor_get(in[i], e) * 0.5);
      if (!strcmp(v->name, "t") && tc->loss.kind == CT_LOSS_BCE_WITH_LOGITS)
        for (int64_t e = 0; e < ct_tensor_numel(in[i]); e++)
          ct_tensor_set(in[i], e, 0.5 + 0.5 * ct_tensor_get(in[i], e));
    }
    ct_tensor **out = NULL;
    int n_out = 0;
    CHECK_OK(ct_interpret(g, in, n, &out, &n_out, &d));
    for (int r = 1; r < n_out; r++) {
      const char *key = ct_graph_result_name(g, r) + 5;
      ct_tensor *w = in[ct_graph_find_input(g, key)->index];
      for (int64_t e = 0; e < ct_tensor_numel(w); e++) {
        double w0 = ct_tensor_get(w, e), h = 1e-6;
        ct_tensor_set(w, e, w0 + h);
        double lp = loss_of(g, in, n);
        ct_tensor_set(w, e, w0 - h);
        double lm = loss_of(g, in, n);
        ct_tensor_set(w, e, w0);
        double fd = (lp - lm) / (2 * h), an = ct_tensor_get(out[r], e);
        CHECK_MSG(fabs(fd - an) <= 1e-6 + 1e-5 * fabs(fd), "%s: d loss / d %s[%lld]: %.10g vs %.10g",
                  tc->name, key, (long long)e, an, fd);
      }
    }
    for (int i = 0; i < n_out; i++) ct_tensor_release(out[i]);
    free(out);
    for (int i = 0; i < n; i++) ct_tensor_release(in[i]);
  }
  ct_module_free(m);
  ct_diag_free(&d);
}

static void test_grad_entry_finite_differences(void) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

/* dropout_mask: values 0 or 1/(1-p), about a fraction p zero, a pure function of (seed, step). */
static void test_dropout_mask(void) {
  const int64_t n = 20000;
  ct_tensor *masks[3];
  double steps[3] = {0, 0, 1};
  int64_t seeds[3] = {7, 7, 7};
  for (int k = 0; k < 3; k++) {
    ct_tensor *step = ct_tensor_empty(CT_DT_F32, 0, NULL);
    ct_tensor_set(step, 0, steps[k]);
    masks[k] = ct_tensor_empty(CT_DT_F32, 1, &n);
    ct_dim shape = ct_dim_const(n);
    ct_attr attrs[4] = {ct_attr_dims("shape", 1, &shape), ct_attr_dtype("dtype", CT_DT_F32),
                        ct_attr_float("p", 0.25), ct_attr_int("seed", seeds[k])};
    char err[200];
    CHECK_OK(ct_kernel_run(CT_OP_DROPOUT_MASK, attrs, 4, &step, 1, &masks[k], 1, err, sizeof err));
    ct_tensor_release(step);
  }
  int64_t zeros = 0, other = 0, same = 0, differ = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = ct_tensor_get(masks[0], i);
    zeros += v == 0.0;
    other += v != 0.0 && fabs(v - 1.0 / 0.75) > 1e-6;
    same += v == ct_tensor_get(masks[1], i);
    differ += v != ct_tensor_get(masks[2], i);
  }
  CHECK_EQ_INT(other, 0);
  CHECK_MSG(fabs((double)zeros / (double)n - 0.25) < 0.015, "%lld of %lld zero", (long long)zeros,
            (long long)n);
  CHECK_EQ_INT(same, n);
  /* two independent masks differ where exactly one is zero: 2 p (1 - p) = 37.5% */
  CHECK_MSG(fabs((double)differ / (double)n - 0.375) < 0.02, "%lld of %lld differ", (long long)differ,
            (long long)n);
  for (int k = 0; k < 3; k++) ct_tensor_release(masks[k]);
}

/* @train_step feeds the step count to the masks: with lr 0 the weights stay, the loss of the
 * second step (another mask) differs from the first, and dropout with p = 0 is the identity. */
static void test_dropout_step_draws_new_masks(void) {
  const char *text = cases[1].module;
  ct_diag d;
  ct_diag_init(&d);
  ct_module *m = ct_module_parse(text, strlen(text), "dropout", &d);
  ct_optim_options opt;
  ct_optim_defaults(CT_OPTIM_SGD, &opt);
  const char *tname = "t";
  ct_type tt = parse_type(m, "f64[N,6]");
  CHECK_OK(ct_build_training(m, "forward", &cases[1].loss, &opt, 1, &tname, &tt, &d));
  const ct_graph *g = ct_module_find_graph(m, "train_step");
  CHECK(g && ct_graph_num_inputs(g) == 5 && strcmp(ct_graph_input(g, 4)->name, "step") == 0);
  if (g && ct_graph_num_inputs(g) == 5) {
    ct_tensor *in[5];
    for (int i = 0; i < 5; i++) in[i] = random_tensor(&ct_graph_input(g, i)->type, 4, 0);
    double losses[2];
    for (int s = 0; s < 2; s++) {
      ct_tensor_set(in[4], 0, s);
      ct_tensor **out = NULL;
      int n_out = 0;
      CHECK_OK(ct_interpret(g, in, 5, &out, &n_out, &d));
      losses[s] = out ? ct_tensor_get(out[0], 0) : 0;
      CHECK(n_out == 4 && ct_tensor_get(out[3], 0) == s + 1); /* new.step */
      for (int i = 0; i < n_out; i++) ct_tensor_release(out[i]);
      free(out);
    }
    CHECK_MSG(losses[0] != losses[1], "both steps drew the same mask (loss %g)", losses[0]);
    for (int i = 0; i < 5; i++) ct_tensor_release(in[i]);
  }
  ct_module_free(m);
  ct_diag_free(&d);
}

int main(void) {
  RUN_TEST(test_grad_entry_finite_differences);
  RUN_TEST(test_dropout_mask);
  RUN_TEST(test_dropout_step_draws_new_masks);
  return test_summary();
}
