/* runtime/diag.c: collecting and printing diagnostics (`file:line:col: error: msg`, then the
 * source line and a caret when the source text was registered). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/types.h"

void ct_diag_init(ct_diag *d) { memset(d, 0, sizeof *d); }

void ct_diag_clear(ct_diag *d) {
  for (int i = 0; i < d->n; i++) {
    free(d->items[i].file);
    free(d->items[i].msg);
  }
  d->n = 0;
  d->n_errors = 0;
}

void ct_diag_free(ct_diag *d) {
  ct_diag_clear(d);
  free(d->items);
  for (int i = 0; i < d->n_sources; i++) {
    free(d->sources[i].file);
    free(d->sources[i].text);
  }
  free(d->sources);
  memset(d, 0, sizeof *d);
}

static char *dup_or_null(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s);
  char *r = malloc(n + 1);
  if (r) memcpy(r, s, n + 1);
  return r;
}

ct_status ct_diag_vadd(ct_diag *d, ct_severity sev, const char *file, int line, int col,
                       const char *fmt, va_list ap) {
  ct_status st = sev == CT_SEV_ERROR ? CT_ERR_INVALID : CT_OK;
  if (!d) return st;
  if (d->n == d->cap) {
    int cap = d->cap ? d->cap * 2 : 8;
    ct_diag_entry *items = realloc(d->items, (size_t)cap * sizeof *items);
    if (!items) return st;
    d->items = items;
    d->cap = cap;
  }
  va_list ap2;
  va_copy(ap2, ap);
  int len = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  char *msg = malloc(len > 0 ? (size_t)len + 1 : 1);
  if (!msg) return st;
  vsnprintf(msg, (size_t)len + 1, fmt, ap);
  ct_diag_entry *e = &d->items[d->n++];
  e->sev = sev;
  e->file = dup_or_null(file);
  e->line = line;
  e->col = col;
  e->msg = msg;
  if (sev == CT_SEV_ERROR) d->n_errors++;
  return st;
}

ct_status ct_diag_add(ct_diag *d, ct_severity sev, const char *file, int line, int col,
                      const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_status st = ct_diag_vadd(d, sev, file, line, col, fmt, ap);
  va_end(ap);
  return st;
}

ct_status ct_diag_error(ct_diag *d, const char *file, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_status st = ct_diag_vadd(d, CT_SEV_ERROR, file, line, col, fmt, ap);
  va_end(ap);
  return st;
}

void ct_diag_add_source(ct_diag *d, const char *file, const char *text, size_t len) {
  if (!d || !file) return;
  for (int i = 0; i < d->n_sources; i++)
    if (strcmp(d->sources[i].file, file) == 0) return;
  if (d->n_sources == d->cap_sources) {
    int cap = d->cap_sources ? d->cap_sources * 2 : 4;
    ct_diag_source *s = realloc(d->sources, (size_t)cap * sizeof *s);
    if (!s) return;
    d->sources = s;
    d->cap_sources = cap;
  }
  char *copy = malloc(len + 1);
  char *name = dup_or_null(file);
  if (!copy || !name) {
    free(copy);
    free(name);
    return;
  }
  memcpy(copy, text, len);
  copy[len] = 0;
  d->sources[d->n_sources++] = (ct_diag_source){name, copy, len};
}

static const ct_diag_source *find_source(const ct_diag *d, const char *file) {
  if (!file) return NULL;
  for (int i = 0; i < d->n_sources; i++)
    if (strcmp(d->sources[i].file, file) == 0) return &d->sources[i];
  return NULL;
}

/* Prints line `line` of src and a caret under column col (tabs kept so the caret lines up). */
static void print_caret(FILE *out, const ct_diag_source *src, int line, int col) {
  const char *p = src->text, *end = src->text + src->len;
  for (int l = 1; l < line && p < end; l++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return;
    p = nl + 1;
  }
  if (p >= end && line > 1) return;
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) eol = end;
  fprintf(out, "%.*s\n", (int)(eol - p), p);
  for (int c = 1; c < col && p + c - 1 < eol; c++) fputc(p[c - 1] == '\t' ? '\t' : ' ', out);
  fputs("^\n", out);
}

void ct_diag_print(const ct_diag *d, FILE *out) {
  static const char *sev_names[] = {"error", "warning", "note"};
  for (int i = 0; i < d->n; i++) {
    const ct_diag_entry *e = &d->items[i];
    if (e->file && e->line > 0 && e->col > 0)
      fprintf(out, "%s:%d:%d: ", e->file, e->line, e->col);
    else if (e->file && e->line > 0)
      fprintf(out, "%s:%d: ", e->file, e->line);
    else if (e->file)
      fprintf(out, "%s: ", e->file);
    fprintf(out, "%s: %s\n", sev_names[e->sev], e->msg);
    const ct_diag_source *src = find_source(d, e->file);
    if (src && e->line > 0 && e->col > 0) print_caret(out, src, e->line, e->col);
  }
}

const char *ct_diag_first_error(const ct_diag *d) {
  for (int i = 0; i < d->n; i++)
    if (d->items[i].sev == CT_SEV_ERROR) return d->items[i].msg;
  return "";
}
