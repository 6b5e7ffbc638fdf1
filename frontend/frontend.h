/* frontend/frontend.h: what the frontend's files share with each other (private to frontend/):
 * the parse entry point and AST dumper, and the state the flex lexer and bison parser share. */
#ifndef CT_FRONTEND_H
#define CT_FRONTEND_H

#include <stdbool.h>
#include <stdio.h>

#include "ast.h"

/* Parses Python source text (len bytes, need not be NUL-terminated) into a module allocated in
 * arena. file names the source in diagnostics. Syntax and lexical errors are added to diag with
 * exact line:col (the parser recovers at statement level, so several are reported in one run).
 * Returns CT_OK and sets *out, or CT_ERR_INVALID with *out = NULL when any error was reported. */
ct_status ct_py_parse(const char *text, size_t len, const char *file, ct_arena *arena,
                      ct_py_module **out, ct_diag *diag);

/* Writes the AST as indented S-expressions, one statement per line; the format is stable and
 * is what tests compare against. */
void ct_py_dump(const ct_py_module *m, FILE *out);
/* One expression, on one line, in the same notation. */
void ct_py_dump_expr(const ct_py_expr *e, FILE *out);

/* ---- shared by lexer.l and parser.y ------------------------------------------------------- */

enum { CT_PY_MAX_INDENT = 100, CT_PY_MAX_BRACKETS = 200 };

typedef struct ct_py_state {
  ct_arena *arena;
  ct_diag *diag;
  const char *file;
  const char *text;
  size_t len;
  ct_py_module *module;
  /* lexer position (1-based line and column of the next character) */
  int line, col;
  /* indentation: stack of column widths, indent[0] == 0 */
  int indent[CT_PY_MAX_INDENT];
  int n_indent;
  int line_width;      /* width of the current line's leading whitespace */
  int pending_dedents; /* DEDENT tokens still to deliver */
  int pending_line, pending_col;
  /* open brackets, for NEWLINE suppression and "'(' was never closed" */
  int bracket_depth;
  char bracket_char[CT_PY_MAX_BRACKETS];
  int bracket_line[CT_PY_MAX_BRACKETS], bracket_col[CT_PY_MAX_BRACKETS];
  /* end of input: queued NEWLINE / DEDENT tokens, then 0 */
  int eof_stage;
  int last_token; /* the last token returned, 0 at start */
  /* start of a multi-line string literal */
  int str_line, str_col;
  size_t str_start;
  bool str_raw;
  size_t offset; /* byte offset of the next character */
  /* text of the last token returned, for "unexpected identifier 'x'" */
  const char *tok_text;
  size_t tok_len;
  /* tokens returned so far, and the count when the last `error NEWLINE` recovery ended */
  int n_tokens, error_stmt_end;
} ct_py_state;

/* Reports an error at line:col (printf-style) into st->diag. */
void ct_py_error(ct_py_state *st, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Decodes a string literal's body (without quotes) into the arena, handling Python escapes;
 * raw strings keep backslashes. Returns the decoded bytes (NUL-terminated) and sets *out_len. */
char *ct_py_decode_string(ct_arena *a, const char *s, size_t n, bool raw, size_t *out_len);

/* ---- shared by lower.c, lower_init.c and lower_forward.c (the lowering to IR) ----------- */

typedef enum ct_lower_val_kind {
  CT_LV_ERR,
  CT_LV_NONE,
  CT_LV_INT,
  CT_LV_FLOAT,
  CT_LV_BOOL,
  CT_LV_STR,
  CT_LV_TUPLE,
  CT_LV_TENSOR,
  CT_LV_MODULE,
  CT_LV_NS,
  CT_LV_INIT, /* torch.zeros/ones/randn/rand(...) evaluated in __init__: a shape and a spec */
  CT_LV_PARAM /* nn.Parameter(...) assigned to self: a state_dict entry */
} ct_lower_val_kind;

typedef struct ct_lower_mod ct_lower_mod;

/* A tensor known in __init__ only by its shape and its init spec (ir/weights.c syntax); once
 * the forward graph exists, v is its graph input. */
typedef struct ct_lower_param {
  int rank;
  int64_t shape[CT_MAX_RANK];
  const char *spec;
  ct_param_kind kind;
  bool registered_buffer; /* register_buffer (state_dict: after all parameters) */
  ct_value *v;
} ct_lower_param;

/* A compile-time value. Ints are dims so x.shape[0] can stay symbolic. */
typedef struct ct_lower_val {
  ct_lower_val_kind kind;
  ct_dim i;
  double f;
  const char *s; /* CT_LV_STR text, CT_LV_NS dotted name ("torch.nn.functional") */
  ct_value *t;
  ct_lower_mod *mod;
  ct_lower_param *param; /* CT_LV_INIT, CT_LV_PARAM */
  struct ct_lower_val *elts;
  int n;
} ct_lower_val;

typedef enum ct_lower_mod_kind {
  CT_LM_LINEAR,
  CT_LM_CONV2D,
  CT_LM_MAXPOOL,
  CT_LM_AVGPOOL,
  CT_LM_ACT,
  CT_LM_IDENTITY,
  CT_LM_DROPOUT, /* eps: p */
  CT_LM_FLATTEN,
  CT_LM_SEQ,
  CT_LM_LIST, /* nn.ModuleList: children only, not callable */
  CT_LM_BATCHNORM,
  CT_LM_LAYERNORM,
  CT_LM_EMBEDDING,
  CT_LM_ADAPTIVE_AVGPOOL,
  CT_LM_SOFTMAX,    /* Softmax and LogSoftmax (op) */
  CT_LM_LEAKY_RELU, /* eps: negative_slope */
  CT_LM_USER
} ct_lower_mod_kind;

struct ct_lower_mod {
  ct_lower_mod_kind kind;
  const char *type_name;   /* "nn.Linear", or the user class name, for messages */
  ct_op op;                /* CT_LM_ACT, CT_LM_SOFTMAX */
  const char *approximate; /* GELU: "none" or "tanh" */
  int64_t in, out, groups; /* Linear, Conv2d; out is also BatchNorm's num_features and
                              Embedding's embedding_dim (in: num_embeddings) */
  int64_t k[2], stride[2], pad[2], dil[2];
  bool bias;                       /* has a bias; for norms: affine / elementwise_affine */
  int64_t start_dim, end_dim;      /* Flatten; start_dim is also Softmax's dim */
  double eps;                      /* BatchNorm, LayerNorm */
  int64_t norm_shape[CT_MAX_RANK]; /* LayerNorm's normalized_shape */
  int n_norm;
  int64_t padding_idx;               /* Embedding: -1 for none */
  bool ceil_mode, count_include_pad; /* MaxPool2d, AvgPool2d */
  ct_value *mean_v, *var_v;          /* BatchNorm's running stats (graph inputs) */
  const ct_py_stmt *cls;             /* CT_LM_USER */
  const char **names;                /* attributes and children, in assignment order */
  ct_lower_val *vals;
  int n, cap;
  ct_value *weight_v, *bias_v; /* graph inputs, once the forward graph exists */
};

typedef struct ct_lower_env {
  const char **names;
  ct_lower_val *vals;
  int n, cap;
} ct_lower_env;

typedef struct ct_lower {
  ct_arena *arena; /* AST and scratch */
  ct_module *m;
  ct_diag *diag;
  const char *file;
  ct_py_module *ast;
  ct_lower_env imports; /* alias -> CT_LV_NS */
  ct_builder b;
  bool in_forward;
  int depth;
  const char *cur_class; /* the class whose method is being lowered, for messages */
} ct_lower;

static inline ct_lower_val ct_lower_err_val(void) {
  ct_lower_val v = {0};
  v.kind = CT_LV_ERR;
  return v;
}
static inline ct_lower_val ct_lower_none(void) {
  ct_lower_val v = {0};
  v.kind = CT_LV_NONE;
  return v;
}
static inline ct_lower_val ct_lower_int(int64_t i) {
  ct_lower_val v = {0};
  v.kind = CT_LV_INT;
  v.i = ct_dim_const(i);
  return v;
}
static inline ct_lower_val ct_lower_dim(ct_dim d) {
  ct_lower_val v = {0};
  v.kind = CT_LV_INT;
  v.i = d;
  return v;
}
static inline ct_lower_val ct_lower_float(double f) {
  ct_lower_val v = {0};
  v.kind = CT_LV_FLOAT;
  v.f = f;
  return v;
}
static inline ct_lower_val ct_lower_tensor(ct_value *t) {
  ct_lower_val v = {0};
  v.kind = t ? CT_LV_TENSOR : CT_LV_ERR;
  v.t = t;
  return v;
}
static inline ct_lower_val ct_lower_modv(ct_lower_mod *m) {
  ct_lower_val v = {0};
  v.kind = CT_LV_MODULE;
  v.mod = m;
  return v;
}

/* Reports an error at line:col into L->diag; returns an error value to propagate. */
ct_lower_val ct_lower_error(ct_lower *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Binds name in e (names are borrowed; storage lives in L->arena). */
void ct_lower_env_set(ct_lower *L, ct_lower_env *e, const char *name, ct_lower_val v);
ct_lower_val *ct_lower_env_get(ct_lower_env *e, const char *name);
void ct_lower_mod_set(ct_lower *L, ct_lower_mod *m, const char *name, ct_lower_val v);
ct_lower_mod *ct_lower_mod_new(ct_lower *L, ct_lower_mod_kind k);
ct_lower_val ct_lower_ns(ct_lower *L, const char *dotted);
/* Runs a def's body (lower_control.c); self receives `self.x = ...`. Returns the value of the
 * first return reached, or None. Errors are reported per statement. */
ct_lower_val ct_lower_body(ct_lower *L, ct_lower_env *e, const ct_py_stmt_list *body,
                           ct_lower_mod *self);

/* lower_init.c: module construction (__init__) and argument binding. */
ct_lower_val ct_lower_construct_nn(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                   const char *cls);
ct_lower_val ct_lower_construct_user(ct_lower *L, ct_lower_env *caller, const ct_py_expr *call,
                                     const ct_py_stmt *cls);
bool ct_lower_bind_args(ct_lower *L, ct_lower_env *e, const ct_py_expr *call, const char *fname,
                        int n_names, const char *const *names, ct_lower_val *out, bool *have);
bool ct_lower_bind_params(ct_lower *L, ct_lower_env *e, const ct_py_stmt *def, int line, int col,
                          int n, const ct_lower_val *args, ct_lower_env *kwvals);
bool ct_lower_as_int(ct_lower *L, const ct_py_expr *x, ct_lower_val v, int64_t *out);
bool ct_lower_as_pair(ct_lower *L, const ct_py_expr *x, ct_lower_val v, int64_t out[2]);
bool ct_lower_truthy(ct_lower_val v);
const ct_py_stmt *ct_lower_find_class(ct_lower *L, const char *name);
const ct_py_stmt *ct_lower_find_method(const ct_py_stmt *cls, const char *name);

/* Runs a block of statements with Python's control flow resolved at compile time (lower_control.c):
 * `if` on constants and shapes, `for` over range/ModuleList/tuples unrolled, break, continue.
 * Returns true when a return statement was reached (its value in *ret). */
bool ct_lower_exec(ct_lower *L, ct_lower_env *e, const ct_py_stmt_list *body, ct_lower_mod *self,
                   ct_lower_val *ret);
/* Compile-time truth of a condition; reports an error (false return) for tensors and sizes
 * not known at compile time. */
bool ct_lower_cond(ct_lower *L, const ct_py_expr *x, ct_lower_val v, bool *out);
/* Comparison chains, `and`/`or`/`not`, conditional and list-comprehension expressions. */
ct_lower_val ct_lower_compare(ct_lower *L, ct_lower_env *e, const ct_py_expr *x);
ct_lower_val ct_lower_boolop(ct_lower *L, ct_lower_env *e, const ct_py_expr *x);
ct_lower_val ct_lower_listcomp(ct_lower *L, ct_lower_env *e, const ct_py_expr *x);
/* The items a `for` iterates over (tuple, range, ModuleList, Sequential), as a tuple value. */
bool ct_lower_iter_items(ct_lower *L, const ct_py_expr *x, ct_lower_val v, ct_lower_val *out);
ct_lower_val ct_lower_tuple(ct_lower *L, int n);
/* Copies an environment (a new scope whose writes the original does not see). */
ct_lower_env ct_lower_env_copy(ct_lower *L, const ct_lower_env *e);
void ct_lower_assign(ct_lower *L, ct_lower_env *e, const ct_py_expr *t, ct_lower_val v,
                     ct_lower_mod *self);

/* lower_index.c: x[...] on tensors (slice + reshape), tuples (shape[1:]) and module lists. */
ct_lower_val ct_lower_subscript(ct_lower *L, ct_lower_env *e, const ct_py_expr *x);

/* lower_loss.c: F.cross_entropy, F.nll_loss, F.mse_loss, F.l1_loss. */
bool ct_lower_is_loss(const char *fn);
ct_lower_val ct_lower_loss(ct_lower *L, ct_lower_env *e, const ct_py_expr *call, const char *fn);

/* lower_call.c: torch.*, F.* and tensor methods (self: the receiver of a method, else NULL);
 * lower_builtin.c: Python builtins (range, len, enumerate, zip, int, float, min, max). */
ct_lower_val ct_lower_call_function(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                    const char *fn, ct_lower_val *self);
bool ct_lower_is_builtin(const char *name);
ct_lower_val ct_lower_call_builtin(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                   const char *name);
/* lower_shape.c: shape helpers shared by calls and subscripts. */
ct_lower_val ct_lower_reshape(ct_lower *L, const ct_py_expr *x, ct_value *t, int n,
                              const ct_lower_val *dims);
ct_lower_val ct_lower_flatten(ct_lower *L, const ct_py_expr *x, ct_value *t, int64_t start,
                              int64_t end);
/* Pooling arguments as PyTorch names them (MaxPool2d: kernel_size, stride, padding, dilation,
 * return_indices, ceil_mode; AvgPool2d: kernel_size, stride, padding, ceil_mode,
 * count_include_pad, divisor_override), bound into a and h; fills m's pooling fields. */
extern const char *const ct_lower_max_pool_names[6], *const ct_lower_avg_pool_names[6];
bool ct_lower_pool_params(ct_lower *L, const ct_py_expr *call, const char *fname, bool max,
                          const ct_lower_val *a, const bool *h, ct_lower_mod *m);
ct_lower_val ct_lower_pool(ct_lower *L, const ct_py_expr *x, bool max, ct_value *t,
                           const ct_lower_mod *m);
ct_lower_val ct_lower_adaptive_avg_pool(ct_lower *L, const ct_py_expr *x, ct_value *t,
                                        const int64_t out[2]);
ct_lower_val ct_lower_slice(ct_lower *L, const ct_py_expr *x, ct_value *t, int dim, int64_t start,
                            int64_t end, int64_t step);
/* F.dropout / nn.Dropout's p (a number in [0, 1)), and the dropout op (t itself when p = 0). */
bool ct_lower_dropout_p(ct_lower *L, const ct_py_expr *x, ct_lower_val v, double *p);
ct_lower_val ct_lower_dropout(ct_lower *L, const ct_py_expr *x, ct_value *t, double p);
ct_lower_val ct_lower_leaky_relu(ct_lower *L, const ct_py_expr *x, ct_value *t, double slope);
const char *ct_lower_kind_name(ct_lower_val_kind k);
void ct_lower_set_loc(ct_lower *L, const ct_py_expr *x);
/* A tensor operand: tensors as they are, Python numbers as rank-0 constants of dtype like. */
ct_value *ct_lower_to_tensor(ct_lower *L, ct_lower_val v, ct_dtype like);

/* lower_forward.c: expressions, calls of modules and torch functions, built into L->b. */
ct_lower_val ct_lower_eval(ct_lower *L, ct_lower_env *e, const ct_py_expr *x);
/* Calls a module with positional args and keyword args kw (may be NULL). */
ct_lower_val ct_lower_call_module(ct_lower *L, ct_lower_mod *m, const ct_py_expr *site, int n,
                                  ct_lower_val *args, ct_lower_env *kw);
ct_lower_val ct_lower_binary(ct_lower *L, const ct_py_expr *x, ct_py_binop op, ct_lower_val a,
                             ct_lower_val c);

#endif
