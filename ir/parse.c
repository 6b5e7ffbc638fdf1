/* ir/parse.c: the parser of the IR text form (docs/ir.md): a hand-written lexer and a
 * recursive-descent parser building a module through the IR API. Result types are read from the
 * text; ct_module_verify checks them. Input is untrusted: every error is a diagnostic. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

typedef enum tok_kind {
  T_EOF,
  T_IDENT,  /* [A-Za-z_][A-Za-z0-9_.]* */
  T_VALUE,  /* %name or %123 (text without the %) */
  T_GLOBAL, /* @name (text without the @) */
  T_INT,
  T_FLOAT,
  T_STRING, /* text with the quotes; decoded on use */
  T_LPAREN,
  T_RPAREN,
  T_LBRACK,
  T_RBRACK,
  T_LBRACE,
  T_RBRACE,
  T_COMMA,
  T_COLON,
  T_EQ,
  T_STAR,
  T_PLUS,
  T_MINUS,
  T_ARROW,
  T_ERROR
} tok_kind;

typedef struct token {
  tok_kind kind;
  const char *s;
  size_t n;
  int line, col;
} token;

/* Values of the graph being parsed by name; keys point into the input text. */
typedef struct value_entry {
  const char *name;
  size_t len;
  ct_value *value;
} value_entry;

typedef struct parser {
  const char *text;
  size_t len, pos;
  int line, col;
  const char *file;
  ct_diag *diag;
  ct_module *m;
  ct_graph *g;
  token tok;
  bool failed;
  value_entry *values;
  size_t cap_values, n_values;
  int depth; /* nesting of fusion bodies, bounded so that hostile input cannot overflow the stack */
} parser;

#define MAX_DEPTH 64

static void error_at(parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void error_at(parser *p, int line, int col, const char *fmt, ...) {
  if (p->failed) return;
  p->failed = true;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ct_diag_error(p->diag, p->file, line, col, "%s", msg);
}

#define error_tok(p, t, ...) error_at((p), (t).line, (t).col, __VA_ARGS__)

/* ---- lexer -------------------------------------------------------------------------------- */

static int peekc(const parser *p, size_t ahead) {
  return p->pos + ahead < p->len ? (unsigned char)p->text[p->pos + ahead] : -1;
}

static void advance_char(parser *p) {
  if (p->pos >= p->len) return;
  if (p->text[p->pos] == '\n') {
    p->line++;
    p->col = 1;
  } else {
    p->col++;
  }
  p->pos++;
}

static bool is_ident_start(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c) || c == '.'; }

static void skip_space(parser *p) {
  for (;;) {
    int c = peekc(p, 0);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      advance_char(p);
    } else if (c == '/' && peekc(p, 1) == '/') {
      while (peekc(p, 0) >= 0 && peekc(p, 0) != '\n') advance_char(p);
    } else {
      return;
    }
  }
}

static void lex(parser *p) {
  skip_space(p);
  token t = {T_EOF, p->text + p->pos, 0, p->line, p->col};
  size_t start = p->pos;
  int c = peekc(p, 0);
  if (c < 0) {
    p->tok = t;
    return;
  }
  if (is_ident_start(c)) {
    while (is_ident_char(peekc(p, 0))) advance_char(p);
    t.kind = T_IDENT;
  } else if (c == '%' || c == '@') {
    advance_char(p);
    size_t name = p->pos;
    while (is_ident_char(peekc(p, 0))) advance_char(p);
    if (p->pos == name) {
      error_tok(p, t, "expected a name after '%c'", c);
      t.kind = T_ERROR;
    } else {
      t.kind = c == '%' ? T_VALUE : T_GLOBAL;
      t.s = p->text + name;
      t.n = p->pos - name;
      p->tok = t;
      return;
    }
  } else if (is_digit(c)) {
    t.kind = T_INT;
    while (is_digit(peekc(p, 0))) advance_char(p);
    if (peekc(p, 0) == '.' && is_digit(peekc(p, 1))) {
      t.kind = T_FLOAT;
      advance_char(p);
      while (is_digit(peekc(p, 0))) advance_char(p);
    }
    int e = peekc(p, 0);
    if (e == 'e' || e == 'E') {
      size_t k = 1;
      if (peekc(p, k) == '+' || peekc(p, k) == '-') k++;
      if (is_digit(peekc(p, k))) {
        t.kind = T_FLOAT;
        while (k--) advance_char(p);
        while (is_digit(peekc(p, 0))) advance_char(p);
      }
    }
    if (is_ident_start(peekc(p, 0))) {
      error_at(p, p->line, p->col, "unexpected character '%c' in number", peekc(p, 0));
      t.kind = T_ERROR;
    }
  } else if (c == '"') {
    advance_char(p);
    for (;;) {
      int d = peekc(p, 0);
      if (d < 0 || d == '\n') {
        error_tok(p, t, "unterminated string");
        t.kind = T_ERROR;
        break;
      }
      advance_char(p);
      if (d == '"') {
        t.kind = T_STRING;
        break;
      }
      if (d == '\\' && peekc(p, 0) >= 0 && peekc(p, 0) != '\n') advance_char(p);
    }
  } else {
    advance_char(p);
    switch (c) {
    case '(': t.kind = T_LPAREN; break;
    case ')': t.kind = T_RPAREN; break;
    case '[': t.kind = T_LBRACK; break;
    case ']': t.kind = T_RBRACK; break;
    case '{': t.kind = T_LBRACE; break;
    case '}': t.kind = T_RBRACE; break;
    case ',': t.kind = T_COMMA; break;
    case ':': t.kind = T_COLON; break;
    case '=': t.kind = T_EQ; break;
    case '*': t.kind = T_STAR; break;
    case '+': t.kind = T_PLUS; break;
    case '-':
      if (peekc(p, 0) == '>') {
        advance_char(p);
        t.kind = T_ARROW;
      } else {
        t.kind = T_MINUS;
      }
      break;
    default:
      if (c >= 0x21 && c < 0x7f)
        error_tok(p, t, "unexpected character '%c'", c);
      else
        error_tok(p, t, "unexpected character 0x%02x", c);
      t.kind = T_ERROR;
    }
  }
  t.n = p->pos - start;
  p->tok = t;
}

/* ---- token helpers ------------------------------------------------------------------------ */

/* Reports "expected X, got Y" at the current token. */
static void expected(parser *p, const char *what) {
  token t = p->tok;
  if (t.kind == T_ERROR) return; /* the lexer reported it */
  if (t.kind == T_EOF)
    error_tok(p, t, "expected %s, got end of file", what);
  else if (t.kind == T_VALUE || t.kind == T_GLOBAL)
    error_tok(p, t, "expected %s, got '%c%.*s'", what, t.kind == T_VALUE ? '%' : '@', (int)t.n,
              t.s);
  else
    error_tok(p, t, "expected %s, got '%.*s'", what, (int)(t.n > 40 ? 40 : t.n), t.s);
}

static bool tok_is(const token *t, const char *word) {
  return t->kind == T_IDENT && strlen(word) == t->n && memcmp(t->s, word, t->n) == 0;
}

static bool accept(parser *p, tok_kind k) {
  if (p->failed || p->tok.kind != k) return false;
  lex(p);
  return true;
}

static bool expect(parser *p, tok_kind k, const char *what) {
  if (p->failed) return false;
  if (p->tok.kind != k) {
    expected(p, what);
    return false;
  }
  lex(p);
  return true;
}

static char *tok_strdup(parser *p, const token *t) {
  return ct_arena_strndup(p->m->arena, t->s, t->n);
}

/* ---- numbers ------------------------------------------------------------------------------ */

/* Parses an optionally negated integer token (the '-' already consumed when neg). */
static bool parse_int_tok(parser *p, token t, bool neg, int64_t *out) {
  if (t.kind != T_INT) {
    expected(p, "integer");
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < t.n; i++) {
    uint64_t d = (uint64_t)(t.s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      v = UINT64_MAX;
      break;
    }
    v = v * 10 + d;
  }
  if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) {
    error_tok(p, t, "integer '%s%.*s' out of range", neg ? "-" : "", (int)t.n, t.s);
    return false;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  lex(p);
  return true;
}

static bool parse_int(parser *p, int64_t *out) {
  if (p->failed) return false;
  bool neg = accept(p, T_MINUS);
  return parse_int_tok(p, p->tok, neg, out);
}

static bool parse_float(parser *p, double *out) {
  if (p->failed) return false;
  bool neg = accept(p, T_MINUS);
  token t = p->tok;
  if (tok_is(&t, "inf") || tok_is(&t, "nan")) {
    *out = t.s[0] == 'i' ? INFINITY : NAN;
    if (neg) *out = -*out;
    lex(p);
    return true;
  }
  if (t.kind != T_INT && t.kind != T_FLOAT) {
    expected(p, "number");
    return false;
  }
  char buf[128];
  if (t.n >= sizeof buf) {
    error_tok(p, t, "number '%.*s...' too long", 20, t.s);
    return false;
  }
  memcpy(buf, t.s, t.n);
  buf[t.n] = 0;
  errno = 0;
  double v = strtod(buf, NULL);
  if (errno == ERANGE && isinf(v)) {
    error_tok(p, t, "number '%s' out of range", buf);
    return false;
  }
  *out = neg ? -v : v;
  lex(p);
  return true;
}

/* Decodes a string token into the arena; escapes \" \\ \n \t \xHH. */
static char *parse_string(parser *p) {
  if (p->failed) return NULL;
  token t = p->tok;
  if (t.kind != T_STRING) {
    expected(p, "string");
    return NULL;
  }
  char *s = ct_arena_alloc(p->m->arena, t.n);
  size_t n = 0;
  for (size_t i = 1; i + 1 < t.n; i++) {
    char c = t.s[i];
    if (c != '\\') {
      s[n++] = c;
      continue;
    }
    char e = t.s[++i]; /* the lexer guarantees a character before the closing quote */
    int col = t.col + (int)i - 1;
    if (e == 'n') {
      s[n++] = '\n';
    } else if (e == 't') {
      s[n++] = '\t';
    } else if (e == '"' || e == '\\') {
      s[n++] = e;
    } else if (e == 'x' && i + 3 < t.n) {
      int v = 0;
      for (int k = 1; k <= 2; k++) {
        char h = t.s[i + k];
        int d = is_digit(h) ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (d < 0) {
          error_at(p, t.line, col, "bad escape in string");
          return NULL;
        }
        v = v * 16 + d;
      }
      if (v == 0) {
        error_at(p, t.line, col, "NUL character in string");
        return NULL;
      }
      s[n++] = (char)v;
      i += 2;
    } else {
      error_at(p, t.line, col, "bad escape '\\%c' in string", e);
      return NULL;
    }
  }
  s[n] = 0;
  lex(p);
  return s;
}

/* ---- types -------------------------------------------------------------------------------- */

/* dim := term (('+'|'-') term)*, term := INT | INT '*' SYM | SYM | SYM '*' INT; affine in one
 * symbol. */
static bool parse_dim(parser *p, ct_dim *out) {
  token first = p->tok;
  int64_t coef = 0, off = 0;
  int32_t sym = 0;
  bool neg = false;
  for (bool more = true; more && !p->failed;) {
    token t = p->tok;
    int64_t k = 1;
    int32_t s = 0;
    if (t.kind == T_INT) {
      if (!parse_int_tok(p, t, false, &k)) return false;
      if (accept(p, T_STAR)) {
        if (p->tok.kind != T_IDENT) {
          expected(p, "symbol after '*'");
          return false;
        }
        s = ct_module_sym(p->m, p->tok.s, p->tok.n);
        lex(p);
      }
    } else if (t.kind == T_IDENT) {
      s = ct_module_sym(p->m, t.s, t.n);
      lex(p);
      if (accept(p, T_STAR) && !parse_int_tok(p, p->tok, false, &k)) return false;
    } else {
      expected(p, "dimension");
      return false;
    }
    if (neg) k = -k; /* k >= 0 here, so negation cannot overflow */
    if (s) {
      if (sym && sym != s) {
        error_tok(p, t, "dimension must be affine in one symbol");
        return false;
      }
      sym = s;
      if (__builtin_add_overflow(coef, k, &coef)) goto overflow;
    } else if (__builtin_add_overflow(off, k, &off)) {
      goto overflow;
    }
    if (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS) {
      neg = p->tok.kind == T_MINUS;
      lex(p);
    } else {
      more = false;
    }
  }
  if (p->failed) return false;
  if (sym && coef == 0) sym = 0;
  *out = sym ? (ct_dim){coef, off, sym} : ct_dim_const(off);
  return true;
overflow:
  error_tok(p, first, "dimension out of range");
  return false;
}

static bool parse_type(parser *p, ct_type *out) {
  if (p->failed) return false;
  token t = p->tok;
  if (t.kind != T_IDENT) {
    expected(p, "type");
    return false;
  }
  ct_dtype dt;
  if (ct_dtype_parse(t.s, t.n, &dt) != 0) {
    error_tok(p, t, "unknown dtype '%.*s'", (int)t.n, t.s);
    return false;
  }
  lex(p);
  if (!expect(p, T_LBRACK, "'[' after dtype")) return false;
  ct_dim dims[CT_MAX_RANK];
  int rank = 0;
  if (p->tok.kind != T_RBRACK) {
    do {
      if (rank == CT_MAX_RANK) {
        error_tok(p, p->tok, "rank exceeds %d", CT_MAX_RANK);
        return false;
      }
      if (!parse_dim(p, &dims[rank++])) return false;
    } while (accept(p, T_COMMA));
  }
  if (!expect(p, T_RBRACK, "',' or ']' in type")) return false;
  *out = ct_type_make(dt, rank, dims);
  return true;
}

/* ---- value table -------------------------------------------------------------------------- */

static size_t hash_name(const char *s, size_t n) {
  size_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static value_entry *value_slot(parser *p, const char *s, size_t n) {
  size_t i = hash_name(s, n) & (p->cap_values - 1);
  for (;; i = (i + 1) & (p->cap_values - 1)) {
    value_entry *e = &p->values[i];
    if (!e->name || (e->len == n && memcmp(e->name, s, n) == 0)) return e;
  }
}

static void values_grow(parser *p) {
  value_entry *old = p->values;
  size_t old_cap = p->cap_values;
  p->cap_values = old_cap ? old_cap * 2 : 64;
  p->values = calloc(p->cap_values, sizeof *p->values);
  if (!p->values) abort();
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].name) *value_slot(p, old[i].name, old[i].len) = old[i];
  free(old);
}

static void values_clear(parser *p) {
  if (p->values) memset(p->values, 0, p->cap_values * sizeof *p->values);
  p->n_values = 0;
}

/* Binds the name of value token t; a second definition is an error. */
static bool define_value(parser *p, token t, ct_value *v) {
  if ((p->n_values + 1) * 2 > p->cap_values) values_grow(p);
  value_entry *e = value_slot(p, t.s, t.n);
  if (e->name) {
    error_tok(p, t, "redefinition of value '%%%.*s'", (int)t.n, t.s);
    return false;
  }
  e->name = t.s;
  e->len = t.n;
  e->value = v;
  p->n_values++;
  return true;
}

static ct_value *use_value(parser *p) {
  if (p->failed) return NULL;
  token t = p->tok;
  if (t.kind != T_VALUE) {
    expected(p, "value");
    return NULL;
  }
  value_entry *e = p->cap_values ? value_slot(p, t.s, t.n) : NULL;
  if (!e || !e->name) {
    error_tok(p, t, "use of undefined value '%%%.*s'", (int)t.n, t.s);
    return NULL;
  }
  lex(p);
  return e->value;
}

/* ---- growable scratch arrays in the module arena ------------------------------------------ */

static void *arena_push(parser *p, void *items, int n, int *cap, size_t elem) {
  if (n < *cap) return items;
  int c = *cap ? *cap * 2 : 8;
  void *r = ct_arena_alloc(p->m->arena, (size_t)c * elem);
  if (n) memcpy(r, items, (size_t)n * elem);
  *cap = c;
  return r;
}

/* ---- attributes --------------------------------------------------------------------------- */

static bool parse_attr_value(parser *p, ct_attr_kind kind, ct_attr *a) {
  a->kind = kind;
  switch (kind) {
  case CT_ATTR_INT: return parse_int(p, &a->u.i);
  case CT_ATTR_FLOAT: return parse_float(p, &a->u.f);
  case CT_ATTR_BOOL:
    if (tok_is(&p->tok, "true") || tok_is(&p->tok, "false")) {
      a->u.i = p->tok.s[0] == 't';
      lex(p);
      return true;
    }
    expected(p, "'true' or 'false'");
    return false;
  case CT_ATTR_STR: a->u.s = parse_string(p); return a->u.s != NULL;
  case CT_ATTR_DTYPE: {
    token t = p->tok;
    if (t.kind != T_IDENT) {
      expected(p, "dtype");
      return false;
    }
    if (ct_dtype_parse(t.s, t.n, &a->u.dt) != 0) {
      error_tok(p, t, "unknown dtype '%.*s'", (int)t.n, t.s);
      return false;
    }
    lex(p);
    return true;
  }
  case CT_ATTR_INTS:
  case CT_ATTR_FLOATS:
  case CT_ATTR_DIMS: {
    if (!expect(p, T_LBRACK, "'['")) return false;
    int n = 0, cap = 0;
    int64_t *ints = NULL;
    double *floats = NULL;
    ct_dim *dims = NULL;
    if (p->tok.kind != T_RBRACK) {
      do {
        bool ok;
        if (kind == CT_ATTR_INTS) {
          ints = arena_push(p, ints, n, &cap, sizeof *ints);
          ok = parse_int(p, &ints[n]);
        } else if (kind == CT_ATTR_FLOATS) {
          floats = arena_push(p, floats, n, &cap, sizeof *floats);
          ok = parse_float(p, &floats[n]);
        } else {
          dims = arena_push(p, dims, n, &cap, sizeof *dims);
          ok = parse_dim(p, &dims[n]);
        }
        if (!ok) return false;
        if (n == INT32_MAX) {
          error_tok(p, p->tok, "too many elements");
          return false;
        }
        n++;
      } while (accept(p, T_COMMA));
    }
    if (!expect(p, T_RBRACK, "',' or ']'")) return false;
    a->n = n;
    if (kind == CT_ATTR_INTS)
      a->u.ints = ints;
    else if (kind == CT_ATTR_FLOATS)
      a->u.floats = floats;
    else
      a->u.dims = dims;
    return true;
  }
  }
  return false;
}

static const char *kind_name(ct_attr_kind k) {
  static const char *names[] = {"int", "float", "bool", "ints", "floats", "dims", "str", "dtype"};
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

/* A value of the wrong kind gets a message naming the expected kind rather than the token. */
static bool attr_value_fits(const token *t, ct_attr_kind kind) {
  switch (kind) {
  case CT_ATTR_INT: return t->kind == T_INT || t->kind == T_MINUS;
  case CT_ATTR_FLOAT:
    return t->kind == T_INT || t->kind == T_FLOAT || t->kind == T_MINUS || tok_is(t, "inf") ||
           tok_is(t, "nan");
  case CT_ATTR_BOOL: return tok_is(t, "true") || tok_is(t, "false");
  case CT_ATTR_STR: return t->kind == T_STRING;
  case CT_ATTR_DTYPE: return t->kind == T_IDENT;
  default: return t->kind == T_LBRACK;
  }
}

/* '{' name '=' value (',' name '=' value)* '}' */
static bool parse_attrs(parser *p, ct_op op, ct_attr **out, int *n_out) {
  int n = 0, cap = 0;
  ct_attr *attrs = NULL;
  do {
    token name = p->tok;
    if (name.kind != T_IDENT) {
      expected(p, "attribute name");
      return false;
    }
    char *aname = tok_strdup(p, &name);
    int idx = ct_op_attr_index(op, aname);
    if (idx < 0) {
      error_tok(p, name, "unknown attribute '%s' for op '%s'", aname, ct_op_name(op));
      return false;
    }
    for (int i = 0; i < n; i++)
      if (strcmp(attrs[i].name, aname) == 0) {
        error_tok(p, name, "duplicate attribute '%s'", aname);
        return false;
      }
    lex(p);
    if (!expect(p, T_EQ, "'=' after attribute name")) return false;
    int n_specs;
    ct_attr_kind kind = ct_op_attr_specs(op, &n_specs)[idx].kind;
    if (!attr_value_fits(&p->tok, kind)) {
      error_tok(p, p->tok, "expected %s value for attribute '%s' of '%s'", kind_name(kind), aname,
                ct_op_name(op));
      return false;
    }
    attrs = arena_push(p, attrs, n, &cap, sizeof *attrs);
    memset(&attrs[n], 0, sizeof attrs[n]);
    attrs[n].name = aname;
    if (!parse_attr_value(p, kind, &attrs[n])) return false;
    n++;
  } while (accept(p, T_COMMA));
  if (!expect(p, T_RBRACE, "',' or '}' after attribute")) return false;
  *out = attrs;
  *n_out = n;
  return true;
}

/* ---- nodes and blocks --------------------------------------------------------------------- */

static bool parse_block(parser *p, ct_block *b);

/* loc("file":line:col) */
static bool parse_loc(parser *p, ct_loc *loc) {
  lex(p); /* loc */
  if (!expect(p, T_LPAREN, "'(' after 'loc'")) return false;
  const char *file = parse_string(p);
  if (!file || !expect(p, T_COLON, "':' in loc")) return false;
  int64_t line, col;
  token lt = p->tok;
  if (!parse_int(p, &line) || !expect(p, T_COLON, "':' in loc")) return false;
  token ct = p->tok;
  if (!parse_int(p, &col)) return false;
  if (line < 0 || line > INT32_MAX) {
    error_tok(p, lt, "line number out of range");
    return false;
  }
  if (col < 0 || col > INT32_MAX) {
    error_tok(p, ct, "column number out of range");
    return false;
  }
  if (!expect(p, T_RPAREN, "')' after loc")) return false;
  loc->file = file;
  loc->line = (int)line;
  loc->col = (int)col;
  return true;
}

static bool parse_return(parser *p, ct_block *b) {
  token rt = p->tok;
  lex(p);
  int n = 0, cap = 0;
  ct_value **vals = NULL;
  if (p->tok.kind == T_VALUE) {
    do {
      vals = arena_push(p, vals, n, &cap, sizeof *vals);
      if (!(vals[n++] = use_value(p))) return false;
    } while (accept(p, T_COMMA));
  }
  ct_loc loc = {p->file, rt.line, rt.col};
  if (tok_is(&p->tok, "loc") && !parse_loc(p, &loc)) return false;
  ct_block_append(b, ct_node_new(p->m, CT_OP_RETURN, n, vals, 0, NULL, NULL, 0, loc));
  return true;
}

/* results '=' op '(' operands ')' attrs? body? loc? */
static bool parse_node(parser *p, ct_block *b) {
  int n_out = 0, cap_out = 0;
  token *names = NULL;
  ct_type *types = NULL;
  int cap_types = 0;
  while (p->tok.kind == T_VALUE) {
    names = arena_push(p, names, n_out, &cap_out, sizeof *names);
    types = arena_push(p, types, n_out, &cap_types, sizeof *types);
    names[n_out] = p->tok;
    lex(p);
    if (!expect(p, T_COLON, "':' and a type after result")) return false;
    if (!parse_type(p, &types[n_out])) return false;
    n_out++;
    if (!accept(p, T_COMMA)) {
      if (!expect(p, T_EQ, "'=' or ','")) return false;
      break;
    }
    if (p->tok.kind != T_VALUE) {
      expected(p, "result value");
      return false;
    }
  }
  if (p->failed) return false;
  token opt = p->tok;
  if (opt.kind != T_IDENT) {
    expected(p, n_out ? "op name" : "node, 'return' or '}'");
    return false;
  }
  ct_op op = ct_op_lookup(opt.s, opt.n);
  if (op == CT_OP_COUNT || op == CT_OP_RETURN) {
    if (op == CT_OP_RETURN)
      error_tok(p, opt, "'return' has no results");
    else
      error_tok(p, opt, "unknown op '%.*s'", (int)opt.n, opt.s);
    return false;
  }
  lex(p);
  if (!expect(p, T_LPAREN, "'(' after op name")) return false;
  int n_in = 0, cap_in = 0;
  ct_value **in = NULL;
  if (p->tok.kind != T_RPAREN) {
    do {
      in = arena_push(p, in, n_in, &cap_in, sizeof *in);
      if (!(in[n_in++] = use_value(p))) return false;
    } while (accept(p, T_COMMA));
  }
  if (!expect(p, T_RPAREN, "',' or ')' after operand")) return false;
  ct_attr *attrs = NULL;
  int n_attrs = 0;
  if (accept(p, T_LBRACE) && !parse_attrs(p, op, &attrs, &n_attrs)) return false;
  ct_loc loc = {p->file, opt.line, opt.col};
  ct_node *n = ct_node_new(p->m, op, n_in, in, n_out, types, attrs, n_attrs, loc);
  ct_node_normalize_attrs(p->m, n); /* a missing attribute is the verifier's to report */
  for (int i = 0; i < n_out; i++)
    if (!define_value(p, names[i], n->results[i])) return false;
  if (ct_op_table[op].flags & CT_OPF_BODY) {
    if (!tok_is(&p->tok, "body")) {
      expected(p, "'body' after fusion");
      return false;
    }
    lex(p);
    if (p->depth >= MAX_DEPTH) {
      error_tok(p, opt, "fusion bodies nested too deeply");
      return false;
    }
    if (!expect(p, T_LPAREN, "'(' after 'body'")) return false;
    ct_block *body = ct_block_new(p->m, p->g);
    body->parent_node = n;
    n->body = body;
    if (p->tok.kind != T_RPAREN) {
      do {
        token vt = p->tok;
        if (vt.kind != T_VALUE) {
          expected(p, "body parameter");
          return false;
        }
        lex(p);
        ct_type t;
        if (!expect(p, T_COLON, "':' after body parameter") || !parse_type(p, &t)) return false;
        if (!define_value(p, vt, ct_block_add_param(p->m, body, NULL, t))) return false;
      } while (accept(p, T_COMMA));
    }
    if (!expect(p, T_RPAREN, "',' or ')' after body parameter")) return false;
    if (!expect(p, T_LBRACE, "'{' to open the body")) return false;
    p->depth++;
    bool ok = parse_block(p, body);
    p->depth--;
    if (!ok) return false;
  }
  if (tok_is(&p->tok, "loc") && !parse_loc(p, &n->loc)) return false;
  ct_block_append(b, n);
  return true;
}

/* Statements up to and including the closing '}'; the last one must be a return. */
static bool parse_block(parser *p, ct_block *b) {
  for (;;) {
    if (p->failed) return false;
    token t = p->tok;
    if (t.kind == T_RBRACE) {
      if (!b->last || b->last->op != CT_OP_RETURN) {
        error_tok(p, t, "missing 'return' at the end of the block");
        return false;
      }
      lex(p);
      return true;
    }
    if (t.kind == T_EOF) {
      error_tok(p, t, "unexpected end of file: missing '}'");
      return false;
    }
    if (b->last && b->last->op == CT_OP_RETURN) {
      expected(p, "'}' after 'return'");
      return false;
    }
    if (tok_is(&t, "return")) {
      if (!parse_return(p, b)) return false;
    } else if (!parse_node(p, b)) {
      return false;
    }
  }
}

/* ---- module level ------------------------------------------------------------------------- */

static bool parse_graph(parser *p) {
  lex(p); /* graph */
  token nt = p->tok;
  if (nt.kind != T_GLOBAL) {
    expected(p, "graph name '@name'");
    return false;
  }
  char *name = tok_strdup(p, &nt);
  if (ct_module_find_graph(p->m, name)) {
    error_tok(p, nt, "redefinition of graph '@%s'", name);
    return false;
  }
  lex(p);
  ct_graph *g = ct_module_add_graph(p->m, name);
  p->g = g;
  values_clear(p);
  if (!expect(p, T_LPAREN, "'(' after graph name")) return false;
  if (p->tok.kind != T_RPAREN) {
    do {
      token vt = p->tok;
      if (vt.kind != T_VALUE) {
        expected(p, "graph input");
        return false;
      }
      lex(p);
      ct_type t;
      if (!expect(p, T_COLON, "':' after graph input") || !parse_type(p, &t)) return false;
      char *vname = tok_strdup(p, &vt);
      if (!define_value(p, vt, ct_graph_add_input(g, vname, t))) return false;
    } while (accept(p, T_COMMA));
  }
  if (!expect(p, T_RPAREN, "',' or ')' after graph input")) return false;
  int n_res = 0, cap_res = 0;
  ct_type *res_types = NULL;
  token *res_toks = NULL;
  int cap_toks = 0;
  token arrow = p->tok;
  bool has_results = accept(p, T_ARROW);
  if (has_results) {
    if (!expect(p, T_LPAREN, "'(' after '->'")) return false;
    if (p->tok.kind != T_RPAREN) {
      do {
        res_types = arena_push(p, res_types, n_res, &cap_res, sizeof *res_types);
        res_toks = arena_push(p, res_toks, n_res, &cap_toks, sizeof *res_toks);
        token rt = p->tok;
        res_toks[n_res] = rt;
        /* a named result is `name: type`; a dtype alone starts a type */
        if (rt.kind == T_IDENT) {
          lex(p);
          if (accept(p, T_COLON)) {
            ct_graph_set_result_name(g, n_res, ct_arena_strndup(p->m->arena, rt.s, rt.n));
            res_toks[n_res] = p->tok;
          } else {
            /* rewind: re-lex from the identifier */
            p->pos = (size_t)(rt.s - p->text);
            p->line = rt.line;
            p->col = rt.col;
            lex(p);
          }
        }
        if (!parse_type(p, &res_types[n_res])) return false;
        n_res++;
      } while (accept(p, T_COMMA));
    }
    if (!expect(p, T_RPAREN, "',' or ')' after result type")) return false;
  }
  if (!expect(p, T_LBRACE, "'{' to open the graph body")) return false;
  if (!parse_block(p, g->body)) return false;
  if (has_results) {
    ct_node *ret = ct_graph_return(g);
    if (ret->n_operands != n_res) {
      error_tok(p, arrow, "graph '@%s' declares %d results but returns %d", name, n_res,
                ret->n_operands);
      return false;
    }
    for (int i = 0; i < n_res; i++)
      if (!ct_type_eq(&res_types[i], &ct_node_operand(ret, i)->type)) {
        char want[256], got[256];
        ct_type_format(p->m, &res_types[i], want, sizeof want);
        ct_type_format(p->m, &ct_node_operand(ret, i)->type, got, sizeof got);
        error_tok(p, res_toks[i], "result %d of '@%s' declared %s but returns %s", i, name, want,
                  got);
        return false;
      }
  }
  p->g = NULL;
  return true;
}

/* The init forms of docs/ir.md, kept as canonical text: uniform(a,b) normal(m,s)
 * normal_pad(m,s,row) zeros ones constant(v). */
static bool parse_init(parser *p, ct_param *param) {
  token t = p->tok;
  int n_args;
  if (tok_is(&t, "uniform") || tok_is(&t, "normal"))
    n_args = 2;
  else if (tok_is(&t, "normal_pad"))
    n_args = 3;
  else if (tok_is(&t, "constant"))
    n_args = 1;
  else if (tok_is(&t, "zeros") || tok_is(&t, "ones"))
    n_args = 0;
  else {
    if (t.kind == T_IDENT)
      error_tok(p, t, "unknown init '%.*s' (uniform, normal, normal_pad, zeros, ones, constant)", (int)t.n,
                t.s);
    else
      expected(p, "init form");
    return false;
  }
  lex(p);
  char buf[160];
  size_t used = (size_t)snprintf(buf, sizeof buf, "%.*s", (int)t.n, t.s);
  if (n_args) {
    if (!expect(p, T_LPAREN, "'(' after init form")) return false;
    for (int i = 0; i < n_args; i++) {
      if (i && !expect(p, T_COMMA, "','")) return false;
      double v;
      if (!parse_float(p, &v)) return false;
      char num[64];
      if (isnan(v))
        snprintf(num, sizeof num, "nan");
      else if (isinf(v))
        snprintf(num, sizeof num, v < 0 ? "-inf" : "inf");
      else
        for (int prec = 1; prec <= 17; prec++) {
          snprintf(num, sizeof num, "%.*g", prec, v);
          if (strtod(num, NULL) == v) break;
        }
      used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? "," : "(", num);
    }
    if (!expect(p, T_RPAREN, "')' after init arguments")) return false;
    snprintf(buf + used, sizeof buf - used, ")");
  }
  param->init_spec = ct_arena_strdup(p->m->arena, buf);
  return true;
}

static bool parse_param(parser *p, ct_param_kind kind) {
  lex(p);
  token nt = p->tok;
  if (nt.kind != T_IDENT) {
    expected(p, "parameter name");
    return false;
  }
  char *name = tok_strdup(p, &nt);
  if (ct_module_find_param(p->m, name)) {
    error_tok(p, nt, "redefinition of parameter '%s'", name);
    return false;
  }
  lex(p);
  ct_type t;
  if (!expect(p, T_COLON, "':' after parameter name") || !parse_type(p, &t)) return false;
  int idx = ct_module_add_param(p->m, name, t, kind, NULL);
  if (tok_is(&p->tok, "init")) {
    lex(p);
    if (!expect(p, T_EQ, "'=' after 'init'")) return false;
    return parse_init(p, &p->m->params[idx]);
  }
  return true;
}

static void parse_module(parser *p) {
  bool seen_module = false;
  while (!p->failed && p->tok.kind != T_EOF) {
    token t = p->tok;
    if (tok_is(&t, "module")) {
      if (seen_module || p->m->n_syms || p->m->n_params || p->m->n_graphs) {
        error_tok(p, t, "'module' must come first, once");
        return;
      }
      seen_module = true;
      lex(p);
      if (p->tok.kind != T_GLOBAL) {
        expected(p, "module name '@name'");
        return;
      }
      p->m->name = tok_strdup(p, &p->tok);
      lex(p);
    } else if (tok_is(&t, "sym")) {
      lex(p);
      token st = p->tok;
      if (st.kind != T_IDENT) {
        expected(p, "symbol name");
        return;
      }
      if (ct_module_find_sym(p->m, st.s, st.n)) {
        error_tok(p, st, "redefinition of symbol '%.*s'", (int)st.n, st.s);
        return;
      }
      ct_module_sym(p->m, st.s, st.n);
      lex(p);
    } else if (tok_is(&t, "param")) {
      parse_param(p, CT_PARAM_WEIGHT);
    } else if (tok_is(&t, "buffer")) {
      parse_param(p, CT_PARAM_BUFFER);
    } else if (tok_is(&t, "state")) {
      parse_param(p, CT_PARAM_STATE);
    } else if (tok_is(&t, "graph")) {
      parse_graph(p);
    } else {
      expected(p, "'module', 'sym', 'param', 'buffer', 'state' or 'graph'");
    }
  }
}

ct_module *ct_module_parse(const char *text, size_t len, const char *file, ct_diag *diag) {
  parser p;
  memset(&p, 0, sizeof p);
  p.text = text ? text : "";
  p.len = text ? len : 0;
  p.line = p.col = 1;
  p.diag = diag;
  p.m = ct_module_new();
  p.file = file ? ct_arena_strdup(p.m->arena, file) : NULL;
  lex(&p);
  parse_module(&p);
  free(p.values);
  if (p.failed) {
    ct_module_free(p.m);
    return NULL;
  }
  return p.m;
}
