/* runtime/kernels/conv.c: conv2d and its input/weight gradients by im2col (col2im) and a
 * dgemm per sample and group. Inputs are read into contiguous f64 buffers, so f32 and f64 share
 * one path and accumulate in double; results are rounded once into the output's dtype. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_internal.h"

typedef struct conv_params {
  int64_t sh, sw, ph, pw, dh, dw, groups;
} conv_params;

typedef struct conv_geom {
  int64_t N, C, H, W;   /* input */
  int64_t O, Cg, kh, kw; /* weight */
  int64_t Ho, Wo;
} conv_geom;

static int is_float(ct_dtype dt) { return dt == CT_DT_F32 || dt == CT_DT_F64; }

static ct_status parse_params(const ct_attr *attrs, int n_attrs, conv_params *p, const char *op,
                              char *err, size_t err_size) {
  int64_t s[2] = {1, 1}, pd[2] = {0, 0}, d[2] = {1, 1};
  int ns = ct_attr_get_ints(attrs, n_attrs, "stride", s, 2);
  int np = ct_attr_get_ints(attrs, n_attrs, "padding", pd, 2);
  int nd = ct_attr_get_ints(attrs, n_attrs, "dilation", d, 2);
  if (ns == 1) s[1] = s[0];
  if (np == 1) pd[1] = pd[0];
  if (nd == 1) d[1] = d[0];
  if ((ns != -1 && ns != 1 && ns != 2) || (np != -1 && np != 1 && np != 2) ||
      (nd != -1 && nd != 1 && nd != 2))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "%s: stride/padding/dilation need 2 ints",
                          op);
  p->sh = s[0], p->sw = s[1], p->ph = pd[0], p->pw = pd[1], p->dh = d[0], p->dw = d[1];
  p->groups = ct_attr_get_int(attrs, n_attrs, "groups", 1);
  if (p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1 || p->ph < 0 || p->pw < 0 ||
      p->groups < 1)
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "%s: stride/dilation must be >= 1, padding >= 0, groups >= 1", op);
  return CT_OK;
}

/* Reads a 4-dim shape attribute (dims or ints) into out. */
static int get_shape4(const ct_attr *attrs, int n_attrs, const char *name, int64_t *out) {
  const ct_attr *a = ct_attr_find(attrs, n_attrs, name);
  if (!a || a->n != 4) return -1;
  for (int i = 0; i < 4; i++) {
    if (a->kind == CT_ATTR_DIMS) {
      if (!ct_dim_is_const(a->u.dims[i])) return -1;
      out[i] = a->u.dims[i].off;
    } else if (a->kind == CT_ATTR_INTS) {
      out[i] = a->u.ints[i];
    } else {
      return -1;
    }
    if (out[i] < 0) return -1;
  }
  return 0;
}

/* Fills the geometry from an input shape and weight shape; checks channels and output size. */
static ct_status make_geom(const int64_t *xs, const int64_t *ws, const conv_params *p,
                           conv_geom *g, const char *op, char *err, size_t err_size) {
  g->N = xs[0], g->C = xs[1], g->H = xs[2], g->W = xs[3];
  g->O = ws[0], g->Cg = ws[1], g->kh = ws[2], g->kw = ws[3];
  if (g->Cg * p->groups != g->C || g->O % p->groups != 0)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "%s: channels (C=%lld, w=[%lld,%lld,...], groups=%lld) do not match", op,
                          (long long)g->C, (long long)g->O, (long long)g->Cg,
                          (long long)p->groups);
  if (g->kh < 1 || g->kw < 1)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: empty kernel", op);
  int64_t eh = g->H + 2 * p->ph - p->dh * (g->kh - 1) - 1;
  int64_t ew = g->W + 2 * p->pw - p->dw * (g->kw - 1) - 1;
  if (eh < 0 || ew < 0)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "%s: kernel larger than padded input", op);
  g->Ho = eh / p->sh + 1;
  g->Wo = ew / p->sw + 1;
  return CT_OK;
}

/* C[M,N] = beta*C + op(A) op(B), row-major; op(A) is [M,K], op(B) [K,N]. */
static void dgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const double *A,
                  const double *B, double beta, double *C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == 0.0) memset(C, 0, (size_t)(M * N) * sizeof(double));
    return;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, 1.0, A, (int)(ta ? M : K), B, (int)(tb ? K : N), beta, C,
              (int)N);
}

/* col[(c*kh+i)*kw+j][oh*Wo+ow] = x[c][oh*sh-ph+i*dh][ow*sw-pw+j*dw] (0 outside), Cg channels. */
static void im2col(const double *x, const conv_geom *g, const conv_params *p, double *col) {
  int64_t L = g->Ho * g->Wo;
  for (int64_t c = 0; c < g->Cg; c++)
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        double *row = col + ((c * g->kh + i) * g->kw + j) * L;
        const double *xc = x + c * g->H * g->W;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
          int64_t ih = oh * p->sh - p->ph + i * p->dh;
          double *r = row + oh * g->Wo;
          if (ih < 0 || ih >= g->H) {
            for (int64_t ow = 0; ow < g->Wo; ow++) r[ow] = 0.0;
            continue;
          }
          for (int64_t ow = 0; ow < g->Wo; ow++) {
            int64_t iw = ow * p->sw - p->pw + j * p->dw;
            r[ow] = (iw >= 0 && iw < g->W) ? xc[ih * g->W + iw] : 0.0;
          }
        }
      }
}

/* The adjoint of im2col: x[c][ih][iw] += col[...]. */
static void col2im(const double *col, const conv_geom *g, const conv_params *p, double *x) {
  int64_t L = g->Ho * g->Wo;
  for (int64_t c = 0; c < g->Cg; c++)
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        const double *row = col + ((c * g->kh + i) * g->kw + j) * L;
        double *xc = x + c * g->H * g->W;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
          int64_t ih = oh * p->sh - p->ph + i * p->dh;
          if (ih < 0 || ih >= g->H) continue;
          const double *r = row + oh * g->Wo;
          for (int64_t ow = 0; ow < g->Wo; ow++) {
            int64_t iw = ow * p->sw - p->pw + j * p->dw;
            if (iw >= 0 && iw < g->W) xc[ih * g->W + iw] += r[ow];
          }
        }
      }
}

static int check_out(const ct_tensor *y, ct_dtype dt, int rank, const int64_t *shape) {
  return y->dtype == dt && ct_shape_is(y, rank, shape) && ct_tensor_is_contiguous(y);
}

ct_status ct_kernel_CONV2D(CT_KERNEL_ARGS) {
  if (n_in < 2 || n_in > 3 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID, "conv2d: expected 2-3 inputs, 1 output");
  const ct_tensor *x = in[0], *w = in[1], *b = n_in == 3 ? in[2] : NULL;
  ct_tensor *y = out[0];
  ct_dtype dt = x->dtype;
  if (!is_float(dt) || w->dtype != dt || (b && b->dtype != dt))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "conv2d: operands must share f32/f64");
  if (x->rank != 4 || w->rank != 4)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "conv2d: x and w must be 4-d");
  conv_params p;
  conv_geom g;
  ct_status st = parse_params(attrs, n_attrs, &p, "conv2d", err, err_size);
  if (st) return st;
  st = make_geom(x->shape, w->shape, &p, &g, "conv2d", err, err_size);
  if (st) return st;
  if (b && (b->rank != 1 || b->shape[0] != g.O))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "conv2d: bias must be [O]");
  int64_t ys[4] = {g.N, g.O, g.Ho, g.Wo};
  if (!check_out(y, dt, 4, ys))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "conv2d: output has the wrong shape");
  int64_t G = p.groups, Og = g.O / G, Kc = g.Cg * g.kh * g.kw, L = g.Ho * g.Wo;
  double *xd = ct_k_load_f64(in[0]), *wd = ct_k_load_f64(in[1]), *bd = b ? ct_k_load_f64(in[2]) : NULL;
  double *col = malloc((size_t)(Kc * L) * sizeof(double) + 1);
  double *yd = malloc((size_t)ct_tensor_numel(y) * sizeof(double) + 1);
  if (!xd || !wd || (b && !bd) || !col || !yd) {
    st = ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "conv2d: out of memory");
    goto done;
  }
  for (int64_t n = 0; n < g.N; n++)
    for (int64_t gi = 0; gi < G; gi++) {
      im2col(xd + (n * g.C + gi * g.Cg) * g.H * g.W, &g, &p, col);
      double *yg = yd + (n * g.O + gi * Og) * L;
      dgemm(0, 0, Og, L, Kc, wd + gi * Og * Kc, col, 0.0, yg);
      if (bd)
        for (int64_t o = 0; o < Og; o++)
          for (int64_t l = 0; l < L; l++) yg[o * L + l] += bd[gi * Og + o];
    }
  ct_k_store_f64(y, yd);
done:
  free(xd);
  free(wd);
  free(bd);
  free(col);
  free(yd);
  return st;
}

ct_status ct_kernel_CONV2D_GRAD_INPUT(CT_KERNEL_ARGS) {
  if (n_in != 2 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "conv2d_grad_input: expected 2 inputs, 1 output");
  const ct_tensor *gy = in[0], *w = in[1];
  ct_tensor *gx = out[0];
  ct_dtype dt = gy->dtype;
  if (!is_float(dt) || w->dtype != dt)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "conv2d_grad_input: operands must share f32/f64");
  if (gy->rank != 4 || w->rank != 4)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "conv2d_grad_input: gy and w must be 4-d");
  int64_t xs[4];
  if (get_shape4(attrs, n_attrs, "input_shape", xs))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "conv2d_grad_input: input_shape must be 4 concrete dims");
  conv_params p;
  conv_geom g;
  ct_status st = parse_params(attrs, n_attrs, &p, "conv2d_grad_input", err, err_size);
  if (st) return st;
  st = make_geom(xs, w->shape, &p, &g, "conv2d_grad_input", err, err_size);
  if (st) return st;
  int64_t gys[4] = {g.N, g.O, g.Ho, g.Wo};
  if (!ct_shape_is(gy, 4, gys))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "conv2d_grad_input: gy does not match the conv's output shape");
  if (!check_out(gx, dt, 4, xs))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "conv2d_grad_input: output has the wrong shape");
  int64_t G = p.groups, Og = g.O / G, Kc = g.Cg * g.kh * g.kw, L = g.Ho * g.Wo;
  double *gyd = ct_k_load_f64(in[0]), *wd = ct_k_load_f64(in[1]);
  double *col = malloc((size_t)(Kc * L) * sizeof(double) + 1);
  double *gxd = calloc((size_t)ct_tensor_numel(gx) + 1, sizeof(double));
  if (!gyd || !wd || !col || !gxd) {
    st = ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "conv2d_grad_input: out of memory");
    goto done;
  }
  for (int64_t n = 0; n < g.N; n++)
    for (int64_t gi = 0; gi < G; gi++) {
      /* col[Kc, L] = W_g^T [Kc, Og] @ gy_g [Og, L] */
      dgemm(1, 0, Kc, L, Og, wd + gi * Og * Kc, gyd + (n * g.O + gi * Og) * L, 0.0, col);
      col2im(col, &g, &p, gxd + (n * g.C + gi * g.Cg) * g.H * g.W);
    }
  ct_k_store_f64(gx, gxd);
done:
  free(gyd);
  free(wd);
  free(col);
  free(gxd);
  return st;
}

ct_status ct_kernel_CONV2D_GRAD_WEIGHT(CT_KERNEL_ARGS) {
  if (n_in != 2 || n_out != 1 || !in[0] || !in[1] || !out[0])
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "conv2d_grad_weight: expected 2 inputs, 1 output");
  const ct_tensor *gy = in[0], *x = in[1];
  ct_tensor *gw = out[0];
  ct_dtype dt = gy->dtype;
  if (!is_float(dt) || x->dtype != dt)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "conv2d_grad_weight: operands must share f32/f64");
  if (gy->rank != 4 || x->rank != 4)
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE, "conv2d_grad_weight: gy and x must be 4-d");
  int64_t ws[4];
  if (get_shape4(attrs, n_attrs, "weight_shape", ws))
    return ct_kernel_fail(err, err_size, CT_ERR_INVALID,
                          "conv2d_grad_weight: weight_shape must be 4 concrete dims");
  conv_params p;
  conv_geom g;
  ct_status st = parse_params(attrs, n_attrs, &p, "conv2d_grad_weight", err, err_size);
  if (st) return st;
  st = make_geom(x->shape, ws, &p, &g, "conv2d_grad_weight", err, err_size);
  if (st) return st;
  int64_t gys[4] = {g.N, g.O, g.Ho, g.Wo};
  if (!ct_shape_is(gy, 4, gys))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "conv2d_grad_weight: gy does not match the conv's output shape");
  if (!check_out(gw, dt, 4, ws))
    return ct_kernel_fail(err, err_size, CT_ERR_SHAPE,
                          "conv2d_grad_weight: output has the wrong shape");
  int64_t G = p.groups, Og = g.O / G, Kc = g.Cg * g.kh * g.kw, L = g.Ho * g.Wo;
  double *gyd = ct_k_load_f64(in[0]), *xd = ct_k_load_f64(in[1]);
  double *col = malloc((size_t)(Kc * L) * sizeof(double) + 1);
  double *gwd = calloc((size_t)ct_tensor_numel(gw) + 1, sizeof(double));
  if (!gyd || !xd || !col || !gwd) {
    st = ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "conv2d_grad_weight: out of memory");
    goto done;
  }
  for (int64_t n = 0; n < g.N; n++)
    for (int64_t gi = 0; gi < G; gi++) {
      im2col(xd + (n * g.C + gi * g.Cg) * g.H * g.W, &g, &p, col);
      /* gw_g [Og, Kc] += gy_g [Og, L] @ col^T [L, Kc] */
      dgemm(0, 1, Og, Kc, L, gyd + (n * g.O + gi * Og) * L, col, 1.0, gwd + gi * Og * Kc);
    }
  ct_k_store_f64(gw, gwd);
done:
  free(gyd);
  free(xd);
  free(col);
  free(gwd);
  return st;
}
