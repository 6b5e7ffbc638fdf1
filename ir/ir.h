/* ir/ir.h: ctorch's SSA IR: modules of named graphs, nodes with operands, results, attributes
 * and nested blocks, typed values with (possibly symbolic) shapes; the builder, printer, parser,
 * verifier, shape rules and the reference interpreter. Every compiler stage includes this.
 *
 * Memory: all IR objects of a module live in the module's arena and are freed together by
 * ct_module_free; nothing is freed one by one. Strings passed in are copied into the arena. */
#ifndef CTORCH_IR_H
#define CTORCH_IR_H

#include <stdbool.h>

#include "ctorch/tensor.h"
#include "ctorch/types.h"
#include "ops.h"

typedef struct ct_arena ct_arena;
typedef struct ct_value ct_value;
typedef struct ct_node ct_node;
typedef struct ct_block ct_block;
typedef struct ct_graph ct_graph;
typedef struct ct_module ct_module;

/* ---- arena ------------------------------------------------------------------------------ */

ct_arena *ct_arena_new(void);
void ct_arena_free(ct_arena *a);
/* Zeroed, 16-byte aligned memory that lives until the arena is freed. Aborts when out of memory
 * (the compiler has no way to continue; user input never makes this happen at sane sizes). */
void *ct_arena_alloc(ct_arena *a, size_t size);
char *ct_arena_strdup(ct_arena *a, const char *s);
char *ct_arena_strndup(ct_arena *a, const char *s, size_t n);
void *ct_arena_memdup(ct_arena *a, const void *p, size_t size);

/* ---- types ------------------------------------------------------------------------------ */

typedef struct ct_type {
  ct_dtype dtype;
  int rank;
  ct_dim dims[CT_MAX_RANK];
} ct_type;

ct_type ct_type_make(ct_dtype dt, int rank, const ct_dim *dims);
ct_type ct_type_concrete(ct_dtype dt, int rank, const int64_t *shape);
ct_type ct_type_scalar(ct_dtype dt);
bool ct_type_eq(const ct_type *a, const ct_type *b);
bool ct_type_is_concrete(const ct_type *t);
/* Element count as a dim: a constant, or coef*sym when exactly one dim is symbolic with off 0
 * and the others constant. Returns false when not representable (e.g. N*T). */
bool ct_type_numel(const ct_type *t, ct_dim *out);
/* Formats "f32[N,784]" into buf using m's symbol names (m may be NULL: symbols print as s1). */
void ct_type_format(const ct_module *m, const ct_type *t, char *buf, size_t size);
void ct_dim_format(const ct_module *m, ct_dim d, char *buf, size_t size);

/* How ct_input_spec_parse ended. */
typedef enum ct_spec_status {
  CT_SPEC_OK,
  CT_SPEC_MALFORMED,  /* not NAME=DTYPE[DIM,...] */
  CT_SPEC_UNKNOWN_SYM /* a symbol m lacks, while creating symbols is off */
} ct_spec_status;

typedef struct ct_input_spec {
  char name[128];
  ct_type type;
  const char *sym; /* CT_SPEC_UNKNOWN_SYM: the first unknown symbol, sym_len bytes of the spec */
  int sym_len;
} ct_input_spec;

/* Parses a tensor spec of the command line, "x=f32[N,784]": NAME=DTYPE[DIM,...], where NAME
 * is 1 to 127 bytes, DTYPE an IR dtype name, and each of the 0 to CT_MAX_RANK dims a decimal
 * size or a symbol ([A-Za-z_][A-Za-z0-9_]*). A symbol m lacks is added to m when create_syms
 * (the forward inputs introduce them), else CT_SPEC_UNKNOWN_SYM (--target only reuses them);
 * a malformed spec changes nothing in m. Fills *out and reports nothing: the caller words the
 * diagnostic. */
ct_spec_status ct_input_spec_parse(ct_module *m, const char *spec, bool create_syms,
                                   ct_input_spec *out);

/* Dim arithmetic on affine dims. Each returns false when the result is not affine in one
 * symbol (the caller reports an unsupported symbolic shape). */
bool ct_dim_add(ct_dim a, ct_dim b, ct_dim *out);
bool ct_dim_sub(ct_dim a, ct_dim b, ct_dim *out);
bool ct_dim_mul(ct_dim a, ct_dim b, ct_dim *out);
/* Exact division: false unless every coefficient divides. */
bool ct_dim_div(ct_dim a, ct_dim b, ct_dim *out);
/* Value under a binding of symbols (bind[sym] for sym >= 1). */
static inline int64_t ct_dim_eval(ct_dim d, const int64_t *bind) {
  return d.sym ? d.coef * bind[d.sym] + d.off : d.off;
}

/* ---- source locations ------------------------------------------------------------------- */

typedef struct ct_loc {
  const char *file; /* arena string or NULL */
  int line, col;    /* 1-based; 0 when unknown */
} ct_loc;

/* ---- values, uses, nodes, blocks, graphs -------------------------------------------------- */

/* One use of a value: operand `index` of node `user`. Uses of a value form a doubly linked
 * list; the builder and ct_node_set_operand keep it up to date. */
typedef struct ct_use {
  ct_value *value;
  ct_node *user;
  int index;
  struct ct_use *prev, *next;
} ct_use;

struct ct_value {
  ct_type type;
  ct_node *def;      /* the defining node; NULL for a block parameter */
  ct_block *block;   /* for a block parameter: its block */
  int index;         /* result index in def, or parameter index in block */
  const char *name;  /* graph inputs and named values ("x", "fc1.weight"); NULL otherwise */
  ct_use *uses;      /* head of the use list */
  int id;            /* scratch for passes and the printer */
  void *aux;         /* scratch for passes */
};

struct ct_node {
  ct_op op;
  int n_operands;
  ct_use *operands; /* operands[i].value is the i-th operand */
  int n_results;
  ct_value **results;
  int n_attrs;
  ct_attr *attrs; /* in schema order after ct_node_normalize_attrs */
  ct_loc loc;
  ct_block *body;   /* nested block (fusion), or NULL */
  ct_block *parent; /* the block holding this node */
  ct_node *prev, *next;
  int id;    /* scratch */
  void *aux; /* scratch */
};

struct ct_block {
  int n_params;
  ct_value **params;
  int cap_params;
  ct_node *first, *last; /* the last node is the terminator (return) once complete */
  ct_node *parent_node;  /* the node owning this block, NULL for a graph body */
  ct_graph *graph;
};

/* ---- memory plan ---------------------------------------------------------------------------
 * Filled by the plan-memory pass (passes/plan_memory.c), read by the code generators. Every
 * intermediate value of a graph gets bytes in one arena; sizes and offsets are linear in the
 * module's symbols, and the plan is valid for every binding with all symbols >= 1. */
#define CT_LIN_MAX_TERMS 4
typedef struct ct_lin {
  int64_t c0; /* constant term */
  int n;      /* number of symbol terms */
  int32_t sym[CT_LIN_MAX_TERMS];
  int64_t coef[CT_LIN_MAX_TERMS];
} ct_lin;

static inline int64_t ct_lin_eval(const ct_lin *l, const int64_t *bind) {
  int64_t v = l->c0;
  for (int i = 0; i < l->n; i++) v += l->coef[i] * bind[l->sym[i]];
  return v;
}

static inline ct_lin ct_lin_const(int64_t c) {
  ct_lin l = {0};
  l.c0 = c;
  return l;
}

/* a + k*b; false when the result needs more than CT_LIN_MAX_TERMS symbols. */
static inline bool ct_lin_add_scaled(ct_lin a, const ct_lin *b, int64_t k, ct_lin *out) {
  a.c0 += k * b->c0;
  for (int i = 0; i < b->n; i++) {
    int j = 0;
    while (j < a.n && a.sym[j] != b->sym[i])
      j++;
    if (j == a.n) {
      if (a.n == CT_LIN_MAX_TERMS) return false;
      a.sym[j] = b->sym[i];
      a.coef[j] = 0;
      a.n++;
    }
    a.coef[j] += k * b->coef[i];
  }
  /* drop zero terms */
  int w = 0;
  for (int i = 0; i < a.n; i++)
    if (a.coef[i]) {
      a.sym[w] = a.sym[i];
      a.coef[w++] = a.coef[i];
    }
  a.n = w;
  *out = a;
  return true;
}

/* f >= 0 for every binding with all symbols >= 1: every coefficient non-negative and the value
 * at all-ones non-negative (exact for linear f on that domain). */
static inline bool ct_lin_nonneg(const ct_lin *f) {
  int64_t at_one = f->c0;
  for (int i = 0; i < f->n; i++) {
    if (f->coef[i] < 0) return false;
    at_one += f->coef[i];
  }
  return at_one >= 0;
}

/* a <= b for every binding with all symbols >= 1. */
static inline bool ct_lin_le(const ct_lin *a, const ct_lin *b) {
  ct_lin d;
  return ct_lin_add_scaled(*b, a, -1, &d) && ct_lin_nonneg(&d);
}

static inline bool ct_lin_eq(const ct_lin *a, const ct_lin *b) {
  return ct_lin_le(a, b) && ct_lin_le(b, a);
}

typedef struct ct_buffer {
  const ct_value *value; /* the value whose bytes these are */
  ct_lin size;           /* bytes (rounded up to CT_ALIGN) */
  ct_lin offset;         /* from the arena base, CT_ALIGN-aligned */
  int live_begin;        /* index (in the graph body's node order) of the defining node */
  int live_end;          /* index of the last node reading it */
  /* Non-NULL when this value reuses the bytes of another value (in-place elementwise op whose
   * input dies here, or a reshape alias): offset equals that value's offset. */
  const ct_value *shares_with;
} ct_buffer;

typedef struct ct_mem_plan {
  ct_buffer *buffers;
  int n_buffers;
  /* For reports: arena peak, naive total (sum of all sizes) and lower bound (largest live set),
   * each evaluated at the binding the pass was asked to report for. */
  int64_t report_peak, report_naive, report_lower_bound;
  int64_t report_bind[64]; /* that binding, by symbol id (entry 0 unused) */
} ct_mem_plan;

/* Arena bytes needed under a binding: the maximum offset + size over all buffers. */
int64_t ct_mem_plan_arena_size(const ct_mem_plan *p, const int64_t *bind);
/* The buffer of value v, or NULL (graph inputs, constants kept in rodata, ...). */
const ct_buffer *ct_mem_plan_find(const ct_mem_plan *p, const ct_value *v);
/* Whether the bytes of two buffers of one plan are disjoint for every binding the plan is valid
 * for (all symbols >= 1). False for a buffer and itself (unless empty). */
bool ct_mem_plan_disjoint(const ct_buffer *a, const ct_buffer *b);

struct ct_graph {
  const char *name; /* without the @ */
  ct_block *body;   /* params are the graph inputs; the return node gives the results */
  ct_module *module;
  /* Optional names of the results (e.g. "loss", "grad.fc1.weight"); NULL entries unnamed. */
  const char **result_names;
  int n_result_names;
  ct_mem_plan *plan; /* NULL until plan-memory runs; stale after any later rewrite */
};

typedef enum ct_param_kind {
  CT_PARAM_WEIGHT, /* trainable, nn.Parameter */
  CT_PARAM_BUFFER, /* state_dict buffer: running_mean, num_batches_tracked */
  CT_PARAM_STATE   /* optimizer state: exp_avg.*, momentum_buffer.*, step */
} ct_param_kind;

typedef struct ct_param {
  const char *name; /* the state_dict key */
  ct_type type;     /* concrete */
  ct_param_kind kind;
  ct_tensor *init;  /* optional initial value, owned by the module */
  /* How to initialize without weights, as PyTorch's default init does, e.g.
   * "uniform(-0.0357,0.0357)", "normal(0,1)", "zeros", "ones"; NULL when unspecified. */
  const char *init_spec;
} ct_param;

struct ct_module {
  ct_arena *arena;
  const char **syms; /* syms[1..n_syms]; syms[0] unused */
  int n_syms, cap_syms;
  ct_graph **graphs;
  int n_graphs, cap_graphs;
  ct_param *params;
  int n_params, cap_params;
  const char *name; /* model name (for exported symbols), or NULL */
};

ct_module *ct_module_new(void);
void ct_module_free(ct_module *m);
/* Symbol id for name, creating it when absent. */
int32_t ct_module_sym(ct_module *m, const char *name, size_t len);
/* Symbol id or 0 when absent. */
int32_t ct_module_find_sym(const ct_module *m, const char *name, size_t len);
ct_graph *ct_module_add_graph(ct_module *m, const char *name);
ct_graph *ct_module_find_graph(const ct_module *m, const char *name);
void ct_module_remove_graph(ct_module *m, ct_graph *g);
/* Adds a parameter; init (may be NULL) becomes owned by the module. Returns its index. */
int ct_module_add_param(ct_module *m, const char *name, ct_type type, ct_param_kind kind,
                        ct_tensor *init);
ct_param *ct_module_find_param(const ct_module *m, const char *name);

/* Graph inputs: appended in order. name is copied. */
ct_value *ct_graph_add_input(ct_graph *g, const char *name, ct_type type);
static inline int ct_graph_num_inputs(const ct_graph *g) { return g->body->n_params; }
static inline ct_value *ct_graph_input(const ct_graph *g, int i) { return g->body->params[i]; }
ct_value *ct_graph_find_input(const ct_graph *g, const char *name);
/* The return node of a graph, or NULL before one is added. */
ct_node *ct_graph_return(const ct_graph *g);
int ct_graph_num_results(const ct_graph *g);
ct_value *ct_graph_result(const ct_graph *g, int i);
void ct_graph_set_result_name(ct_graph *g, int i, const char *name);
const char *ct_graph_result_name(const ct_graph *g, int i);

ct_block *ct_block_new(ct_module *m, ct_graph *g);
ct_value *ct_block_add_param(ct_module *m, ct_block *b, const char *name, ct_type type);

/* Creates a node without inserting it: operands are linked as uses, results are created with
 * the given types, attributes copied into the arena. No checking: the verifier does that. */
ct_node *ct_node_new(ct_module *m, ct_op op, int n_in, ct_value *const *in, int n_out,
                     const ct_type *out_types, const ct_attr *attrs, int n_attrs, ct_loc loc);
void ct_block_append(ct_block *b, ct_node *n);
void ct_block_insert_before(ct_block *b, ct_node *before, ct_node *n);
/* Unlinks a node from its block and drops its operand uses. Its results must have no uses. */
void ct_node_erase(ct_node *n);
/* Unlinks a node from its block, keeping uses (to move it elsewhere). */
void ct_node_unlink(ct_node *n);
void ct_node_set_operand(ct_node *n, int i, ct_value *v);
/* Points every use of from at to. */
void ct_value_replace_uses(ct_value *from, ct_value *to);
int ct_value_num_uses(const ct_value *v);
static inline ct_value *ct_node_operand(const ct_node *n, int i) { return n->operands[i].value; }

const ct_attr *ct_node_attr(const ct_node *n, const char *name);
int64_t ct_node_attr_int(const ct_node *n, const char *name, int64_t dflt);
double ct_node_attr_float(const ct_node *n, const char *name, double dflt);
/* Sets or adds an attribute (copied into the arena). */
void ct_node_set_attr(ct_module *m, ct_node *n, ct_attr a);
/* Fills absent attributes from the schema's defaults and sorts them in schema order. Returns
 * the name of a missing attribute without default, or NULL when complete. */
const char *ct_node_normalize_attrs(ct_module *m, ct_node *n);

/* What "equal" means for two attributes' float values; every other kind compares exactly in
 * either mode (strings by content, a NULL string as ""). */
typedef enum ct_attr_eq_mode {
  /* The same bits: -0.0 differs from 0.0, and two NaNs are equal only with the same payload
   * and sign. cse merges nodes only when their attributes are this identical. */
  CT_ATTR_EQ_BITWISE,
  /* The same IR text: bitwise, except that every NaN equals every other (all print as `nan`);
   * -0.0 still differs from 0.0. The printer leaves out an attribute equal to its default. */
  CT_ATTR_EQ_TEXT
} ct_attr_eq_mode;

/* Whether a and b have the same kind and value under mode. Names are not compared (the
 * caller looked both up by name, or compares them itself). */
bool ct_attr_eq(const ct_attr *a, const ct_attr *b, ct_attr_eq_mode mode);

/* Iteration over a block's nodes: for (ct_node *n = b->first; n; n = n->next). */

/* ---- builder ---------------------------------------------------------------------------- */

/* A builder inserts nodes at a point (before `before`, or at the end of `block` when NULL),
 * infers result types with the shape rules, and reports shape errors to `diag` at `loc`. */
typedef struct ct_builder {
  ct_module *m;
  ct_block *block;
  ct_node *before;
  ct_loc loc;
  ct_diag *diag; /* may be NULL: errors are then dropped, the call still returns NULL */
} ct_builder;

ct_builder ct_builder_at_end(ct_module *m, ct_block *b, ct_diag *diag);

/* Builds op with attrs (missing ones take schema defaults), infers the result types, inserts
 * the node. Returns the node, or NULL with a diagnostic when the shape rule rejects the inputs. */
ct_node *ct_build_node(ct_builder *b, ct_op op, int n_in, ct_value *const *in,
                       const ct_attr *attrs, int n_attrs);
/* Same, returning the first result (or NULL). */
ct_value *ct_build(ct_builder *b, ct_op op, int n_in, ct_value *const *in, const ct_attr *attrs,
                   int n_attrs);
ct_value *ct_build_unary(ct_builder *b, ct_op op, ct_value *x);
ct_value *ct_build_binary(ct_builder *b, ct_op op, ct_value *x, ct_value *y);
ct_value *ct_build_where(ct_builder *b, ct_value *c, ct_value *x, ct_value *y);
/* A rank-0 constant. */
ct_value *ct_build_scalar(ct_builder *b, ct_dtype dt, double v);
/* A constant of the given type filled with v (the type may have symbolic dims). */
ct_value *ct_build_full(ct_builder *b, const ct_type *t, double v);
ct_value *ct_build_cast(ct_builder *b, ct_value *x, ct_dtype dt);
ct_value *ct_build_reduce(ct_builder *b, ct_op op, ct_value *x, int n_dims, const int64_t *dims,
                          bool keepdim);
ct_value *ct_build_reshape(ct_builder *b, ct_value *x, int rank, const ct_dim *shape);
ct_value *ct_build_permute(ct_builder *b, ct_value *x, int rank, const int64_t *perm);
ct_value *ct_build_expand(ct_builder *b, ct_value *x, int rank, const ct_dim *shape);
ct_value *ct_build_return(ct_builder *b, int n, ct_value *const *values);

/* ---- shape rules -------------------------------------------------------------------------- */

/* Infers the result types of op applied to operands of types in[0..n_in) with attrs (in any
 * order; absent ones take defaults). Writes up to max_out types to out, sets *n_out. On a
 * mismatch returns CT_ERR_SHAPE and reports it to diag at loc (diag may be NULL), naming the
 * op and printing the offending shapes with m's symbol names. Not used for fusion (whose
 * types come from its body). */
ct_status ct_infer_types(ct_module *m, ct_op op, int n_in, const ct_type *in,
                         const ct_attr *attrs, int n_attrs, ct_type *out, int max_out,
                         int *n_out, ct_diag *diag, ct_loc loc);
/* Broadcast shape of two types (PyTorch rules); false when incompatible. */
bool ct_broadcast_shapes(const ct_type *a, const ct_type *b, ct_type *out);
/* Normalizes a possibly negative dim index for rank; -1 when out of range. */
int ct_norm_dim(int64_t dim, int rank);

/* ---- pointer hashing ----------------------------------------------------------------------- */

/* A mixing hash of a pointer for the open-addressing maps keyed by IR objects (the printer's
 * numbering, the verifier, the interpreter, the code generator). */
static inline size_t ct_hash_ptr(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x;
}

/* ---- fusion ------------------------------------------------------------------------------ */

/* Whether op may end a fusion of kind "reduction" (docs/ir.md "Fusion"): the one definition
 * the fuse pass builds groups by and the verifier checks bodies against. */
static inline bool ct_fusion_reduction_op(ct_op op) {
  switch (op) {
  case CT_OP_SUM:
  case CT_OP_MEAN:
  case CT_OP_AMAX:
  case CT_OP_AMIN:
  case CT_OP_SOFTMAX:
  case CT_OP_LOG_SOFTMAX: return true;
  default: return false;
  }
}

/* ---- printer, parser, verifier ------------------------------------------------------------ */

/* Prints the module in the text form (round trip with ct_module_parse is the identity). */
void ct_module_print(const ct_module *m, FILE *out);
void ct_graph_print(const ct_graph *g, FILE *out);
/* Prints into a malloc'd string the caller frees. */
char *ct_module_to_string(const ct_module *m);
/* Same, printing each node's source location (`loc("f.py":12:9)`) when with_loc. */
void ct_module_print_opts(const ct_module *m, FILE *out, bool with_loc);
char *ct_module_to_string_opts(const ct_module *m, bool with_loc);

/* Parses the text form. file names the input in diagnostics. Returns NULL and fills diag (with
 * line:col of each error) on malformed input. */
ct_module *ct_module_parse(const char *text, size_t len, const char *file, ct_diag *diag);

/* Checks SSA dominance, operand/result counts and types against each op's rule, attribute
 * presence and kinds, use-list consistency, terminators. Reports every problem found. */
ct_status ct_module_verify(const ct_module *m, ct_diag *diag);
ct_status ct_graph_verify(const ct_graph *g, ct_diag *diag);

/* ---- weights ------------------------------------------------------------------------------ */

struct ct_st_file;
/* Sets every parameter's init tensor from a safetensors file keyed by state_dict names (optimizer
 * state absent from the file keeps its init spec: zeros). A missing
 * key, an unknown key, or a dtype/shape mismatch is an error naming the key. */
ct_status ct_module_bind_weights(ct_module *m, struct ct_st_file *weights, ct_diag *diag);
/* Materializes every parameter without an init tensor from its init_spec (PyTorch's default
 * distributions) with a generator seeded by seed. */
ct_status ct_module_init_params(ct_module *m, uint64_t seed, ct_diag *diag);

/* ---- reference interpreter --------------------------------------------------------------- */

/* Runs graph g on inputs (one tensor per graph input, in order; borrowed). Symbols are bound
 * from the inputs' actual shapes. On success *outputs receives n results (new references) in a
 * malloc'd array the caller frees. Errors (shape mismatch with the declared input types,
 * inconsistent symbol bindings, kernel failures) go to diag. */
ct_status ct_interpret(const ct_graph *g, ct_tensor *const *inputs, int n_inputs,
                       ct_tensor ***outputs, int *n_outputs, ct_diag *diag);
/* Profiling: fn (NULL: none) is called after each node of a graph body that ct_interpret runs on
 * the calling thread, with the node and its wall time in seconds. */
typedef void (*ct_interp_observer)(void *ctx, const ct_node *n, double seconds);
void ct_interp_set_observer(ct_interp_observer fn, void *ctx);

#endif
