/* ir/type.c: tensor types (dtype + shape of affine symbolic dims), dim arithmetic, formatting,
 * and the NAME=DTYPE[DIMS] specs of ctorchc's --input and --target. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
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

/* The end of a spec's dim at p (a decimal size or a symbol name), or NULL when there is none. */
static const char *dim_end(const char *p) {
  const char *q = p;
  if (isdigit((unsigned char)*p)) {
    while (isdigit((unsigned char)*q)) q++;
  } else if (isalpha((unsigned char)*p) || *p == '_') {
    while (isalnum((unsigned char)*q) || *q == '_') q++;
  }
  return q == p ? NULL : q;
}

ct_spec_status ct_input_spec_parse(ct_module *m, const char *spec, bool create_syms,
                                   ct_input_spec *out) {
  const char *eq = strchr(spec, '='), *lb = eq ? strchr(eq, '[') : NULL;
  size_t n = eq ? (size_t)(eq - spec) : 0;
  ct_dtype dt;
  if (!lb || n == 0 || n >= sizeof out->name ||
      ct_dtype_parse(eq + 1, (size_t)(lb - eq - 1), &dt) != 0)
    return CT_SPEC_MALFORMED;
  /* Syntax first, symbols after, so that a malformed spec adds no symbol to m. */
  ct_dim dims[CT_MAX_RANK];
  const char *sym_at[CT_MAX_RANK];
  size_t sym_len[CT_MAX_RANK];
  int rank = 0;
  const char *p = lb + 1;
  if (*p != ']')
    for (;;) {
      const char *q = dim_end(p);
      if (!q || rank == CT_MAX_RANK) return CT_SPEC_MALFORMED;
      sym_at[rank] = NULL;
      if (isdigit((unsigned char)*p)) {
        errno = 0;
        dims[rank] = ct_dim_const(strtoll(p, NULL, 10));
        if (errno) return CT_SPEC_MALFORMED;
      } else {
        sym_at[rank] = p;
        sym_len[rank] = (size_t)(q - p);
      }
      rank++;
      if (*q != ',') {
        p = q;
        break;
      }
      p = q + 1;
    }
  if (*p != ']' || p[1]) return CT_SPEC_MALFORMED;
  for (int i = 0; i < rank && !create_syms; i++)
    if (sym_at[i] && !ct_module_find_sym(m, sym_at[i], sym_len[i])) {
      out->sym = sym_at[i];
      out->sym_len = (int)sym_len[i];
      return CT_SPEC_UNKNOWN_SYM;
    }
  for (int i = 0; i < rank; i++)
    if (sym_at[i]) dims[i] = ct_dim_sym(ct_module_sym(m, sym_at[i], sym_len[i]));
  memcpy(out->name, spec, n);
  out->name[n] = 0;
  out->type = ct_type_make(dt, rank, dims);
  out->sym = NULL;
  out->sym_len = 0;
  return CT_SPEC_OK;
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

bool ct_mem_plan_disjoint(const ct_buffer *a, const ct_buffer *b) {
  ct_lin a_end, b_end;
  if (!ct_lin_add_scaled(a->offset, &a->size, 1, &a_end) ||
      !ct_lin_add_scaled(b->offset, &b->size, 1, &b_end))
    return false;
  return ct_lin_le(&a_end, &b->offset) || ct_lin_le(&b_end, &a->offset);
}
