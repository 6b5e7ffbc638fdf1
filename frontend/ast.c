/* frontend/ast.c: construction helpers for the Python-subset AST (frontend/ast.h): node
 * allocation and arena-backed growable lists, plus operator and kind names. */
#include <string.h>

#include "ast.h"

ct_py_expr *ct_py_expr_new(ct_arena *a, ct_py_expr_kind kind, int line, int col) {
  ct_py_expr *e = ct_arena_alloc(a, sizeof *e);
  e->kind = kind;
  e->line = line;
  e->col = col;
  return e;
}

ct_py_stmt *ct_py_stmt_new(ct_arena *a, ct_py_stmt_kind kind, int line, int col) {
  ct_py_stmt *s = ct_arena_alloc(a, sizeof *s);
  s->kind = kind;
  s->line = line;
  s->col = col;
  return s;
}

/* Makes room for one more element of size elem in *items (n used, *cap allocated). */
static void *grow(ct_arena *a, void *items, int n, int *cap, size_t elem) {
  if (n < *cap) return items;
  int new_cap = *cap ? *cap * 2 : 4;
  void *fresh = ct_arena_alloc(a, (size_t)new_cap * elem);
  if (n) memcpy(fresh, items, (size_t)n * elem);
  *cap = new_cap;
  return fresh;
}

void ct_py_expr_list_push(ct_arena *a, ct_py_expr_list *l, ct_py_expr *e) {
  l->items = grow(a, l->items, l->n, &l->cap, sizeof *l->items);
  l->items[l->n++] = e;
}

void ct_py_stmt_list_push(ct_arena *a, ct_py_stmt_list *l, ct_py_stmt *s) {
  l->items = grow(a, l->items, l->n, &l->cap, sizeof *l->items);
  l->items[l->n++] = s;
}

void ct_py_stmt_list_extend(ct_arena *a, ct_py_stmt_list *dst, const ct_py_stmt_list *src) {
  for (int i = 0; i < src->n; i++) ct_py_stmt_list_push(a, dst, src->items[i]);
}

void ct_py_keyword_push(ct_arena *a, ct_py_keyword_list *l, ct_py_keyword kw) {
  l->items = grow(a, l->items, l->n, &l->cap, sizeof *l->items);
  l->items[l->n++] = kw;
}

void ct_py_comp_push(ct_arena *a, ct_py_expr *comp, ct_py_comp_for gen) {
  comp->u.comp.gens =
      grow(a, comp->u.comp.gens, comp->u.comp.n_gens, &comp->u.comp.cap_gens, sizeof gen);
  comp->u.comp.gens[comp->u.comp.n_gens++] = gen;
}

void ct_py_compare_push(ct_arena *a, ct_py_expr *cmp, ct_py_cmpop op, ct_py_expr *rhs) {
  int cap = cmp->u.compare.cap;
  cmp->u.compare.ops = grow(a, cmp->u.compare.ops, cmp->u.compare.n, &cap, sizeof op);
  cap = cmp->u.compare.cap;
  cmp->u.compare.others = grow(a, cmp->u.compare.others, cmp->u.compare.n, &cap, sizeof rhs);
  cmp->u.compare.cap = cap;
  cmp->u.compare.ops[cmp->u.compare.n] = op;
  cmp->u.compare.others[cmp->u.compare.n++] = rhs;
}

void ct_py_alias_push(ct_arena *a, ct_py_stmt *imp, ct_py_alias alias) {
  imp->u.import.names = grow(a, imp->u.import.names, imp->u.import.n_names,
                             &imp->u.import.cap_names, sizeof alias);
  imp->u.import.names[imp->u.import.n_names++] = alias;
}

void ct_py_param_push(ct_arena *a, ct_py_stmt *def, ct_py_param p) {
  def->u.def.params =
      grow(a, def->u.def.params, def->u.def.n_params, &def->u.def.cap_params, sizeof p);
  def->u.def.params[def->u.def.n_params++] = p;
}

const char *ct_py_binop_str(ct_py_binop op) {
  static const char *names[] = {"+", "-", "*", "/", "//", "%", "**",
                                "@", "<<", ">>", "&", "|", "^"};
  return names[op];
}

const char *ct_py_cmpop_str(ct_py_cmpop op) {
  static const char *names[] = {"<", ">", "<=", ">=", "==", "!=", "in", "not in", "is", "is not"};
  return names[op];
}

const char *ct_py_unop_str(ct_py_unop op) {
  static const char *names[] = {"-", "+", "~", "not"};
  return names[op];
}

const char *ct_py_expr_kind_name(ct_py_expr_kind k) {
  static const char *names[] = {"name",  "attr",     "call",  "subscript", "slice",
                                "int",   "float",    "str",   "bool",      "None",
                                "...",   "tuple",    "list",  "listcomp",  "unary",
                                "binary", "compare", "boolop", "ifexp",    "starred"};
  return names[k];
}

const char *ct_py_stmt_kind_name(ct_py_stmt_kind k) {
  static const char *names[] = {"expr",   "assign", "augassign", "return", "pass",  "break",
                                "continue", "raise", "assert",   "if",     "for",   "while",
                                "import", "from",   "def",       "class"};
  return names[k];
}
