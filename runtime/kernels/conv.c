/* runtime/kernels/conv.c: conv2d and its input/weight gradients by im2col (col2im) and a
 * GEMM per sample and group. f64 reads its inputs into contiguous double buffers and runs dgemm;
 * f32 runs sgemm on contiguous f32 operands, split over the batch on the thread pool (below). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/parallel.h"
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

/* ---- f32: im2col + cblas_sgemm in single precision, split over the batch ----
 *
 * The f32 kernels read contiguous f32 operands directly (no f64 copies) and run one sgemm per
 * sample and group. Samples are split into chunks on the thread pool when the GEMMs are small
 * enough that OpenBLAS runs each one on the calling thread (its default SMP threshold,
 * M*N*K <= 262144); larger GEMMs run one after another and OpenBLAS threads them itself, so the
 * two thread pools never nest. Each chunk has its own im2col buffer; conv2d_grad_weight sums a
 * partial gradient per chunk and adds the partials in chunk order (deterministic for a given
 * thread count). */

#define CONV_BLAS_SERIAL_MNK 262144.0

typedef struct conv32_job {
  const conv_geom *g;
  const conv_params *p;
  const float *x;  /* conv2d, grad_weight: [N, C, H, W] */
  const float *w;  /* conv2d, grad_input: [O, Cg, kh, kw] */
  const float *b;  /* conv2d: [O] or NULL */
  const float *gy; /* grads: [N, O, Ho, Wo] */
  float *y;        /* conv2d: y; grad_input: gx; grad_weight: n_chunks partial gradients */
  int64_t n_chunks;
  int nomem;       /* set (atomically) by a chunk that could not allocate its buffer */
} conv32_job;

/* The first and one-past-last output column whose input column ow*sw + off lies in [0, W). */
static void valid_cols(int64_t off, int64_t sw, int64_t W, int64_t Wo, int64_t *lo, int64_t *hi) {
  int64_t l = off >= 0 ? 0 : (-off + sw - 1) / sw;
  int64_t h = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
  if (h > Wo) h = Wo;
  if (l > h) l = h;
  *lo = l, *hi = h;
}

static void im2col_f32(const float *x, const conv_geom *g, const conv_params *p, float *col) {
  int64_t L = g->Ho * g->Wo;
  for (int64_t c = 0; c < g->Cg; c++)
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        float *row = col + ((c * g->kh + i) * g->kw + j) * L;
        const float *xc = x + c * g->H * g->W;
        int64_t off = j * p->dw - p->pw, lo, hi;
        valid_cols(off, p->sw, g->W, g->Wo, &lo, &hi);
        for (int64_t oh = 0; oh < g->Ho; oh++) {
          int64_t ih = oh * p->sh - p->ph + i * p->dh;
          float *r = row + oh * g->Wo;
          if (ih < 0 || ih >= g->H) {
            memset(r, 0, (size_t)g->Wo * sizeof(float));
            continue;
          }
          const float *xr = xc + ih * g->W + off;
          for (int64_t ow = 0; ow < lo; ow++) r[ow] = 0.0f;
          if (p->sw == 1)
            memcpy(r + lo, xr + lo, (size_t)(hi - lo) * sizeof(float));
          else
            for (int64_t ow = lo; ow < hi; ow++) r[ow] = xr[ow * p->sw];
          for (int64_t ow = hi; ow < g->Wo; ow++) r[ow] = 0.0f;
        }
      }
}

static void col2im_f32(const float *col, const conv_geom *g, const conv_params *p, float *x) {
  int64_t L = g->Ho * g->Wo;
  for (int64_t c = 0; c < g->Cg; c++)
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) {
        const float *row = col + ((c * g->kh + i) * g->kw + j) * L;
        float *xc = x + c * g->H * g->W;
        int64_t off = j * p->dw - p->pw, lo, hi;
        valid_cols(off, p->sw, g->W, g->Wo, &lo, &hi);
        for (int64_t oh = 0; oh < g->Ho; oh++) {
          int64_t ih = oh * p->sh - p->ph + i * p->dh;
          if (ih < 0 || ih >= g->H) continue;
          const float *r = row + oh * g->Wo;
          float *xr = xc + ih * g->W + off;
          if (p->sw == 1)
            for (int64_t ow = lo; ow < hi; ow++) xr[ow] += r[ow];
          else
            for (int64_t ow = lo; ow < hi; ow++) xr[ow * p->sw] += r[ow];
        }
      }
}

/* C[M,N] = beta*C + op(A) op(B), row-major, single precision. */
static void sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                  float beta, float *C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == 0.0f) memset(C, 0, (size_t)(M * N) * sizeof(float));
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, 1.0f, A, (int)(ta ? M : K), B, (int)(tb ? K : N), beta, C,
              (int)N);
}

static void chunk_bounds(const conv32_job *j, int64_t c, int64_t *n0, int64_t *n1) {
  *n0 = c * j->g->N / j->n_chunks;
  *n1 = (c + 1) * j->g->N / j->n_chunks;
}

static float *chunk_col(conv32_job *j) {
  const conv_geom *g = j->g;
  float *col = malloc((size_t)(g->Cg * g->kh * g->kw * g->Ho * g->Wo) * sizeof(float) + 1);
  if (!col) __atomic_store_n(&j->nomem, 1, __ATOMIC_RELAXED);
  return col;
}

static void conv32_fwd_range(void *ctx, int64_t begin, int64_t end) {
  conv32_job *j = ctx;
  const conv_geom *g = j->g;
  int64_t G = j->p->groups, Og = g->O / G, Kc = g->Cg * g->kh * g->kw, L = g->Ho * g->Wo;
  float *col = chunk_col(j);
  if (!col) return;
  for (int64_t c = begin; c < end; c++) {
    int64_t n0, n1;
    chunk_bounds(j, c, &n0, &n1);
    for (int64_t n = n0; n < n1; n++)
      for (int64_t gi = 0; gi < G; gi++) {
        const float *xg = j->x + (n * g->C + gi * g->Cg) * g->H * g->W;
        float *yg = j->y + (n * g->O + gi * Og) * L;
        int direct = g->kh == 1 && g->kw == 1 && j->p->sh == 1 && j->p->sw == 1 &&
                     j->p->ph == 0 && j->p->pw == 0;
        if (!direct) im2col_f32(xg, g, j->p, col);
        sgemm(0, 0, Og, L, Kc, j->w + gi * Og * Kc, direct ? xg : col, 0.0f, yg);
        if (j->b)
          for (int64_t o = 0; o < Og; o++) {
            float bo = j->b[gi * Og + o];
            float *yr = yg + o * L;
            for (int64_t l = 0; l < L; l++) yr[l] += bo;
          }
      }
  }
  free(col);
}

static void conv32_gin_range(void *ctx, int64_t begin, int64_t end) {
  conv32_job *j = ctx;
  const conv_geom *g = j->g;
  int64_t G = j->p->groups, Og = g->O / G, Kc = g->Cg * g->kh * g->kw, L = g->Ho * g->Wo;
  float *col = chunk_col(j);
  if (!col) return;
  for (int64_t c = begin; c < end; c++) {
    int64_t n0, n1;
    chunk_bounds(j, c, &n0, &n1);
    memset(j->y + n0 * g->C * g->H * g->W, 0, (size_t)((n1 - n0) * g->C * g->H * g->W) * 4);
    for (int64_t n = n0; n < n1; n++)
      for (int64_t gi = 0; gi < G; gi++) {
        /* col[Kc, L] = W_g^T [Kc, Og] @ gy_g [Og, L] */
        sgemm(1, 0, Kc, L, Og, j->w + gi * Og * Kc, j->gy + (n * g->O + gi * Og) * L, 0.0f, col);
        col2im_f32(col, g, j->p, j->y + (n * g->C + gi * g->Cg) * g->H * g->W);
      }
  }
  free(col);
}

static void conv32_gw_range(void *ctx, int64_t begin, int64_t end) {
  conv32_job *j = ctx;
  const conv_geom *g = j->g;
  int64_t G = j->p->groups, Og = g->O / G, Kc = g->Cg * g->kh * g->kw, L = g->Ho * g->Wo;
  int64_t nw = g->O * Kc;
  float *col = chunk_col(j);
  if (!col) return;
  for (int64_t c = begin; c < end; c++) {
    int64_t n0, n1;
    chunk_bounds(j, c, &n0, &n1);
    float *gw = j->y + c * nw;
    memset(gw, 0, (size_t)nw * sizeof(float));
    for (int64_t n = n0; n < n1; n++)
      for (int64_t gi = 0; gi < G; gi++) {
        im2col_f32(j->x + (n * g->C + gi * g->Cg) * g->H * g->W, g, j->p, col);
        /* gw_g [Og, Kc] += gy_g [Og, L] @ col^T [L, Kc] */
        sgemm(0, 1, Og, Kc, L, j->gy + (n * g->O + gi * Og) * L, col, 1.0f, gw + gi * Og * Kc);
      }
  }
  free(col);
}

/* How many batch chunks to run: 1 when the GEMMs are large enough for OpenBLAS to thread (or
 * the whole job is too small to be worth a fork), else up to one per pool thread. */
static int64_t conv32_chunks(const conv_geom *g, const conv_params *p) {
  int64_t Og = g->O / p->groups, Kc = g->Cg * g->kh * g->kw, L = g->Ho * g->Wo;
  double mnk = (double)Og * (double)Kc * (double)L;
  double total = mnk * (double)p->groups * (double)g->N;
  int64_t t = ct_get_num_threads();
  if (t <= 1 || mnk > CONV_BLAS_SERIAL_MNK || total < 65536.0 || g->N < 2) return 1;
  return t < g->N ? t : g->N;
}

/* Runs fn over the job's chunks; the caller has set every field but n_chunks. */
static ct_status conv32_run(conv32_job *j, ct_range_fn fn, const char *op, char *err,
                            size_t err_size) {
  ct_parallel_for(j->n_chunks, 1, fn, j);
  if (j->nomem) return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "%s: out of memory", op);
  return CT_OK;
}

/* Contiguous references to n tensors (any may be NULL); 0, or -1 when out of memory (all
 * released). */
static int contig_all(ct_tensor *const *t, ct_tensor **c, int n) {
  int ok = 1;
  for (int i = 0; i < n; i++) {
    c[i] = t[i] ? ct_tensor_contiguous(t[i]) : NULL;
    if (t[i] && !c[i]) ok = 0;
  }
  if (ok) return 0;
  for (int i = 0; i < n; i++) ct_tensor_release(c[i]);
  return -1;
}

static void release_all(ct_tensor **c, int n) {
  for (int i = 0; i < n; i++) ct_tensor_release(c[i]);
}

/* kind 0: conv2d (t = x, w, b); 1: grad_input (t = gy, w); 2: grad_weight (t = gy, x). */
static ct_status conv_f32(int kind, ct_tensor *const *t, int n_t, ct_tensor *out,
                          const conv_geom *g, const conv_params *p, const char *op, char *err,
                          size_t err_size) {
  ct_tensor *c[3] = {NULL, NULL, NULL};
  if (contig_all(t, c, n_t))
    return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "%s: out of memory", op);
  conv32_job j = {g, p, NULL, NULL, NULL, NULL, ct_tensor_data(out), conv32_chunks(g, p), 0};
  ct_status st;
  if (kind == 0) {
    j.x = ct_tensor_data(c[0]), j.w = ct_tensor_data(c[1]);
    j.b = c[2] ? ct_tensor_data(c[2]) : NULL;
    st = conv32_run(&j, conv32_fwd_range, op, err, err_size);
  } else if (kind == 1) {
    j.gy = ct_tensor_data(c[0]), j.w = ct_tensor_data(c[1]);
    st = conv32_run(&j, conv32_gin_range, op, err, err_size);
  } else {
    j.gy = ct_tensor_data(c[0]), j.x = ct_tensor_data(c[1]);
    int64_t nw = g->O * g->Cg * g->kh * g->kw;
    float *partial = NULL;
    if (j.n_chunks > 1) {
      partial = malloc((size_t)(j.n_chunks * nw) * sizeof(float));
      if (!partial) {
        release_all(c, 3);
        return ct_kernel_fail(err, err_size, CT_ERR_NOMEM, "%s: out of memory", op);
      }
      j.y = partial;
    }
    st = conv32_run(&j, conv32_gw_range, op, err, err_size);
    if (!st && partial) {
      float *gw = ct_tensor_data(out);
      memcpy(gw, partial, (size_t)nw * sizeof(float));
      for (int64_t k = 1; k < j.n_chunks; k++) {
        const float *pk = partial + k * nw;
        for (int64_t i = 0; i < nw; i++) gw[i] += pk[i];
      }
    }
    free(partial);
  }
  release_all(c, 3);
  return st;
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
  if (dt == CT_DT_F32) return conv_f32(0, in, n_in, y, &g, &p, "conv2d", err, err_size);
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
  if (dt == CT_DT_F32)
    return conv_f32(1, in, 2, gx, &g, &p, "conv2d_grad_input", err, err_size);
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
  if (dt == CT_DT_F32)
    return conv_f32(2, in, 2, gw, &g, &p, "conv2d_grad_weight", err, err_size);
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
