/* codegen/llvm/codegen.c: ct_codegen_llvm, the driver of CPU code generation: sets up the LLVM
 * module and target machine, emits every graph (entry.c) and the module's ABI symbols
 * (abi_meta.c), verifies, optimizes with the new pass manager and writes LLVM IR, assembly, an
 * object or a shared object (link.c). Also the small IR-building helpers the lowerings share. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "cg_internal.h"
#include "ctorch/abi.h"

/* ---- text builder ---- */

void cg_str_printf(cg_str *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (need < 0) {
    va_end(ap2);
    return;
  }
  if (b->n + (size_t)need + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + (size_t)need + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) abort();
    b->s = s;
    b->cap = cap;
  }
  vsnprintf(b->s + b->n, (size_t)need + 1, fmt, ap2);
  va_end(ap2);
  b->n += (size_t)need;
}

void cg_str_free(cg_str *b) {
  free(b->s);
  memset(b, 0, sizeof *b);
}

/* ---- IR helpers ---- */

LLVMValueRef cg_i64(cg *c, int64_t v) { return LLVMConstInt(c->t_i64, (unsigned long long)v, 1); }
LLVMValueRef cg_i32(cg *c, int32_t v) { return LLVMConstInt(c->t_i32, (unsigned long long)v, 1); }

LLVMValueRef cg_dim(cg *c, ct_dim d) {
  if (!d.sym) return cg_i64(c, d.off);
  LLVMValueRef v = c->sym_vals[d.sym];
  if (d.coef != 1) v = LLVMBuildMul(c->b, v, cg_i64(c, d.coef), "");
  if (d.off) v = LLVMBuildAdd(c->b, v, cg_i64(c, d.off), "");
  return v;
}

LLVMValueRef cg_numel(cg *c, const ct_type *t) {
  LLVMValueRef n = cg_i64(c, 1);
  for (int i = 0; i < t->rank; i++) n = LLVMBuildMul(c->b, n, cg_dim(c, t->dims[i]), "");
  return n;
}

LLVMTypeRef cg_elem_type(cg *c, ct_dtype dt) {
  switch (dt) {
  case CT_DT_F32: return c->t_f32;
  case CT_DT_F64: return c->t_f64;
  case CT_DT_I64: return c->t_i64;
  case CT_DT_I32: return c->t_i32;
  case CT_DT_BOOL: return c->t_i8;
  default: return NULL;
  }
}

LLVMValueRef cg_gep(cg *c, LLVMTypeRef elem, LLVMValueRef base, LLVMValueRef index) {
  LLVMValueRef p = LLVMBuildBitCast(c->b, base, LLVMPointerType(elem, 0), "");
  return LLVMBuildInBoundsGEP2(c->b, elem, p, &index, 1, "");
}

LLVMValueRef cg_extern(cg *c, const char *name, LLVMTypeRef fn_type) {
  LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
  if (!f) f = LLVMAddFunction(c->mod, name, fn_type);
  return f;
}

LLVMValueRef cg_call(cg *c, LLVMValueRef fn, LLVMValueRef *args, unsigned n, const char *name) {
  LLVMTypeRef ft = LLVMGetElementType(LLVMTypeOf(fn));
  return LLVMBuildCall2(c->b, ft, fn, args, n, name);
}

LLVMValueRef cg_loop_begin(cg *c, cg_loop *l, LLVMValueRef begin, LLVMValueRef end,
                           const char *name) {
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
  l->header = LLVMAppendBasicBlockInContext(c->ctx, c->fn, name);
  l->body = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "body");
  l->exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "exit");
  LLVMBuildBr(c->b, l->header);
  LLVMPositionBuilderAtEnd(c->b, l->header);
  l->vectorize = false;
  l->iv = LLVMBuildPhi(c->b, c->t_i64, name);
  LLVMAddIncoming(l->iv, &begin, &pre, 1);
  LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntSLT, l->iv, end, "");
  LLVMBuildCondBr(c->b, more, l->body, l->exit);
  LLVMPositionBuilderAtEnd(c->b, l->body);
  return l->iv;
}

void cg_loop_vectorize(cg_loop *l) { l->vectorize = true; }

/* !{!"name"} or !{!"name", i1 value}. */
static LLVMMetadataRef loop_hint(cg *c, const char *name, int value) {
  LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(c->ctx, name, strlen(name)),
                            LLVMValueAsMetadata(LLVMConstInt(c->t_i1, (unsigned)value, 0))};
  return LLVMMDNodeInContext2(c->ctx, ops, value < 0 ? 1 : 2);
}

/* !llvm.loop !0, !0 = distinct !{!0, vectorize.enable, unroll.disable}: the C API has no
 * distinct nodes, but a uniqued node that comes to refer to itself (through a temporary
 * replaced by it) becomes distinct. */
static void mark_vectorize(cg *c, LLVMValueRef latch_br) {
  LLVMMetadataRef self = LLVMTemporaryMDNode(c->ctx, NULL, 0);
  LLVMMetadataRef ops[3] = {self, loop_hint(c, "llvm.loop.vectorize.enable", 1),
                            loop_hint(c, "llvm.loop.unroll.disable", -1)};
  LLVMMetadataRef loop = LLVMMDNodeInContext2(c->ctx, ops, 3);
  LLVMMetadataReplaceAllUsesWith(self, loop);
  LLVMSetMetadata(latch_br, LLVMGetMDKindIDInContext(c->ctx, "llvm.loop", 9),
                  LLVMMetadataAsValue(c->ctx, loop));
}

void cg_loop_end(cg *c, cg_loop *l) {
  LLVMValueRef next = LLVMBuildNSWAdd(c->b, l->iv, cg_i64(c, 1), "");
  LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
  LLVMAddIncoming(l->iv, &next, &latch, 1);
  LLVMValueRef br = LLVMBuildBr(c->b, l->header);
  if (l->vectorize) mark_vectorize(c, br);
  LLVMPositionBuilderAtEnd(c->b, l->exit);
}

void cg_check_status(cg *c, LLVMValueRef status, LLVMValueRef msg) {
  LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "fail");
  LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "ok");
  LLVMValueRef bad = LLVMBuildICmp(c->b, LLVMIntNE, status, cg_i32(c, 0), "");
  LLVMBuildCondBr(c->b, bad, fail, ok);
  LLVMPositionBuilderAtEnd(c->b, fail);
  LLVMTypeRef ft = LLVMFunctionType(c->t_void, &c->t_i8p, 1, 0);
  LLVMValueRef set = cg_extern(c, "ct_abi_set_error", ft);
  cg_call(c, set, &msg, 1, "");
  LLVMBuildRet(c->b, status);
  LLVMPositionBuilderAtEnd(c->b, ok);
}

ct_status cg_error(cg *c, const ct_node *n, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n && n->loc.line)
    ct_diag_error(c->diag, n->loc.file, n->loc.line, n->loc.col, "codegen: %s: %s",
                  ct_op_name(n->op), buf);
  else if (n)
    ct_diag_error(c->diag, NULL, 0, 0, "codegen: @%s: %s: %s", c->g ? c->g->name : "?",
                  ct_op_name(n->op), buf);
  else
    ct_diag_error(c->diag, NULL, 0, 0, "codegen: %s", buf);
  return CT_ERR_UNSUPPORTED;
}

void cg_note_fallback(cg *c, ct_op op) {
  const char *name = ct_op_name(op);
  bool in_graph = false, in_module = false;
  for (int i = 0; i < c->n_graph_fallbacks; i++) in_graph |= strcmp(c->graph_fallbacks[i], name) == 0;
  for (int i = 0; i < c->n_fallbacks; i++) in_module |= strcmp(c->fallbacks[i], name) == 0;
  if (in_graph) return;
  if (!c->graph_fallbacks) {
    c->graph_fallbacks = calloc(CT_OP_COUNT, sizeof *c->graph_fallbacks);
    c->fallbacks = calloc(CT_OP_COUNT, sizeof *c->fallbacks);
    if (!c->graph_fallbacks || !c->fallbacks) abort();
  }
  c->graph_fallbacks[c->n_graph_fallbacks++] = name;
  if (!in_module) c->fallbacks[c->n_fallbacks++] = name;
}

/* ---- parallel kernels ---- */

void cg_kernel_begin(cg *c, cg_kernel *k, const char *what) {
  memset(k, 0, sizeof *k);
  char name[128];
  snprintf(name, sizeof name, "%s.%s.%d", c->name, what, c->n_kernels++);
  k->fn = LLVMAddFunction(c->mod, name, c->t_range_fn);
  LLVMSetLinkage(k->fn, LLVMInternalLinkage);
  k->ctx_arg = LLVMGetParam(k->fn, 0);
  k->begin = LLVMGetParam(k->fn, 1);
  k->end = LLVMGetParam(k->fn, 2);
  k->caller_block = LLVMGetInsertBlock(c->b);
  k->saved_fn = c->fn;
  c->fn = k->fn;
  k->entry = LLVMAppendBasicBlockInContext(c->ctx, k->fn, "entry");
  k->body = LLVMAppendBasicBlockInContext(c->ctx, k->fn, "body");
  LLVMPositionBuilderAtEnd(c->b, k->body);
}

LLVMValueRef cg_kernel_capture(cg *c, cg_kernel *k, LLVMValueRef v) {
  if (LLVMIsConstant(v)) return v;
  for (int i = 0; i < k->n_caps; i++)
    if (k->caller_vals[i] == v) return k->kernel_vals[i];
  if (k->n_caps == 64) abort(); /* lowerings capture a bounded number of words */
  int i = k->n_caps++;
  k->caller_vals[i] = v;
  LLVMBuilderRef eb = LLVMCreateBuilderInContext(c->ctx);
  LLVMPositionBuilderAtEnd(eb, k->entry);
  LLVMValueRef idx = cg_i64(c, i);
  LLVMValueRef words = LLVMBuildBitCast(eb, k->ctx_arg, c->t_i64p, "");
  LLVMValueRef p = LLVMBuildInBoundsGEP2(eb, c->t_i64, words, &idx, 1, "");
  LLVMValueRef w = LLVMBuildLoad2(eb, c->t_i64, p, "cap");
  LLVMTypeRef t = LLVMTypeOf(v);
  if (LLVMGetTypeKind(t) == LLVMPointerTypeKind)
    w = LLVMBuildIntToPtr(eb, w, t, "");
  else if (t != c->t_i64)
    w = LLVMBuildTrunc(eb, w, t, "");
  LLVMDisposeBuilder(eb);
  return k->kernel_vals[i] = w;
}

LLVMValueRef cg_entry_alloca(cg *c, LLVMTypeRef t, const char *name, unsigned align) {
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
  LLVMBuilderRef eb = LLVMCreateBuilderInContext(c->ctx);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first)
    LLVMPositionBuilderBefore(eb, first);
  else
    LLVMPositionBuilderAtEnd(eb, entry);
  LLVMValueRef a = LLVMBuildAlloca(eb, t, name);
  if (align) LLVMSetAlignment(a, align);
  LLVMDisposeBuilder(eb);
  return a;
}

void cg_kernel_end(cg *c, cg_kernel *k, LLVMValueRef n, LLVMValueRef grain) {
  LLVMBuildRetVoid(c->b);
  LLVMPositionBuilderAtEnd(c->b, k->entry);
  LLVMBuildBr(c->b, k->body);
  cg_kernel_mark_aliases(c, k);
  c->fn = k->saved_fn;
  LLVMPositionBuilderAtEnd(c->b, k->caller_block);
  /* The context array lives in the caller's entry block so loops around this call reuse it. */
  int words = k->n_caps ? k->n_caps : 1;
  LLVMValueRef arr = cg_entry_alloca(c, LLVMArrayType(c->t_i64, (unsigned)words), "kctx", 16);
  LLVMValueRef base = LLVMBuildBitCast(c->b, arr, c->t_i8p, "");
  for (int i = 0; i < k->n_caps; i++) {
    LLVMValueRef v = k->caller_vals[i];
    LLVMTypeRef t = LLVMTypeOf(v);
    if (LLVMGetTypeKind(t) == LLVMPointerTypeKind)
      v = LLVMBuildPtrToInt(c->b, v, c->t_i64, "");
    else if (t != c->t_i64)
      v = LLVMBuildSExt(c->b, v, c->t_i64, "");
    LLVMBuildStore(c->b, v, cg_gep(c, c->t_i64, base, cg_i64(c, i)));
  }
  LLVMTypeRef pf_args[] = {c->t_i64, c->t_i64, LLVMPointerType(c->t_range_fn, 0), c->t_i8p};
  LLVMValueRef pf =
      cg_extern(c, "ct_parallel_for", LLVMFunctionType(c->t_void, pf_args, 4, 0));
  LLVMValueRef args[] = {n, grain, k->fn, base};
  cg_call(c, pf, args, 4, "");
}

/* ---- setup ---- */

static void init_types(cg *c) {
  LLVMContextRef x = c->ctx;
  c->t_void = LLVMVoidTypeInContext(x);
  c->t_i1 = LLVMInt1TypeInContext(x);
  c->t_i8 = LLVMInt8TypeInContext(x);
  c->t_i32 = LLVMInt32TypeInContext(x);
  c->t_i64 = LLVMInt64TypeInContext(x);
  c->t_f32 = LLVMFloatTypeInContext(x);
  c->t_f64 = LLVMDoubleTypeInContext(x);
  c->t_i8p = LLVMPointerType(c->t_i8, 0);
  c->t_i64p = LLVMPointerType(c->t_i64, 0);
  LLVMTypeRef call[] = {c->t_i64p, LLVMPointerType(c->t_i8p, 0), LLVMPointerType(c->t_i8p, 0),
                        c->t_i8p};
  c->t_call = LLVMStructCreateNamed(x, "ct_abi_call");
  LLVMStructSetBody(c->t_call, call, 4, 0);
  LLVMTypeRef storage[] = {c->t_i8p, c->t_i64, c->t_i32, c->t_i8p, c->t_i8p};
  c->t_storage = LLVMStructCreateNamed(x, "ct_storage");
  LLVMStructSetBody(c->t_storage, storage, 5, 0);
  LLVMTypeRef tensor[] = {c->t_i32,
                          c->t_i32,
                          LLVMArrayType(c->t_i64, CT_MAX_RANK),
                          LLVMArrayType(c->t_i64, CT_MAX_RANK),
                          c->t_i64,
                          LLVMPointerType(c->t_storage, 0),
                          c->t_i32};
  c->t_tensor = LLVMStructCreateNamed(x, "ct_tensor");
  LLVMStructSetBody(c->t_tensor, tensor, 7, 0);
  LLVMTypeRef attr[] = {c->t_i8p, c->t_i32, c->t_i32, c->t_i64};
  c->t_attr = LLVMStructCreateNamed(x, "ct_attr");
  LLVMStructSetBody(c->t_attr, attr, 4, 0);
  LLVMTypeRef dim[] = {c->t_i64, c->t_i64, c->t_i32};
  c->t_dim = LLVMStructCreateNamed(x, "ct_dim");
  LLVMStructSetBody(c->t_dim, dim, 3, 0);
  LLVMTypeRef range[] = {c->t_i8p, c->t_i64, c->t_i64};
  c->t_range_fn = LLVMFunctionType(c->t_void, range, 3, 0);
}

/* The mirrored structs must match the C layout the runtime was compiled with. */
static bool layouts_match(cg *c) {
  LLVMTargetDataRef td = c->td;
  return LLVMABISizeOfType(td, c->t_call) == sizeof(ct_abi_call) &&
         LLVMABISizeOfType(td, c->t_storage) == sizeof(ct_storage) &&
         LLVMOffsetOfElement(td, c->t_storage, 3) == offsetof(ct_storage, release) &&
         LLVMABISizeOfType(td, c->t_tensor) == sizeof(ct_tensor) &&
         LLVMOffsetOfElement(td, c->t_tensor, 4) == offsetof(ct_tensor, offset) &&
         LLVMOffsetOfElement(td, c->t_tensor, 5) == offsetof(ct_tensor, storage) &&
         LLVMABISizeOfType(td, c->t_attr) == sizeof(ct_attr) &&
         LLVMOffsetOfElement(td, c->t_attr, 3) == offsetof(ct_attr, u) &&
         LLVMABISizeOfType(td, c->t_dim) == sizeof(ct_dim);
}

static ct_status make_target(cg *c) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  char *triple = LLVMGetDefaultTargetTriple();
  LLVMTargetRef target;
  char *err = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &err)) {
    ct_diag_error(c->diag, NULL, 0, 0, "codegen: no LLVM target for '%s': %s", triple,
                  err ? err : "?");
    LLVMDisposeMessage(err);
    LLVMDisposeMessage(triple);
    return CT_ERR_UNSUPPORTED;
  }
  /* The host's CPU and features by default; a named CPU brings its own features (the host's
   * would enable instructions the named CPU lacks), refined by --features. */
  char *host_cpu = c->opt->cpu ? NULL : LLVMGetHostCPUName();
  char *host_features = c->opt->cpu || c->opt->features ? NULL : LLVMGetHostCPUFeatures();
  const char *cpu = c->opt->cpu ? c->opt->cpu : host_cpu;
  const char *features = c->opt->features ? c->opt->features : host_features ? host_features : "";
  LLVMCodeGenOptLevel level = c->opt->opt_level <= 0   ? LLVMCodeGenLevelNone
                              : c->opt->opt_level == 1 ? LLVMCodeGenLevelLess
                                                       : LLVMCodeGenLevelAggressive;
  c->tm = LLVMCreateTargetMachine(target, triple, cpu, features, level, LLVMRelocPIC,
                                  LLVMCodeModelDefault);
  LLVMSetTarget(c->mod, triple);
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(host_cpu);
  LLVMDisposeMessage(host_features);
  if (!c->tm)
    return ct_diag_error(c->diag, NULL, 0, 0, "codegen: cannot create a target machine for "
                         "cpu '%s'", cpu ? cpu : "?");
  c->td = LLVMCreateTargetDataLayout(c->tm);
  char *layout = LLVMCopyStringRepOfTargetData(c->td);
  LLVMSetDataLayout(c->mod, layout);
  LLVMDisposeMessage(layout);
  return CT_OK;
}

static ct_status optimize(cg *c) {
  if (c->opt->opt_level <= 0) return CT_OK;
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
  LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, 1);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, 1);
  const char *pipeline = c->opt->opt_level == 1 ? "default<O1>" : "default<O3>";
  LLVMErrorRef e = LLVMRunPasses(c->mod, pipeline, c->tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (e) {
    char *msg = LLVMGetErrorMessage(e);
    ct_diag_error(c->diag, NULL, 0, 0, "codegen: LLVM pipeline %s failed: %s", pipeline, msg);
    LLVMDisposeErrorMessage(msg);
    return CT_ERR_INTERNAL;
  }
  return CT_OK;
}

static const char *default_name(const ct_module *m, const ct_codegen_options *opt) {
  if (opt->name && opt->name[0]) return opt->name;
  if (m->name && m->name[0]) return m->name;
  return "model";
}

static bool valid_c_identifier(const char *s) {
  if (!s[0] || (s[0] >= '0' && s[0] <= '9')) return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_'))
      return false;
  return true;
}

static ct_status write_output(cg *c, ct_emit_kind kind, const char *path) {
  char *err = NULL;
  if (kind == CT_EMIT_LLVM) {
    char *text = LLVMPrintModuleToString(c->mod);
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
      LLVMDisposeMessage(text);
      return ct_diag_error(c->diag, path, 0, 0, "cannot write: %s", "open failed");
    }
    fputs(text, f);
    LLVMDisposeMessage(text);
    if (f != stdout && fclose(f) != 0)
      return ct_diag_error(c->diag, path, 0, 0, "cannot write: %s", "close failed");
    return CT_OK;
  }
  LLVMCodeGenFileType ft = kind == CT_EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile;
  if (kind == CT_EMIT_ASM && strcmp(path, "-") == 0) {
    LLVMMemoryBufferRef buf;
    if (LLVMTargetMachineEmitToMemoryBuffer(c->tm, c->mod, ft, &err, &buf)) {
      ct_diag_error(c->diag, NULL, 0, 0, "codegen: emitting assembly failed: %s", err);
      LLVMDisposeMessage(err);
      return CT_ERR_INTERNAL;
    }
    fwrite(LLVMGetBufferStart(buf), 1, LLVMGetBufferSize(buf), stdout);
    LLVMDisposeMemoryBuffer(buf);
    return CT_OK;
  }
  char obj[4096];
  if (kind == CT_EMIT_SO) {
    snprintf(obj, sizeof obj, "%s.%ld.o", path, (long)getpid());
  } else {
    snprintf(obj, sizeof obj, "%s", path);
  }
  if (LLVMTargetMachineEmitToFile(c->tm, c->mod, obj, ft, &err)) {
    ct_diag_error(c->diag, path, 0, 0, "cannot write: %s", err ? err : "emission failed");
    LLVMDisposeMessage(err);
    return CT_ERR_IO;
  }
  if (kind != CT_EMIT_SO) return CT_OK;
  ct_status st = cg_link_so(c, obj, path);
  remove(obj);
  if (st == CT_OK && c->opt->header) st = cg_write_header(c, c->opt->header);
  return st;
}

ct_status ct_codegen_llvm(const ct_module *m, const ct_codegen_options *opt, ct_emit_kind kind,
                          const char *path, ct_diag *diag) {
  cg c;
  memset(&c, 0, sizeof c);
  c.m = m;
  c.opt = opt;
  c.diag = diag;
  c.name = default_name(m, opt);
  if (!valid_c_identifier(c.name))
    return ct_diag_error(diag, NULL, 0, 0, "--name '%s' is not a C identifier", c.name);
  c.ctx = LLVMContextCreate();
  c.mod = LLVMModuleCreateWithNameInContext(c.name, c.ctx);
  c.b = LLVMCreateBuilderInContext(c.ctx);
  init_types(&c);
  ct_status st = make_target(&c);
  if (st == CT_OK && !layouts_match(&c))
    st = ct_diag_error(diag, NULL, 0, 0, "codegen: internal error: the runtime's struct layout "
                       "differs from the target's");
  c.graph_fallback_json = calloc((size_t)m->n_graphs + 1, sizeof *c.graph_fallback_json);
  if (!c.graph_fallback_json) abort();
  for (int i = 0; st == CT_OK && i < m->n_graphs; i++) st = cg_emit_graph(&c, m->graphs[i]);
  cg_str json = {0};
  if (st == CT_OK) st = cg_emit_module_symbols(&c, &json);
  if (st == CT_OK && opt->print_fallbacks) {
    if (c.n_fallbacks == 0) fprintf(stderr, "%s: no fallbacks\n", c.name);
    for (int i = 0; i < c.n_fallbacks; i++)
      fprintf(stderr, "%s: fallback: %s (runtime kernel)\n", c.name, c.fallbacks[i]);
  }
  if (st == CT_OK) {
    char *err = NULL;
    if (LLVMVerifyModule(c.mod, LLVMReturnStatusAction, &err)) {
      st = ct_diag_error(diag, NULL, 0, 0, "codegen: internal error: invalid LLVM IR: %s", err);
      st = CT_ERR_INTERNAL;
    }
    LLVMDisposeMessage(err);
  }
  if (st == CT_OK) st = optimize(&c);
  if (st == CT_OK) st = write_output(&c, kind, path);
  cg_str_free(&json);
  for (int i = 0; i < m->n_graphs; i++) cg_str_free(&c.graph_fallback_json[i]);
  free(c.graph_fallback_json);
  free(c.fallbacks);
  free(c.graph_fallbacks);
  free(c.slots);
  LLVMDisposeBuilder(c.b);
  LLVMDisposeModule(c.mod);
  if (c.td) LLVMDisposeTargetData(c.td);
  if (c.tm) LLVMDisposeTargetMachine(c.tm);
  LLVMContextDispose(c.ctx);
  return st;
}
