/* passes/schedule.c: reorders each graph body (a topological order of its data dependences) to
 * shorten live ranges. A greedy list scheduler picks, among the ready nodes, the one that
 * frees the most bytes net of what it allocates (a node that is the last reader of its operands
 * first, a constant only when its reader is about to run); ties keep the original order. The
 * new order is kept only when its simulated peak of live bytes is below the current order's (or
 * equal, with less live bytes summed over the nodes).
 * Sizes are evaluated at a binding of the symbols (`schedule{N=64}`; default 64 for each). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passes_internal.h"

typedef struct sched {
  ct_node **nodes; /* in the current order, return excluded */
  int n;
  int64_t *bytes; /* result bytes of nodes[i] */
  int *n_preds;   /* producers in this block not yet scheduled */
  const int64_t *bind;
} sched;

static int64_t value_bytes(const ct_value *v, const int64_t *bind) {
  return pass_numel_at(&v->type, bind) * pass_dtype_size(v->type.dtype);
}

/* Distinct user nodes of v. */
static int distinct_users(const ct_value *v) {
  int k = 0;
  for (const ct_use *u = v->uses; u; u = u->next) {
    bool seen = false;
    for (const ct_use *w = v->uses; w != u; w = w->next)
      seen |= w->user == u->user;
    k += !seen;
  }
  return k;
}

/* Peak live bytes of order (node ids) under bind: results are live from their node to their
 * last reader; graph inputs are not counted. *area receives the sum of live bytes over the
 * nodes (the tie-breaker between two orders of the same peak). */
static int64_t simulate(const sched *s, const int *order, int *left, int64_t *area) {
  int64_t live = 0, peak = 0;
  *area = 0;
  for (int i = 0; i < s->n; i++)
    for (int r = 0; r < s->nodes[i]->n_results; r++)
      left[s->nodes[i]->results[r]->id] = 0;
  for (int i = 0; i < s->n; i++) {
    ct_node *n = s->nodes[order[i]];
    for (int r = 0; r < n->n_results; r++)
      left[n->results[r]->id] = distinct_users(n->results[r]);
    live += s->bytes[order[i]];
    if (live > peak) peak = live;
    *area += live;
    for (int k = 0; k < n->n_operands; k++) {
      ct_value *v = ct_node_operand(n, k);
      bool first = true;
      for (int j = 0; j < k; j++)
        first &= ct_node_operand(n, j) != v;
      if (!v->def || !first) continue;
      if (--left[v->id] == 0) live -= value_bytes(v, s->bind);
    }
    for (int r = 0; r < n->n_results; r++)
      if (left[n->results[r]->id] == 0) live -= value_bytes(n->results[r], s->bind);
  }
  return peak;
}

static void schedule_block(ct_block *b, const int64_t *bind) {
  sched s = {0};
  s.bind = bind;
  for (ct_node *n = b->first; n; n = n->next)
    if (n->op != CT_OP_RETURN) s.n++;
  if (s.n < 2) return;
  s.nodes = malloc((size_t)s.n * sizeof *s.nodes);
  s.bytes = calloc((size_t)s.n, sizeof *s.bytes);
  s.n_preds = calloc((size_t)s.n, sizeof *s.n_preds);
  int *order = malloc((size_t)s.n * sizeof *order);
  int *left = malloc((size_t)(s.n * 8 + 8) * sizeof *left);
  bool *done = calloc((size_t)s.n, sizeof *done);
  int n_values = 0;
  if (!s.nodes || !s.bytes || !s.n_preds || !order || !left || !done) goto out;
  int i = 0;
  for (ct_node *n = b->first; n; n = n->next) {
    if (n->op == CT_OP_RETURN) continue;
    n->id = i;
    s.nodes[i++] = n;
  }
  for (i = 0; i < s.n; i++) {
    ct_node *n = s.nodes[i];
    for (int r = 0; r < n->n_results; r++) {
      n->results[r]->id = n_values++;
      s.bytes[i] += value_bytes(n->results[r], bind);
    }
  }
  if (n_values > s.n * 8 + 8) goto out;
  /* Remaining readers of each value, to know what a node frees. */
  for (i = 0; i < s.n; i++) {
    ct_node *n = s.nodes[i];
    for (int r = 0; r < n->n_results; r++)
      left[n->results[r]->id] = distinct_users(n->results[r]);
    for (int k = 0; k < n->n_operands; k++) {
      ct_value *v = ct_node_operand(n, k);
      bool first = true;
      for (int j = 0; j < k; j++)
        first &= ct_node_operand(n, j)->def != v->def;
      if (v->def && v->def->parent == b && first) s.n_preds[i]++;
    }
  }
  int *preds_left = s.n_preds;
  for (int step = 0; step < s.n; step++) {
    int best = -1;
    int64_t best_score = 0;
    for (i = 0; i < s.n; i++) {
      if (done[i] || preds_left[i] > 0) continue;
      ct_node *n = s.nodes[i];
      /* A source (constant) waits until nothing else is ready: it then runs right before the
       * reader that made it necessary. */
      int64_t score = n->n_operands ? -s.bytes[i] : INT64_MIN / 2 - s.bytes[i];
      for (int k = 0; k < n->n_operands; k++) {
        ct_value *v = ct_node_operand(n, k);
        bool first = true;
        for (int j = 0; j < k; j++)
          first &= ct_node_operand(n, j) != v;
        if (v->def && first && left[v->id] == 1) score += value_bytes(v, bind);
      }
      if (best < 0 || score > best_score) {
        best = i;
        best_score = score;
      }
    }
    if (best < 0) goto out; /* a cycle: the verifier would have refused it */
    done[best] = true;
    order[step] = best;
    ct_node *n = s.nodes[best];
    for (int k = 0; k < n->n_operands; k++) {
      ct_value *v = ct_node_operand(n, k);
      bool first = true;
      for (int j = 0; j < k; j++)
        first &= ct_node_operand(n, j) != v;
      if (v->def && first) left[v->id]--;
    }
    /* Readers of n become ready once all their producers are done. */
    for (int r = 0; r < n->n_results; r++)
      for (ct_use *u = n->results[r]->uses; u; u = u->next) {
        ct_node *user = u->user;
        if (user->op == CT_OP_RETURN || user->parent != b) continue;
        bool first = true; /* count each (producer, user) pair once */
        for (ct_use *w = n->results[r]->uses; w != u; w = w->next)
          first &= w->user != user;
        for (int rr = 0; rr < r && first; rr++)
          for (ct_use *w = n->results[rr]->uses; w; w = w->next)
            first &= w->user != user;
        if (first) preds_left[user->id]--;
      }
  }
  int *identity = malloc((size_t)s.n * sizeof *identity);
  if (!identity) goto out;
  for (i = 0; i < s.n; i++)
    identity[i] = i;
  int64_t area_before, area_after;
  int64_t before = simulate(&s, identity, left, &area_before);
  int64_t after = simulate(&s, order, left, &area_after);
  free(identity);
  if (after > before || (after == before && area_after >= area_before)) goto out;
  ct_node *ret = ct_graph_return(b->graph);
  for (i = 0; i < s.n; i++)
    ct_node_unlink(s.nodes[order[i]]);
  for (i = 0; i < s.n; i++)
    ct_block_insert_before(b, ret, s.nodes[order[i]]);
out:
  free(s.nodes);
  free(s.bytes);
  free(s.n_preds);
  free(order);
  free(left);
  free(done);
}

ct_status ct_pass_schedule(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  int64_t bind[64];
  if (pass_binding(m, args, 64, bind, "schedule", diag) != CT_OK) return CT_ERR_INVALID;
  for (int i = 0; i < m->n_graphs; i++)
    schedule_block(m->graphs[i]->body, bind);
  return CT_OK;
}
