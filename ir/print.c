/* ir/print.c: the printer of the IR text form (docs/ir.md). Every stage prints through it, and
 * ir/parse.c reads its output back: print, parse, print is the identity. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Value numbers of one graph, kept outside the values so that printing never disturbs the
 * scratch fields a pass may be using. Open addressing on the pointer. */
typedef struct numbering {
  const ct_value **keys;
  int *nums;
  size_t cap, n;
  int next;
} numbering;

static void num_put(numbering *nb, const ct_value *v, int num);

static void num_grow(numbering *nb) {
  numbering old = *nb;
  nb->cap = old.cap ? old.cap * 2 : 64;
  nb->keys = calloc(nb->cap, sizeof *nb->keys);
  nb->nums = calloc(nb->cap, sizeof *nb->nums);
  if (!nb->keys || !nb->nums) abort();
  nb->n = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.keys[i]) num_put(nb, old.keys[i], old.nums[i]);
  free(old.keys);
  free(old.nums);
}

static void num_put(numbering *nb, const ct_value *v, int num) {
  if ((nb->n + 1) * 2 > nb->cap) num_grow(nb);
  size_t i = ct_hash_ptr(v) & (nb->cap - 1);
  while (nb->keys[i] && nb->keys[i] != v) i = (i + 1) & (nb->cap - 1);
  if (!nb->keys[i]) nb->n++;
  nb->keys[i] = v;
  nb->nums[i] = num;
}

static int num_get(const numbering *nb, const ct_value *v) {
  if (!nb->cap) return -1;
  size_t i = ct_hash_ptr(v) & (nb->cap - 1);
  while (nb->keys[i]) {
    if (nb->keys[i] == v) return nb->nums[i];
    i = (i + 1) & (nb->cap - 1);
  }
  return -1;
}

static void number_block(numbering *nb, const ct_block *b) {
  for (const ct_node *n = b->first; n; n = n->next) {
    for (int i = 0; i < n->n_results; i++) num_put(nb, n->results[i], nb->next++);
    if (n->body) {
      for (int i = 0; i < n->body->n_params; i++) num_put(nb, n->body->params[i], nb->next++);
      number_block(nb, n->body);
    }
  }
}

typedef struct printer {
  FILE *out;
  const ct_module *m;
  const ct_graph *g;
  numbering nb;
  bool with_loc;
} printer;

static void print_value(printer *pr, const ct_value *v) {
  if (!v) {
    fputs("%<null>", pr->out);
    return;
  }
  if (v->name && !v->def && pr->g && v->block == pr->g->body) {
    fprintf(pr->out, "%%%s", v->name);
    return;
  }
  int num = num_get(&pr->nb, v);
  if (num < 0)
    fputs("%<undefined>", pr->out);
  else
    fprintf(pr->out, "%%%d", num);
}

static void print_type(printer *pr, const ct_type *t) {
  char buf[512];
  ct_type_format(pr->m, t, buf, sizeof buf);
  fputs(buf, pr->out);
}

static void print_dim(printer *pr, ct_dim d) {
  char buf[128];
  ct_dim_format(pr->m, d, buf, sizeof buf);
  fputs(buf, pr->out);
}

/* The shortest %g text that strtod reads back to the same double. */
static void format_float(double v, char *buf, size_t size) {
  if (isnan(v)) {
    snprintf(buf, size, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, size, v < 0 ? "-inf" : "inf");
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

static void print_float(printer *pr, double v) {
  char buf[64];
  format_float(v, buf, sizeof buf);
  fputs(buf, pr->out);
}

static void print_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        fprintf(out, "\\x%02x", *p);
      else
        fputc(*p, out);
    }
  }
  fputc('"', out);
}

static void print_attr_value(printer *pr, const ct_attr *a) {
  switch (a->kind) {
  case CT_ATTR_INT: fprintf(pr->out, "%lld", (long long)a->u.i); break;
  case CT_ATTR_BOOL: fputs(a->u.i ? "true" : "false", pr->out); break;
  case CT_ATTR_FLOAT: print_float(pr, a->u.f); break;
  case CT_ATTR_DTYPE: fputs(ct_dtype_name(a->u.dt), pr->out); break;
  case CT_ATTR_STR: print_string(pr->out, a->u.s); break;
  case CT_ATTR_INTS:
  case CT_ATTR_FLOATS:
  case CT_ATTR_DIMS:
    fputc('[', pr->out);
    for (int i = 0; i < a->n; i++) {
      if (i) fputs(", ", pr->out);
      if (a->kind == CT_ATTR_INTS)
        fprintf(pr->out, "%lld", (long long)a->u.ints[i]);
      else if (a->kind == CT_ATTR_FLOATS)
        print_float(pr, a->u.floats[i]);
      else
        print_dim(pr, a->u.dims[i]);
    }
    fputc(']', pr->out);
    break;
  }
}

/* Attributes in schema order, those equal to their default left out; attributes outside the
 * schema follow (the verifier reports them; the parser rejects them). */
static void print_attrs(printer *pr, const ct_node *n) {
  int n_specs;
  const ct_attr_spec *specs = ct_op_attr_specs(n->op, &n_specs);
  int printed = 0;
  for (int s = 0; s < n_specs; s++) {
    const ct_attr *a = ct_node_attr(n, specs[s].name);
    if (!a || (specs[s].has_default && ct_attr_eq(a, &specs[s].dflt, CT_ATTR_EQ_TEXT))) continue;
    fputs(printed++ ? ", " : " {", pr->out);
    fprintf(pr->out, "%s=", a->name);
    print_attr_value(pr, a);
  }
  for (int i = 0; i < n->n_attrs; i++) {
    const ct_attr *a = &n->attrs[i];
    if (ct_op_attr_index(n->op, a->name) >= 0) continue;
    fputs(printed++ ? ", " : " {", pr->out);
    fprintf(pr->out, "%s=", a->name);
    print_attr_value(pr, a);
  }
  if (printed) fputc('}', pr->out);
}

static void indent(printer *pr, int depth) {
  for (int i = 0; i < depth; i++) fputs("  ", pr->out);
}

static void print_block(printer *pr, const ct_block *b, int depth);

static void print_node(printer *pr, const ct_node *n, int depth) {
  indent(pr, depth);
  if (n->op == CT_OP_RETURN) {
    fputs("return", pr->out);
    for (int i = 0; i < n->n_operands; i++) {
      fputs(i ? ", " : " ", pr->out);
      print_value(pr, ct_node_operand(n, i));
    }
  } else {
    for (int i = 0; i < n->n_results; i++) {
      if (i) fputs(", ", pr->out);
      print_value(pr, n->results[i]);
      fputs(": ", pr->out);
      print_type(pr, &n->results[i]->type);
    }
    if (n->n_results) fputs(" = ", pr->out);
    fprintf(pr->out, "%s(", ct_op_name(n->op));
    for (int i = 0; i < n->n_operands; i++) {
      if (i) fputs(", ", pr->out);
      print_value(pr, ct_node_operand(n, i));
    }
    fputc(')', pr->out);
    print_attrs(pr, n);
    if (n->body) {
      fputs(" body(", pr->out);
      for (int i = 0; i < n->body->n_params; i++) {
        if (i) fputs(", ", pr->out);
        print_value(pr, n->body->params[i]);
        fputs(": ", pr->out);
        print_type(pr, &n->body->params[i]->type);
      }
      fputs(") {\n", pr->out);
      print_block(pr, n->body, depth + 1);
      indent(pr, depth);
      fputc('}', pr->out);
    }
  }
  if (pr->with_loc && n->loc.line > 0) {
    fputs(" loc(", pr->out);
    print_string(pr->out, n->loc.file ? n->loc.file : "");
    fprintf(pr->out, ":%d:%d)", n->loc.line, n->loc.col);
  }
  fputc('\n', pr->out);
}

static void print_block(printer *pr, const ct_block *b, int depth) {
  for (const ct_node *n = b->first; n; n = n->next) print_node(pr, n, depth);
}

static void print_graph(printer *pr, const ct_graph *g) {
  pr->g = g;
  memset(&pr->nb, 0, sizeof pr->nb);
  for (int i = 0; i < g->body->n_params; i++)
    if (!g->body->params[i]->name) num_put(&pr->nb, g->body->params[i], pr->nb.next++);
  number_block(&pr->nb, g->body);

  fprintf(pr->out, "graph @%s(", g->name);
  for (int i = 0; i < g->body->n_params; i++) {
    if (i) fputs(", ", pr->out);
    print_value(pr, g->body->params[i]);
    fputs(": ", pr->out);
    print_type(pr, &g->body->params[i]->type);
  }
  fputs(") -> (", pr->out);
  int n_results = ct_graph_num_results(g);
  for (int i = 0; i < n_results; i++) {
    if (i) fputs(", ", pr->out);
    const char *name = ct_graph_result_name(g, i);
    if (name) fprintf(pr->out, "%s: ", name);
    const ct_value *v = ct_graph_result(g, i);
    if (v)
      print_type(pr, &v->type);
    else
      fputs("?", pr->out);
  }
  fputs(") {\n", pr->out);
  print_block(pr, g->body, 1);
  fputs("}\n", pr->out);
  free(pr->nb.keys);
  free(pr->nb.nums);
  memset(&pr->nb, 0, sizeof pr->nb);
  pr->g = NULL;
}

static const char *param_kind_name(ct_param_kind k) {
  switch (k) {
  case CT_PARAM_WEIGHT: return "param";
  case CT_PARAM_BUFFER: return "buffer";
  case CT_PARAM_STATE: return "state";
  }
  return "param";
}

void ct_module_print_opts(const ct_module *m, FILE *out, bool with_loc) {
  printer pr = {out, m, NULL, {0}, with_loc};
  bool header = false;
  if (m->name) {
    fprintf(out, "module @%s\n", m->name);
    header = true;
  }
  for (int i = 1; i <= m->n_syms; i++) {
    fprintf(out, "sym %s\n", m->syms[i]);
    header = true;
  }
  for (int i = 0; i < m->n_params; i++) {
    const ct_param *p = &m->params[i];
    fprintf(out, "%s %s: ", param_kind_name(p->kind), p->name);
    print_type(&pr, &p->type);
    if (p->init_spec) fprintf(out, " init=%s", p->init_spec);
    fputc('\n', out);
    header = true;
  }
  for (int i = 0; i < m->n_graphs; i++) {
    if (header || i) fputc('\n', out);
    print_graph(&pr, m->graphs[i]);
  }
}

void ct_module_print(const ct_module *m, FILE *out) { ct_module_print_opts(m, out, false); }

void ct_graph_print(const ct_graph *g, FILE *out) {
  printer pr = {out, g->module, NULL, {0}, false};
  print_graph(&pr, g);
}

char *ct_module_to_string_opts(const ct_module *m, bool with_loc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) abort();
  ct_module_print_opts(m, f, with_loc);
  if (fclose(f) != 0) abort();
  return buf;
}

char *ct_module_to_string(const ct_module *m) { return ct_module_to_string_opts(m, false); }
