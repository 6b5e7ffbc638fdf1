/* codegen/llvm/entry.c: one graph becomes the entry `<name>_<graph>_call(const ct_abi_call *)`
 * and `<name>_<graph>_workspace_size(const int64_t *syms)` of docs/abi.md. Decides where every
 * value lives (a graph argument, a result buffer, an alias of its operand, or a workspace slot
 * at the memory plan's offset or after it), then lowers the nodes in schedule order. */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

/* ---- the value map ---- */

static cg_vmap_entry *vmap_find(cg *c, const ct_value *v, bool insert) {
  size_t mask = c->vmap_cap - 1;
  for (size_t i = ct_hash_ptr(v) & mask;; i = (i + 1) & mask) {
    if (c->vmap[i].key == v) return &c->vmap[i];
    if (!c->vmap[i].key) {
      if (!insert) return NULL;
      c->vmap[i].key = v;
      c->vmap[i].slot = -1;
      c->vmap[i].result = -1;
      c->vmap[i].scratch = -1;
      return &c->vmap[i];
    }
  }
}

LLVMValueRef cg_value_ptr(cg *c, const ct_value *v) {
  cg_vmap_entry *e = vmap_find(c, v, false);
  if (!e) return NULL;
  if (!e->ptr && e->slot >= 0) e->ptr = c->slot_ptrs[e->slot];
  return e->ptr;
}

void cg_value_set_ptr(cg *c, const ct_value *v, LLVMValueRef ptr) { vmap_find(c, v, true)->ptr = ptr; }

void cg_value_set_slot(cg *c, const ct_value *v, int slot) { vmap_find(c, v, true)->slot = slot; }

static int add_slot(cg *c, const cg_slot *s) {
  if (c->n_slots == c->cap_slots) {
    c->cap_slots = c->cap_slots ? 2 * c->cap_slots : 32;
    c->slots = realloc(c->slots, (size_t)c->cap_slots * sizeof *c->slots);
    if (!c->slots) abort();
  }
  c->slots[c->n_slots] = *s;
  return c->n_slots++;
}

int cg_scratch_slot(cg *c, int64_t mult, int n_factors, const ct_dim *factors) {
  cg_slot s;
  memset(&s, 0, sizeof s);
  s.mult = mult;
  s.n_factors = n_factors;
  for (int i = 0; i < n_factors; i++) s.factors[i] = factors[i];
  return add_slot(c, &s);
}

/* A slot holding value v: at the plan's offset when the plan has it. */
static int value_slot(cg *c, const ct_value *v) {
  cg_slot s;
  memset(&s, 0, sizeof s);
  s.value = v;
  s.mult = (int64_t)ct_dtype_size(v->type.dtype);
  s.n_factors = v->type.rank;
  for (int i = 0; i < v->type.rank; i++) s.factors[i] = v->type.dims[i];
  const ct_buffer *buf = c->g->plan ? ct_mem_plan_find(c->g->plan, v) : NULL;
  s.planned = buf;
  return add_slot(c, &s);
}

void cg_value_set_scratch(cg *c, const ct_value *v, int scratch) {
  vmap_find(c, v, true)->scratch = scratch;
}

int cg_value_scratch(cg *c, const ct_value *v) {
  cg_vmap_entry *e = vmap_find(c, v, false);
  return e ? e->scratch : -1;
}

LLVMValueRef cg_slot_ptr(cg *c, int slot) { return c->slot_ptrs[slot]; }

static LLVMValueRef lin_value(cg *c, const ct_lin *l) {
  LLVMValueRef v = cg_i64(c, l->c0);
  for (int i = 0; i < l->n; i++)
    v = LLVMBuildAdd(c->b, v, LLVMBuildMul(c->b, cg_i64(c, l->coef[i]), c->sym_vals[l->sym[i]], ""),
                     "");
  return v;
}

static LLVMValueRef align64(cg *c, LLVMValueRef v) {
  LLVMValueRef up = LLVMBuildAdd(c->b, v, cg_i64(c, CT_ALIGN - 1), "");
  return LLVMBuildAnd(c->b, up, cg_i64(c, -(int64_t)CT_ALIGN), "");
}

static LLVMValueRef smax(cg *c, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, a, b, ""), a, b, "");
}

/* The earlier planned slot with slot i's offset and size (an in-place result and its operand),
 * or -1. */
static int same_bytes_slot(const cg *c, int i) {
  const ct_buffer *b = c->slots[i].planned;
  for (int j = 0; b && j < i; j++) {
    const ct_buffer *o = c->slots[j].planned;
    if (o && ct_lin_eq(&o->offset, &b->offset) && ct_lin_eq(&o->size, &b->size)) return j;
  }
  return -1;
}

/* Computes every slot's offset under the current symbol values; stores slot pointers when ws is
 * given. Returns the total workspace bytes. Planned slots keep the plan's offsets; the others
 * follow the plan's arena, each 64-byte aligned. Planned slots with the same bytes get one
 * pointer, so kernels see one pointer (alias.c) and LLVM a same-index update. */
static LLVMValueRef emit_layout(cg *c, LLVMValueRef ws) {
  LLVMValueRef end = cg_i64(c, 0);
  const ct_mem_plan *p = c->g->plan;
  for (int i = 0; p && i < p->n_buffers; i++) {
    LLVMValueRef top = LLVMBuildAdd(c->b, lin_value(c, &p->buffers[i].offset),
                                    lin_value(c, &p->buffers[i].size), "");
    end = smax(c, end, top);
  }
  end = align64(c, end);
  for (int i = 0; i < c->n_slots; i++) {
    const cg_slot *s = &c->slots[i];
    LLVMValueRef off;
    if (s->planned) {
      int same = ws ? same_bytes_slot(c, i) : -1;
      if (same >= 0) {
        c->slot_ptrs[i] = c->slot_ptrs[same];
        continue;
      }
      off = lin_value(c, &s->planned->offset);
    } else {
      LLVMValueRef size = cg_i64(c, s->mult);
      for (int k = 0; k < s->n_factors; k++) size = LLVMBuildMul(c->b, size, cg_dim(c, s->factors[k]), "");
      off = end;
      end = align64(c, LLVMBuildAdd(c->b, end, size, ""));
    }
    if (ws) c->slot_ptrs[i] = LLVMBuildInBoundsGEP2(c->b, c->t_i8, ws, &off, 1, "slot");
  }
  return end;
}

static void load_syms(cg *c, LLVMValueRef syms) {
  for (int s = 1; s <= c->m->n_syms; s++) {
    LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, c->t_i64, syms, (LLVMValueRef[]){cg_i64(c, s)}, 1, "");
    c->sym_vals[s] = LLVMBuildLoad2(c->b, c->t_i64, p, c->m->syms[s]);
  }
}

/* ---- lowering dispatch ---- */

const cg_lowering cg_lowerings[CT_OP_COUNT] = {
    [CT_OP_CONSTANT] = {NULL, cg_lower_elementwise},
    [CT_OP_FUSION] = {cg_prepare_fusion, cg_lower_fusion},
    [CT_OP_LINEAR] = {NULL, cg_lower_linear},
    [CT_OP_MATMUL] = {NULL, cg_lower_matmul},
    [CT_OP_CONV2D] = {cg_prepare_conv2d, cg_lower_conv2d},
    [CT_OP_CONV2D_GRAD_INPUT] = {cg_prepare_conv2d, cg_lower_conv2d_grad},
    [CT_OP_CONV2D_GRAD_WEIGHT] = {cg_prepare_conv2d, cg_lower_conv2d_grad},
    [CT_OP_MAX_POOL2D] = {NULL, cg_lower_max_pool2d},
    [CT_OP_MAX_POOL2D_GRAD] = {NULL, cg_lower_max_pool2d},
    [CT_OP_SOFTMAX] = {NULL, cg_lower_softmax},
    [CT_OP_LOG_SOFTMAX] = {NULL, cg_lower_softmax},
    [CT_OP_LAYER_NORM] = {NULL, cg_lower_layer_norm},
    [CT_OP_PERMUTE] = {NULL, cg_lower_shape},
    [CT_OP_EXPAND] = {NULL, cg_lower_shape},
    [CT_OP_SLICE] = {NULL, cg_lower_shape},
    [CT_OP_CONCAT] = {NULL, cg_lower_shape},
    [CT_OP_EMBEDDING] = {NULL, cg_lower_embedding},
    [CT_OP_SUM] = {NULL, cg_lower_reduce},
    [CT_OP_MEAN] = {NULL, cg_lower_reduce},
    [CT_OP_AMAX] = {NULL, cg_lower_reduce},
    [CT_OP_AMIN] = {NULL, cg_lower_reduce},
};

static cg_lowering lowering_of(ct_op op) {
  if (ct_op_table[op].cls == CT_OPC_ELEMENTWISE) return (cg_lowering){NULL, cg_lower_elementwise};
  return cg_lowerings[op];
}

ct_status cg_prepare_node(cg *c, const ct_node *n, int *scratch) {
  *scratch = -1;
  cg_lowering l = lowering_of(n->op);
  return l.prepare ? l.prepare(c, n, scratch) : CT_OK;
}

ct_status cg_lower_node(cg *c, const ct_node *n, int scratch) {
  cg_lowering l = lowering_of(n->op);
  if (l.lower) {
    ct_status st = l.lower(c, n, scratch);
    if (st != CT_ERR_UNSUPPORTED) return st;
  }
  if (n->op == CT_OP_FUSION || n->op == CT_OP_RETURN)
    return cg_error(c, n, "%s", "no lowering and no runtime kernel");
  return cg_lower_fallback(c, n);
}

/* ---- per-node profiling ----
 * Every entry carries a counter table `NAME_E_profile` (ct_abi_profile, include/ctorch/abi.h):
 * its `enabled` word is read once per call, and when it is non-zero each lowered node is timed
 * with ct_abi_now_ns() and its calls and nanoseconds added to its row. Disabled, a node costs
 * one predictable branch before and after it. */

typedef struct cg_profile {
  LLVMTypeRef row_t, table_t;
  LLVMValueRef table, on; /* the global and the per-call i1 */
  LLVMValueRef *rows;     /* constant {label, op, 0, 0} per profiled node */
  int n, cap;
} cg_profile;

/* Appends " ..." bounded text of n's label: "%K = op", a fusion with its body's ops. */
static void node_label(const ct_node *n, int k, bool fallback, char *buf, size_t size) {
  int len = snprintf(buf, size, "%%%d = %s", k, ct_op_table[n->op].name);
  if (n->op == CT_OP_FUSION && n->body) {
    const char *sep = "[";
    for (const ct_node *b = n->body->first; b && len < (int)size; b = b->next) {
      if (b->op == CT_OP_RETURN) continue;
      len += snprintf(buf + len, size - (size_t)len, "%s%s", sep, ct_op_table[b->op].name);
      sep = ",";
    }
    if (len < (int)size) len += snprintf(buf + len, size - (size_t)len, "]");
  }
  if (fallback && len < (int)size) snprintf(buf + len, size - (size_t)len, " (fallback)");
  if (len >= (int)size && size > 4) memcpy(buf + size - 4, "...", 4);
}

static LLVMValueRef now_ns(cg *c) {
  LLVMValueRef fn = cg_extern(c, "ct_abi_now_ns", LLVMFunctionType(c->t_i64, NULL, 0, 0));
  return cg_call(c, fn, NULL, 0, "t");
}

/* A new block placed right after the insert block, so the text keeps the lowerings' order. */
static LLVMBasicBlockRef after_current(cg *c, const char *name) {
  LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
  LLVMMoveBasicBlockAfter(bb, LLVMGetInsertBlock(c->b));
  return bb;
}

/* Branches on prof->on around a call to ct_abi_now_ns(); returns the time (0 when off). */
static LLVMValueRef profile_time(cg *c, cg_profile *prof) {
  LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
  LLVMBasicBlockRef yes = after_current(c, "prof.t");
  LLVMBasicBlockRef join = after_current(c, "prof.j");
  LLVMMoveBasicBlockAfter(join, yes);
  LLVMBuildCondBr(c->b, prof->on, yes, join);
  LLVMPositionBuilderAtEnd(c->b, yes);
  LLVMValueRef t = now_ns(c);
  LLVMBuildBr(c->b, join);
  LLVMPositionBuilderAtEnd(c->b, join);
  LLVMValueRef phi = LLVMBuildPhi(c->b, c->t_i64, "t0");
  LLVMValueRef vals[2] = {cg_i64(c, 0), t};
  LLVMBasicBlockRef blocks[2] = {from, yes};
  LLVMAddIncoming(phi, vals, blocks, 2);
  return phi;
}

/* if (on) { row[k].calls += 1; row[k].ns += now - t0; } */
static void profile_record(cg *c, cg_profile *prof, int k, LLVMValueRef t0) {
  LLVMBasicBlockRef yes = after_current(c, "prof.rec");
  LLVMBasicBlockRef join = after_current(c, "prof.done");
  LLVMMoveBasicBlockAfter(join, yes);
  LLVMBuildCondBr(c->b, prof->on, yes, join);
  LLVMPositionBuilderAtEnd(c->b, yes);
  LLVMValueRef dt = LLVMBuildSub(c->b, now_ns(c), t0, "dt");
  for (unsigned f = 2; f < 4; f++) {
    LLVMValueRef idx[4] = {cg_i32(c, 0), cg_i32(c, 2), cg_i32(c, k), cg_i32(c, (int32_t)f)};
    LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, prof->table_t, prof->table, idx, 4, "");
    LLVMValueRef old = LLVMBuildLoad2(c->b, c->t_i64, p, "");
    LLVMBuildStore(c->b, LLVMBuildAdd(c->b, old, f == 2 ? cg_i64(c, 1) : dt, ""), p);
  }
  LLVMBuildBr(c->b, join);
  LLVMPositionBuilderAtEnd(c->b, join);
}

/* Declares NAME_E_profile for n profiled nodes and loads its enabled word. */
static void profile_begin(cg *c, cg_profile *prof, int n) {
  memset(prof, 0, sizeof *prof);
  LLVMTypeRef row[4] = {c->t_i8p, c->t_i8p, c->t_i64, c->t_i64};
  prof->row_t = LLVMStructTypeInContext(c->ctx, row, 4, 0);
  LLVMTypeRef table[3] = {c->t_i32, c->t_i32, LLVMArrayType(prof->row_t, (unsigned)n)};
  prof->table_t = LLVMStructTypeInContext(c->ctx, table, 3, 0);
  char name[512];
  snprintf(name, sizeof name, "%s_%s_profile", c->name, c->g->name);
  prof->table = LLVMAddGlobal(c->mod, prof->table_t, name);
  LLVMSetAlignment(prof->table, 8);
  LLVMValueRef idx[2] = {cg_i32(c, 0), cg_i32(c, 0)};
  LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, prof->table_t, prof->table, idx, 2, "");
  LLVMValueRef on = LLVMBuildLoad2(c->b, c->t_i32, p, "prof.enabled");
  LLVMSetVolatile(on, 1);
  prof->on = LLVMBuildICmp(c->b, LLVMIntNE, on, cg_i32(c, 0), "prof.on");
  prof->cap = n;
  prof->rows = calloc((size_t)n + 1, sizeof *prof->rows);
  if (!prof->rows) abort();
}

static void profile_add_row(cg *c, cg_profile *prof, const ct_node *n, int k, bool fallback) {
  char label[96];
  node_label(n, k, fallback, label, sizeof label);
  LLVMValueRef f[4] = {LLVMBuildGlobalStringPtr(c->b, label, "prof.label"),
                       LLVMBuildGlobalStringPtr(c->b, ct_op_table[n->op].name, "prof.op"),
                       cg_i64(c, 0), cg_i64(c, 0)};
  prof->rows[prof->n++] = LLVMConstNamedStruct(prof->row_t, f, 4);
}

static void profile_end(cg *c, cg_profile *prof) {
  LLVMValueRef f[3] = {cg_i32(c, 0), cg_i32(c, prof->n),
                       LLVMConstArray(prof->row_t, prof->rows, (unsigned)prof->n)};
  LLVMSetInitializer(prof->table, LLVMConstNamedStruct(prof->table_t, f, 3));
  free(prof->rows);
  prof->rows = NULL;
}

/* ---- placement ---- */

typedef struct placement {
  int result_of;  /* result index the value is computed into directly, or -1 */
  bool alias;     /* reshape result sharing its operand's bytes */
} placement;

static int find_result(const ct_graph *g, const ct_value *v, const bool *taken) {
  const ct_node *ret = ct_graph_return(g);
  for (int i = 0; i < ret->n_operands; i++)
    if (ct_node_operand(ret, i) == v && !taken[i]) return i;
  return -1;
}

static bool reshape_aliases(const cg *c, const ct_node *n) {
  if (n->op != CT_OP_RESHAPE) return false;
  const ct_mem_plan *p = c->g->plan;
  if (!p) return true;
  const ct_buffer *b = ct_mem_plan_find(p, n->results[0]);
  return !b || b->shares_with == ct_node_operand(n, 0);
}

static ct_status emit_workspace_fn(cg *c, const char *fname) {
  LLVMTypeRef ft = LLVMFunctionType(c->t_i64, &c->t_i64p, 1, 0);
  LLVMValueRef fn = LLVMAddFunction(c->mod, fname, ft);
  LLVMValueRef saved = c->fn;
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  load_syms(c, LLVMGetParam(fn, 0));
  LLVMBuildRet(c->b, emit_layout(c, NULL));
  c->fn = saved;
  return CT_OK;
}

/* Runs the _call function's body with denormals flushed (runtime/fpmode.c): the caller's mode
 * is saved on entry and restored before every return, the error returns included. */
static void bracket_fp_mode(cg *c) {
  LLVMValueRef begin = cg_extern(c, "ct_fp_flush_begin", LLVMFunctionType(c->t_i32, NULL, 0, 0));
  LLVMValueRef restore =
      cg_extern(c, "ct_fp_restore", LLVMFunctionType(c->t_void, &c->t_i32, 1, 0));
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
  LLVMPositionBuilderBefore(c->b, LLVMGetFirstInstruction(entry));
  LLVMValueRef saved = cg_call(c, begin, NULL, 0, "fp.saved");
  for (LLVMBasicBlockRef bb = entry; bb; bb = LLVMGetNextBasicBlock(bb)) {
    LLVMValueRef term = LLVMGetBasicBlockTerminator(bb);
    if (!term || LLVMGetInstructionOpcode(term) != LLVMRet) continue;
    LLVMPositionBuilderBefore(c->b, term);
    cg_call(c, restore, &saved, 1, "");
  }
}

ct_status cg_emit_graph(cg *c, const ct_graph *g) {
  const ct_node *ret = ct_graph_return(g);
  if (!ret) return ct_diag_error(c->diag, NULL, 0, 0, "codegen: @%s has no return", g->name);
  c->g = g;
  c->n_slots = 0;
  c->n_graph_fallbacks = 0;
  size_t nvals = (size_t)g->body->n_params + 16;
  for (const ct_node *n = g->body->first; n; n = n->next) {
    nvals += (size_t)n->n_results;
    if (n->body) {
      nvals += (size_t)n->body->n_params;
      for (const ct_node *k = n->body->first; k; k = k->next) nvals += (size_t)k->n_results;
    }
  }
  c->vmap_cap = 16;
  while (c->vmap_cap < 2 * nvals) c->vmap_cap *= 2;
  c->vmap = calloc(c->vmap_cap, sizeof *c->vmap);
  LLVMValueRef sym_store[64];
  if (c->m->n_syms >= 64) {
    free(c->vmap);
    return ct_diag_error(c->diag, NULL, 0, 0, "codegen: too many symbols (%d)", c->m->n_syms);
  }
  c->sym_vals = sym_store;
  int n_res = ret->n_operands;
  bool *taken = calloc((size_t)n_res + 1, sizeof *taken);
  int n_nodes = 0;
  for (const ct_node *n = g->body->first; n; n = n->next) n_nodes++;
  int *scratch = calloc((size_t)n_nodes + 1, sizeof *scratch);
  if (!c->vmap || !taken || !scratch) abort();

  /* Placement and scratch: the layout pre-pass. */
  ct_status st = CT_OK;
  int idx = 0;
  for (const ct_node *n = g->body->first; n && st == CT_OK; n = n->next, idx++) {
    if (n->op == CT_OP_RETURN) continue;
    bool alias = reshape_aliases(c, n);
    for (int r = 0; r < n->n_results; r++) {
      const ct_value *v = n->results[r];
      int k = alias ? -1 : find_result(g, v, taken);
      if (k >= 0) {
        taken[k] = true;
        vmap_find(c, v, true)->result = k;
      } else if (!alias) {
        cg_value_set_slot(c, v, value_slot(c, v));
      }
    }
    st = cg_prepare_node(c, n, &scratch[idx]);
  }

  /* The _call function. */
  char fname[512];
  snprintf(fname, sizeof fname, "%s_%s_call", c->name, g->name);
  LLVMTypeRef call_p = LLVMPointerType(c->t_call, 0);
  LLVMTypeRef ft = LLVMFunctionType(c->t_i32, &call_p, 1, 0);
  c->fn = LLVMAddFunction(c->mod, fname, ft);
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, c->fn, "entry"));
  LLVMValueRef call = LLVMGetParam(c->fn, 0);
  LLVMValueRef fields[4];
  LLVMTypeRef ftypes[4] = {c->t_i64p, LLVMPointerType(c->t_i8p, 0), LLVMPointerType(c->t_i8p, 0),
                           c->t_i8p};
  static const char *const fnames[4] = {"syms", "args", "results", "workspace"};
  for (int i = 0; i < 4; i++) {
    LLVMValueRef p = LLVMBuildStructGEP2(c->b, c->t_call, call, (unsigned)i, "");
    fields[i] = LLVMBuildLoad2(c->b, ftypes[i], p, fnames[i]);
  }
  load_syms(c, fields[0]);
  c->workspace = fields[3];
  c->slot_ptrs = calloc((size_t)c->n_slots + 1, sizeof *c->slot_ptrs);
  if (!c->slot_ptrs) abort();
  emit_layout(c, c->workspace);
  c->arg_ptrs = calloc((size_t)g->body->n_params + 1, sizeof *c->arg_ptrs);
  if (!c->arg_ptrs) abort();
  c->n_args = g->body->n_params;
  for (int i = 0; i < g->body->n_params; i++) {
    LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, c->t_i8p, fields[1], (LLVMValueRef[]){cg_i64(c, i)}, 1, "");
    const ct_value *in = g->body->params[i];
    c->arg_ptrs[i] = LLVMBuildLoad2(c->b, c->t_i8p, p, in->name ? in->name : "arg");
    cg_value_set_ptr(c, in, c->arg_ptrs[i]);
  }
  LLVMValueRef res_ptrs[256];
  if (n_res > 256) st = ct_diag_error(c->diag, NULL, 0, 0, "codegen: @%s: too many results", g->name);
  for (int i = 0; st == CT_OK && i < n_res; i++) {
    LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, c->t_i8p, fields[2], (LLVMValueRef[]){cg_i64(c, i)}, 1, "");
    res_ptrs[i] = LLVMBuildLoad2(c->b, c->t_i8p, p, "result");
  }
  c->res_ptrs = res_ptrs;
  c->n_res = st == CT_OK ? n_res : 0;
  for (size_t i = 0; st == CT_OK && i < c->vmap_cap; i++)
    if (c->vmap[i].key && c->vmap[i].result >= 0) c->vmap[i].ptr = res_ptrs[c->vmap[i].result];

  int n_prof = 0;
  for (const ct_node *n = g->body->first; n && n->op != CT_OP_RETURN; n = n->next)
    if (!reshape_aliases(c, n)) n_prof++;
  cg_profile prof;
  profile_begin(c, &prof, n_prof);
  idx = 0;
  int value_no = 0; /* the printer's numbering of unnamed node results */
  for (const ct_node *n = g->body->first; n && st == CT_OK; n = n->next, idx++) {
    if (n->op == CT_OP_RETURN) break;
    int first_value = value_no;
    value_no += n->n_results;
    if (reshape_aliases(c, n)) {
      cg_value_set_ptr(c, n->results[0], cg_value_ptr(c, ct_node_operand(n, 0)));
      continue;
    }
    LLVMValueRef t0 = profile_time(c, &prof);
    c->fell_back = false;
    st = cg_lower_node(c, n, scratch[idx]);
    if (st != CT_OK) break;
    profile_record(c, &prof, prof.n, t0);
    profile_add_row(c, &prof, n, first_value, c->fell_back);
  }
  if (st == CT_OK) profile_end(c, &prof);
  free(prof.rows);
  /* Results not computed in place: graph inputs, aliases, values returned twice. */
  for (int i = 0; st == CT_OK && i < n_res; i++) {
    const ct_value *v = ct_node_operand(ret, i);
    LLVMValueRef src = cg_value_ptr(c, v);
    if (src == res_ptrs[i]) continue;
    LLVMValueRef bytes = LLVMBuildMul(c->b, cg_numel(c, &v->type),
                                      cg_i64(c, (int64_t)ct_dtype_size(v->type.dtype)), "");
    LLVMBuildMemCpy(c->b, res_ptrs[i], 1, src, 1, bytes);
  }
  if (st == CT_OK) LLVMBuildRet(c->b, cg_i32(c, 0));
  if (st == CT_OK && !c->opt->keep_denormals) bracket_fp_mode(c);
  if (st == CT_OK) {
    snprintf(fname, sizeof fname, "%s_%s_workspace_size", c->name, g->name);
    st = emit_workspace_fn(c, fname);
  }
  if (st == CT_OK) {
    /* This entry's part of the metadata. */
    int gi = 0;
    while (gi < c->m->n_graphs && c->m->graphs[gi] != g) gi++;
    cg_str *e = &c->graph_fallback_json[gi];
    cg_str_printf(e, "[");
    for (int i = 0; i < c->n_graph_fallbacks; i++)
      cg_str_printf(e, "%s\"%s\"", i ? ", " : "", c->graph_fallbacks[i]);
    cg_str_printf(e, "]");
  }
  free(taken);
  free(scratch);
  free(c->vmap);
  free(c->slot_ptrs);
  free(c->arg_ptrs);
  c->vmap = NULL;
  c->slot_ptrs = NULL;
  c->arg_ptrs = c->res_ptrs = NULL;
  c->n_args = c->n_res = 0;
  c->sym_vals = NULL;
  return st;
}
