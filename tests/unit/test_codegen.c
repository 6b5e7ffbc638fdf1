/* tests/unit/test_codegen.c: differential tests of the LLVM code generator. Each example model
 * (examples/<name>/model.py, inputs from its docstring) is compiled at -O0 and -O2 to a shared
 * object, loaded with dlopen and run through <name>_forward_call at N = 1, 7, 64 (and 1000 at
 * -O2); every result must match the reference interpreter on the same inputs and weights to
 * 1e-5 of the result's largest magnitude. Also checks the typed wrapper, the
 * metadata and the workspace size of one compiled model. */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autodiff.h"
#include "codegen.h"
#include "ctorch/abi.h"
#include "ctorch/compiler.h"
#include "ctorch/parallel.h"
#include "ir.h"
#include "pass.h"
#include "testlib.h"

/* The forward inputs of an example, from its docstring's `ctorchc ... --input x=f32[N,784]`. */
enum { MAX_SPECS = 4 };
static int example_specs(const char *text, char specs[MAX_SPECS][64]) {
  int n = 0;
  const char *end = text + (strlen(text) < 4000 ? strlen(text) : 4000);
  for (const char *p = strstr(text, "--input "); p && p < end && n < MAX_SPECS; p = strstr(p + 1, "--input ")) {
    p += 8;
    size_t k = 0;
    while (p[k] && p[k] != ' ' && p[k] != ')' && p[k] != '\n' && k < 63) k++;
    memcpy(specs[n], p, k);
    specs[n++][k] = 0;
  }
  return n;
}

static char tmpdir[256];

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

static ct_module *compile_example(const char *dir, int level) {
  char path[512];
  snprintf(path, sizeof path, "%s/examples/%s/model.py", CT_SOURCE_DIR, dir);
  size_t len;
  char *text = test_read_file(path, &len);
  CHECK_MSG(text != NULL, "cannot read %s", path);
  if (!text) return NULL;
  char spec_buf[MAX_SPECS][64];
  int n_specs = example_specs(text, spec_buf);
  CHECK_MSG(n_specs > 0, "examples/%s/model.py: no `--input` in its docstring", dir);
  const char *specs[MAX_SPECS];
  for (int i = 0; i < n_specs; i++) specs[i] = spec_buf[i];
  ct_diag diag;
  ct_diag_init(&diag);
  ct_frontend_options fo = {NULL, n_specs, specs};
  ct_module *m = NULL;
  ct_status st = ct_frontend_compile(text, len, path, &fo, &m, &diag);
  if (st == CT_OK) st = ct_module_init_params(m, 0, &diag);
  ct_pipeline_options po = {false, NULL, false, true};
  if (st == CT_OK) st = ct_pipeline_run(m, ct_pipeline_for_level(level), &po, &diag);
  if (st != CT_OK) ct_diag_print(&diag, stderr);
  CHECK_MSG(st == CT_OK, "%s: frontend or pipeline failed", dir);
  ct_diag_free(&diag);
  free(text);
  if (st != CT_OK) {
    ct_module_free(m);
    return NULL;
  }
  return m;
}

static void *build_so(ct_module *m, const char *name, int level, const char *so) {
  ct_codegen_options opt;
  memset(&opt, 0, sizeof opt);
  opt.name = name;
  opt.opt_level = level;
  opt.embed_weights = true;
  ct_diag diag;
  ct_diag_init(&diag);
  ct_status st = ct_codegen_llvm(m, &opt, CT_EMIT_SO, so, &diag);
  if (st != CT_OK) ct_diag_print(&diag, stderr);
  CHECK_MSG(st == CT_OK, "%s: code generation failed at -O%d", name, level);
  ct_diag_free(&diag);
  if (st != CT_OK) return NULL;
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  CHECK_MSG(h != NULL, "dlopen %s: %s", so, dlerror());
  return h;
}

/* max |a - b| / max |b|: the error relative to the result's scale. */
static double scaled_error(const ct_tensor *got, const ct_tensor *want) {
  int64_t n = ct_tensor_numel(want);
  double err = 0, scale = 0;
  for (int64_t i = 0; i < n; i++) {
    double a = ct_tensor_get(got, i), b = ct_tensor_get(want, i);
    if (fabs(b) > scale) scale = fabs(b);
    double e = fabs(a - b);
    if (!(e <= err)) err = e; /* NaN counts as an infinite error */
  }
  return scale > 0 ? err / scale : err;
}

/* Runs graph `entry` at batch n through the compiled entry and the interpreter; compares. */
static void run_entry(ct_module *m, void *h, const char *name, const char *entry, int level,
                      int64_t n) {
  const ct_graph *g = ct_module_find_graph(m, entry);
  CHECK_MSG(g != NULL, "%s: no graph @%s", name, entry);
  if (!g) return;
  int n_in = ct_graph_num_inputs(g), n_res = ct_graph_num_results(g);
  ct_tensor **in = calloc((size_t)n_in, sizeof *in);
  void **args = calloc((size_t)n_in, sizeof *args);
  int64_t syms[64] = {0};
  for (int s = 1; s <= m->n_syms; s++) syms[s] = n;
  for (int i = 0; i < n_in; i++) {
    const ct_value *v = ct_graph_input(g, i);
    const ct_param *p = ct_module_find_param(m, v->name);
    if (p) {
      in[i] = ct_tensor_retain(p->init);
    } else {
      int64_t shape[CT_MAX_RANK];
      for (int d = 0; d < v->type.rank; d++) shape[d] = ct_dim_eval(v->type.dims[d], syms);
      in[i] = ct_tensor_empty(v->type.dtype, v->type.rank, shape);
      /* Integer inputs are indices (embedding tokens, class ids): small non-negative ones. */
      bool integer = !ct_dtype_is_float(v->type.dtype);
      for (int64_t k = 0; k < ct_tensor_numel(in[i]); k++)
        ct_tensor_set(in[i], k, integer ? (double)(int)(4 * uniform()) : 2 * uniform() - 1);
    }
    args[i] = ct_tensor_data(in[i]);
  }
  ct_tensor **want = NULL;
  int n_want = 0;
  ct_diag diag;
  ct_diag_init(&diag);
  ct_status st = ct_interpret(g, in, n_in, &want, &n_want, &diag);
  CHECK_MSG(st == CT_OK, "%s: interpreter failed: %s", name, ct_diag_first_error(&diag));
  ct_diag_free(&diag);

  char sym[512];
  snprintf(sym, sizeof sym, "%s_%s_call", name, entry);
  ct_abi_entry_fn call = (ct_abi_entry_fn)dlsym(h, sym);
  snprintf(sym, sizeof sym, "%s_%s_workspace_size", name, entry);
  ct_abi_workspace_fn wsize = (ct_abi_workspace_fn)dlsym(h, sym);
  CHECK(call && wsize);
  if (st == CT_OK && call && wsize) {
    ct_tensor **got = calloc((size_t)n_res, sizeof *got);
    void **res = calloc((size_t)n_res, sizeof *res);
    for (int i = 0; i < n_res; i++) {
      got[i] = ct_tensor_zeros(want[i]->dtype, want[i]->rank, want[i]->shape);
      res[i] = ct_tensor_data(got[i]);
    }
    int64_t ws_bytes = wsize(syms);
    CHECK(ws_bytes >= 0);
    void *ws = ct_aligned_alloc((size_t)ws_bytes);
    ct_abi_call c = {syms, args, res, ws};
    int32_t rc = call(&c);
    CHECK_MSG(rc == 0, "%s @%s -O%d N=%lld: call returned %d: %s", name, entry, level,
              (long long)n, rc, ct_abi_last_error());
    for (int i = 0; rc == 0 && i < n_res; i++) {
      double err = scaled_error(got[i], want[i]);
      CHECK_MSG(err <= 1e-5, "%s @%s -O%d N=%lld result %d: scaled error %g > 1e-5", name, entry,
                level, (long long)n, i, err);
    }
    ct_aligned_free(ws);
    for (int i = 0; i < n_res; i++) ct_tensor_release(got[i]);
    free(got);
    free(res);
  }
  for (int i = 0; i < n_want; i++) ct_tensor_release(want[i]);
  free(want);
  for (int i = 0; i < n_in; i++) ct_tensor_release(in[i]);
  free(in);
  free(args);
}

static void test_examples_match_interpreter(void) {
  static const int64_t batches[] = {1, 7, 64, 1000};
  char path[512];
  snprintf(path, sizeof path, "%s/examples", CT_SOURCE_DIR);
  DIR *d = opendir(path);
  CHECK(d != NULL);
  if (!d) return;
  struct dirent *ent;
  int n_models = 0;
  while ((ent = readdir(d))) {
    char model[1024];
    snprintf(model, sizeof model, "%s/%s/model.py", path, ent->d_name);
    if (ent->d_name[0] == '.' || access(model, R_OK) != 0) continue;
    n_models++;
    for (int level = 0; level <= 2; level += 2) {
      ct_module *m = compile_example(ent->d_name, level);
      if (!m) continue;
      char so[1024];
      snprintf(so, sizeof so, "%s/%s_O%d.so", tmpdir, ent->d_name, level);
      void *h = build_so(m, ent->d_name, level, so);
      /* The large batch once per model (at -O2) keeps the test quick on a shared machine. */
      size_t nb = sizeof batches / sizeof batches[0] - (level == 0 ? 1 : 0);
      for (size_t b = 0; h && b < nb; b++) run_entry(m, h, ent->d_name, "forward", level, batches[b]);
      if (h) dlclose(h);
      ct_module_free(m);
    }
  }
  closedir(d);
  printf("%d example models compiled at -O0 and -O2\n", n_models);
  CHECK(n_models >= 2);
}

/* @grad and @train_step (cross_entropy, SGD with momentum: the update is linear in the
 * gradient, so rounding cannot flip it as Adam's first step can) of the MLP and LeNet. */
static void test_train_graphs_match_interpreter(void) {
  static const char *const models[] = {"mlp", "lenet"};
  for (size_t e = 0; e < sizeof models / sizeof models[0]; e++)
    for (int level = 0; level <= 2; level += 2) {
      ct_module *m = compile_example(models[e], 0);
      if (!m) continue;
      ct_diag diag;
      ct_diag_init(&diag);
      ct_loss_options loss = {CT_LOSS_CROSS_ENTROPY, false, 0.0};
      ct_optim_options opt;
      ct_optim_defaults(CT_OPTIM_SGD, &opt);
      opt.lr = 0.1;
      opt.momentum = 0.9;
      const char *tnames[1] = {"y"};
      ct_dim nd = ct_dim_sym(ct_module_find_sym(m, "N", 1));
      ct_type tt = ct_type_make(CT_DT_I64, 1, &nd);
      ct_status st = ct_build_training(m, "forward", &loss, &opt, 1, tnames, &tt, &diag);
      if (st == CT_OK) st = ct_module_init_params(m, 0, &diag);
      ct_pipeline_options po = {false, NULL, false, true};
      if (st == CT_OK) st = ct_pipeline_run(m, ct_pipeline_for_level(level), &po, &diag);
      CHECK_MSG(st == CT_OK, "%s: training graphs: %s", models[e], ct_diag_first_error(&diag));
      ct_diag_free(&diag);
      char so[1024];
      snprintf(so, sizeof so, "%s/%s_train_O%d.so", tmpdir, models[e], level);
      void *h = st == CT_OK ? build_so(m, models[e], level, so) : NULL;
      static const int64_t batches[] = {1, 7, 64};
      for (size_t b = 0; h && b < sizeof batches / sizeof batches[0]; b++) {
        run_entry(m, h, models[e], "grad", level, batches[b]);
        run_entry(m, h, models[e], "train_step", level, batches[b]);
      }
      if (h) dlclose(h);
      ct_module_free(m);
    }
}

/* Every .ctir module of tests/lit/codegen (one per lowering: fused chains, GEMM, reductions,
 * shape copies, fallbacks) also runs and matches the interpreter. */
static void test_lit_modules_match_interpreter(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/tests/lit/codegen", CT_SOURCE_DIR);
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  struct dirent *ent;
  int n_mods = 0;
  while ((ent = readdir(d))) {
    size_t len = strlen(ent->d_name);
    if (len < 6 || strcmp(ent->d_name + len - 5, ".ctir") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    size_t n;
    char *text = test_read_file(path, &n);
    ct_diag diag;
    ct_diag_init(&diag);
    ct_module *m = text ? ct_module_parse(text, n, path, &diag) : NULL;
    CHECK_MSG(m && ct_module_init_params(m, 0, &diag) == CT_OK, "%s: %s", path, ct_diag_first_error(&diag));
    ct_diag_free(&diag);
    free(text);
    if (!m) continue;
    n_mods++;
    for (int level = 0; level <= 2; level += 2) {
      char so[1024];
      snprintf(so, sizeof so, "%s/lit_%s_O%d.so", tmpdir, m->name ? m->name : "model", level);
      void *h = build_so(m, m->name ? m->name : "model", level, so);
      static const int64_t batches[] = {1, 7, 64};
      for (size_t b = 0; h && b < sizeof batches / sizeof batches[0]; b++)
        run_entry(m, h, m->name ? m->name : "model", "forward", level, batches[b]);
      if (h) dlclose(h);
    }
    ct_module_free(m);
  }
  closedir(d);
  CHECK(n_mods >= 5);
}

/* A native lowering's runtime error (embedding index out of range) is a status and a message,
 * not a crash. */
static void test_runtime_error_reported(void) {
  static const char text[] =
      "module @emb\nsym N\nparam w: f32[10,4] init=zeros\n"
      "graph @forward(%i: i64[N], %w: f32[10,4]) -> (f32[N,4]) {\n"
      "  %0: f32[N,4] = embedding(%i, %w)\n  return %0\n}\n";
  ct_diag diag;
  ct_diag_init(&diag);
  ct_module *m = ct_module_parse(text, strlen(text), "emb.ctir", &diag);
  CHECK(m && ct_module_init_params(m, 0, &diag) == CT_OK);
  char so[512];
  snprintf(so, sizeof so, "%s/emb.so", tmpdir);
  void *h = m ? build_so(m, "emb", 2, so) : NULL;
  ct_abi_entry_fn call = h ? (ct_abi_entry_fn)dlsym(h, "emb_forward_call") : NULL;
  CHECK(call != NULL);
  if (call) {
    int64_t syms[2] = {0, 3}, idx[3] = {1, 12, 0};
    float w[40], y[12];
    for (int i = 0; i < 40; i++) w[i] = (float)i;
    void *args[2] = {idx, w}, *res[1] = {y};
    ct_abi_call c = {syms, args, res, NULL};
    uint32_t mode = ct_fp_mode(); /* control bits: x86 keeps sticky flags in the low six */
    CHECK_EQ_INT(call(&c), CT_ERR_INVALID);
    CHECK((ct_fp_mode() & ~0x3fu) == (mode & ~0x3fu)); /* the error return restores the caller's fp mode too */
    CHECK_STR_EQ(ct_abi_last_error(), "embedding: index 12 is out of range for 10 rows");
    idx[1] = 9;
    CHECK_EQ_INT(call(&c), 0);
    CHECK((ct_fp_mode() & ~0x3fu) == (mode & ~0x3fu));
    CHECK(y[0] == 4.0f && y[4] == 36.0f && y[11] == 3.0f);
  }
  if (h) dlclose(h);
  ct_module_free(m);
  ct_diag_free(&diag);
}

/* The typed wrapper with the embedded weights, the metadata and the ABI version. */
static void test_typed_wrapper_and_metadata(void) {
  ct_module *m = compile_example("mlp", 2);
  if (!m) return;
  char so[512];
  snprintf(so, sizeof so, "%s/mlp_wrapper.so", tmpdir);
  void *h = build_so(m, "mlp", 2, so);
  if (!h) {
    ct_module_free(m);
    return;
  }
  typedef int (*fwd_fn)(int64_t, const float *, float *);
  fwd_fn fwd = (fwd_fn)dlsym(h, "mlp_forward");
  ct_abi_info_fn info = (ct_abi_info_fn)dlsym(h, "ctorch_model_info");
  ct_abi_info_fn info2 = (ct_abi_info_fn)dlsym(h, "mlp_info");
  int32_t (*ver)(void) = (int32_t(*)(void))dlsym(h, "ctorch_abi_version");
  CHECK(fwd && info && info2 && ver && dlsym(h, "mlp_weights"));
  if (fwd && info && info2 && ver) {
    CHECK_EQ_INT(ver(), CT_ABI_VERSION);
    CHECK(info() == info2());
    CHECK(strstr(info(), "\"name\": \"mlp\"") != NULL);
    CHECK(strstr(info(), "\"shape\": [\"N\", 784], \"role\": \"input\"") != NULL);
    CHECK(strstr(info(), "\"results\": [{\"name\": \"output\", \"dtype\": \"f32\", \"shape\": [\"N\", 10]}]") != NULL);
    const ct_graph *g = ct_module_find_graph(m, "forward");
    enum { N = 3 };
    float x[N * 784], y[N * 10];
    for (int i = 0; i < N * 784; i++) x[i] = (float)(2 * uniform() - 1);
    CHECK_EQ_INT(fwd(N, x, y), 0);
    int n_in = ct_graph_num_inputs(g);
    ct_tensor **in = calloc((size_t)n_in, sizeof *in);
    int64_t shape[2] = {N, 784};
    in[0] = ct_tensor_wrap(CT_DT_F32, 2, shape, x, NULL, NULL);
    for (int i = 1; i < n_in; i++) in[i] = ct_tensor_retain(ct_module_find_param(m, ct_graph_input(g, i)->name)->init);
    ct_tensor **want = NULL;
    int n_want = 0;
    ct_diag diag;
    ct_diag_init(&diag);
    CHECK(ct_interpret(g, in, n_in, &want, &n_want, &diag) == CT_OK);
    ct_diag_free(&diag);
    if (n_want == 1) {
      int64_t yshape[2] = {N, 10};
      ct_tensor *got = ct_tensor_wrap(CT_DT_F32, 2, yshape, y, NULL, NULL);
      CHECK(scaled_error(got, want[0]) <= 1e-5);
      ct_tensor_release(got);
      ct_tensor_release(want[0]);
    }
    free(want);
    for (int i = 0; i < n_in; i++) ct_tensor_release(in[i]);
    free(in);
  }
  dlclose(h);
  ct_module_free(m);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ct_codegen_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN_TEST(test_examples_match_interpreter);
  RUN_TEST(test_train_graphs_match_interpreter);
  RUN_TEST(test_lit_modules_match_interpreter);
  RUN_TEST(test_typed_wrapper_and_metadata);
  RUN_TEST(test_runtime_error_reported);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", tmpdir);
  return test_summary();
}
