/* runtime/kernels/pool.c: max_pool2d, avg_pool2d and their gradients over [C,H,W] or [N,C,H,W],
 * with PyTorch 1.13's output sizes (ceil_mode drops a last window that starts in the right
 * padding), divisor rules and first-maximum choice. f64 computes on double copies, f32 on the
 * f32 data in place (sums in double); both split over planes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/parallel.h"
#include "kernels_internal.h"

typedef struct pool_params {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int ceil_mode, count_include_pad;
  int64_t planes, H, W, Ho, Wo;
} pool_params;

static int get_pair(const ct_attr *attrs, int n_attrs, const char *name, int64_t *v, int64_t d0,
                    int64_t d1) {
  int64_t t[2] = {d0, d1};
  int n = ct_attr_get_ints(attrs, n_attrs, name, t, 2);
  if (n == 1) t[1] = t[0];
  if (n == 0) t[0] = d0, t[1] = d1;
  if (n > 2) return -1;
  v[0] = t[0], v[1] = t[1];
  return n;
}

/* PyTorch's pooling_output_shape. */
static int64_t out_size(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t d, int ceil_mode) {
  int64_t num = in + 2 * pad - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && (o - 1) * s >= in + pad) o--;
  return o;
}

static ct_status parse_pool(const ct_attr *attrs, int n_attrs, const ct_tensor *x, int is_max,
                            pool_params *p, const char *op, char *err, size_t err_size) {
  int64_t k[2] = {0, 0}, s[2] = {0, 0}, pd[2] = {0, 0}, d[2] = {1, 1};
  if (get_pair(attrs, n_attrs, "kernel_size", k, 0, 0) < 1)
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: kernel_size needs 1 or 2 ints", op);
  int ns = get_pair(attrs, n_attrs, "stride", s, k[0], k[1]);
  if (ns == 0 || ns == -1) s[0] = k[0], s[1] = k[1];
  if (ns > 2 || get_pair(attrs, n_attrs, "padding", pd, 0, 0) > 2 ||
      get_pair(attrs, n_attrs, "dilation", d, 1, 1) > 2)
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: attributes need 1 or 2 ints", op);
  if (!is_max) d[0] = d[1] = 1;
  p->kh = k[0], p->kw = k[1], p->sh = s[0], p->sw = s[1], p->ph = pd[0], p->pw = pd[1];
  p->dh = d[0], p->dw = d[1];
  p->ceil_mode = ct_attr_get_int(attrs, n_attrs, "ceil_mode", 0) != 0;
  p->count_include_pad = ct_attr_get_int(attrs, n_attrs, "count_include_pad", 1) != 0;
  if (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1 || p->ph < 0 ||
      p->pw < 0)
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "%s: kernel, stride, dilation must be >= 1, padding >= 0", op);
  if (2 * p->ph > p->dh * (p->kh - 1) + 1 || 2 * p->pw > p->dw * (p->kw - 1) + 1)
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "%s: padding must be at most half the kernel size", op);
  if (!(x->dtype == CT_DT_F32 || x->dtype == CT_DT_F64))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: x must be f32 or f64", op);
  if (x->rank != 3 && x->rank != 4)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: x must be [C,H,W] or [N,C,H,W]", op);
  int r = x->rank;
  p->H = x->shape[r - 2], p->W = x->shape[r - 1];
  p->planes = x->shape[r - 3] * (r == 4 ? x->shape[0] : 1);
  p->Ho = out_size(p->H, p->kh, p->ph, p->sh, p->dh, p->ceil_mode);
  p->Wo = out_size(p->W, p->kw, p->pw, p->sw, p->dw, p->ceil_mode);
  if (p->Ho < 1 || p->Wo < 1)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: output would be empty (%lldx%lld)",
                          op, (long long)p->Ho, (long long)p->Wo);
  return CT_OK;
}

/* 1 when t has x's shape with the last two dims replaced by (h, w). */
static int shape_hw(const ct_tensor *t, const ct_tensor *x, int64_t h, int64_t w) {
  int64_t s[CT_MAX_RANK];
  for (int i = 0; i < x->rank; i++) s[i] = x->shape[i];
  s[x->rank - 2] = h, s[x->rank - 1] = w;
  return t->dtype == x->dtype && ct_shape_is(t, x->rank, s);
}

typedef struct pool_job {
  const pool_params *p;
  const double *x;  /* [planes, H, W] */
  const double *gy; /* [planes, Ho, Wo] (grads) */
  double *y;        /* forward: [planes, Ho, Wo]; grads: [planes, H, W], zeroed */
  int grad;
} pool_job;

static void max_range(void *ctx, int64_t begin, int64_t end) {
  const pool_job *j = ctx;
  const pool_params *p = j->p;
  for (int64_t pl = begin; pl < end; pl++) {
    const double *x = j->x + pl * p->H * p->W;
    for (int64_t oh = 0; oh < p->Ho; oh++)
      for (int64_t ow = 0; ow < p->Wo; ow++) {
        double best = -INFINITY;
        int64_t arg = -1;
        for (int64_t i = 0; i < p->kh; i++) {
          int64_t ih = oh * p->sh - p->ph + i * p->dh;
          if (ih < 0 || ih >= p->H) continue;
          for (int64_t jj = 0; jj < p->kw; jj++) {
            int64_t iw = ow * p->sw - p->pw + jj * p->dw;
            if (iw < 0 || iw >= p->W) continue;
            double v = x[ih * p->W + iw];
            if (arg < 0) arg = ih * p->W + iw;
            if (v > best || isnan(v)) {
              best = v;
              arg = ih * p->W + iw;
            }
          }
        }
        int64_t o = (pl * p->Ho + oh) * p->Wo + ow;
        if (!j->grad)
          j->y[o] = best;
        else if (arg >= 0)
          j->y[pl * p->H * p->W + arg] += j->gy[o];
      }
  }
}

static void avg_range(void *ctx, int64_t begin, int64_t end) {
  const pool_job *j = ctx;
  const pool_params *p = j->p;
  for (int64_t pl = begin; pl < end; pl++) {
    const double *x = j->x ? j->x + pl * p->H * p->W : NULL;
    double *gx = j->grad ? j->y + pl * p->H * p->W : NULL;
    for (int64_t oh = 0; oh < p->Ho; oh++)
      for (int64_t ow = 0; ow < p->Wo; ow++) {
        int64_t hs = oh * p->sh - p->ph, ws = ow * p->sw - p->pw;
        int64_t he = hs + p->kh < p->H + p->ph ? hs + p->kh : p->H + p->ph;
        int64_t we = ws + p->kw < p->W + p->pw ? ws + p->kw : p->W + p->pw;
        int64_t pool_size = (he - hs) * (we - ws);
        if (hs < 0) hs = 0;
        if (ws < 0) ws = 0;
        if (he > p->H) he = p->H;
        if (we > p->W) we = p->W;
        int64_t div = p->count_include_pad ? pool_size : (he - hs) * (we - ws);
        int64_t o = (pl * p->Ho + oh) * p->Wo + ow;
        if (!j->grad) {
          double s = 0.0;
          for (int64_t ih = hs; ih < he; ih++)
            for (int64_t iw = ws; iw < we; iw++) s += x[ih * p->W + iw];
          j->y[o] = div > 0 ? s / (double)div : NAN;
        } else if (div > 0) {
          double g = j->gy[o] / (double)div;
          for (int64_t ih = hs; ih < he; ih++)
            for (int64_t iw = ws; iw < we; iw++) gx[ih * p->W + iw] += g;
        }
      }
  }
}

/* ---- f32: the same loops on the f32 data in place (no f64 copies) ---- */

typedef struct pool32_job {
  const pool_params *p;
  const float *x;  /* [planes, H, W] */
  const float *gy; /* [planes, Ho, Wo] (grads) */
  float *y;        /* forward: [planes, Ho, Wo]; grads: [planes, H, W] */
  int grad;
} pool32_job;

/* The maximum of the window rows [i0, i1) x columns [j0, j1) of x (row stride W) at (h0, w0)
 * and its flat index (-1 for an empty window): the first maximum, a NaN wins. Inlined with
 * constant bounds for the 2x2 interior case. */
static inline __attribute__((always_inline)) float max_window(const float *x, int64_t W, int64_t h0,
                                                              int64_t w0, int64_t i0, int64_t i1,
                                                              int64_t j0, int64_t j1, int64_t dh,
                                                              int64_t dw, int64_t *arg) {
  float best = -INFINITY;
  int64_t a = -1;
  for (int64_t i = i0; i < i1; i++) {
    int64_t row = (h0 + i * dh) * W + w0;
    for (int64_t jj = j0; jj < j1; jj++) {
      float v = x[row + jj * dw];
      if (a < 0) a = row + jj * dw;
      if (v > best || v != v) {
        best = v;
        a = row + jj * dw;
      }
    }
  }
  *arg = a;
  return best;
}

static void max32_range(void *ctx, int64_t begin, int64_t end) {
  const pool32_job *j = ctx;
  const pool_params *p = j->p;
  int64_t HW = p->H * p->W;
  /* Output columns [c0, c1) have the whole window inside the row. */
  int64_t c0 = (p->pw + p->sw - 1) / p->sw, c1 = 0;
  if (p->W + p->pw - (p->kw - 1) * p->dw - 1 >= 0)
    c1 = (p->W + p->pw - (p->kw - 1) * p->dw - 1) / p->sw + 1;
  if (c1 > p->Wo) c1 = p->Wo;
  if (c0 > c1) c0 = c1;
  int k22 = p->kh == 2 && p->kw == 2 && p->dh == 1 && p->dw == 1;
  if (j->grad) memset(j->y + begin * HW, 0, (size_t)((end - begin) * HW) * sizeof(float));
  for (int64_t pl = begin; pl < end; pl++) {
    const float *x = j->x + pl * HW;
    float *gx = j->grad ? j->y + pl * HW : NULL;
    for (int64_t oh = 0; oh < p->Ho; oh++) {
      int64_t i0 = 0, i1 = p->kh, h0 = oh * p->sh - p->ph;
      while (i0 < i1 && h0 + i0 * p->dh < 0) i0++;
      while (i1 > i0 && h0 + (i1 - 1) * p->dh >= p->H) i1--;
      int full_rows = i0 == 0 && i1 == p->kh;
      int64_t o = (pl * p->Ho + oh) * p->Wo;
      for (int64_t ow = 0; ow < p->Wo; ow++) {
        int64_t w0 = ow * p->sw - p->pw, arg;
        float best;
        if (full_rows && k22 && ow >= c0 && ow < c1) {
          best = max_window(x, p->W, h0, w0, 0, 2, 0, 2, 1, 1, &arg);
        } else {
          int64_t j0 = 0, j1 = p->kw;
          while (j0 < j1 && w0 + j0 * p->dw < 0) j0++;
          while (j1 > j0 && w0 + (j1 - 1) * p->dw >= p->W) j1--;
          best = max_window(x, p->W, h0, w0, i0, i1, j0, j1, p->dh, p->dw, &arg);
        }
        if (!gx)
          j->y[o + ow] = best;
        else if (arg >= 0)
          gx[arg] += j->gy[o + ow];
      }
    }
  }
}

static void avg32_range(void *ctx, int64_t begin, int64_t end) {
  const pool32_job *j = ctx;
  const pool_params *p = j->p;
  int64_t HW = p->H * p->W;
  if (j->grad) memset(j->y + begin * HW, 0, (size_t)((end - begin) * HW) * sizeof(float));
  for (int64_t pl = begin; pl < end; pl++) {
    const float *x = j->x ? j->x + pl * HW : NULL;
    float *gx = j->grad ? j->y + pl * HW : NULL;
    for (int64_t oh = 0; oh < p->Ho; oh++)
      for (int64_t ow = 0; ow < p->Wo; ow++) {
        int64_t hs = oh * p->sh - p->ph, ws = ow * p->sw - p->pw;
        int64_t he = hs + p->kh < p->H + p->ph ? hs + p->kh : p->H + p->ph;
        int64_t we = ws + p->kw < p->W + p->pw ? ws + p->kw : p->W + p->pw;
        int64_t pool_size = (he - hs) * (we - ws);
        if (hs < 0) hs = 0;
        if (ws < 0) ws = 0;
        if (he > p->H) he = p->H;
        if (we > p->W) we = p->W;
        int64_t div = p->count_include_pad ? pool_size : (he - hs) * (we - ws);
        int64_t o = (pl * p->Ho + oh) * p->Wo + ow;
        if (!j->grad) {
          double s = 0.0;
          for (int64_t ih = hs; ih < he; ih++)
            for (int64_t iw = ws; iw < we; iw++) s += x[ih * p->W + iw];
          j->y[o] = div > 0 ? (float)(s / (double)div) : NAN;
        } else if (div > 0) {
          float g = (float)((double)j->gy[o] / (double)div);
          for (int64_t ih = hs; ih < he; ih++)
            for (int64_t iw = ws; iw < we; iw++) gx[ih * p->W + iw] += g;
        }
      }
  }
}

/* The f32 forward (gy == NULL) or gradient: contiguous references to the inputs, then the loops
 * over planes on the thread pool. */
static ct_status pool_f32(const pool_params *p, ct_tensor *x, ct_tensor *gy, ct_tensor *y,
                          int is_max, const char *op, char *err, size_t err_size) {
  ct_tensor *xc = x ? ct_tensor_contiguous(x) : NULL;
  ct_tensor *gc = gy ? ct_tensor_contiguous(gy) : NULL;
  if ((x && !xc) || (gy && !gc)) {
    ct_tensor_release(xc);
    ct_tensor_release(gc);
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "%s: out of memory", op);
  }
  pool32_job j = {p, xc ? ct_tensor_data(xc) : NULL, gc ? ct_tensor_data(gc) : NULL,
                  ct_tensor_data(y), gy != NULL};
  int64_t grain = 1 + 16384 / (p->Ho * p->Wo * p->kh * p->kw + 1);
  ct_parallel_for(p->planes, grain, is_max ? max32_range : avg32_range, &j);
  ct_tensor_release(xc);
  ct_tensor_release(gc);
  return CT_OK;
}

static ct_status pool_forward(CT_KERNEL_ARGS, int is_max, const char *op) {
  if (n_in != 1 || n_out != 1 || !in[0] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: expected 1 input, 1 output", op);
  pool_params p;
  ct_status st = parse_pool(attrs, n_attrs, in[0], is_max, &p, op, err, err_size);
  if (st) return st;
  if (!shape_hw(out[0], in[0], p.Ho, p.Wo) || !ct_tensor_is_contiguous(out[0]))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: output has the wrong shape", op);
  if (in[0]->dtype == CT_DT_F32)
    return pool_f32(&p, in[0], NULL, out[0], is_max, op, err, err_size);
  double *x = ct_k_load_f64(in[0]);
  double *y = malloc((size_t)(p.planes * p.Ho * p.Wo) * sizeof(double) + 1);
  if (!x || !y) {
    free(x);
    free(y);
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "%s: out of memory", op);
  }
  pool_job j = {&p, x, NULL, y, 0};
  int64_t grain = 1 + 16384 / (p.Ho * p.Wo * p.kh * p.kw + 1);
  ct_parallel_for(p.planes, grain, is_max ? max_range : avg_range, &j);
  ct_k_store_f64(out[0], y);
  free(x);
  free(y);
  return CT_OK;
}

static ct_status pool_backward(CT_KERNEL_ARGS, int is_max, const char *op) {
  if (n_in != 2 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: expected 2 inputs, 1 output", op);
  pool_params p;
  ct_status st = parse_pool(attrs, n_attrs, in[1], is_max, &p, op, err, err_size);
  if (st) return st;
  if (!shape_hw(in[0], in[1], p.Ho, p.Wo))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: gy has the wrong shape", op);
  if (!shape_hw(out[0], in[1], p.H, p.W) || !ct_tensor_is_contiguous(out[0]))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: output has the wrong shape", op);
  if (in[1]->dtype == CT_DT_F32)
    return pool_f32(&p, is_max ? in[1] : NULL, in[0], out[0], is_max, op, err, err_size);
  double *gy = ct_k_load_f64(in[0]);
  double *x = is_max ? ct_k_load_f64(in[1]) : NULL;
  double *gx = calloc((size_t)(p.planes * p.H * p.W) + 1, sizeof(double));
  if (!gy || (is_max && !x) || !gx) {
    free(gy);
    free(x);
    free(gx);
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "%s: out of memory", op);
  }
  pool_job j = {&p, x, gy, gx, 1};
  int64_t grain = 1 + 16384 / (p.Ho * p.Wo * p.kh * p.kw + 1);
  ct_parallel_for(p.planes, grain, is_max ? max_range : avg_range, &j);
  ct_k_store_f64(out[0], gx);
  free(gy);
  free(x);
  free(gx);
  return CT_OK;
}

ct_status ct_kernel_MAX_POOL2D(CT_KERNEL_ARGS) {
  return pool_forward(attrs, n_attrs, in, n_in, out, n_out, err, err_size, 1, "max_pool2d");
}
ct_status ct_kernel_AVG_POOL2D(CT_KERNEL_ARGS) {
  return pool_forward(attrs, n_attrs, in, n_in, out, n_out, err, err_size, 0, "avg_pool2d");
}
ct_status ct_kernel_MAX_POOL2D_GRAD(CT_KERNEL_ARGS) {
  return pool_backward(attrs, n_attrs, in, n_in, out, n_out, err, err_size, 1,
                       "max_pool2d_grad");
}
ct_status ct_kernel_AVG_POOL2D_GRAD(CT_KERNEL_ARGS) {
  return pool_backward(attrs, n_attrs, in, n_in, out, n_out, err, err_size, 0,
                       "avg_pool2d_grad");
}
