/* passes/util.c: helpers every pass uses (passes_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "passes_internal.h"

bool pass_is_splat(const ct_node *n) {
  if (!n || n->op != CT_OP_CONSTANT) return false;
  const ct_attr *d = ct_node_attr(n, "data");
  return !d || d->n == 0;
}

bool pass_const_value(const ct_value *v, double *out) {
  const ct_node *n = v->def;
  if (!n || n->op != CT_OP_CONSTANT) return false;
  const ct_attr *d = ct_node_attr(n, "data");
  if (!d || d->n == 0) {
    *out = ct_node_attr_float(n, "value", 0.0);
    return true;
  }
  for (int i = 1; i < d->n; i++)
    if (d->u.floats[i] != d->u.floats[0]) return false;
  *out = d->u.floats[0];
  return true;
}

bool pass_const_is(const ct_value *v, double want) {
  double x;
  return pass_const_value(v, &x) && x == want;
}

void pass_replace_node(ct_node *n, ct_value *with) {
  ct_value_replace_uses(n->results[0], with);
  ct_node_erase(n);
}

bool pass_attrs_equal(const ct_node *a, const ct_node *b) {
  if (a->n_attrs != b->n_attrs) return false;
  for (int i = 0; i < a->n_attrs; i++)
    if (strcmp(a->attrs[i].name, b->attrs[i].name) != 0 ||
        !ct_attr_eq(&a->attrs[i], &b->attrs[i], CT_ATTR_EQ_BITWISE))
      return false;
  return true;
}

static void walk(ct_block *b, void (*fn)(ct_block *, void *), void *ctx) {
  fn(b, ctx);
  for (ct_node *n = b->first; n; n = n->next)
    if (n->body) walk(n->body, fn, ctx);
}

void pass_for_each_block(ct_graph *g, void (*fn)(ct_block *b, void *ctx), void *ctx) {
  walk(g->body, fn, ctx);
}

int64_t pass_dtype_size(ct_dtype dt) {
  switch (dt) {
  case CT_DT_F64:
  case CT_DT_I64: return 8;
  case CT_DT_F32:
  case CT_DT_I32: return 4;
  case CT_DT_F16:
  case CT_DT_BF16: return 2;
  default: return 1;
  }
}

int64_t pass_numel_at(const ct_type *t, const int64_t *bind) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++)
    n *= ct_dim_eval(t->dims[i], bind);
  return n;
}

ct_status pass_binding(const ct_module *m, const ct_pass_args *args, int64_t dflt, int64_t *bind,
                       const char *pass, ct_diag *diag) {
  for (int s = 0; s < 64; s++)
    bind[s] = dflt;
  if (m->n_syms >= 64) return ct_diag_error(diag, NULL, 0, 0, "%s: too many symbols", pass);
  for (int s = 1; s <= m->n_syms; s++) {
    char buf[32];
    if (!ct_pass_arg(args, m->syms[s], buf, sizeof buf)) continue;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || *end || v < 1 || v > (1LL << 32))
      return ct_diag_error(diag, NULL, 0, 0, "%s: %s=%s: expected an integer in 1..2^32", pass,
                           m->syms[s], buf);
    bind[s] = v;
  }
  return CT_OK;
}

static int count_block(const ct_block *b) {
  int n = 0;
  for (const ct_node *x = b->first; x; x = x->next) {
    if (x->op != CT_OP_RETURN) n++;
    if (x->body) n += count_block(x->body);
  }
  return n;
}

int pass_count_nodes(const ct_graph *g) { return count_block(g->body); }
