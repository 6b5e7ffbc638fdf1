/* codegen/llvm/alias.c: alias metadata for the outlined kernels (cg_kernel_*, codegen.c). A
 * kernel reloads its buffer pointers from an i64 context array, so LLVM knows nothing about
 * them and the loop vectorizer needs a runtime overlap check per pair (it gives up past a few,
 * and a check that sees an in-place update's two equal pointers picks the scalar loop). Here
 * every access through a captured pointer gets scoped-noalias metadata: one scope per region
 * (graph input, graph result, workspace slot) and a !noalias list of the regions that are
 * disjoint from it, by the ABI's contract (docs/abi.md) and by the memory plan.
 *
 * Why scoped noalias and not llvm.loop.parallel_accesses: the regions' disjointness is a fact
 * about memory, true for any loop a lowering writes, whereas "no loop-carried dependence" is a
 * claim about each loop (false for a column reduction's accumulating rows or max_pool2d_grad's
 * scatter of overlapping windows) that every lowering would have to make right; and access
 * groups must be distinct nodes, which LLVM 14's C API cannot create. Accesses within one region
 * stay untold: LLVM's own analysis orders them, and an in-place update, which reads and writes
 * one pointer at one index (entry.c gives same-bytes slots one pointer, capture one kernel
 * value), needs no check. The claims hold within one call of the kernel, which is all LLVM may
 * assume: kernels are only called through ct_parallel_for, never inlined. */
#include <stdio.h>
#include <string.h>

#include "cg_internal.h"

/* p's operand when p is a GEP or a bitcast (instruction or constant expression), else NULL. */
static LLVMValueRef offset_base(LLVMValueRef p) {
  if (LLVMIsAGetElementPtrInst(p) || LLVMIsABitCastInst(p)) return LLVMGetOperand(p, 0);
  if (LLVMIsAConstantExpr(p)) {
    LLVMOpcode op = LLVMGetConstOpcode(p);
    if (op == LLVMGetElementPtr || op == LLVMBitCast) return LLVMGetOperand(p, 0);
  }
  return NULL;
}

static cg_region known_region(const cg *c, LLVMValueRef p) {
  for (int i = 0; i < c->n_args; i++)
    if (c->arg_ptrs[i] == p) return (cg_region){CG_REGION_ARG, i};
  for (int i = 0; i < c->n_res; i++)
    if (c->res_ptrs[i] == p) return (cg_region){CG_REGION_RESULT, i};
  for (int i = 0; c->slot_ptrs && i < c->n_slots; i++)
    if (c->slot_ptrs[i] == p) return (cg_region){CG_REGION_SLOT, i};
  return (cg_region){CG_REGION_UNKNOWN, -1};
}

/* The innermost known pointer on p's GEP/bitcast chain (a slot pointer is itself a GEP of the
 * workspace pointer, which is not a region). */
cg_region cg_pointer_region(const cg *c, LLVMValueRef p) {
  for (; p; p = offset_base(p)) {
    cg_region r = known_region(c, p);
    if (r.kind != CG_REGION_UNKNOWN) return r;
  }
  return (cg_region){CG_REGION_UNKNOWN, -1};
}

/* The contract (docs/abi.md): results overlap neither inputs nor each other, the workspace
 * overlaps neither; inputs may share bytes (they are only read, so that costs nothing). In the
 * workspace, slots after the plan's arena are disjoint from everything; planned ones when the
 * plan's offsets and sizes keep them apart for every binding. */
bool cg_regions_disjoint(const cg *c, cg_region a, cg_region b) {
  if (a.kind == CG_REGION_UNKNOWN || b.kind == CG_REGION_UNKNOWN) return false;
  if (a.kind != b.kind) return true;
  switch (a.kind) {
  case CG_REGION_ARG: return false;
  case CG_REGION_RESULT: return a.index != b.index;
  case CG_REGION_SLOT: {
    if (a.index == b.index) return false;
    const ct_buffer *x = c->slots[a.index].planned, *y = c->slots[b.index].planned;
    return !x || !y || ct_mem_plan_disjoint(x, y);
  }
  default: return false;
  }
}

enum { MAX_REGIONS = 64 };

typedef struct kernel_regions {
  cg_region region[MAX_REGIONS];
  int n;
  int of_cap[64]; /* region index of each capture, or -1 */
  LLVMMetadataRef scope[MAX_REGIONS];
} kernel_regions;

/* The region index of the captured pointer an access goes through, or -1. */
static int access_region(const cg_kernel *k, const kernel_regions *r, LLVMValueRef ptr) {
  for (; ptr; ptr = offset_base(ptr))
    for (int i = 0; i < k->n_caps; i++)
      if (k->kernel_vals[i] == ptr) return r->of_cap[i];
  return -1;
}

/* !alias.scope {the scopes of regions} and !noalias {every region disjoint from all of them}. */
static void tag(cg *c, const kernel_regions *r, LLVMValueRef inst, const int *regions, int n) {
  LLVMMetadataRef scopes[2], noalias[MAX_REGIONS];
  int n_noalias = 0;
  for (int i = 0; i < n; i++) {
    if (regions[i] < 0) return; /* one untold pointer: no claim at all */
    scopes[i] = r->scope[regions[i]];
  }
  for (int j = 0; j < r->n; j++) {
    bool disjoint = true;
    for (int i = 0; i < n && disjoint; i++)
      disjoint = cg_regions_disjoint(c, r->region[regions[i]], r->region[j]);
    if (disjoint) noalias[n_noalias++] = r->scope[j];
  }
  unsigned scope_kind = LLVMGetMDKindIDInContext(c->ctx, "alias.scope", 11);
  unsigned noalias_kind = LLVMGetMDKindIDInContext(c->ctx, "noalias", 7);
  LLVMSetMetadata(inst, scope_kind,
                  LLVMMetadataAsValue(c->ctx, LLVMMDNodeInContext2(c->ctx, scopes, (size_t)n)));
  if (n_noalias)
    LLVMSetMetadata(
        inst, noalias_kind,
        LLVMMetadataAsValue(c->ctx, LLVMMDNodeInContext2(c->ctx, noalias, (size_t)n_noalias)));
}

void cg_kernel_mark_aliases(cg *c, const cg_kernel *k) {
  kernel_regions r;
  memset(&r, 0, sizeof r);
  for (int i = 0; i < k->n_caps; i++) {
    r.of_cap[i] = -1;
    if (LLVMGetTypeKind(LLVMTypeOf(k->caller_vals[i])) != LLVMPointerTypeKind) continue;
    cg_region g = cg_pointer_region(c, k->caller_vals[i]);
    if (g.kind == CG_REGION_UNKNOWN) continue;
    int j = 0;
    while (j < r.n && !(r.region[j].kind == g.kind && r.region[j].index == g.index))
      j++;
    if (j == r.n) r.region[r.n++] = g;
    r.of_cap[i] = j;
  }
  if (r.n == 0) return;
  /* Scopes and domain are uniqued nodes named after the kernel (unique in the module). */
  size_t len;
  const char *kname = LLVMGetValueName2(k->fn, &len);
  char name[192];
  int w = snprintf(name, sizeof name, "ct.%.*s", (int)len, kname);
  LLVMMetadataRef dom_name = LLVMMDStringInContext2(c->ctx, name, (size_t)w);
  LLVMMetadataRef domain = LLVMMDNodeInContext2(c->ctx, &dom_name, 1);
  static const char *const kinds[] = {"?", "arg", "result", "slot"};
  for (int j = 0; j < r.n; j++) {
    w = snprintf(name, sizeof name, "ct.%.*s.%s%d", (int)len, kname, kinds[r.region[j].kind],
                 r.region[j].index);
    LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(c->ctx, name, (size_t)w), domain};
    r.scope[j] = LLVMMDNodeInContext2(c->ctx, ops, 2);
  }
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(k->fn); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
      int regions[2];
      if (LLVMIsALoadInst(in)) {
        regions[0] = access_region(k, &r, LLVMGetOperand(in, 0));
        tag(c, &r, in, regions, 1);
      } else if (LLVMIsAStoreInst(in)) {
        regions[0] = access_region(k, &r, LLVMGetOperand(in, 1));
        tag(c, &r, in, regions, 1);
      } else if (LLVMIsAMemSetInst(in)) {
        regions[0] = access_region(k, &r, LLVMGetOperand(in, 0));
        tag(c, &r, in, regions, 1);
      } else if (LLVMIsAMemCpyInst(in) || LLVMIsAMemMoveInst(in)) {
        regions[0] = access_region(k, &r, LLVMGetOperand(in, 0));
        regions[1] = access_region(k, &r, LLVMGetOperand(in, 1));
        tag(c, &r, in, regions, regions[0] == regions[1] ? 1 : 2);
      }
    }
}
