/* codegen/llvm/lower_conv.c: conv2d and max_pool2d over [N,C,H,W] with constant C, H, W and
 * kernel (N may be symbolic). conv2d is im2col into a workspace scratch buffer plus one GEMM per
 * sample and group (1x1 stride-1 unpadded kernels read the input directly), then the bias pass;
 * measured on LeNet: faster than one GEMM over a chunk of samples' columns, whose result must be
 * scattered back to NCHW;
 * max_pool2d is a direct loop nest split over planes on the thread pool, with the runtime's
 * rules (first maximum, NaN wins, out-of-bounds taps skipped). Anything else falls back. */
#include <cblas.h>
#include <string.h>

#include "cg_internal.h"

typedef struct conv_geom {
  int64_t C, H, W, O, kh, kw, Ho, Wo, sh, sw, ph, pw, dh, dw, groups, Cg, Og, Kc;
  int64_t Hp, Wp; /* the padded plane: H + 2ph, W + 2pw */
} conv_geom;

static bool const_dims(const ct_type *t, int from) {
  for (int i = from; i < t->rank; i++)
    if (t->dims[i].sym) return false;
  return true;
}

/* An INTS attribute as a pair (one value repeats); false when absent or longer. */
static bool attr_pair(const ct_node *n, const char *name, int64_t *v, int64_t d0) {
  const ct_attr *a = ct_node_attr(n, name);
  v[0] = v[1] = d0;
  if (!a || a->kind != CT_ATTR_INTS || a->n == 0) return a == NULL || a->kind == CT_ATTR_INTS;
  if (a->n > 2) return false;
  v[0] = a->u.ints[0];
  v[1] = a->n == 2 ? a->u.ints[1] : a->u.ints[0];
  return true;
}

/* The geometry from the input's, weight's and output's types (C, H, W, kernel and output
 * spatial dims constant) and n's stride/padding/dilation/groups. */
static bool geometry_of(const ct_node *n, const ct_type *x, const ct_type *w, const ct_type *y,
                        conv_geom *g) {
  if (x->rank != 4 || w->rank != 4 || y->rank != 4 || !const_dims(x, 1) || !const_dims(w, 0) ||
      !const_dims(y, 1))
    return false;
  int64_t s[2], p[2], d[2];
  if (!attr_pair(n, "stride", s, 1) || !attr_pair(n, "padding", p, 0) || !attr_pair(n, "dilation", d, 1))
    return false;
  g->groups = ct_node_attr_int(n, "groups", 1);
  g->C = x->dims[1].off, g->H = x->dims[2].off, g->W = x->dims[3].off;
  g->O = w->dims[0].off, g->Cg = w->dims[1].off, g->kh = w->dims[2].off, g->kw = w->dims[3].off;
  g->Ho = y->dims[2].off, g->Wo = y->dims[3].off;
  g->sh = s[0], g->sw = s[1], g->ph = p[0], g->pw = p[1], g->dh = d[0], g->dw = d[1];
  if (g->groups < 1 || g->Cg * g->groups != g->C || g->O % g->groups != 0 || y->dims[1].off != g->O)
    return false;
  g->Og = g->O / g->groups;
  g->Kc = g->Cg * g->kh * g->kw;
  g->Hp = g->H + 2 * g->ph, g->Wp = g->W + 2 * g->pw;
  return g->sh >= 1 && g->sw >= 1 && g->dh >= 1 && g->dw >= 1 && g->ph >= 0 && g->pw >= 0 &&
         g->Kc <= INT32_MAX && g->Ho * g->Wo <= INT32_MAX;
}

static bool float_operands(const ct_node *n) {
  ct_dtype dt = n->results[0]->type.dtype;
  if (dt != CT_DT_F32 && dt != CT_DT_F64) return false;
  for (int i = 0; i < n->n_operands; i++)
    if (ct_node_operand(n, i)->type.dtype != dt) return false;
  return true;
}

/* A DIMS attribute (input_shape, weight_shape) as a type of n's dtype. */
static bool dims_type(const ct_node *n, const char *name, ct_type *t) {
  const ct_attr *a = ct_node_attr(n, name);
  if (!a || a->kind != CT_ATTR_DIMS || a->n != 4) return false;
  *t = ct_type_make(n->results[0]->type.dtype, 4, a->u.dims);
  return true;
}

static bool conv_geometry(const ct_node *n, conv_geom *g) {
  if (!float_operands(n)) return false;
  const ct_type *x = &ct_node_operand(n, 0)->type, *w = &ct_node_operand(n, 1)->type;
  switch (n->op) {
  case CT_OP_CONV2D: return geometry_of(n, x, w, &n->results[0]->type, g);
  case CT_OP_CONV2D_GRAD_INPUT: { /* (gy, w) -> gx */
    ct_type xt;
    return dims_type(n, "input_shape", &xt) && geometry_of(n, &xt, w, x, g);
  }
  case CT_OP_CONV2D_GRAD_WEIGHT: { /* (gy, x) -> gw */
    ct_type wt;
    return dims_type(n, "weight_shape", &wt) && geometry_of(n, w, &wt, x, g);
  }
  default: return false;
  }
}

static bool direct_1x1(const conv_geom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* C[M,N] = op(A) op(B) + beta C, row-major, with constant sizes and leading dims. */
static void gemm(cg *c, ct_dtype dt, bool ta, bool tb, int64_t m, int64_t nn, int64_t k,
                 LLVMValueRef a, int64_t lda, LLVMValueRef b, int64_t ldb, double beta,
                 LLVMValueRef out, int64_t ldc) {
  LLVMTypeRef ft = cg_elem_type(c, dt), fp = LLVMPointerType(ft, 0);
  LLVMTypeRef bi = c->t_i32;
  LLVMTypeRef args_t[] = {c->t_i32, c->t_i32, c->t_i32, bi, bi, bi, ft, fp, bi, fp, bi, ft, fp, bi};
  LLVMValueRef fn = cg_extern(c, dt == CT_DT_F32 ? "cblas_sgemm" : "cblas_dgemm",
                              LLVMFunctionType(c->t_void, args_t, 14, 0));
  LLVMValueRef args[] = {cg_i32(c, CblasRowMajor), cg_i32(c, ta ? CblasTrans : CblasNoTrans),
                         cg_i32(c, tb ? CblasTrans : CblasNoTrans),
                         cg_i32(c, (int32_t)m), cg_i32(c, (int32_t)nn), cg_i32(c, (int32_t)k),
                         LLVMConstReal(ft, 1.0), LLVMBuildBitCast(c->b, a, fp, ""), cg_i32(c, (int32_t)lda),
                         LLVMBuildBitCast(c->b, b, fp, ""), cg_i32(c, (int32_t)ldb), LLVMConstReal(ft, beta),
                         LLVMBuildBitCast(c->b, out, fp, ""), cg_i32(c, (int32_t)ldc)};
  cg_call(c, fn, args, 14, "");
}

static LLVMValueRef byte_off(cg *c, LLVMValueRef base, LLVMValueRef elems, int64_t es) {
  LLVMValueRef off = LLVMBuildMul(c->b, elems, cg_i64(c, es), "");
  return LLVMBuildInBoundsGEP2(c->b, c->t_i8, base, &off, 1, "");
}

/* The padded input plane set of one sample and group, [Cg, H + 2ph, W + 2pw], when the conv pads. */
static bool padded(const conv_geom *g) { return g->ph > 0 || g->pw > 0; }
static int64_t pad_elems(const conv_geom *g) {
  return padded(g) ? g->Cg * g->Hp * g->Wp : 0;
}
/* Scratch layout: the columns [Kc, L], then (when padding) the padded planes, 64-byte aligned. */
static int64_t col_elems(const conv_geom *g) { return (g->Kc * g->Ho * g->Wo + 15) / 16 * 16; }

/* Copies the sample's planes x [Cg, H, W] into the interior of the bordered planes pad
 * [Cg, H + 2ph, W + 2pw] (into_pad), or the interior back out, a row (one memcpy) at a time. */
static void copy_interior(cg *c, const conv_geom *g, LLVMTypeRef ft, int64_t es, LLVMValueRef x,
                          LLVMValueRef pad, bool into_pad) {
  int64_t Hs = g->Hp, Ws = g->Wp;
  cg_loop lc, lh;
  LLVMValueRef ch = cg_loop_begin(c, &lc, cg_i64(c, 0), cg_i64(c, g->Cg), "c");
  LLVMValueRef h = cg_loop_begin(c, &lh, cg_i64(c, 0), cg_i64(c, g->H), "h");
  LLVMValueRef xi = LLVMBuildMul(c->b, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ch, cg_i64(c, g->H), ""), h, ""), cg_i64(c, g->W), "");
  LLVMValueRef pi = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ch, cg_i64(c, Hs), ""), h, ""), cg_i64(c, Ws), ""), cg_i64(c, g->ph * Ws + g->pw), "");
  LLVMValueRef xp = cg_gep(c, ft, x, xi), pp = cg_gep(c, ft, pad, pi);
  LLVMBuildMemCpy(c->b, into_pad ? pp : xp, (unsigned)es, into_pad ? xp : pp, (unsigned)es, cg_i64(c, g->W * es));
  cg_loop_end(c, &lh);
  cg_loop_end(c, &lc);
}

/* Emits, as an internal function void(i8* noalias x, i8* noalias col, i8* noalias pad), the
 * im2col of one sample and group (col[(c,ki,kj), oh*Wo + ow] = x[c, oh*sh + ki*dh - ph,
 * ow*sw + kj*dw - pw], 0 outside the image) or its gradient, col2im (x[tap] += col; x holds the
 * sample's zeroed gradient). Every bound is a constant, and padding is handled once by copying
 * the planes into a zero-bordered buffer, so each column row is a fixed-length copy (a constant
 * memcpy for stride 1) with no per-element bounds test. noalias on the three buffers (they are
 * distinct workspace regions) lets LLVM vectorize the strided and accumulating loops. */
static LLVMValueRef cols_fn(cg *c, const conv_geom *g, ct_dtype dt, bool col2im) {
  LLVMTypeRef ft = cg_elem_type(c, dt);
  int64_t es = (int64_t)ct_dtype_size(dt);
  LLVMTypeRef args_t[] = {c->t_i8p, c->t_i8p, c->t_i8p};
  char name[128];
  snprintf(name, sizeof name, "%s.%s.%d", c->name, col2im ? "col2im" : "im2col", c->n_kernels++);
  LLVMValueRef fn = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->t_void, args_t, 3, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
  for (unsigned i = 1; i <= 3; i++)
    LLVMAddAttributeAtIndex(fn, i, LLVMCreateEnumAttribute(c->ctx, noalias, 0));
  LLVMBasicBlockRef caller_block = LLVMGetInsertBlock(c->b);
  LLVMValueRef caller_fn = c->fn;
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  LLVMValueRef x = LLVMGetParam(fn, 0), col = LLVMGetParam(fn, 1), pad = LLVMGetParam(fn, 2);
  int64_t Hs = g->Hp, Ws = g->Wp, L = g->Ho * g->Wo;
  LLVMValueRef src = x;
  cg_loop lc, lki, lkj, loh, low;
  if (padded(g)) {
    LLVMBuildMemSet(c->b, pad, LLVMConstInt(c->t_i8, 0, 0), cg_i64(c, pad_elems(g) * es), 16);
    if (!col2im) copy_interior(c, g, ft, es, x, pad, true); /* the image into the bordered planes */
    src = pad;
  }
  LLVMValueRef ch = cg_loop_begin(c, &lc, cg_i64(c, 0), cg_i64(c, g->Cg), "c");
  LLVMValueRef ki = cg_loop_begin(c, &lki, cg_i64(c, 0), cg_i64(c, g->kh), "ki");
  LLVMValueRef kj = cg_loop_begin(c, &lkj, cg_i64(c, 0), cg_i64(c, g->kw), "kj");
  LLVMValueRef ck = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ch, cg_i64(c, g->kh), ""), ki, ""), cg_i64(c, g->kw), ""), kj, "ck");
  /* The tap (ki, kj)'s first source element for output (0, 0). */
  LLVMValueRef base = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ch, cg_i64(c, Hs), ""), LLVMBuildMul(c->b, ki, cg_i64(c, g->dh), ""), ""), cg_i64(c, Ws), ""),
                                   LLVMBuildMul(c->b, kj, cg_i64(c, g->dw), ""), "");
  LLVMValueRef oh = cg_loop_begin(c, &loh, cg_i64(c, 0), cg_i64(c, g->Ho), "oh");
  LLVMValueRef srow = LLVMBuildAdd(c->b, base, LLVMBuildMul(c->b, oh, cg_i64(c, g->sh * Ws), ""), "");
  LLVMValueRef crow = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ck, cg_i64(c, L), ""), LLVMBuildMul(c->b, oh, cg_i64(c, g->Wo), ""), "");
  if (!col2im && g->sw == 1) {
    LLVMBuildMemCpy(c->b, cg_gep(c, ft, col, crow), (unsigned)es, cg_gep(c, ft, src, srow), (unsigned)es, cg_i64(c, g->Wo * es));
  } else {
    LLVMValueRef ow = cg_loop_begin(c, &low, cg_i64(c, 0), cg_i64(c, g->Wo), "ow");
    LLVMValueRef sp = cg_gep(c, ft, src, LLVMBuildAdd(c->b, srow, LLVMBuildMul(c->b, ow, cg_i64(c, g->sw), ""), ""));
    LLVMValueRef cp = cg_gep(c, ft, col, LLVMBuildAdd(c->b, crow, ow, ""));
    if (col2im) /* the gradient of the gather */
      LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, ft, sp, ""), LLVMBuildLoad2(c->b, ft, cp, ""), ""), sp);
    else
      LLVMBuildStore(c->b, LLVMBuildLoad2(c->b, ft, sp, ""), cp);
    cg_loop_end(c, &low);
  }
  cg_loop_end(c, &loh);
  cg_loop_end(c, &lkj);
  cg_loop_end(c, &lki);
  cg_loop_end(c, &lc);
  if (col2im && padded(g)) copy_interior(c, g, ft, es, x, pad, false); /* the sample's gradient */
  LLVMBuildRetVoid(c->b);
  c->fn = caller_fn;
  LLVMPositionBuilderAtEnd(c->b, caller_block);
  return fn;
}

/* Calls the im2col (or col2im) of x's sample and group into (from) the scratch columns. */
static void emit_cols(cg *c, const conv_geom *g, ct_dtype dt, LLVMValueRef x, LLVMValueRef col,
                      bool col2im) {
  LLVMValueRef fn = cols_fn(c, g, dt, col2im);
  LLVMValueRef pad = padded(g) ? byte_off(c, col, cg_i64(c, col_elems(g)), (int64_t)ct_dtype_size(dt))
                                : LLVMConstPointerNull(c->t_i8p); /* not accessed */
  LLVMValueRef args[] = {x, col, pad};
  cg_call(c, fn, args, 3, "");
}

/* The batch loop of conv2d and its gradients runs on the thread pool over up to CONV_PARTS
 * parts of the batch. A range of parts runs on one thread and uses the scratch of its first
 * part (the columns and bordered planes), so concurrent ranges never share it, and one thread
 * (the pool running the loop inline) touches only part 0's. conv2d_grad_weight accumulates each
 * range into its own partial gradient (part 0's is the result), summed after the loop. The
 * workspace holds every part's scratch, so fewer parts are made when that passes 8 MiB. */
#define CONV_PARTS 8
#define CONV_PART_BYTES ((int64_t)8 << 20)

static int64_t part_elems(const conv_geom *g, bool direct) {
  return direct ? 0 : (col_elems(g) + pad_elems(g) + 15) / 16 * 16;
}
static int64_t wgrad_elems(const conv_geom *g) { return (g->O * g->Kc + 15) / 16 * 16; }

static int64_t conv_parts(const ct_node *n, const conv_geom *g, bool direct, int64_t es) {
  int64_t per = part_elems(g, direct) + (n->op == CT_OP_CONV2D_GRAD_WEIGHT ? wgrad_elems(g) : 0);
  int64_t parts = CONV_PARTS;
  while (parts > 1 && parts * per * es > CONV_PART_BYTES) parts--;
  return parts;
}

static bool uses_direct(const ct_node *n, const conv_geom *g) {
  return n->op != CT_OP_CONV2D_GRAD_INPUT && direct_1x1(g);
}

ct_status cg_prepare_conv2d(cg *c, const ct_node *n, int *scratch) {
  conv_geom g;
  *scratch = -1;
  if (!conv_geometry(n, &g)) return CT_OK;
  int64_t es = (int64_t)ct_dtype_size(n->results[0]->type.dtype);
  bool direct = uses_direct(n, &g);
  int64_t parts = conv_parts(n, &g, direct, es);
  int64_t elems = parts * part_elems(&g, direct);
  if (n->op == CT_OP_CONV2D_GRAD_WEIGHT) elems += (parts - 1) * wgrad_elems(&g);
  if (elems == 0) return CT_OK;
  ct_dim f[1] = {ct_dim_const(elems)};
  *scratch = cg_scratch_slot(c, es, 1, f);
  return CT_OK;
}

/* The part loop: opens the pool kernel and the loops over its parts' samples and the groups;
 * conv_loop_end closes them. */
typedef struct conv_loop {
  cg_kernel k;
  cg_loop lp, ls, lg;
  LLVMValueRef parts;
  LLVMValueRef sample, group, part0; /* part0: the range's first part (its scratch index) */
} conv_loop;

static LLVMValueRef conv_loop_begin(cg *c, conv_loop *l, const conv_geom *g, LLVMValueRef batch,
                                    int64_t max_parts, const char *what) {
  LLVMValueRef few = LLVMBuildICmp(c->b, LLVMIntSLT, batch, cg_i64(c, max_parts), "");
  l->parts = LLVMBuildSelect(c->b, few, batch, cg_i64(c, max_parts), "parts");
  LLVMValueRef parts = l->parts;
  cg_kernel_begin(c, &l->k, what);
  batch = cg_kernel_capture(c, &l->k, batch);
  parts = cg_kernel_capture(c, &l->k, parts);
  l->part0 = l->k.begin;
  LLVMValueRef p = cg_loop_begin(c, &l->lp, l->k.begin, l->k.end, "part");
  LLVMValueRef s0 = LLVMBuildSDiv(c->b, LLVMBuildMul(c->b, p, batch, ""), parts, "");
  LLVMValueRef s1 = LLVMBuildSDiv(c->b, LLVMBuildMul(c->b, LLVMBuildAdd(c->b, p, cg_i64(c, 1), ""), batch, ""), parts, "");
  l->sample = cg_loop_begin(c, &l->ls, s0, s1, "sample");
  l->group = cg_loop_begin(c, &l->lg, cg_i64(c, 0), cg_i64(c, g->groups), "group");
  return l->sample;
}

static void conv_loop_end(cg *c, conv_loop *l) {
  cg_loop_end(c, &l->lg);
  cg_loop_end(c, &l->ls);
  cg_loop_end(c, &l->lp);
  cg_kernel_end(c, &l->k, l->parts, cg_i64(c, 1));
}

ct_status cg_lower_conv2d(cg *c, const ct_node *n, int scratch) {
  conv_geom g;
  if (sizeof(blasint) != 4 || !conv_geometry(n, &g) || g.Kc > INT32_MAX || g.Ho * g.Wo > INT32_MAX)
    return CT_ERR_UNSUPPORTED;
  bool direct = uses_direct(n, &g);
  if (!direct && scratch < 0) return CT_ERR_UNSUPPORTED;
  ct_dtype dt = n->results[0]->type.dtype;
  int64_t es = (int64_t)ct_dtype_size(dt);
  LLVMTypeRef ft = cg_elem_type(c, dt);
  LLVMValueRef x = cg_value_ptr(c, ct_node_operand(n, 0)), w = cg_value_ptr(c, ct_node_operand(n, 1));
  LLVMValueRef y = cg_value_ptr(c, n->results[0]);
  LLVMValueRef col = direct ? NULL : cg_slot_ptr(c, scratch);
  LLVMValueRef bias = n->n_operands == 3 ? cg_value_ptr(c, ct_node_operand(n, 2)) : NULL;
  LLVMValueRef batch = cg_dim(c, ct_node_operand(n, 0)->type.dims[0]);
  int64_t L = g.Ho * g.Wo;
  conv_loop cl;
  LLVMValueRef s = conv_loop_begin(c, &cl, &g, batch, conv_parts(n, &g, direct, es), "conv2d");
  x = cg_kernel_capture(c, &cl.k, x);
  w = cg_kernel_capture(c, &cl.k, w);
  y = cg_kernel_capture(c, &cl.k, y);
  if (bias) bias = cg_kernel_capture(c, &cl.k, bias);
  if (!direct)
    col = byte_off(c, cg_kernel_capture(c, &cl.k, col), LLVMBuildMul(c->b, cl.part0, cg_i64(c, part_elems(&g, direct)), ""), es);
  LLVMValueRef gi = cl.group;
  LLVMValueRef xg = byte_off(c, x, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, s, cg_i64(c, g.C * g.H * g.W), ""),
                                                LLVMBuildMul(c->b, gi, cg_i64(c, g.Cg * g.H * g.W), ""), ""), es);
  LLVMValueRef yg = byte_off(c, y, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, s, cg_i64(c, g.O * L), ""),
                                                LLVMBuildMul(c->b, gi, cg_i64(c, g.Og * L), ""), ""), es);
  LLVMValueRef wg = byte_off(c, w, LLVMBuildMul(c->b, gi, cg_i64(c, g.Og * g.Kc), ""), es);
  if (!direct) emit_cols(c, &g, dt, xg, col, false);
  gemm(c, dt, false, false, g.Og, L, g.Kc, wg, g.Kc, direct ? xg : col, L, 0.0, yg, L);
  if (bias) { /* the group's channels get their bias while they are in cache */
    cg_loop lo, ll;
    LLVMValueRef o = cg_loop_begin(c, &lo, cg_i64(c, 0), cg_i64(c, g.Og), "oc");
    LLVMValueRef bv = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, bias, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, gi, cg_i64(c, g.Og), ""), o, "")), "");
    LLVMValueRef base = LLVMBuildMul(c->b, o, cg_i64(c, L), "");
    LLVMValueRef l = cg_loop_begin(c, &ll, cg_i64(c, 0), cg_i64(c, L), "l");
    LLVMValueRef p = cg_gep(c, ft, yg, LLVMBuildAdd(c->b, base, l, ""));
    LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, ft, p, ""), bv, ""), p);
    cg_loop_end(c, &ll);
    cg_loop_end(c, &lo);
  }
  conv_loop_end(c, &cl);
  return CT_OK;
}

/* ---- max_pool2d ---- */

/* max_pool2d(x) -> y, and max_pool2d_grad(gy, x) -> gx: the same window walk finds the first
 * maximum (NaN wins; a window of -inf keeps its first in-bounds tap), then either stores it or
 * adds gy to the gradient at its position. Planes are split over the thread pool; each plane's
 * gradient is written by one task. */
ct_status cg_lower_max_pool2d(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  bool grad = n->op == CT_OP_MAX_POOL2D_GRAD;
  const ct_type *xt = &ct_node_operand(n, grad ? 1 : 0)->type;
  const ct_type *yt = grad ? &ct_node_operand(n, 0)->type : &n->results[0]->type;
  ct_dtype dt = n->results[0]->type.dtype;
  if (!float_operands(n) || xt->rank != 4 || yt->rank != 4 || !const_dims(xt, 1) || !const_dims(yt, 1))
    return CT_ERR_UNSUPPORTED;
  int64_t k[2], s[2], p[2], d[2];
  if (!attr_pair(n, "kernel_size", k, 0) || k[0] < 1 || k[1] < 1) return CT_ERR_UNSUPPORTED;
  const ct_attr *sa = ct_node_attr(n, "stride");
  if (sa && sa->kind == CT_ATTR_INTS && sa->n > 0) {
    if (!attr_pair(n, "stride", s, 1)) return CT_ERR_UNSUPPORTED;
  } else {
    s[0] = k[0], s[1] = k[1];
  }
  if (!attr_pair(n, "padding", p, 0) || !attr_pair(n, "dilation", d, 1)) return CT_ERR_UNSUPPORTED;
  if (k[0] * k[1] > 64 || s[0] < 1 || s[1] < 1 || d[0] < 1 || d[1] < 1) return CT_ERR_UNSUPPORTED;
  int64_t C = xt->dims[1].off, H = xt->dims[2].off, W = xt->dims[3].off;
  int64_t Ho = yt->dims[2].off, Wo = yt->dims[3].off;
  /* inside: no padding and every window ends in the image; disjoint: windows do not overlap;
   * covering: the disjoint windows tile the whole plane (no gradient position is left 0). */
  bool inside = p[0] == 0 && p[1] == 0 && Ho >= 1 && Wo >= 1 && (Ho - 1) * s[0] + d[0] * (k[0] - 1) < H &&
                (Wo - 1) * s[1] + d[1] * (k[1] - 1) < W;
  bool disjoint = d[0] == 1 && d[1] == 1 && s[0] >= k[0] && s[1] >= k[1];
  bool covering = inside && disjoint && s[0] == k[0] && s[1] == k[1] && Ho * k[0] == H && Wo * k[1] == W;
  LLVMTypeRef ft = cg_elem_type(c, dt);
  LLVMValueRef planes = LLVMBuildMul(c->b, cg_dim(c, xt->dims[0]), cg_i64(c, C), "");
  LLVMValueRef xp = cg_value_ptr(c, ct_node_operand(n, grad ? 1 : 0)), yp = cg_value_ptr(c, n->results[0]);
  LLVMValueRef gyp = grad ? cg_value_ptr(c, ct_node_operand(n, 0)) : NULL;
  cg_kernel kern;
  cg_kernel_begin(c, &kern, grad ? "max_pool2d_grad" : "max_pool2d");
  xp = cg_kernel_capture(c, &kern, xp);
  yp = cg_kernel_capture(c, &kern, yp);
  if (grad) gyp = cg_kernel_capture(c, &kern, gyp);
  if (grad && !covering) {
    int64_t es = (int64_t)ct_dtype_size(dt);
    LLVMValueRef from = byte_off(c, yp, LLVMBuildMul(c->b, kern.begin, cg_i64(c, H * W), ""), es);
    LLVMValueRef count = LLVMBuildSub(c->b, kern.end, kern.begin, "");
    LLVMBuildMemSet(c->b, from, LLVMConstInt(c->t_i8, 0, 0), LLVMBuildMul(c->b, count, cg_i64(c, H * W * es), ""), 1);
  }
  cg_loop lp, lh, lw;
  LLVMValueRef pl = cg_loop_begin(c, &lp, kern.begin, kern.end, "plane");
  LLVMValueRef xb = LLVMBuildMul(c->b, pl, cg_i64(c, H * W), "");
  LLVMValueRef yb = LLVMBuildMul(c->b, pl, cg_i64(c, Ho * Wo), "");
  LLVMValueRef oh = cg_loop_begin(c, &lh, cg_i64(c, 0), cg_i64(c, Ho), "oh");
  LLVMValueRef ow = cg_loop_begin(c, &lw, cg_i64(c, 0), cg_i64(c, Wo), "ow");
  /* A row shorter than the vectorizer's tiny-loop threshold (LeNet's 14 and 5) would be fully
   * unrolled and left scalar: ask for the vector loop (stride-s interleaved loads and stores). */
  if (inside && (!grad || disjoint) && Wo < 16) cg_loop_vectorize(&lw);
  LLVMValueRef o = LLVMBuildAdd(c->b, yb, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, oh, cg_i64(c, Wo), ""), ow, ""), "");
  if (inside && (!grad || disjoint)) {
    /* Every tap is in bounds: no tests, and the gradient of disjoint windows is one store per
     * tap (gy at the maximum, 0 elsewhere) instead of a scatter, so the loop vectorizes. */
    LLVMValueRef best = NULL, arg = NULL, taps[64];
    int64_t nt = 0;
    for (int64_t i = 0; i < k[0]; i++)
      for (int64_t j = 0; j < k[1]; j++, nt++) {
        LLVMValueRef ih = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, oh, cg_i64(c, s[0]), ""), cg_i64(c, i * d[0]), "");
        LLVMValueRef iw = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ow, cg_i64(c, s[1]), ""), cg_i64(c, j * d[1]), "");
        taps[nt] = LLVMBuildAdd(c->b, xb, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ih, cg_i64(c, W), ""), iw, ""), "");
        LLVMValueRef v = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, xp, taps[nt]), "");
        if (!best) {
          best = v, arg = cg_i32(c, 0);
          continue;
        }
        LLVMValueRef take = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, best, ""),
                                        LLVMBuildFCmp(c->b, LLVMRealUNO, v, v, ""), "");
        best = LLVMBuildSelect(c->b, take, v, best, "");
        if (grad) arg = LLVMBuildSelect(c->b, take, cg_i32(c, (int32_t)nt), arg, "");
      }
    if (!grad) {
      LLVMBuildStore(c->b, best, cg_gep(c, ft, yp, o));
    } else {
      LLVMValueRef g = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, gyp, o), "");
      LLVMValueRef zero = LLVMConstReal(ft, 0.0);
      for (int64_t t = 0; t < nt; t++) {
        LLVMValueRef hit = LLVMBuildICmp(c->b, LLVMIntEQ, arg, cg_i32(c, (int32_t)t), "");
        LLVMBuildStore(c->b, LLVMBuildSelect(c->b, hit, g, zero, ""), cg_gep(c, ft, yp, taps[t]));
      }
    }
  } else {
    LLVMValueRef best = LLVMConstReal(ft, -__builtin_inf()), arg = cg_i64(c, -1);
    for (int64_t i = 0; i < k[0]; i++)
      for (int64_t j = 0; j < k[1]; j++) {
        LLVMValueRef ih = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, oh, cg_i64(c, s[0]), ""), cg_i64(c, i * d[0] - p[0]), "");
        LLVMValueRef iw = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ow, cg_i64(c, s[1]), ""), cg_i64(c, j * d[1] - p[1]), "");
        LLVMValueRef ok = LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntULT, ih, cg_i64(c, H), ""),
                                       LLVMBuildICmp(c->b, LLVMIntULT, iw, cg_i64(c, W), ""), "");
        LLVMValueRef idx = LLVMBuildAdd(c->b, xb, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, ih, cg_i64(c, W), ""), iw, ""), "");
        idx = LLVMBuildSelect(c->b, ok, idx, xb, "");
        LLVMValueRef v = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, xp, idx), "");
        LLVMValueRef better = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, v, best, ""),
                                          LLVMBuildFCmp(c->b, LLVMRealUNO, v, v, ""), "");
        LLVMValueRef take = LLVMBuildAnd(c->b, ok, better, "");
        best = LLVMBuildSelect(c->b, take, v, best, "");
        if (grad) {
          LLVMValueRef first = LLVMBuildAnd(c->b, ok, LLVMBuildICmp(c->b, LLVMIntSLT, arg, cg_i64(c, 0), ""), "");
          arg = LLVMBuildSelect(c->b, LLVMBuildOr(c->b, take, first, ""), idx, arg, "");
        }
      }
    if (!grad) {
      LLVMBuildStore(c->b, best, cg_gep(c, ft, yp, o));
    } else {
      LLVMBasicBlockRef add = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "scatter");
      LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "next");
      LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGE, arg, cg_i64(c, 0), ""), add, next);
      LLVMPositionBuilderAtEnd(c->b, add);
      LLVMValueRef gp = cg_gep(c, ft, yp, arg);
      LLVMValueRef g = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, gyp, o), "");
      LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, ft, gp, ""), g, ""), gp);
      LLVMBuildBr(c->b, next);
      LLVMPositionBuilderAtEnd(c->b, next);
    }
  }
  cg_loop_end(c, &lw);
  cg_loop_end(c, &lh);
  cg_loop_end(c, &lp);
  int64_t per_plane = Ho * Wo * k[0] * k[1];
  int64_t grain = per_plane >= 16384 ? 1 : 16384 / (per_plane ? per_plane : 1);
  cg_kernel_end(c, &kern, planes, cg_i64(c, grain));
  return CT_OK;
}

/* conv2d_grad_weight(gy, x): per sample and group, gw_g [Og, Kc] += gy_g [Og, L] col^T.
 * conv2d_grad_input(gy, w): per sample and group, col [Kc, L] = W_g^T gy_g, then col2im adds
 * each column back to the taps it was gathered from. */
ct_status cg_lower_conv2d_grad(cg *c, const ct_node *n, int scratch) {
  conv_geom g;
  if (sizeof(blasint) != 4 || !conv_geometry(n, &g)) return CT_ERR_UNSUPPORTED;
  bool wgrad = n->op == CT_OP_CONV2D_GRAD_WEIGHT;
  bool direct = uses_direct(n, &g);
  ct_dtype dt = n->results[0]->type.dtype;
  int64_t es = (int64_t)ct_dtype_size(dt), L = g.Ho * g.Wo;
  int64_t max_parts = conv_parts(n, &g, direct, es), pe = part_elems(&g, direct);
  if (scratch < 0 && (!direct || max_parts > 1)) return CT_ERR_UNSUPPORTED;
  LLVMTypeRef ft = cg_elem_type(c, dt);
  LLVMValueRef gy = cg_value_ptr(c, ct_node_operand(n, 0)), other = cg_value_ptr(c, ct_node_operand(n, 1));
  LLVMValueRef out = cg_value_ptr(c, n->results[0]);
  LLVMValueRef scr = scratch >= 0 ? cg_slot_ptr(c, scratch) : NULL;
  /* conv2d_grad_weight's partial sums for parts 1.., after every part's columns. */
  LLVMValueRef partials = wgrad && max_parts > 1 ? byte_off(c, scr, cg_i64(c, max_parts * pe), es) : NULL;
  LLVMValueRef batch = cg_dim(c, ct_node_operand(n, 0)->type.dims[0]);
  LLVMValueRef out_bytes = LLVMBuildMul(c->b, cg_numel(c, &n->results[0]->type), cg_i64(c, es), "");
  LLVMBuildMemSet(c->b, out, LLVMConstInt(c->t_i8, 0, 0), out_bytes, 1);
  if (partials)
    LLVMBuildMemSet(c->b, partials, LLVMConstInt(c->t_i8, 0, 0), cg_i64(c, (max_parts - 1) * wgrad_elems(&g) * es), 1);
  conv_loop cl;
  LLVMValueRef s = conv_loop_begin(c, &cl, &g, batch, max_parts, wgrad ? "conv2d_grad_weight" : "conv2d_grad_input");
  gy = cg_kernel_capture(c, &cl.k, gy);
  other = cg_kernel_capture(c, &cl.k, other);
  LLVMValueRef out_k = cg_kernel_capture(c, &cl.k, out);
  LLVMValueRef col = direct ? NULL : byte_off(c, cg_kernel_capture(c, &cl.k, scr), LLVMBuildMul(c->b, cl.part0, cg_i64(c, pe), ""), es);
  LLVMValueRef acc = out_k; /* where this range's weight gradient accumulates */
  if (partials) {
    LLVMValueRef mine = byte_off(c, cg_kernel_capture(c, &cl.k, partials),
                                 LLVMBuildMul(c->b, LLVMBuildSub(c->b, cl.part0, cg_i64(c, 1), ""), cg_i64(c, wgrad_elems(&g)), ""), es);
    acc = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, cl.part0, cg_i64(c, 0), ""), out_k, mine, "acc");
  }
  LLVMValueRef gi = cl.group;
  LLVMValueRef gyg = byte_off(c, gy, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, s, cg_i64(c, g.O * L), ""),
                                                  LLVMBuildMul(c->b, gi, cg_i64(c, g.Og * L), ""), ""), es);
  LLVMValueRef img = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, s, cg_i64(c, g.C * g.H * g.W), ""),
                                  LLVMBuildMul(c->b, gi, cg_i64(c, g.Cg * g.H * g.W), ""), "");
  LLVMValueRef wofs = LLVMBuildMul(c->b, gi, cg_i64(c, g.Og * g.Kc), "");
  if (wgrad) {
    LLVMValueRef xg = byte_off(c, other, img, es);
    if (!direct) emit_cols(c, &g, dt, xg, col, false);
    gemm(c, dt, false, true, g.Og, g.Kc, L, gyg, L, direct ? xg : col, L, 1.0, byte_off(c, acc, wofs, es), g.Kc);
  } else {
    gemm(c, dt, true, false, g.Kc, L, g.Og, byte_off(c, other, wofs, es), g.Kc, gyg, L, 0.0, col, L);
    emit_cols(c, &g, dt, byte_off(c, out_k, img, es), col, true);
  }
  conv_loop_end(c, &cl);
  if (partials) { /* out += the other parts' sums (zero where a part was not a range's first) */
    cg_loop lp, li;
    LLVMValueRef p = cg_loop_begin(c, &lp, cg_i64(c, 0), cg_i64(c, max_parts - 1), "partial");
    LLVMValueRef base = LLVMBuildMul(c->b, p, cg_i64(c, wgrad_elems(&g)), "");
    LLVMValueRef i = cg_loop_begin(c, &li, cg_i64(c, 0), cg_i64(c, g.O * g.Kc), "i");
    LLVMValueRef dst = cg_gep(c, ft, out, i);
    LLVMValueRef v = LLVMBuildLoad2(c->b, ft, cg_gep(c, ft, partials, LLVMBuildAdd(c->b, base, i, "")), "");
    LLVMBuildStore(c->b, LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, ft, dst, ""), v, ""), dst);
    cg_loop_end(c, &li);
    cg_loop_end(c, &lp);
  }
  return CT_OK;
}
