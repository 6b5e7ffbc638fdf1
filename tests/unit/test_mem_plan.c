/* tests/unit/test_mem_plan.c: property tests of the memory planner (and of the passes that run
 * before it) on random graphs: with two symbols and constant shapes mixed, after plan-memory
 * alone or after cse/dce/fuse/schedule, every graph-body value has a buffer, and under several
 * bindings no two buffers whose live ranges overlap share bytes unless one aliases the other
 * (plan_check.h); the interpreter gives the same results before and after the passes. */
#include <stdlib.h>
#include <string.h>

#include "pass.h"
#include "plan_check.h"
#include "testlib.h"

static uint64_t rng = 12345;
static uint32_t next_u32(void) {
  rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng >> 33);
}
static int pick(int n) { return (int)(next_u32() % (uint32_t)n); }

enum { MAX_POOL = 128 };

/* A random graph @g(%x: f32[N,16], %y: f32[M,8], %z: f32[32]) of about n_nodes nodes. */
static ct_module *random_module(int n_nodes) {
  ct_module *m = ct_module_new();
  int32_t N = ct_module_sym(m, "N", 1), M = ct_module_sym(m, "M", 1);
  ct_graph *g = ct_module_add_graph(m, "g");
  ct_dim dx[2] = {ct_dim_sym(N), ct_dim_const(16)}, dy[2] = {ct_dim_sym(M), ct_dim_const(8)};
  ct_dim dz[1] = {ct_dim_const(32)};
  ct_type tx = ct_type_make(CT_DT_F32, 2, dx), ty = ct_type_make(CT_DT_F32, 2, dy);
  ct_type tz = ct_type_make(CT_DT_F32, 1, dz);
  ct_value *pool[MAX_POOL];
  int n = 0;
  pool[n++] = ct_graph_add_input(g, "x", tx);
  pool[n++] = ct_graph_add_input(g, "y", ty);
  pool[n++] = ct_graph_add_input(g, "z", tz);
  ct_builder b = ct_builder_at_end(m, g->body, NULL);
  static const ct_op unary[] = {CT_OP_EXP, CT_OP_RELU, CT_OP_NEG, CT_OP_TANH, CT_OP_SIGMOID};
  static const ct_op binary[] = {CT_OP_ADD, CT_OP_MUL, CT_OP_SUB, CT_OP_MAXIMUM};
  for (int k = 0; k < n_nodes && n < MAX_POOL; k++) {
    ct_value *v = pool[pick(n)], *r = NULL;
    switch (pick(7)) {
    case 0:
    case 1: r = ct_build_unary(&b, unary[pick(5)], v); break;
    case 2: {
      ct_value *w = NULL;
      for (int tries = 0; tries < 8 && !w; tries++) {
        ct_value *c = pool[pick(n)];
        if (ct_type_eq(&c->type, &v->type)) w = c;
      }
      r = ct_build_binary(&b, binary[pick(4)], v, w ? w : v);
      break;
    }
    case 3: {
      int64_t dim = v->type.rank - 1;
      ct_op op = pick(2) ? CT_OP_SUM : CT_OP_AMAX; /* one pick per statement: a fixed order */
      bool keepdim = pick(2);
      r = v->type.rank ? ct_build_reduce(&b, op, v, 1, &dim, keepdim)
                       : ct_build_unary(&b, CT_OP_EXP, v);
      break;
    }
    case 4: {
      ct_dim numel;
      if (ct_type_numel(&v->type, &numel)) r = ct_build_reshape(&b, v, 1, &numel);
      break;
    }
    case 5: {
      ct_value *two[2] = {v, v};
      ct_attr dim = ct_attr_int("dim", 0);
      if (v->type.rank) r = ct_build(&b, CT_OP_CONCAT, 2, two, &dim, 1);
      break;
    }
    case 6: {
      const ct_type *shapes[3] = {&tx, &ty, &tz};
      const ct_type *shape = shapes[pick(3)];
      ct_value *c = ct_build_full(&b, shape, 0.5 + pick(4));
      ct_value *w = NULL;
      for (int i = 0; i < n && !w; i++)
        if (ct_type_eq(&pool[i]->type, &c->type)) w = pool[i];
      r = w ? ct_build_binary(&b, CT_OP_MUL, w, c) : c;
      break;
    }
    }
    if (r) pool[n++] = r;
  }
  ct_value *res[3];
  int n_res = 1 + pick(3);
  for (int i = 0; i < n_res; i++)
    res[i] = pool[3 + pick(n - 3 > 0 ? n - 3 : 1)];
  if (n == 3)
    for (int i = 0; i < n_res; i++)
      res[i] = pool[0];
  ct_build_return(&b, n_res, res);
  return m;
}

static ct_tensor *random_tensor(const ct_type *t, int64_t nv, int64_t mv) {
  int64_t shape[CT_MAX_RANK];
  for (int d = 0; d < t->rank; d++) {
    ct_dim dim = t->dims[d];
    shape[d] = dim.sym ? dim.coef * (dim.sym == 1 ? nv : mv) + dim.off : dim.off;
  }
  ct_tensor *x = ct_tensor_empty(t->dtype, t->rank, shape);
  for (int64_t i = 0; i < ct_tensor_numel(x); i++)
    ct_tensor_set(x, i, (pick(2000) - 1000) / 500.0);
  return x;
}

/* Results of g at N=nv, M=mv on inputs drawn from seed. */
static int interpret(const ct_graph *g, uint64_t seed, ct_tensor ***out) {
  uint64_t saved = rng;
  rng = seed;
  ct_tensor *in[3];
  for (int i = 0; i < 3; i++)
    in[i] = random_tensor(&ct_graph_input(g, i)->type, 3, 2);
  rng = saved;
  int n = 0;
  ct_diag d;
  ct_diag_init(&d);
  ct_status st = ct_interpret(g, in, 3, out, &n, &d);
  CHECK_MSG(st == CT_OK, "interpret: %s", ct_diag_first_error(&d) ? ct_diag_first_error(&d) : "?");
  ct_diag_free(&d);
  for (int i = 0; i < 3; i++)
    ct_tensor_release(in[i]);
  return st == CT_OK ? n : -1;
}

static void test_random_graphs(void) {
  static const char *const pipelines[] = {
      "plan-memory", "schedule,plan-memory", "fuse,plan-memory",
      "canonicalize,fold,cse,dce,fuse,schedule,plan-memory",
      "canonicalize,fold,cse,dce,fuse,schedule,plan-memory{N=3;M=500}"};
  static const int64_t binds[][2] = {{1, 1}, {2, 7}, {64, 3}, {1000, 1000}, {1, 5000}};
  int graphs = 0, buffers = 0, shared = 0, violations = 0;
  for (int iter = 0; iter < 300; iter++) {
    ct_module *m = random_module(5 + pick(40));
    const char *pipeline = pipelines[iter % 5];
    ct_tensor **before = NULL, **after = NULL;
    uint64_t seed = 1000 + (uint64_t)iter;
    int n_before = interpret(m->graphs[0], seed, &before);
    ct_diag d;
    ct_diag_init(&d);
    ct_pipeline_options opt = {true, NULL, false, true};
    ct_status st = ct_pipeline_run(m, pipeline, &opt, &d);
    CHECK_MSG(st == CT_OK, "iteration %d (%s): %s", iter, pipeline,
              ct_diag_first_error(&d) ? ct_diag_first_error(&d) : "?");
    ct_diag_free(&d);
    const ct_graph *g = m->graphs[0];
    if (st == CT_OK) {
      CHECK(g->plan != NULL);
      for (const ct_node *n = g->body->first; n && g->plan; n = n->next)
        for (int r = 0; r < n->n_results; r++)
          CHECK_MSG(ct_mem_plan_find(g->plan, n->results[r]) != NULL,
                    "iteration %d: a %s result has no buffer", iter, ct_op_name(n->op));
      for (size_t k = 0; k < sizeof binds / sizeof binds[0]; k++) {
        int64_t bind[64] = {0};
        bind[1] = binds[k][0];
        bind[2] = binds[k][1];
        violations += plan_check(g, bind, pipeline);
      }
      if (g->plan) {
        graphs++;
        buffers += g->plan->n_buffers;
        for (int i = 0; i < g->plan->n_buffers; i++)
          shared += g->plan->buffers[i].shares_with != NULL;
        CHECK(g->plan->report_lower_bound <= g->plan->report_peak);
        CHECK(g->plan->report_peak <= g->plan->report_naive + 64 * g->plan->n_buffers);
      }
      int n_after = interpret(g, seed, &after);
      CHECK_EQ_INT(n_before, n_after);
      for (int i = 0; i < n_before && i < n_after; i++) {
        int64_t numel = ct_tensor_numel(before[i]);
        CHECK_EQ_INT(numel, ct_tensor_numel(after[i]));
        int bad = 0;
        for (int64_t k = 0; k < numel && numel == ct_tensor_numel(after[i]); k++) {
          double want = ct_tensor_get(before[i], k), got = ct_tensor_get(after[i], k);
          bad += !(fabs(got - want) <= 1e-6 * fabs(want) + 1e-6);
        }
        CHECK_MSG(bad == 0, "iteration %d (%s): result %d: %d values differ", iter, pipeline, i,
                  bad);
      }
      for (int i = 0; i < n_after; i++)
        ct_tensor_release(after[i]);
    }
    for (int i = 0; i < n_before; i++)
      ct_tensor_release(before[i]);
    free(before);
    free(after);
    ct_module_free(m);
  }
  CHECK_EQ_INT(violations, 0);
  CHECK(graphs >= 290);
  CHECK(shared > 0); /* the generator does exercise in-place writes and views */
  printf("  %d random graphs, %d buffers (%d aliased), %d violations\n", graphs, buffers, shared,
         violations);
}

/* A hand-made case with a known answer: three values, the first two dying where the third is
 * made, and a graph result kept to the end. */
static void test_known_plan(void) {
  const char *text = "graph @g(%x: f32[N,16]) -> (f32[N,16], f32[N,16]) {\n"
                     "  %0: f32[N,16] = exp(%x)\n"
                     "  %1: f32[N,16] = tanh(%x)\n"
                     "  %2: f32[N,16] = add(%0, %1)\n"
                     "  %3: f32[N,16] = relu(%x)\n"
                     "  return %2, %3\n"
                     "}\n";
  ct_diag d;
  ct_diag_init(&d);
  ct_module *m = ct_module_parse(text, strlen(text), "known", &d);
  CHECK(m != NULL);
  if (!m) return;
  CHECK(ct_pipeline_run(m, "plan-memory{N=10}", NULL, &d) == CT_OK);
  const ct_mem_plan *p = m->graphs[0]->plan;
  CHECK(p && p->n_buffers == 4);
  if (p && p->n_buffers == 4) {
    /* 640 bytes per value at N=10: %0 and %1 live together, %2 overwrites one of them, %3
     * takes the other's bytes: two slots. */
    CHECK_EQ_INT(p->report_peak, 1280);
    CHECK_EQ_INT(p->report_lower_bound, 1280);
    CHECK_EQ_INT(p->report_naive, 2560);
    CHECK(p->buffers[2].shares_with == p->buffers[0].value ||
          p->buffers[2].shares_with == p->buffers[1].value);
    CHECK_EQ_INT(p->buffers[3].live_end, 4); /* a graph result lives to the return */
    int64_t bind[64] = {0, 1000};
    CHECK_EQ_INT(ct_mem_plan_arena_size(p, bind), 128000);
    /* The checker is not vacuous: a planted overlap (%0 and %1 are live together) is found. */
    ct_buffer *b1 = &p->buffers[1];
    ct_lin saved = b1->offset;
    b1->offset = p->buffers[0].offset;
    CHECK(plan_check_opts(m->graphs[0], bind, "planted", true) > 0);
    b1->offset = saved;
  }
  ct_diag_free(&d);
  ct_module_free(m);
}

int main(void) {
  RUN_TEST(test_known_plan);
  RUN_TEST(test_random_graphs);
  return test_summary();
}
