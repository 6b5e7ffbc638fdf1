/* codegen/llvm/abi_meta.c: the module-level symbols of docs/abi.md: the embedded weights blob
 * `<name>_weights`, the metadata JSON (`ctorch_model_info`, `<name>_info`),
 * `ctorch_abi_version`, the typed wrappers `<name>_<entry>(syms..., inputs..., results...)` with
 * a per-thread workspace, and the generated C header documenting every argument's shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"
#include "ctorch/abi.h"

bool cg_is_param_input(const cg *c, const ct_value *v) {
  return v->name && ct_module_find_param(c->m, v->name) != NULL;
}

static const char *role_of(const cg *c, const ct_value *v) {
  const ct_param *p = v->name ? ct_module_find_param(c->m, v->name) : NULL;
  if (!p) {
    /* A training graph's input that @forward does not take is a loss target (y). */
    const ct_graph *fwd = ct_module_find_graph(c->m, "forward");
    bool training = v->block && v->block->graph && v->block->graph != fwd;
    return training && fwd && v->name && !ct_graph_find_input(fwd, v->name) ? "target" : "input";
  }
  return p->kind == CT_PARAM_WEIGHT ? "param" : p->kind == CT_PARAM_BUFFER ? "buffer" : "state";
}

static void json_string(cg_str *j, const char *s) {
  cg_str_printf(j, "\"");
  for (const char *p = s; *p; p++) {
    if (*p == '"' || *p == '\\')
      cg_str_printf(j, "\\%c", *p);
    else if ((unsigned char)*p < 0x20)
      cg_str_printf(j, "\\u%04x", (unsigned char)*p);
    else
      cg_str_printf(j, "%c", *p);
  }
  cg_str_printf(j, "\"");
}

static void json_shape(const cg *c, cg_str *j, const ct_type *t) {
  cg_str_printf(j, "[");
  for (int i = 0; i < t->rank; i++) {
    if (i) cg_str_printf(j, ", ");
    if (!t->dims[i].sym) {
      cg_str_printf(j, "%lld", (long long)t->dims[i].off);
    } else {
      char buf[128];
      ct_dim_format(c->m, t->dims[i], buf, sizeof buf);
      json_string(j, buf);
    }
  }
  cg_str_printf(j, "]");
}

static const char *result_name(const ct_graph *g, int i, char *buf, size_t size) {
  const char *n = ct_graph_result_name(g, i);
  if (n) return n;
  if (ct_graph_num_results(g) == 1) return "output";
  snprintf(buf, size, "output%d", i);
  return buf;
}

/* Byte offsets of each parameter in the weights blob (64-byte aligned); returns the total. */
static int64_t weight_offsets(const cg *c, int64_t *offsets) {
  int64_t off = 0;
  for (int i = 0; i < c->m->n_params; i++) {
    const ct_type *t = &c->m->params[i].type;
    int64_t n = (int64_t)ct_dtype_size(t->dtype);
    for (int k = 0; k < t->rank; k++) n *= t->dims[k].off;
    offsets[i] = off;
    off = (off + n + CT_ALIGN - 1) / CT_ALIGN * CT_ALIGN;
  }
  return off;
}

static int64_t param_nbytes(const ct_param *p) {
  int64_t n = (int64_t)ct_dtype_size(p->type.dtype);
  for (int k = 0; k < p->type.rank; k++) n *= p->type.dims[k].off;
  return n;
}

static void build_json(cg *c, cg_str *j, const int64_t *offsets) {
  cg_str_printf(j, "{\"abi\": %d, \"name\": ", CT_ABI_VERSION);
  json_string(j, c->name);
  cg_str_printf(j, ", \"symbols\": [");
  for (int s = 1; s <= c->m->n_syms; s++) {
    if (s > 1) cg_str_printf(j, ", ");
    json_string(j, c->m->syms[s]);
  }
  cg_str_printf(j, "], \"weights_embedded\": %s, \"params\": [",
                c->opt->embed_weights ? "true" : "false");
  for (int i = 0; i < c->m->n_params; i++) {
    const ct_param *p = &c->m->params[i];
    cg_str_printf(j, "%s{\"name\": ", i ? ", " : "");
    json_string(j, p->name);
    cg_str_printf(j, ", \"kind\": \"%s\", \"dtype\": \"%s\", \"shape\": ",
                  p->kind == CT_PARAM_WEIGHT   ? "weight"
                  : p->kind == CT_PARAM_BUFFER ? "buffer"
                                               : "state",
                  ct_dtype_name(p->type.dtype));
    json_shape(c, j, &p->type);
    cg_str_printf(j, ", \"offset\": %lld, \"nbytes\": %lld}", (long long)offsets[i],
                  (long long)param_nbytes(p));
  }
  cg_str_printf(j, "], \"entries\": [");
  for (int gi = 0; gi < c->m->n_graphs; gi++) {
    const ct_graph *g = c->m->graphs[gi];
    cg_str_printf(j, "%s{\"name\": ", gi ? ", " : "");
    json_string(j, g->name);
    cg_str_printf(j, ", \"inputs\": [");
    for (int i = 0; i < ct_graph_num_inputs(g); i++) {
      const ct_value *v = ct_graph_input(g, i);
      cg_str_printf(j, "%s{\"name\": ", i ? ", " : "");
      json_string(j, v->name ? v->name : "");
      cg_str_printf(j, ", \"dtype\": \"%s\", \"shape\": ", ct_dtype_name(v->type.dtype));
      json_shape(c, j, &v->type);
      cg_str_printf(j, ", \"role\": \"%s\"}", role_of(c, v));
    }
    cg_str_printf(j, "], \"results\": [");
    for (int i = 0; i < ct_graph_num_results(g); i++) {
      const ct_value *v = ct_graph_result(g, i);
      char buf[32];
      cg_str_printf(j, "%s{\"name\": ", i ? ", " : "");
      json_string(j, result_name(g, i, buf, sizeof buf));
      cg_str_printf(j, ", \"dtype\": \"%s\", \"shape\": ", ct_dtype_name(v->type.dtype));
      json_shape(c, j, &v->type);
      cg_str_printf(j, "}");
    }
    const cg_str *fb = &c->graph_fallback_json[gi];
    cg_str_printf(j, "], \"fallbacks\": %s}", fb->s ? fb->s : "[]");
  }
  cg_str_printf(j, "]}");
}

static LLVMValueRef const_string_global(cg *c, const char *name, const char *s, size_t n) {
  LLVMValueRef init = LLVMConstStringInContext(c->ctx, s, (unsigned)n, 0);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

/* const char *fname(void) { return text; } */
static void emit_string_fn(cg *c, const char *fname, LLVMValueRef str) {
  LLVMValueRef fn = LLVMAddFunction(c->mod, fname, LLVMFunctionType(c->t_i8p, NULL, 0, 0));
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  LLVMBuildRet(c->b, LLVMBuildBitCast(c->b, str, c->t_i8p, ""));
}

static ct_status emit_weights(cg *c, const int64_t *offsets, int64_t total) {
  for (int i = 0; i < c->m->n_params; i++)
    if (!c->m->params[i].init)
      return ct_diag_error(c->diag, NULL, 0, 0, "codegen: parameter '%s' has no value to embed "
                           "(give --weights, or --external-weights)", c->m->params[i].name);
  char *blob = calloc((size_t)total + 1, 1);
  if (!blob) return ct_diag_error(c->diag, NULL, 0, 0, "codegen: out of memory for the weights");
  for (int i = 0; i < c->m->n_params; i++) {
    const ct_param *p = &c->m->params[i];
    ct_tensor *t = ct_tensor_contiguous(p->init);
    if (!t) {
      free(blob);
      return ct_diag_error(c->diag, NULL, 0, 0, "codegen: out of memory for the weights");
    }
    size_t n = ct_tensor_nbytes(t);
    if ((int64_t)n != param_nbytes(p) || t->dtype != p->type.dtype) {
      ct_tensor_release(t);
      free(blob);
      return ct_diag_error(c->diag, NULL, 0, 0, "codegen: parameter '%s' does not match its type",
                           p->name);
    }
    memcpy(blob + offsets[i], ct_tensor_data(t), n);
    ct_tensor_release(t);
  }
  char gname[256];
  snprintf(gname, sizeof gname, "%s_weights", c->name);
  LLVMValueRef init = LLVMConstStringInContext(c->ctx, blob, (unsigned)(total ? total : 1), 1);
  free(blob);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), gname);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, CT_ALIGN);
  return CT_OK;
}

/* int NAME_E(int64_t syms..., const void *inputs..., void *results...): binds the embedded
 * weights, grows a per-thread workspace and calls NAME_E_call. */
static void emit_wrapper(cg *c, const ct_graph *g, LLVMValueRef weights, const int64_t *offsets) {
  int n_syms = c->m->n_syms, n_in = ct_graph_num_inputs(g), n_res = ct_graph_num_results(g);
  int n_user = 0;
  for (int i = 0; i < n_in; i++) n_user += !cg_is_param_input(c, ct_graph_input(g, i));
  int n_args = n_syms + n_user + n_res;
  LLVMTypeRef *at = calloc((size_t)n_args + 1, sizeof *at);
  if (!at) abort();
  for (int i = 0; i < n_args; i++) at[i] = i < n_syms ? c->t_i64 : c->t_i8p;
  char fname[512];
  snprintf(fname, sizeof fname, "%s_%s", c->name, g->name);
  LLVMValueRef fn = LLVMAddFunction(c->mod, fname, LLVMFunctionType(c->t_i32, at, (unsigned)n_args, 0));
  free(at);
  LLVMValueRef saved = c->fn;
  c->fn = fn;
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
  LLVMValueRef syms = LLVMBuildAlloca(c->b, LLVMArrayType(c->t_i64, (unsigned)n_syms + 1), "syms");
  LLVMValueRef args = LLVMBuildAlloca(c->b, LLVMArrayType(c->t_i8p, (unsigned)n_in + 1), "args");
  LLVMValueRef res = LLVMBuildAlloca(c->b, LLVMArrayType(c->t_i8p, (unsigned)n_res + 1), "results");
  LLVMValueRef call = LLVMBuildAlloca(c->b, c->t_call, "call");
  LLVMValueRef syms0 = LLVMBuildBitCast(c->b, syms, c->t_i64p, "");
  LLVMTypeRef ppi8 = LLVMPointerType(c->t_i8p, 0);
  LLVMValueRef args0 = LLVMBuildBitCast(c->b, args, ppi8, "");
  LLVMValueRef res0 = LLVMBuildBitCast(c->b, res, ppi8, "");
  LLVMBuildStore(c->b, cg_i64(c, 0), syms0);
  for (int s = 1; s <= n_syms; s++)
    LLVMBuildStore(c->b, LLVMGetParam(fn, (unsigned)s - 1),
                   LLVMBuildInBoundsGEP2(c->b, c->t_i64, syms0, (LLVMValueRef[]){cg_i64(c, s)}, 1, ""));
  int user = 0;
  for (int i = 0; i < n_in; i++) {
    const ct_value *v = ct_graph_input(g, i);
    LLVMValueRef p;
    if (cg_is_param_input(c, v)) {
      int pi = 0;
      while (strcmp(c->m->params[pi].name, v->name) != 0) pi++;
      LLVMValueRef w = LLVMBuildBitCast(c->b, weights, c->t_i8p, "");
      p = LLVMBuildInBoundsGEP2(c->b, c->t_i8, w, (LLVMValueRef[]){cg_i64(c, offsets[pi])}, 1, "");
    } else {
      p = LLVMGetParam(fn, (unsigned)(n_syms + user++));
    }
    LLVMBuildStore(c->b, p, LLVMBuildInBoundsGEP2(c->b, c->t_i8p, args0, (LLVMValueRef[]){cg_i64(c, i)}, 1, ""));
  }
  for (int i = 0; i < n_res; i++)
    LLVMBuildStore(c->b, LLVMGetParam(fn, (unsigned)(n_syms + n_user + i)),
                   LLVMBuildInBoundsGEP2(c->b, c->t_i8p, res0, (LLVMValueRef[]){cg_i64(c, i)}, 1, ""));

  /* The per-thread workspace, shared by every entry of the model. */
  char ws_name[256], cap_name[256];
  snprintf(ws_name, sizeof ws_name, "%s.tls_workspace", c->name);
  snprintf(cap_name, sizeof cap_name, "%s.tls_workspace_cap", c->name);
  LLVMValueRef ws_g = LLVMGetNamedGlobal(c->mod, ws_name);
  LLVMValueRef cap_g = LLVMGetNamedGlobal(c->mod, cap_name);
  if (!ws_g) {
    ws_g = LLVMAddGlobal(c->mod, c->t_i8p, ws_name);
    LLVMSetInitializer(ws_g, LLVMConstNull(c->t_i8p));
    LLVMSetThreadLocal(ws_g, 1);
    LLVMSetLinkage(ws_g, LLVMInternalLinkage);
    cap_g = LLVMAddGlobal(c->mod, c->t_i64, cap_name);
    LLVMSetInitializer(cap_g, cg_i64(c, 0));
    LLVMSetThreadLocal(cap_g, 1);
    LLVMSetLinkage(cap_g, LLVMInternalLinkage);
  }
  snprintf(fname, sizeof fname, "%s_%s_workspace_size", c->name, g->name);
  LLVMValueRef wsf = LLVMGetNamedFunction(c->mod, fname);
  LLVMValueRef need = cg_call(c, wsf, &syms0, 1, "need");
  LLVMValueRef cap = LLVMBuildLoad2(c->b, c->t_i64, cap_g, "cap");
  LLVMBasicBlockRef grow = LLVMAppendBasicBlockInContext(c->ctx, fn, "grow");
  LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(c->ctx, fn, "nomem");
  LLVMBasicBlockRef grown = LLVMAppendBasicBlockInContext(c->ctx, fn, "grown");
  LLVMBasicBlockRef run = LLVMAppendBasicBlockInContext(c->ctx, fn, "run");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, need, cap, ""), grow, run);
  LLVMPositionBuilderAtEnd(c->b, grow);
  LLVMValueRef old = LLVMBuildLoad2(c->b, c->t_i8p, ws_g, "");
  LLVMValueRef freef = cg_extern(c, "free", LLVMFunctionType(c->t_void, &c->t_i8p, 1, 0));
  cg_call(c, freef, &old, 1, "");
  LLVMBuildStore(c->b, LLVMConstNull(c->t_i8p), ws_g);
  LLVMBuildStore(c->b, cg_i64(c, 0), cap_g);
  LLVMTypeRef pm_args[] = {ppi8, c->t_i64, c->t_i64};
  LLVMValueRef pm = cg_extern(c, "posix_memalign", LLVMFunctionType(c->t_i32, pm_args, 3, 0));
  LLVMValueRef pm_call[] = {ws_g, cg_i64(c, CT_ALIGN), need};
  LLVMValueRef rc = cg_call(c, pm, pm_call, 3, "rc");
  LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, 0), ""), fail, grown);
  LLVMPositionBuilderAtEnd(c->b, fail);
  LLVMValueRef msg = LLVMBuildGlobalStringPtr(c->b, "out of memory for the workspace", "");
  LLVMValueRef set = cg_extern(c, "ct_abi_set_error", LLVMFunctionType(c->t_void, &c->t_i8p, 1, 0));
  cg_call(c, set, &msg, 1, "");
  LLVMBuildRet(c->b, cg_i32(c, CT_ERR_NOMEM));
  LLVMPositionBuilderAtEnd(c->b, grown);
  LLVMBuildStore(c->b, need, cap_g);
  LLVMBuildBr(c->b, run);
  LLVMPositionBuilderAtEnd(c->b, run);
  LLVMValueRef ws = LLVMBuildLoad2(c->b, c->t_i8p, ws_g, "ws");
  LLVMValueRef fieldv[] = {syms0, args0, res0, ws};
  for (unsigned i = 0; i < 4; i++)
    LLVMBuildStore(c->b, fieldv[i], LLVMBuildStructGEP2(c->b, c->t_call, call, i, ""));
  snprintf(fname, sizeof fname, "%s_%s_call", c->name, g->name);
  LLVMValueRef entry = LLVMGetNamedFunction(c->mod, fname);
  LLVMBuildRet(c->b, cg_call(c, entry, &call, 1, ""));
  c->fn = saved;
}

ct_status cg_emit_module_symbols(cg *c, cg_str *json) {
  int64_t *offsets = calloc((size_t)c->m->n_params + 1, sizeof *offsets);
  if (!offsets) abort();
  int64_t total = weight_offsets(c, offsets);
  build_json(c, json, offsets);
  LLVMValueRef text = const_string_global(c, "ctorch.model_info", json->s, json->n);
  emit_string_fn(c, "ctorch_model_info", text);
  char fname[512];
  snprintf(fname, sizeof fname, "%s_info", c->name);
  emit_string_fn(c, fname, text);
  LLVMValueRef ver = LLVMAddFunction(c->mod, "ctorch_abi_version", LLVMFunctionType(c->t_i32, NULL, 0, 0));
  LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, ver, "entry"));
  LLVMBuildRet(c->b, cg_i32(c, CT_ABI_VERSION));
  ct_status st = CT_OK;
  if (c->opt->embed_weights) {
    st = emit_weights(c, offsets, total);
    snprintf(fname, sizeof fname, "%s_weights", c->name);
    LLVMValueRef w = LLVMGetNamedGlobal(c->mod, fname);
    for (int gi = 0; st == CT_OK && gi < c->m->n_graphs; gi++)
      emit_wrapper(c, c->m->graphs[gi], w, offsets);
  }
  free(offsets);
  return st;
}

/* ---- the generated header ---- */

static const char *c_type(ct_dtype dt) {
  switch (dt) {
  case CT_DT_F32: return "float";
  case CT_DT_F64: return "double";
  case CT_DT_I64: return "int64_t";
  case CT_DT_I32: return "int32_t";
  case CT_DT_F16:
  case CT_DT_BF16: return "uint16_t";
  default: return "uint8_t";
  }
}

static void c_ident(const char *s, char *out, size_t size) {
  size_t k = 0;
  for (; *s && k + 1 < size; s++) {
    char ch = *s;
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    out[k++] = ok ? ch : '_';
  }
  out[k] = 0;
}

ct_status cg_write_header(cg *c, const char *path) {
  cg_str h = {0};
  char upper[256];
  size_t k = 0;
  for (const char *p = c->name; *p && k + 1 < sizeof upper; p++)
    upper[k++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  upper[k] = 0;
  cg_str_printf(&h, "/* %s.h: generated by ctorchc; the C interface of the compiled model '%s'\n"
                " * (docs/abi.md). All tensors are contiguous and row-major; result buffers must not\n"
                " * overlap the inputs or each other. */\n",
                c->name, c->name);
  cg_str_printf(&h, "#ifndef %s_MODEL_H\n#define %s_MODEL_H\n\n#include <stdint.h>\n\n", upper,
                upper);
  cg_str_printf(&h, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  cg_str_printf(&h, "#ifndef CTORCH_ABI_H\ntypedef struct ct_abi_call {\n"
                "  const int64_t *syms;  /* symbol values, indexed by symbol id (syms[0] unused) */\n"
                "  void *const *args;    /* one data pointer per graph input, in order */\n"
                "  void *const *results; /* one data pointer per result, preallocated */\n"
                "  void *workspace;      /* >= <entry>_workspace_size(syms) bytes, 64-byte aligned */\n"
                "} ct_abi_call;\n#endif\n\n");
  if (c->m->n_syms) {
    cg_str_printf(&h, "/* Symbols (syms[i]):");
    for (int s = 1; s <= c->m->n_syms; s++) cg_str_printf(&h, " %d = %s", s, c->m->syms[s]);
    cg_str_printf(&h, " */\n\n");
  }
  for (int gi = 0; gi < c->m->n_graphs; gi++) {
    const ct_graph *g = c->m->graphs[gi];
    cg_str_printf(&h, "/* Entry '%s'.\n * args (graph inputs, in order):\n", g->name);
    for (int i = 0; i < ct_graph_num_inputs(g); i++) {
      const ct_value *v = ct_graph_input(g, i);
      char t[256];
      ct_type_format(c->m, &v->type, t, sizeof t);
      cg_str_printf(&h, " *   [%d] %s: %s (%s)\n", i, v->name ? v->name : "?", t, role_of(c, v));
    }
    cg_str_printf(&h, " * results:\n");
    for (int i = 0; i < ct_graph_num_results(g); i++) {
      char t[256], buf[32];
      ct_type_format(c->m, &ct_graph_result(g, i)->type, t, sizeof t);
      cg_str_printf(&h, " *   [%d] %s: %s\n", i, result_name(g, i, buf, sizeof buf), t);
    }
    cg_str_printf(&h, " * Returns 0 on success, else a ct_status; the message is in the runtime's\n"
                  " * ct_abi_last_error(). */\n");
    cg_str_printf(&h, "int32_t %s_%s_call(const ct_abi_call *call);\n", c->name, g->name);
    cg_str_printf(&h, "int64_t %s_%s_workspace_size(const int64_t *syms);\n", c->name, g->name);
    if (c->opt->embed_weights) {
      cg_str_printf(&h, "/* With the embedded weights and a per-thread workspace. */\nint %s_%s(",
                    c->name, g->name);
      int n = 0;
      for (int s = 1; s <= c->m->n_syms; s++) {
        char id[128];
        c_ident(c->m->syms[s], id, sizeof id);
        cg_str_printf(&h, "%sint64_t %s", n++ ? ", " : "", id);
      }
      for (int i = 0; i < ct_graph_num_inputs(g); i++) {
        const ct_value *v = ct_graph_input(g, i);
        if (cg_is_param_input(c, v)) continue;
        char id[128];
        c_ident(v->name ? v->name : "input", id, sizeof id);
        cg_str_printf(&h, "%sconst %s *%s", n++ ? ", " : "", c_type(v->type.dtype), id);
      }
      for (int i = 0; i < ct_graph_num_results(g); i++) {
        char id[128], buf[32];
        c_ident(result_name(g, i, buf, sizeof buf), id, sizeof id);
        cg_str_printf(&h, "%s%s *%s", n++ ? ", " : "", c_type(ct_graph_result(g, i)->type.dtype), id);
      }
      cg_str_printf(&h, "%s);\n", n ? "" : "void");
    }
    cg_str_printf(&h, "\n");
  }
  cg_str_printf(&h, "/* The metadata JSON (docs/abi.md); also as ctorch_model_info(). */\n"
                "const char *%s_info(void);\nint32_t ctorch_abi_version(void);\n", c->name);
  if (c->opt->embed_weights)
    cg_str_printf(&h, "/* The parameters, at the offsets the metadata gives. */\n"
                  "extern const unsigned char %s_weights[];\n", c->name);
  cg_str_printf(&h, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
  FILE *f = fopen(path, "w");
  ct_status st = CT_OK;
  if (!f || fwrite(h.s, 1, h.n, f) != h.n) st = ct_diag_error(c->diag, path, 0, 0, "cannot write the header");
  if (f && fclose(f) != 0 && st == CT_OK) st = ct_diag_error(c->diag, path, 0, 0, "cannot write the header");
  cg_str_free(&h);
  return st;
}
