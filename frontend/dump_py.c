/* frontend/dump_py.c: prints the Python AST as indented S-expressions, the stable text the
 * frontend tests compare against: one statement per line, bodies indented two spaces. */
#include <inttypes.h>

#include "frontend.h"

static void dump_expr(const ct_py_expr *e, FILE *out);

static void dump_opt(const ct_py_expr *e, FILE *out) {
  if (e)
    dump_expr(e, out);
  else
    fputc('_', out);
}

static void dump_list(const ct_py_expr_list *l, FILE *out) {
  for (int i = 0; i < l->n; i++) {
    fputc(' ', out);
    dump_expr(l->items[i], out);
  }
}

static void dump_keywords(const ct_py_keyword_list *l, FILE *out) {
  for (int i = 0; i < l->n; i++) {
    if (l->items[i].name)
      fprintf(out, " (%s = ", l->items[i].name);
    else
      fputs(" (** ", out);
    dump_expr(l->items[i].value, out);
    fputc(')', out);
  }
}

static void dump_string(const char *s, size_t n, FILE *out) {
  fputc('"', out);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", out);
    else if (c == '\t')
      fputs("\\t", out);
    else if (c < 0x20 || c == 0x7f)
      fprintf(out, "\\x%02x", c);
    else
      fputc(c, out);
  }
  fputc('"', out);
}

/* A name or a chain of attributes on names prints dotted: nn.Module. */
static bool is_dotted(const ct_py_expr *e) {
  while (e->kind == CT_PY_ATTR) e = e->u.attr.value;
  return e->kind == CT_PY_NAME;
}

static void dump_expr(const ct_py_expr *e, FILE *out) {
  switch (e->kind) {
  case CT_PY_NAME: fputs(e->u.name, out); break;
  case CT_PY_ATTR:
    if (is_dotted(e)) {
      dump_expr(e->u.attr.value, out);
      fprintf(out, ".%s", e->u.attr.attr);
    } else {
      fputs("(attr ", out);
      dump_expr(e->u.attr.value, out);
      fprintf(out, " %s)", e->u.attr.attr);
    }
    break;
  case CT_PY_CALL:
    fputs("(call ", out);
    dump_opt(e->u.call.func, out);
    dump_list(&e->u.call.args, out);
    dump_keywords(&e->u.call.kwargs, out);
    fputc(')', out);
    break;
  case CT_PY_SUBSCRIPT:
    fputs("(sub ", out);
    dump_expr(e->u.sub.value, out);
    fputc(' ', out);
    dump_expr(e->u.sub.index, out);
    fputc(')', out);
    break;
  case CT_PY_SLICE:
    fputs("(slice ", out);
    dump_opt(e->u.slice.lo, out);
    fputc(' ', out);
    dump_opt(e->u.slice.hi, out);
    fputc(' ', out);
    dump_opt(e->u.slice.step, out);
    fputc(')', out);
    break;
  case CT_PY_INT: fprintf(out, "%" PRId64, e->u.i); break;
  case CT_PY_FLOAT: fprintf(out, "%.17g", e->u.f); break;
  case CT_PY_STR: dump_string(e->u.str.s, e->u.str.len, out); break;
  case CT_PY_BOOL: fputs(e->u.b ? "True" : "False", out); break;
  case CT_PY_NONE: fputs("None", out); break;
  case CT_PY_ELLIPSIS: fputs("...", out); break;
  case CT_PY_TUPLE:
  case CT_PY_LIST:
    fputs(e->kind == CT_PY_TUPLE ? "(tuple" : "(list", out);
    dump_list(&e->u.elts, out);
    fputc(')', out);
    break;
  case CT_PY_LISTCOMP:
    fputs("(listcomp ", out);
    dump_opt(e->u.comp.elt, out);
    for (int i = 0; i < e->u.comp.n_gens; i++) {
      const ct_py_comp_for *g = &e->u.comp.gens[i];
      fputs(" (for ", out);
      dump_expr(g->target, out);
      fputc(' ', out);
      dump_expr(g->iter, out);
      for (int j = 0; j < g->ifs.n; j++) {
        fputs(" (if ", out);
        dump_expr(g->ifs.items[j], out);
        fputc(')', out);
      }
      fputc(')', out);
    }
    fputc(')', out);
    break;
  case CT_PY_UNARY:
    fprintf(out, "(%s ", ct_py_unop_str(e->u.unary.op));
    dump_expr(e->u.unary.operand, out);
    fputc(')', out);
    break;
  case CT_PY_BINARY:
    fprintf(out, "(%s ", ct_py_binop_str(e->u.binary.op));
    dump_expr(e->u.binary.lhs, out);
    fputc(' ', out);
    dump_expr(e->u.binary.rhs, out);
    fputc(')', out);
    break;
  case CT_PY_COMPARE:
    fputs("(compare ", out);
    dump_expr(e->u.compare.first, out);
    for (int i = 0; i < e->u.compare.n; i++) {
      fprintf(out, " %s ", ct_py_cmpop_str(e->u.compare.ops[i]));
      dump_expr(e->u.compare.others[i], out);
    }
    fputc(')', out);
    break;
  case CT_PY_BOOLOP:
    fputs(e->u.boolop.op == CT_PY_AND ? "(and " : "(or ", out);
    dump_expr(e->u.boolop.lhs, out);
    fputc(' ', out);
    dump_expr(e->u.boolop.rhs, out);
    fputc(')', out);
    break;
  case CT_PY_IFEXP:
    fputs("(ifexp ", out);
    dump_expr(e->u.ifexp.cond, out);
    fputc(' ', out);
    dump_expr(e->u.ifexp.then, out);
    fputc(' ', out);
    dump_expr(e->u.ifexp.orelse, out);
    fputc(')', out);
    break;
  case CT_PY_STARRED:
    fputs(e->u.starred.double_star ? "(** " : "(* ", out);
    dump_expr(e->u.starred.value, out);
    fputc(')', out);
    break;
  }
}

static void dump_stmt(const ct_py_stmt *s, int depth, FILE *out);

static void dump_body(const ct_py_stmt_list *body, int depth, FILE *out) {
  for (int i = 0; i < body->n; i++) {
    fprintf(out, "\n%*s", depth * 2, "");
    dump_stmt(body->items[i], depth, out);
  }
}

static void dump_alias(const ct_py_alias *a, FILE *out) {
  if (a->asname)
    fprintf(out, " (%s as %s)", a->name, a->asname);
  else
    fprintf(out, " %s", a->name);
}

static void dump_param(const ct_py_param *p, FILE *out) {
  const char *star = p->kind == CT_PY_PARAM_VARARGS ? "*"
                     : p->kind == CT_PY_PARAM_KWARGS ? "**"
                                                     : "";
  if (p->kind == CT_PY_PARAM_STAR) {
    fputs(" *", out);
    return;
  }
  if (!p->annotation && !p->dflt) {
    fprintf(out, " %s%s", star, p->name);
    return;
  }
  fprintf(out, " (%s%s", star, p->name);
  if (p->annotation) {
    fputs(" : ", out);
    dump_expr(p->annotation, out);
  }
  if (p->dflt) {
    fputs(" = ", out);
    dump_expr(p->dflt, out);
  }
  fputc(')', out);
}

static void dump_decorators(const ct_py_expr_list *d, FILE *out) {
  if (d->n == 0) return;
  fputs(" (decorators", out);
  dump_list(d, out);
  fputc(')', out);
}

static void dump_stmt(const ct_py_stmt *s, int depth, FILE *out) {
  switch (s->kind) {
  case CT_PY_EXPR_STMT:
    fputs("(expr ", out);
    dump_expr(s->u.expr, out);
    break;
  case CT_PY_ASSIGN:
    if (s->u.assign.annotation) {
      fputs("(: ", out);
      dump_expr(s->u.assign.targets.items[0], out);
      fputc(' ', out);
      dump_expr(s->u.assign.annotation, out);
      if (s->u.assign.value) {
        fputc(' ', out);
        dump_expr(s->u.assign.value, out);
      }
    } else {
      fputs("(=", out);
      dump_list(&s->u.assign.targets, out);
      fputc(' ', out);
      dump_opt(s->u.assign.value, out);
    }
    break;
  case CT_PY_AUGASSIGN:
    fprintf(out, "(%s= ", ct_py_binop_str(s->u.aug.op));
    dump_expr(s->u.aug.target, out);
    fputc(' ', out);
    dump_expr(s->u.aug.value, out);
    break;
  case CT_PY_RETURN:
    fputs("(return", out);
    if (s->u.ret) {
      fputc(' ', out);
      dump_expr(s->u.ret, out);
    }
    break;
  case CT_PY_PASS: fputs("(pass", out); break;
  case CT_PY_BREAK: fputs("(break", out); break;
  case CT_PY_CONTINUE: fputs("(continue", out); break;
  case CT_PY_RAISE:
    fputs("(raise", out);
    if (s->u.raise.exc) {
      fputc(' ', out);
      dump_expr(s->u.raise.exc, out);
    }
    break;
  case CT_PY_ASSERT:
    fputs("(assert ", out);
    dump_expr(s->u.assert_.test, out);
    if (s->u.assert_.msg) {
      fputc(' ', out);
      dump_expr(s->u.assert_.msg, out);
    }
    break;
  case CT_PY_IF:
    fputs("(if ", out);
    dump_expr(s->u.if_.cond, out);
    dump_body(&s->u.if_.body, depth + 1, out);
    if (s->u.if_.orelse.n) {
      fprintf(out, "\n%*s(else", (depth + 1) * 2, "");
      dump_body(&s->u.if_.orelse, depth + 2, out);
      fputc(')', out);
    }
    break;
  case CT_PY_FOR:
    fputs("(for ", out);
    dump_expr(s->u.for_.target, out);
    fputc(' ', out);
    dump_expr(s->u.for_.iter, out);
    dump_body(&s->u.for_.body, depth + 1, out);
    break;
  case CT_PY_WHILE:
    fputs("(while ", out);
    dump_expr(s->u.while_.cond, out);
    dump_body(&s->u.while_.body, depth + 1, out);
    break;
  case CT_PY_IMPORT:
  case CT_PY_FROM:
    if (s->kind == CT_PY_FROM)
      fprintf(out, "(from %s import", s->u.import.module);
    else
      fputs("(import", out);
    if (s->u.import.star) fputs(" *", out);
    for (int i = 0; i < s->u.import.n_names; i++) dump_alias(&s->u.import.names[i], out);
    break;
  case CT_PY_DEF:
    fprintf(out, "(def %s (params", s->u.def.name);
    for (int i = 0; i < s->u.def.n_params; i++) dump_param(&s->u.def.params[i], out);
    fputc(')', out);
    if (s->u.def.returns) {
      fputs(" (-> ", out);
      dump_expr(s->u.def.returns, out);
      fputc(')', out);
    }
    dump_decorators(&s->u.def.decorators, out);
    dump_body(&s->u.def.body, depth + 1, out);
    break;
  case CT_PY_CLASS:
    fprintf(out, "(class %s", s->u.class_.name);
    if (s->u.class_.bases.n || s->u.class_.keywords.n) {
      fputs(" (bases", out);
      dump_list(&s->u.class_.bases, out);
      dump_keywords(&s->u.class_.keywords, out);
      fputc(')', out);
    }
    dump_decorators(&s->u.class_.decorators, out);
    dump_body(&s->u.class_.body, depth + 1, out);
    break;
  }
  fputc(')', out);
}

void ct_py_dump(const ct_py_module *m, FILE *out) {
  for (int i = 0; i < m->body.n; i++) {
    dump_stmt(m->body.items[i], 0, out);
    fputc('\n', out);
  }
}

void ct_py_dump_expr(const ct_py_expr *e, FILE *out) { dump_expr(e, out); }
