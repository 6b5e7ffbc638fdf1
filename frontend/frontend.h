/* frontend/frontend.h: what the frontend's files share with each other (private to frontend/):
 * the parse entry point and AST dumper, and the state the flex lexer and bison parser share. */
#ifndef CT_FRONTEND_H
#define CT_FRONTEND_H

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

#endif
