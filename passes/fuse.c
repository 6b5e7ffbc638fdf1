/* passes/fuse.c: groups nodes of each graph body into `fusion` nodes whose nested block the
 * code generator turns into one loop nest (docs/ir.md, "Fusion"). Three kinds:
 *   elementwise  a chain of elementwise ops over one iteration domain (the shape every member's
 *                result has; operands may broadcast up to it);
 *   reduction    such a chain ending in one reduction over the domain (sum, mean, amax, amin,
 *                softmax, log_softmax): nothing of the group reads the reduction's result;
 *   epilogue     a GEMM or convolution (linear, matmul, conv2d) first, then elementwise ops
 *                over its result's shape (bias add, activation, residual add).
 * The cost rule: a node is moved into a group, never copied, so no work is duplicated; the
 * only nodes copied into bodies are splat constants, which cost nothing. A member's result
 * must have the domain's shape, so a smaller value computed once (a [C] scale) is never
 * recomputed per element of the larger domain; it enters as an operand instead. A value of a
 * group that a later node outside the group reads becomes one of the fusion's results.
 * Dependences: nodes are visited in order and a node joins a group only when no node already
 * visited outside the group reads a value of the group; the fusion then takes the place of its
 * last member, before which all its operands are defined and after which all its readers run.
 * A group of one node (or an epilogue without an elementwise op) stays as it is. */
#include <stdlib.h>
#include <string.h>

#include "passes_internal.h"

typedef enum kind { K_ELEMENTWISE, K_REDUCTION, K_EPILOGUE } kind;
static const char *const kind_names[] = {"elementwise", "reduction", "epilogue"};

typedef struct group {
  kind kind;
  int n_members;
  int first_member; /* head of the member list (indices into the node array, next in link) */
  int last_member;
  ct_type domain;
  bool closed; /* a reduction ended it */
  int forward; /* merged into another group: its index, else -1 */
} group;

typedef struct fuser {
  ct_module *m;
  ct_block *b;
  ct_node **nodes;
  int n;
  int *group_of; /* per node: group index or -1 */
  int *link;     /* per node: next member of its group, -1 at the end */
  group *groups;
  int n_groups;
  int made;
} fuser;

static int resolve(fuser *f, int gi) {
  while (gi >= 0 && f->groups[gi].forward >= 0)
    gi = f->groups[gi].forward;
  return gi;
}

static int group_of_value(fuser *f, const ct_value *v) {
  if (!v->def || v->def->parent != f->b) return -1;
  return resolve(f, f->group_of[v->def->id]);
}

static bool same_shape(const ct_type *a, const ct_type *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (!ct_dim_eq(a->dims[i], b->dims[i])) return false;
  return true;
}

static bool is_elementwise(const ct_node *n) {
  return ct_op_table[n->op].cls == CT_OPC_ELEMENTWISE && n->n_results == 1;
}

static bool is_anchor(const ct_node *n) {
  return n->op == CT_OP_LINEAR || n->op == CT_OP_MATMUL || n->op == CT_OP_CONV2D;
}

/* No node before index `at` outside group gi reads a value of gi. */
static bool no_early_readers(fuser *f, int gi, int at) {
  for (int k = f->groups[gi].first_member; k >= 0; k = f->link[k]) {
    const ct_node *n = f->nodes[k];
    for (int r = 0; r < n->n_results; r++)
      for (const ct_use *u = n->results[r]->uses; u; u = u->next) {
        const ct_node *user = u->user;
        if (user->parent != f->b || user->op == CT_OP_RETURN) continue;
        if (user->id < at && resolve(f, f->group_of[user->id]) != gi) return false;
      }
  }
  return true;
}

static int new_group(fuser *f, int node, kind k, const ct_type *domain) {
  group *g = &f->groups[f->n_groups];
  g->kind = k;
  g->n_members = 1;
  g->first_member = g->last_member = node;
  g->domain = *domain;
  g->closed = false;
  g->forward = -1;
  f->group_of[node] = f->n_groups;
  f->link[node] = -1;
  return f->n_groups++;
}

static void add_member(fuser *f, int gi, int node) {
  group *g = &f->groups[gi];
  f->link[g->last_member] = node;
  f->link[node] = -1;
  g->last_member = node;
  g->n_members++;
  f->group_of[node] = gi;
}

/* Merges group from into group into (members keep node order: every member of both precedes
 * the node being added, so a merge sort of the two lists suffices). */
static void merge_into(fuser *f, int into, int from) {
  group *a = &f->groups[into], *b = &f->groups[from];
  int head = -1, tail = -1;
  int x = a->first_member, y = b->first_member;
  while (x >= 0 || y >= 0) {
    int pick;
    if (y < 0 || (x >= 0 && x < y)) {
      pick = x;
      x = f->link[x];
    } else {
      pick = y;
      y = f->link[y];
    }
    if (tail < 0)
      head = pick;
    else
      f->link[tail] = pick;
    tail = pick;
    f->group_of[pick] = into;
  }
  f->link[tail] = -1;
  a->first_member = head;
  a->last_member = tail;
  a->n_members += b->n_members;
  if (b->kind == K_EPILOGUE) a->kind = K_EPILOGUE;
  b->forward = into;
}

static void visit(fuser *f, int i) {
  ct_node *n = f->nodes[i];
  f->group_of[i] = -1;
  f->link[i] = -1;
  if (is_anchor(n) && n->n_results == 1) {
    new_group(f, i, K_EPILOGUE, &n->results[0]->type);
    return;
  }
  if (ct_fusion_reduction_op(n->op)) {
    int gi = group_of_value(f, ct_node_operand(n, 0));
    group *g = gi >= 0 ? &f->groups[gi] : NULL;
    if (g && !g->closed && g->kind == K_ELEMENTWISE &&
        same_shape(&g->domain, &ct_node_operand(n, 0)->type) && no_early_readers(f, gi, i)) {
      add_member(f, gi, i);
      g->kind = K_REDUCTION;
      g->closed = true;
    }
    return;
  }
  if (!is_elementwise(n)) return;
  const ct_type *domain = &n->results[0]->type;
  int target = -1;
  bool have_epilogue = false;
  for (int k = 0; k < n->n_operands; k++) {
    int gi = group_of_value(f, ct_node_operand(n, k));
    if (gi < 0 || gi == target) continue;
    group *g = &f->groups[gi];
    if (g->closed || !same_shape(&g->domain, domain) || !no_early_readers(f, gi, i)) continue;
    if (g->kind == K_EPILOGUE && have_epilogue) continue; /* one GEMM per group */
    have_epilogue |= g->kind == K_EPILOGUE;
    if (target < 0)
      target = gi;
    else if (g->kind == K_EPILOGUE) {
      merge_into(f, gi, target);
      target = gi;
    } else
      merge_into(f, target, gi);
  }
  if (target >= 0)
    add_member(f, target, i);
  else
    new_group(f, i, K_ELEMENTWISE, domain);
}

static bool in_group(fuser *f, const ct_node *n, int gi) {
  return n->parent == f->b && n->op != CT_OP_RETURN && resolve(f, f->group_of[n->id]) == gi;
}

/* Rewrites group gi into one fusion node. */
static void materialize(fuser *f, int gi) {
  group *g = &f->groups[gi];
  ct_module *m = f->m;
  int cap = 8;
  for (int k = g->first_member; k >= 0; k = f->link[k])
    cap += f->nodes[k]->n_operands + f->nodes[k]->n_results;
  ct_value **ins = malloc((size_t)cap * sizeof *ins);
  ct_value **outs = malloc((size_t)cap * sizeof *outs);
  ct_value **consts = malloc((size_t)cap * sizeof *consts); /* originals and body copies */
  ct_value **copies = malloc((size_t)cap * sizeof *copies);
  ct_type *types = malloc((size_t)cap * sizeof *types);
  if (!ins || !outs || !consts || !copies || !types) goto out;
  int n_in = 0, n_out = 0, n_const = 0;
  for (int k = g->first_member; k >= 0; k = f->link[k]) {
    ct_node *n = f->nodes[k];
    for (int j = 0; j < n->n_operands; j++) {
      ct_value *v = ct_node_operand(n, j);
      if (v->def && in_group(f, v->def, gi)) continue;
      bool seen = false;
      if (v->def && pass_is_splat(v->def)) {
        for (int c = 0; c < n_const && !seen; c++)
          seen = consts[c] == v;
        if (!seen) consts[n_const++] = v;
        continue;
      }
      for (int c = 0; c < n_in && !seen; c++)
        seen = ins[c] == v;
      if (!seen) ins[n_in++] = v;
    }
    for (int r = 0; r < n->n_results; r++) {
      bool outside = false;
      for (const ct_use *u = n->results[r]->uses; u && !outside; u = u->next)
        outside = !in_group(f, u->user, gi);
      if (outside) {
        types[n_out] = n->results[r]->type;
        outs[n_out++] = n->results[r];
      }
    }
  }
  ct_node *last = f->nodes[g->last_member];
  ct_attr kind_attr = ct_attr_str("kind", kind_names[g->kind]);
  ct_node *fusion = ct_node_new(m, CT_OP_FUSION, n_in, ins, n_out, types, &kind_attr, 1, last->loc);
  ct_node_normalize_attrs(m, fusion);
  ct_block *body = ct_block_new(m, f->b->graph);
  body->parent_node = fusion;
  fusion->body = body;
  ct_value **params = malloc((size_t)(n_in ? n_in : 1) * sizeof *params);
  if (!params) goto out;
  for (int c = 0; c < n_in; c++)
    params[c] = ct_block_add_param(m, body, NULL, ins[c]->type);
  ct_block_insert_before(f->b, last, fusion);
  for (int c = 0; c < n_const; c++) {
    const ct_node *src = consts[c]->def;
    ct_node *copy = ct_node_new(m, CT_OP_CONSTANT, 0, NULL, 1, &consts[c]->type, src->attrs,
                                src->n_attrs, src->loc);
    copies[c] = copy->results[0];
  }
  for (int k = g->first_member; k >= 0; k = f->link[k]) {
    ct_node *n = f->nodes[k];
    ct_node_unlink(n);
    ct_block_append(body, n);
    for (int j = 0; j < n->n_operands; j++) {
      ct_value *v = ct_node_operand(n, j);
      if (v->def && v->def->parent == body) continue;
      for (int c = 0; c < n_in; c++)
        if (ins[c] == v) ct_node_set_operand(n, j, params[c]);
      for (int c = 0; c < n_const; c++)
        if (consts[c] == v) ct_node_set_operand(n, j, copies[c]);
    }
  }
  /* The constants go first, or right after an epilogue's GEMM (which must open the body). */
  ct_node *at = g->kind == K_EPILOGUE ? body->first->next : body->first;
  for (int c = 0; c < n_const; c++)
    ct_block_insert_before(body, at, copies[c]->def);
  /* Readers outside the body now read the fusion's results. */
  for (int r = 0; r < n_out; r++) {
    for (ct_use *u = outs[r]->uses, *next; u; u = next) {
      next = u->next;
      if (u->user->parent != body) ct_node_set_operand(u->user, u->index, fusion->results[r]);
    }
  }
  ct_node *ret = ct_node_new(m, CT_OP_RETURN, n_out, outs, 0, NULL, NULL, 0, last->loc);
  ct_block_append(body, ret);
  for (int c = 0; c < n_const; c++)
    if (!consts[c]->uses) ct_node_erase(consts[c]->def);
  free(params);
  f->made++;
out:
  free(ins);
  free(outs);
  free(consts);
  free(copies);
  free(types);
}

static int fuse_block(ct_module *m, ct_block *b) {
  fuser f = {0};
  f.m = m;
  f.b = b;
  for (ct_node *n = b->first; n; n = n->next)
    if (n->op != CT_OP_RETURN) f.n++;
  if (f.n == 0) return 0;
  f.nodes = malloc((size_t)f.n * sizeof *f.nodes);
  f.group_of = malloc((size_t)f.n * sizeof *f.group_of);
  f.link = malloc((size_t)f.n * sizeof *f.link);
  f.groups = malloc((size_t)f.n * sizeof *f.groups);
  if (f.nodes && f.group_of && f.link && f.groups) {
    int i = 0;
    for (ct_node *n = b->first; n; n = n->next) {
      n->id = n->op == CT_OP_RETURN ? f.n : i;
      if (n->op != CT_OP_RETURN) f.nodes[i++] = n;
    }
    for (i = 0; i < f.n; i++)
      visit(&f, i);
    for (int gi = 0; gi < f.n_groups; gi++) {
      group *g = &f.groups[gi];
      if (g->forward >= 0 || g->n_members < 2) continue;
      materialize(&f, gi);
    }
  }
  free(f.nodes);
  free(f.group_of);
  free(f.link);
  free(f.groups);
  return f.made;
}

ct_status ct_pass_fuse(ct_module *m, const ct_pass_args *args, ct_diag *diag) {
  (void)args;
  (void)diag;
  for (int i = 0; i < m->n_graphs; i++)
    fuse_block(m, m->graphs[i]->body);
  return CT_OK;
}
