/* tests/unit/plan_check.h: the memory plan's invariant, shared by the planner's property tests
 * and the differential tests: under a binding, buffers whose live ranges overlap and that are
 * not one storage (joined by shares_with) occupy disjoint bytes, and every offset is aligned. */
#ifndef CT_PLAN_CHECK_H
#define CT_PLAN_CHECK_H

#include "ir.h"
#include "testlib.h"

static const ct_value *plan_root(const ct_mem_plan *p, const ct_value *v) {
  for (int guard = 0; guard < 100000; guard++) {
    const ct_buffer *b = ct_mem_plan_find(p, v);
    if (!b || !b->shares_with) return v;
    v = b->shares_with;
  }
  return v;
}

/* Returns the number of violations; each is also a test failure unless quiet (the test of the
 * checker itself). */
static int plan_check_opts(const ct_graph *g, const int64_t *bind, const char *what, bool quiet) {
  const ct_mem_plan *p = g->plan;
  int bad = 0;
  if (!p) return 0;
  int64_t arena = ct_mem_plan_arena_size(p, bind);
  for (int i = 0; i < p->n_buffers; i++) {
    const ct_buffer *a = &p->buffers[i];
    int64_t ao = ct_lin_eval(&a->offset, bind), as = ct_lin_eval(&a->size, bind);
    int64_t need = 1;
    for (int d = 0; d < a->value->type.rank; d++)
      need *= ct_dim_eval(a->value->type.dims[d], bind);
    if (ao % CT_ALIGN || ao < 0 || as < 0 || ao + as > arena || as < need) {
      if (!quiet)
        CHECK_MSG(0, "%s @%s: buffer %d: offset %lld size %lld arena %lld", what, g->name, i,
                  (long long)ao, (long long)as, (long long)arena);
      bad++;
    }
    if (a->shares_with) {
      const ct_buffer *s = ct_mem_plan_find(p, a->shares_with);
      if (!s || ct_lin_eval(&s->offset, bind) != ao) {
        if (!quiet)
          CHECK_MSG(0, "%s @%s: buffer %d shares with a buffer at another offset", what, g->name,
                    i);
        bad++;
      }
    }
    for (int j = i + 1; j < p->n_buffers; j++) {
      const ct_buffer *b = &p->buffers[j];
      if (a->live_end < b->live_begin || b->live_end < a->live_begin) continue;
      if (plan_root(p, a->value) == plan_root(p, b->value)) continue;
      int64_t bo = ct_lin_eval(&b->offset, bind), bs = ct_lin_eval(&b->size, bind);
      if (ao < bo + bs && bo < ao + as) {
        if (!quiet)
          CHECK_MSG(
              0, "%s @%s: buffers %d [%lld,+%lld) and %d [%lld,+%lld) overlap while both live",
              what, g->name, i, (long long)ao, (long long)as, j, (long long)bo, (long long)bs);
        bad++;
      }
    }
  }
  return bad;
}

static int plan_check(const ct_graph *g, const int64_t *bind, const char *what) {
  return plan_check_opts(g, bind, what, false);
}

#endif
