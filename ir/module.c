/* ir/module.c: modules, graphs, blocks, nodes and use lists: creation, insertion, removal,
 * operand replacement and attributes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Grows an arena array of elem-sized items to hold at least need items. */
static void *grow(ct_arena *a, void *items, int n, int *cap, int need, size_t elem) {
  if (need <= *cap) return items;
  int c = *cap ? *cap * 2 : 4;
  while (c < need) c *= 2;
  void *r = ct_arena_alloc(a, (size_t)c * elem);
  if (n) memcpy(r, items, (size_t)n * elem);
  *cap = c;
  return r;
}

ct_module *ct_module_new(void) {
  ct_module *m = calloc(1, sizeof *m);
  if (!m) abort();
  m->arena = ct_arena_new();
  return m;
}

void ct_module_free(ct_module *m) {
  if (!m) return;
  for (int i = 0; i < m->n_params; i++) ct_tensor_release(m->params[i].init);
  ct_arena_free(m->arena);
  free(m);
}

int32_t ct_module_find_sym(const ct_module *m, const char *name, size_t len) {
  for (int i = 1; i <= m->n_syms; i++)
    if (strlen(m->syms[i]) == len && memcmp(m->syms[i], name, len) == 0) return i;
  return 0;
}

int32_t ct_module_sym(ct_module *m, const char *name, size_t len) {
  int32_t s = ct_module_find_sym(m, name, len);
  if (s) return s;
  /* syms[0] is unused so that ids start at 1 */
  m->syms = grow(m->arena, (void *)m->syms, m->syms ? m->n_syms + 1 : 0, &m->cap_syms,
                 m->n_syms + 2, sizeof *m->syms);
  m->syms[++m->n_syms] = ct_arena_strndup(m->arena, name, len);
  return m->n_syms;
}

ct_block *ct_block_new(ct_module *m, ct_graph *g) {
  ct_block *b = ct_arena_alloc(m->arena, sizeof *b);
  b->graph = g;
  return b;
}

ct_graph *ct_module_add_graph(ct_module *m, const char *name) {
  ct_graph *g = ct_arena_alloc(m->arena, sizeof *g);
  g->name = ct_arena_strdup(m->arena, name);
  g->module = m;
  g->body = ct_block_new(m, g);
  m->graphs = grow(m->arena, m->graphs, m->n_graphs, &m->cap_graphs, m->n_graphs + 1,
                   sizeof *m->graphs);
  m->graphs[m->n_graphs++] = g;
  return g;
}

ct_graph *ct_module_find_graph(const ct_module *m, const char *name) {
  for (int i = 0; i < m->n_graphs; i++)
    if (strcmp(m->graphs[i]->name, name) == 0) return m->graphs[i];
  return NULL;
}

void ct_module_remove_graph(ct_module *m, ct_graph *g) {
  for (int i = 0; i < m->n_graphs; i++)
    if (m->graphs[i] == g) {
      memmove(&m->graphs[i], &m->graphs[i + 1], (size_t)(m->n_graphs - i - 1) * sizeof *m->graphs);
      m->n_graphs--;
      return;
    }
}

int ct_module_add_param(ct_module *m, const char *name, ct_type type, ct_param_kind kind,
                        ct_tensor *init) {
  m->params = grow(m->arena, m->params, m->n_params, &m->cap_params, m->n_params + 1,
                   sizeof *m->params);
  ct_param *p = &m->params[m->n_params];
  p->name = ct_arena_strdup(m->arena, name);
  p->type = type;
  p->kind = kind;
  p->init = init;
  return m->n_params++;
}

ct_param *ct_module_find_param(const ct_module *m, const char *name) {
  for (int i = 0; i < m->n_params; i++)
    if (strcmp(m->params[i].name, name) == 0) return &m->params[i];
  return NULL;
}

ct_value *ct_block_add_param(ct_module *m, ct_block *b, const char *name, ct_type type) {
  b->params = grow(m->arena, b->params, b->n_params, &b->cap_params, b->n_params + 1,
                   sizeof *b->params);
  ct_value *v = ct_arena_alloc(m->arena, sizeof *v);
  v->type = type;
  v->block = b;
  v->index = b->n_params;
  v->name = name ? ct_arena_strdup(m->arena, name) : NULL;
  b->params[b->n_params++] = v;
  return v;
}

ct_value *ct_graph_add_input(ct_graph *g, const char *name, ct_type type) {
  return ct_block_add_param(g->module, g->body, name, type);
}

ct_value *ct_graph_find_input(const ct_graph *g, const char *name) {
  for (int i = 0; i < g->body->n_params; i++) {
    ct_value *v = g->body->params[i];
    if (v->name && strcmp(v->name, name) == 0) return v;
  }
  return NULL;
}

ct_node *ct_graph_return(const ct_graph *g) {
  ct_node *n = g->body->last;
  return n && n->op == CT_OP_RETURN ? n : NULL;
}

int ct_graph_num_results(const ct_graph *g) {
  ct_node *r = ct_graph_return(g);
  return r ? r->n_operands : 0;
}

ct_value *ct_graph_result(const ct_graph *g, int i) {
  ct_node *r = ct_graph_return(g);
  return r && i >= 0 && i < r->n_operands ? r->operands[i].value : NULL;
}

void ct_graph_set_result_name(ct_graph *g, int i, const char *name) {
  ct_module *m = g->module;
  if (i >= g->n_result_names) {
    int n = i + 1;
    const char **names = ct_arena_alloc(m->arena, (size_t)n * sizeof *names);
    if (g->n_result_names)
      memcpy(names, g->result_names, (size_t)g->n_result_names * sizeof *names);
    g->result_names = names;
    g->n_result_names = n;
  }
  g->result_names[i] = name ? ct_arena_strdup(m->arena, name) : NULL;
}

const char *ct_graph_result_name(const ct_graph *g, int i) {
  return i >= 0 && i < g->n_result_names ? g->result_names[i] : NULL;
}

/* ---- uses ---------------------------------------------------------------------------- */

static void use_link(ct_use *u, ct_value *v) {
  u->value = v;
  u->prev = NULL;
  u->next = v ? v->uses : NULL;
  if (v) {
    if (v->uses) v->uses->prev = u;
    v->uses = u;
  }
}

static void use_unlink(ct_use *u) {
  if (!u->value) return;
  if (u->prev)
    u->prev->next = u->next;
  else
    u->value->uses = u->next;
  if (u->next) u->next->prev = u->prev;
  u->value = NULL;
  u->prev = u->next = NULL;
}

void ct_node_set_operand(ct_node *n, int i, ct_value *v) {
  ct_use *u = &n->operands[i];
  use_unlink(u);
  use_link(u, v);
}

void ct_value_replace_uses(ct_value *from, ct_value *to) {
  if (from == to) return;
  while (from->uses) {
    ct_use *u = from->uses;
    use_unlink(u);
    use_link(u, to);
  }
}

int ct_value_num_uses(const ct_value *v) {
  int n = 0;
  for (const ct_use *u = v->uses; u; u = u->next) n++;
  return n;
}

/* ---- nodes --------------------------------------------------------------------------- */

static void copy_attr(ct_arena *a, ct_attr *dst, const ct_attr *src) {
  *dst = *src;
  dst->name = ct_arena_strdup(a, src->name);
  switch (src->kind) {
  case CT_ATTR_STR: dst->u.s = ct_arena_strdup(a, src->u.s ? src->u.s : ""); break;
  case CT_ATTR_INTS:
    dst->u.ints = ct_arena_memdup(a, src->u.ints, (size_t)src->n * sizeof(int64_t));
    break;
  case CT_ATTR_FLOATS:
    dst->u.floats = ct_arena_memdup(a, src->u.floats, (size_t)src->n * sizeof(double));
    break;
  case CT_ATTR_DIMS:
    dst->u.dims = ct_arena_memdup(a, src->u.dims, (size_t)src->n * sizeof(ct_dim));
    break;
  default: break;
  }
}

ct_node *ct_node_new(ct_module *m, ct_op op, int n_in, ct_value *const *in, int n_out,
                     const ct_type *out_types, const ct_attr *attrs, int n_attrs, ct_loc loc) {
  ct_node *n = ct_arena_alloc(m->arena, sizeof *n);
  n->op = op;
  n->loc = loc;
  n->n_operands = n_in;
  n->operands = ct_arena_alloc(m->arena, (size_t)(n_in ? n_in : 1) * sizeof *n->operands);
  for (int i = 0; i < n_in; i++) {
    n->operands[i].user = n;
    n->operands[i].index = i;
    use_link(&n->operands[i], in[i]);
  }
  n->n_results = n_out;
  n->results = ct_arena_alloc(m->arena, (size_t)(n_out ? n_out : 1) * sizeof *n->results);
  for (int i = 0; i < n_out; i++) {
    ct_value *v = ct_arena_alloc(m->arena, sizeof *v);
    v->type = out_types[i];
    v->def = n;
    v->index = i;
    n->results[i] = v;
  }
  n->n_attrs = n_attrs;
  n->attrs = ct_arena_alloc(m->arena, (size_t)(n_attrs ? n_attrs : 1) * sizeof *n->attrs);
  for (int i = 0; i < n_attrs; i++) copy_attr(m->arena, &n->attrs[i], &attrs[i]);
  return n;
}

void ct_block_insert_before(ct_block *b, ct_node *before, ct_node *n) {
  n->parent = b;
  if (!before) {
    n->prev = b->last;
    n->next = NULL;
    if (b->last)
      b->last->next = n;
    else
      b->first = n;
    b->last = n;
    return;
  }
  n->next = before;
  n->prev = before->prev;
  if (before->prev)
    before->prev->next = n;
  else
    b->first = n;
  before->prev = n;
}

void ct_block_append(ct_block *b, ct_node *n) { ct_block_insert_before(b, NULL, n); }

void ct_node_unlink(ct_node *n) {
  ct_block *b = n->parent;
  if (!b) return;
  if (n->prev)
    n->prev->next = n->next;
  else
    b->first = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    b->last = n->prev;
  n->prev = n->next = NULL;
  n->parent = NULL;
}

static void drop_uses_in_block(ct_block *b);

static void drop_operand_uses(ct_node *n) {
  for (int i = 0; i < n->n_operands; i++) use_unlink(&n->operands[i]);
  if (n->body) drop_uses_in_block(n->body);
}

static void drop_uses_in_block(ct_block *b) {
  for (ct_node *n = b->first; n; n = n->next) drop_operand_uses(n);
}

void ct_node_erase(ct_node *n) {
  ct_node_unlink(n);
  drop_operand_uses(n);
}

/* ---- attributes ---------------------------------------------------------------------- */

const ct_attr *ct_node_attr(const ct_node *n, const char *name) {
  return ct_attr_find(n->attrs, n->n_attrs, name);
}

int64_t ct_node_attr_int(const ct_node *n, const char *name, int64_t dflt) {
  return ct_attr_get_int(n->attrs, n->n_attrs, name, dflt);
}

double ct_node_attr_float(const ct_node *n, const char *name, double dflt) {
  return ct_attr_get_float(n->attrs, n->n_attrs, name, dflt);
}

static bool same_float(double a, double b, ct_attr_eq_mode mode) {
  return memcmp(&a, &b, sizeof a) == 0 || (mode == CT_ATTR_EQ_TEXT && isnan(a) && isnan(b));
}

bool ct_attr_eq(const ct_attr *a, const ct_attr *b, ct_attr_eq_mode mode) {
  if (a->kind != b->kind) return false;
  switch (a->kind) {
  case CT_ATTR_INT:
  case CT_ATTR_BOOL: return a->u.i == b->u.i;
  case CT_ATTR_FLOAT: return same_float(a->u.f, b->u.f, mode);
  case CT_ATTR_DTYPE: return a->u.dt == b->u.dt;
  case CT_ATTR_STR: return strcmp(a->u.s ? a->u.s : "", b->u.s ? b->u.s : "") == 0;
  case CT_ATTR_INTS:
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
      if (a->u.ints[i] != b->u.ints[i]) return false;
    return true;
  case CT_ATTR_FLOATS:
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
      if (!same_float(a->u.floats[i], b->u.floats[i], mode)) return false;
    return true;
  case CT_ATTR_DIMS:
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
      if (!ct_dim_eq(a->u.dims[i], b->u.dims[i])) return false;
    return true;
  }
  return false;
}

void ct_node_set_attr(ct_module *m, ct_node *n, ct_attr a) {
  for (int i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, a.name) == 0) {
      copy_attr(m->arena, &n->attrs[i], &a);
      return;
    }
  ct_attr *attrs = ct_arena_alloc(m->arena, (size_t)(n->n_attrs + 1) * sizeof *attrs);
  memcpy(attrs, n->attrs, (size_t)n->n_attrs * sizeof *attrs);
  copy_attr(m->arena, &attrs[n->n_attrs], &a);
  n->attrs = attrs;
  n->n_attrs++;
}

const char *ct_node_normalize_attrs(ct_module *m, ct_node *n) {
  int n_specs;
  const ct_attr_spec *specs = ct_op_attr_specs(n->op, &n_specs);
  ct_attr *sorted = ct_arena_alloc(m->arena, (size_t)(n_specs + n->n_attrs + 1) * sizeof *sorted);
  int k = 0;
  const char *missing = NULL;
  for (int s = 0; s < n_specs; s++) {
    const ct_attr *a = ct_node_attr(n, specs[s].name);
    if (a)
      sorted[k++] = *a;
    else if (specs[s].has_default)
      copy_attr(m->arena, &sorted[k++], &specs[s].dflt);
    else if (!missing)
      missing = specs[s].name;
  }
  /* attributes outside the schema stay, after the schema's, for the verifier to report */
  for (int i = 0; i < n->n_attrs; i++)
    if (ct_op_attr_index(n->op, n->attrs[i].name) < 0) sorted[k++] = n->attrs[i];
  n->attrs = sorted;
  n->n_attrs = k;
  return missing;
}
