/* tests/unit/test_verify.c: the IR verifier. Graphs are built by hand with ct_node_new (no
 * builder, no checking) so that each breaks one rule; the exact messages are asserted, and a
 * valid graph passes. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "testlib.h"

static ct_module *M;
static int32_t N;

static ct_type f32(int rank, ...) {
  va_list ap;
  va_start(ap, rank);
  ct_dim dims[CT_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    int v = va_arg(ap, int);
    dims[i] = v < 0 ? ct_dim_sym(N) : ct_dim_const(v); /* -1 stands for N */
  }
  va_end(ap);
  return ct_type_make(CT_DT_F32, rank, dims);
}

static ct_loc at(int line) {
  ct_loc loc = {"g.ctir", line, 3};
  return loc;
}

static ct_node *node(ct_block *b, ct_op op, int n_in, ct_value *const *in, int n_out,
                     const ct_type *types, const ct_attr *attrs, int n_attrs, int line) {
  ct_node *n = ct_node_new(M, op, n_in, in, n_out, types, attrs, n_attrs, at(line));
  ct_block_append(b, n);
  return n;
}

static ct_value *unary(ct_block *b, ct_op op, ct_value *x, int line) {
  return node(b, op, 1, &x, 1, &x->type, NULL, 0, line)->results[0];
}

static void ret(ct_block *b, int n, ct_value *const *vals, int line) {
  node(b, CT_OP_RETURN, n, vals, 0, NULL, NULL, 0, line);
}

static ct_graph *setup(void) {
  ct_module_free(M);
  M = ct_module_new();
  N = ct_module_sym(M, "N", 1);
  return ct_module_add_graph(M, "forward");
}

/* Verifies the module; returns every message as "line: text" lines. */
static const char *verify(void) {
  static char buf[8192];
  ct_diag diag;
  ct_diag_init(&diag);
  ct_status st = ct_module_verify(M, &diag);
  buf[0] = 0;
  size_t used = 0;
  for (int i = 0; i < diag.n; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%d: %s", i ? "\n" : "",
                             diag.items[i].line, diag.items[i].msg);
  int n = diag.n;
  CHECK((st == CT_OK) == (n == 0));
  ct_diag_free(&diag);
  return n ? buf : "ok";
}

static void test_valid(void) {
  ct_graph *g = setup();
  ct_module_add_param(M, "fc.weight", f32(2, 4, 8), CT_PARAM_WEIGHT, NULL);
  ct_value *x = ct_graph_add_input(g, "x", f32(2, -1, 8));
  ct_value *w = ct_graph_add_input(g, "fc.weight", f32(2, 4, 8));
  ct_type y_t = f32(2, -1, 4);
  ct_value *lin_in[2] = {x, w};
  ct_value *y = node(g->body, CT_OP_LINEAR, 2, lin_in, 1, &y_t, NULL, 0, 2)->results[0];
  ct_attr dim = ct_attr_int("dim", -1);
  ct_value *s = node(g->body, CT_OP_SOFTMAX, 1, &y, 1, &y_t, &dim, 1, 3)->results[0];
  ct_attr kind = ct_attr_str("kind", "elementwise");
  ct_value *fin[2] = {y, s};
  ct_node *f = node(g->body, CT_OP_FUSION, 2, fin, 1, &y_t, &kind, 1, 4);
  f->body = ct_block_new(M, g);
  f->body->parent_node = f;
  ct_value *p0 = ct_block_add_param(M, f->body, NULL, y_t);
  ct_value *p1 = ct_block_add_param(M, f->body, NULL, y_t);
  ct_value *add_in[2] = {p0, p1};
  ct_value *a = node(f->body, CT_OP_ADD, 2, add_in, 1, &y_t, NULL, 0, 5)->results[0];
  ret(f->body, 1, &a, 6);
  ret(g->body, 1, &f->results[0], 7);
  CHECK_STR_EQ(verify(), "ok");

  /* the same through the builder, with symbolic flatten */
  ct_graph *g2 = ct_module_add_graph(M, "flat");
  ct_value *img = ct_graph_add_input(g2, "img", ct_type_make(CT_DT_F32, 4,
                                                             (ct_dim[]){ct_dim_sym(N), ct_dim_const(16),
                                                                        ct_dim_const(5), ct_dim_const(5)}));
  ct_builder b = ct_builder_at_end(M, g2->body, NULL);
  ct_value *r = ct_build_reshape(&b, img, 2, (ct_dim[]){ct_dim_sym(N), ct_dim_const(400)});
  ct_value *e = ct_build_unary(&b, CT_OP_RELU, r);
  ct_build_return(&b, 1, &e);
  CHECK_STR_EQ(verify(), "ok");
}

static void test_dominance(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(1, -1));
  ct_type t = f32(1, -1);
  /* %1 = relu(%0) comes before %0 = neg(x) */
  ct_node *late = ct_node_new(M, CT_OP_NEG, 1, &x, 1, &t, NULL, 0, at(3));
  ct_value *a = late->results[0];
  ct_value *b = unary(g->body, CT_OP_RELU, a, 2);
  ct_block_append(g->body, late);
  ret(g->body, 1, &b, 4);
  CHECK_STR_EQ(verify(), "2: @forward: %1 is used before its definition");
}

static void test_fusion_isolation(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(1, -1));
  ct_type t = f32(1, -1);
  ct_attr kind = ct_attr_str("kind", "elementwise");
  ct_node *f = node(g->body, CT_OP_FUSION, 1, &x, 1, &t, &kind, 1, 2);
  f->body = ct_block_new(M, g);
  f->body->parent_node = f;
  ct_value *p = ct_block_add_param(M, f->body, NULL, t);
  ct_value *in[2] = {p, x}; /* x is from outside the isolated body */
  ct_value *s = node(f->body, CT_OP_ADD, 2, in, 1, &t, NULL, 0, 3)->results[0];
  ret(f->body, 1, &s, 4);
  /* %2 (the body's add) used outside the body */
  ct_value *bad = unary(g->body, CT_OP_NEG, s, 5);
  ret(g->body, 1, &bad, 6);
  CHECK_STR_EQ(verify(),
               "3: @forward: %x is defined outside the fusion body that uses it\n"
               "5: @forward: %2 is used outside the block that defines it");
}

static void test_counts_and_types(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(2, -1, 3));
  ct_value *y = ct_graph_add_input(g, NULL, f32(1, 4));
  ct_value *two[2] = {x, x};
  ct_type t = x->type, t4 = f32(2, -1, 4);
  node(g->body, CT_OP_RELU, 2, two, 1, &t, NULL, 0, 2);            /* %1: two operands */
  ct_type tt[2] = {t, t};
  node(g->body, CT_OP_ADD, 2, two, 2, tt, NULL, 0, 3);             /* %2, %3: two results */
  node(g->body, CT_OP_ADD, 2, two, 1, &t4, NULL, 0, 4);            /* %4: wrong type */
  ct_value *xy[2] = {x, y};
  node(g->body, CT_OP_ADD, 2, xy, 1, &t, NULL, 0, 5);              /* %5: cannot broadcast */
  ret(g->body, 1, &x, 6);
  CHECK_STR_EQ(verify(),
               "2: @forward: relu has 2 operands, expected 1\n"
               "3: @forward: add has 2 results, expected 1\n"
               "4: @forward: %4 has type f32[N,4], but add gives f32[N,3]\n"
               "5: @forward: add: cannot broadcast f32[N,3] with f32[4]");
}

static void test_attrs(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(2, -1, 3));
  ct_type t = x->type;
  node(g->body, CT_OP_SOFTMAX, 1, &x, 1, &t, NULL, 0, 2);
  ct_attr bad_kind = ct_attr_float("dim", 1.0);
  node(g->body, CT_OP_SOFTMAX, 1, &x, 1, &t, &bad_kind, 1, 3);
  ct_attr extra[2] = {ct_attr_int("dim", 1), ct_attr_int("axis", 1)};
  node(g->body, CT_OP_SOFTMAX, 1, &x, 1, &t, extra, 2, 4);
  ct_attr twice[2] = {ct_attr_int("dim", 1), ct_attr_int("dim", 0)};
  node(g->body, CT_OP_SOFTMAX, 1, &x, 1, &t, twice, 2, 5);
  ct_attr good = ct_attr_int("dim", 1);
  node(g->body, CT_OP_SOFTMAX, 1, &x, 1, &t, &good, 1, 6);
  ret(g->body, 1, &x, 7);
  CHECK_STR_EQ(verify(),
               "2: @forward: softmax is missing attribute 'dim'\n"
               "3: @forward: attribute 'dim' of softmax must be int, got float\n"
               "4: @forward: softmax has unknown attribute 'axis'\n"
               "5: @forward: softmax has attribute 'dim' twice");
}

static void test_use_lists(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(1, 3));
  ct_value *a = unary(g->body, CT_OP_RELU, x, 2);
  ct_value *b = unary(g->body, CT_OP_NEG, a, 3);
  ret(g->body, 1, &b, 4);
  CHECK_STR_EQ(verify(), "ok");
  /* drop relu's use from x's list, and leave a stale use on %0's list */
  x->uses = NULL;
  static ct_use stale;
  memset(&stale, 0, sizeof stale);
  stale.value = a;
  stale.user = b->def;
  stale.index = 5;
  stale.prev = a->uses;
  a->uses->next = &stale;
  CHECK_STR_EQ(verify(),
               "2: @forward: operand 0 of relu (%x) is missing from its use list\n"
               "2: @forward: use list of %0 holds a use that is not one of its operands");
}

static void test_terminators(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(1, 3));
  ret(g->body, 1, &x, 2);
  unary(g->body, CT_OP_RELU, x, 3);
  CHECK_STR_EQ(verify(),
               "2: @forward: return is not the last node of the graph body\n"
               "3: @forward: the graph body does not end with return");

  g = setup();
  x = ct_graph_add_input(g, "x", f32(1, 3));
  ct_type t = x->type;
  ct_attr kind = ct_attr_str("kind", "elementwise");
  ct_node *f = node(g->body, CT_OP_FUSION, 1, &x, 1, &t, &kind, 1, 2);
  f->body = ct_block_new(M, g);
  f->body->parent_node = f;
  ct_block_add_param(M, f->body, NULL, f32(1, 4));
  ret(g->body, 1, &f->results[0], 3);
  CHECK_STR_EQ(verify(),
               "2: @forward: the fusion body does not end with return\n"
               "2: @forward: fusion body parameter %1 has type f32[4], but operand %x has type "
               "f32[3]");

  g = setup();
  CHECK_STR_EQ(verify(), "0: @forward: the graph body does not end with return");
}

static void test_fusion_types(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(1, 3));
  ct_type t = x->type, t2[2] = {x->type, x->type};
  ct_attr kind = ct_attr_str("kind", "elementwise");
  ct_node *f = node(g->body, CT_OP_FUSION, 1, &x, 2, t2, &kind, 1, 2);
  f->body = ct_block_new(M, g);
  f->body->parent_node = f;
  ct_value *p = ct_block_add_param(M, f->body, NULL, t);
  ct_value *c = ct_build_scalar(&(ct_builder){M, f->body, NULL, {0}, NULL}, CT_DT_F32, 1.0);
  ct_value *r[2] = {p, c};
  ret(f->body, 2, r, 3);
  ret(g->body, 1, &f->results[0], 4);
  CHECK_STR_EQ(verify(),
               "2: @forward: fusion result %1 has type f32[3], but its body returns %3 of type "
               "f32[]");
}

static void test_graph_inputs(void) {
  ct_graph *g = setup();
  ct_module_add_param(M, "w", f32(2, 4, 8), CT_PARAM_WEIGHT, NULL);
  ct_value *x = ct_graph_add_input(g, "x", f32(1, 3));
  ct_graph_add_input(g, "x", f32(1, 3));
  ct_graph_add_input(g, "w", f32(2, 8, 4));
  ret(g->body, 1, &x, 2);
  CHECK_STR_EQ(verify(),
               "0: @forward: graph input %x is declared twice\n"
               "0: @forward: graph input %w has type f32[8,4], but parameter w is f32[4,8]");
  ct_diag diag;
  ct_diag_init(&diag);
  CHECK(ct_graph_verify(g, &diag) == CT_ERR_INVALID);
  CHECK_EQ_INT(diag.n_errors, 2);
  CHECK(diag.items[0].file == NULL && diag.items[0].line == 0);
  ct_diag_free(&diag);
}

static void test_locations(void) {
  ct_graph *g = setup();
  ct_value *x = ct_graph_add_input(g, "x", f32(1, 3));
  ct_value *y = unary(g->body, CT_OP_EXP, x, 2);
  y->type.dtype = CT_DT_F64;
  ret(g->body, 1, &y, 3);
  ct_diag diag;
  ct_diag_init(&diag);
  CHECK(ct_module_verify(M, &diag) != CT_OK);
  CHECK_EQ_INT(diag.n, 1);
  CHECK_STR_EQ(diag.items[0].file, "g.ctir");
  CHECK_EQ_INT(diag.items[0].line, 2);
  CHECK_EQ_INT(diag.items[0].col, 3);
  CHECK_STR_EQ(diag.items[0].msg, "@forward: %0 has type f64[3], but exp gives f32[3]");
  ct_diag_free(&diag);
}

int main(void) {
  RUN_TEST(test_valid);
  RUN_TEST(test_dominance);
  RUN_TEST(test_fusion_isolation);
  RUN_TEST(test_counts_and_types);
  RUN_TEST(test_attrs);
  RUN_TEST(test_use_lists);
  RUN_TEST(test_terminators);
  RUN_TEST(test_fusion_types);
  RUN_TEST(test_graph_inputs);
  RUN_TEST(test_locations);
  ct_module_free(M);
  return test_summary();
}
