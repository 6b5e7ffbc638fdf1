/* tests/unit/test_autodiff_pytorch.c: the training entries against PyTorch 1.13 (fixtures from
 * tests/fixtures/gen_train_fixtures.py). For the example models: the loss and every parameter
 * gradient of @grad, and the parameters after three @train_step calls with each optimizer
 * config of the generator; for the MLP also each loss function; and training the MLP on
 * scikit-learn's digits through the interpreter follows PyTorch's loss curve.
 * Tensors compare by max |ours - torch| / max |torch| <= 1e-4 (per tensor), against PyTorch's
 * float64 run of the same f32 weights and inputs (see the generator). BatchNorm runs in
 * training mode: batch statistics, and the running statistics and num_batches_tracked after
 * the steps are compared too; all of it once more after the -O2 pass pipeline. */
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "ctorch/compiler.h"
#include "ctorch/safetensors.h"
#include "ir.h"
#include "pass.h"
#include "testlib.h"

enum { SAMPLE = 8192, MAX_ENV = 128 };

static double worst_seen; /* the largest error ratio of any comparison, for the log */

/* Tensors by name: the inputs, targets, parameters and optimizer state of a run. */
typedef struct env {
  const char *names[MAX_ENV];
  ct_tensor *tensors[MAX_ENV];
  int n;
} env;

static void env_set(env *e, const char *name, ct_tensor *t) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->names[i], name) == 0) {
      ct_tensor_retain(t);
      ct_tensor_release(e->tensors[i]);
      e->tensors[i] = t;
      return;
    }
  if (e->n == MAX_ENV) return;
  e->names[e->n] = name;
  e->tensors[e->n++] = ct_tensor_retain(t);
}

static ct_tensor *env_get(const env *e, const char *name) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->names[i], name) == 0) return e->tensors[i];
  return NULL;
}

static void env_free(env *e) {
  for (int i = 0; i < e->n; i++) ct_tensor_release(e->tensors[i]);
  e->n = 0;
}

static ct_st_file *load_st(const char *rel) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", CT_SOURCE_DIR, rel) >= (int)sizeof path) {
    CHECK_MSG(false, "path too long: %s", rel);
    return NULL;
  }
  ct_diag d;
  ct_diag_init(&d);
  ct_st_file *f = NULL;
  CHECK_MSG(ct_st_load(path, &f, &d) == CT_OK, "%s: %s", rel, ct_diag_first_error(&d));
  ct_diag_free(&d);
  return f;
}

/* examples/<name>/model.py with the weights of tests/fixtures/<name>/, plus @grad and
 * @train_step for the given loss and optimizer. */
static int opt_level; /* the -O pipeline run on the training graphs before they run */

static ct_module *build(const char *name, const char *input_spec, const ct_loss_options *loss,
                        const ct_optim_options *optim, const char *target, const ct_type *target_type) {
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/%s/model.py", CT_SOURCE_DIR, name);
  size_t len;
  char *text = test_read_file(path, &len);
  CHECK_MSG(text != NULL, "cannot read %s", path);
  if (!text) return NULL;
  ct_diag d;
  ct_diag_init(&d);
  const char *specs[1] = {input_spec};
  ct_frontend_options fo = {NULL, 1, specs};
  ct_module *m = NULL;
  ct_status st = ct_frontend_compile(text, len, path, &fo, &m, &d);
  free(text);
  snprintf(path, sizeof path, "tests/fixtures/%s/weights.safetensors", name);
  ct_st_file *w = st == CT_OK ? load_st(path) : NULL;
  if (w) st = ct_module_bind_weights(m, w, &d);
  ct_st_free(w);
  /* The fixtures run PyTorch with dropout off (its masks cannot be matched): the same here,
   * p = 0 on every dropout node, which is what ctorchc --no-dropout does. */
  for (ct_node *n = m ? ct_module_find_graph(m, "forward")->body->first : NULL; n; n = n->next)
    if (n->op == CT_OP_DROPOUT) ct_node_set_attr(m, n, ct_attr_float("p", 0.0));
  ct_type tt = *target_type;
  if (tt.rank && tt.dims[0].sym) tt.dims[0] = ct_dim_sym(ct_module_find_sym(m, "N", 1));
  if (st == CT_OK && w)
    st = ct_build_training(m, "forward", loss, optim, 1, &target, &tt, &d);
  if (st == CT_OK) st = ct_module_verify(m, &d);
  ct_pipeline_options popt = {true, NULL, false, true};
  if (st == CT_OK && opt_level) st = ct_pipeline_run(m, ct_pipeline_for_level(opt_level), &popt, &d);
  CHECK_MSG(st == CT_OK && w, "%s: %s", name, ct_diag_first_error(&d));
  ct_diag_free(&d);
  if (st != CT_OK || !w) {
    ct_module_free(m);
    return NULL;
  }
  return m;
}

/* Runs g with its inputs taken from e by name; returns the results (caller frees). */
static ct_tensor **run(const ct_graph *g, const env *e, int *n_out) {
  ct_tensor *in[MAX_ENV];
  int n = ct_graph_num_inputs(g);
  for (int i = 0; i < n; i++) {
    in[i] = env_get(e, ct_graph_input(g, i)->name);
    CHECK_MSG(in[i] != NULL, "@%s: no value for input '%s'", g->name, ct_graph_input(g, i)->name);
    if (!in[i]) return NULL;
  }
  ct_diag d;
  ct_diag_init(&d);
  ct_tensor **out = NULL;
  ct_status st = ct_interpret(g, in, n, &out, n_out, &d);
  CHECK_MSG(st == CT_OK, "@%s: %s", g->name, ct_diag_first_error(&d));
  ct_diag_free(&d);
  return st == CT_OK ? out : NULL;
}

static void release_all(ct_tensor **t, int n) {
  for (int i = 0; i < n; i++) ct_tensor_release(t[i]);
  free(t);
}

/* Compares ours with PyTorch's (possibly strided-sampled) tensor. */
static void check_tensor(const char *what, const ct_tensor *ours, const ct_tensor *torch, double tol) {
  CHECK_MSG(torch != NULL, "%s: missing from the fixture", what);
  if (!torch || !ours) return;
  int64_t n = ct_tensor_numel(ours), m = ct_tensor_numel(torch);
  int64_t stride = n > SAMPLE ? (n + SAMPLE - 1) / SAMPLE : 1;
  CHECK_MSG((n + stride - 1) / stride == m, "%s: %lld elements, fixture has %lld", what,
            (long long)n, (long long)m);
  double worst = 0, scale = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < m && i * stride < n; i++) {
    double a = ct_tensor_get(ours, i * stride), b = ct_tensor_get(torch, i);
    if (fabs(b) > scale) scale = fabs(b);
    if (!(fabs(a - b) <= worst)) {
      worst = fabs(a - b);
      at = i * stride;
    }
  }
  double ratio = worst / (scale > 0 ? scale : 1.0);
  if (ratio > worst_seen) worst_seen = ratio;
  CHECK_MSG(worst <= tol * (scale > 0 ? scale : 1.0),
            "%s: max |ours - torch| = %.3g at [%lld] (%.9g vs %.9g), max |torch| = %.3g", what,
            worst, (long long)at, ct_tensor_get(ours, at),
            ct_tensor_get(torch, at / stride), scale);
}

static void env_from_params(env *e, const ct_module *m) {
  for (int i = 0; i < m->n_params; i++) env_set(e, m->params[i].name, m->params[i].init);
}

/* The generator's MODELS: the forward input, the optimizer configs, and the loss (cross_entropy
 * against class indices, or mse_loss against a real target of the output's type). */
typedef struct model_case {
  const char *name, *input, *spec;
  const char *optims[4];
  bool mse;
} model_case;

static const model_case models[] = {
    {"mlp", "x", "x=f32[N,784]", {"sgd", "adam", "nesterov", "adamw"}, false},
    {"lenet", "x", "x=f32[N,1,28,28]", {"sgd", "adam", NULL, NULL}, false},
    {"cnn", "x", "x=f32[N,3,32,32]", {"sgd", "adam", NULL, NULL}, false},
    {"resblock", "x", "x=f32[N,3,16,16]", {"sgd", "adam", NULL, NULL}, false},
    {"transformer", "x", "x=f32[N,16,64]", {"sgd", "adam_eps", NULL, NULL}, true},
    {"text_classifier", "tokens", "tokens=i64[N,32]", {"sgd", "adam", NULL, NULL}, false},
    {"rnn", "x", "x=f32[N,12,8]", {"sgd", "adam", NULL, NULL}, false},
};

/* The generator's OPTIMS. */
static ct_optim_options optim_config(const char *name) {
  ct_optim_options o;
  if (strcmp(name, "sgd") == 0) {
    ct_optim_defaults(CT_OPTIM_SGD, &o);
    o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 1e-4;
  } else if (strcmp(name, "adam") == 0) {
    ct_optim_defaults(CT_OPTIM_ADAM, &o);
  } else if (strcmp(name, "adam_eps") == 0) {
    ct_optim_defaults(CT_OPTIM_ADAM, &o);
    o.eps = 1e-6;
  } else if (strcmp(name, "nesterov") == 0) {
    ct_optim_defaults(CT_OPTIM_SGD, &o);
    o.lr = 0.05, o.momentum = 0.9, o.nesterov = true, o.clip_grad_norm = 0.5;
  } else {
    ct_optim_defaults(CT_OPTIM_ADAMW, &o);
    o.lr = 2e-3, o.beta1 = 0.8, o.beta2 = 0.99, o.eps = 1e-6, o.clip_grad_norm = 1.0;
  }
  return o;
}

static void check_model(const model_case *mc) {
  char path[256];
  snprintf(path, sizeof path, "tests/fixtures/train_%s/expected.safetensors", mc->name);
  ct_st_file *exp = load_st(path);
  snprintf(path, sizeof path, "tests/fixtures/%s/inputs.safetensors", mc->name);
  ct_st_file *inputs = load_st(path);
  if (!exp || !inputs) goto out;
  ct_tensor *y = ct_st_find(exp, "y");
  ct_tensor *x = ct_st_find(inputs, mc->input);
  CHECK_MSG(x && y, "%s: fixture without %s or y", mc->name, mc->input);
  if (!x || !y) goto out;
  /* y: i64[N] class indices, or f32[N, ...] of the output's shape */
  ct_dim ydims[CT_MAX_RANK] = {ct_dim_sym(1)};
  for (int i = 1; i < y->rank; i++) ydims[i] = ct_dim_const(y->shape[i]);
  ct_type yt = ct_type_make(y->dtype, y->rank, ydims);
  ct_loss_options ce = {mc->mse ? CT_LOSS_MSE : CT_LOSS_CROSS_ENTROPY, false, 0.0};

  for (int k = -1; k < 4; k++) {
    const char *oname = k < 0 ? "sgd" : mc->optims[k];
    if (!oname) continue;
    ct_optim_options opt = optim_config(oname);
    ct_module *m = build(mc->name, mc->spec, &ce, &opt, "y", &yt);
    if (!m) continue;
    env e = {{0}, {0}, 0};
    env_set(&e, mc->input, x);
    env_set(&e, "y", y);
    env_from_params(&e, m);
    if (k < 0) { /* @grad */
      const ct_graph *g = ct_module_find_graph(m, "grad");
      int n = 0;
      ct_tensor **out = run(g, &e, &n);
      for (int i = 0; out && i < n; i++) {
        char what[256];
        snprintf(what, sizeof what, "%s @grad %s", mc->name, ct_graph_result_name(g, i));
        check_tensor(what, out[i], ct_st_find(exp, ct_graph_result_name(g, i)), 1e-4);
      }
      if (out) release_all(out, n);
    } else {
      const ct_graph *g = ct_module_find_graph(m, "train_step");
      for (int step = 0; step < 3; step++) {
        int n = 0;
        ct_tensor **out = run(g, &e, &n);
        if (!out) break;
        char what[256], key[256];
        snprintf(what, sizeof what, "%s %s step %d loss", mc->name, oname, step);
        snprintf(key, sizeof key, "%s.loss.%d", oname, step);
        check_tensor(what, out[0], ct_st_find(exp, key), 1e-4);
        for (int i = 1; i < n; i++) env_set(&e, ct_graph_result_name(g, i) + 4, out[i]);
        release_all(out, n);
      }
      for (int i = 0; i < m->n_params; i++) {
        if (m->params[i].kind == CT_PARAM_STATE) continue; /* weights and buffers */
        char what[256], key[256];
        snprintf(what, sizeof what, "%s %s: %s after 3 steps", mc->name, oname, m->params[i].name);
        snprintf(key, sizeof key, "%s.%s", oname, m->params[i].name);
        check_tensor(what, env_get(&e, m->params[i].name), ct_st_find(exp, key), 1e-4);
      }
    }
    env_free(&e);
    ct_module_free(m);
  }
out:
  ct_st_free(exp);
  ct_st_free(inputs);
}

static void test_models_match_pytorch(void) {
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) check_model(&models[i]);
}

/* The same after ctorchc's -O2 pipeline (decompose, fuse, schedule, plan-memory, ...) on the
 * training graphs, run by the interpreter (fusion nodes included). */
static void test_models_match_pytorch_after_O2(void) {
  opt_level = 2;
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) check_model(&models[i]);
  opt_level = 0;
}

/* Each loss function of the generator's LOSSES on the MLP: the loss and the last layer's
 * gradients. */
static void test_losses_match_pytorch(void) {
  ct_st_file *exp = load_st("tests/fixtures/train_mlp/expected.safetensors");
  ct_st_file *inputs = load_st("tests/fixtures/mlp/inputs.safetensors");
  if (!exp || !inputs) goto out;
  static const struct {
    const char *cfg, *target;
    ct_loss_options loss;
  } losses[] = {
      {"ce_sum", "y", {CT_LOSS_CROSS_ENTROPY, true, 0.0}},
      {"ce_ignore", "y_ign", {CT_LOSS_CROSS_ENTROPY, false, 0.1}},
      {"nll_ignore_sum", "y_ign", {CT_LOSS_NLL, true, 0.0}},
      {"ce_smooth", "y", {CT_LOSS_CROSS_ENTROPY, false, 0.1}},
      {"nll", "y", {CT_LOSS_NLL, false, 0.0}},
      {"mse", "t_real", {CT_LOSS_MSE, false, 0.0}},
      {"l1_sum", "t_real", {CT_LOSS_L1, true, 0.0}},
      {"bce", "t_prob", {CT_LOSS_BCE_WITH_LOGITS, false, 0.0}},
  };
  ct_optim_options sgd = optim_config("sgd");
  for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
    bool classes = losses[i].target[0] == 'y';
    ct_dim dims[2] = {ct_dim_sym(1), ct_dim_const(10)};
    ct_type tt = ct_type_make(classes ? CT_DT_I64 : CT_DT_F32, classes ? 1 : 2, dims);
    ct_module *m = build("mlp", "x=f32[N,784]", &losses[i].loss, &sgd, losses[i].target, &tt);
    if (!m) continue;
    env e = {{0}, {0}, 0};
    env_set(&e, "x", ct_st_find(inputs, "x"));
    env_set(&e, losses[i].target, ct_st_find(exp, losses[i].target));
    env_from_params(&e, m);
    const ct_graph *g = ct_module_find_graph(m, "grad");
    int n = 0;
    ct_tensor **out = run(g, &e, &n);
    for (int r = 0; out && r < n; r++) {
      const char *rn = ct_graph_result_name(g, r);
      if (strcmp(rn, "loss") != 0 && strncmp(rn, "grad.fc3.", 9) != 0) continue;
      char what[256], key[256];
      snprintf(what, sizeof what, "loss %s: %s", losses[i].cfg, rn);
      snprintf(key, sizeof key, "loss.%s%s%s", losses[i].cfg, r ? "." : "", r ? rn : "");
      check_tensor(what, out[r], ct_st_find(exp, key), 1e-4);
    }
    if (out) release_all(out, n);
    env_free(&e);
    ct_module_free(m);
  }
out:
  ct_st_free(exp);
  ct_st_free(inputs);
}

/* cross_entropy over the class dim 1 of [N,C,d] logits (the transformer's [N,16,64] output)
 * with label smoothing: the loss and the last layer's gradients. */
static void test_spatial_cross_entropy_matches_pytorch(void) {
  ct_st_file *exp = load_st("tests/fixtures/train_transformer/expected.safetensors");
  ct_st_file *inputs = load_st("tests/fixtures/transformer/inputs.safetensors");
  if (!exp || !inputs) goto out;
  ct_loss_options ce = {CT_LOSS_CROSS_ENTROPY, false, 0.05};
  ct_optim_options sgd = optim_config("sgd");
  ct_dim dims[2] = {ct_dim_sym(1), ct_dim_const(64)};
  ct_type tt = ct_type_make(CT_DT_I64, 2, dims);
  ct_module *m = build("transformer", "x=f32[N,16,64]", &ce, &sgd, "y_spatial", &tt);
  if (!m) goto out;
  env e = {{0}, {0}, 0};
  env_set(&e, "x", ct_st_find(inputs, "x"));
  env_set(&e, "y_spatial", ct_st_find(exp, "y_spatial"));
  env_from_params(&e, m);
  const ct_graph *g = ct_module_find_graph(m, "grad");
  int n = 0;
  ct_tensor **res = run(g, &e, &n);
  for (int r = 0; res && r < n; r++) {
    const char *rn = ct_graph_result_name(g, r);
    /* mlp.2.bias is left out: constant along the class dim, its gradient is exactly zero,
     * which f32 rounding cannot match relatively */
    if (strcmp(rn, "loss") != 0 && strcmp(rn, "grad.mlp.2.weight") != 0 &&
        strcmp(rn, "grad.ln1.weight") != 0)
      continue;
    char key[256];
    snprintf(key, sizeof key, "loss.ce_spatial%s%s", r ? "." : "", r ? rn : "");
    check_tensor(key, res[r], ct_st_find(exp, key), 1e-4);
  }
  if (res) release_all(res, n);
  env_free(&e);
  ct_module_free(m);
out:
  ct_st_free(exp);
  ct_st_free(inputs);
}

/* The generator's digits_images: 3x nearest-neighbour upsampling, a 2-pixel border, /16. */
static ct_tensor *digits_batch(const ct_tensor *images, int64_t first, int64_t n) {
  ct_tensor *x = ct_tensor_zeros(CT_DT_F32, 2, (int64_t[]){n, 784});
  for (int64_t s = 0; s < n; s++)
    for (int r = 0; r < 24; r++)
      for (int c = 0; c < 24; c++) {
        double v = ct_tensor_get(images, (first + s) * 64 + (r / 3) * 8 + c / 3) / 16.0;
        ct_tensor_set(x, s * 784 + (r + 2) * 28 + c + 2, v);
      }
  return x;
}

static void test_digits_loss_curve_matches_pytorch(void) {
  ct_st_file *data = load_st("tests/fixtures/train_digits/digits.safetensors");
  if (!data) return;
  ct_tensor *images = ct_st_find(data, "images"), *labels = ct_st_find(data, "labels");
  ct_tensor *curve = ct_st_find(data, "loss_curve");
  ct_loss_options ce = {CT_LOSS_CROSS_ENTROPY, false, 0.0};
  ct_optim_options sgd;
  ct_optim_defaults(CT_OPTIM_SGD, &sgd);
  sgd.lr = 0.05, sgd.momentum = 0.9;
  ct_type yt = ct_type_make(CT_DT_I64, 1, (ct_dim[]){ct_dim_sym(1)});
  ct_module *m = build("mlp", "x=f32[N,784]", &ce, &sgd, "y", &yt);
  if (!m) {
    ct_st_free(data);
    return;
  }
  env e = {{0}, {0}, 0};
  env_from_params(&e, m);
  const ct_graph *g = ct_module_find_graph(m, "train_step");
  int64_t steps = ct_tensor_numel(curve), batch = 32;
  double first = 0, last = 0;
  for (int64_t s = 0; s < steps; s++) {
    ct_tensor *x = digits_batch(images, s * batch, batch);
    ct_tensor *y = ct_tensor_view(labels, 1, (int64_t[]){batch}, (int64_t[]){1}, labels->offset + s * batch);
    env_set(&e, "x", x);
    env_set(&e, "y", y);
    ct_tensor_release(x);
    ct_tensor_release(y);
    int n = 0;
    ct_tensor **out = run(g, &e, &n);
    if (!out) break;
    double loss = ct_tensor_get(out[0], 0), want = ct_tensor_get(curve, s);
    if (s == 0) first = loss;
    last = loss;
    /* float rounding compounds over the steps: 1e-3 relative on the curve */
    CHECK_MSG(fabs(loss - want) <= 1e-3 * fabs(want), "digits step %lld: loss %.7g, PyTorch %.7g",
              (long long)s, loss, want);
    for (int i = 1; i < n; i++) env_set(&e, ct_graph_result_name(g, i) + 4, out[i]);
    release_all(out, n);
  }
  printf("  digits: loss %.4f -> %.4f over %lld steps (PyTorch %.4f -> %.4f)\n", first, last,
         (long long)steps, ct_tensor_get(curve, 0), ct_tensor_get(curve, steps - 1));
  CHECK(last < 0.75 * first);
  env_free(&e);
  ct_module_free(m);
  ct_st_free(data);
}

int main(void) {
  RUN_TEST(test_models_match_pytorch);
  RUN_TEST(test_models_match_pytorch_after_O2);
  RUN_TEST(test_losses_match_pytorch);
  RUN_TEST(test_spatial_cross_entropy_matches_pytorch);
  RUN_TEST(test_digits_loss_curve_matches_pytorch);
  printf("largest max|ours - torch| / max|torch| of any tensor: %.3g\n", worst_seen);
  return test_summary();
}
