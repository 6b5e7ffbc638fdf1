/* passes/fold.c: constant folding with the runtime's own kernels, so a folded value is exactly
 * what the interpreter would compute. A node all of whose operands are constants becomes a
 * constant:
 *   - elementwise ops on splat constants fold on one element, whatever the shape (symbolic dims
 *     included): add(full(N,2), full(N,3)) is full(N,5);
 *   - any other op (shape ops included: reshape, permute, expand, slice, concat of constants)
 *     runs its kernel when every shape is concrete; the result is kept as a splat when all its
 *     elements are equal, else materialized as `data` when it has at most max-elements values
 *     (argument `fold{max-elements=K}`, default 4096), else left alone;
 *   - a reduction of a splat is a splat (sum, mean, amax, amin, softmax, log_softmax), also
 *     when the kept dims are symbolic (fold_splat_reduction). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/kernels.h"
#include "passes_internal.h"

enum { EVAL_LIMIT = 1 << 22 }; /* never evaluate a node with more elements than this */

typedef struct fold_ctx {
  int64_t max_elements;
  int folded;
} fold_ctx;

static bool all_const_operands(const ct_node *n) {
  for (int i = 0; i < n->n_operands; i++) {
    const ct_value *v = ct_node_operand(n, i);
    if (!v->def || v->def->op != CT_OP_CONSTANT) return false;
  }
  return true;
}

static bool concrete_attrs(const ct_node *n) {
  for (int i = 0; i < n->n_attrs; i++)
    if (n->attrs[i].kind == CT_ATTR_DIMS)
      for (int k = 0; k < n->attrs[i].n; k++)
        if (!ct_dim_is_const(n->attrs[i].u.dims[k])) return false;
  return true;
}

static bool concrete_shape(const ct_type *t, int64_t *shape, int64_t *numel) {
  *numel = 1;
  for (int i = 0; i < t->rank; i++) {
    if (!ct_dim_is_const(t->dims[i])) return false;
    shape[i] = t->dims[i].off;
    *numel *= shape[i];
  }
  return true;
}

/* The tensor of constant value v (concrete shape), or NULL. */
static ct_tensor *materialize(const ct_value *v, bool scalar) {
  int64_t shape[CT_MAX_RANK], numel;
  int rank = scalar ? 0 : v->type.rank;
  if (!scalar && (!concrete_shape(&v->type, shape, &numel) || numel > EVAL_LIMIT)) return NULL;
  ct_tensor *t = ct_tensor_empty(v->type.dtype, rank, shape);
  if (!t) return NULL;
  if (scalar) {
    double x;
    if (!pass_const_value(v, &x)) {
      ct_tensor_release(t);
      return NULL;
    }
    ct_tensor_set(t, 0, x);
    return t;
  }
  const ct_node *c = v->def;
  ct_attr attrs[8];
  int n_attrs = c->n_attrs < 8 ? c->n_attrs : 8;
  memcpy(attrs, c->attrs, (size_t)n_attrs * sizeof *attrs);
  char msg[200];
  if (ct_kernel_run(CT_OP_CONSTANT, attrs, n_attrs, NULL, 0, &t, 1, msg, sizeof msg) != CT_OK) {
    ct_tensor_release(t);
    return NULL;
  }
  return t;
}

/* Replaces n by a constant holding t (a splat of t's first element when scalar). */
static bool replace_with(ct_module *m, ct_node *n, ct_tensor *t, bool scalar, int64_t limit) {
  const ct_type *rt = &n->results[0]->type;
  int64_t numel = ct_tensor_numel(t);
  double first = numel ? ct_tensor_get(t, 0) : 0.0;
  bool splat = true;
  for (int64_t i = 1; i < numel && splat; i++) {
    double x = ct_tensor_get(t, i);
    splat = x == first || (x != x && first != first);
  }
  if (scalar) splat = true;
  if (!splat && numel > limit) return false;
  ct_builder b = ct_builder_at_end(m, n->parent, NULL);
  b.before = n;
  b.loc = n->loc;
  ct_value *c;
  if (splat) {
    c = ct_build_full(&b, rt, first);
  } else {
    double *data = malloc((size_t)numel * sizeof *data);
    if (!data) return false;
    for (int64_t i = 0; i < numel; i++)
      data[i] = ct_tensor_get(t, i);
    ct_attr attrs[3] = {ct_attr_dims("shape", rt->rank, rt->dims),
                        ct_attr_dtype("dtype", rt->dtype),
                        ct_attr_floats("data", (int)numel, data)};
    c = ct_build(&b, CT_OP_CONSTANT, 0, NULL, attrs, 3);
    free(data);
  }
  if (!c || !ct_type_eq(&c->type, rt)) {
    if (c) ct_node_erase(c->def);
    return false;
  }
  pass_replace_node(n, c);
  return true;
}

/* A reduction of a splat is a splat, whatever the kept dims (symbolic too): sum is v times the
 * reduced count (which must be concrete), mean, amax and amin are v, softmax 1/len and
 * log_softmax -log(len) along its dim. Computed in double and rounded once, so a sum may differ
 * from the kernel's running sum in the last bit. */
static bool fold_splat_reduction(ct_module *m, ct_node *n) {
  double v;
  ct_value *x = ct_node_operand(n, 0);
  if (!pass_const_value(x, &v) || !ct_dtype_is_float(n->results[0]->type.dtype)) return false;
  const ct_type *t = &x->type;
  int64_t count = 1;
  bool concrete = true;
  if (n->op == CT_OP_SOFTMAX || n->op == CT_OP_LOG_SOFTMAX) {
    int d = ct_norm_dim(ct_node_attr_int(n, "dim", 0), t->rank);
    if (t->rank && (d < 0 || !ct_dim_is_const(t->dims[d]))) return false;
    count = t->rank ? t->dims[d].off : 1;
  } else {
    const ct_attr *dims = ct_node_attr(n, "dims");
    bool all = !dims || dims->n == 0;
    for (int i = 0; i < t->rank; i++) {
      bool reduced = all;
      for (int k = 0; !all && k < dims->n; k++)
        reduced |= ct_norm_dim(dims->u.ints[k], t->rank) == i;
      if (!reduced) continue;
      if (ct_dim_is_const(t->dims[i]))
        count *= t->dims[i].off;
      else
        concrete = false;
    }
  }
  double r;
  switch (n->op) {
  case CT_OP_SUM:
    if (!concrete) return false;
    r = v * (double)count;
    break;
  case CT_OP_MEAN:
    if (!concrete || count == 0) return false;
    r = v;
    break;
  case CT_OP_AMAX:
  case CT_OP_AMIN:
    if (!concrete || count == 0) return false; /* an empty max is an error, not a value */
    r = v;
    break;
  case CT_OP_SOFTMAX: r = v != v ? v : 1.0 / (double)count; break;
  case CT_OP_LOG_SOFTMAX: r = v != v ? v : -log((double)count); break;
  default: return false;
  }
  ct_builder b = ct_builder_at_end(m, n->parent, NULL);
  b.before = n;
  b.loc = n->loc;
  ct_value *c = ct_build_full(&b, &n->results[0]->type, r);
  if (!c) return false;
  pass_replace_node(n, c);
  return true;
}

static bool try_fold(ct_module *m, ct_node *n, int64_t limit) {
  if (n->op == CT_OP_CONSTANT || n->op == CT_OP_RETURN || n->body || n->n_results != 1 ||
      n->n_operands == 0 || n->n_operands > 8 || !all_const_operands(n))
    return false;
  if (ct_op_table[n->op].cls == CT_OPC_REDUCTION && fold_splat_reduction(m, n)) return true;
  bool scalar = ct_op_table[n->op].cls == CT_OPC_ELEMENTWISE;
  for (int i = 0; i < n->n_operands && scalar; i++) {
    double x;
    scalar = pass_const_value(ct_node_operand(n, i), &x);
  }
  int64_t shape[CT_MAX_RANK], numel;
  const ct_type *rt = &n->results[0]->type;
  if (!scalar && (!concrete_attrs(n) || !concrete_shape(rt, shape, &numel) || numel > EVAL_LIMIT))
    return false;
  ct_tensor *in[8] = {0};
  bool ok = true;
  for (int i = 0; i < n->n_operands && ok; i++)
    ok = (in[i] = materialize(ct_node_operand(n, i), scalar)) != NULL;
  ct_tensor *out = ok ? ct_tensor_empty(rt->dtype, scalar ? 0 : rt->rank, shape) : NULL;
  char msg[200];
  ok = out && ct_kernel_run((int)n->op, n->attrs, n->n_attrs, in, n->n_operands, &out, 1, msg,
                            sizeof msg) == CT_OK;
  if (ok) ok = replace_with(m, n, out, scalar, limit);
  for (int i = 0; i < n->n_operands; i++)
    ct_tensor_release(in[i]);
  ct_tensor_release(out);
  return ok;
}

static void run_block(ct_block *b, void *ctx) {
  fold_ctx *f = ctx;
  for (ct_node *n = b->first, *next; n; n = next) {
    next = n->next;
    if (try_fold(b->graph->module, n, f->max_elements)) f->folded++;
  }
}

ct_status ct_pass_fold(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  fold_ctx f = {4096, 0};
  char buf[32];
  if (ct_pass_arg(args, "max-elements", buf, sizeof buf)) {
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || *end || v < 0)
      return ct_diag_error(diag, NULL, 0, 0,
                           "fold: max-elements=%s: expected a non-negative integer", buf);
    f.max_elements = v;
  }
  for (int i = 0; i < m->n_graphs; i++)
    pass_for_each_block(m->graphs[i], run_block, &f);
  return CT_OK;
}
