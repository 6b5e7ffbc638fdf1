/* codegen/llvm/lower_fallback.c: the dynamic fallback. A node without a native lowering calls
 * the runtime's kernel through ct_kernel_run: the generated code builds ct_tensor views (with a
 * never-released ct_storage) over the node's operand and result pointers on its stack, and the
 * node's attributes as a ct_attr array, DIMS evaluated under the call's symbol values. */
#include <string.h>

#include "cg_internal.h"

static void store_field(cg *c, LLVMTypeRef st, LLVMValueRef base, unsigned field, LLVMValueRef v) {
  LLVMBuildStore(c->b, v, LLVMBuildStructGEP2(c->b, st, base, field, ""));
}

/* A ct_tensor view over data with v's type, evaluated under the current symbols. */
static LLVMValueRef tensor_view(cg *c, const ct_type *t, LLVMValueRef data) {
  const int64_t big = (int64_t)1 << 30; /* refcounts no kernel can drop to zero */
  LLVMValueRef storage = cg_entry_alloca(c, c->t_storage, "storage", 16);
  LLVMValueRef tensor = cg_entry_alloca(c, c->t_tensor, "tensor", 16);
  LLVMValueRef numel = cg_numel(c, t);
  store_field(c, c->t_storage, storage, 0, data);
  store_field(c, c->t_storage, storage, 1,
              LLVMBuildMul(c->b, numel, cg_i64(c, (int64_t)ct_dtype_size(t->dtype)), ""));
  store_field(c, c->t_storage, storage, 2, cg_i32(c, (int32_t)big));
  store_field(c, c->t_storage, storage, 3, LLVMConstNull(c->t_i8p));
  store_field(c, c->t_storage, storage, 4, LLVMConstNull(c->t_i8p));
  store_field(c, c->t_tensor, tensor, 0, cg_i32(c, (int32_t)t->dtype));
  store_field(c, c->t_tensor, tensor, 1, cg_i32(c, t->rank));
  LLVMValueRef shape = LLVMBuildStructGEP2(c->b, c->t_tensor, tensor, 2, "");
  LLVMValueRef strides = LLVMBuildStructGEP2(c->b, c->t_tensor, tensor, 3, "");
  LLVMTypeRef arr = LLVMArrayType(c->t_i64, CT_MAX_RANK);
  LLVMValueRef stride = cg_i64(c, 1);
  for (int i = CT_MAX_RANK - 1; i >= 0; i--) {
    LLVMValueRef idx[2] = {cg_i64(c, 0), cg_i64(c, i)};
    LLVMValueRef dim = i < t->rank ? cg_dim(c, t->dims[i]) : cg_i64(c, 1);
    LLVMBuildStore(c->b, dim, LLVMBuildInBoundsGEP2(c->b, arr, shape, idx, 2, ""));
    LLVMBuildStore(c->b, i < t->rank ? stride : cg_i64(c, 1),
                   LLVMBuildInBoundsGEP2(c->b, arr, strides, idx, 2, ""));
    if (i < t->rank) stride = LLVMBuildMul(c->b, stride, dim, "");
  }
  store_field(c, c->t_tensor, tensor, 4, cg_i64(c, 0));
  store_field(c, c->t_tensor, tensor, 5, storage);
  store_field(c, c->t_tensor, tensor, 6, cg_i32(c, (int32_t)big));
  return tensor;
}

static LLVMValueRef const_array(cg *c, LLVMTypeRef elem, LLVMValueRef *vals, int n) {
  LLVMValueRef init = LLVMConstArray(elem, vals, (unsigned)n);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), "attr.array");
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return LLVMBuildBitCast(c->b, g, c->t_i8p, "");
}

/* The attribute's union word as an i64. */
static LLVMValueRef attr_word(cg *c, const ct_attr *a) {
  switch (a->kind) {
  case CT_ATTR_INT:
  case CT_ATTR_BOOL: return cg_i64(c, a->u.i);
  case CT_ATTR_DTYPE: return cg_i64(c, (int64_t)a->u.dt);
  case CT_ATTR_FLOAT: return LLVMBuildBitCast(c->b, LLVMConstReal(c->t_f64, a->u.f), c->t_i64, "");
  case CT_ATTR_STR:
    return LLVMBuildPtrToInt(c->b, LLVMBuildGlobalStringPtr(c->b, a->u.s ? a->u.s : "", "attr.s"),
                             c->t_i64, "");
  case CT_ATTR_INTS:
  case CT_ATTR_FLOATS: {
    if (a->n == 0) return cg_i64(c, 0);
    LLVMValueRef vals[256];
    int n = a->n < 256 ? a->n : 256;
    for (int i = 0; i < n; i++)
      vals[i] = a->kind == CT_ATTR_INTS ? cg_i64(c, a->u.ints[i]) : LLVMConstReal(c->t_f64, a->u.floats[i]);
    LLVMValueRef arr = const_array(c, a->kind == CT_ATTR_INTS ? c->t_i64 : c->t_f64, vals, n);
    return LLVMBuildPtrToInt(c->b, arr, c->t_i64, "");
  }
  case CT_ATTR_DIMS: {
    if (a->n == 0) return cg_i64(c, 0);
    LLVMValueRef dims = cg_entry_alloca(c, LLVMArrayType(c->t_dim, (unsigned)a->n), "dims", 16);
    for (int i = 0; i < a->n; i++) {
      LLVMValueRef idx[2] = {cg_i64(c, 0), cg_i64(c, i)};
      LLVMValueRef d = LLVMBuildInBoundsGEP2(c->b, LLVMArrayType(c->t_dim, (unsigned)a->n), dims, idx, 2, "");
      store_field(c, c->t_dim, d, 0, cg_i64(c, 0));
      store_field(c, c->t_dim, d, 1, cg_dim(c, a->u.dims[i]));
      store_field(c, c->t_dim, d, 2, cg_i32(c, 0));
    }
    return LLVMBuildPtrToInt(c->b, dims, c->t_i64, "");
  }
  }
  return cg_i64(c, 0);
}

ct_status cg_lower_fallback(cg *c, const ct_node *n) {
  c->fell_back = true;
  if (n->n_operands > 64 || n->n_results > 16 || n->n_attrs > 32)
    return cg_error(c, n, "%s", "too many operands for the runtime fallback");
  for (int i = 0; i < n->n_operands; i++)
    if (ct_node_operand(n, i)->type.rank > CT_MAX_RANK || !cg_value_ptr(c, ct_node_operand(n, i)))
      return cg_error(c, n, "operand %d has no storage", i);
  cg_note_fallback(c, n->op);
  cg_emit_kernel_call(c, n);
  return CT_OK;
}

void cg_emit_kernel_call(cg *c, const ct_node *n) {
  int n_in = n->n_operands, n_out = n->n_results;
  LLVMTypeRef tp = LLVMPointerType(c->t_tensor, 0);
  LLVMTypeRef in_t = LLVMArrayType(tp, (unsigned)(n_in ? n_in : 1));
  LLVMTypeRef out_t = LLVMArrayType(tp, (unsigned)(n_out ? n_out : 1));
  LLVMValueRef ins = cg_entry_alloca(c, in_t, "in", 16);
  LLVMValueRef outs = cg_entry_alloca(c, out_t, "out", 16);
  LLVMValueRef ins0 = LLVMBuildBitCast(c->b, ins, LLVMPointerType(tp, 0), "");
  LLVMValueRef outs0 = LLVMBuildBitCast(c->b, outs, LLVMPointerType(tp, 0), "");
  for (int i = 0; i < n_in; i++) {
    const ct_value *v = ct_node_operand(n, i);
    LLVMValueRef t = tensor_view(c, &v->type, cg_value_ptr(c, v));
    LLVMBuildStore(c->b, t, LLVMBuildInBoundsGEP2(c->b, tp, ins0, (LLVMValueRef[]){cg_i64(c, i)}, 1, ""));
  }
  for (int i = 0; i < n_out; i++) {
    const ct_value *v = n->results[i];
    LLVMValueRef t = tensor_view(c, &v->type, cg_value_ptr(c, v));
    LLVMBuildStore(c->b, t, LLVMBuildInBoundsGEP2(c->b, tp, outs0, (LLVMValueRef[]){cg_i64(c, i)}, 1, ""));
  }
  int n_attrs = n->n_attrs;
  LLVMTypeRef attrs_t = LLVMArrayType(c->t_attr, (unsigned)(n_attrs ? n_attrs : 1));
  LLVMValueRef attrs = cg_entry_alloca(c, attrs_t, "attrs", 16);
  LLVMValueRef attrs0 = LLVMBuildBitCast(c->b, attrs, LLVMPointerType(c->t_attr, 0), "");
  for (int i = 0; i < n_attrs; i++) {
    const ct_attr *a = &n->attrs[i];
    LLVMValueRef e = LLVMBuildInBoundsGEP2(c->b, c->t_attr, attrs0, (LLVMValueRef[]){cg_i64(c, i)}, 1, "");
    store_field(c, c->t_attr, e, 0, LLVMBuildGlobalStringPtr(c->b, a->name, "attr.name"));
    store_field(c, c->t_attr, e, 1, cg_i32(c, (int32_t)a->kind));
    store_field(c, c->t_attr, e, 2, cg_i32(c, a->n));
    store_field(c, c->t_attr, e, 3, attr_word(c, a));
  }
  enum { ERR_SIZE = 400 };
  LLVMValueRef err = cg_entry_alloca(c, LLVMArrayType(c->t_i8, ERR_SIZE), "err", 16);
  LLVMValueRef err0 = LLVMBuildBitCast(c->b, err, c->t_i8p, "");
  LLVMBuildStore(c->b, LLVMConstInt(c->t_i8, 0, 0), err0);
  LLVMTypeRef kt_args[] = {c->t_i32, LLVMPointerType(c->t_attr, 0), c->t_i32, LLVMPointerType(tp, 0),
                           c->t_i32, LLVMPointerType(tp, 0), c->t_i32, c->t_i8p, c->t_i64};
  LLVMValueRef kr = cg_extern(c, "ct_kernel_run", LLVMFunctionType(c->t_i32, kt_args, 9, 0));
  LLVMValueRef args[] = {cg_i32(c, (int32_t)n->op), attrs0, cg_i32(c, n_attrs), ins0, cg_i32(c, n_in),
                         outs0, cg_i32(c, n_out), err0, cg_i64(c, ERR_SIZE)};
  char name[64];
  snprintf(name, sizeof name, "fallback.%s", ct_op_name(n->op));
  LLVMValueRef status = cg_call(c, kr, args, 9, name);
  cg_check_status(c, status, err0);
}
