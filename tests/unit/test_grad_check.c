/* tests/unit/test_grad_check.c: every derivative rule against central finite differences.
 * Each case is a one-op graph in IR text (f64, symbolic N bound to 3 where it appears); the
 * test differentiates it with ct_autodiff (w.r.t. every float input), runs @forward_train and
 * @backward on the interpreter, and compares each input's gradient of L = sum(y * r) (r fixed
 * random) with (L(x + h) - L(x - h)) / 2h. A second test fails when an op marked DIFF in
 * ops.def has no rule or no case here. */
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "ir.h"
#include "testlib.h"

typedef struct grad_case {
  const char *name;
  /* per input, how to fill it: 'r' real in +-[0.1, 1], 'p' positive [0.5, 2], 'b' bool,
   * a digit k: i64 indices in [0, k) */
  const char *domains;
  const char *body; /* the graph, after "module @t\nsym N\n" */
  /* embedding's padding_idx + 1 (0: none): PyTorch defines that row's gradient as zero, though
   * the forward reads it, so there the check is analytic == 0 instead of finite differences */
  int zero_row;
} grad_case;

static const grad_case cases[] = {
    {"neg", "r", "graph @forward(%a: f64[N,3]) -> (f64[N,3]) {\n  %0: f64[N,3] = neg(%a)\n  return %0\n}", 0},
    {"abs", "r", "graph @forward(%a: f64[2,3]) -> (f64[2,3]) {\n  %0: f64[2,3] = abs(%a)\n  return %0\n}", 0},
    {"exp", "r", "graph @forward(%a: f64[4]) -> (f64[4]) {\n  %0: f64[4] = exp(%a)\n  return %0\n}", 0},
    {"log", "p", "graph @forward(%a: f64[4]) -> (f64[4]) {\n  %0: f64[4] = log(%a)\n  return %0\n}", 0},
    {"sqrt", "p", "graph @forward(%a: f64[4]) -> (f64[4]) {\n  %0: f64[4] = sqrt(%a)\n  return %0\n}", 0},
    {"rsqrt", "p", "graph @forward(%a: f64[4]) -> (f64[4]) {\n  %0: f64[4] = rsqrt(%a)\n  return %0\n}", 0},
    {"tanh", "r", "graph @forward(%a: f64[N,2]) -> (f64[N,2]) {\n  %0: f64[N,2] = tanh(%a)\n  return %0\n}", 0},
    {"sigmoid", "r", "graph @forward(%a: f64[5]) -> (f64[5]) {\n  %0: f64[5] = sigmoid(%a)\n  return %0\n}", 0},
    {"relu", "r", "graph @forward(%a: f64[N,4]) -> (f64[N,4]) {\n  %0: f64[N,4] = relu(%a)\n  return %0\n}", 0},
    {"gelu", "r", "graph @forward(%a: f64[6]) -> (f64[6]) {\n  %0: f64[6] = gelu(%a)\n  return %0\n}", 0},
    {"gelu_tanh", "r", "graph @forward(%a: f64[6]) -> (f64[6]) {\n  %0: f64[6] = gelu(%a) {approximate=\"tanh\"}\n  return %0\n}", 0},
    {"silu", "r", "graph @forward(%a: f64[6]) -> (f64[6]) {\n  %0: f64[6] = silu(%a)\n  return %0\n}", 0},
    {"erf", "r", "graph @forward(%a: f64[6]) -> (f64[6]) {\n  %0: f64[6] = erf(%a)\n  return %0\n}", 0},
    {"cast", "r", "graph @forward(%a: f64[3]) -> (f64[3]) {\n  %0: f64[3] = cast(%a) {dtype=f64}\n  return %0\n}", 0},
    {"add_broadcast", "rr", "graph @forward(%a: f64[N,3], %b: f64[3]) -> (f64[N,3]) {\n  %0: f64[N,3] = add(%a, %b)\n  return %0\n}", 0},
    {"add_scalar", "rr", "graph @forward(%a: f64[2,3], %b: f64[]) -> (f64[2,3]) {\n  %0: f64[2,3] = add(%a, %b)\n  return %0\n}", 0},
    {"sub_broadcast", "rr", "graph @forward(%a: f64[N,1], %b: f64[1,4]) -> (f64[N,4]) {\n  %0: f64[N,4] = sub(%a, %b)\n  return %0\n}", 0},
    {"mul_broadcast", "rr", "graph @forward(%a: f64[2,1,3], %b: f64[4,1]) -> (f64[2,4,3]) {\n  %0: f64[2,4,3] = mul(%a, %b)\n  return %0\n}", 0},
    {"div", "rp", "graph @forward(%a: f64[N,3], %b: f64[N,1]) -> (f64[N,3]) {\n  %0: f64[N,3] = div(%a, %b)\n  return %0\n}", 0},
    {"pow", "pr", "graph @forward(%a: f64[2,3], %b: f64[3]) -> (f64[2,3]) {\n  %0: f64[2,3] = pow(%a, %b)\n  return %0\n}", 0},
    {"maximum", "rr", "graph @forward(%a: f64[2,3], %b: f64[2,3]) -> (f64[2,3]) {\n  %0: f64[2,3] = maximum(%a, %b)\n  return %0\n}", 0},
    {"minimum", "rr", "graph @forward(%a: f64[N,3], %b: f64[3]) -> (f64[N,3]) {\n  %0: f64[N,3] = minimum(%a, %b)\n  return %0\n}", 0},
    {"where", "brr", "graph @forward(%c: bool[2,3], %a: f64[2,3], %b: f64[3]) -> (f64[2,3]) {\n  %0: f64[2,3] = where(%c, %a, %b)\n  return %0\n}", 0},
    {"sum_all", "r", "graph @forward(%a: f64[N,3]) -> (f64[]) {\n  %0: f64[] = sum(%a)\n  return %0\n}", 0},
    {"sum_dims", "r", "graph @forward(%a: f64[2,3,4]) -> (f64[3]) {\n  %0: f64[3] = sum(%a) {dims=[0, 2]}\n  return %0\n}", 0},
    {"sum_keepdim", "r", "graph @forward(%a: f64[2,3,4]) -> (f64[2,1,4]) {\n  %0: f64[2,1,4] = sum(%a) {dims=[-2], keepdim=true}\n  return %0\n}", 0},
    {"mean_dims", "r", "graph @forward(%a: f64[2,3,4]) -> (f64[2,4]) {\n  %0: f64[2,4] = mean(%a) {dims=[1]}\n  return %0\n}", 0},
    {"mean_symbolic", "r", "graph @forward(%a: f64[N,3]) -> (f64[1,3]) {\n  %0: f64[1,3] = mean(%a) {dims=[0], keepdim=true}\n  return %0\n}", 0},
    {"amax", "r", "graph @forward(%a: f64[N,4]) -> (f64[N]) {\n  %0: f64[N] = amax(%a) {dims=[1]}\n  return %0\n}", 0},
    {"amin_keepdim", "r", "graph @forward(%a: f64[3,4]) -> (f64[1,4]) {\n  %0: f64[1,4] = amin(%a) {dims=[0], keepdim=true}\n  return %0\n}", 0},
    {"softmax", "r", "graph @forward(%a: f64[N,4]) -> (f64[N,4]) {\n  %0: f64[N,4] = softmax(%a) {dim=1}\n  return %0\n}", 0},
    {"softmax_dim0", "r", "graph @forward(%a: f64[3,4]) -> (f64[3,4]) {\n  %0: f64[3,4] = softmax(%a) {dim=0}\n  return %0\n}", 0},
    {"log_softmax", "r", "graph @forward(%a: f64[N,5]) -> (f64[N,5]) {\n  %0: f64[N,5] = log_softmax(%a) {dim=-1}\n  return %0\n}", 0},
    {"reshape", "r", "graph @forward(%a: f64[N,2,3]) -> (f64[N,6]) {\n  %0: f64[N,6] = reshape(%a) {shape=[N, 6]}\n  return %0\n}", 0},
    {"permute", "r", "graph @forward(%a: f64[2,3,4]) -> (f64[4,2,3]) {\n  %0: f64[4,2,3] = permute(%a) {dims=[2, 0, 1]}\n  return %0\n}", 0},
    {"expand", "r", "graph @forward(%a: f64[3,1]) -> (f64[2,3,4]) {\n  %0: f64[2,3,4] = expand(%a) {shape=[2, 3, 4]}\n  return %0\n}", 0},
    {"concat", "rrr", "graph @forward(%a: f64[N,2], %b: f64[N,3], %c: f64[N,1]) -> (f64[N,6]) {\n  %0: f64[N,6] = concat(%a, %b, %c) {dim=1}\n  return %0\n}", 0},
    {"concat_symbolic", "rr", "graph @forward(%a: f64[N,2], %b: f64[2,2]) -> (f64[N+2,2]) {\n  %0: f64[N+2,2] = concat(%a, %b) {dim=0}\n  return %0\n}", 0},
    {"slice", "r", "graph @forward(%a: f64[N,7]) -> (f64[N,3]) {\n  %0: f64[N,3] = slice(%a) {dim=1, start=1, end=6, step=2}\n  return %0\n}", 0},
    {"slice_negative", "r", "graph @forward(%a: f64[5,2]) -> (f64[2,2]) {\n  %0: f64[2,2] = slice(%a) {dim=0, start=-3, end=-1}\n  return %0\n}", 0},
    {"matmul", "rr", "graph @forward(%a: f64[2,3], %b: f64[3,4]) -> (f64[2,4]) {\n  %0: f64[2,4] = matmul(%a, %b)\n  return %0\n}", 0},
    {"matmul_vec_mat", "rr", "graph @forward(%a: f64[3], %b: f64[3,4]) -> (f64[4]) {\n  %0: f64[4] = matmul(%a, %b)\n  return %0\n}", 0},
    {"matmul_mat_vec", "rr", "graph @forward(%a: f64[N,3], %b: f64[3]) -> (f64[N]) {\n  %0: f64[N] = matmul(%a, %b)\n  return %0\n}", 0},
    {"matmul_batched_broadcast", "rr", "graph @forward(%a: f64[2,N,3], %b: f64[3,4]) -> (f64[2,N,4]) {\n  %0: f64[2,N,4] = matmul(%a, %b)\n  return %0\n}", 0},
    {"matmul_batch_ones", "rr", "graph @forward(%a: f64[1,2,3], %b: f64[2,3,2]) -> (f64[2,2,2]) {\n  %0: f64[2,2,2] = matmul(%a, %b)\n  return %0\n}", 0},
    {"linear", "rrr", "graph @forward(%x: f64[N,4], %w: f64[3,4], %b: f64[3]) -> (f64[N,3]) {\n  %0: f64[N,3] = linear(%x, %w, %b)\n  return %0\n}", 0},
    {"linear_rank3", "rr", "graph @forward(%x: f64[2,N,4], %w: f64[3,4]) -> (f64[2,N,3]) {\n  %0: f64[2,N,3] = linear(%x, %w)\n  return %0\n}", 0},
    {"linear_vector", "rrr", "graph @forward(%x: f64[4], %w: f64[3,4], %b: f64[3]) -> (f64[3]) {\n  %0: f64[3] = linear(%x, %w, %b)\n  return %0\n}", 0},
    {"conv2d", "rrr", "graph @forward(%x: f64[N,2,5,5], %w: f64[3,2,3,3], %b: f64[3]) -> (f64[N,3,5,5]) {\n  %0: f64[N,3,5,5] = conv2d(%x, %w, %b) {padding=[1, 1]}\n  return %0\n}", 0},
    {"conv2d_strided_grouped", "rr", "graph @forward(%x: f64[2,4,7,7], %w: f64[2,2,3,3]) -> (f64[2,2,2,2]) {\n  %0: f64[2,2,2,2] = conv2d(%x, %w) {stride=[2, 2], dilation=[2, 2], groups=2}\n  return %0\n}", 0},
    {"max_pool2d", "r", "graph @forward(%x: f64[N,2,4,4]) -> (f64[N,2,2,2]) {\n  %0: f64[N,2,2,2] = max_pool2d(%x) {kernel_size=[2, 2], stride=[2, 2]}\n  return %0\n}", 0},
    {"max_pool2d_overlap", "r", "graph @forward(%x: f64[1,1,5,5]) -> (f64[1,1,3,3]) {\n  %0: f64[1,1,3,3] = max_pool2d(%x) {kernel_size=[3, 3], stride=[2, 2], padding=[1, 1]}\n  return %0\n}", 0},
    {"avg_pool2d", "r", "graph @forward(%x: f64[N,2,4,4]) -> (f64[N,2,2,2]) {\n  %0: f64[N,2,2,2] = avg_pool2d(%x) {kernel_size=[2, 2], stride=[2, 2]}\n  return %0\n}", 0},
    {"avg_pool2d_pad", "r", "graph @forward(%x: f64[1,2,5,5]) -> (f64[1,2,3,3]) {\n  %0: f64[1,2,3,3] = avg_pool2d(%x) {kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=false, count_include_pad=false}\n  return %0\n}", 0},
    {"batch_norm", "rrrrp", "graph @forward(%x: f64[N,3,2,2], %w: f64[3], %b: f64[3], %m: f64[3], %v: f64[3]) -> (f64[N,3,2,2]) {\n  %0: f64[N,3,2,2] = batch_norm(%x, %w, %b, %m, %v)\n  return %0\n}", 0},
    {"layer_norm", "rrr", "graph @forward(%x: f64[N,2,4], %w: f64[4], %b: f64[4]) -> (f64[N,2,4]) {\n  %0: f64[N,2,4] = layer_norm(%x, %w, %b) {normalized_shape=[4]}\n  return %0\n}", 0},
    {"layer_norm_2d_plain", "r", "graph @forward(%x: f64[2,3,4]) -> (f64[2,3,4]) {\n  %0: f64[2,3,4] = layer_norm(%x) {normalized_shape=[3, 4], eps=0.001}\n  return %0\n}", 0},
    {"dropout_inference", "r", "graph @forward(%a: f64[N,4]) -> (f64[N,4]) {\n  %0: f64[N,4] = dropout(%a) {p=0.3}\n  return %0\n}", 0},
    {"embedding", "5r", "graph @forward(%i: i64[N,2], %w: f64[5,3]) -> (f64[N,2,3]) {\n  %0: f64[N,2,3] = embedding(%i, %w)\n  return %0\n}", 0},
    {"embedding_padding", "4r", "graph @forward(%i: i64[6], %w: f64[4,2]) -> (f64[6,2]) {\n  %0: f64[6,2] = embedding(%i, %w) {padding_idx=1}\n  return %0\n}", 2},
};
enum { N_CASES = sizeof cases / sizeof cases[0], N_BIND = 3 };

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / (double)(1ULL << 53);
}

static ct_tensor *make_input(const ct_module *m, const ct_type *t, char domain) {
  int64_t bind[64] = {0}, shape[CT_MAX_RANK];
  for (int s = 1; s <= m->n_syms && s < 64; s++) bind[s] = N_BIND;
  for (int i = 0; i < t->rank; i++) shape[i] = ct_dim_eval(t->dims[i], bind);
  ct_tensor *x = ct_tensor_empty(t->dtype, t->rank, shape);
  for (int64_t i = 0; i < ct_tensor_numel(x); i++) {
    double v;
    if (domain == 'p') v = 0.5 + 1.5 * uniform();
    else if (domain == 'b') v = uniform() < 0.5;
    else if (domain >= '1' && domain <= '9') v = (double)(int)(uniform() * (domain - '0'));
    else v = (0.1 + 0.9 * uniform()) * (uniform() < 0.5 ? -1.0 : 1.0);
    ct_tensor_set(x, i, v);
  }
  return x;
}

/* L = sum(y * r) of @forward at the given inputs. */
static double loss_at(const ct_graph *g, ct_tensor **in, int n_in, const ct_tensor *r) {
  ct_diag d;
  ct_diag_init(&d);
  ct_tensor **out = NULL;
  int n_out = 0;
  double l = NAN;
  if (ct_interpret(g, in, n_in, &out, &n_out, &d) == CT_OK) {
    l = 0;
    for (int64_t i = 0; i < ct_tensor_numel(out[0]); i++) l += ct_tensor_get(out[0], i) * ct_tensor_get(r, i);
  } else {
    test_fail(__FILE__, __LINE__, "%s: forward: %s", test_current, ct_diag_first_error(&d));
  }
  for (int i = 0; i < n_out; i++) ct_tensor_release(out[i]);
  free(out);
  ct_diag_free(&d);
  return l;
}

static void check_case(const grad_case *gc, bool recompute) {
  char text[2048];
  snprintf(text, sizeof text, "module @t\nsym N\n\n%s\n", gc->body);
  ct_diag d;
  ct_diag_init(&d);
  ct_module *m = ct_module_parse(text, strlen(text), gc->name, &d);
  CHECK_MSG(m != NULL, "%s: parse: %s", gc->name, ct_diag_first_error(&d));
  if (!m) {
    ct_diag_free(&d);
    return;
  }
  ct_autodiff_options opt = {true, recompute ? CT_AD_RECOMPUTE : CT_AD_SAVE};
  ct_status st = ct_autodiff(m, "forward", &opt, &d);
  CHECK_MSG(st == CT_OK && ct_module_verify(m, &d) == CT_OK, "%s: autodiff: %s", gc->name,
            ct_diag_first_error(&d));
  if (st != CT_OK || d.n_errors) {
    ct_module_free(m);
    ct_diag_free(&d);
    return;
  }
  ct_graph *fwd = ct_module_find_graph(m, "forward"), *train = ct_module_find_graph(m, "forward_train"),
           *bwd = ct_module_find_graph(m, "backward");
  int n_in = ct_graph_num_inputs(fwd);
  ct_tensor *in[8];
  for (int i = 0; i < n_in; i++) in[i] = make_input(m, &ct_graph_input(fwd, i)->type, gc->domains[i]);
  ct_tensor **tout = NULL;
  int n_tout = 0;
  CHECK_OK(ct_interpret(train, in, n_in, &tout, &n_tout, &d));
  ct_tensor *r = tout ? make_input(m, &ct_graph_result(fwd, 0)->type, 'r') : NULL;

  /* @backward's inputs by name: forward inputs, saved.k, grad.<result> */
  ct_tensor *bin[32];
  int n_bin = ct_graph_num_inputs(bwd);
  for (int i = 0; i < n_bin && tout; i++) {
    const char *name = ct_graph_input(bwd, i)->name;
    bin[i] = NULL;
    if (strncmp(name, "saved.", 6) == 0) bin[i] = tout[1 + atoi(name + 6)];
    else if (strncmp(name, "grad.", 5) == 0) bin[i] = r;
    else bin[i] = in[ct_graph_find_input(fwd, name)->index];
  }
  ct_tensor **grads = NULL;
  int n_grads = 0;
  if (tout) CHECK_OK(ct_interpret(bwd, bin, n_bin, &grads, &n_grads, &d));
  if (d.n_errors) printf("  %s: %s\n", gc->name, ct_diag_first_error(&d));

  /* each gradient result names its input: grad.<name> */
  for (int k = 0; k < n_grads; k++) {
    const char *name = ct_graph_result_name(bwd, k) + 5;
    int idx = ct_graph_find_input(fwd, name)->index;
    ct_tensor *x = in[idx];
    for (int64_t e = 0; e < ct_tensor_numel(x); e++) {
      double x0 = ct_tensor_get(x, e), h = 1e-6;
      ct_tensor_set(x, e, x0 + h);
      double lp = loss_at(fwd, in, n_in, r);
      ct_tensor_set(x, e, x0 - h);
      double lm = loss_at(fwd, in, n_in, r);
      ct_tensor_set(x, e, x0);
      double fd = (lp - lm) / (2 * h), an = ct_tensor_get(grads[k], e);
      if (gc->zero_row && x->rank == 2 && e / x->shape[1] == gc->zero_row - 1) fd = 0.0;
      CHECK_MSG(fabs(fd - an) <= 1e-6 + 1e-5 * fabs(fd),
                "%s%s: d/d%s[%lld]: analytic %.10g, finite differences %.10g", gc->name,
                recompute ? " (recompute)" : "", name, (long long)e, an, fd);
    }
  }
  for (int i = 0; i < n_grads; i++) ct_tensor_release(grads[i]);
  free(grads);
  for (int i = 0; i < n_tout; i++) ct_tensor_release(tout[i]);
  free(tout);
  ct_tensor_release(r);
  for (int i = 0; i < n_in; i++) ct_tensor_release(in[i]);
  ct_module_free(m);
  ct_diag_free(&d);
}

static void test_finite_differences(void) {
  for (int i = 0; i < N_CASES; i++) check_case(&cases[i], false);
}

static void test_finite_differences_recompute(void) {
  for (int i = 0; i < N_CASES; i++) check_case(&cases[i], true);
}

/* Every DIFF op has a rule and a case above; no op without DIFF has a rule. */
static void test_every_diff_op_has_a_rule_and_a_case(void) {
  bool covered[CT_OP_COUNT] = {false};
  for (int i = 0; i < N_CASES; i++) {
    char text[2048];
    snprintf(text, sizeof text, "module @t\nsym N\n\n%s\n", cases[i].body);
    ct_diag d;
    ct_diag_init(&d);
    ct_module *m = ct_module_parse(text, strlen(text), cases[i].name, &d);
    if (m)
      for (ct_node *n = ct_module_find_graph(m, "forward")->body->first; n; n = n->next) covered[n->op] = true;
    ct_module_free(m);
    ct_diag_free(&d);
  }
  for (int op = 0; op < CT_OP_COUNT; op++) {
    bool diff = (ct_op_table[op].flags & CT_OPF_DIFF) != 0;
    CHECK_MSG(ct_autodiff_has_rule((ct_op)op) == diff, "op '%s' is %smarked DIFF but %s a rule",
              ct_op_name((ct_op)op), diff ? "" : "not ", diff ? "has no" : "has");
    if (diff) CHECK_MSG(covered[op], "op '%s' has no finite-difference case", ct_op_name((ct_op)op));
  }
}

int main(void) {
  RUN_TEST(test_every_diff_op_has_a_rule_and_a_case);
  RUN_TEST(test_finite_differences);
  RUN_TEST(test_finite_differences_recompute);
  return test_summary();
}
