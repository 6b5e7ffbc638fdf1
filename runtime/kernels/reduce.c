/* runtime/kernels/reduce.c: CPU kernels of the reductions (sum, mean, amax, amin, argmax) and
 * the row-wise normalizations (softmax, log_softmax). The input is split into kept dims (outer)
 * and reduced dims (inner), both walked with an odometer over the input's own strides, so any
 * view works. Floats accumulate in double; integer sums in wrapping int64. f32 sum/mean take a
 * faster path (sum_f32) with the same arithmetic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

/* Advances idx over shape (n dims) and keeps off = sum idx*st; returns 0 after the last. */
static int odo_next(int n, const int64_t *shape, const int64_t *st, int64_t *idx, int64_t *off) {
  for (int d = n - 1; d >= 0; d--) {
    idx[d]++;
    *off += st[d];
    if (idx[d] < shape[d]) return 1;
    *off -= st[d] * shape[d];
    idx[d] = 0;
  }
  return 0;
}

typedef struct plan {
  int nk, nr;
  int64_t ks[CT_MAX_RANK], kst[CT_MAX_RANK], kost[CT_MAX_RANK];
  int64_t rs[CT_MAX_RANK], rst[CT_MAX_RANK], rost[CT_MAX_RANK];
  int64_t nkeep, nred;
} plan;

/* Splits x's dims by mask; ostr are the output's strides over x's dims (for softmax). */
static void make_plan(plan *p, const ct_tensor *x, const int *mask, const int64_t *ostr) {
  memset(p, 0, sizeof *p);
  p->nkeep = p->nred = 1;
  for (int d = 0; d < x->rank; d++) {
    if (mask[d]) {
      p->rs[p->nr] = x->shape[d];
      p->rst[p->nr] = x->strides[d];
      p->rost[p->nr] = ostr ? ostr[d] : 0;
      p->nr++;
      p->nred *= x->shape[d];
    } else {
      p->ks[p->nk] = x->shape[d];
      p->kst[p->nk] = x->strides[d];
      p->kost[p->nk] = ostr ? ostr[d] : 0;
      p->nk++;
      p->nkeep *= x->shape[d];
    }
  }
}

static ct_status check_io(const char *name, int n_in, int n_out, ct_tensor *const *in,
                          ct_tensor *const *out, char *err, size_t err_size) {
  if (n_in != 1 || n_out != 1 || !in[0] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: expected 1 operand and 1 result",
                          name);
  if (!ct_tensor_is_contiguous(out[0]))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: result must be contiguous", name);
  return CT_OK;
}

static ct_status norm_dim(const char *name, int64_t d, int rank, int *out, char *err,
                          size_t err_size) {
  int r = rank > 0 ? rank : 1;
  if (d < -r || d >= r)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: dim %lld out of range for rank %d",
                          name, (long long)d, rank);
  *out = (int)(d < 0 ? d + r : d);
  return CT_OK;
}

/* Checks out's shape against x's with the mask reduced (kept as 1 under keepdim). */
static ct_status check_reduced_shape(const char *name, const ct_tensor *x, const int *mask,
                                     int keepdim, const ct_tensor *o, char *err, size_t err_size) {
  int64_t want[CT_MAX_RANK];
  int r = 0;
  for (int d = 0; d < x->rank; d++) {
    if (!mask[d])
      want[r++] = x->shape[d];
    else if (keepdim)
      want[r++] = 1;
  }
  if (!ct_shape_is(o, r, want)) {
    char a[96], b[96];
    ct_tensor_describe(x, a, sizeof a);
    ct_tensor_describe(o, b, sizeof b);
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: result %s is not the reduction of %s",
                          name, b, a);
  }
  return CT_OK;
}

enum { R_SUM, R_MEAN, R_AMAX, R_AMIN };

/* sum/mean of an f32 tensor (any strides) in double, rounded once: x's dims are split into an
 * innermost run (merged dims that are all reduced or all kept) walked by a plain loop, and the
 * outer dims walked by an odometer; partial sums go to a double buffer over the result. */
static ct_status sum_f32(int kind, const ct_tensor *x, const int *mask, ct_tensor *o, char *err,
                         size_t err_size) {
  int64_t shp[CT_MAX_RANK], xst[CT_MAX_RANK], ost[CT_MAX_RANK];
  int red[CT_MAX_RANK], n = 0;
  int64_t nkeep = 1, nred = 1;
  for (int d = 0; d < x->rank; d++) {
    if (mask[d])
      nred *= x->shape[d];
    else
      nkeep *= x->shape[d];
  }
  /* result strides over x's kept dims (contiguous result, kept dims in order) */
  int64_t acc_st = 1;
  for (int d = x->rank - 1; d >= 0; d--) {
    if (x->shape[d] == 1) continue;
    shp[n] = x->shape[d], xst[n] = x->strides[d], red[n] = mask[d];
    ost[n] = mask[d] ? 0 : acc_st;
    if (!mask[d]) acc_st *= x->shape[d];
    n++;
  }
  /* dims are now innermost first; reverse them to outermost first */
  for (int a = 0, b = n - 1; a < b; a++, b--) {
    int64_t t0 = shp[a], t1 = xst[a], t2 = ost[a];
    int r0 = red[a];
    shp[a] = shp[b], xst[a] = xst[b], ost[a] = ost[b], red[a] = red[b];
    shp[b] = t0, xst[b] = t1, ost[b] = t2, red[b] = r0;
  }
  double *acc = calloc((size_t)nkeep + 1, sizeof(double));
  if (!acc) return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "sum: out of memory");
  const float *xp = ct_tensor_data(x);
  if (n == 0) {
    acc[0] = nkeep * nred > 0 ? xp[0] : 0.0;
  } else {
    int in_red = red[n - 1];
    int64_t len = shp[n - 1], xs = xst[n - 1], os = ost[n - 1];
    int outer = n - 1;
    while (outer > 0 && red[outer - 1] == in_red && xst[outer - 1] == xs * len &&
           (in_red || ost[outer - 1] == os * len)) {
      len *= shp[outer - 1];
      outer--;
    }
    int64_t idx[CT_MAX_RANK] = {0}, xoff = 0, ooff = 0, total = 1;
    for (int d = 0; d < outer; d++) total *= shp[d];
    for (int64_t r = 0; r < total; r++) {
      const float *row = xp + xoff;
      if (in_red) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t i = 0;
        if (xs == 1)
          for (; i + 4 <= len; i += 4) {
            s0 += row[i], s1 += row[i + 1], s2 += row[i + 2], s3 += row[i + 3];
          }
        for (; i < len; i++) s0 += row[i * xs];
        acc[ooff] += (s0 + s1) + (s2 + s3);
      } else {
        double *a = acc + ooff;
        if (xs == 1 && os == 1)
          for (int64_t i = 0; i < len; i++) a[i] += row[i];
        else
          for (int64_t i = 0; i < len; i++) a[i * os] += row[i * xs];
      }
      for (int d = outer - 1; d >= 0; d--) {
        xoff += xst[d], ooff += ost[d];
        if (++idx[d] < shp[d]) break;
        xoff -= xst[d] * shp[d], ooff -= ost[d] * shp[d];
        idx[d] = 0;
      }
    }
  }
  float *op = ct_tensor_data(o);
  for (int64_t k = 0; k < nkeep; k++)
    op[k] = (float)(kind == R_MEAN ? acc[k] / (double)nred : acc[k]);
  free(acc);
  return CT_OK;
}

static ct_status reduce(int kind, const char *name, CT_KERNEL_ARGS) {
  ct_status st = check_io(name, n_in, n_out, in, out, err, err_size);
  if (st) return st;
  ct_tensor *x = in[0], *o = out[0];
  int64_t dims[CT_MAX_RANK + 1];
  int nd = ct_attr_get_ints(attrs, n_attrs, "dims", dims, CT_MAX_RANK + 1);
  if (nd > CT_MAX_RANK)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: too many dims", name);
  int keepdim = ct_attr_get_int(attrs, n_attrs, "keepdim", 0) != 0;
  int mask[CT_MAX_RANK] = {0};
  if (nd <= 0) {
    for (int d = 0; d < x->rank; d++)
      mask[d] = 1;
  } else {
    for (int k = 0; k < nd; k++) {
      int d = 0;
      if ((st = norm_dim(name, dims[k], x->rank, &d, err, err_size))) return st;
      if (x->rank == 0) continue;
      if (mask[d])
        return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: dim %d repeated", name, d);
      mask[d] = 1;
    }
  }
  if ((st = check_reduced_shape(name, x, mask, keepdim, o, err, err_size))) return st;
  ct_dtype dt = x->dtype;
  if (o->dtype != dt)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: result dtype %s differs from %s", name,
                          ct_dtype_name(o->dtype), ct_dtype_name(dt));
  if (!ct_k_is_float(dt) && !(ct_k_is_int(dt) && kind != R_MEAN))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: unsupported dtype %s", name,
                          ct_dtype_name(dt));
  if (dt == CT_DT_F32 && (kind == R_SUM || kind == R_MEAN) && x->rank > 0)
    return sum_f32(kind, x, mask, o, err, err_size);
  plan p;
  make_plan(&p, x, mask, NULL);
  if (p.nred == 0 && (kind == R_AMAX || kind == R_AMIN) && p.nkeep > 0)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: reduction over an empty dim", name);
  const char *xb = ct_tensor_data(x);
  char *ob = ct_tensor_data(o);
  size_t es = ct_dtype_size(dt);
  int64_t kidx[CT_MAX_RANK] = {0}, koff = 0;
  for (int64_t k = 0; k < p.nkeep; k++) {
    int64_t ridx[CT_MAX_RANK] = {0}, roff = 0;
    double acc = kind == R_AMAX ? -INFINITY : kind == R_AMIN ? INFINITY : 0.0;
    int64_t iacc = 0;
    int first = 1;
    if (p.nred > 0) do {
        const char *ep = xb + (koff + roff) * (int64_t)es;
        if (ct_k_is_float(dt)) {
          double v = ct_k_load_d(dt, ep);
          if (kind == R_SUM || kind == R_MEAN)
            acc += v;
          else if (v != v || acc != acc)
            acc = NAN;
          else if (kind == R_AMAX ? v > acc : v < acc)
            acc = v;
        } else {
          int64_t v = ct_k_load_i(dt, ep);
          if (kind == R_SUM)
            iacc = (int64_t)((uint64_t)iacc + (uint64_t)v);
          else if (first || (kind == R_AMAX ? v > iacc : v < iacc))
            iacc = v;
        }
        first = 0;
      } while (odo_next(p.nr, p.rs, p.rst, ridx, &roff));
    char *dst = ob + (size_t)k * es;
    if (ct_k_is_float(dt))
      ct_k_store_d(dt, dst, kind == R_MEAN ? acc / (double)p.nred : acc);
    else
      ct_k_store_i(dt, dst, iacc);
    odo_next(p.nk, p.ks, p.kst, kidx, &koff);
  }
  return CT_OK;
}

ct_status ct_kernel_SUM(CT_KERNEL_ARGS) {
  return reduce(R_SUM, "sum", attrs, n_attrs, in, n_in, out, n_out, err, err_size);
}
ct_status ct_kernel_MEAN(CT_KERNEL_ARGS) {
  return reduce(R_MEAN, "mean", attrs, n_attrs, in, n_in, out, n_out, err, err_size);
}
ct_status ct_kernel_AMAX(CT_KERNEL_ARGS) {
  return reduce(R_AMAX, "amax", attrs, n_attrs, in, n_in, out, n_out, err, err_size);
}
ct_status ct_kernel_AMIN(CT_KERNEL_ARGS) {
  return reduce(R_AMIN, "amin", attrs, n_attrs, in, n_in, out, n_out, err, err_size);
}

ct_status ct_kernel_ARGMAX(CT_KERNEL_ARGS) {
  ct_status st = check_io("argmax", n_in, n_out, in, out, err, err_size);
  if (st) return st;
  ct_tensor *x = in[0], *o = out[0];
  int d = 0;
  if (!ct_attr_find(attrs, n_attrs, "dim"))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "argmax: missing dim");
  if ((st = norm_dim("argmax", ct_attr_get_int(attrs, n_attrs, "dim", 0), x->rank, &d, err,
                     err_size)))
    return st;
  int keepdim = ct_attr_get_int(attrs, n_attrs, "keepdim", 0) != 0;
  int mask[CT_MAX_RANK] = {0};
  if (x->rank > 0) mask[d] = 1;
  if ((st = check_reduced_shape("argmax", x, mask, keepdim, o, err, err_size))) return st;
  if (o->dtype != CT_DT_I64 || !(ct_k_is_float(x->dtype) || ct_k_is_int(x->dtype)))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "argmax: needs a numeric operand and an i64 result");
  plan p;
  make_plan(&p, x, mask, NULL);
  if (p.nred == 0 && p.nkeep > 0)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "argmax: reduction over an empty dim");
  const char *xb = ct_tensor_data(x);
  int64_t *ob = ct_tensor_data(o);
  size_t es = ct_dtype_size(x->dtype);
  int64_t rstride = p.nr ? p.rst[0] : 0;
  int64_t kidx[CT_MAX_RANK] = {0}, koff = 0;
  for (int64_t k = 0; k < p.nkeep; k++) {
    int64_t best = 0;
    double bv = 0;
    for (int64_t i = 0; i < p.nred; i++) {
      double v = ct_k_load_d(x->dtype, xb + (koff + i * rstride) * (int64_t)es);
      if (i == 0 || (bv == bv && (v > bv || v != v))) { /* NaN is the max; first wins */
        best = i;
        bv = v;
      }
    }
    ob[k] = best;
    odo_next(p.nk, p.ks, p.kst, kidx, &koff);
  }
  return CT_OK;
}

static ct_status softmax(int logv, const char *name, CT_KERNEL_ARGS) {
  ct_status st = check_io(name, n_in, n_out, in, out, err, err_size);
  if (st) return st;
  ct_tensor *x = in[0], *o = out[0];
  if (!ct_attr_find(attrs, n_attrs, "dim"))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: missing dim", name);
  int d = 0;
  if ((st = norm_dim(name, ct_attr_get_int(attrs, n_attrs, "dim", 0), x->rank, &d, err, err_size)))
    return st;
  if (!ct_shape_is(o, x->rank, x->shape) || o->dtype != x->dtype || !ct_k_is_float(x->dtype))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "%s: needs a float operand and a result of the same shape and dtype",
                          name);
  int mask[CT_MAX_RANK] = {0};
  if (x->rank > 0) mask[d] = 1;
  int64_t ostr[CT_MAX_RANK];
  ct_contiguous_strides(o->rank, o->shape, ostr);
  plan p;
  make_plan(&p, x, mask, ostr);
  const char *xb = ct_tensor_data(x);
  char *ob = ct_tensor_data(o);
  size_t es = ct_dtype_size(x->dtype);
  int64_t rs = p.nr ? p.rst[0] : 0, ros = p.nr ? p.rost[0] : 0;
  int64_t kidx[CT_MAX_RANK] = {0}, koff = 0, kooff = 0, kidx2[CT_MAX_RANK] = {0};
  for (int64_t k = 0; k < p.nkeep; k++) {
    double mx = -INFINITY;
    for (int64_t i = 0; i < p.nred; i++) {
      double v = ct_k_load_d(x->dtype, xb + (koff + i * rs) * (int64_t)es);
      if (v > mx || v != v) mx = v;
      if (mx != mx) break;
    }
    double sum = 0;
    if (mx == -INFINITY) mx = 0; /* all -inf: exp(-inf - 0) = 0, sum 0, results NaN like PyTorch */
    for (int64_t i = 0; i < p.nred; i++)
      sum += exp(ct_k_load_d(x->dtype, xb + (koff + i * rs) * (int64_t)es) - mx);
    double lse = log(sum);
    for (int64_t i = 0; i < p.nred; i++) {
      double v = ct_k_load_d(x->dtype, xb + (koff + i * rs) * (int64_t)es) - mx;
      ct_k_store_d(x->dtype, ob + (kooff + i * ros) * (int64_t)es, logv ? v - lse : exp(v) / sum);
    }
    odo_next(p.nk, p.ks, p.kst, kidx, &koff);
    odo_next(p.nk, p.ks, p.kost, kidx2, &kooff);
  }
  return CT_OK;
}

ct_status ct_kernel_SOFTMAX(CT_KERNEL_ARGS) {
  return softmax(0, "softmax", attrs, n_attrs, in, n_in, out, n_out, err, err_size);
}
ct_status ct_kernel_LOG_SOFTMAX(CT_KERNEL_ARGS) {
  return softmax(1, "log_softmax", attrs, n_attrs, in, n_in, out, n_out, err, err_size);
}
