/* tests/unit/test_package_api.c: the deployment API (ctorch/ctorch.h) on hand-built packages:
 * signatures, running forward with runtime-allocated and caller-provided outputs, a train step
 * that replaces its parameter, get/set/save/load of parameters, and one case per malformation
 * class of the metadata and the IR section, each with its status and message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctorch/ctorch.h"
#include "ctorch/package.h"
#include "ctorch/safetensors.h"
#include "testlib.h"

/* y = x + w; a "train step" whose loss is sum(x) and whose new w is w + 1. */
static const char ir_text[] =
    "module @toy\n"
    "sym N\n"
    "param w: f32[3]\n"
    "graph @forward(%x: f32[N,3], %w: f32[3]) -> (output: f32[N,3]) {\n"
    "  %0: f32[N,3] = add(%x, %w)\n"
    "  return %0\n"
    "}\n"
    "graph @train_step(%x: f32[N,3], %w: f32[3]) -> (loss: f32[], new.w: f32[3]) {\n"
    "  %0: f32[] = sum(%x)\n"
    "  %1: f32[3] = constant() {shape=[3], dtype=f32, value=1}\n"
    "  %2: f32[3] = add(%w, %1)\n"
    "  return %0, %2\n"
    "}\n";

static const char meta_text[] =
    "{\"abi\": 1, \"name\": \"toy\", \"symbols\": [\"N\"],"
    " \"params\": [{\"name\": \"w\", \"kind\": \"weight\", \"dtype\": \"f32\", \"shape\": [3],"
    "              \"offset\": 0, \"nbytes\": 12}],"
    " \"entries\": ["
    "  {\"name\": \"forward\","
    "   \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [\"N\", 3], \"role\": "
    "\"input\"},"
    "              {\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [3], \"role\": \"param\"}],"
    "   \"results\": [{\"name\": \"output\", \"dtype\": \"f32\", \"shape\": [\"N\", 3]}]},"
    "  {\"name\": \"train_step\","
    "   \"inputs\": [{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [\"N\", 3], \"role\": "
    "\"input\"},"
    "              {\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [3], \"role\": \"param\"}],"
    "   \"results\": [{\"name\": \"loss\", \"dtype\": \"f32\", \"shape\": []},"
    "                {\"name\": \"new.w\", \"dtype\": \"f32\", \"shape\": [3]}]}]}";

static const float w_init[16] = {10, 20, 30};

/* Loads a package of the given metadata and IR (NULL: no IR section). */
static ct_status load(const char *meta, const char *ir, ct_model **m) {
  ct_pkg_blob s[3] = {{CT_PKG_META, CT_PKG_FLAG_REQUIRED, meta, strlen(meta)},
                      {CT_PKG_WEIGHTS, CT_PKG_FLAG_REQUIRED, w_init, sizeof w_init},
                      {CT_PKG_IR, 0, ir, ir ? strlen(ir) : 0}};
  void *img;
  size_t len;
  ct_status st = ct_package_serialize(ir ? 3 : 2, s, &img, &len, NULL);
  if (st != CT_OK) return st;
  st = ct_model_load_memory(img, len, "toy.ctm", 0, m);
  free(img);
  return st;
}

/* base with the first `from` replaced by `to` (a malloc'd string). */
static char *edit(const char *base, const char *from, const char *to) {
  const char *at = strstr(base, from);
  if (!at) {
    fprintf(stderr, "edit: '%s' not found\n", from);
    abort();
  }
  size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
  char *out = malloc(n);
  size_t pre = (size_t)(at - base);
  memcpy(out, base, pre);
  strcpy(out + pre, to);
  strcat(out, at + strlen(from));
  return out;
}

static ct_tensor *matrix(int64_t rows, const float *values) {
  int64_t shape[2] = {rows, 3};
  ct_tensor *t = ct_tensor_empty(CT_DT_F32, 2, shape);
  for (int64_t i = 0; i < rows * 3; i++)
    ct_tensor_set(t, i, values[i]);
  return t;
}

static void test_signatures(void) {
  ct_model *m = NULL;
  CHECK_OK(load(meta_text, ir_text, &m));
  if (!m) return;
  CHECK_STR_EQ(ct_model_name(m), "toy");
  CHECK_EQ_INT(ct_model_num_symbols(m), 1);
  CHECK_STR_EQ(ct_model_symbol(m, 1), "N");
  CHECK_EQ_INT(ct_model_num_entries(m), 2);
  int f = ct_model_find_entry(m, "forward"), t = ct_model_find_entry(m, "train_step");
  CHECK(f == 0 && t == 1);
  CHECK_EQ_INT(ct_model_find_entry(m, "backward"), -1);
  CHECK_STR_EQ(ct_last_error(), "toy.ctm: no entry 'backward' (entries: forward, train_step)");
  CHECK(!ct_model_entry_is_native(m, f));
  CHECK_EQ_INT(ct_model_num_inputs(m, f), 1);
  CHECK_EQ_INT(ct_model_num_outputs(m, f), 1);
  char buf[64];
  ct_model_format_type(m, ct_model_input(m, f, 0), buf, sizeof buf);
  CHECK_STR_EQ(buf, "f32[N,3]");
  CHECK_STR_EQ(ct_model_output(m, f, 0)->name, "output");
  /* The train step shows its loss, not the state it updates. */
  CHECK_EQ_INT(ct_model_num_outputs(m, t), 1);
  CHECK_STR_EQ(ct_model_output(m, t, 0)->name, "loss");
  CHECK(ct_model_input(m, f, 1) == NULL && ct_model_output(m, 5, 0) == NULL);
  CHECK_EQ_INT(ct_model_num_params(m), 1);
  CHECK_STR_EQ(ct_model_param_name(m, 0), "w");
  ct_model_free(m);
}

static void test_run(void) {
  ct_model *m = NULL;
  CHECK_OK(load(meta_text, ir_text, &m));
  if (!m) return;
  const float xv[6] = {1, 2, 3, 4, 5, 6};
  ct_tensor *x = matrix(2, xv), *out = NULL;
  CHECK_OK(ct_model_run(m, 0, &x, &out));
  CHECK(out && out->rank == 2 && out->shape[0] == 2 && out->shape[1] == 3);
  for (int i = 0; out && i < 6; i++)
    CHECK_CLOSE(ct_tensor_get(out, i), xv[i] + w_init[i % 3], 0, 0);
  /* Caller-provided output, written in place. */
  ct_tensor *given = ct_tensor_zeros(CT_DT_F32, 2, (int64_t[]){2, 3}), *slot = given;
  CHECK_OK(ct_model_run(m, 0, &x, &slot));
  CHECK(slot == given && ct_tensor_get(given, 5) == 36);
  /* Wrong output shape, wrong input dtype and shape: errors, outputs untouched. */
  ct_tensor *small = ct_tensor_zeros(CT_DT_F32, 2, (int64_t[]){1, 3});
  slot = small;
  CHECK(ct_model_run(m, 0, &x, &slot) == CT_ERR_SHAPE && slot == small);
  CHECK_STR_EQ(ct_last_error(), "forward: output 'output' must be a contiguous f32[2,3], got "
                                "f32[1,3]");
  ct_tensor *xi = ct_tensor_zeros(CT_DT_I64, 2, (int64_t[]){2, 3}), *none = NULL;
  CHECK(ct_model_run(m, 0, &xi, &none) == CT_ERR_SHAPE && !none);
  CHECK_STR_EQ(ct_last_error(), "forward: input 'x' must be f32[N,3], got i64[2,3]");
  ct_tensor *x4 = ct_tensor_zeros(CT_DT_F32, 2, (int64_t[]){2, 4});
  CHECK(ct_model_run(m, 0, &x4, &none) == CT_ERR_SHAPE);
  CHECK_STR_EQ(ct_last_error(), "forward: input 'x' must be f32[N,3], got f32[2,4] (dim 1)");
  CHECK(ct_model_run(m, 7, &x, &none) == CT_ERR_INVALID);
  /* An output may not alias an input. */
  slot = x;
  CHECK(ct_model_run(m, 0, &x, &slot) == CT_ERR_INVALID && slot == x);
  CHECK_STR_EQ(ct_last_error(), "forward: output 'output' overlaps input 'x' (results never "
                                "alias inputs)");
  /* A strided input is made contiguous. */
  ct_tensor *xt = ct_tensor_view(x, 2, (int64_t[]){2, 3}, (int64_t[]){3, 1}, 0);
  ct_tensor *o2 = NULL;
  CHECK_OK(ct_model_run(m, 0, &xt, &o2));
  CHECK(o2 && ct_tensor_get(o2, 0) == 11);
  ct_tensor_release(o2);
  ct_tensor_release(xt);
  ct_tensor_release(x4);
  ct_tensor_release(xi);
  ct_tensor_release(small);
  ct_tensor_release(given);
  ct_tensor_release(out);
  ct_tensor_release(x);
  ct_model_free(m);
}

/* Two outputs given as one tensor: an error (native code writes each result through its own
 * pointer, declared disjoint); two tensors are fine. */
static void test_outputs_overlap(void) {
  char *ir = edit(ir_text, "-> (output: f32[N,3]) {\n  %0: f32[N,3] = add(%x, %w)\n  return %0\n",
                  "-> (a: f32[N,3], b: f32[N,3]) {\n  %0: f32[N,3] = add(%x, %w)\n"
                  "  return %0, %0\n");
  char *meta = edit(
      meta_text, "\"results\": [{\"name\": \"output\", \"dtype\": \"f32\", \"shape\": [\"N\", 3]}]",
      "\"results\": [{\"name\": \"a\", \"dtype\": \"f32\", \"shape\": [\"N\", 3]},"
      " {\"name\": \"b\", \"dtype\": \"f32\", \"shape\": [\"N\", 3]}]");
  ct_model *m = NULL;
  CHECK_OK(load(meta, ir, &m));
  free(ir);
  free(meta);
  if (!m) return;
  const float xv[3] = {1, 2, 3};
  ct_tensor *x = matrix(1, xv), *t = matrix(1, xv), *u = matrix(1, xv);
  ct_tensor *same[2] = {t, t}, *two[2] = {t, u};
  CHECK(ct_model_run(m, 0, &x, same) == CT_ERR_INVALID);
  CHECK_STR_EQ(ct_last_error(), "forward: output 'b' overlaps output 'a' (results never alias "
                                "each other)");
  CHECK_OK(ct_model_run(m, 0, &x, two));
  CHECK(ct_tensor_get(t, 2) == 33 && ct_tensor_get(u, 2) == 33);
  ct_tensor_release(u);
  ct_tensor_release(t);
  ct_tensor_release(x);
  ct_model_free(m);
}

static void test_train_and_params(void) {
  ct_model *m = NULL;
  CHECK_OK(load(meta_text, ir_text, &m));
  if (!m) return;
  const float xv[3] = {1, 2, 3};
  ct_tensor *x = matrix(1, xv);
  for (int step = 0; step < 3; step++) {
    ct_tensor *loss = NULL;
    CHECK_OK(ct_model_run(m, 1, &x, &loss));
    CHECK(loss && loss->rank == 0 && ct_tensor_get(loss, 0) == 6);
    ct_tensor_release(loss);
  }
  ct_tensor *w = ct_model_get_param(m, "w");
  CHECK(w && ct_tensor_get(w, 0) == 13 && ct_tensor_get(w, 2) == 33);
  /* forward sees the trained value. */
  ct_tensor *out = NULL;
  CHECK_OK(ct_model_run(m, 0, &x, &out));
  CHECK(out && ct_tensor_get(out, 1) == 25);
  ct_tensor_release(out);

  CHECK(ct_model_get_param(m, "v") == NULL);
  CHECK_STR_EQ(ct_last_error(), "toy.ctm: no parameter 'v'");
  ct_tensor *bad = ct_tensor_zeros(CT_DT_F32, 1, (int64_t[]){4});
  CHECK(ct_model_set_param(m, "w", bad) == CT_ERR_SHAPE);
  CHECK_STR_EQ(ct_last_error(), "toy.ctm: parameter 'w' is f32[3], got f32[4]");
  ct_tensor *w2 = ct_tensor_zeros(CT_DT_F32, 1, (int64_t[]){3});
  ct_tensor_set(w2, 0, -1);
  CHECK_OK(ct_model_set_param(m, "w", w2));
  ct_tensor_set(w2, 0, 99); /* set_param copied it */
  CHECK(ct_tensor_get(ct_model_get_param(m, "w"), 0) == -1);

  char path[64];
  snprintf(path, sizeof path, "/tmp/ct_api_test_%ld.safetensors", (long)getpid());
  CHECK_OK(ct_model_save_params(m, path, false));
  CHECK_OK(ct_model_set_param(m, "w", w2));
  CHECK_OK(ct_model_load_params(m, path));
  CHECK(ct_tensor_get(ct_model_get_param(m, "w"), 0) == -1);
  ct_st_file *f = NULL;
  CHECK_OK(ct_st_load(path, &f, NULL));
  CHECK(f && ct_st_count(f) == 1 && strcmp(ct_st_name(f, 0), "w") == 0);
  ct_st_free(f);
  /* A file with a key the model lacks changes nothing. */
  const char *names[2] = {"w", "extra"};
  ct_tensor *vals[2] = {w2, w2};
  CHECK_OK(ct_st_save(path, 2, names, vals, 0, NULL, NULL, NULL));
  CHECK(ct_model_load_params(m, path) == CT_ERR_INVALID);
  CHECK(strstr(ct_last_error(), "'extra' is not a parameter of toy.ctm") != NULL);
  CHECK(ct_tensor_get(ct_model_get_param(m, "w"), 0) == -1);
  unlink(path);
  ct_tensor_release(bad);
  ct_tensor_release(w2);
  ct_tensor_release(x);
  ct_model_free(m);
}

typedef struct meta_case {
  const char *from, *to;
  ct_status st;
  const char *msg;
} meta_case;

static const meta_case meta_cases[] = {
    {"{\"abi\": 1,", "[", CT_ERR_FORMAT, "toy.ctm: metadata: not valid JSON"},
    {"\"abi\": 1", "\"abi\": 2", CT_ERR_VERSION,
     "built for model ABI 2, newer than this runtime's (1)"},
    {"\"abi\": 1", "\"abi\": 0.5", CT_ERR_FORMAT, "'abi' missing or not an integer"},
    {"\"name\": \"toy\"", "\"name\": \"1toy\"", CT_ERR_FORMAT,
     "'name' missing or not an identifier"},
    {"[\"N\"]", "[7]", CT_ERR_FORMAT, "symbol 1 is not an identifier"},
    {"[\"N\"]", "[\"N\", \"N\"]", CT_ERR_FORMAT, "symbol 'N' appears twice"},
    {"\"nbytes\": 12", "\"nbytes\": 16", CT_ERR_FORMAT,
     "param 'w': nbytes 16 does not match its dtype and shape (12)"},
    {"\"offset\": 0", "\"offset\": 8", CT_ERR_FORMAT, "param 'w': offset 8 is not 64-byte aligned"},
    {"\"offset\": 0", "\"offset\": 64", CT_ERR_FORMAT,
     "param 'w': bytes 64..+12 lie outside the weights (64 bytes)"},
    {"\"offset\": 0", "\"offset\": -64", CT_ERR_FORMAT,
     "'offset' and 'nbytes' must be non-negative integers"},
    {"\"kind\": \"weight\"", "\"kind\": \"gradient\"", CT_ERR_FORMAT,
     "param 'w': 'kind' must be weight, buffer or state"},
    {"\"kind\": \"weight\", \"dtype\": \"f32\"", "\"kind\": \"weight\", \"dtype\": \"f128\"",
     CT_ERR_FORMAT, "param 'w': 'dtype' missing or unknown ('f128')"},
    {"[3],              \"offset", "[1,1,1,1,1,1,1,1,3], \"offset", CT_ERR_FORMAT,
     "param 'w': rank 9 exceeds 8"},
    {"[3],              \"offset", "[-3], \"offset", CT_ERR_FORMAT,
     "param 'w': dim 0 is not a non-negative integer"},
    {"[\"N\", 3], \"role\"", "[\"M\", 3], \"role\"", CT_ERR_FORMAT,
     "entry 'forward': input 'x': dim 0 is not a size or an expression over the declared symbols"},
    {"[\"N\", 3], \"role\"", "[\"2*N+1\", 3], \"role\"", CT_ERR_FORMAT,
     "toy.ctm: graph @forward input 0 does not match the metadata's 'x'"},
    {"\"role\": \"input\"", "\"role\": \"output\"", CT_ERR_FORMAT,
     "entry 'forward': input 'x': 'role' must be input, target, param, buffer or state"},
    {"\"name\": \"w\", \"dtype\": \"f32\", \"shape\": [3], \"role\": \"param\"",
     "\"name\": \"v\", \"dtype\": \"f32\", \"shape\": [3], \"role\": \"param\"", CT_ERR_FORMAT,
     "entry 'forward': input 'v' is a parameter but no param has that name"},
    {"\"shape\": [3], \"role\": \"param\"", "\"shape\": [4], \"role\": \"param\"", CT_ERR_FORMAT,
     "entry 'forward': input 'w' does not have its param's dtype and shape"},
    {"\"name\": \"new.w\"", "\"name\": \"new.v\"", CT_ERR_FORMAT,
     "entry 'train_step': result 'new.v' updates no param"},
    {"\"shape\": []}", "\"shape\": [\"N\"]}", CT_ERR_FORMAT,
     "toy.ctm: graph @train_step result 0 does not match the metadata's 'loss'"},
    {"\"name\": \"train_step\"", "\"name\": \"forward\"", CT_ERR_FORMAT,
     "entry 'forward' appears twice"},
    {"\"name\": \"train_step\"", "\"name\": \"train-step\"", CT_ERR_FORMAT,
     "an entry has a missing or invalid 'name'"},
    {"\"entries\": [", "\"entries\": 5, \"x\": [", CT_ERR_FORMAT,
     "'entries' missing, not an array or empty"},
    {"{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [\"N\", 3], \"role\": \"input\"},", "",
     CT_ERR_FORMAT, "entry 'forward': result 'output' uses symbol 'N', which no input binds"},
    {"\"name\": \"forward\"", "\"name\": \"backward\"", CT_ERR_FORMAT,
     "toy.ctm: the IR has no graph @backward"},
};

static void test_meta_errors(void) {
  for (size_t i = 0; i < sizeof meta_cases / sizeof meta_cases[0]; i++) {
    const meta_case *c = &meta_cases[i];
    char *meta = edit(meta_text, c->from, c->to);
    ct_model *m = NULL;
    ct_status st = load(meta, ir_text, &m);
    CHECK_MSG(st == c->st && !m, "case %zu: status %d, expected %d (%s)", i, st, c->st,
              ct_last_error());
    CHECK_MSG(strstr(ct_last_error(), c->msg) != NULL, "case %zu: '%s' lacks '%s'", i,
              ct_last_error(), c->msg);
    ct_model_free(m);
    free(meta);
  }
}

static void test_ir_errors(void) {
  ct_model *m = NULL;
  CHECK(load(meta_text, NULL, &m) == CT_ERR_FORMAT && !m);
  CHECK_STR_EQ(ct_last_error(), "toy.ctm: entry 'forward' has no native code and the package "
                                "has no IR section");
  char *ir = edit(ir_text, "add(%x, %w)", "add(%x, %q)");
  CHECK(load(meta_text, ir, &m) == CT_ERR_FORMAT && !m);
  CHECK(strncmp(ct_last_error(), "toy.ctm: IR section: ", 21) == 0);
  free(ir);
  char *renamed = edit(ir_text, "graph @forward(%x: f32[N,3]", "graph @forward(%y: f32[N,3]");
  ir = edit(renamed, "add(%x, %w)", "add(%y, %w)");
  free(renamed);
  CHECK(load(meta_text, ir, &m) == CT_ERR_FORMAT && !m);
  CHECK_STR_EQ(ct_last_error(),
               "toy.ctm: graph @forward input 0 does not match the metadata's 'x'");
  free(ir);
  /* A .so can't be interpreted; a missing file is an I/O error. */
  CHECK(ct_model_load("/nonexistent.ctm", &m) == CT_ERR_IO && !m);
  CHECK(ct_model_load_memory("CTORCHPK", 8, "short.ctm", 0, &m) == CT_ERR_FORMAT && !m);
  CHECK_STR_EQ(ct_last_error(), "short.ctm: not a ctorch package: 8 bytes, shorter than the "
                                "magic and version");
}

int main(void) {
  RUN_TEST(test_signatures);
  RUN_TEST(test_run);
  RUN_TEST(test_outputs_overlap);
  RUN_TEST(test_train_and_params);
  RUN_TEST(test_meta_errors);
  RUN_TEST(test_ir_errors);
  return test_summary();
}
