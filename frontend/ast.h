/* frontend/ast.h: the abstract syntax tree of the Python subset ctorch reads (model.py files).
 * The parser (parser.y) builds it, the lowering (lower.c) walks it. Every node lives in the
 * arena given to ct_py_parse and carries the 1-based line and column where it starts. */
#ifndef CT_FRONTEND_AST_H
#define CT_FRONTEND_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

typedef struct ct_py_expr ct_py_expr;
typedef struct ct_py_stmt ct_py_stmt;

/* Growable arrays whose storage lives in the arena (growing copies; the old block is simply
 * abandoned, as everything in the arena is freed at once). */
typedef struct ct_py_expr_list {
  ct_py_expr **items;
  int n, cap;
} ct_py_expr_list;

typedef struct ct_py_stmt_list {
  ct_py_stmt **items;
  int n, cap;
} ct_py_stmt_list;

typedef enum ct_py_expr_kind {
  CT_PY_NAME,      /* u.name */
  CT_PY_ATTR,      /* u.attr: value.attr */
  CT_PY_CALL,      /* u.call */
  CT_PY_SUBSCRIPT, /* u.sub: value[index]; a multi-index is a CT_PY_TUPLE */
  CT_PY_SLICE,     /* u.slice: lo:hi:step inside a subscript; absent parts are NULL */
  CT_PY_INT,       /* u.i */
  CT_PY_FLOAT,     /* u.f */
  CT_PY_STR,       /* u.str (escapes decoded; adjacent literals concatenated) */
  CT_PY_BOOL,      /* u.b */
  CT_PY_NONE,
  CT_PY_ELLIPSIS,
  CT_PY_TUPLE,    /* u.elts */
  CT_PY_LIST,     /* u.elts */
  CT_PY_LISTCOMP, /* u.comp */
  CT_PY_UNARY,    /* u.unary */
  CT_PY_BINARY,   /* u.binary */
  CT_PY_COMPARE,  /* u.compare: a chain a < b <= c */
  CT_PY_BOOLOP,   /* u.boolop: and / or */
  CT_PY_IFEXP,    /* u.ifexp: then if cond else orelse */
  CT_PY_STARRED   /* u.starred: *x or **x in a call's arguments */
} ct_py_expr_kind;

typedef enum ct_py_unop { CT_PY_NEG, CT_PY_POS, CT_PY_INVERT, CT_PY_NOT } ct_py_unop;

typedef enum ct_py_binop {
  CT_PY_ADD,
  CT_PY_SUB,
  CT_PY_MUL,
  CT_PY_DIV,
  CT_PY_FLOORDIV,
  CT_PY_MOD,
  CT_PY_POW,
  CT_PY_MATMUL,
  CT_PY_LSHIFT,
  CT_PY_RSHIFT,
  CT_PY_BITAND,
  CT_PY_BITOR,
  CT_PY_BITXOR
} ct_py_binop;

typedef enum ct_py_cmpop {
  CT_PY_LT,
  CT_PY_GT,
  CT_PY_LE,
  CT_PY_GE,
  CT_PY_EQ,
  CT_PY_NE,
  CT_PY_IN,
  CT_PY_NOT_IN,
  CT_PY_IS,
  CT_PY_IS_NOT
} ct_py_cmpop;

typedef enum ct_py_boolop { CT_PY_AND, CT_PY_OR } ct_py_boolop;

typedef struct ct_py_keyword {
  const char *name; /* NULL for **kwargs (then value is the mapping) */
  ct_py_expr *value;
  int line, col;
} ct_py_keyword;

typedef struct ct_py_keyword_list {
  ct_py_keyword *items;
  int n, cap;
} ct_py_keyword_list;

/* One `for target in iter if cond...` clause of a comprehension. */
typedef struct ct_py_comp_for {
  ct_py_expr *target;
  ct_py_expr *iter;
  ct_py_expr_list ifs;
  int line, col;
} ct_py_comp_for;

struct ct_py_expr {
  ct_py_expr_kind kind;
  int line, col;
  bool parenthesized; /* written inside its own parentheses: (a, b), (x) */
  union {
    const char *name;
    struct {
      ct_py_expr *value;
      const char *attr;
    } attr;
    struct {
      ct_py_expr *func;
      ct_py_expr_list args; /* positional, in order; *x appears as CT_PY_STARRED */
      ct_py_keyword_list kwargs;
    } call;
    struct {
      ct_py_expr *value, *index;
    } sub;
    struct {
      ct_py_expr *lo, *hi, *step;
    } slice;
    int64_t i;
    double f;
    struct {
      const char *s;
      size_t len;
    } str;
    bool b;
    ct_py_expr_list elts;
    struct {
      ct_py_expr *elt;
      ct_py_comp_for *gens;
      int n_gens, cap_gens;
    } comp;
    struct {
      ct_py_unop op;
      ct_py_expr *operand;
    } unary;
    struct {
      ct_py_binop op;
      ct_py_expr *lhs, *rhs;
    } binary;
    struct {
      ct_py_expr *first;
      ct_py_cmpop *ops;     /* n ops */
      ct_py_expr **others;  /* n right-hand operands */
      int n, cap;
    } compare;
    struct {
      ct_py_boolop op;
      ct_py_expr *lhs, *rhs;
    } boolop;
    struct {
      ct_py_expr *cond, *then, *orelse;
    } ifexp;
    struct {
      ct_py_expr *value;
      bool double_star;
    } starred;
  } u;
};

typedef enum ct_py_stmt_kind {
  CT_PY_EXPR_STMT, /* u.expr */
  CT_PY_ASSIGN,    /* u.assign: t1 = t2 = value, or target: annotation [= value] */
  CT_PY_AUGASSIGN, /* u.aug */
  CT_PY_RETURN,    /* u.ret (NULL for a bare return) */
  CT_PY_PASS,
  CT_PY_BREAK,
  CT_PY_CONTINUE,
  CT_PY_RAISE,  /* u.raise (exc may be NULL) */
  CT_PY_ASSERT, /* u.assert_ */
  CT_PY_IF,     /* u.if_: elif chains are an IF alone in orelse */
  CT_PY_FOR,    /* u.for_ */
  CT_PY_WHILE,  /* u.while_ */
  CT_PY_IMPORT, /* u.import: import a.b as c, d */
  CT_PY_FROM,   /* u.import: from module import a as b, c (or *) */
  CT_PY_DEF,    /* u.def */
  CT_PY_CLASS   /* u.class_ */
} ct_py_stmt_kind;

typedef struct ct_py_alias {
  const char *name;   /* dotted: "torch.nn" */
  const char *asname; /* NULL when absent */
  int line, col;
} ct_py_alias;

typedef enum ct_py_param_kind {
  CT_PY_PARAM_NORMAL,
  CT_PY_PARAM_VARARGS, /* *args */
  CT_PY_PARAM_KWARGS,  /* **kwargs */
  CT_PY_PARAM_STAR     /* a bare `*` separating keyword-only parameters */
} ct_py_param_kind;

typedef struct ct_py_param {
  ct_py_param_kind kind;
  const char *name; /* NULL for a bare * */
  ct_py_expr *annotation, *dflt; /* each NULL when absent */
  int line, col;
} ct_py_param;

struct ct_py_stmt {
  ct_py_stmt_kind kind;
  int line, col;
  union {
    ct_py_expr *expr;
    struct {
      ct_py_expr_list targets; /* one per `=`; a tuple target is a CT_PY_TUPLE */
      ct_py_expr *value;       /* NULL for a bare annotation `x: int` */
      ct_py_expr *annotation;  /* NULL unless `target: annotation = value` */
    } assign;
    struct {
      ct_py_binop op;
      ct_py_expr *target, *value;
    } aug;
    ct_py_expr *ret;
    struct {
      ct_py_expr *exc;
    } raise;
    struct {
      ct_py_expr *test, *msg;
    } assert_;
    struct {
      ct_py_expr *cond;
      ct_py_stmt_list body, orelse;
    } if_;
    struct {
      ct_py_expr *target, *iter;
      ct_py_stmt_list body;
    } for_;
    struct {
      ct_py_expr *cond;
      ct_py_stmt_list body;
    } while_;
    struct {
      const char *module; /* CT_PY_FROM only */
      ct_py_alias *names;
      int n_names, cap_names;
      bool star; /* from m import * */
    } import;
    struct {
      const char *name;
      ct_py_param *params;
      int n_params, cap_params;
      ct_py_expr *returns; /* the -> annotation, or NULL */
      ct_py_expr_list decorators;
      ct_py_stmt_list body;
    } def;
    struct {
      const char *name;
      ct_py_expr_list bases;
      ct_py_keyword_list keywords; /* metaclass=... */
      ct_py_expr_list decorators;
      ct_py_stmt_list body;
    } class_;
  } u;
};

typedef struct ct_py_module {
  const char *file;
  ct_py_stmt_list body;
} ct_py_module;

/* ---- construction (used by the parser) ---------------------------------------------------- */

ct_py_expr *ct_py_expr_new(ct_arena *a, ct_py_expr_kind kind, int line, int col);
ct_py_stmt *ct_py_stmt_new(ct_arena *a, ct_py_stmt_kind kind, int line, int col);
void ct_py_expr_list_push(ct_arena *a, ct_py_expr_list *l, ct_py_expr *e);
void ct_py_stmt_list_push(ct_arena *a, ct_py_stmt_list *l, ct_py_stmt *s);
/* Appends every statement of src to dst. */
void ct_py_stmt_list_extend(ct_arena *a, ct_py_stmt_list *dst, const ct_py_stmt_list *src);
void ct_py_keyword_push(ct_arena *a, ct_py_keyword_list *l, ct_py_keyword kw);
void ct_py_comp_push(ct_arena *a, ct_py_expr *comp, ct_py_comp_for gen);
void ct_py_compare_push(ct_arena *a, ct_py_expr *cmp, ct_py_cmpop op, ct_py_expr *rhs);
void ct_py_alias_push(ct_arena *a, ct_py_stmt *imp, ct_py_alias alias);
void ct_py_param_push(ct_arena *a, ct_py_stmt *def, ct_py_param p);

/* ---- names for messages and dumps --------------------------------------------------------- */

const char *ct_py_binop_str(ct_py_binop op);   /* "+", "//", "@" */
const char *ct_py_cmpop_str(ct_py_cmpop op);   /* "<", "not in" */
const char *ct_py_unop_str(ct_py_unop op);     /* "-", "+", "~", "not" */
const char *ct_py_expr_kind_name(ct_py_expr_kind k); /* "call", "listcomp" */
const char *ct_py_stmt_kind_name(ct_py_stmt_kind k); /* "assign", "for" */

#endif
