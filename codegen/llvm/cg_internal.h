/* codegen/llvm/cg_internal.h: what the files of the LLVM code generator share: the generation
 * context (LLVM handles, the mirrored runtime struct types), the per-graph value-to-pointer
 * map, the workspace layout, and the lowering entry points of each file. Private to
 * codegen/llvm/. LLVM 14 has typed pointers: every data pointer is kept as i8* and cast at the
 * point of use. */
#ifndef CT_CG_INTERNAL_H
#define CT_CG_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen.h"
#include "ir.h"

/* Text sink for the JSON metadata and the generated header. */
typedef struct cg_str {
  char *s;
  size_t n, cap;
} cg_str;
void cg_str_printf(cg_str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cg_str_free(cg_str *b);

/* One workspace region: a value's bytes, or scratch a lowering needs (im2col columns, the
 * materialized values of a fusion body). size = mult * prod(factors). */
typedef struct cg_slot {
  const ct_value *value; /* NULL for scratch */
  int64_t mult;
  int n_factors;
  ct_dim factors[CT_MAX_RANK + 2];
  const ct_buffer *planned; /* the plan's buffer (offset and size), or NULL: after the arena */
} cg_slot;

/* Maps values to their data pointer (an i8* in the current function). */
typedef struct cg_vmap_entry {
  const ct_value *key;
  LLVMValueRef ptr;
  int slot;   /* index into the layout, or -1 */
  int result; /* graph result computed in place into results[result], or -1 */
  int scratch; /* for a node's first result inside a fusion body: the node's scratch slot */
} cg_vmap_entry;

typedef struct cg {
  const ct_module *m;
  const ct_codegen_options *opt;
  const char *name; /* exported symbol prefix */
  ct_diag *diag;
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTargetMachineRef tm;
  LLVMTargetDataRef td;
  LLVMTypeRef t_void, t_i1, t_i8, t_i32, t_i64, t_f32, t_f64, t_i8p, t_i64p;
  LLVMTypeRef t_call;    /* ct_abi_call */
  LLVMTypeRef t_storage; /* ct_storage */
  LLVMTypeRef t_tensor;  /* ct_tensor */
  LLVMTypeRef t_attr;    /* ct_attr */
  LLVMTypeRef t_dim;     /* ct_dim */
  LLVMTypeRef t_range_fn; /* void (i8*, i64, i64): ct_range_fn */
  int n_kernels;         /* outlined kernel counter, for unique names */

  /* Per graph. */
  const ct_graph *g;
  LLVMValueRef fn;        /* the _call function being emitted */
  LLVMValueRef *sym_vals; /* i64 per symbol id (index 0 unused) */
  LLVMValueRef workspace; /* i8* */
  cg_vmap_entry *vmap;
  size_t vmap_cap;
  cg_slot *slots;
  int n_slots, cap_slots;
  LLVMValueRef *slot_ptrs; /* i8* per slot, in the _call function */
  LLVMValueRef *arg_ptrs;  /* i8* per graph input (call->args[i]) */
  LLVMValueRef *res_ptrs;  /* i8* per graph result (call->results[k]) */
  int n_args, n_res;
  const char **fallbacks;  /* op names that fell back anywhere in the module, deduplicated */
  int n_fallbacks;
  const char **graph_fallbacks; /* the same, for the current graph */
  int n_graph_fallbacks;
  cg_str *graph_fallback_json; /* per graph (module order): its "fallbacks" JSON array */
  bool fell_back;               /* set by cg_lower_fallback: the last node used the runtime kernel */
} cg;

/* ---- helpers (codegen.c) ---- */
LLVMValueRef cg_i64(cg *c, int64_t v);
LLVMValueRef cg_i32(cg *c, int32_t v);
/* The runtime value of a (possibly symbolic) dim. */
LLVMValueRef cg_dim(cg *c, ct_dim d);
/* Element count of t as an i64. */
LLVMValueRef cg_numel(cg *c, const ct_type *t);
LLVMTypeRef cg_elem_type(cg *c, ct_dtype dt); /* storage type; NULL when not lowered natively */
LLVMValueRef cg_gep(cg *c, LLVMTypeRef elem, LLVMValueRef base_i8p, LLVMValueRef index);
/* Declares (once) and returns an external function. */
LLVMValueRef cg_extern(cg *c, const char *name, LLVMTypeRef fn_type);
LLVMValueRef cg_call(cg *c, LLVMValueRef fn, LLVMValueRef *args, unsigned n, const char *name);
/* Counted loop [begin, end): returns the induction variable; cg_loop_end closes it. */
typedef struct cg_loop {
  LLVMBasicBlockRef header, body, exit;
  LLVMValueRef iv, next;
  bool vectorize; /* cg_loop_vectorize */
} cg_loop;
LLVMValueRef cg_loop_begin(cg *c, cg_loop *l, LLVMValueRef begin, LLVMValueRef end,
                           const char *name);
/* Asks LLVM to vectorize loop l (between cg_loop_begin and cg_loop_end) even when its constant
 * trip count is below the vectorizer's tiny-loop threshold (16), and not to unroll it first
 * (a short loop is fully unrolled before the vectorizer runs). Legality is still LLVM's. */
void cg_loop_vectorize(cg_loop *l);
void cg_loop_end(cg *c, cg_loop *l);
/* if (status != 0) { ct_abi_set_error(msg); return status; } with msg an i8* (or NULL: a
 * constant message naming the op). */
void cg_check_status(cg *c, LLVMValueRef status, LLVMValueRef msg);
ct_status cg_error(cg *c, const ct_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cg_note_fallback(cg *c, ct_op op);

/* ---- values and workspace (entry.c) ---- */
LLVMValueRef cg_value_ptr(cg *c, const ct_value *v);
void cg_value_set_ptr(cg *c, const ct_value *v, LLVMValueRef ptr);
void cg_value_set_slot(cg *c, const ct_value *v, int slot);
void cg_value_set_scratch(cg *c, const ct_value *v, int scratch);
int cg_value_scratch(cg *c, const ct_value *v);
/* Reserves a scratch slot of mult * prod(factors) bytes in the layout of the current graph,
 * during the layout pre-pass; returns its index. */
int cg_scratch_slot(cg *c, int64_t mult, int n_factors, const ct_dim *factors);
LLVMValueRef cg_slot_ptr(cg *c, int slot);
/* Emits the entries of every graph (<name>_<graph>_call, _workspace_size). */
ct_status cg_emit_graph(cg *c, const ct_graph *g);

/* ---- lowerings ---- */
/* A lowering returns CT_OK when it emitted the node, CT_ERR_UNSUPPORTED (emitting nothing) to
 * let the node fall back to the runtime kernel, or another status with a diagnostic. Each
 * also has a "prepare" step run by the layout pre-pass to reserve its scratch. */
typedef struct cg_lowering {
  ct_status (*prepare)(cg *c, const ct_node *n, int *scratch); /* may be NULL */
  ct_status (*lower)(cg *c, const ct_node *n, int scratch);
} cg_lowering;
extern const cg_lowering cg_lowerings[CT_OP_COUNT];

bool cg_ew_supported(cg *c, const ct_node *n);
/* exp of a scalar of float type t, as vectorizable inline code for f32. */
LLVMValueRef cg_exp(cg *c, LLVMTypeRef t, LLVMValueRef x);
/* One loop nest computing nodes[0..n) (elementwise) in registers, reading every operand not
 * defined in the run from its pointer and storing each of outs[k] to out_ptrs[k]. */
ct_status cg_emit_ew_run(cg *c, const ct_node *const *nodes, int n, const ct_value *const *outs,
                         LLVMValueRef const *out_ptrs, int n_outs);
ct_status cg_lower_elementwise(cg *c, const ct_node *n, int scratch);
ct_status cg_prepare_fusion(cg *c, const ct_node *n, int *scratch);
ct_status cg_lower_fusion(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_linear(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_matmul(cg *c, const ct_node *n, int scratch);
ct_status cg_prepare_conv2d(cg *c, const ct_node *n, int *scratch);
ct_status cg_lower_conv2d(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_conv2d_grad(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_max_pool2d(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_softmax(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_reduce(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_layer_norm(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_shape(cg *c, const ct_node *n, int scratch);
ct_status cg_lower_embedding(cg *c, const ct_node *n, int scratch);
/* Calls ct_kernel_run for n over the current pointers of its operands and results (listed as a
 * fallback); cg_emit_kernel_call emits the call alone (a native lowering's error path). */
ct_status cg_lower_fallback(cg *c, const ct_node *n);
void cg_emit_kernel_call(cg *c, const ct_node *n);
/* Lowers one node: its lowering, else the fallback. */
ct_status cg_lower_node(cg *c, const ct_node *n, int scratch);
ct_status cg_prepare_node(cg *c, const ct_node *n, int *scratch);

/* Parallel loops: an outlined kernel void k(i8 *ctx, i64 begin, i64 end) reading its captured
 * i64 words from ctx. cg_kernel_begin creates the function and positions the builder in it,
 * cg_kernel_capture maps a caller value to its load inside the kernel, cg_kernel_end returns to
 * the caller and emits ct_parallel_for(n, grain, k, ctx). */
typedef struct cg_kernel {
  LLVMValueRef fn, ctx_arg, begin, end;
  LLVMBasicBlockRef caller_block;
  LLVMBasicBlockRef entry, body; /* the captures' loads, then the lowering's code */
  LLVMValueRef caller_vals[64];
  LLVMValueRef kernel_vals[64]; /* each capture's value inside the kernel */
  int n_caps;
  LLVMValueRef saved_fn;
} cg_kernel;
void cg_kernel_begin(cg *c, cg_kernel *k, const char *what);
/* The kernel's copy of a caller value: loaded once in the kernel's entry block (so it dominates
 * all of the kernel), and the same kernel value each time one caller value is captured. */
LLVMValueRef cg_kernel_capture(cg *c, cg_kernel *k, LLVMValueRef caller_value);
/* Also attaches the alias metadata (cg_kernel_mark_aliases). */
void cg_kernel_end(cg *c, cg_kernel *k, LLVMValueRef n, LLVMValueRef grain);
/* An alloca in the entry block of the current function (so loops never grow the stack, and
 * mem2reg promotes scalar accumulators); align 0 keeps the type's alignment. */
LLVMValueRef cg_entry_alloca(cg *c, LLVMTypeRef t, const char *name, unsigned align);

/* ---- alias metadata of kernels (alias.c) ---- */
/* The memory a pointer of the _call function points into: a graph input, a graph result, or a
 * workspace slot (a pointer derived from one with GEPs stays inside it); UNKNOWN otherwise. */
typedef enum cg_region_kind {
  CG_REGION_UNKNOWN,
  CG_REGION_ARG,
  CG_REGION_RESULT,
  CG_REGION_SLOT
} cg_region_kind;
typedef struct cg_region {
  cg_region_kind kind;
  int index; /* input, result or slot index */
} cg_region;
cg_region cg_pointer_region(const cg *c, LLVMValueRef caller_ptr);
/* Whether no byte of a is a byte of b, under the ABI's contract and the memory plan. */
bool cg_regions_disjoint(const cg *c, cg_region a, cg_region b);
/* Tags every load, store and memory intrinsic of kernel k that goes through a captured pointer
 * with !alias.scope (its region) and !noalias (the regions provably disjoint from it). */
void cg_kernel_mark_aliases(cg *c, const cg_kernel *k);

/* ---- module-level ABI symbols (abi_meta.c) ---- */
ct_status cg_emit_module_symbols(cg *c, cg_str *json);
ct_status cg_write_header(cg *c, const char *path);
bool cg_is_param_input(const cg *c, const ct_value *v);

/* ---- linking (link.c) ---- */
ct_status cg_link_so(cg *c, const char *obj_path, const char *so_path);

#endif
