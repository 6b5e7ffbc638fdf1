/* ir/type.c: tensor types (dtype + shape of affine symbolic dims), dim arithmetic, formatting. */
#include <string.h>

#include "ir.h"

ct_type ct_type_make(ct_dtype dt, int rank, const ct_dim *dims) {
  ct_type t;
  memset(&t, 0, sizeof t);
  t.dtype = dt;
  t.rank = rank;
  for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
  return t;
}

ct_type ct_type_concrete(ct_dtype dt, int rank, const int64_t *shape) {
  ct_type t;
  memset(&t, 0, sizeof t);
  t.dtype = dt;
  t.rank = rank;
  for (int i = 0; i < rank; i++) t.dims[i] = ct_dim_const(shape[i]);
  return t;
}

ct_type ct_type_scalar(ct_dtype dt) { return ct_type_make(dt, 0, NULL); }

bool ct_type_eq(const ct_type *a, const ct_type *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (!ct_dim_eq(a->dims[i], b->dims[i])) return false;
  return true;
}

bool ct_type_is_concrete(const ct_type *t) {
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i].sym) return false;
  return true;
}

static ct_dim normalize(ct_dim d) {
  if (d.sym && d.coef == 0) return ct_dim_const(d.off);
  if (!d.sym) d.coef = 0;
  return d;
}

bool ct_dim_add(ct_dim a, ct_dim b, ct_dim *out) {
  if (a.sym && b.sym && a.sym != b.sym) return false;
  ct_dim r = {0, a.off + b.off, a.sym ? a.sym : b.sym};
  r.coef = (a.sym ? a.coef : 0) + (b.sym ? b.coef : 0);
  *out = normalize(r);
  return true;
}

bool ct_dim_sub(ct_dim a, ct_dim b, ct_dim *out) {
  ct_dim nb = b;
  nb.coef = -b.coef;
  nb.off = -b.off;
  return ct_dim_add(a, nb, out);
}

bool ct_dim_mul(ct_dim a, ct_dim b, ct_dim *out) {
  if (a.sym && b.sym) return false;
  if (b.sym) {
    ct_dim t = a;
    a = b;
    b = t;
  }
  /* a may be symbolic, b is the constant k */
  ct_dim r = {a.sym ? a.coef * b.off : 0, a.off * b.off, a.sym};
  *out = normalize(r);
  return true;
}

bool ct_dim_div(ct_dim a, ct_dim b, ct_dim *out) {
  if (!b.sym) {
    int64_t k = b.off;
    if (k == 0) return false;
    if (a.off % k != 0) return false;
    if (a.sym && a.coef % k != 0) return false;
    ct_dim r = {a.sym ? a.coef / k : 0, a.off / k, a.sym};
    *out = normalize(r);
    return true;
  }
  /* (c*N) / (d*N) with zero offsets */
  if (a.sym != b.sym || a.off != 0 || b.off != 0 || b.coef == 0 || a.coef % b.coef != 0)
    return false;
  *out = ct_dim_const(a.coef / b.coef);
  return true;
}

bool ct_type_numel(const ct_type *t, ct_dim *out) {
  ct_dim n = ct_dim_const(1);
  for (int i = 0; i < t->rank; i++)
    if (!ct_dim_mul(n, t->dims[i], &n)) return false;
  /* coef*N + off with off != 0 after a product only arises from one symbolic dim: fine */
  *out = n;
  return true;
}

void ct_dim_format(const ct_module *m, ct_dim d, char *buf, size_t size) {
  if (!d.sym) {
    snprintf(buf, size, "%lld", (long long)d.off);
    return;
  }
  char name[64];
  if (m && d.sym >= 1 && d.sym <= m->n_syms)
    snprintf(name, sizeof name, "%s", m->syms[d.sym]);
  else
    snprintf(name, sizeof name, "s%d", d.sym);
  size_t used;
  if (d.coef == 1)
    used = (size_t)snprintf(buf, size, "%s", name);
  else
    used = (size_t)snprintf(buf, size, "%lld*%s", (long long)d.coef, name);
  if (used >= size) return;
  if (d.off > 0)
    snprintf(buf + used, size - used, "+%lld", (long long)d.off);
  else if (d.off < 0)
    snprintf(buf + used, size - used, "-%lld", -(long long)d.off);
}

void ct_type_format(const ct_module *m, const ct_type *t, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "%s[", ct_dtype_name(t->dtype));
  for (int i = 0; i < t->rank && used < size; i++) {
    if (i && used < size) buf[used++] = ',';
    if (used >= size) break;
    ct_dim_format(m, t->dims[i], buf + used, size - used);
    used += strlen(buf + used);
  }
  if (used < size) snprintf(buf + used, size - used, "]");
}

int ct_norm_dim(int64_t dim, int rank) {
  if (dim < 0) dim += rank;
  if (dim < 0 || dim >= rank) return -1;
  return (int)dim;
}

int64_t ct_mem_plan_arena_size(const ct_mem_plan *p, const int64_t *bind) {
  int64_t size = 0;
  for (int i = 0; i < p->n_buffers; i++) {
    int64_t end = ct_lin_eval(&p->buffers[i].offset, bind) + ct_lin_eval(&p->buffers[i].size, bind);
    if (end > size) size = end;
  }
  return size;
}

const ct_buffer *ct_mem_plan_find(const ct_mem_plan *p, const ct_value *v) {
  if (!p) return NULL;
  for (int i = 0; i < p->n_buffers; i++)
    if (p->buffers[i].value == v) return &p->buffers[i];
  return NULL;
}
