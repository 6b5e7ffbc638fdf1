/* tests/unit/test_frontend_dropout.c: dropout from model.py source trains with dropout. The
 * model is y = dropout(x * w) with w = 0 and x = 1, the loss l1_loss(y, t, reduction='sum')
 * with t far below y, so dloss/dy = 1 and one SGD step with lr 1 leaves w = -mask: each
 * element 0 with probability p, else -1/(1-p). Over 4096 elements the zero count lies within
 * 5 standard deviations of 4096 p; each step draws another mask; @forward stays the identity;
 * the -O2 pipeline computes the same masks as -O0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "ctorch/compiler.h"
#include "ir.h"
#include "pass.h"
#include "testlib.h"

enum { NUMEL = 4096, STEPS = 3 };

typedef struct dropout_case {
  const char *name;
  const char *source;
  double p;
} dropout_case;

static const dropout_case cases[] = {
    {"nn.Dropout(0.5)",
     "import torch\n"
     "import torch.nn as nn\n"
     "class Net(nn.Module):\n"
     "    def __init__(self):\n"
     "        super().__init__()\n"
     "        self.w = nn.Parameter(torch.zeros(4096))\n"
     "        self.drop = nn.Dropout(0.5)\n"
     "    def forward(self, x):\n"
     "        return self.drop(x * self.w)\n",
     0.5},
    {"F.dropout(p=0.25, training=self.training)",
     "import torch\n"
     "import torch.nn as nn\n"
     "import torch.nn.functional as F\n"
     "class Net(nn.Module):\n"
     "    def __init__(self):\n"
     "        super().__init__()\n"
     "        self.w = nn.Parameter(torch.zeros(4096))\n"
     "    def forward(self, x):\n"
     "        return F.dropout(x * self.w, p=0.25, training=self.training)\n",
     0.25},
};

static ct_module *compile(const dropout_case *c, int opt_level, ct_diag *d) {
  const char *specs[1] = {"x=f32[N,4096]"};
  ct_frontend_options fo = {NULL, 1, specs};
  ct_module *m = NULL;
  ct_status st = ct_frontend_compile(c->source, strlen(c->source), "dropout.py", &fo, &m, d);
  ct_loss_options loss = {CT_LOSS_L1, true, 0.0};
  ct_optim_options opt;
  ct_optim_defaults(CT_OPTIM_SGD, &opt);
  opt.lr = 1.0;
  const char *tname = "t";
  ct_type tt = {0};
  if (st == CT_OK) {
    ct_dim dims[2] = {ct_dim_sym(ct_module_find_sym(m, "N", 1)), ct_dim_const(NUMEL)};
    tt = ct_type_make(CT_DT_F32, 2, dims);
    st = ct_build_training(m, "forward", &loss, &opt, 1, &tname, &tt, d);
  }
  if (st == CT_OK) st = ct_module_verify(m, d);
  ct_pipeline_options po = {true, NULL, false, true};
  if (st == CT_OK && opt_level)
    st = ct_pipeline_run(m, ct_pipeline_for_level(opt_level), &po, d);
  CHECK_MSG(st == CT_OK, "%s -O%d: %s", c->name, opt_level, ct_diag_first_error(d));
  if (st != CT_OK) {
    ct_module_free(m);
    return NULL;
  }
  return m;
}

static ct_tensor *filled(const ct_type *t, double v) {
  int64_t shape[CT_MAX_RANK];
  for (int i = 0; i < t->rank; i++) shape[i] = t->dims[i].sym ? 1 : t->dims[i].off;
  ct_tensor *x = ct_tensor_empty(t->dtype, t->rank, shape);
  for (int64_t i = 0; i < ct_tensor_numel(x); i++) ct_tensor_set(x, i, v);
  return x;
}

/* Runs STEPS train steps from w = 0 (each from the same w, with step = s) and stores -new.w. */
static bool run_steps(const dropout_case *c, const ct_module *m, double masks[STEPS][NUMEL],
                      ct_diag *d) {
  const ct_graph *g = ct_module_find_graph(m, "train_step");
  CHECK_MSG(g && ct_graph_num_inputs(g) == 4, "%s: @train_step(x, t, w, step) expected",
            c->name);
  if (!g || ct_graph_num_inputs(g) != 4) return false;
  CHECK(strcmp(ct_graph_input(g, 2)->name, "w") == 0 &&
        strcmp(ct_graph_input(g, 3)->name, "step") == 0);
  ct_tensor *in[4] = {filled(&ct_graph_input(g, 0)->type, 1.0),
                      filled(&ct_graph_input(g, 1)->type, -1e6),
                      filled(&ct_graph_input(g, 2)->type, 0.0),
                      filled(&ct_graph_input(g, 3)->type, 0.0)};
  bool ok = true;
  for (int s = 0; s < STEPS && ok; s++) {
    ct_tensor_set(in[3], 0, s);
    ct_tensor **out = NULL;
    int n_out = 0;
    ok = ct_interpret(g, in, 4, &out, &n_out, d) == CT_OK && n_out == 3 &&
         ct_tensor_numel(out[1]) == NUMEL;
    CHECK_MSG(ok, "%s: train step %d: %s", c->name, s, ct_diag_first_error(d));
    if (ok) {
      CHECK(ct_tensor_get(out[2], 0) == s + 1); /* new.step */
      for (int i = 0; i < NUMEL; i++) masks[s][i] = -ct_tensor_get(out[1], i);
    }
    for (int i = 0; i < n_out; i++) ct_tensor_release(out[i]);
    free(out);
  }
  for (int i = 0; i < 4; i++) ct_tensor_release(in[i]);
  return ok;
}

static void check_masks(const dropout_case *c, double masks[STEPS][NUMEL]) {
  const float keep = (float)(1.0 / (1.0 - c->p));
  const double mean = NUMEL * c->p, bound = 5.0 * sqrt(NUMEL * c->p * (1.0 - c->p));
  for (int s = 0; s < STEPS; s++) {
    int zeros = 0, others = 0;
    for (int i = 0; i < NUMEL; i++) {
      if (masks[s][i] == 0.0)
        zeros++;
      else if (masks[s][i] != keep)
        others++;
    }
    CHECK_MSG(others == 0, "%s step %d: %d gradients are neither 0 nor %g", c->name, s, others,
              (double)keep);
    CHECK_MSG(fabs(zeros - mean) <= bound, "%s step %d: %d of %d zero, expected %g +- %g",
              c->name, s, zeros, NUMEL, mean, bound);
  }
  /* Independent masks differ in a fraction 2p(1-p) of the elements. */
  const double dmean = NUMEL * 2 * c->p * (1 - c->p);
  const double dbound = 5.0 * sqrt(NUMEL * 2 * c->p * (1 - c->p) * (1 - 2 * c->p * (1 - c->p)));
  for (int s = 1; s < STEPS; s++) {
    int differ = 0;
    for (int i = 0; i < NUMEL; i++) differ += masks[s][i] != masks[s - 1][i];
    CHECK_MSG(fabs(differ - dmean) <= dbound,
              "%s: steps %d and %d differ in %d elements, expected %g +- %g", c->name, s - 1, s,
              differ, dmean, dbound);
  }
}

/* @forward is x * w: dropout is the identity there. */
static void check_forward(const dropout_case *c, const ct_module *m, ct_diag *d) {
  const ct_graph *g = ct_module_find_graph(m, "forward");
  CHECK(g && ct_graph_num_inputs(g) == 2);
  if (!g || ct_graph_num_inputs(g) != 2) return;
  ct_tensor *in[2] = {filled(&ct_graph_input(g, 0)->type, 0.0),
                      filled(&ct_graph_input(g, 1)->type, 0.0)};
  for (int i = 0; i < NUMEL; i++) {
    ct_tensor_set(in[0], i, (double)(i % 97) - 48.0);
    ct_tensor_set(in[1], i, 0.125 * (double)(i % 13) - 0.75);
  }
  ct_tensor **out = NULL;
  int n_out = 0;
  CHECK_OK(ct_interpret(g, in, 2, &out, &n_out, d));
  int bad = 0;
  if (n_out == 1)
    for (int i = 0; i < NUMEL; i++)
      bad += ct_tensor_get(out[0], i) != (float)(ct_tensor_get(in[0], i) * ct_tensor_get(in[1], i));
  CHECK_MSG(n_out == 1 && bad == 0, "%s: @forward differs from x * w in %d elements", c->name,
            bad);
  for (int i = 0; i < n_out; i++) ct_tensor_release(out[i]);
  free(out);
  for (int i = 0; i < 2; i++) ct_tensor_release(in[i]);
}

static double masks[2][STEPS][NUMEL];

static void test_train_step_drops_out(void) {
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const dropout_case *c = &cases[k];
    bool have[2] = {false, false};
    for (int l = 0; l < 2; l++) {
      ct_diag d;
      ct_diag_init(&d);
      ct_module *m = compile(c, 2 * l, &d);
      if (m) {
        have[l] = run_steps(c, m, masks[l], &d);
        if (have[l]) check_masks(c, masks[l]);
        check_forward(c, m, &d);
      }
      ct_module_free(m);
      ct_diag_free(&d);
    }
    if (have[0] && have[1])
      CHECK_MSG(memcmp(masks[0], masks[1], sizeof masks[0]) == 0,
                "%s: -O2 draws other masks than -O0", c->name);
  }
}

int main(void) {
  RUN_TEST(test_train_step_drops_out);
  return test_summary();
}
