/* passes/plan_print.c: the text form of the memory plans (ctorchc --print-memory-plan,
 * ctorch-opt --print-memory-plan). For every graph with a plan, one line per buffer (value as the
 * IR printer numbers it, type, size and offset as expressions of the symbols, live range in node
 * indices, what it shares with), then the arena peak, the naive total and the lower bound at
 * the planner's binding. */
#include <stdio.h>
#include <string.h>

#include "pass.h"

/* Counts the values a nested body defines (its parameters and every result inside). */
static int count_nested(const ct_block *b) {
  int n = b->n_params;
  for (const ct_node *x = b->first; x; x = x->next) {
    n += x->n_results;
    if (x->body) n += count_nested(x->body);
  }
  return n;
}

/* The printer's number of a graph-body value (values are numbered in definition order through
 * the graph, nested bodies included), or -1. */
static int value_number(const ct_graph *g, const ct_value *v) {
  int next = 0;
  for (const ct_node *n = g->body->first; n; n = n->next) {
    for (int i = 0; i < n->n_results; i++, next++)
      if (n->results[i] == v) return next;
    if (n->body) next += count_nested(n->body);
  }
  return -1;
}

static void format_lin(const ct_module *m, const ct_lin *l, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < l->n && used < size; i++) {
    const char *sym = l->sym[i] >= 1 && l->sym[i] <= m->n_syms ? m->syms[l->sym[i]] : "?";
    used += (size_t)snprintf(buf + used, size - used, "%s%lld*%s", i ? "+" : "",
                             (long long)l->coef[i], sym);
  }
  if (used < size && (l->c0 || l->n == 0))
    snprintf(buf + used, size - used, "%s%lld", l->n && l->c0 > 0 ? "+" : "", (long long)l->c0);
}

static void print_plan(const ct_graph *g, FILE *out) {
  const ct_module *m = g->module;
  const ct_mem_plan *p = g->plan;
  char bind[256] = "";
  size_t used = 0;
  for (int s = 1; s <= m->n_syms && used < sizeof bind; s++)
    used += (size_t)snprintf(bind + used, sizeof bind - used, "%s%s=%lld", s > 1 ? ", " : "",
                             m->syms[s], (long long)p->report_bind[s]);
  fprintf(out, "memory plan @%s: %d buffers%s%s%s\n", g->name, p->n_buffers,
          m->n_syms ? " (report at " : "", bind, m->n_syms ? ")" : "");
  fprintf(out, "  %-8s %-22s %-14s %-14s %-9s %s\n", "value", "type", "size", "offset", "live",
          "shares");
  for (int i = 0; i < p->n_buffers; i++) {
    const ct_buffer *b = &p->buffers[i];
    char type[128], size[64], offset[96], live[32], val[32], shares[32] = "";
    ct_type_format(m, &b->value->type, type, sizeof type);
    format_lin(m, &b->size, size, sizeof size);
    format_lin(m, &b->offset, offset, sizeof offset);
    snprintf(live, sizeof live, "[%d,%d]", b->live_begin, b->live_end);
    snprintf(val, sizeof val, "%%%d", value_number(g, b->value));
    if (b->shares_with) {
      const char *how = b->value->def->op == CT_OP_RESHAPE ? "view of" : "in place of";
      snprintf(shares, sizeof shares, "%s %%%d", how, value_number(g, b->shares_with));
    }
    fprintf(out, "  %-8s %-22s %-14s %-14s %-9s %s\n", val, type, size, offset, live, shares);
  }
  double lb = p->report_lower_bound ? (double)p->report_peak / (double)p->report_lower_bound : 1;
  double nv = p->report_naive ? (double)p->report_peak / (double)p->report_naive : 1;
  fprintf(out,
          "  peak %lld bytes, naive total %lld bytes, lower bound %lld bytes "
          "(peak/lower bound %.3f, peak/naive %.3f)\n",
          (long long)p->report_peak, (long long)p->report_naive, (long long)p->report_lower_bound,
          lb, nv);
}

void ct_mem_plan_print(const ct_module *m, FILE *out) {
  for (int i = 0; i < m->n_graphs; i++) {
    if (m->graphs[i]->plan)
      print_plan(m->graphs[i], out);
    else
      fprintf(out, "memory plan @%s: none (plan-memory did not run, or could not plan it)\n",
              m->graphs[i]->name);
  }
}
