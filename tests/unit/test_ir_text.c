/* tests/unit/test_ir_text.c: the IR text form: a module built with the API prints, parses back
 * and prints the same; every prefix of a valid file is rejected with a diagnostic, never a crash
 * (ASan runs this too); float attributes survive the round trip bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "testlib.h"

static ct_node *add_node(ct_module *m, ct_block *b, ct_op op, int n_in, ct_value *const *in,
                         int n_out, const ct_type *types, const ct_attr *attrs, int n_attrs) {
  ct_loc loc = {0};
  ct_node *n = ct_node_new(m, op, n_in, in, n_out, types, attrs, n_attrs, loc);
  ct_node_normalize_attrs(m, n);
  ct_block_append(b, n);
  return n;
}

/* A small module: symbolic batch, params with init specs, attributes of several kinds, a
 * two-result fusion with a body, named results. */
static ct_module *build_module(void) {
  ct_module *m = ct_module_new();
  m->name = ct_arena_strdup(m->arena, "unit");
  int32_t n_sym = ct_module_sym(m, "N", 1);
  ct_dim xd[2] = {ct_dim_sym(n_sym), ct_dim_const(8)};
  ct_dim n2d[1] = {{2, 1, n_sym}}; /* 2*N+1 */
  ct_type x_t = ct_type_make(CT_DT_F32, 2, xd);
  int64_t wshape[2] = {4, 8}, bshape[1] = {4};
  ct_type w_t = ct_type_concrete(CT_DT_F32, 2, wshape);
  ct_type b_t = ct_type_concrete(CT_DT_F32, 1, bshape);
  int wi = ct_module_add_param(m, "fc.weight", w_t, CT_PARAM_WEIGHT, NULL);
  m->params[wi].init_spec = ct_arena_strdup(m->arena, "uniform(-0.353553,0.353553)");
  ct_module_add_param(m, "fc.bias", b_t, CT_PARAM_WEIGHT, NULL);
  ct_module_add_param(m, "opt.step", ct_type_scalar(CT_DT_F32), CT_PARAM_STATE, NULL);

  ct_graph *g = ct_module_add_graph(m, "forward");
  ct_value *x = ct_graph_add_input(g, "x", x_t);
  ct_value *w = ct_graph_add_input(g, "fc.weight", w_t);
  ct_value *bias = ct_graph_add_input(g, "fc.bias", b_t);
  ct_dim yd[2] = {ct_dim_sym(n_sym), ct_dim_const(4)};
  ct_type y_t = ct_type_make(CT_DT_F32, 2, yd);
  ct_value *lin_in[3] = {x, w, bias};
  ct_value *y = add_node(m, g->body, CT_OP_LINEAR, 3, lin_in, 1, &y_t, NULL, 0)->results[0];
  ct_attr sm = ct_attr_int("dim", -1);
  ct_value *s = add_node(m, g->body, CT_OP_LOG_SOFTMAX, 1, &y, 1, &y_t, &sm, 1)->results[0];
  double data[3] = {1e-05, -0.5, 0.1};
  ct_dim cd[1] = {ct_dim_const(3)};
  ct_attr cattrs[3] = {ct_attr_dims("shape", 1, cd), ct_attr_dtype("dtype", CT_DT_F64),
                       ct_attr_floats("data", 3, data)};
  ct_type c_t = ct_type_make(CT_DT_F64, 1, cd);
  add_node(m, g->body, CT_OP_CONSTANT, 0, NULL, 1, &c_t, cattrs, 3);
  ct_attr rattr = ct_attr_dims("shape", 1, n2d);
  ct_type r_t = ct_type_make(CT_DT_F32, 1, n2d);
  ct_value *r = add_node(m, g->body, CT_OP_RESHAPE, 1, &s, 1, &r_t, &rattr, 1)->results[0];

  ct_type fused_t[2] = {y_t, y_t};
  ct_value *fin[2] = {y, s};
  ct_attr kind = ct_attr_str("kind", "row \"wise\"\n");
  ct_node *f = add_node(m, g->body, CT_OP_FUSION, 2, fin, 2, fused_t, &kind, 1);
  f->body = ct_block_new(m, g);
  f->body->parent_node = f;
  ct_value *p0 = ct_block_add_param(m, f->body, NULL, y_t);
  ct_value *p1 = ct_block_add_param(m, f->body, NULL, y_t);
  ct_value *ab[2] = {p0, p1};
  ct_value *sum = add_node(m, f->body, CT_OP_ADD, 2, ab, 1, &y_t, NULL, 0)->results[0];
  ct_value *e = add_node(m, f->body, CT_OP_EXP, 1, &sum, 1, &y_t, NULL, 0)->results[0];
  ct_value *body_ret[2] = {sum, e};
  add_node(m, f->body, CT_OP_RETURN, 2, body_ret, 0, NULL, NULL, 0);

  ct_value *rets[3] = {f->results[0], f->results[1], r};
  add_node(m, g->body, CT_OP_RETURN, 3, rets, 0, NULL, NULL, 0);
  ct_graph_set_result_name(g, 0, "loss");
  ct_graph_set_result_name(g, 2, "grad.x");
  return m;
}

static void test_api_round_trip(void) {
  ct_module *m = build_module();
  char *text1 = ct_module_to_string(m);
  ct_diag diag;
  ct_diag_init(&diag);
  ct_module *m2 = ct_module_parse(text1, strlen(text1), "built.ctir", &diag);
  CHECK_MSG(m2 != NULL, "parse failed: %s\n%s", ct_diag_first_error(&diag), text1);
  if (m2) {
    char *text2 = ct_module_to_string(m2);
    CHECK_STR_EQ(text2, text1);
    CHECK_EQ_INT(m2->n_params, 3);
    CHECK_STR_EQ(m2->params[0].init_spec, "uniform(-0.353553,0.353553)");
    CHECK(m2->params[2].kind == CT_PARAM_STATE);
    ct_graph *g = ct_module_find_graph(m2, "forward");
    CHECK(g != NULL);
    if (g) {
      CHECK_EQ_INT(ct_graph_num_results(g), 3);
      CHECK_STR_EQ(ct_graph_result_name(g, 0), "loss");
      CHECK(ct_graph_result_name(g, 1) == NULL);
      ct_value *r = ct_graph_result(g, 2);
      CHECK(r->type.dims[0].coef == 2 && r->type.dims[0].off == 1 && r->type.dims[0].sym == 1);
      /* the fusion node keeps its body and its string attribute with escapes */
      ct_node *f = ct_graph_result(g, 0)->def;
      CHECK(f->op == CT_OP_FUSION && f->body && f->body->n_params == 2);
      CHECK_STR_EQ(ct_attr_get_str(f->attrs, f->n_attrs, "kind", ""), "row \"wise\"\n");
    }
    free(text2);
  }
  CHECK(strstr(text1, "graph @forward(%x: f32[N,8]") != NULL);
  CHECK(strstr(text1, "-> (loss: f32[N,4], f32[N,4], grad.x: f32[2*N+1])") != NULL);
  CHECK(strstr(text1, "data=[1e-05, -0.5, 0.1]") != NULL);
  free(text1);
  ct_module_free(m2);
  ct_module_free(m);
  ct_diag_free(&diag);
}

/* Every prefix shorter than the whole file lacks at least the final '}', so each must fail with
 * a diagnostic. The prefix is copied into an exact-size heap buffer so ASan catches any read
 * past len. */
static void test_truncated_prefixes(void) {
  ct_module *m = build_module();
  char *text = ct_module_to_string(m);
  size_t len = strlen(text);
  while (len && (text[len - 1] == '\n' || text[len - 1] == ' ')) len--;
  int failures = 0;
  for (size_t n = 0; n < len; n++) {
    char *prefix = malloc(n ? n : 1);
    memcpy(prefix, text, n);
    ct_diag diag;
    ct_diag_init(&diag);
    ct_module *p = ct_module_parse(prefix, n, "prefix.ctir", &diag);
    /* the empty text and a header-only prefix are valid modules */
    bool ok_module = p != NULL;
    if (ok_module) {
      if (strstr(text, "graph") - text >= (ptrdiff_t)n) {
        ct_module_free(p);
      } else {
        failures++;
        ct_module_free(p);
      }
    } else if (diag.n_errors < 1 || diag.items[0].line < 1 || diag.items[0].col < 1) {
      failures++;
    }
    ct_diag_free(&diag);
    free(prefix);
  }
  CHECK_EQ_INT(failures, 0);
  free(text);
  ct_module_free(m);
}

/* Single-byte corruptions: the parser either accepts or reports, never crashes or leaks. */
static void test_corrupted_bytes(void) {
  ct_module *m = build_module();
  char *text = ct_module_to_string(m);
  size_t len = strlen(text);
  const char subst[] = "%@\"[]{}(),:=*+-0x\\\n";
  char *copy = malloc(len);
  for (size_t i = 0; i < len; i += 3) {
    for (size_t k = 0; k < sizeof subst - 1; k += 4) {
      memcpy(copy, text, len);
      copy[i] = subst[(i + k) % (sizeof subst - 1)];
      ct_diag diag;
      ct_diag_init(&diag);
      ct_module *p = ct_module_parse(copy, len, "corrupt.ctir", &diag);
      if (!p) CHECK(diag.n_errors >= 1);
      ct_module_free(p);
      ct_diag_free(&diag);
    }
  }
  free(copy);
  free(text);
  ct_module_free(m);
}

static void test_float_shortest(void) {
  const double vals[] = {1e-05, 0.1, -0.5, 1.0 / 3.0, 6.02214076e23, 5e-324, 1.7976931348623157e308,
                         -0.0, INFINITY, -INFINITY, NAN};
  ct_module *m = ct_module_new();
  ct_graph *g = ct_module_add_graph(m, "g");
  ct_value *x = ct_graph_add_input(g, "x", ct_type_scalar(CT_DT_F32));
  int nv = (int)(sizeof vals / sizeof *vals);
  ct_dim one[1] = {ct_dim_const(nv)};
  ct_attr a[3] = {ct_attr_dims("shape", 1, one), ct_attr_dtype("dtype", CT_DT_F64),
                  ct_attr_floats("data", nv, vals)};
  ct_type t = ct_type_make(CT_DT_F64, 1, one);
  add_node(m, g->body, CT_OP_CONSTANT, 0, NULL, 1, &t, a, 3);
  add_node(m, g->body, CT_OP_RETURN, 1, &x, 0, NULL, NULL, 0);
  char *text = ct_module_to_string(m);
  CHECK(strstr(text, "data=[1e-05, 0.1, -0.5, 0.3333333333333333, 6.02214076e+23, 5e-324, "
                     "1.7976931348623157e+308, -0, inf, -inf, nan]") != NULL);
  ct_diag diag;
  ct_diag_init(&diag);
  ct_module *m2 = ct_module_parse(text, strlen(text), "f.ctir", &diag);
  CHECK(m2 != NULL);
  if (m2) {
    const ct_node *n = m2->graphs[0]->body->first;
    const ct_attr *d = ct_node_attr(n, "data");
    CHECK(d && d->n == nv);
    for (int i = 0; d && i < nv; i++) {
      if (isnan(vals[i]))
        CHECK(isnan(d->u.floats[i]));
      else
        CHECK(memcmp(&d->u.floats[i], &vals[i], sizeof(double)) == 0);
    }
  }
  free(text);
  ct_module_free(m2);
  ct_module_free(m);
  ct_diag_free(&diag);
}

/* The examples other stages test against parse and print back unchanged. */
static void test_examples_round_trip(void) {
  const char *files[] = {CT_SOURCE_DIR "/examples/mlp/mlp.ctir",
                         CT_SOURCE_DIR "/examples/lenet/lenet.ctir"};
  for (int i = 0; i < 2; i++) {
    size_t len;
    char *text = test_read_file(files[i], &len);
    CHECK_MSG(text != NULL, "cannot read %s", files[i]);
    if (!text) continue;
    ct_diag diag;
    ct_diag_init(&diag);
    ct_module *m = ct_module_parse(text, len, files[i], &diag);
    CHECK_MSG(m != NULL, "%s: %s", files[i], ct_diag_first_error(&diag));
    if (m) {
      char *printed = ct_module_to_string(m);
      /* the files hold comments; compare after dropping comment lines */
      char *stripped = malloc(len + 1);
      size_t k = 0;
      for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p + 1) : strlen(p);
        if (!(n >= 2 && p[0] == '/' && p[1] == '/')) {
          memcpy(stripped + k, p, n);
          k += n;
        }
        p += n;
      }
      stripped[k] = 0;
      CHECK_STR_EQ(printed, stripped);
      free(stripped);
      free(printed);
    }
    ct_module_free(m);
    ct_diag_free(&diag);
    free(text);
  }
}

int main(void) {
  RUN_TEST(test_api_round_trip);
  RUN_TEST(test_truncated_prefixes);
  RUN_TEST(test_corrupted_bytes);
  RUN_TEST(test_float_shortest);
  RUN_TEST(test_examples_round_trip);
  return test_summary();
}
