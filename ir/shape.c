/* ir/shape.c: the shape and dtype rule of every op (docs/ops.md), in a table indexed by the op.
 * The builder infers result types with it and the verifier checks nodes against it. Shapes may
 * be affine in one symbol; a rule that cannot decide symbolically reports an unsupported shape. */
#include <stdarg.h>
#include <string.h>

#include "ir.h"

#define SLICE_TO_END INT64_MAX

/* What a rule sees: the operands' types and the attributes; it writes out[] and n_out. */
typedef struct rule_ctx {
  ct_module *m;
  ct_op op;
  int n_in;
  const ct_type *in;
  const ct_attr *attrs;
  int n_attrs;
  ct_type out[8];
  int n_out;
  ct_diag *diag;
  ct_loc loc;
  char tbuf[4][256]; /* ring of formatted types for one message */
  int next_buf;
} rule_ctx;

typedef ct_status (*shape_rule)(rule_ctx *c);

/* ---- reporting ------------------------------------------------------------------------- */

static ct_status fail(rule_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ct_status fail(rule_ctx *c, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ct_diag_error(c->diag, c->loc.file, c->loc.line, c->loc.col, "%s: %s", ct_op_name(c->op), msg);
  return CT_ERR_SHAPE;
}

static const char *ty(rule_ctx *c, const ct_type *t) {
  char *buf = c->tbuf[c->next_buf++ % 4];
  ct_type_format(c->m, t, buf, sizeof c->tbuf[0]);
  return buf;
}

static ct_status unsupported(rule_ctx *c, const ct_type *t, const char *what) {
  return fail(c, "unsupported symbolic shape %s: %s", ty(c, t), what);
}

/* ---- attributes ------------------------------------------------------------------------ */

/* The attribute named name from the given attrs, else the schema default; NULL (with an error)
 * when absent without default or of the wrong kind. INTS and DIMS stand in for each other. */
static const ct_attr *attr(rule_ctx *c, const char *name, ct_attr_kind kind) {
  const ct_attr *a = ct_attr_find(c->attrs, c->n_attrs, name);
  if (!a) {
    int n_specs;
    const ct_attr_spec *specs = ct_op_attr_specs(c->op, &n_specs);
    for (int i = 0; i < n_specs; i++)
      if (strcmp(specs[i].name, name) == 0 && specs[i].has_default) a = &specs[i].dflt;
  }
  if (!a) {
    fail(c, "missing attribute '%s'", name);
    return NULL;
  }
  bool ok = a->kind == kind || (kind == CT_ATTR_INTS && a->kind == CT_ATTR_DIMS) ||
            (kind == CT_ATTR_DIMS && a->kind == CT_ATTR_INTS) ||
            (kind == CT_ATTR_BOOL && a->kind == CT_ATTR_INT);
  if (!ok) {
    fail(c, "attribute '%s' has the wrong kind", name);
    return NULL;
  }
  if (a->n > CT_MAX_RANK * 4 && (kind == CT_ATTR_INTS || kind == CT_ATTR_DIMS)) {
    fail(c, "attribute '%s' has too many elements (%d)", name, a->n);
    return NULL;
  }
  return a;
}

static bool get_int(rule_ctx *c, const char *name, int64_t *v) {
  const ct_attr *a = attr(c, name, CT_ATTR_INT);
  if (a) *v = a->u.i;
  return a != NULL;
}

static bool get_bool(rule_ctx *c, const char *name, bool *v) {
  const ct_attr *a = attr(c, name, CT_ATTR_BOOL);
  if (a) *v = a->u.i != 0;
  return a != NULL;
}

/* An ints attribute (at most max elements); symbolic entries of a dims attribute are an error. */
static bool get_ints(rule_ctx *c, const char *name, int64_t *v, int max, int *n) {
  const ct_attr *a = attr(c, name, CT_ATTR_INTS);
  if (!a) return false;
  if (a->n > max) {
    fail(c, "attribute '%s' has %d elements, at most %d allowed", name, a->n, max);
    return false;
  }
  for (int i = 0; i < a->n; i++) {
    if (a->kind == CT_ATTR_DIMS) {
      if (a->u.dims[i].sym) {
        fail(c, "attribute '%s' must be constant", name);
        return false;
      }
      v[i] = a->u.dims[i].off;
    } else {
      v[i] = a->u.ints[i];
    }
  }
  *n = a->n;
  return true;
}

/* A shape attribute (dims); entries must be positive constants or symbolic. */
static bool get_shape(rule_ctx *c, const char *name, ct_dtype dt, ct_type *t) {
  const ct_attr *a = attr(c, name, CT_ATTR_DIMS);
  if (!a) return false;
  if (a->n > CT_MAX_RANK) {
    fail(c, "attribute '%s' has rank %d, at most %d allowed", name, a->n, CT_MAX_RANK);
    return false;
  }
  memset(t, 0, sizeof *t);
  t->dtype = dt;
  t->rank = a->n;
  for (int i = 0; i < a->n; i++) {
    ct_dim d = a->kind == CT_ATTR_DIMS ? a->u.dims[i] : ct_dim_const(a->u.ints[i]);
    if (!d.sym) d.coef = 0;
    if (!d.sym && d.off < 0) {
      fail(c, "negative dim %lld in attribute '%s'", (long long)d.off, name);
      return false;
    }
    t->dims[i] = d;
  }
  return true;
}

/* ---- helpers --------------------------------------------------------------------------- */

static ct_status need_float(rule_ctx *c, const ct_type *t) {
  if (ct_dtype_is_float(t->dtype)) return CT_OK;
  return fail(c, "expected a float operand, got %s", ty(c, t));
}

static ct_status need_numeric(rule_ctx *c, const ct_type *t) {
  if (t->dtype != CT_DT_BOOL) return CT_OK;
  return fail(c, "expected a numeric operand, got %s", ty(c, t));
}

static ct_status need_dtype(rule_ctx *c, const ct_type *t, ct_dtype dt, const char *what) {
  if (t->dtype == dt) return CT_OK;
  return fail(c, "%s must be %s, got %s", what, ct_dtype_name(dt), ty(c, t));
}

static ct_status need_same_dtype(rule_ctx *c, const ct_type *a, const ct_type *b) {
  if (a->dtype == b->dtype) return CT_OK;
  return fail(c, "operand dtypes differ: %s and %s", ty(c, a), ty(c, b));
}

static ct_status need_rank(rule_ctx *c, const ct_type *t, int rank, const char *what) {
  if (t->rank == rank) return CT_OK;
  return fail(c, "%s must have rank %d, got %s", what, rank, ty(c, t));
}

static ct_status set_out(rule_ctx *c, ct_type t) {
  c->out[0] = t;
  c->n_out = 1;
  return CT_OK;
}

/* floor(a / k) for k >= 1: exact for constants; for coef*N + off when k divides coef. */
static bool dim_floordiv(ct_dim a, int64_t k, ct_dim *out) {
  if (k <= 0) return false;
  int64_t q = a.off / k;
  if (a.off % k != 0 && a.off < 0) q--;
  if (!a.sym) {
    *out = ct_dim_const(q);
    return true;
  }
  if (a.coef % k != 0) return false;
  ct_dim r = {a.coef / k, q, a.sym};
  *out = r;
  return true;
}

static ct_dim dim_plus(ct_dim a, int64_t k) {
  ct_dim r;
  ct_dim_add(a, ct_dim_const(k), &r); /* never fails: k is a constant */
  return r;
}

bool ct_broadcast_shapes(const ct_type *a, const ct_type *b, ct_type *out) {
  int rank = a->rank > b->rank ? a->rank : b->rank;
  ct_type r;
  memset(&r, 0, sizeof r);
  r.dtype = a->dtype;
  r.rank = rank;
  for (int i = 0; i < rank; i++) {
    int ia = a->rank - rank + i, ib = b->rank - rank + i;
    ct_dim one = ct_dim_const(1);
    ct_dim da = ia >= 0 ? a->dims[ia] : one, db = ib >= 0 ? b->dims[ib] : one;
    if (ct_dim_eq(da, db))
      r.dims[i] = da;
    else if (ct_dim_eq(da, one))
      r.dims[i] = db;
    else if (ct_dim_eq(db, one))
      r.dims[i] = da;
    else
      return false;
  }
  *out = r;
  return true;
}

/* ---- sources --------------------------------------------------------------------------- */

static ct_status rule_constant(rule_ctx *c) {
  const ct_attr *dt = attr(c, "dtype", CT_ATTR_DTYPE);
  const ct_attr *data = attr(c, "data", CT_ATTR_FLOATS);
  ct_type t;
  if (!dt || !data || !get_shape(c, "shape", dt->u.dt, &t)) return CT_ERR_SHAPE;
  if (data->n > 0) {
    ct_dim numel;
    if (!ct_type_is_concrete(&t) || !ct_type_numel(&t, &numel))
      return fail(c, "data needs a concrete shape, got %s", ty(c, &t));
    if (numel.off != data->n)
      return fail(c, "data holds %d values, %s needs %lld", data->n, ty(c, &t),
                  (long long)numel.off);
  }
  return set_out(c, t);
}

static ct_status rule_one_hot(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  int64_t classes;
  const ct_attr *dt = attr(c, "dtype", CT_ATTR_DTYPE);
  if (!dt || !get_int(c, "num_classes", &classes)) return CT_ERR_SHAPE;
  if (need_dtype(c, x, CT_DT_I64, "indices")) return CT_ERR_SHAPE;
  if (classes < 1) return fail(c, "num_classes must be positive, got %lld", (long long)classes);
  if (x->rank >= CT_MAX_RANK) return fail(c, "result rank exceeds %d", CT_MAX_RANK);
  ct_type t = *x;
  t.dtype = dt->u.dt;
  t.dims[t.rank++] = ct_dim_const(classes);
  return set_out(c, t);
}

/* ---- elementwise ----------------------------------------------------------------------- */

static ct_status rule_unary_any(rule_ctx *c) {
  if (need_numeric(c, &c->in[0])) return CT_ERR_SHAPE;
  return set_out(c, c->in[0]);
}

static ct_status rule_unary_float(rule_ctx *c) {
  if (need_float(c, &c->in[0])) return CT_ERR_SHAPE;
  return set_out(c, c->in[0]);
}

static ct_status rule_gelu(rule_ctx *c) {
  const ct_attr *a = attr(c, "approximate", CT_ATTR_STR);
  if (!a) return CT_ERR_SHAPE;
  const char *s = a->u.s ? a->u.s : "";
  if (strcmp(s, "none") != 0 && strcmp(s, "tanh") != 0)
    return fail(c, "approximate must be \"none\" or \"tanh\", got \"%s\"", s);
  return rule_unary_float(c);
}

static ct_status rule_cast(rule_ctx *c) {
  const ct_attr *dt = attr(c, "dtype", CT_ATTR_DTYPE);
  if (!dt) return CT_ERR_SHAPE;
  ct_type t = c->in[0];
  t.dtype = dt->u.dt;
  return set_out(c, t);
}

static ct_status rule_logical_not(rule_ctx *c) {
  if (need_dtype(c, &c->in[0], CT_DT_BOOL, "operand")) return CT_ERR_SHAPE;
  return set_out(c, c->in[0]);
}

static ct_status broadcast2(rule_ctx *c, const ct_type *a, const ct_type *b, ct_type *out) {
  if (ct_broadcast_shapes(a, b, out)) return CT_OK;
  return fail(c, "cannot broadcast %s with %s", ty(c, a), ty(c, b));
}

static ct_status rule_binary(rule_ctx *c) {
  const ct_type *a = &c->in[0], *b = &c->in[1];
  ct_type t;
  if (need_same_dtype(c, a, b) || broadcast2(c, a, b, &t)) return CT_ERR_SHAPE;
  if (c->op == CT_OP_DIV && need_float(c, a)) return CT_ERR_SHAPE;
  if (c->op != CT_OP_ADD && c->op != CT_OP_MUL && c->op != CT_OP_MAXIMUM &&
      c->op != CT_OP_MINIMUM && need_numeric(c, a))
    return CT_ERR_SHAPE;
  return set_out(c, t);
}

static ct_status rule_compare(rule_ctx *c) {
  const ct_type *a = &c->in[0], *b = &c->in[1];
  ct_type t;
  if (need_same_dtype(c, a, b) || broadcast2(c, a, b, &t)) return CT_ERR_SHAPE;
  t.dtype = CT_DT_BOOL;
  return set_out(c, t);
}

static ct_status rule_logical(rule_ctx *c) {
  const ct_type *a = &c->in[0], *b = &c->in[1];
  ct_type t;
  if (need_dtype(c, a, CT_DT_BOOL, "operand 0") || need_dtype(c, b, CT_DT_BOOL, "operand 1") ||
      broadcast2(c, a, b, &t))
    return CT_ERR_SHAPE;
  return set_out(c, t);
}

static ct_status rule_where(rule_ctx *c) {
  const ct_type *cond = &c->in[0], *x = &c->in[1], *y = &c->in[2];
  if (need_dtype(c, cond, CT_DT_BOOL, "condition") || need_same_dtype(c, x, y))
    return CT_ERR_SHAPE;
  ct_type xy, t;
  if (!ct_broadcast_shapes(x, y, &xy) || !ct_broadcast_shapes(cond, &xy, &t))
    return fail(c, "cannot broadcast %s, %s and %s", ty(c, cond), ty(c, x), ty(c, y));
  t.dtype = x->dtype;
  return set_out(c, t);
}

/* ---- reductions ------------------------------------------------------------------------ */

static ct_status rule_reduce(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  int64_t dims[CT_MAX_RANK * 4];
  int n;
  bool keepdim;
  if (!get_ints(c, "dims", dims, CT_MAX_RANK * 4, &n) || !get_bool(c, "keepdim", &keepdim))
    return CT_ERR_SHAPE;
  if (c->op == CT_OP_MEAN && need_float(c, x)) return CT_ERR_SHAPE;
  if (c->op == CT_OP_SUM && x->dtype != CT_DT_I64 && x->dtype != CT_DT_I32 &&
      !ct_dtype_is_float(x->dtype))
    return fail(c, "expected a float, i64 or i32 operand, got %s", ty(c, x));
  bool reduced[CT_MAX_RANK] = {false};
  for (int i = 0; i < n; i++) {
    int d = ct_norm_dim(dims[i], x->rank);
    if (d < 0) return fail(c, "dim %lld out of range for %s", (long long)dims[i], ty(c, x));
    if (reduced[d]) return fail(c, "dim %lld repeated", (long long)dims[i]);
    reduced[d] = true;
  }
  ct_type t = *x;
  t.rank = 0;
  for (int i = 0; i < x->rank; i++) {
    if (n == 0 || reduced[i]) {
      if (keepdim) t.dims[t.rank++] = ct_dim_const(1);
    } else {
      t.dims[t.rank++] = x->dims[i];
    }
  }
  return set_out(c, t);
}

static ct_status rule_argmax(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  int64_t dim;
  bool keepdim;
  if (!get_int(c, "dim", &dim) || !get_bool(c, "keepdim", &keepdim)) return CT_ERR_SHAPE;
  if (need_numeric(c, x)) return CT_ERR_SHAPE;
  int d = ct_norm_dim(dim, x->rank);
  if (d < 0) return fail(c, "dim %lld out of range for %s", (long long)dim, ty(c, x));
  ct_type t = *x;
  t.dtype = CT_DT_I64;
  t.rank = 0;
  for (int i = 0; i < x->rank; i++) {
    if (i != d)
      t.dims[t.rank++] = x->dims[i];
    else if (keepdim)
      t.dims[t.rank++] = ct_dim_const(1);
  }
  return set_out(c, t);
}

static ct_status rule_softmax(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  int64_t dim;
  if (!get_int(c, "dim", &dim) || need_float(c, x)) return CT_ERR_SHAPE;
  if (ct_norm_dim(dim, x->rank) < 0)
    return fail(c, "dim %lld out of range for %s", (long long)dim, ty(c, x));
  return set_out(c, *x);
}

/* ---- shape ops ------------------------------------------------------------------------- */

static ct_status rule_reshape(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  ct_type t;
  if (!get_shape(c, "shape", x->dtype, &t)) return CT_ERR_SHAPE;
  ct_dim nx, nt;
  bool ok = ct_type_numel(x, &nx) && ct_type_numel(&t, &nt);
  if (ok && ct_dim_eq(nx, nt)) return set_out(c, t);
  return fail(c, "cannot reshape %s to %s: element counts %s", ty(c, x), ty(c, &t),
              ok ? "differ" : "not provably equal");
}

static ct_status rule_permute(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  int64_t perm[CT_MAX_RANK];
  int n;
  if (!get_ints(c, "dims", perm, CT_MAX_RANK, &n)) return CT_ERR_SHAPE;
  if (n != x->rank)
    return fail(c, "dims has %d entries, %s has rank %d", n, ty(c, x), x->rank);
  bool seen[CT_MAX_RANK] = {false};
  ct_type t = *x;
  for (int i = 0; i < n; i++) {
    int d = ct_norm_dim(perm[i], x->rank);
    if (d < 0 || seen[d]) return fail(c, "dims is not a permutation of %d dims", x->rank);
    seen[d] = true;
    t.dims[i] = x->dims[d];
  }
  return set_out(c, t);
}

static ct_status rule_expand(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  ct_type t;
  if (!get_shape(c, "shape", x->dtype, &t)) return CT_ERR_SHAPE;
  bool ok = t.rank >= x->rank;
  for (int i = 0; ok && i < x->rank; i++) {
    ct_dim dx = x->dims[i], dt = t.dims[t.rank - x->rank + i];
    ok = ct_dim_eq(dx, dt) || ct_dim_eq(dx, ct_dim_const(1));
  }
  if (!ok) return fail(c, "cannot expand %s to %s", ty(c, x), ty(c, &t));
  return set_out(c, t);
}

static ct_status rule_concat(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  int64_t dim;
  if (!get_int(c, "dim", &dim)) return CT_ERR_SHAPE;
  int d = ct_norm_dim(dim, x->rank);
  if (d < 0) return fail(c, "dim %lld out of range for %s", (long long)dim, ty(c, x));
  ct_type t = *x;
  for (int k = 1; k < c->n_in; k++) {
    const ct_type *y = &c->in[k];
    bool ok = y->dtype == x->dtype && y->rank == x->rank;
    for (int i = 0; ok && i < x->rank; i++) ok = i == d || ct_dim_eq(x->dims[i], y->dims[i]);
    if (!ok) return fail(c, "cannot concatenate %s with %s along dim %d", ty(c, x), ty(c, y), d);
    if (!ct_dim_add(t.dims[d], y->dims[d], &t.dims[d]))
      return unsupported(c, y, "concatenated size is not affine in one symbol");
  }
  return set_out(c, t);
}

/* Length of x[start:end:step] along a dim of size n (Python's clamping). */
static ct_status slice_len(rule_ctx *c, const ct_type *x, ct_dim n, int64_t start, int64_t end,
                           int64_t step, ct_dim *len) {
  if (step < 1) return fail(c, "step must be >= 1, got %lld", (long long)step);
  if (!n.sym) {
    int64_t size = n.off;
    int64_t s = start < 0 ? start + size : start, e = end;
    if (end != SLICE_TO_END && end < 0) e = end + size;
    if (s < 0) s = 0;
    if (s > size) s = size;
    if (e < 0) e = 0;
    if (e > size) e = size;
    *len = ct_dim_const(e > s ? (e - s + step - 1) / step : 0);
    return CT_OK;
  }
  /* Symbolic size: negative indices and the to-the-end sentinel are relative to n; a positive
   * constant index is assumed to lie inside (n is at least as large as any constant bound). */
  ct_dim s = start < 0 ? dim_plus(n, start) : ct_dim_const(start);
  ct_dim e = end == SLICE_TO_END ? n : end < 0 ? dim_plus(n, end) : ct_dim_const(end);
  ct_dim diff;
  if (!ct_dim_sub(e, s, &diff)) return unsupported(c, x, "slice bounds");
  if (!diff.sym) {
    *len = ct_dim_const(diff.off > 0 ? (diff.off + step - 1) / step : 0);
    return CT_OK;
  }
  if (!dim_floordiv(dim_plus(diff, step - 1), step, len))
    return unsupported(c, x, "slice length is not affine in one symbol");
  return CT_OK;
}

static ct_status slice_type(rule_ctx *c, const ct_type *x, ct_type *t) {
  int64_t dim, start, end, step;
  if (!get_int(c, "dim", &dim) || !get_int(c, "start", &start) || !get_int(c, "end", &end) ||
      !get_int(c, "step", &step))
    return CT_ERR_SHAPE;
  int d = ct_norm_dim(dim, x->rank);
  if (d < 0) return fail(c, "dim %lld out of range for %s", (long long)dim, ty(c, x));
  *t = *x;
  return slice_len(c, x, x->dims[d], start, end, step, &t->dims[d]);
}

static ct_status rule_slice(rule_ctx *c) {
  ct_type t;
  if (slice_type(c, &c->in[0], &t)) return CT_ERR_SHAPE;
  return set_out(c, t);
}

static ct_status rule_slice_grad(rule_ctx *c) {
  const ct_type *g = &c->in[0];
  ct_type x, sliced;
  if (!get_shape(c, "shape", g->dtype, &x) || slice_type(c, &x, &sliced)) return CT_ERR_SHAPE;
  if (!ct_type_eq(&sliced, g))
    return fail(c, "gradient %s does not match the slice %s of %s", ty(c, g), ty(c, &sliced),
                ty(c, &x));
  return set_out(c, x);
}

/* ---- library ops ----------------------------------------------------------------------- */

static ct_status rule_matmul(rule_ctx *c) {
  const ct_type *a = &c->in[0], *b = &c->in[1];
  if (need_same_dtype(c, a, b)) return CT_ERR_SHAPE;
  if (a->rank < 1 || b->rank < 1) return fail(c, "operands must have rank >= 1, got %s and %s",
                                              ty(c, a), ty(c, b));
  /* promote 1-D operands: a [k] -> [1,k], b [k] -> [k,1]; the added dims are dropped after */
  ct_type pa = *a, pb = *b;
  if (a->rank == 1) {
    pa.rank = 2;
    pa.dims[0] = ct_dim_const(1);
    pa.dims[1] = a->dims[0];
  }
  if (b->rank == 1) {
    pb.rank = 2;
    pb.dims[0] = b->dims[0];
    pb.dims[1] = ct_dim_const(1);
  }
  if (!ct_dim_eq(pa.dims[pa.rank - 1], pb.dims[pb.rank - 2]))
    return fail(c, "cannot multiply %s by %s", ty(c, a), ty(c, b));
  ct_type ba = pa, bb = pb, t;
  ba.rank -= 2;
  bb.rank -= 2;
  if (!ct_broadcast_shapes(&ba, &bb, &t))
    return fail(c, "cannot broadcast batch dims of %s and %s", ty(c, a), ty(c, b));
  if (t.rank + 2 > CT_MAX_RANK) return fail(c, "result rank exceeds %d", CT_MAX_RANK);
  if (a->rank > 1) t.dims[t.rank++] = pa.dims[pa.rank - 2];
  if (b->rank > 1) t.dims[t.rank++] = pb.dims[pb.rank - 1];
  t.dtype = a->dtype;
  return set_out(c, t);
}

static ct_status rule_linear(rule_ctx *c) {
  const ct_type *x = &c->in[0], *w = &c->in[1];
  if (x->rank < 1) return fail(c, "input must have rank >= 1, got %s", ty(c, x));
  if (need_rank(c, w, 2, "weight") || need_same_dtype(c, x, w)) return CT_ERR_SHAPE;
  if (!ct_dim_eq(x->dims[x->rank - 1], w->dims[1]))
    return fail(c, "input %s does not match weight %s", ty(c, x), ty(c, w));
  if (c->n_in == 3) {
    const ct_type *b = &c->in[2];
    if (need_same_dtype(c, x, b)) return CT_ERR_SHAPE;
    if (b->rank != 1 || !ct_dim_eq(b->dims[0], w->dims[0]))
      return fail(c, "bias %s does not match weight %s", ty(c, b), ty(c, w));
  }
  ct_type t = *x;
  t.dims[t.rank - 1] = w->dims[0];
  return set_out(c, t);
}

/* A pair attribute (stride, padding, ...): one value for both dims, or two. */
static bool get_pair(rule_ctx *c, const char *name, int64_t lo, int64_t v[2]) {
  int64_t buf[CT_MAX_RANK];
  int n;
  if (!get_ints(c, name, buf, CT_MAX_RANK, &n)) return false;
  if (n != 1 && n != 2) {
    fail(c, "attribute '%s' must have 2 entries, got %d", name, n);
    return false;
  }
  v[0] = buf[0];
  v[1] = buf[n - 1];
  if (v[0] < lo || v[1] < lo) {
    fail(c, "attribute '%s' entries must be >= %lld", name, (long long)lo);
    return false;
  }
  return true;
}

/* Ho = floor((H + 2p - d(k-1) - 1 [+ s-1 when ceil]) / s) + 1, with PyTorch's ceil_mode rule
 * that the last window starts inside the padded input. */
static ct_status window_out(rule_ctx *c, const ct_type *x, ct_dim h, int64_t k, int64_t s,
                            int64_t p, int64_t d, bool ceil_mode, ct_dim *out) {
  int64_t extra = 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  ct_dim o;
  if (!dim_floordiv(dim_plus(h, extra), s, &o))
    return unsupported(c, x, "output size is not affine in one symbol");
  o = dim_plus(o, 1);
  if (ceil_mode) {
    /* drop the last window when it starts in the right padding: (o-1)*s >= h + p */
    ct_dim start, gap;
    ct_dim_mul(dim_plus(o, -1), ct_dim_const(s), &start);
    if (!ct_dim_sub(start, dim_plus(h, p), &gap) || gap.sym)
      return unsupported(c, x, "ceil_mode output size depends on the symbol");
    if (gap.off >= 0) o = dim_plus(o, -1);
  }
  if (!o.sym && o.off < 1)
    return fail(c, "input %s is too small: output size %lld", ty(c, x), (long long)o.off);
  *out = o;
  return CT_OK;
}

typedef struct conv_params {
  int64_t stride[2], padding[2], dilation[2], groups;
} conv_params;

static bool get_conv_params(rule_ctx *c, conv_params *p) {
  return get_pair(c, "stride", 1, p->stride) && get_pair(c, "padding", 0, p->padding) &&
         get_pair(c, "dilation", 1, p->dilation) && get_int(c, "groups", &p->groups);
}

/* The type of conv2d(x, w) with params p. */
static ct_status conv_out(rule_ctx *c, const ct_type *x, const ct_type *w, const conv_params *p,
                          ct_type *t) {
  if (need_rank(c, x, 4, "input") || need_rank(c, w, 4, "weight") || need_float(c, x) ||
      need_same_dtype(c, x, w))
    return CT_ERR_SHAPE;
  if (p->groups < 1) return fail(c, "groups must be >= 1, got %lld", (long long)p->groups);
  ct_dim cin;
  bool ok = ct_dim_mul(w->dims[1], ct_dim_const(p->groups), &cin) && ct_dim_eq(cin, x->dims[1]);
  if (!ok || !ct_dim_is_const(w->dims[0]) || w->dims[0].off % p->groups != 0)
    return fail(c, "input %s does not match weight %s with groups=%lld", ty(c, x), ty(c, w),
                (long long)p->groups);
  if (!ct_dim_is_const(w->dims[2]) || !ct_dim_is_const(w->dims[3]))
    return fail(c, "kernel size of weight %s must be constant", ty(c, w));
  *t = *x;
  t->dims[1] = w->dims[0];
  for (int i = 0; i < 2; i++)
    if (window_out(c, x, x->dims[2 + i], w->dims[2 + i].off, p->stride[i], p->padding[i],
                   p->dilation[i], false, &t->dims[2 + i]))
      return CT_ERR_SHAPE;
  return CT_OK;
}

static ct_status rule_conv2d(rule_ctx *c) {
  conv_params p;
  ct_type t;
  if (!get_conv_params(c, &p) || conv_out(c, &c->in[0], &c->in[1], &p, &t)) return CT_ERR_SHAPE;
  if (c->n_in == 3) {
    const ct_type *b = &c->in[2];
    if (need_same_dtype(c, &c->in[0], b)) return CT_ERR_SHAPE;
    if (b->rank != 1 || !ct_dim_eq(b->dims[0], c->in[1].dims[0]))
      return fail(c, "bias %s does not match weight %s", ty(c, b), ty(c, &c->in[1]));
  }
  return set_out(c, t);
}

static ct_status check_grad(rule_ctx *c, const ct_type *gy, const ct_type *fwd) {
  if (ct_type_eq(gy, fwd)) return CT_OK;
  return fail(c, "gradient %s does not match the forward result %s", ty(c, gy), ty(c, fwd));
}

static ct_status rule_conv2d_grad_input(rule_ctx *c) {
  const ct_type *gy = &c->in[0], *w = &c->in[1];
  conv_params p;
  ct_type x, fwd;
  if (!get_conv_params(c, &p) || !get_shape(c, "input_shape", gy->dtype, &x) ||
      conv_out(c, &x, w, &p, &fwd) || check_grad(c, gy, &fwd))
    return CT_ERR_SHAPE;
  return set_out(c, x);
}

static ct_status rule_conv2d_grad_weight(rule_ctx *c) {
  const ct_type *gy = &c->in[0], *x = &c->in[1];
  conv_params p;
  ct_type w, fwd;
  if (!get_conv_params(c, &p) || !get_shape(c, "weight_shape", gy->dtype, &w) ||
      conv_out(c, x, &w, &p, &fwd) || check_grad(c, gy, &fwd))
    return CT_ERR_SHAPE;
  return set_out(c, w);
}

/* The type of max_pool2d / avg_pool2d of x under the node's attributes. */
static ct_status pool_out(rule_ctx *c, const ct_type *x, ct_type *t) {
  bool is_max = c->op == CT_OP_MAX_POOL2D || c->op == CT_OP_MAX_POOL2D_GRAD;
  int64_t k[2], s[2], p[2], d[2] = {1, 1};
  bool ceil_mode;
  if (!get_pair(c, "kernel_size", 1, k) || !get_pair(c, "stride", 1, s) ||
      !get_pair(c, "padding", 0, p) || (is_max && !get_pair(c, "dilation", 1, d)) ||
      !get_bool(c, "ceil_mode", &ceil_mode))
    return CT_ERR_SHAPE;
  if (!is_max) {
    bool cip;
    if (!get_bool(c, "count_include_pad", &cip)) return CT_ERR_SHAPE;
  }
  if (x->rank != 3 && x->rank != 4)
    return fail(c, "input must have rank 3 or 4, got %s", ty(c, x));
  if (is_max ? need_numeric(c, x) : need_float(c, x)) return CT_ERR_SHAPE;
  for (int i = 0; i < 2; i++)
    if (p[i] > k[i] / 2)
      return fail(c, "padding %lld must be at most half the kernel size %lld", (long long)p[i],
                  (long long)k[i]);
  *t = *x;
  for (int i = 0; i < 2; i++) {
    int a = x->rank - 2 + i;
    if (window_out(c, x, x->dims[a], k[i], s[i], p[i], d[i], ceil_mode, &t->dims[a]))
      return CT_ERR_SHAPE;
  }
  return CT_OK;
}

static ct_status rule_pool(rule_ctx *c) {
  ct_type t;
  if (pool_out(c, &c->in[0], &t)) return CT_ERR_SHAPE;
  return set_out(c, t);
}

static ct_status rule_pool_grad(rule_ctx *c) {
  const ct_type *gy = &c->in[0], *x = &c->in[1];
  ct_type fwd;
  if (need_same_dtype(c, gy, x) || pool_out(c, x, &fwd) || check_grad(c, gy, &fwd))
    return CT_ERR_SHAPE;
  return set_out(c, *x);
}

static ct_status rule_batch_norm(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  static const char *const names[] = {"", "weight", "bias", "running_mean", "running_var"};
  const ct_attr *eps = attr(c, "eps", CT_ATTR_FLOAT);
  if (!eps || need_float(c, x)) return CT_ERR_SHAPE;
  if (x->rank < 2) return fail(c, "input must have rank >= 2, got %s", ty(c, x));
  for (int i = 1; i < 5; i++) {
    const ct_type *v = &c->in[i];
    if (need_same_dtype(c, x, v)) return CT_ERR_SHAPE;
    if (v->rank != 1 || !ct_dim_eq(v->dims[0], x->dims[1]))
      return fail(c, "%s %s does not match input %s", names[i], ty(c, v), ty(c, x));
  }
  return set_out(c, *x);
}

static ct_status rule_layer_norm(rule_ctx *c) {
  const ct_type *x = &c->in[0];
  int64_t ns[CT_MAX_RANK];
  int n;
  const ct_attr *eps = attr(c, "eps", CT_ATTR_FLOAT);
  if (!eps || !get_ints(c, "normalized_shape", ns, CT_MAX_RANK, &n) || need_float(c, x))
    return CT_ERR_SHAPE;
  if (c->n_in == 2) return fail(c, "takes weight and bias together, or neither");
  bool ok = n >= 1 && n <= x->rank;
  for (int i = 0; ok && i < n; i++)
    ok = ct_dim_eq(x->dims[x->rank - n + i], ct_dim_const(ns[i]));
  ct_type norm = ct_type_concrete(x->dtype, n, ns);
  if (!ok) return fail(c, "normalized_shape %s does not match input %s", ty(c, &norm), ty(c, x));
  for (int i = 1; i < c->n_in; i++) {
    if (!ct_type_eq(&c->in[i], &norm))
      return fail(c, "%s %s does not match normalized_shape %s", i == 1 ? "weight" : "bias",
                  ty(c, &c->in[i]), ty(c, &norm));
  }
  return set_out(c, *x);
}

static ct_status rule_embedding(rule_ctx *c) {
  const ct_type *idx = &c->in[0], *w = &c->in[1];
  int64_t pad;
  if (!get_int(c, "padding_idx", &pad)) return CT_ERR_SHAPE;
  if (idx->dtype != CT_DT_I64 && idx->dtype != CT_DT_I32)
    return fail(c, "indices must be i64 or i32, got %s", ty(c, idx));
  if (need_rank(c, w, 2, "weight")) return CT_ERR_SHAPE;
  if (idx->rank >= CT_MAX_RANK) return fail(c, "result rank exceeds %d", CT_MAX_RANK);
  ct_type t = *idx;
  t.dtype = w->dtype;
  t.dims[t.rank++] = w->dims[1];
  return set_out(c, t);
}

static ct_status rule_embedding_grad(rule_ctx *c) {
  const ct_type *gy = &c->in[0], *idx = &c->in[1];
  int64_t nw, pad;
  if (!get_int(c, "num_weights", &nw) || !get_int(c, "padding_idx", &pad)) return CT_ERR_SHAPE;
  if (idx->dtype != CT_DT_I64 && idx->dtype != CT_DT_I32)
    return fail(c, "indices must be i64 or i32, got %s", ty(c, idx));
  if (nw < 1) return fail(c, "num_weights must be positive, got %lld", (long long)nw);
  bool ok = gy->rank == idx->rank + 1;
  for (int i = 0; ok && i < idx->rank; i++) ok = ct_dim_eq(gy->dims[i], idx->dims[i]);
  if (!ok) return fail(c, "gradient %s does not match indices %s", ty(c, gy), ty(c, idx));
  ct_dim dims[2] = {ct_dim_const(nw), gy->dims[gy->rank - 1]};
  return set_out(c, ct_type_make(gy->dtype, 2, dims));
}

/* ---- autodiff additions ----------------------------------------------------------------- */

static bool get_probability(rule_ctx *c) {
  const ct_attr *p = attr(c, "p", CT_ATTR_FLOAT);
  if (!p) return false;
  if (!(p->u.f >= 0.0 && p->u.f < 1.0)) {
    fail(c, "dropout probability has to be in [0, 1), got %g", p->u.f);
    return false;
  }
  return true;
}

static ct_status rule_dropout(rule_ctx *c) {
  if (need_float(c, &c->in[0]) || !get_probability(c)) return CT_ERR_SHAPE;
  return set_out(c, c->in[0]);
}

static ct_status rule_dropout_mask(rule_ctx *c) {
  const ct_attr *dt = attr(c, "dtype", CT_ATTR_DTYPE);
  int64_t seed;
  if (!dt || !get_probability(c) || !get_int(c, "seed", &seed)) return CT_ERR_SHAPE;
  if (!ct_dtype_is_float(dt->u.dt)) return fail(c, "dtype must be a float type");
  if (c->in[0].rank != 0 || need_numeric(c, &c->in[0]))
    return fail(c, "the step operand must be a numeric scalar, got %s", ty(c, &c->in[0]));
  ct_type t;
  if (!get_shape(c, "shape", dt->u.dt, &t)) return CT_ERR_SHAPE;
  return set_out(c, t);
}

/* ---- control --------------------------------------------------------------------------- */

static ct_status rule_return(rule_ctx *c) {
  c->n_out = 0;
  return CT_OK;
}

/* One rule per op; fusion has none (its types come from its body). */
static const shape_rule rules[CT_OP_COUNT] = {
    [CT_OP_CONSTANT] = rule_constant,
    [CT_OP_ONE_HOT] = rule_one_hot,
    [CT_OP_NEG] = rule_unary_any,
    [CT_OP_ABS] = rule_unary_any,
    [CT_OP_EXP] = rule_unary_float,
    [CT_OP_LOG] = rule_unary_float,
    [CT_OP_SQRT] = rule_unary_float,
    [CT_OP_RSQRT] = rule_unary_float,
    [CT_OP_TANH] = rule_unary_float,
    [CT_OP_SIGMOID] = rule_unary_float,
    [CT_OP_RELU] = rule_unary_any,
    [CT_OP_GELU] = rule_gelu,
    [CT_OP_SILU] = rule_unary_float,
    [CT_OP_ERF] = rule_unary_float,
    [CT_OP_SIGN] = rule_unary_any,
    [CT_OP_CAST] = rule_cast,
    [CT_OP_ADD] = rule_binary,
    [CT_OP_SUB] = rule_binary,
    [CT_OP_MUL] = rule_binary,
    [CT_OP_DIV] = rule_binary,
    [CT_OP_POW] = rule_binary,
    [CT_OP_MAXIMUM] = rule_binary,
    [CT_OP_MINIMUM] = rule_binary,
    [CT_OP_EQ] = rule_compare,
    [CT_OP_NE] = rule_compare,
    [CT_OP_LT] = rule_compare,
    [CT_OP_LE] = rule_compare,
    [CT_OP_GT] = rule_compare,
    [CT_OP_GE] = rule_compare,
    [CT_OP_LOGICAL_AND] = rule_logical,
    [CT_OP_LOGICAL_OR] = rule_logical,
    [CT_OP_LOGICAL_NOT] = rule_logical_not,
    [CT_OP_WHERE] = rule_where,
    [CT_OP_SUM] = rule_reduce,
    [CT_OP_MEAN] = rule_reduce,
    [CT_OP_AMAX] = rule_reduce,
    [CT_OP_AMIN] = rule_reduce,
    [CT_OP_ARGMAX] = rule_argmax,
    [CT_OP_SOFTMAX] = rule_softmax,
    [CT_OP_LOG_SOFTMAX] = rule_softmax,
    [CT_OP_RESHAPE] = rule_reshape,
    [CT_OP_PERMUTE] = rule_permute,
    [CT_OP_EXPAND] = rule_expand,
    [CT_OP_CONCAT] = rule_concat,
    [CT_OP_SLICE] = rule_slice,
    [CT_OP_SLICE_GRAD] = rule_slice_grad,
    [CT_OP_MATMUL] = rule_matmul,
    [CT_OP_LINEAR] = rule_linear,
    [CT_OP_CONV2D] = rule_conv2d,
    [CT_OP_CONV2D_GRAD_INPUT] = rule_conv2d_grad_input,
    [CT_OP_CONV2D_GRAD_WEIGHT] = rule_conv2d_grad_weight,
    [CT_OP_MAX_POOL2D] = rule_pool,
    [CT_OP_MAX_POOL2D_GRAD] = rule_pool_grad,
    [CT_OP_AVG_POOL2D] = rule_pool,
    [CT_OP_AVG_POOL2D_GRAD] = rule_pool_grad,
    [CT_OP_BATCH_NORM] = rule_batch_norm,
    [CT_OP_LAYER_NORM] = rule_layer_norm,
    [CT_OP_EMBEDDING] = rule_embedding,
    [CT_OP_EMBEDDING_GRAD] = rule_embedding_grad,
    [CT_OP_RETURN] = rule_return,
    [CT_OP_DROPOUT] = rule_dropout,
    [CT_OP_DROPOUT_MASK] = rule_dropout_mask,
};

ct_status ct_infer_types(ct_module *m, ct_op op, int n_in, const ct_type *in,
                         const ct_attr *attrs, int n_attrs, ct_type *out, int max_out,
                         int *n_out, ct_diag *diag, ct_loc loc) {
  *n_out = 0;
  if ((unsigned)op >= CT_OP_COUNT)
    return ct_diag_error(diag, loc.file, loc.line, loc.col, "unknown op %d", (int)op);
  if (!rules[op]) {
    ct_diag_error(diag, loc.file, loc.line, loc.col, "%s: no shape rule", ct_op_name(op));
    return CT_ERR_UNSUPPORTED;
  }
  rule_ctx *c = &(rule_ctx){0};
  c->m = m;
  c->op = op;
  c->n_in = n_in;
  c->in = in;
  c->attrs = attrs;
  c->n_attrs = n_attrs;
  c->diag = diag;
  c->loc = loc;
  const ct_op_info *info = &ct_op_table[op];
  if (n_in < info->min_in || (info->max_in >= 0 && n_in > info->max_in)) {
    if (info->min_in == info->max_in)
      return fail(c, "expected %d operand%s, got %d", info->min_in, info->min_in == 1 ? "" : "s",
                  n_in);
    if (info->max_in < 0) return fail(c, "expected at least %d operand%s, got %d", info->min_in,
                  info->min_in == 1 ? "" : "s", n_in);
    return fail(c, "expected %d to %d operands, got %d", info->min_in, info->max_in, n_in);
  }
  ct_status st = rules[op](c);
  if (st != CT_OK) return st;
  if (c->n_out > max_out) return fail(c, "%d results do not fit in %d", c->n_out, max_out);
  for (int i = 0; i < c->n_out; i++) out[i] = c->out[i];
  *n_out = c->n_out;
  return CT_OK;
}
