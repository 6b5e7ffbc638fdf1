/* autodiff/rules.c: one derivative rule per differentiable op of ir/ops.def: the
 * vector-Jacobian product, written as IR with the ordinary builder. Rules read forward values
 * through ad_fwd (the engine saves or recomputes them) and reduce broadcast gradients back to
 * their operand's shape with ad_sum_to. Formulas follow PyTorch 1.13's derivatives.yaml. */
#include <math.h>
#include <string.h>

#include "autodiff_internal.h"

#define B (&c->b)
#define X(i) ad_fwd(c, ct_node_operand(n, (i)))
#define Y ad_fwd(c, n->results[0])
#define XT(i) (&ct_node_operand(n, (i))->type)

static ct_value *add(ad_ctx *c, ct_value *a, ct_value *b) {
  return ct_build_binary(B, CT_OP_ADD, a, b);
}
static ct_value *sub(ad_ctx *c, ct_value *a, ct_value *b) {
  return ct_build_binary(B, CT_OP_SUB, a, b);
}
static ct_value *mul(ad_ctx *c, ct_value *a, ct_value *b) {
  return ct_build_binary(B, CT_OP_MUL, a, b);
}
static ct_value *dvd(ad_ctx *c, ct_value *a, ct_value *b) {
  return ct_build_binary(B, CT_OP_DIV, a, b);
}
static ct_value *un(ad_ctx *c, ct_op op, ct_value *a) { return ct_build_unary(B, op, a); }
/* A scalar constant of like's dtype. */
static ct_value *k(ad_ctx *c, const ct_value *like, double v) {
  return like ? ct_build_scalar(B, like->type.dtype, v) : NULL;
}
static ct_value *mulk(ad_ctx *c, ct_value *a, double v) { return mul(c, a, k(c, a, v)); }
static ct_value *zero_where(ad_ctx *c, ct_value *cond, ct_value *g, bool keep_when) {
  ct_value *z = k(c, g, 0.0);
  return keep_when ? ct_build_where(B, cond, g, z) : ct_build_where(B, cond, z, g);
}

static ct_status fail(ad_ctx *c, const ct_node *n, const char *what) {
  return ct_diag_error(c->diag, n->loc.file, n->loc.line, n->loc.col, "autodiff: %s: %s",
                       ct_op_name(n->op), what);
}

/* The keepdim form of a reduction's result type: x's shape with the reduced dims set to 1. */
static void keepdim_shape(const ct_node *n, const ct_type *x, ct_dim *shape) {
  const ct_attr *a = ct_node_attr(n, "dims");
  bool reduced[CT_MAX_RANK] = {false};
  if (!a || a->n == 0) {
    for (int i = 0; i < x->rank; i++) reduced[i] = true;
  } else {
    for (int i = 0; i < a->n; i++) {
      int d = ct_norm_dim(a->u.ints[i], x->rank);
      if (d >= 0) reduced[d] = true;
    }
  }
  for (int i = 0; i < x->rank; i++) shape[i] = reduced[i] ? ct_dim_const(1) : x->dims[i];
}

/* Gradient of a reduction's result, broadcast back to x's shape. */
static ct_value *unreduce(ad_ctx *c, const ct_node *n, ct_value *gy, const ct_type *x) {
  ct_dim keep[CT_MAX_RANK];
  keepdim_shape(n, x, keep);
  ct_value *g = ct_build_reshape(B, gy, x->rank, keep);
  return ct_build_expand(B, g, x->rank, x->dims);
}

/* ---- elementwise unary ----------------------------------------------------------------- */

static ct_status r_neg(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)n, (void)need;
  gx[0] = un(c, CT_OP_NEG, gy);
  return CT_OK;
}

static ct_status r_abs(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *sign = un(c, CT_OP_SIGN, X(0));
  gx[0] = mul(c, gy, sign);
  return CT_OK;
}

static ct_status r_exp(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  gx[0] = mul(c, gy, Y);
  return CT_OK;
}

static ct_status r_log(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  gx[0] = dvd(c, gy, X(0));
  return CT_OK;
}

static ct_status r_sqrt(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *twice = mulk(c, Y, 2.0);
  gx[0] = dvd(c, gy, twice);
  return CT_OK;
}

/* d/dx x^(-1/2) = -1/2 y^3 */
static ct_status r_rsqrt(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *y = Y;
  ct_value *y3 = mul(c, y, mul(c, y, y));
  ct_value *half = mulk(c, gy, -0.5);
  gx[0] = mul(c, half, y3);
  return CT_OK;
}

static ct_status r_tanh(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *y = Y;
  ct_value *y2 = mul(c, y, y);
  ct_value *one = k(c, y, 1.0);
  gx[0] = mul(c, gy, sub(c, one, y2));
  return CT_OK;
}

static ct_status r_sigmoid(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *y = Y;
  ct_value *one = k(c, y, 1.0);
  gx[0] = mul(c, gy, mul(c, y, sub(c, one, y)));
  return CT_OK;
}

/* threshold_backward(grad, result, 0) */
static ct_status r_relu(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *y = Y;
  ct_value *zero = k(c, y, 0.0);
  gx[0] = zero_where(c, ct_build_binary(B, CT_OP_GT, y, zero), gy, true);
  return CT_OK;
}

static ct_status r_gelu(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  const ct_attr *a = ct_node_attr(n, "approximate");
  bool tanh_approx = a && a->kind == CT_ATTR_STR && strcmp(a->u.s, "tanh") == 0;
  ct_value *x = X(0);
  if (!tanh_approx) {
    /* Phi(x) + x * phi(x) */
    ct_value *erf = un(c, CT_OP_ERF, mulk(c, x, M_SQRT1_2));
    ct_value *one = k(c, x, 1.0);
    ct_value *cdf = mulk(c, add(c, one, erf), 0.5);
    ct_value *pdf = mulk(c, un(c, CT_OP_EXP, mulk(c, mul(c, x, x), -0.5)), 0.5 * M_2_SQRTPI * M_SQRT1_2);
    ct_value *xpdf = mul(c, x, pdf);
    gx[0] = mul(c, gy, add(c, cdf, xpdf));
    return CT_OK;
  }
  /* PyTorch's GeluBackward with approximate='tanh' */
  const double beta = M_SQRT2 * M_2_SQRTPI * 0.5, kappa = 0.044715;
  ct_value *x2 = mul(c, x, x);
  ct_value *kx3 = mulk(c, mul(c, x2, x), kappa);
  ct_value *inner = mulk(c, add(c, x, kx3), beta);
  ct_value *t = un(c, CT_OP_TANH, inner);
  ct_value *one = k(c, x, 1.0);
  ct_value *dleft = mulk(c, add(c, one, t), 0.5);
  ct_value *dinner = mulk(c, add(c, one, mulk(c, x2, 3.0 * kappa)), beta);
  ct_value *t2 = mul(c, t, t);
  ct_value *dright = mul(c, sub(c, one, t2), dinner);
  ct_value *left = mulk(c, x, 0.5);
  ct_value *d = add(c, dleft, mul(c, left, dright));
  gx[0] = mul(c, gy, d);
  return CT_OK;
}

/* s * (1 + x * (1 - s)) */
static ct_status r_silu(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *x = X(0);
  ct_value *s = un(c, CT_OP_SIGMOID, x);
  ct_value *one = k(c, x, 1.0);
  gx[0] = mul(c, gy, mul(c, s, add(c, one, mul(c, x, sub(c, one, s)))));
  return CT_OK;
}

static ct_status r_erf(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  ct_value *x = X(0);
  ct_value *d = mulk(c, un(c, CT_OP_EXP, un(c, CT_OP_NEG, mul(c, x, x))), M_2_SQRTPI);
  gx[0] = mul(c, gy, d);
  return CT_OK;
}

static ct_status r_cast(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  gx[0] = ct_build_cast(B, gy, XT(0)->dtype);
  return CT_OK;
}

/* ---- elementwise binary (operands broadcast; gradients are summed back) -------------------- */

static ct_status r_add(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  if (need[0]) gx[0] = ad_sum_to(c, gy, XT(0));
  if (need[1]) gx[1] = ad_sum_to(c, gy, XT(1));
  return CT_OK;
}

static ct_status r_sub(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  if (need[0]) gx[0] = ad_sum_to(c, gy, XT(0));
  if (need[1]) gx[1] = ad_sum_to(c, un(c, CT_OP_NEG, gy), XT(1));
  return CT_OK;
}

static ct_status r_mul(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  if (need[0]) {
    ct_value *b = X(1);
    gx[0] = ad_sum_to(c, mul(c, gy, b), XT(0));
  }
  if (need[1]) {
    ct_value *a = X(0);
    gx[1] = ad_sum_to(c, mul(c, gy, a), XT(1));
  }
  return CT_OK;
}

static ct_status r_div(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  ct_value *b = X(1);
  if (need[0]) gx[0] = ad_sum_to(c, dvd(c, gy, b), XT(0));
  if (need[1]) {
    ct_value *a = X(0);
    ct_value *b2 = mul(c, b, b);
    ct_value *q = dvd(c, mul(c, gy, a), b2);
    gx[1] = ad_sum_to(c, un(c, CT_OP_NEG, q), XT(1));
  }
  return CT_OK;
}

/* self: grad * b * a^(b-1), 0 where b == 0; exponent: grad * a^b * log(a), 0 where a == 0 and
 * b >= 0 (pow_backward_self / pow_backward_exponent). */
static ct_status r_pow(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  ct_value *a = X(0);
  ct_value *b = X(1);
  if (need[0]) {
    ct_value *one = k(c, b, 1.0);
    ct_value *d = mul(c, b, ct_build_binary(B, CT_OP_POW, a, sub(c, b, one)));
    ct_value *g = mul(c, gy, d);
    ct_value *zero = k(c, b, 0.0);
    g = zero_where(c, ct_build_binary(B, CT_OP_EQ, b, zero), g, false);
    gx[0] = ad_sum_to(c, g, XT(0));
  }
  if (need[1]) {
    ct_value *y = Y;
    ct_value *loga = un(c, CT_OP_LOG, a);
    ct_value *g = mul(c, gy, mul(c, y, loga));
    ct_value *za = k(c, a, 0.0);
    ct_value *a0 = ct_build_binary(B, CT_OP_EQ, a, za);
    ct_value *zb = k(c, b, 0.0);
    ct_value *bpos = ct_build_binary(B, CT_OP_GE, b, zb);
    ct_value *mask = ct_build_binary(B, CT_OP_LOGICAL_AND, a0, bpos);
    gx[1] = ad_sum_to(c, zero_where(c, mask, g, false), XT(1));
  }
  return CT_OK;
}

/* maximum / minimum: the larger (smaller) operand gets the gradient; ties split it in half. */
static ct_status minmax(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                        const bool *need, ct_op wins) {
  ct_value *a = X(0);
  ct_value *b = X(1);
  ct_value *half = mulk(c, gy, 0.5);
  ct_value *tie = ct_build_binary(B, CT_OP_EQ, a, b);
  ct_value *zero = k(c, gy, 0.0);
  ct_value *tied = ct_build_where(B, tie, half, zero);
  if (need[0]) {
    ct_value *won = ct_build_binary(B, wins, a, b);
    gx[0] = ad_sum_to(c, ct_build_where(B, won, gy, tied), XT(0));
  }
  if (need[1]) {
    ct_value *won = ct_build_binary(B, wins, b, a);
    gx[1] = ad_sum_to(c, ct_build_where(B, won, gy, tied), XT(1));
  }
  return CT_OK;
}

static ct_status r_maximum(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                           const bool *need) {
  return minmax(c, n, gy, gx, need, CT_OP_GT);
}

static ct_status r_minimum(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                           const bool *need) {
  return minmax(c, n, gy, gx, need, CT_OP_LT);
}

static ct_status r_where(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  ct_value *cond = need[1] || need[2] ? X(0) : NULL;
  if (need[1]) gx[1] = ad_sum_to(c, zero_where(c, cond, gy, true), XT(1));
  if (need[2]) gx[2] = ad_sum_to(c, zero_where(c, cond, gy, false), XT(2));
  return CT_OK;
}

/* ---- reductions --------------------------------------------------------------------------- */

static ct_status r_sum(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  gx[0] = unreduce(c, n, gy, XT(0));
  return CT_OK;
}

static ct_status r_mean(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  const ct_type *x = XT(0);
  ct_dim keep[CT_MAX_RANK], count = ct_dim_const(1);
  keepdim_shape(n, x, keep);
  bool constant = true;
  for (int i = 0; i < x->rank && constant; i++)
    if (ct_dim_eq(keep[i], ct_dim_const(1)) && !ct_dim_eq(x->dims[i], ct_dim_const(1)))
      constant = ct_dim_mul(count, x->dims[i], &count) && !count.sym;
  ct_value *g = unreduce(c, n, gy, x);
  if (constant) {
    gx[0] = mulk(c, g, 1.0 / (double)count.off);
    return CT_OK;
  }
  /* A symbolic count (mean over N): counted at run time from a ones tensor over the reduced
   * dims only (the others 1), which fold turns into a constant once the symbol is bound. */
  ct_type reduced = *x;
  for (int i = 0; i < x->rank; i++)
    if (!ct_dim_eq(keep[i], ct_dim_const(1))) reduced.dims[i] = ct_dim_const(1);
  ct_value *ones = ct_build_full(B, &reduced, 1.0);
  const ct_attr *dims = ct_node_attr(n, "dims");
  ct_value *cnt = ct_build_reduce(B, CT_OP_SUM, ones, dims ? dims->n : 0, dims ? dims->u.ints : NULL,
                                  true);
  gx[0] = dvd(c, g, cnt);
  return CT_OK;
}

/* amax / amin: the gradient is shared evenly between the elements equal to the result. */
static ct_status r_amax(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need) {
  (void)need;
  const ct_type *xt = XT(0);
  ct_value *x = X(0);
  ct_dim keep[CT_MAX_RANK];
  keepdim_shape(n, xt, keep);
  ct_value *yk = ct_build_reshape(B, Y, xt->rank, keep);
  ct_value *y = ct_build_expand(B, yk, xt->rank, xt->dims);
  ct_value *mask = ct_build_cast(B, ct_build_binary(B, CT_OP_EQ, x, y), xt->dtype);
  const ct_attr *dims = ct_node_attr(n, "dims");
  ct_value *cnt = ct_build_reduce(B, CT_OP_SUM, mask, dims ? dims->n : 0,
                                  dims ? dims->u.ints : NULL, true);
  ct_value *g = dvd(c, ct_build_reshape(B, gy, xt->rank, keep), cnt);
  ct_value *ge = ct_build_expand(B, g, xt->rank, xt->dims);
  gx[0] = mul(c, ge, mask);
  return CT_OK;
}

static ct_value *reduce_dim_keep(ad_ctx *c, ct_value *x, int64_t dim) {
  return ct_build_reduce(B, CT_OP_SUM, x, 1, &dim, true);
}

/* y * (g - sum(g * y, dim)) */
static ct_status r_softmax(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                           const bool *need) {
  (void)need;
  ct_value *y = Y;
  int64_t dim = ct_node_attr_int(n, "dim", -1);
  gx[0] = mul(c, y, sub(c, gy, reduce_dim_keep(c, mul(c, gy, y), dim)));
  return CT_OK;
}

/* g - exp(y) * sum(g, dim) */
static ct_status r_log_softmax(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                               const bool *need) {
  (void)need;
  int64_t dim = ct_node_attr_int(n, "dim", -1);
  ct_value *sum = reduce_dim_keep(c, gy, dim);
  ct_value *p = un(c, CT_OP_EXP, Y);
  gx[0] = sub(c, gy, mul(c, p, sum));
  return CT_OK;
}

/* ---- shape ops ---------------------------------------------------------------------------- */

static ct_status r_reshape(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                           const bool *need) {
  (void)need;
  gx[0] = ct_build_reshape(B, gy, XT(0)->rank, XT(0)->dims);
  return CT_OK;
}

static ct_status r_permute(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                           const bool *need) {
  (void)need;
  const ct_attr *a = ct_node_attr(n, "dims");
  int rank = XT(0)->rank;
  int64_t inv[CT_MAX_RANK];
  for (int i = 0; i < rank; i++) inv[ct_norm_dim(a->u.ints[i], rank)] = i;
  gx[0] = ct_build_permute(B, gy, rank, inv);
  return CT_OK;
}

static ct_status r_expand(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                          const bool *need) {
  (void)need;
  gx[0] = ad_sum_to(c, gy, XT(0));
  return CT_OK;
}

#define SLICE_TO_END INT64_MAX

/* Each operand's gradient is its slice of the result's gradient. Offsets are counted from the
 * front while they are constant, else from the back (a symbolic part must come last or first). */
static ct_status r_concat(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                          const bool *need) {
  int rank = XT(0)->rank;
  int d = ct_norm_dim(ct_node_attr_int(n, "dim", 0), rank);
  for (int i = 0; i < n->n_operands; i++) {
    if (!need[i]) continue;
    ct_dim pre = ct_dim_const(0), post = ct_dim_const(0);
    bool ok = true;
    for (int j = 0; j < n->n_operands && ok; j++) {
      if (j == i) continue;
      ok = ct_dim_add(j < i ? pre : post, XT(j)->dims[d], j < i ? &pre : &post);
    }
    ct_dim len = XT(i)->dims[d];
    int64_t start, end;
    if (ok && !pre.sym && !len.sym) {
      start = pre.off;
      end = pre.off + len.off;
    } else if (ok && !post.sym && !len.sym) {
      start = -(post.off + len.off);
      end = post.off ? -post.off : SLICE_TO_END;
    } else if (ok && !pre.sym && !post.sym) {
      start = pre.off;
      end = post.off ? -post.off : SLICE_TO_END;
    } else {
      return fail(c, n, "more than one operand has a symbolic size along the concat dim");
    }
    ct_attr attrs[4] = {ct_attr_int("dim", d), ct_attr_int("start", start),
                        ct_attr_int("end", end), ct_attr_int("step", 1)};
    gx[i] = ct_build(B, CT_OP_SLICE, 1, &gy, attrs, 4);
  }
  return CT_OK;
}

static ct_status r_slice(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                         const bool *need) {
  (void)need;
  const ct_type *x = XT(0);
  ct_attr attrs[5] = {ct_attr_dims("shape", x->rank, x->dims),
                      ct_attr_int("dim", ct_node_attr_int(n, "dim", 0)),
                      ct_attr_int("start", ct_node_attr_int(n, "start", 0)),
                      ct_attr_int("end", ct_node_attr_int(n, "end", SLICE_TO_END)),
                      ct_attr_int("step", ct_node_attr_int(n, "step", 1))};
  gx[0] = ct_build(B, CT_OP_SLICE_GRAD, 1, &gy, attrs, 5);
  return CT_OK;
}

/* ---- library ops -------------------------------------------------------------------------- */

static ct_value *transpose_last2(ad_ctx *c, ct_value *v) {
  int r = v->type.rank;
  int64_t perm[CT_MAX_RANK];
  for (int i = 0; i < r; i++) perm[i] = i;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return ct_build_permute(B, v, r, perm);
}

/* 1-D operands are promoted as matmul does (a [k] -> [1,k], b [k] -> [k,1]); the gradient is
 * computed on the promoted forms, summed over broadcast batch dims and reshaped back. */
static ct_status r_matmul(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                          const bool *need) {
  const ct_type *at = XT(0), *bt = XT(1);
  ct_value *a = need[1] ? X(0) : NULL, *b = need[0] ? X(1) : NULL;
  ct_type pa = *at, pb = *bt, pg = gy->type;
  /* gy is batch + [n if a is 2-D+] + [m if b is 2-D+]; pg restores the promoted 1s */
  int br = gy->type.rank - (at->rank > 1) - (bt->rank > 1);
  pg.rank = br + 2;
  pg.dims[br] = at->rank > 1 ? gy->type.dims[br] : ct_dim_const(1);
  pg.dims[br + 1] = bt->rank > 1 ? gy->type.dims[gy->type.rank - 1] : ct_dim_const(1);
  if (at->rank == 1) {
    pa.rank = 2;
    pa.dims[0] = ct_dim_const(1);
    pa.dims[1] = at->dims[0];
    a = ct_build_reshape(B, a, 2, pa.dims);
  }
  if (bt->rank == 1) {
    pb.rank = 2;
    pb.dims[0] = bt->dims[0];
    pb.dims[1] = ct_dim_const(1);
    b = ct_build_reshape(B, b, 2, pb.dims);
  }
  ct_value *g = ct_type_eq(&pg, &gy->type) ? gy : ct_build_reshape(B, gy, pg.rank, pg.dims);
  if (need[0]) {
    ct_value *bt_ = transpose_last2(c, b);
    ct_value *ga = ct_build_binary(B, CT_OP_MATMUL, g, bt_);
    ga = ad_sum_to(c, ga, &pa);
    gx[0] = ct_type_eq(&pa, at) ? ga : ct_build_reshape(B, ga, at->rank, at->dims);
  }
  if (need[1]) {
    ct_value *at_ = transpose_last2(c, a);
    ct_value *gb = ct_build_binary(B, CT_OP_MATMUL, at_, g);
    gb = ad_sum_to(c, gb, &pb);
    gx[1] = ct_type_eq(&pb, bt) ? gb : ct_build_reshape(B, gb, bt->rank, bt->dims);
  }
  return CT_OK;
}

/* y = x W^T + b over the last dim of x. */
static ct_status r_linear(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                          const bool *need) {
  const ct_type *xt = XT(0), *wt = XT(1);
  int r = xt->rank;
  if (need[0]) gx[0] = ct_build_binary(B, CT_OP_MATMUL, gy, X(1));
  if (need[1]) {
    ct_value *x = X(0), *g = gy;
    ct_dim rows = ct_dim_const(1);
    bool flat = true;
    for (int i = 0; i < r - 1 && flat; i++) flat = ct_dim_mul(rows, xt->dims[i], &rows);
    if (r == 1) {
      ct_dim gs[2] = {wt->dims[0], ct_dim_const(1)}, xs[2] = {ct_dim_const(1), wt->dims[1]};
      ct_value *g2 = ct_build_reshape(B, g, 2, gs);
      ct_value *x2 = ct_build_reshape(B, x, 2, xs);
      gx[1] = ct_build_binary(B, CT_OP_MATMUL, g2, x2);
    } else if (flat) {
      if (r > 2) {
        ct_dim gs[2] = {rows, wt->dims[0]}, xs[2] = {rows, wt->dims[1]};
        g = ct_build_reshape(B, g, 2, gs);
        x = ct_build_reshape(B, x, 2, xs);
      }
      ct_value *gt = transpose_last2(c, g);
      gx[1] = ct_build_binary(B, CT_OP_MATMUL, gt, x);
    } else {
      /* rows not affine in one symbol (N*T): batched products summed over the batch dims */
      ct_value *gt = transpose_last2(c, g);
      ct_value *p = ct_build_binary(B, CT_OP_MATMUL, gt, x);
      int64_t dims[CT_MAX_RANK];
      for (int i = 0; i < r - 2; i++) dims[i] = i;
      gx[1] = ct_build_reduce(B, CT_OP_SUM, p, r - 2, dims, false);
    }
  }
  if (n->n_operands == 3 && need[2]) {
    int64_t dims[CT_MAX_RANK];
    for (int i = 0; i < r - 1; i++) dims[i] = i;
    gx[2] = r == 1 ? gy : ct_build_reduce(B, CT_OP_SUM, gy, r - 1, dims, false);
  }
  return CT_OK;
}

/* Copies the named attributes of n (those present) into out; returns their count. */
static int copy_attrs(const ct_node *n, const char *const *names, int count, ct_attr *out) {
  int k = 0;
  for (int i = 0; i < count; i++) {
    const ct_attr *a = ct_node_attr(n, names[i]);
    if (a) out[k++] = *a;
  }
  return k;
}

/* Sums g over every dim but the channel dim (1, or 0 for an unbatched input). */
static ct_value *sum_but_channel(ad_ctx *c, ct_value *g, int channel) {
  int64_t dims[CT_MAX_RANK];
  int nd = 0;
  for (int i = 0; i < g->type.rank; i++)
    if (i != channel) dims[nd++] = i;
  return ct_build_reduce(B, CT_OP_SUM, g, nd, dims, false);
}

static ct_status r_conv2d(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                          const bool *need) {
  static const char *const names[] = {"stride", "padding", "dilation", "groups"};
  ct_attr attrs[5];
  int na = copy_attrs(n, names, 4, attrs);
  if (XT(0)->rank != 4) return fail(c, n, "gradients need a batched [N,C,H,W] input");
  if (need[0]) {
    attrs[na] = ct_attr_dims("input_shape", XT(0)->rank, XT(0)->dims);
    ct_value *w = X(1);
    ct_value *in[2] = {gy, w};
    gx[0] = ct_build(B, CT_OP_CONV2D_GRAD_INPUT, 2, in, attrs, na + 1);
  }
  if (need[1]) {
    attrs[na] = ct_attr_dims("weight_shape", XT(1)->rank, XT(1)->dims);
    ct_value *x = X(0);
    ct_value *in[2] = {gy, x};
    gx[1] = ct_build(B, CT_OP_CONV2D_GRAD_WEIGHT, 2, in, attrs, na + 1);
  }
  if (n->n_operands == 3 && need[2]) gx[2] = sum_but_channel(c, gy, 1);
  return CT_OK;
}

static ct_status r_pool(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx, const bool *need,
                        ct_op grad_op) {
  (void)need;
  ct_value *x = X(0);
  ct_value *in[2] = {gy, x};
  ct_node *g = ct_build_node(B, grad_op, 2, in, n->attrs, n->n_attrs);
  gx[0] = g ? g->results[0] : NULL;
  return CT_OK;
}

static ct_status r_max_pool2d(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                              const bool *need) {
  return r_pool(c, n, gy, gx, need, CT_OP_MAX_POOL2D_GRAD);
}

static ct_status r_avg_pool2d(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                              const bool *need) {
  return r_pool(c, n, gy, gx, need, CT_OP_AVG_POOL2D_GRAD);
}

/* A per-channel [C] value reshaped to broadcast against x ([C,1,...,1], channel dim 1). */
static ct_value *per_channel(ad_ctx *c, ct_value *v, const ct_type *x) {
  ct_dim shape[CT_MAX_RANK];
  int r = x->rank - 1;
  shape[0] = x->dims[1];
  for (int i = 1; i < r; i++) shape[i] = ct_dim_const(1);
  return ct_build_reshape(B, v, r, shape);
}

/* Inference-form batch_norm: y = (x - mean) * rsqrt(var + eps) * w + b with the running
 * statistics as constants of the step (training mode is rewritten into primitive ops before
 * differentiation, train_mode.c). */
static ct_status r_batch_norm(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                              const bool *need) {
  const ct_type *xt = XT(0);
  double eps = ct_node_attr_float(n, "eps", 1e-5);
  ct_value *var = X(4);
  ct_value *epsv = k(c, var, eps);
  ct_value *rstd = un(c, CT_OP_RSQRT, add(c, var, epsv));
  ct_value *w = need[0] || need[3] || need[4] ? X(1) : NULL;
  ct_value *gsum = need[2] || need[3] ? sum_but_channel(c, gy, 1) : NULL;
  ct_value *scale = need[0] || need[3] ? mul(c, w, rstd) : NULL;
  if (need[0]) gx[0] = mul(c, gy, per_channel(c, scale, xt));
  ct_value *gxc = NULL;
  if (need[1] || need[4]) {
    ct_value *x = X(0);
    ct_value *mean = per_channel(c, X(3), xt);
    ct_value *xc = sub(c, x, mean);
    gxc = sum_but_channel(c, mul(c, gy, xc), 1);
  }
  if (need[1]) gx[1] = mul(c, gxc, rstd);
  if (need[2]) gx[2] = gsum;
  if (need[3]) gx[3] = un(c, CT_OP_NEG, mul(c, gsum, scale));
  if (need[4]) {
    ct_value *r3 = mul(c, rstd, mul(c, rstd, rstd));
    ct_value *gw = mulk(c, mul(c, gxc, w), -0.5);
    gx[4] = mul(c, gw, r3);
  }
  return CT_OK;
}

/* xhat = (x - mean) * rstd over the last len(normalized_shape) dims;
 * dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)). */
static ct_status r_layer_norm(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                              const bool *need) {
  const ct_type *xt = XT(0);
  const ct_attr *ns = ct_node_attr(n, "normalized_shape");
  int r = xt->rank, nn = ns ? ns->n : 1;
  int64_t dims[CT_MAX_RANK], lead[CT_MAX_RANK];
  for (int i = 0; i < nn; i++) dims[i] = r - nn + i;
  for (int i = 0; i < r - nn; i++) lead[i] = i;
  double eps = ct_node_attr_float(n, "eps", 1e-5);
  ct_value *x = X(0);
  ct_value *mu = ct_build_reduce(B, CT_OP_MEAN, x, nn, dims, true);
  ct_value *xc = sub(c, x, mu);
  ct_value *var = ct_build_reduce(B, CT_OP_MEAN, mul(c, xc, xc), nn, dims, true);
  ct_value *epsv = k(c, var, eps);
  ct_value *rstd = un(c, CT_OP_RSQRT, add(c, var, epsv));
  ct_value *xhat = mul(c, xc, rstd);
  bool affine = n->n_operands == 3;
  if (need[0]) {
    ct_value *w = affine ? X(1) : NULL;
    ct_value *gh = affine ? mul(c, gy, w) : gy;
    ct_value *m1 = ct_build_reduce(B, CT_OP_MEAN, gh, nn, dims, true);
    ct_value *m2 = ct_build_reduce(B, CT_OP_MEAN, mul(c, gh, xhat), nn, dims, true);
    ct_value *centered = sub(c, gh, m1);
    ct_value *proj = mul(c, xhat, m2);
    gx[0] = mul(c, rstd, sub(c, centered, proj));
  }
  if (affine && need[1]) {
    ct_value *p = mul(c, gy, xhat);
    gx[1] = r > nn ? ct_build_reduce(B, CT_OP_SUM, p, r - nn, lead, false) : p;
  }
  if (affine && need[2]) gx[2] = r > nn ? ct_build_reduce(B, CT_OP_SUM, gy, r - nn, lead, false) : gy;
  return CT_OK;
}

static ct_status r_embedding(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                             const bool *need) {
  if (!need[1]) return CT_OK;
  const ct_type *wt = XT(1);
  if (wt->dims[0].sym) return fail(c, n, "the weight's row count must be constant");
  ct_attr attrs[2] = {ct_attr_int("num_weights", wt->dims[0].off),
                      ct_attr_int("padding_idx", ct_node_attr_int(n, "padding_idx", -1))};
  ct_value *idx = X(0);
  ct_value *in[2] = {gy, idx};
  gx[1] = ct_build(B, CT_OP_EMBEDDING_GRAD, 2, in, attrs, 2);
  return CT_OK;
}

/* Inference-form dropout is the identity; training graphs have already replaced it by a
 * multiplication with its mask (train_mode.c), which mul differentiates. */
static ct_status r_dropout(ad_ctx *c, const ct_node *n, ct_value *gy, ct_value **gx,
                           const bool *need) {
  (void)c, (void)n, (void)need;
  gx[0] = gy;
  return CT_OK;
}

const ad_rule ad_rules[CT_OP_COUNT] = {
    [CT_OP_NEG] = r_neg,
    [CT_OP_ABS] = r_abs,
    [CT_OP_EXP] = r_exp,
    [CT_OP_LOG] = r_log,
    [CT_OP_SQRT] = r_sqrt,
    [CT_OP_RSQRT] = r_rsqrt,
    [CT_OP_TANH] = r_tanh,
    [CT_OP_SIGMOID] = r_sigmoid,
    [CT_OP_RELU] = r_relu,
    [CT_OP_GELU] = r_gelu,
    [CT_OP_SILU] = r_silu,
    [CT_OP_ERF] = r_erf,
    [CT_OP_CAST] = r_cast,
    [CT_OP_ADD] = r_add,
    [CT_OP_SUB] = r_sub,
    [CT_OP_MUL] = r_mul,
    [CT_OP_DIV] = r_div,
    [CT_OP_POW] = r_pow,
    [CT_OP_MAXIMUM] = r_maximum,
    [CT_OP_MINIMUM] = r_minimum,
    [CT_OP_WHERE] = r_where,
    [CT_OP_SUM] = r_sum,
    [CT_OP_MEAN] = r_mean,
    [CT_OP_AMAX] = r_amax,
    [CT_OP_AMIN] = r_amax,
    [CT_OP_SOFTMAX] = r_softmax,
    [CT_OP_LOG_SOFTMAX] = r_log_softmax,
    [CT_OP_RESHAPE] = r_reshape,
    [CT_OP_PERMUTE] = r_permute,
    [CT_OP_EXPAND] = r_expand,
    [CT_OP_CONCAT] = r_concat,
    [CT_OP_SLICE] = r_slice,
    [CT_OP_MATMUL] = r_matmul,
    [CT_OP_LINEAR] = r_linear,
    [CT_OP_CONV2D] = r_conv2d,
    [CT_OP_MAX_POOL2D] = r_max_pool2d,
    [CT_OP_AVG_POOL2D] = r_avg_pool2d,
    [CT_OP_BATCH_NORM] = r_batch_norm,
    [CT_OP_LAYER_NORM] = r_layer_norm,
    [CT_OP_EMBEDDING] = r_embedding,
    [CT_OP_DROPOUT] = r_dropout,
};

bool ct_autodiff_has_rule(ct_op op) { return (unsigned)op < CT_OP_COUNT && ad_rules[op]; }
