/* ctorch/types.h: the vocabulary shared by the runtime and the compiler: dtypes, status codes,
 * (possibly symbolic) dimensions, op attributes and diagnostics. Everything here is plain data;
 * nothing depends on the compiler, so a deployed model can use it with the runtime alone. */
#ifndef CTORCH_TYPES_H
#define CTORCH_TYPES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CT_MAX_RANK 8

/* Element types. The order is part of the package format: append only. */
typedef enum ct_dtype {
  CT_DT_F32,
  CT_DT_F64,
  CT_DT_F16,
  CT_DT_BF16,
  CT_DT_I64,
  CT_DT_I32,
  CT_DT_BOOL,
  CT_DT_U8,
  CT_DT_COUNT
} ct_dtype;

/* Size of one element in bytes. */
size_t ct_dtype_size(ct_dtype dt);
/* Short name as written in IR text ("f32", "i64", "bool"). */
const char *ct_dtype_name(ct_dtype dt);
/* Name as written in safetensors headers ("F32", "I64", "BOOL"). */
const char *ct_dtype_st_name(ct_dtype dt);
/* Parses a short IR name; returns 0 and sets *out on success, -1 if unknown. */
int ct_dtype_parse(const char *name, size_t len, ct_dtype *out);
/* Parses a safetensors dtype name; returns 0 on success, -1 if unknown. */
int ct_dtype_parse_st(const char *name, ct_dtype *out);
int ct_dtype_is_float(ct_dtype dt);

/* Status of any operation that can fail on input. 0 is success. */
typedef enum ct_status {
  CT_OK = 0,
  CT_ERR_INVALID,     /* malformed input (IR text, flags, tensors) */
  CT_ERR_IO,          /* file could not be read or written */
  CT_ERR_FORMAT,      /* a file's structure is wrong (safetensors, package) */
  CT_ERR_SHAPE,       /* shape or dtype mismatch */
  CT_ERR_NOMEM,       /* allocation failed */
  CT_ERR_UNSUPPORTED, /* valid input that this version cannot handle */
  CT_ERR_VERSION,     /* a file written by a newer format version */
  CT_ERR_INTERNAL     /* a broken invariant; a bug in ctorch */
} ct_status;

const char *ct_status_name(ct_status st);

/* A dimension: the affine expression coef * sym + off when sym > 0 (sym indexes the module's
 * symbol table from 1), or the constant off when sym == 0. Concrete shapes have sym == 0. */
typedef struct ct_dim {
  int64_t coef;
  int64_t off;
  int32_t sym;
} ct_dim;

static inline ct_dim ct_dim_const(int64_t v) {
  ct_dim d = {0, v, 0};
  return d;
}
static inline ct_dim ct_dim_sym(int32_t sym) {
  ct_dim d = {1, 0, sym};
  return d;
}
static inline int ct_dim_is_const(ct_dim d) { return d.sym == 0; }
static inline int ct_dim_eq(ct_dim a, ct_dim b) {
  if (a.sym == 0 || b.sym == 0) return a.sym == b.sym && a.off == b.off;
  return a.sym == b.sym && a.coef == b.coef && a.off == b.off;
}

/* Attribute kinds. The order is part of the package format: append only. */
typedef enum ct_attr_kind {
  CT_ATTR_INT,
  CT_ATTR_FLOAT,
  CT_ATTR_BOOL,
  CT_ATTR_INTS,
  CT_ATTR_FLOATS,
  CT_ATTR_DIMS,
  CT_ATTR_STR,
  CT_ATTR_DTYPE
} ct_attr_kind;

/* One named attribute of an op. Arrays are borrowed: whoever builds a ct_attr keeps them alive
 * as long as the attribute is used (IR nodes copy them into their module's arena). */
typedef struct ct_attr {
  const char *name;
  ct_attr_kind kind;
  int n; /* element count for INTS, FLOATS, DIMS */
  union {
    int64_t i;  /* INT, BOOL */
    double f;   /* FLOAT */
    ct_dtype dt; /* DTYPE */
    const char *s;
    const int64_t *ints;
    const double *floats;
    const ct_dim *dims;
  } u;
} ct_attr;

static inline ct_attr ct_attr_int(const char *name, int64_t v) {
  ct_attr a = {name, CT_ATTR_INT, 0, {.i = v}};
  return a;
}
static inline ct_attr ct_attr_bool(const char *name, int v) {
  ct_attr a = {name, CT_ATTR_BOOL, 0, {.i = v ? 1 : 0}};
  return a;
}
static inline ct_attr ct_attr_float(const char *name, double v) {
  ct_attr a = {name, CT_ATTR_FLOAT, 0, {.f = v}};
  return a;
}
static inline ct_attr ct_attr_ints(const char *name, int n, const int64_t *v) {
  ct_attr a = {name, CT_ATTR_INTS, n, {.ints = v}};
  return a;
}
static inline ct_attr ct_attr_floats(const char *name, int n, const double *v) {
  ct_attr a = {name, CT_ATTR_FLOATS, n, {.floats = v}};
  return a;
}
static inline ct_attr ct_attr_dims(const char *name, int n, const ct_dim *v) {
  ct_attr a = {name, CT_ATTR_DIMS, n, {.dims = v}};
  return a;
}
static inline ct_attr ct_attr_str(const char *name, const char *v) {
  ct_attr a = {name, CT_ATTR_STR, 0, {.s = v}};
  return a;
}
static inline ct_attr ct_attr_dtype(const char *name, ct_dtype v) {
  ct_attr a = {name, CT_ATTR_DTYPE, 0, {.dt = v}};
  return a;
}

/* Finds an attribute by name; NULL if absent. */
const ct_attr *ct_attr_find(const ct_attr *attrs, int n, const char *name);
/* Typed look-ups with a default for an absent attribute (or one of another kind). */
int64_t ct_attr_get_int(const ct_attr *attrs, int n, const char *name, int64_t dflt);
double ct_attr_get_float(const ct_attr *attrs, int n, const char *name, double dflt);
/* Copies up to max elements of an INTS attribute into out; returns the count, or -1 if absent. */
int ct_attr_get_ints(const ct_attr *attrs, int n, const char *name, int64_t *out, int max);
const char *ct_attr_get_str(const ct_attr *attrs, int n, const char *name, const char *dflt);

/* Diagnostics. A ct_diag collects messages with positions; the caller decides how to print.
 * Messages and file names are copied; a ct_diag owns its memory (ct_diag_free). */
typedef enum ct_severity { CT_SEV_ERROR, CT_SEV_WARNING, CT_SEV_NOTE } ct_severity;

typedef struct ct_diag_entry {
  ct_severity sev;
  char *file; /* NULL when no file */
  int line;   /* 1-based; 0 when the position is unknown */
  int col;    /* 1-based; 0 when unknown */
  char *msg;
} ct_diag_entry;

typedef struct ct_diag_source {
  char *file;
  char *text; /* a copy of the file's text, used to print the line and a caret */
  size_t len;
} ct_diag_source;

typedef struct ct_diag {
  ct_diag_entry *items;
  int n, cap;
  int n_errors;
  ct_diag_source *sources;
  int n_sources, cap_sources;
} ct_diag;

void ct_diag_init(ct_diag *d);
void ct_diag_free(ct_diag *d);
void ct_diag_clear(ct_diag *d);
/* Adds a message. file may be NULL; line/col 0 when unknown. Returns CT_ERR_INVALID for errors
 * so callers can write `return ct_diag_error(...)`, CT_OK for warnings and notes. */
ct_status ct_diag_add(ct_diag *d, ct_severity sev, const char *file, int line, int col,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
ct_status ct_diag_vadd(ct_diag *d, ct_severity sev, const char *file, int line, int col,
                       const char *fmt, va_list ap);
ct_status ct_diag_error(ct_diag *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Registers a source text so that messages about that file print the line and a caret. */
void ct_diag_add_source(ct_diag *d, const char *file, const char *text, size_t len);
/* Prints every message as `file:line:col: error: msg`, then the source line and a caret when the
 * source was registered. */
void ct_diag_print(const ct_diag *d, FILE *out);
/* The first error's message text (without position), or "" when none. */
const char *ct_diag_first_error(const ct_diag *d);

#ifdef __cplusplus
}
#endif
#endif
