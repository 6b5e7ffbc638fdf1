/* passes/plan_memory.c: the memory plan of each graph (ct_mem_plan in ir/ir.h, read by the code
 * generators). Every result of a graph-body node gets bytes in one arena; fusion bodies get none
 * (their values live in registers).
 *
 *   sizes    numel * element size, rounded up to CT_ALIGN, as ct_lin expressions of the
 *            symbols: a*N + b rounds to roundup(a)*N + roundup(b), so every offset (a sum of
 *            sizes) stays aligned for every N;
 *   aliases  a reshape's result is a view of its operand (shares_with, same offset); an
 *            elementwise op (or an elementwise fusion with one result) writes in place over an
 *            operand of the same size whose last reader it is;
 *   storage  values joined by aliasing form one storage, live from its first definition to its
 *            last reader (a graph result lives to the return);
 *   offsets  storages, one by one, go to the lowest candidate offset (0, or the end of a
 *            placed storage whose live range overlaps) that is disjoint from every overlapping
 *            placed storage for every binding of the symbols (>= 1); the envelope of all those
 *            ends is always such a candidate. Several orders are tried (by size, by size times
 *            lifetime, by lifetime, by first definition, symbolic sizes first or last, by
 *            phase: see by_phase) and the smallest arena at the report binding wins.
 * The report (peak, naive total = sum of all non-view buffers, lower bound = largest set of
 * storages live at one node) is evaluated at `plan-memory{N=64}` (default 64 for each symbol). */
#include <stdlib.h>
#include <string.h>

#include "passes_internal.h"

typedef struct storage {
  ct_lin size;
  ct_lin offset;
  int begin, end;
  int64_t size_at; /* size under the report binding */
  bool placed;
  /* For the phase order: the largest live bytes of the other kind (symbolic sizes for a
   * constant-size storage, constant sizes for a symbolic one) during its live range. */
  int64_t other_live;
  int phase;
} storage;

typedef struct planner {
  ct_graph *g;
  const int64_t *bind;
  ct_buffer *bufs;
  int n_bufs;
  int *parent; /* union-find over buffers */
  storage *st;
  int n_st;
  int *root_st; /* storage index of each buffer root */
} planner;

static int find(planner *p, int i) {
  while (p->parent[i] != i)
    i = p->parent[i] = p->parent[p->parent[i]];
  return i;
}

static int64_t round_up(int64_t x) { return (x + CT_ALIGN - 1) / CT_ALIGN * CT_ALIGN; }

/* Bytes of a value as a linear expression, or false when not linear (N*T). */
static bool value_size(const ct_value *v, ct_lin *out) {
  int64_t c = pass_dtype_size(v->type.dtype);
  int32_t sym = 0;
  int64_t coef = 0; /* value = coef*sym + c once a symbolic dim is seen */
  for (int i = 0; i < v->type.rank; i++) {
    ct_dim d = v->type.dims[i];
    if (!d.sym) {
      c *= d.off;
      coef *= d.off;
      continue;
    }
    if (sym) return false;
    sym = d.sym;
    coef = c * d.coef;
    c = c * d.off;
  }
  ct_lin l = ct_lin_const(round_up(c));
  if (sym && coef) {
    l.n = 1;
    l.sym[0] = sym;
    l.coef[0] = round_up(coef);
  }
  *out = l;
  return true;
}

static bool inplace_op(const ct_node *n) {
  if (ct_op_table[n->op].cls == CT_OPC_ELEMENTWISE) return true;
  if (n->op != CT_OP_FUSION || n->n_results != 1) return false;
  const ct_attr *k = ct_node_attr(n, "kind");
  return !k || strcmp(k->u.s, "elementwise") == 0;
}

/* Storage end of buffer i's class, over current members (end of each member's range). */
static int class_end(planner *p, int i) {
  int r = find(p, i), end = -1;
  for (int j = 0; j < p->n_bufs; j++)
    if (find(p, j) == r && p->bufs[j].live_end > end) end = p->bufs[j].live_end;
  return end;
}

static bool conflicts(const storage *a, const storage *b) {
  return a->begin <= b->end && b->begin <= a->end;
}

/* Places storage s: the lowest valid candidate under the report binding. */
static bool place(planner *p, storage *s) {
  ct_lin best = {0};
  int64_t best_at = -1;
  ct_lin envelope = ct_lin_const(0);
  int n_cand = 0;
  ct_lin *cand = malloc((size_t)(p->n_st + 2) * sizeof *cand);
  if (!cand) return false;
  cand[n_cand++] = ct_lin_const(0);
  for (int i = 0; i < p->n_st; i++) {
    storage *q = &p->st[i];
    if (!q->placed || !conflicts(s, q)) continue;
    ct_lin end;
    if (!ct_lin_add_scaled(q->offset, &q->size, 1, &end)) continue;
    cand[n_cand++] = end;
    /* component-wise maximum: >= every end for every binding */
    if (end.c0 > envelope.c0) envelope.c0 = end.c0;
    for (int t = 0; t < end.n; t++) {
      int j = 0;
      while (j < envelope.n && envelope.sym[j] != end.sym[t])
        j++;
      if (j == envelope.n) {
        if (envelope.n == CT_LIN_MAX_TERMS) {
          free(cand);
          return false;
        }
        envelope.sym[j] = end.sym[t];
        envelope.coef[j] = 0;
        envelope.n++;
      }
      if (end.coef[t] > envelope.coef[j]) envelope.coef[j] = end.coef[t];
    }
  }
  cand[n_cand++] = envelope;
  for (int c = 0; c < n_cand; c++) {
    ct_lin lo = cand[c], hi;
    if (!ct_lin_add_scaled(lo, &s->size, 1, &hi)) continue;
    bool ok = true;
    for (int i = 0; i < p->n_st && ok; i++) {
      storage *q = &p->st[i];
      if (!q->placed || !conflicts(s, q)) continue;
      ct_lin qend;
      ok = ct_lin_add_scaled(q->offset, &q->size, 1, &qend) &&
           (ct_lin_le(&hi, &q->offset) || ct_lin_le(&qend, &lo));
    }
    int64_t at = ct_lin_eval(&lo, p->bind);
    if (ok && (best_at < 0 || at < best_at)) {
      best = lo;
      best_at = at;
    }
  }
  free(cand);
  if (best_at < 0) return false;
  s->offset = best;
  s->placed = true;
  return true;
}

/* Placement orders; the planner tries each and keeps the smallest arena. */
static int64_t lifetime(const storage *s) { return s->end - s->begin + 1; }

static int by_size(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  if (x->size_at != y->size_at) return x->size_at > y->size_at ? -1 : 1;
  return x->begin - y->begin;
}

static int by_area(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  int64_t ax = x->size_at * lifetime(x), ay = y->size_at * lifetime(y);
  if (ax != ay) return ax > ay ? -1 : 1;
  return by_size(a, b);
}

static int by_lifetime(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  if (lifetime(x) != lifetime(y)) return lifetime(x) > lifetime(y) ? -1 : 1;
  return by_size(a, b);
}

static int by_begin(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  if (x->begin != y->begin) return x->begin - y->begin;
  return by_size(a, b);
}

/* Sizes with a symbol before constant ones, or the other way round; by size within each. */
static int symbolic_first(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  if ((x->size.n > 0) != (y->size.n > 0)) return x->size.n > 0 ? -1 : 1;
  return by_size(a, b);
}

static int constant_first(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  if ((x->size.n > 0) != (y->size.n > 0)) return x->size.n > 0 ? 1 : -1;
  return by_size(a, b);
}

/* Symbolic sizes that live longest into the graph first (at the bottom, below the constant
 * sizes that a training graph's updates need at its end), then constant sizes. */
static int late_symbolic_first(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  if ((x->size.n > 0) != (y->size.n > 0)) return x->size.n > 0 ? -1 : 1;
  if (x->size.n > 0 && x->end != y->end) return y->end - x->end;
  return by_size(a, b);
}

/* Training graphs mix a phase of large batch-sized activations with one of parameter-sized
 * updates. Constant sizes live during the big phase go first (the bottom of the arena, a
 * constant shift for every N), then symbolic sizes, those alive with the most constant bytes
 * first, then the remaining constant sizes, which land on the bytes the big phase has freed. */
static int by_phase(const void *a, const void *b) {
  const storage *x = *(storage *const *)a, *y = *(storage *const *)b;
  if (x->phase != y->phase) return x->phase - y->phase;
  if (x->other_live != y->other_live) return x->other_live > y->other_live ? -1 : 1;
  return by_size(a, b);
}

static void set_phases(planner *p, int n_nodes) {
  int64_t *sym = calloc((size_t)n_nodes + 1, sizeof *sym),
          *cst = calloc((size_t)n_nodes + 1, sizeof *cst);
  if (!sym || !cst) {
    free(sym);
    free(cst);
    return;
  }
  int64_t sym_peak = 0;
  for (int i = 0; i < p->n_st; i++)
    for (int t = p->st[i].begin; t <= p->st[i].end && t <= n_nodes; t++)
      (p->st[i].size.n ? sym : cst)[t] += p->st[i].size_at;
  for (int t = 0; t <= n_nodes; t++)
    if (sym[t] > sym_peak) sym_peak = sym[t];
  for (int i = 0; i < p->n_st; i++) {
    storage *s = &p->st[i];
    s->other_live = 0;
    for (int t = s->begin; t <= s->end && t <= n_nodes; t++) {
      int64_t o = s->size.n ? cst[t] : sym[t];
      if (o > s->other_live) s->other_live = o;
    }
    s->phase = s->size.n ? 1 : 2 * s->other_live >= sym_peak ? 0 : 2;
  }
  free(sym);
  free(cst);
}

static int (*const orders[])(const void *, const void *) = {
    by_phase, by_size,        by_area,        by_lifetime,
    by_begin, symbolic_first, constant_first, late_symbolic_first};
enum { N_ORDERS = sizeof orders / sizeof orders[0] };

/* Places every storage in each order; keeps the offsets of the smallest arena at the report
 * binding. False when some order found no offset for a storage (none does, in practice: the
 * envelope candidate always fits). */
static bool place_all(planner *p, storage **sorted) {
  ct_lin *best = malloc((size_t)(p->n_st + 1) * sizeof *best);
  int64_t best_size = -1;
  if (!best) return false;
  for (int o = 0; o < N_ORDERS; o++) {
    for (int i = 0; i < p->n_st; i++) {
      p->st[i].placed = false;
      sorted[i] = &p->st[i];
    }
    qsort(sorted, (size_t)p->n_st, sizeof *sorted, orders[o]);
    bool ok = true;
    for (int i = 0; i < p->n_st && ok; i++)
      ok = place(p, sorted[i]);
    if (!ok) continue;
    int64_t size = 0;
    for (int i = 0; i < p->n_st; i++) {
      int64_t end = ct_lin_eval(&p->st[i].offset, p->bind) + p->st[i].size_at;
      if (end > size) size = end;
    }
    if (best_size < 0 || size < best_size) {
      best_size = size;
      for (int i = 0; i < p->n_st; i++)
        best[i] = p->st[i].offset;
    }
  }
  for (int i = 0; i < p->n_st && best_size >= 0; i++)
    p->st[i].offset = best[i];
  free(best);
  return best_size >= 0;
}

static ct_status plan_graph(ct_module *m, ct_graph *g, const int64_t *bind, ct_diag *diag) {
  planner p = {0};
  p.g = g;
  p.bind = bind;
  g->plan = NULL;
  int n_nodes = 0;
  for (ct_node *n = g->body->first; n; n = n->next) {
    n->id = n_nodes++;
    if (n->op != CT_OP_RETURN) p.n_bufs += n->n_results;
  }
  ct_mem_plan *plan = ct_arena_alloc(m->arena, sizeof *plan);
  plan->buffers = ct_arena_alloc(m->arena, (size_t)(p.n_bufs ? p.n_bufs : 1) * sizeof(ct_buffer));
  p.bufs = plan->buffers;
  p.parent = malloc((size_t)(p.n_bufs + 1) * sizeof *p.parent);
  p.st = calloc((size_t)(p.n_bufs + 1), sizeof *p.st);
  p.root_st = malloc((size_t)(p.n_bufs + 1) * sizeof *p.root_st);
  storage **sorted = malloc((size_t)(p.n_bufs + 1) * sizeof *sorted);
  ct_status status = CT_OK;
  if (!p.parent || !p.st || !p.root_st || !sorted) {
    status = ct_diag_error(diag, NULL, 0, 0, "plan-memory: out of memory");
    goto out;
  }
  /* Buffers and their own live ranges. */
  int k = 0;
  for (ct_node *n = g->body->first; n; n = n->next) {
    if (n->op == CT_OP_RETURN) continue;
    for (int r = 0; r < n->n_results; r++, k++) {
      ct_value *v = n->results[r];
      ct_buffer *b = &p.bufs[k];
      b->value = v;
      v->aux = b;
      if (!value_size(v, &b->size)) {
        char t[128];
        ct_type_format(m, &v->type, t, sizeof t);
        ct_diag_add(diag, CT_SEV_WARNING, n->loc.file, n->loc.line, n->loc.col,
                    "plan-memory: @%s: the size of a %s value is not linear in the symbols; "
                    "the graph gets no memory plan",
                    g->name, t);
        for (ct_node *x = g->body->first; x; x = x->next)
          for (int rr = 0; rr < x->n_results; rr++)
            x->results[rr]->aux = NULL;
        goto out;
      }
      b->live_begin = b->live_end = n->id;
      for (ct_use *u = v->uses; u; u = u->next)
        if (u->user->id > b->live_end) b->live_end = u->user->id;
      p.parent[k] = k;
    }
  }
  /* Aliases, in node order (an in-place write needs its operand's storage to end here). */
  for (ct_node *n = g->body->first; n; n = n->next) {
    if (n->op == CT_OP_RETURN || n->n_results != 1) continue;
    ct_buffer *out = n->results[0]->aux;
    int oi = (int)(out - p.bufs);
    if (n->op == CT_OP_RESHAPE) {
      ct_value *x = ct_node_operand(n, 0);
      if (x->def && x->def->parent == g->body && x->aux &&
          ct_lin_eq(&out->size, &((ct_buffer *)x->aux)->size)) {
        out->shares_with = x;
        p.parent[oi] = find(&p, (int)((ct_buffer *)x->aux - p.bufs));
      }
      continue;
    }
    if (!inplace_op(n)) continue;
    for (int i = 0; i < n->n_operands; i++) {
      ct_value *x = ct_node_operand(n, i);
      if (!x->def || x->def->parent != g->body || !x->aux) continue;
      ct_buffer *xb = x->aux;
      int xi = (int)(xb - p.bufs);
      if (pass_dtype_size(x->type.dtype) != pass_dtype_size(n->results[0]->type.dtype) ||
          !ct_lin_eq(&xb->size, &out->size) || class_end(&p, xi) != n->id)
        continue;
      out->shares_with = x;
      p.parent[oi] = find(&p, xi);
      break;
    }
  }
  /* Storages. */
  for (int i = 0; i < p.n_bufs; i++) {
    int r = find(&p, i);
    if (r != i) continue;
    storage *s = &p.st[p.n_st];
    s->size = p.bufs[i].size;
    s->begin = p.bufs[i].live_begin;
    s->end = p.bufs[i].live_end;
    p.root_st[i] = p.n_st++;
  }
  for (int i = 0; i < p.n_bufs; i++) {
    storage *s = &p.st[p.root_st[find(&p, i)]];
    if (p.bufs[i].live_begin < s->begin) s->begin = p.bufs[i].live_begin;
    if (p.bufs[i].live_end > s->end) s->end = p.bufs[i].live_end;
  }
  for (int i = 0; i < p.n_st; i++)
    p.st[i].size_at = ct_lin_eval(&p.st[i].size, bind);
  set_phases(&p, n_nodes);
  if (!place_all(&p, sorted)) {
    status =
        ct_diag_error(diag, NULL, 0, 0, "plan-memory: @%s: no offset found for a buffer", g->name);
    goto out;
  }
  int64_t naive = 0, lower = 0;
  for (int i = 0; i < p.n_bufs; i++) {
    p.bufs[i].offset = p.st[p.root_st[find(&p, i)]].offset;
    if (!(p.bufs[i].value->def->op == CT_OP_RESHAPE && p.bufs[i].shares_with))
      naive += ct_lin_eval(&p.bufs[i].size, bind);
  }
  for (int t = 0; t < n_nodes; t++) {
    int64_t live = 0;
    for (int i = 0; i < p.n_st; i++)
      if (p.st[i].begin <= t && t <= p.st[i].end) live += p.st[i].size_at;
    if (live > lower) lower = live;
  }
  plan->n_buffers = p.n_bufs;
  plan->report_naive = naive;
  plan->report_lower_bound = lower;
  plan->report_peak = ct_mem_plan_arena_size(plan, bind);
  memcpy(plan->report_bind, bind, sizeof plan->report_bind);
  g->plan = plan;
  for (int i = 0; i < p.n_bufs; i++)
    ((ct_value *)p.bufs[i].value)->aux = NULL;
out:
  free(p.parent);
  free(p.st);
  free(p.root_st);
  free(sorted);
  return status;
}

ct_status ct_pass_plan_memory(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  int64_t bind[64];
  if (pass_binding(m, args, 64, bind, "plan-memory", diag) != CT_OK) return CT_ERR_INVALID;
  for (int i = 0; i < m->n_graphs; i++)
    if (plan_graph(m, m->graphs[i], bind, diag) != CT_OK) return CT_ERR_INVALID;
  return CT_OK;
}
