/* frontend/parse_py.c: the frontend's entry point: runs the flex scanner and bison parser over
 * a model.py text into an arena AST, reporting every syntax error found to a ct_diag. Also the
 * helpers the lexer shares (error reporting, string-literal decoding). */
#include <stdarg.h>
#include <string.h>

#include "frontend.h"

/* From the generated scanner and parser; declared here so this file needs neither header. */
struct yy_buffer_state;
int pyylex_init_extra(ct_py_state *extra, void **scanner);
struct yy_buffer_state *pyy_scan_bytes(const char *bytes, int len, void *scanner);
int pyylex_destroy(void *scanner);
int pyyparse(void *scanner, ct_py_state *st);

void ct_py_error(ct_py_state *st, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_diag_vadd(st->diag, CT_SEV_ERROR, st->file, line, col, fmt, ap);
  va_end(ap);
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Appends code point cp as UTF-8; returns the bytes written. */
static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

char *ct_py_decode_string(ct_arena *a, const char *s, size_t n, bool raw, size_t *out_len) {
  /* Decoding never grows the text by more than 4/3 (\x escapes shrink; \u: 6 bytes -> <= 3). */
  char *out = ct_arena_alloc(a, n * 2 + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c != '\\' || raw || i + 1 == n) {
      if (raw && c == '\\' && i + 1 < n) { /* a raw string keeps the escape, quote included */
        out[k++] = c;
        out[k++] = s[++i];
        continue;
      }
      out[k++] = c;
      continue;
    }
    char e = s[++i];
    switch (e) {
    case '\n': break; /* line continuation inside the literal */
    case 'n': out[k++] = '\n'; break;
    case 't': out[k++] = '\t'; break;
    case 'r': out[k++] = '\r'; break;
    case 'a': out[k++] = '\a'; break;
    case 'b': out[k++] = '\b'; break;
    case 'f': out[k++] = '\f'; break;
    case 'v': out[k++] = '\v'; break;
    case '\\': case '\'': case '"': out[k++] = e; break;
    case 'x':
      if (i + 2 < n && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
        out[k++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
        i += 2;
      } else {
        out[k++] = '\\';
        out[k++] = e;
      }
      break;
    case 'u':
    case 'U': {
      size_t digits = e == 'u' ? 4 : 8;
      uint32_t cp = 0;
      bool ok = i + digits < n;
      for (size_t j = 1; ok && j <= digits; j++) {
        int h = hex_value(s[i + j]);
        if (h < 0) ok = false;
        cp = cp * 16 + (uint32_t)(h < 0 ? 0 : h);
      }
      if (ok && cp <= 0x10ffff) {
        k += put_utf8(out + k, cp);
        i += digits;
      } else {
        out[k++] = '\\';
        out[k++] = e;
      }
      break;
    }
    default:
      if (e >= '0' && e <= '7') {
        int v = e - '0';
        for (int j = 0; j < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; j++)
          v = v * 8 + (s[++i] - '0');
        out[k++] = (char)v;
      } else { /* unknown escapes keep their backslash, as Python does */
        out[k++] = '\\';
        out[k++] = e;
      }
    }
  }
  out[k] = 0;
  *out_len = k;
  return out;
}

ct_status ct_py_parse(const char *text, size_t len, const char *file, ct_arena *arena,
                      ct_py_module **out, ct_diag *diag) {
  *out = NULL;
  if (len > (size_t)0x7fffffff)
    return ct_diag_error(diag, file, 0, 0, "source file too large (%zu bytes)", len);
  ct_py_state *st = ct_arena_alloc(arena, sizeof *st);
  st->arena = arena;
  st->diag = diag;
  st->file = file;
  st->text = text;
  st->len = len;
  st->module = ct_arena_alloc(arena, sizeof *st->module);
  st->module->file = file ? ct_arena_strdup(arena, file) : NULL;
  st->line = st->col = 1;
  st->n_indent = 1;
  st->error_stmt_end = -2; /* no recovery yet */
  int errors_before = diag->n_errors;
  void *scanner = NULL;
  if (pyylex_init_extra(st, &scanner) != 0)
    return ct_diag_error(diag, file, 0, 0, "cannot initialize the Python lexer");
  pyy_scan_bytes(text ? text : "", (int)len, scanner);
  int rc = pyyparse(scanner, st);
  pyylex_destroy(scanner);
  if (diag->n_errors > errors_before || rc != 0) {
    if (diag->n_errors == errors_before)
      ct_diag_error(diag, file, st->line, st->col, "syntax error");
    return CT_ERR_INVALID;
  }
  *out = st->module;
  return CT_OK;
}
