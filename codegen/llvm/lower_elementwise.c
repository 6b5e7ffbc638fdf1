/* codegen/llvm/lower_elementwise.c: elementwise ops and fusion nodes. A run of elementwise
 * nodes becomes one loop nest over the broadcast shape: dims of size 1 drop out, adjacent dims
 * with the same broadcast pattern in every operand collapse, the innermost loop has unit or zero
 * strides (what the loop vectorizer wants), and the outermost loop is split over the runtime's
 * thread pool. Every value of the run lives in registers; only the run's outputs are stored.
 * A fusion body is cut into such runs and the other nodes between them. */
#include <math.h>
#include <string.h>

#include "cg_internal.h"

/* ---- scalars ---- */

static bool is_float(ct_dtype dt) { return dt == CT_DT_F32 || dt == CT_DT_F64; }
static bool is_int(ct_dtype dt) { return dt == CT_DT_I64 || dt == CT_DT_I32; }
static bool native_dtype(ct_dtype dt) { return is_float(dt) || is_int(dt) || dt == CT_DT_BOOL; }

static LLVMTypeRef scalar_type(cg *c, ct_dtype dt) {
  return dt == CT_DT_BOOL ? c->t_i1 : cg_elem_type(c, dt);
}

bool cg_ew_supported(cg *c, const ct_node *n) {
  (void)c;
  if (n->op == CT_OP_CONSTANT) {
    const ct_attr *d = ct_node_attr(n, "data");
    return native_dtype(n->results[0]->type.dtype) && (!d || d->n <= 1);
  }
  if (ct_op_table[n->op].cls != CT_OPC_ELEMENTWISE || n->n_results != 1) return false;
  for (int i = 0; i < n->n_operands; i++)
    if (!native_dtype(ct_node_operand(n, i)->type.dtype)) return false;
  if (!native_dtype(n->results[0]->type.dtype)) return false;
  ct_dtype dt = ct_node_operand(n, 0)->type.dtype;
  switch (n->op) {
  case CT_OP_NEG:
  case CT_OP_ABS:
  case CT_OP_SIGN:
  case CT_OP_RELU: return dt != CT_DT_BOOL;
  case CT_OP_GELU: {
    const ct_attr *a = ct_node_attr(n, "approximate");
    const char *s = a && a->kind == CT_ATTR_STR ? a->u.s : "none";
    return is_float(dt) && (strcmp(s, "none") == 0 || strcmp(s, "tanh") == 0);
  }
  case CT_OP_EXP:
  case CT_OP_LOG:
  case CT_OP_SQRT:
  case CT_OP_RSQRT:
  case CT_OP_TANH:
  case CT_OP_SIGMOID:
  case CT_OP_SILU:
  case CT_OP_ERF:
  case CT_OP_DIV:
  case CT_OP_POW: return is_float(dt);
  case CT_OP_ADD:
  case CT_OP_SUB:
  case CT_OP_MUL:
  case CT_OP_MAXIMUM:
  case CT_OP_MINIMUM: return dt != CT_DT_BOOL;
  case CT_OP_LOGICAL_AND:
  case CT_OP_LOGICAL_OR:
  case CT_OP_LOGICAL_NOT: return dt == CT_DT_BOOL;
  case CT_OP_WHERE: return dt == CT_DT_BOOL;
  default: return true; /* comparisons and cast */
  }
}

static LLVMValueRef intrinsic(cg *c, const char *name, LLVMTypeRef t, LLVMValueRef *args, unsigned n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
  return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &t, 1), f, args, n, "");
}

static LLVMValueRef libm(cg *c, const char *f32_name, const char *f64_name, LLVMTypeRef t,
                         LLVMValueRef x) {
  const char *name = t == c->t_f32 ? f32_name : f64_name;
  LLVMValueRef f = cg_extern(c, name, LLVMFunctionType(t, &t, 1, 0));
  return cg_call(c, f, &x, 1, "");
}

static LLVMValueRef fconst(LLVMTypeRef t, double v) { return LLVMConstReal(t, v); }

/* exp for f32 as inline code the loop vectorizer can widen (a libm call it cannot): Cephes'
 * expf, 2^n * p(r) with r = x - n ln2 in two parts, about 1 ulp; results below FLT_MIN flush
 * to 0, overflow gives +inf, NaN stays NaN. f64 keeps llvm.exp (libm). */
LLVMValueRef cg_exp(cg *c, LLVMTypeRef t, LLVMValueRef x) {
  if (t != c->t_f32) return intrinsic(c, "llvm.exp", t, &x, 1);
  LLVMBuilderRef b = c->b;
  LLVMValueRef hi = fconst(t, 88.3762626647949), lo = fconst(t, -87.3365478515625);
  LLVMValueRef xc = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, hi, ""), hi, x, "");
  xc = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, xc, lo, ""), lo, xc, "");
  LLVMValueRef fx = LLVMBuildFAdd(b, LLVMBuildFMul(b, xc, fconst(t, 1.44269504088896341), ""), fconst(t, 0.5), "");
  LLVMValueRef n = intrinsic(c, "llvm.floor", t, &fx, 1);
  LLVMValueRef r = LLVMBuildFSub(b, xc, LLVMBuildFMul(b, n, fconst(t, 0.693359375), ""), "");
  r = LLVMBuildFSub(b, r, LLVMBuildFMul(b, n, fconst(t, -2.12194440e-4), ""), "");
  static const double coef[] = {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3,
                                4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1};
  LLVMValueRef p = fconst(t, coef[0]);
  for (int i = 1; i < 6; i++) p = LLVMBuildFAdd(b, LLVMBuildFMul(b, p, r, ""), fconst(t, coef[i]), "");
  p = LLVMBuildFAdd(b, LLVMBuildFAdd(b, LLVMBuildFMul(b, p, LLVMBuildFMul(b, r, r, ""), ""), r, ""), fconst(t, 1.0), "");
  LLVMValueRef ni = LLVMBuildFPToSI(b, n, c->t_i32, "");
  LLVMValueRef bits = LLVMBuildShl(b, LLVMBuildAdd(b, ni, cg_i32(c, 127), ""), cg_i32(c, 23), "");
  LLVMValueRef y = LLVMBuildFMul(b, p, LLVMBuildBitCast(b, bits, t, ""), "");
  y = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, hi, ""), fconst(t, __builtin_inf()), y, "");
  y = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, lo, ""), fconst(t, 0.0), y, "");
  return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, x, x, ""), x, y, "");
}

static LLVMValueRef sigmoid(cg *c, LLVMTypeRef t, LLVMValueRef x) {
  LLVMValueRef e = cg_exp(c, t, LLVMBuildFNeg(c->b, x, ""));
  return LLVMBuildFDiv(c->b, fconst(t, 1.0), LLVMBuildFAdd(c->b, fconst(t, 1.0), e, ""), "");
}

static LLVMValueRef cast_scalar(cg *c, LLVMValueRef x, ct_dtype from, ct_dtype to) {
  LLVMTypeRef tt = scalar_type(c, to);
  if (from == to) return x;
  if (is_float(from)) {
    if (is_float(to)) return to == CT_DT_F64 ? LLVMBuildFPExt(c->b, x, tt, "") : LLVMBuildFPTrunc(c->b, x, tt, "");
    if (to == CT_DT_BOOL) return LLVMBuildFCmp(c->b, LLVMRealUNE, x, fconst(LLVMTypeOf(x), 0.0), "");
    /* The runtime saturates and maps NaN to 0 (ct_k_d_to_i), then wraps to i32. */
    LLVMTypeRef it = c->t_i64;
    unsigned id = LLVMLookupIntrinsicID("llvm.fptosi.sat", 15);
    LLVMTypeRef ov[2] = {it, LLVMTypeOf(x)};
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, ov, 2);
    LLVMValueRef v = LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, ov, 2), f, &x, 1, "");
    return to == CT_DT_I32 ? LLVMBuildTrunc(c->b, v, tt, "") : v;
  }
  if (from == CT_DT_BOOL) return is_float(to) ? LLVMBuildUIToFP(c->b, x, tt, "") : LLVMBuildZExt(c->b, x, tt, "");
  /* from an integer */
  if (is_float(to)) return LLVMBuildSIToFP(c->b, x, tt, "");
  if (to == CT_DT_BOOL) return LLVMBuildICmp(c->b, LLVMIntNE, x, LLVMConstNull(LLVMTypeOf(x)), "");
  return to == CT_DT_I64 ? LLVMBuildSExt(c->b, x, tt, "") : LLVMBuildTrunc(c->b, x, tt, "");
}

static LLVMValueRef compare(cg *c, ct_op op, ct_dtype dt, LLVMValueRef x, LLVMValueRef y) {
  if (is_float(dt)) {
    LLVMRealPredicate p = op == CT_OP_EQ   ? LLVMRealOEQ
                          : op == CT_OP_NE ? LLVMRealUNE
                          : op == CT_OP_LT ? LLVMRealOLT
                          : op == CT_OP_LE ? LLVMRealOLE
                          : op == CT_OP_GT ? LLVMRealOGT
                                           : LLVMRealOGE;
    return LLVMBuildFCmp(c->b, p, x, y, "");
  }
  bool u = dt == CT_DT_BOOL;
  LLVMIntPredicate p = op == CT_OP_EQ   ? LLVMIntEQ
                       : op == CT_OP_NE ? LLVMIntNE
                       : op == CT_OP_LT ? (u ? LLVMIntULT : LLVMIntSLT)
                       : op == CT_OP_LE ? (u ? LLVMIntULE : LLVMIntSLE)
                       : op == CT_OP_GT ? (u ? LLVMIntUGT : LLVMIntSGT)
                                        : (u ? LLVMIntUGE : LLVMIntSGE);
  return LLVMBuildICmp(c->b, p, x, y, "");
}

/* The result of n from its operands' scalars (in their compute types). */
static LLVMValueRef emit_scalar(cg *c, const ct_node *n, LLVMValueRef *in) {
  ct_dtype out = n->results[0]->type.dtype;
  LLVMTypeRef t = scalar_type(c, out);
  if (n->op == CT_OP_CONSTANT) {
    const ct_attr *d = ct_node_attr(n, "data");
    double v = d && d->n == 1 ? d->u.floats[0] : ct_node_attr_float(n, "value", 0.0);
    if (is_float(out)) return fconst(t, v);
    if (out == CT_DT_BOOL) return LLVMConstInt(c->t_i1, v != 0, 0);
    int64_t iv = v != v ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
    return LLVMConstInt(t, (unsigned long long)iv, 1);
  }
  ct_dtype dt = ct_node_operand(n, 0)->type.dtype;
  LLVMValueRef x = in[0], y = n->n_operands > 1 ? in[1] : NULL;
  bool f = is_float(dt);
  LLVMTypeRef xt = scalar_type(c, dt);
  switch (n->op) {
  case CT_OP_DROPOUT: return x; /* the identity (training graphs multiply by dropout_mask) */
  case CT_OP_NEG: return f ? LLVMBuildFNeg(c->b, x, "") : LLVMBuildSub(c->b, LLVMConstNull(xt), x, "");
  case CT_OP_ABS:
    if (f) return intrinsic(c, "llvm.fabs", t, &x, 1);
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, x, LLVMConstNull(xt), ""),
                           LLVMBuildSub(c->b, LLVMConstNull(xt), x, ""), x, "");
  case CT_OP_EXP: return cg_exp(c, t, x);
  case CT_OP_LOG: return intrinsic(c, "llvm.log", t, &x, 1);
  case CT_OP_SQRT: return intrinsic(c, "llvm.sqrt", t, &x, 1);
  case CT_OP_RSQRT: return LLVMBuildFDiv(c->b, fconst(t, 1.0), intrinsic(c, "llvm.sqrt", t, &x, 1), "");
  case CT_OP_TANH: return libm(c, "tanhf", "tanh", t, x);
  case CT_OP_ERF: return libm(c, "erff", "erf", t, x);
  case CT_OP_SIGMOID: return sigmoid(c, t, x);
  case CT_OP_SILU: return LLVMBuildFMul(c->b, x, sigmoid(c, t, x), "");
  case CT_OP_RELU:
    if (f) /* x > 0 or NaN keeps x */
      return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUGT, x, fconst(t, 0.0), ""), x,
                             fconst(t, 0.0), "");
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, x, LLVMConstNull(xt), ""), x,
                           LLVMConstNull(xt), "");
  case CT_OP_SIGN:
    if (f) {
      LLVMValueRef neg = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOLT, x, fconst(t, 0.0), ""),
                                         fconst(t, -1.0), x, "");
      return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, x, fconst(t, 0.0), ""),
                             fconst(t, 1.0), neg, "");
    } else {
      LLVMValueRef neg = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, x, LLVMConstNull(xt), ""),
                                         LLVMConstInt(xt, (unsigned long long)-1, 1), LLVMConstNull(xt), "");
      return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, x, LLVMConstNull(xt), ""),
                             LLVMConstInt(xt, 1, 0), neg, "");
    }
  case CT_OP_GELU: {
    const ct_attr *a = ct_node_attr(n, "approximate");
    bool th = a && a->kind == CT_ATTR_STR && strcmp(a->u.s, "tanh") == 0;
    LLVMValueRef inner;
    if (th) {
      LLVMValueRef x3 = LLVMBuildFMul(c->b, LLVMBuildFMul(c->b, x, x, ""), x, "");
      LLVMValueRef s = LLVMBuildFAdd(c->b, x, LLVMBuildFMul(c->b, fconst(t, 0.044715), x3, ""), "");
      inner = libm(c, "tanhf", "tanh", t, LLVMBuildFMul(c->b, fconst(t, 0.7978845608028654), s, ""));
    } else {
      inner = libm(c, "erff", "erf", t, LLVMBuildFMul(c->b, x, fconst(t, 0.7071067811865476), ""));
    }
    LLVMValueRef half = LLVMBuildFMul(c->b, fconst(t, 0.5), x, "");
    return LLVMBuildFMul(c->b, half, LLVMBuildFAdd(c->b, fconst(t, 1.0), inner, ""), "");
  }
  case CT_OP_CAST: return cast_scalar(c, x, dt, out);
  case CT_OP_ADD: return f ? LLVMBuildFAdd(c->b, x, y, "") : LLVMBuildAdd(c->b, x, y, "");
  case CT_OP_SUB: return f ? LLVMBuildFSub(c->b, x, y, "") : LLVMBuildSub(c->b, x, y, "");
  case CT_OP_MUL: return f ? LLVMBuildFMul(c->b, x, y, "") : LLVMBuildMul(c->b, x, y, "");
  case CT_OP_DIV: return LLVMBuildFDiv(c->b, x, y, "");
  case CT_OP_POW: return intrinsic(c, "llvm.pow", t, (LLVMValueRef[]){x, y}, 2);
  case CT_OP_MAXIMUM:
  case CT_OP_MINIMUM: {
    bool mx = n->op == CT_OP_MAXIMUM;
    if (!f)
      return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, mx ? LLVMIntSGT : LLVMIntSLT, x, y, ""), x, y, "");
    /* NaN in either operand gives NaN (x + y carries it), as the runtime does. */
    LLVMValueRef pick = LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, mx ? LLVMRealOGT : LLVMRealOLT, x, y, ""), x, y, "");
    return LLVMBuildSelect(c->b, LLVMBuildFCmp(c->b, LLVMRealUNO, x, y, ""), LLVMBuildFAdd(c->b, x, y, ""), pick, "");
  }
  case CT_OP_EQ:
  case CT_OP_NE:
  case CT_OP_LT:
  case CT_OP_LE:
  case CT_OP_GT:
  case CT_OP_GE: return compare(c, n->op, dt, x, y);
  case CT_OP_LOGICAL_AND: return LLVMBuildAnd(c->b, x, y, "");
  case CT_OP_LOGICAL_OR: return LLVMBuildOr(c->b, x, y, "");
  case CT_OP_LOGICAL_NOT: return LLVMBuildXor(c->b, x, LLVMConstInt(c->t_i1, 1, 0), "");
  case CT_OP_WHERE: return LLVMBuildSelect(c->b, x, y, in[2], "");
  default: return NULL;
  }
}

/* ---- loop nests ---- */

typedef struct ew_operand {
  const ct_value *v;
  LLVMValueRef ptr; /* caller's pointer, then the kernel's */
  bool store;
  bool bcast[CT_MAX_RANK]; /* per loop dim */
  LLVMValueRef stride[CT_MAX_RANK]; /* per group, in elements (caller values) */
  LLVMValueRef off;                 /* element offset at the current loop level */
} ew_operand;

enum { EW_MAX_OPERANDS = 24 };

static void broadcast_flags(const ct_type *loop, const ct_type *t, bool *flags) {
  int lead = loop->rank - t->rank;
  for (int d = 0; d < loop->rank; d++) {
    int od = d - lead;
    bool loop_one = !loop->dims[d].sym && loop->dims[d].off == 1;
    flags[d] = od < 0 || (!loop_one && !t->dims[od].sym && t->dims[od].off == 1);
  }
}

static bool in_run(const ct_node *const *nodes, int n, const ct_node *def) {
  for (int i = 0; i < n; i++)
    if (nodes[i] == def) return true;
  return false;
}

ct_status cg_emit_ew_run(cg *c, const ct_node *const *nodes, int n, const ct_value *const *outs,
                         LLVMValueRef const *out_ptrs, int n_outs) {
  /* The loop shape: the broadcast of every value the run defines or stores. */
  ct_type loop = n > 0 ? nodes[0]->results[0]->type : outs[0]->type;
  for (int i = 0; i < n; i++)
    if (!ct_broadcast_shapes(&loop, &nodes[i]->results[0]->type, &loop))
      return cg_error(c, nodes[i], "%s", "operand shapes do not broadcast in the fused loop");
  for (int i = 0; i < n_outs; i++)
    if (!ct_broadcast_shapes(&loop, &outs[i]->type, &loop))
      return cg_error(c, NULL, "%s", "fused results do not broadcast to one loop shape");

  ew_operand ops[EW_MAX_OPERANDS];
  int n_ops = 0;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < nodes[i]->n_operands; k++) {
      const ct_value *v = ct_node_operand(nodes[i], k);
      if (v->def && in_run(nodes, n, v->def)) continue;
      bool seen = false;
      for (int j = 0; j < n_ops; j++) seen |= ops[j].v == v && !ops[j].store;
      if (seen) continue;
      if (n_ops == EW_MAX_OPERANDS) return CT_ERR_UNSUPPORTED;
      memset(&ops[n_ops], 0, sizeof ops[n_ops]);
      ops[n_ops].v = v;
      ops[n_ops].ptr = cg_value_ptr(c, v);
      if (!ops[n_ops].ptr) return cg_error(c, nodes[i], "operand %d has no storage", k);
      n_ops++;
    }
  /* Outputs that are operands of nothing in the run (pass-through values) load first. */
  for (int i = 0; i < n_outs; i++) {
    const ct_value *v = outs[i];
    if (!(v->def && in_run(nodes, n, v->def))) {
      bool seen = false;
      for (int j = 0; j < n_ops; j++) seen |= ops[j].v == v && !ops[j].store;
      if (!seen) {
        if (n_ops == EW_MAX_OPERANDS) return CT_ERR_UNSUPPORTED;
        memset(&ops[n_ops], 0, sizeof ops[n_ops]);
        ops[n_ops].v = v;
        ops[n_ops].ptr = cg_value_ptr(c, v);
        n_ops++;
      }
    }
  }
  int n_loads = n_ops;
  for (int i = 0; i < n_outs; i++) {
    if (n_ops == EW_MAX_OPERANDS) return CT_ERR_UNSUPPORTED;
    memset(&ops[n_ops], 0, sizeof ops[n_ops]);
    ops[n_ops].v = outs[i];
    ops[n_ops].ptr = out_ptrs[i];
    ops[n_ops].store = true;
    n_ops++;
  }
  for (int k = 0; k < n_ops; k++) broadcast_flags(&loop, &ops[k].v->type, ops[k].bcast);

  /* Groups of loop dims: size-1 dims drop out; neighbours with equal flags merge. */
  int gfirst[CT_MAX_RANK], glast[CT_MAX_RANK], ng = 0;
  for (int d = 0; d < loop.rank; d++) {
    if (!loop.dims[d].sym && loop.dims[d].off == 1) continue;
    bool merge = ng > 0;
    for (int k = 0; merge && k < n_ops; k++) merge = ops[k].bcast[d] == ops[k].bcast[glast[ng - 1]];
    if (merge) {
      glast[ng - 1] = d;
    } else {
      gfirst[ng] = glast[ng] = d;
      ng++;
    }
  }
  LLVMValueRef gsize[CT_MAX_RANK];
  for (int g = 0; g < ng; g++) {
    gsize[g] = cg_i64(c, 1);
    for (int d = gfirst[g]; d <= glast[g]; d++) gsize[g] = LLVMBuildMul(c->b, gsize[g], cg_dim(c, loop.dims[d]), "");
  }
  for (int k = 0; k < n_ops; k++) {
    const ct_type *t = &ops[k].v->type;
    int lead = loop.rank - t->rank;
    for (int g = 0; g < ng; g++) {
      if (ops[k].bcast[glast[g]]) {
        ops[k].stride[g] = cg_i64(c, 0);
        continue;
      }
      LLVMValueRef s = cg_i64(c, 1);
      for (int od = glast[g] - lead + 1; od < t->rank; od++) s = LLVMBuildMul(c->b, s, cg_dim(c, t->dims[od]), "");
      ops[k].stride[g] = s;
    }
  }

  cg_kernel k;
  memset(&k, 0, sizeof k);
  bool par = ng > 0;
  LLVMValueRef inner = cg_i64(c, 1);
  for (int g = 1; g < ng; g++) inner = LLVMBuildMul(c->b, inner, gsize[g], "");
  if (par) {
    cg_kernel_begin(c, &k, "ew");
    for (int j = 0; j < n_ops; j++) ops[j].ptr = cg_kernel_capture(c, &k, ops[j].ptr);
    for (int g = 1; g < ng; g++) gsize[g] = cg_kernel_capture(c, &k, gsize[g]);
    for (int j = 0; j < n_ops; j++)
      for (int g = 0; g + 1 < ng; g++) ops[j].stride[g] = cg_kernel_capture(c, &k, ops[j].stride[g]);
  }
  cg_loop loops[CT_MAX_RANK];
  for (int j = 0; j < n_ops; j++) ops[j].off = cg_i64(c, 0);
  for (int g = 0; g < ng; g++) {
    LLVMValueRef iv = g == 0 ? cg_loop_begin(c, &loops[g], k.begin, k.end, "i0")
                             : cg_loop_begin(c, &loops[g], cg_i64(c, 0), gsize[g], "i");
    for (int j = 0; j < n_ops; j++) {
      LLVMValueRef s = ops[j].stride[g];
      if (g == ng - 1) s = cg_i64(c, ops[j].bcast[glast[g]] ? 0 : 1); /* constant: vectorizable */
      LLVMValueRef step = LLVMBuildNSWMul(c->b, iv, s, "");
      ops[j].off = LLVMBuildNSWAdd(c->b, ops[j].off, step, "");
    }
  }
  /* The body: loads, the run's nodes in order, stores. */
  const ct_value *keys[EW_MAX_OPERANDS + 64];
  LLVMValueRef vals[EW_MAX_OPERANDS + 64];
  int n_vals = 0;
  ct_status st = CT_OK;
  for (int j = 0; j < n_loads; j++) {
    ct_dtype dt = ops[j].v->type.dtype;
    LLVMTypeRef et = cg_elem_type(c, dt);
    LLVMValueRef x = LLVMBuildLoad2(c->b, et, cg_gep(c, et, ops[j].ptr, ops[j].off), "");
    if (dt == CT_DT_BOOL) x = LLVMBuildICmp(c->b, LLVMIntNE, x, LLVMConstInt(c->t_i8, 0, 0), "");
    keys[n_vals] = ops[j].v;
    vals[n_vals++] = x;
  }
  for (int i = 0; i < n && st == CT_OK; i++) {
    LLVMValueRef in[3] = {0};
    for (int a = 0; a < nodes[i]->n_operands && a < 3; a++)
      for (int j = n_vals - 1; j >= 0; j--)
        if (keys[j] == ct_node_operand(nodes[i], a)) {
          in[a] = vals[j];
          break;
        }
    LLVMValueRef r = emit_scalar(c, nodes[i], in);
    if (!r || n_vals == EW_MAX_OPERANDS + 64) {
      st = cg_error(c, nodes[i], "%s", "no scalar lowering");
      break;
    }
    keys[n_vals] = nodes[i]->results[0];
    vals[n_vals++] = r;
  }
  for (int j = n_loads; j < n_ops && st == CT_OK; j++) {
    LLVMValueRef x = NULL;
    for (int i = n_vals - 1; i >= 0 && !x; i--)
      if (keys[i] == ops[j].v) x = vals[i];
    ct_dtype dt = ops[j].v->type.dtype;
    if (dt == CT_DT_BOOL) x = LLVMBuildZExt(c->b, x, c->t_i8, "");
    LLVMTypeRef et = cg_elem_type(c, dt);
    LLVMBuildStore(c->b, x, cg_gep(c, et, ops[j].ptr, ops[j].off));
  }
  for (int g = ng - 1; g >= 0; g--) cg_loop_end(c, &loops[g]);
  if (par) {
    /* About 32k elements per task: below that the pool's hand-off costs more than it saves. */
    LLVMValueRef grain = LLVMBuildSDiv(c->b, cg_i64(c, 32768), inner, "");
    grain = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, grain, cg_i64(c, 1), ""), cg_i64(c, 1), grain, "");
    cg_kernel_end(c, &k, gsize[0], grain);
  }
  return st;
}

ct_status cg_lower_elementwise(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  if (!cg_ew_supported(c, n)) return CT_ERR_UNSUPPORTED;
  const ct_value *out = n->results[0];
  LLVMValueRef ptr = cg_value_ptr(c, out);
  return cg_emit_ew_run(c, &n, 1, &out, &ptr, 1);
}

/* ---- fusion ---- */

/* Run ids of the body's nodes: consecutive lowerable elementwise nodes share one. */
static int body_runs(cg *c, const ct_block *body, const ct_node **nodes, int *run, int max) {
  int n = 0, id = 0;
  bool prev_ew = false;
  for (const ct_node *k = body->first; k && k->op != CT_OP_RETURN; k = k->next) {
    if (n == max) return -1;
    bool ew = cg_ew_supported(c, k);
    if (!(ew && prev_ew)) id++;
    nodes[n] = k;
    run[n++] = id;
    prev_ew = ew;
  }
  return n;
}

static int node_index(const ct_node *const *nodes, int n, const ct_node *k) {
  for (int i = 0; i < n; i++)
    if (nodes[i] == k) return i;
  return -1;
}

/* Whether v (defined by nodes[i]) is needed outside its run: by a later run or node, or the
 * body's return. */
static bool escapes(const ct_node *const *nodes, const int *run, int n, int i, const ct_value *v) {
  for (const ct_use *u = v->uses; u; u = u->next) {
    int j = node_index(nodes, n, u->user);
    if (j < 0 || run[j] != run[i]) return true;
  }
  return false;
}

static bool returned(const ct_block *body, const ct_value *v) {
  const ct_node *ret = body->last;
  for (int i = 0; ret && i < ret->n_operands; i++)
    if (ct_node_operand(ret, i) == v) return true;
  return false;
}

enum { FUSION_MAX_NODES = 256 };

/* A GEMM/conv epilogue whose first node's result feeds only the elementwise run right after it,
 * which computes the fusion's single result of the same type: the library op writes straight
 * into the result buffer and the run updates it in place (same index read, then written). */
static const ct_value *in_place_epilogue(cg *c, const ct_node *n, const ct_node *const *nodes,
                                         const int *run, int nn) {
  if (nn < 2 || n->n_results != 1 || cg_ew_supported(c, nodes[0]) || !cg_ew_supported(c, nodes[1]))
    return NULL;
  const ct_value *r0 = nodes[0]->results[0];
  if (nodes[0]->n_results != 1 || returned(n->body, r0) || !ct_type_eq(&r0->type, &n->results[0]->type))
    return NULL;
  for (const ct_use *u = r0->uses; u; u = u->next) {
    int j = node_index(nodes, nn, u->user);
    if (j < 0 || run[j] != run[1]) return NULL;
  }
  const ct_value *out = ct_node_operand(n->body->last, 0);
  int j = out->def ? node_index(nodes, nn, out->def) : -1;
  if (j < 0 || run[j] != run[1]) return NULL;
  /* Not when the plan lets the result reuse an operand's bytes: the library op reads those. */
  const ct_buffer *buf = c->g->plan ? ct_mem_plan_find(c->g->plan, n->results[0]) : NULL;
  for (int i = 0; buf && buf->shares_with && i < n->n_operands; i++)
    if (buf->shares_with == ct_node_operand(n, i)) return NULL;
  /* The run must not store anything else (one output: the result). */
  for (int k = 1; k < nn && run[k] == run[1]; k++)
    if (nodes[k]->results[0] != out && escapes(nodes, run, nn, k, nodes[k]->results[0])) return NULL;
  return r0;
}

ct_status cg_prepare_fusion(cg *c, const ct_node *n, int *scratch) {
  *scratch = -1;
  if (!n->body) return cg_error(c, n, "%s", "fusion without a body");
  const ct_node *nodes[FUSION_MAX_NODES] = {0};
  int run[FUSION_MAX_NODES] = {0};
  int nn = body_runs(c, n->body, nodes, run, FUSION_MAX_NODES);
  if (nn < 0) return cg_error(c, n, "%s", "fusion body too large");
  const ct_value *in_place = in_place_epilogue(c, n, nodes, run, nn);
  for (int i = 0; i < nn; i++) {
    bool ew = cg_ew_supported(c, nodes[i]);
    for (int r = 0; r < nodes[i]->n_results; r++) {
      const ct_value *v = nodes[i]->results[r];
      if (v == in_place || returned(n->body, v) || (ew && !escapes(nodes, run, nn, i, v))) continue;
      cg_value_set_slot(c, v, cg_scratch_slot(c, (int64_t)ct_dtype_size(v->type.dtype), v->type.rank, v->type.dims));
    }
    if (!ew) {
      int s;
      ct_status st = cg_prepare_node(c, nodes[i], &s);
      if (st != CT_OK) return st;
      cg_value_set_scratch(c, nodes[i]->results[0], s);
    }
  }
  return CT_OK;
}

ct_status cg_lower_fusion(cg *c, const ct_node *n, int scratch) {
  (void)scratch;
  const ct_block *body = n->body;
  const ct_node *ret = body->last;
  if (!ret || ret->op != CT_OP_RETURN || ret->n_operands != n->n_results || body->n_params != n->n_operands)
    return cg_error(c, n, "%s", "malformed fusion body");
  for (int i = 0; i < body->n_params; i++) cg_value_set_ptr(c, body->params[i], cg_value_ptr(c, ct_node_operand(n, i)));
  for (int i = 0; i < ret->n_operands; i++) {
    const ct_value *v = ct_node_operand(ret, i);
    if (v->def && !cg_value_ptr(c, v)) cg_value_set_ptr(c, v, cg_value_ptr(c, n->results[i]));
  }
  const ct_node *nodes[FUSION_MAX_NODES] = {0};
  int run[FUSION_MAX_NODES] = {0};
  int nn = body_runs(c, body, nodes, run, FUSION_MAX_NODES);
  if (nn < 0) return cg_error(c, n, "%s", "fusion body too large");
  const ct_value *in_place = in_place_epilogue(c, n, nodes, run, nn);
  if (in_place) cg_value_set_ptr(c, in_place, cg_value_ptr(c, n->results[0]));
  ct_status st = CT_OK;
  for (int i = 0; i < nn && st == CT_OK;) {
    if (!cg_ew_supported(c, nodes[i])) {
      st = cg_lower_node(c, nodes[i], cg_value_scratch(c, nodes[i]->results[0]));
      i++;
      continue;
    }
    int j = i;
    while (j < nn && run[j] == run[i]) j++;
    const ct_value *outs[FUSION_MAX_NODES];
    LLVMValueRef ptrs[FUSION_MAX_NODES];
    int n_outs = 0;
    for (int k = i; k < j; k++)
      if (escapes(nodes, run, nn, k, nodes[k]->results[0])) {
        outs[n_outs] = nodes[k]->results[0];
        ptrs[n_outs++] = cg_value_ptr(c, nodes[k]->results[0]);
      }
    if (n_outs) st = cg_emit_ew_run(c, &nodes[i], j - i, outs, ptrs, n_outs);
    i = j;
  }
  /* Results computed elsewhere: a body parameter, or one value returned twice. */
  for (int i = 0; i < ret->n_operands && st == CT_OK; i++) {
    const ct_value *v = ct_node_operand(ret, i);
    LLVMValueRef src = cg_value_ptr(c, v), dst = cg_value_ptr(c, n->results[i]);
    if (src == dst) continue;
    LLVMValueRef bytes = LLVMBuildMul(c->b, cg_numel(c, &v->type), cg_i64(c, (int64_t)ct_dtype_size(v->type.dtype)), "");
    LLVMBuildMemCpy(c->b, dst, 1, src, 1, bytes);
  }
  return st;
}
