/* tests/unit/test_frontend_lower.c: the frontend's lowering through its public entry
 * (ct_frontend_compile): parameter kinds, dtypes and state_dict order, the error contract
 * (status, no module, every independent error, repeats dropped, earlier diagnostics kept), and
 * the numerics of lowered indexing and cross_entropy against straightforward double-precision
 * code run through the interpreter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/compiler.h"
#include "ir.h"
#include "testlib.h"

static ct_module *compile(const char *src, int n_inputs, const char *const *specs, ct_diag *diag) {
  ct_frontend_options opt = {NULL, n_inputs, specs};
  ct_module *m = NULL;
  ct_status st = ct_frontend_compile(src, strlen(src), "m.py", &opt, &m, diag);
  CHECK((st == CT_OK) == (m != NULL));
  return m;
}

static const char bn_src[] = "import torch\n"
                             "import torch.nn as nn\n"
                             "class M(nn.Module):\n"
                             "    def __init__(self):\n"
                             "        super().__init__()\n"
                             "        self.conv = nn.Conv2d(3, 4, 3, bias=False)\n"
                             "        self.bn = nn.BatchNorm2d(4)\n"
                             "        self.register_buffer('scale', torch.ones(4))\n"
                             "        self.pos = nn.Parameter(torch.randn(4) * 0.5)\n"
                             "    def forward(self, x):\n"
                             "        return self.bn(self.conv(x)) + self.pos.view(1, 4, 1, 1)\n";

/* state_dict order: own parameters, own buffers, then children; BatchNorm's buffers are
 * CT_PARAM_BUFFER with num_batches_tracked an i64 scalar. */
static void test_param_table(void) {
  ct_diag d;
  ct_diag_init(&d);
  const char *spec[] = {"x=f32[N,3,8,8]"};
  ct_module *m = compile(bn_src, 1, spec, &d);
  CHECK_MSG(m, "compile failed: %s", ct_diag_first_error(&d));
  if (m) {
    static const struct {
      const char *name;
      ct_param_kind kind;
      ct_dtype dt;
      int rank;
      const char *init;
    } want[] = {{"pos", CT_PARAM_WEIGHT, CT_DT_F32, 1, "normal(0,0.5)"},
                {"scale", CT_PARAM_BUFFER, CT_DT_F32, 1, "ones"},
                {"conv.weight", CT_PARAM_WEIGHT, CT_DT_F32, 4, "uniform(-0.19245,0.19245)"},
                {"bn.weight", CT_PARAM_WEIGHT, CT_DT_F32, 1, "ones"},
                {"bn.bias", CT_PARAM_WEIGHT, CT_DT_F32, 1, "zeros"},
                {"bn.running_mean", CT_PARAM_BUFFER, CT_DT_F32, 1, "zeros"},
                {"bn.running_var", CT_PARAM_BUFFER, CT_DT_F32, 1, "ones"},
                {"bn.num_batches_tracked", CT_PARAM_BUFFER, CT_DT_I64, 0, "zeros"}};
    int n = (int)(sizeof want / sizeof want[0]);
    CHECK_EQ_INT(m->n_params, n);
    const ct_graph *g = ct_module_find_graph(m, "forward");
    CHECK(g != NULL);
    for (int i = 0; i < n && i < m->n_params; i++) {
      const ct_param *p = &m->params[i];
      CHECK_STR_EQ(p->name, want[i].name);
      CHECK_EQ_INT(p->kind, want[i].kind);
      CHECK_EQ_INT(p->type.dtype, want[i].dt);
      CHECK_EQ_INT(p->type.rank, want[i].rank);
      CHECK_STR_EQ(p->init_spec, want[i].init);
      /* every parameter is a graph input after the forward inputs, in the same order */
      if (g && i + 1 < ct_graph_num_inputs(g))
        CHECK_STR_EQ(ct_graph_input(g, i + 1)->name, want[i].name);
    }
    CHECK(ct_module_verify(m, &d) == CT_OK);
    ct_module_free(m);
  }
  ct_diag_free(&d);
}

/* Failure: an error status, no module, every independent error once, in source order, and
 * diagnostics already in diag kept. */
static void test_error_contract(void) {
  static const char src[] = "import torch.nn as nn\n"
                            "class B(nn.Module):\n"
                            "    def forward(self, x):\n"
                            "        return x + missing\n"
                            "class M(nn.Module):\n"
                            "    def __init__(self):\n"
                            "        super().__init__()\n"
                            "        self.a = nn.Linear(4, 4, biass=True)\n"
                            "        self.bs = nn.ModuleList([B() for _ in range(3)])\n"
                            "    def forward(self, x):\n"
                            "        for b in self.bs:\n"
                            "            x = b(x)\n"
                            "        return self.bs[0](x) + undefined\n";
  ct_diag d;
  ct_diag_init(&d);
  ct_diag_error(&d, "other.py", 1, 1, "an earlier error");
  const char *spec[] = {"x=f32[N,4]"};
  ct_frontend_options opt = {NULL, 1, spec};
  ct_module *m = (ct_module *)&opt; /* must be reset to NULL */
  ct_status st = ct_frontend_compile(src, strlen(src), "m.py", &opt, &m, &d);
  CHECK(st != CT_OK);
  CHECK(m == NULL);
  CHECK_EQ_INT(d.n, 4);
  CHECK_EQ_INT(d.n_errors, 4);
  if (d.n == 4) {
    CHECK_STR_EQ(d.items[0].msg, "an earlier error");
    CHECK_EQ_INT(d.items[1].line, 8);
    CHECK_EQ_INT(d.items[1].col, 34);
    CHECK(strstr(d.items[1].msg, "unexpected keyword argument 'biass' for nn.Linear") != NULL);
    CHECK_EQ_INT(d.items[2].line, 4);
    CHECK_STR_EQ(d.items[2].msg, "name 'missing' is not defined");
    CHECK_EQ_INT(d.items[3].line, 13);
    CHECK_EQ_INT(d.items[3].col, 32);
    CHECK_STR_EQ(d.items[3].msg, "name 'undefined' is not defined");
  }
  ct_diag_free(&d);
}

/* Runs @forward on inputs; returns its first output (a new reference) or NULL. */
static ct_tensor *run1(const ct_module *m, ct_tensor *const *in, int n_in) {
  ct_diag d;
  ct_diag_init(&d);
  ct_tensor **out = NULL;
  int n_out = 0;
  const ct_graph *g = ct_module_find_graph(m, "forward");
  ct_status st = g ? ct_interpret(g, in, n_in, &out, &n_out, &d) : CT_ERR_INVALID;
  CHECK_MSG(st == CT_OK, "interpret failed: %s", ct_diag_first_error(&d));
  ct_tensor *r = st == CT_OK && n_out >= 1 ? out[0] : NULL;
  for (int i = 1; i < n_out; i++)
    ct_tensor_release(out[i]);
  free(out);
  ct_diag_free(&d);
  return r;
}

/* x[:, 1:-1:2, -1] and x[..., ::3] against the index arithmetic written out. */
static void test_indexing_numerics(void) {
  static const char src[] =
      "import torch.nn as nn\n"
      "class M(nn.Module):\n"
      "    def forward(self, x):\n"
      "        return x[:, 1:-1:2, -1] * 10 + x[..., ::3].sum(-1)[:, 1:-1:2]\n";
  ct_diag d;
  ct_diag_init(&d);
  const char *spec[] = {"x=f32[N,7,5]"};
  ct_module *m = compile(src, 1, spec, &d);
  CHECK_MSG(m, "compile failed: %s", ct_diag_first_error(&d));
  if (m) {
    int64_t shape[3] = {2, 7, 5};
    ct_tensor *x = ct_tensor_zeros(CT_DT_F32, 3, shape);
    for (int64_t i = 0; i < 2 * 7 * 5; i++)
      ct_tensor_set(x, i, sin(0.37 * (double)i) * 3.0);
    ct_tensor *y = run1(m, &x, 1);
    CHECK(y != NULL);
    if (y) {
      CHECK_EQ_INT(y->rank, 2);
      CHECK_EQ_INT(y->shape[0], 2);
      CHECK_EQ_INT(y->shape[1], 3); /* rows 1, 3, 5 */
      for (int n = 0; n < 2; n++)
        for (int k = 0; k < 3; k++) {
          int row = 1 + 2 * k;
          double last = ct_tensor_get(x, (n * 7 + row) * 5 + 4), sum = 0;
          for (int c = 0; c < 5; c += 3)
            sum += ct_tensor_get(x, (n * 7 + row) * 5 + c);
          CHECK_CLOSE(ct_tensor_get(y, n * 3 + k), last * 10 + sum, 1e-5, 1e-5);
        }
      ct_tensor_release(y);
    }
    ct_tensor_release(x);
    ct_module_free(m);
  }
  ct_diag_free(&d);
}

/* F.cross_entropy with class indices (mean) against log-sum-exp in double precision. */
static void test_cross_entropy_numerics(void) {
  static const char src[] = "import torch.nn.functional as F\n"
                            "import torch.nn as nn\n"
                            "class M(nn.Module):\n"
                            "    def forward(self, x, t):\n"
                            "        return F.cross_entropy(x, t)\n";
  ct_diag d;
  ct_diag_init(&d);
  const char *spec[] = {"x=f32[N,5]", "t=i64[N]"};
  ct_module *m = compile(src, 2, spec, &d);
  CHECK_MSG(m, "compile failed: %s", ct_diag_first_error(&d));
  if (m) {
    int64_t xs[2] = {3, 5}, ts[1] = {3};
    ct_tensor *in[2] = {ct_tensor_zeros(CT_DT_F32, 2, xs), ct_tensor_zeros(CT_DT_I64, 1, ts)};
    for (int64_t i = 0; i < 15; i++)
      ct_tensor_set(in[0], i, cos(1.3 * (double)i) * 4.0);
    const int target[3] = {4, 0, 2};
    for (int i = 0; i < 3; i++)
      ct_tensor_set(in[1], i, target[i]);
    ct_tensor *y = run1(m, in, 2);
    CHECK(y != NULL);
    if (y) {
      double want = 0;
      for (int n = 0; n < 3; n++) {
        double mx = -INFINITY, s = 0;
        for (int c = 0; c < 5; c++)
          mx = fmax(mx, ct_tensor_get(in[0], n * 5 + c));
        for (int c = 0; c < 5; c++)
          s += exp(ct_tensor_get(in[0], n * 5 + c) - mx);
        want += (mx + log(s) - ct_tensor_get(in[0], n * 5 + target[n])) / 3.0;
      }
      CHECK_EQ_INT(y->rank, 0);
      CHECK_CLOSE(ct_tensor_get(y, 0), want, 1e-5, 1e-6);
      ct_tensor_release(y);
    }
    ct_tensor_release(in[0]);
    ct_tensor_release(in[1]);
    ct_module_free(m);
  }
  ct_diag_free(&d);
}

int main(void) {
  RUN_TEST(test_param_table);
  RUN_TEST(test_error_contract);
  RUN_TEST(test_indexing_numerics);
  RUN_TEST(test_cross_entropy_numerics);
  return test_summary();
}
