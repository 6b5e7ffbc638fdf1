/* tests/unit/test_tensor.c: tensors, views, copies, refcounts; the op table's schemas; IR
 * module construction and use lists. */
#include <stdint.h>

#include "ctorch/tensor.h"
#include "ir.h"
#include "testlib.h"

static void test_alloc_aligned(void) {
  int64_t shape[2] = {3, 5};
  ct_tensor *t = ct_tensor_zeros(CT_DT_F32, 2, shape);
  CHECK(t != NULL);
  CHECK(((uintptr_t)ct_tensor_data(t) % CT_ALIGN) == 0);
  CHECK_EQ_INT(ct_tensor_numel(t), 15);
  CHECK_EQ_INT(t->strides[0], 5);
  CHECK(ct_tensor_is_contiguous(t));
  for (int i = 0; i < 15; i++) CHECK(ct_tensor_get(t, i) == 0.0);
  ct_tensor_release(t);
}

static void test_view_and_copy(void) {
  int64_t shape[2] = {2, 3};
  ct_tensor *t = ct_tensor_empty(CT_DT_F32, 2, shape);
  for (int i = 0; i < 6; i++) ct_tensor_set(t, i, i);
  /* transpose view: shape [3,2], strides [1,3] */
  int64_t vshape[2] = {3, 2}, vstrides[2] = {1, 3};
  ct_tensor *v = ct_tensor_view(t, 2, vshape, vstrides, 0);
  CHECK(!ct_tensor_is_contiguous(v));
  CHECK(ct_tensor_get(v, 1) == 3.0); /* v[0][1] = t[1][0] */
  ct_tensor *c = ct_tensor_contiguous(v);
  CHECK(ct_tensor_is_contiguous(c));
  const float *cd = ct_tensor_data(c);
  CHECK(cd[0] == 0 && cd[1] == 3 && cd[2] == 1 && cd[3] == 4 && cd[4] == 2 && cd[5] == 5);
  ct_tensor_release(t); /* the view keeps the storage alive */
  CHECK(ct_tensor_get(v, 5) == 5.0);
  ct_tensor_release(v);
  ct_tensor_release(c);
}

static void test_dtype_conversion(void) {
  int64_t shape[1] = {4};
  ct_tensor *f = ct_tensor_empty(CT_DT_F32, 1, shape);
  ct_tensor *h = ct_tensor_empty(CT_DT_F16, 1, shape);
  ct_tensor *b = ct_tensor_empty(CT_DT_BF16, 1, shape);
  double vals[4] = {1.5, -2.25, 65504.0, 0.0009765625};
  for (int i = 0; i < 4; i++) ct_tensor_set(f, i, vals[i]);
  CHECK_OK(ct_tensor_copy_into(h, f));
  CHECK_OK(ct_tensor_copy_into(b, f));
  for (int i = 0; i < 4; i++) CHECK(ct_tensor_get(h, i) == vals[i]);
  CHECK(ct_tensor_get(b, 0) == 1.5 && ct_tensor_get(b, 1) == -2.25);
  ct_tensor_release(f);
  ct_tensor_release(h);
  ct_tensor_release(b);
}

static void test_op_schema(void) {
  int n;
  const ct_attr_spec *specs = ct_op_attr_specs(CT_OP_CONV2D, &n);
  CHECK_EQ_INT(n, 4);
  CHECK_STR_EQ(specs[0].name, "stride");
  CHECK(specs[0].kind == CT_ATTR_INTS && specs[0].has_default && specs[0].dflt.n == 2);
  CHECK_STR_EQ(specs[3].name, "groups");
  CHECK(specs[3].dflt.u.i == 1);
  specs = ct_op_attr_specs(CT_OP_GELU, &n);
  CHECK_EQ_INT(n, 1);
  CHECK_STR_EQ(specs[0].dflt.u.s, "none");
  specs = ct_op_attr_specs(CT_OP_LAYER_NORM, &n);
  CHECK(n == 2 && !specs[0].has_default && specs[1].dflt.u.f == 1e-5);
  CHECK(ct_op_lookup("log_softmax", 11) == CT_OP_LOG_SOFTMAX);
  CHECK(ct_op_lookup("nope", 4) == CT_OP_COUNT);
}

static void test_use_lists(void) {
  ct_module *m = ct_module_new();
  ct_graph *g = ct_module_add_graph(m, "forward");
  int32_t n_sym = ct_module_sym(m, "N", 1);
  ct_dim dims[2] = {ct_dim_sym(n_sym), ct_dim_const(4)};
  ct_type t = ct_type_make(CT_DT_F32, 2, dims);
  ct_value *x = ct_graph_add_input(g, "x", t);
  ct_type outs[1] = {t};
  ct_value *in2[2] = {x, x};
  ct_node *add = ct_node_new(m, CT_OP_ADD, 2, in2, 1, outs, NULL, 0, (ct_loc){0});
  ct_block_append(g->body, add);
  CHECK_EQ_INT(ct_value_num_uses(x), 2);
  ct_node *relu = ct_node_new(m, CT_OP_RELU, 1, &add->results[0], 1, outs, NULL, 0, (ct_loc){0});
  ct_block_append(g->body, relu);
  ct_value_replace_uses(add->results[0], x);
  CHECK_EQ_INT(ct_value_num_uses(x), 3);
  CHECK_EQ_INT(ct_value_num_uses(add->results[0]), 0);
  ct_node_erase(add);
  CHECK_EQ_INT(ct_value_num_uses(x), 1);
  CHECK(g->body->first == relu && g->body->last == relu);
  char buf[64];
  ct_type_format(m, &t, buf, sizeof buf);
  CHECK_STR_EQ(buf, "f32[N,4]");
  ct_dim d;
  CHECK(ct_type_numel(&t, &d) && d.sym == n_sym && d.coef == 4);
  ct_module_free(m);
}

int main(void) {
  RUN_TEST(test_alloc_aligned);
  RUN_TEST(test_view_and_copy);
  RUN_TEST(test_dtype_conversion);
  RUN_TEST(test_op_schema);
  RUN_TEST(test_use_lists);
  return test_summary();
}
