/* ir/verify.c: the IR verifier (docs/ir.md, "Checks"): SSA dominance, arity, result types
 * against the shape rules, attributes, use lists, terminators, graph inputs. Run after parsing
 * and after every pass; it reports every problem it finds, naming values as the printer does. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* ---- pointer maps (values to their number and block, the set of nodes) ------------------ */

typedef struct entry {
  const void *key;
  int num;               /* printer's number of a value, -1 for named graph inputs */
  const ct_block *block; /* the block defining the value */
  bool defined;          /* the walk has passed the definition */
} entry;

typedef struct ptr_map {
  entry *items;
  size_t cap, n;
} ptr_map;

static entry *map_find(const ptr_map *m, const void *key) {
  if (!m->cap || !key) return NULL;
  for (size_t i = ct_hash_ptr(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->items[i].key == key) return &m->items[i];
    if (!m->items[i].key) return NULL;
  }
}

static entry *map_put(ptr_map *m, const void *key) {
  entry *e = map_find(m, key);
  if (e) return e;
  if ((m->n + 1) * 2 > m->cap) {
    ptr_map old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->items = calloc(m->cap, sizeof *m->items);
    if (!m->items) abort();
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
      if (old.items[i].key) *map_put(m, old.items[i].key) = old.items[i];
    free(old.items);
  }
  size_t i = ct_hash_ptr(key) & (m->cap - 1);
  while (m->items[i].key) i = (i + 1) & (m->cap - 1);
  m->items[i].key = key;
  m->items[i].num = -1;
  m->n++;
  return &m->items[i];
}

/* ---- context and reporting -------------------------------------------------------------- */

typedef struct verifier {
  const ct_module *m;
  const ct_graph *g;
  ct_diag *diag;
  int n_errors;
  ptr_map values, nodes;
  int next_num;
  long n_operands; /* bounds the walk of a (possibly cyclic) broken use list */
  char vbuf[4][96];
  int next_buf;
} verifier;

static void report(verifier *v, const ct_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(verifier *v, const ct_node *n, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ct_loc loc = {0};
  if (n) loc = n->loc;
  ct_diag_error(v->diag, loc.file, loc.line, loc.col, "@%s: %s", v->g->name, msg);
  v->n_errors++;
}

/* A value as the printer writes it: %name for a named graph input, else %number. */
static const char *vname(verifier *v, const ct_value *val) {
  char *buf = v->vbuf[v->next_buf++ % 4];
  const entry *e = map_find(&v->values, val);
  if (!val)
    snprintf(buf, sizeof v->vbuf[0], "%%<null>");
  else if (val->name && !val->def && val->block == v->g->body)
    snprintf(buf, sizeof v->vbuf[0], "%%%s", val->name);
  else if (e && e->num >= 0)
    snprintf(buf, sizeof v->vbuf[0], "%%%d", e->num);
  else
    snprintf(buf, sizeof v->vbuf[0], "%%<undefined>");
  return buf;
}

static const char *tname(verifier *v, const ct_type *t, char *buf, size_t size) {
  ct_type_format(v->m, t, buf, size);
  return buf;
}

static const char *kind_name(ct_attr_kind k) {
  static const char *const names[] = {"int", "float", "bool", "ints", "floats", "dims", "str",
                                      "dtype"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static const char *op_name(const ct_node *n) { return ct_op_name(n->op); }

/* ---- numbering (the printer's order) ------------------------------------------------------ */

static void add_value(verifier *v, const ct_value *val, const ct_block *b, bool numbered) {
  if (!val) return;
  entry *e = map_put(&v->values, val);
  e->block = b;
  if (numbered) e->num = v->next_num++;
}

static void number_block(verifier *v, const ct_block *b) {
  for (const ct_node *n = b->first; n; n = n->next) {
    map_put(&v->nodes, n);
    v->n_operands += n->n_operands;
    for (int i = 0; i < n->n_results; i++) add_value(v, n->results[i], b, true);
    if (n->body) {
      for (int i = 0; i < n->body->n_params; i++) add_value(v, n->body->params[i], n->body, true);
      number_block(v, n->body);
    }
  }
}

/* ---- checks ------------------------------------------------------------------------------- */

static bool isolated(const ct_node *n) { return n->op == CT_OP_FUSION; }

/* Whether a value defined in block def is visible from block use: the same block, or an
 * enclosing one reached without leaving an isolated body. *crossed tells whether def is an
 * enclosing block beyond an isolation boundary. */
static bool visible(const ct_block *def, const ct_block *use, bool *crossed) {
  *crossed = false;
  bool boundary = false;
  for (const ct_block *b = use; b;) {
    if (b == def) {
      *crossed = boundary;
      return !boundary;
    }
    const ct_node *owner = b->parent_node;
    if (!owner) break;
    if (isolated(owner)) boundary = true;
    b = owner->parent;
  }
  return false;
}

static void check_operand(verifier *v, const ct_node *n, const ct_block *b, int i) {
  const ct_use *u = &n->operands[i];
  const ct_value *val = u->value;
  if (!val) {
    report(v, n, "operand %d of %s is null", i, op_name(n));
    return;
  }
  const entry *e = map_find(&v->values, val);
  bool crossed;
  if (!e)
    report(v, n, "operand %d of %s is not defined in this graph", i, op_name(n));
  else if (!e->defined)
    report(v, n, "%s is used before its definition", vname(v, val));
  else if (!visible(e->block, b, &crossed))
    report(v, n,
           crossed ? "%s is defined outside the fusion body that uses it"
                   : "%s is used outside the block that defines it",
           vname(v, val));
  /* the use must be on the value's use list */
  bool found = false;
  long steps = 0;
  for (const ct_use *w = val->uses; w && steps <= v->n_operands; w = w->next, steps++)
    if (w == u) found = true;
  if (!found || u->user != n || u->index != i)
    report(v, n, "operand %d of %s (%s) is missing from its use list", i, op_name(n),
           vname(v, val));
}

/* Every use on a value's list is an operand of a node of this graph that reads the value. */
static void check_uses(verifier *v, const ct_node *n, const ct_value *val) {
  long steps = 0;
  const ct_use *prev = NULL;
  for (const ct_use *u = val->uses; u; prev = u, u = u->next) {
    if (++steps > v->n_operands) {
      report(v, n, "use list of %s is cyclic", vname(v, val));
      return;
    }
    bool ok = u->value == val && u->prev == prev && u->user && map_find(&v->nodes, u->user) &&
              u->index >= 0 && u->index < u->user->n_operands &&
              &u->user->operands[u->index] == u;
    if (!ok) {
      report(v, n, "use list of %s holds a use that is not one of its operands", vname(v, val));
      return;
    }
  }
}

static void check_counts(verifier *v, const ct_node *n, bool *ok) {
  const ct_op_info *info = &ct_op_table[n->op];
  if (n->n_operands < info->min_in || (info->max_in >= 0 && n->n_operands > info->max_in)) {
    *ok = false;
    if (info->min_in == info->max_in)
      report(v, n, "%s has %d operands, expected %d", op_name(n), n->n_operands, info->min_in);
    else if (info->max_in < 0)
      report(v, n, "%s has %d operands, expected at least %d", op_name(n), n->n_operands,
             info->min_in);
    else
      report(v, n, "%s has %d operands, expected %d to %d", op_name(n), n->n_operands,
             info->min_in, info->max_in);
  }
  if (info->n_out >= 0 && n->n_results != info->n_out) {
    *ok = false;
    report(v, n, "%s has %d results, expected %d", op_name(n), n->n_results, info->n_out);
  }
}

static void check_attrs(verifier *v, const ct_node *n, bool *ok) {
  int n_specs;
  const ct_attr_spec *specs = ct_op_attr_specs(n->op, &n_specs);
  for (int s = 0; s < n_specs; s++)
    if (!specs[s].has_default && !ct_node_attr(n, specs[s].name)) {
      *ok = false;
      report(v, n, "%s is missing attribute '%s'", op_name(n), specs[s].name);
    }
  for (int i = 0; i < n->n_attrs; i++) {
    const ct_attr *a = &n->attrs[i];
    const char *name = a->name ? a->name : "";
    int s = ct_op_attr_index(n->op, name);
    if (s < 0) {
      *ok = false;
      report(v, n, "%s has unknown attribute '%s'", op_name(n), name);
      continue;
    }
    if (a->kind != specs[s].kind) {
      *ok = false;
      report(v, n, "attribute '%s' of %s must be %s, got %s", name, op_name(n),
             kind_name(specs[s].kind), kind_name(a->kind));
    }
    for (int j = 0; j < i; j++)
      if (n->attrs[j].name && strcmp(n->attrs[j].name, name) == 0) {
        *ok = false;
        report(v, n, "%s has attribute '%s' twice", op_name(n), name);
        break;
      }
  }
}

/* A fusion's kind promises the code generator a body shape (docs/ir.md, "Fusion"):
 * "elementwise": elementwise ops and constants; "reduction": those, then one reduction whose
 * result only the return reads; "epilogue": a linear, matmul or conv2d first, then elementwise
 * ops and constants. */
static bool fusion_elementwise(const ct_node *k) {
  return ct_op_table[k->op].cls == CT_OPC_ELEMENTWISE || k->op == CT_OP_CONSTANT;
}

static void check_fusion_kind(verifier *v, const ct_node *n) {
  const ct_attr *a = ct_node_attr(n, "kind");
  const char *kind = a && a->kind == CT_ATTR_STR ? a->u.s : "elementwise";
  bool ew = strcmp(kind, "elementwise") == 0, red = strcmp(kind, "reduction") == 0;
  bool epi = strcmp(kind, "epilogue") == 0;
  if (!ew && !red && !epi) {
    report(v, n, "fusion kind \"%s\" is not one of \"elementwise\", \"reduction\", \"epilogue\"",
           kind);
    return;
  }
  int reductions = 0;
  for (const ct_node *k = n->body->first; k && k->op != CT_OP_RETURN; k = k->next) {
    if (epi && k == n->body->first) {
      if (k->op != CT_OP_LINEAR && k->op != CT_OP_MATMUL && k->op != CT_OP_CONV2D)
        report(v, n, "an epilogue fusion's body must start with linear, matmul or conv2d, not %s",
               ct_op_name(k->op));
      continue;
    }
    if (red && ct_fusion_reduction_op(k->op)) {
      if (++reductions > 1) report(v, n, "%s", "a reduction fusion holds more than one reduction");
      for (const ct_use *u = k->n_results ? k->results[0]->uses : NULL; u; u = u->next)
        if (u->user->op != CT_OP_RETURN)
          report(v, n, "in a reduction fusion, %s reads the result of %s", ct_op_name(u->user->op),
                 ct_op_name(k->op));
      continue;
    }
    if (!fusion_elementwise(k))
      report(v, n, "%s in a fusion of kind \"%s\" (only elementwise ops and constants%s)",
             ct_op_name(k->op), kind, red ? ", and one reduction" : "");
  }
  if (red && reductions == 0) report(v, n, "%s", "a reduction fusion holds no reduction");
}

/* Result types against the op's shape rule (or, for fusion, against its body). */
static void check_types(verifier *v, const ct_node *n) {
  char b1[256], b2[256];
  if (n->op == CT_OP_FUSION) {
    const ct_block *body = n->body;
    if (body->n_params != n->n_operands) {
      report(v, n, "fusion body has %d parameters for %d operands", body->n_params,
             n->n_operands);
    } else {
      for (int i = 0; i < n->n_operands; i++) {
        const ct_value *p = body->params[i], *x = ct_node_operand(n, i);
        if (p && x && !ct_type_eq(&p->type, &x->type))
          report(v, n, "fusion body parameter %s has type %s, but operand %s has type %s",
                 vname(v, p), tname(v, &p->type, b1, sizeof b1), vname(v, x),
                 tname(v, &x->type, b2, sizeof b2));
      }
    }
    const ct_node *ret = body->last;
    if (!ret || ret->op != CT_OP_RETURN) return; /* reported with the body's terminator */
    if (ret->n_operands != n->n_results) {
      report(v, n, "fusion has %d results, its body returns %d", n->n_results, ret->n_operands);
      return;
    }
    for (int i = 0; i < n->n_results; i++) {
      const ct_value *r = n->results[i], *x = ct_node_operand(ret, i);
      if (x && !ct_type_eq(&r->type, &x->type))
        report(v, n, "fusion result %s has type %s, but its body returns %s of type %s",
               vname(v, r), tname(v, &r->type, b1, sizeof b1), vname(v, x),
               tname(v, &x->type, b2, sizeof b2));
    }
    check_fusion_kind(v, n);
    return;
  }
  ct_type stack_in[16], *in = stack_in;
  if (n->n_operands > 16) in = malloc((size_t)n->n_operands * sizeof *in);
  if (!in) abort();
  for (int i = 0; i < n->n_operands; i++) {
    const ct_value *x = ct_node_operand(n, i);
    if (!x) goto done;
    in[i] = x->type;
  }
  ct_type out[8];
  int n_out = 0;
  ct_diag rule_diag;
  ct_diag_init(&rule_diag);
  ct_status st = ct_infer_types((ct_module *)v->m, n->op, n->n_operands, in, n->attrs,
                                n->n_attrs, out, 8, &n_out, &rule_diag, n->loc);
  if (st != CT_OK) {
    report(v, n, "%s", ct_diag_first_error(&rule_diag));
  } else if (n_out != n->n_results) {
    report(v, n, "%s has %d results, its shape rule gives %d", op_name(n), n->n_results, n_out);
  } else {
    for (int i = 0; i < n_out; i++)
      if (!ct_type_eq(&n->results[i]->type, &out[i]))
        report(v, n, "%s has type %s, but %s gives %s", vname(v, n->results[i]),
               tname(v, &n->results[i]->type, b1, sizeof b1), op_name(n),
               tname(v, &out[i], b2, sizeof b2));
  }
  ct_diag_free(&rule_diag);
done:
  if (in != stack_in) free(in);
}

static void verify_block(verifier *v, const ct_block *b);

static void verify_node(verifier *v, const ct_node *n, const ct_block *b) {
  if ((unsigned)n->op >= CT_OP_COUNT) {
    report(v, n, "node with unknown op %d", (int)n->op);
    return;
  }
  if (n->parent != b) report(v, n, "%s is not linked to the block holding it", op_name(n));
  bool ok = true;
  check_counts(v, n, &ok);
  for (int i = 0; i < n->n_operands; i++) {
    check_operand(v, n, b, i);
    if (!ct_node_operand(n, i)) ok = false;
  }
  check_attrs(v, n, &ok);
  bool wants_body = (ct_op_table[n->op].flags & CT_OPF_BODY) != 0;
  if (wants_body && !n->body) {
    report(v, n, "%s has no body", op_name(n));
    ok = false;
  } else if (!wants_body && n->body) {
    report(v, n, "%s cannot have a body", op_name(n));
    ok = false;
  }
  for (int i = 0; i < n->n_results; i++) {
    if (!n->results[i] || n->results[i]->def != n || n->results[i]->index != i) {
      report(v, n, "result %d of %s does not point back to its node", i, op_name(n));
      ok = false;
    }
    if (!n->results[i]) continue;
    check_uses(v, n, n->results[i]);
  }
  if (n->body) {
    for (int i = 0; i < n->body->n_params; i++) {
      const ct_value *p = n->body->params[i];
      entry *e = map_find(&v->values, p);
      if (e) e->defined = true;
      if (p) check_uses(v, n, p);
    }
    verify_block(v, n->body);
  }
  if (ok) check_types(v, n);
  /* results become visible after the node (and its body) */
  for (int i = 0; i < n->n_results; i++) {
    entry *e = map_find(&v->values, n->results[i]);
    if (e) e->defined = true;
  }
}

static void verify_block(verifier *v, const ct_block *b) {
  const char *what = b->parent_node ? "fusion body" : "graph body";
  for (const ct_node *n = b->first; n; n = n->next) {
    verify_node(v, n, b);
    if (n->op == CT_OP_RETURN && n->next)
      report(v, n, "return is not the last node of the %s", what);
  }
  if (!b->last || b->last->op != CT_OP_RETURN)
    report(v, b->last ? b->last : b->parent_node, "the %s does not end with return", what);
}

ct_status ct_graph_verify(const ct_graph *g, ct_diag *diag) {
  verifier vv;
  memset(&vv, 0, sizeof vv);
  verifier *v = &vv;
  v->g = g;
  v->m = g->module;
  v->diag = diag;
  const ct_block *body = g->body;
  for (int i = 0; i < body->n_params; i++) {
    const ct_value *p = body->params[i];
    add_value(v, p, body, p && !p->name);
    if (p) map_find(&v->values, p)->defined = true;
  }
  number_block(v, body);

  for (int i = 0; i < body->n_params; i++) {
    const ct_value *p = body->params[i];
    if (!p) {
      report(v, NULL, "graph input %d is null", i);
      continue;
    }
    if (!p->name) continue;
    for (int j = 0; j < i; j++)
      if (body->params[j] && body->params[j]->name && strcmp(body->params[j]->name, p->name) == 0) {
        report(v, NULL, "graph input %%%s is declared twice", p->name);
        break;
      }
    const ct_param *param = v->m ? ct_module_find_param(v->m, p->name) : NULL;
    if (param && !ct_type_eq(&param->type, &p->type)) {
      char b1[256], b2[256];
      report(v, NULL, "graph input %%%s has type %s, but parameter %s is %s", p->name,
             tname(v, &p->type, b1, sizeof b1), param->name,
             tname(v, &param->type, b2, sizeof b2));
    }
    check_uses(v, NULL, p);
  }
  verify_block(v, body);
  free(v->values.items);
  free(v->nodes.items);
  return v->n_errors ? CT_ERR_INVALID : CT_OK;
}

ct_status ct_module_verify(const ct_module *m, ct_diag *diag) {
  ct_status st = CT_OK;
  for (int i = 0; i < m->n_graphs; i++) {
    const ct_graph *g = m->graphs[i];
    for (int j = 0; j < i; j++)
      if (strcmp(m->graphs[j]->name, g->name) == 0) {
        ct_diag_error(diag, NULL, 0, 0, "@%s is defined twice", g->name);
        st = CT_ERR_INVALID;
        break;
      }
    if (ct_graph_verify(g, diag) != CT_OK) st = CT_ERR_INVALID;
  }
  return st;
}
