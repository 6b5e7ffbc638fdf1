/* tools/ctorchc_package.c: `ctorchc -o model.ctm`: writes the compiled module (parameters
 * bound) as a .ctm package (docs/package.md): the ABI metadata JSON, the IR text, the weights
 * (64-byte aligned, keyed by state_dict names) and, when LLVM code generation is linked in, the
 * native shared object. Without it the package is IR-only and runs through the interpreter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "codegen.h"
#include "ctorch/abi.h"
#include "ctorch/package.h"
#include "ctorchc.h"

static const char *kind_name(ct_param_kind k) {
  return k == CT_PARAM_WEIGHT ? "weight" : k == CT_PARAM_BUFFER ? "buffer" : "state";
}

static const char *role_name(ct_param_kind k) {
  return k == CT_PARAM_WEIGHT ? "param" : k == CT_PARAM_BUFFER ? "buffer" : "state";
}

static cJSON *shape_json(const ct_module *m, const ct_type *t) {
  cJSON *a = cJSON_CreateArray();
  for (int d = 0; a && d < t->rank; d++) {
    if (ct_dim_is_const(t->dims[d])) {
      cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t->dims[d].off));
    } else {
      char buf[96];
      ct_dim_format(m, t->dims[d], buf, sizeof buf);
      cJSON_AddItemToArray(a, cJSON_CreateString(buf));
    }
  }
  return a;
}

static cJSON *io_json(const ct_module *m, const char *name, const ct_type *t, const char *role) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "dtype", ct_dtype_name(t->dtype));
  cJSON_AddItemToObject(o, "shape", shape_json(m, t));
  if (role) cJSON_AddStringToObject(o, "role", role);
  return o;
}

/* Is input `name` a loss target (--target y=..., or the default y of class losses)? */
static bool is_target(const ctorchc_options *o, const char *name) {
  for (int i = 0; i < o->n_targets; i++) {
    const char *eq = strchr(o->targets[i], '=');
    size_t n = eq ? (size_t)(eq - o->targets[i]) : strlen(o->targets[i]);
    if (strlen(name) == n && strncmp(name, o->targets[i], n) == 0) return true;
  }
  return o->train && o->n_targets == 0 && strcmp(name, "y") == 0;
}

static uint64_t align_up(uint64_t x) {
  return (x + CT_PKG_ALIGN - 1) / CT_PKG_ALIGN * CT_PKG_ALIGN;
}

/* The metadata JSON (docs/abi.md) and the weights blob laid out at the offsets it records. */
static ct_status build_meta(const ct_module *m, const ctorchc_options *o, const char *name,
                            char **json, uint8_t **weights, uint64_t *weights_size, ct_diag *diag) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "abi", CT_ABI_VERSION);
  cJSON_AddStringToObject(root, "name", name);
  cJSON *syms = cJSON_AddArrayToObject(root, "symbols");
  for (int i = 1; i <= m->n_syms; i++)
    cJSON_AddItemToArray(syms, cJSON_CreateString(m->syms[i]));
  cJSON *params = cJSON_AddArrayToObject(root, "params");
  uint64_t pos = 0;
  uint64_t *offsets = calloc((size_t)m->n_params + 1, sizeof *offsets);
  if (!offsets) {
    cJSON_Delete(root);
    return ct_diag_error(diag, NULL, 0, 0, "package: out of memory");
  }
  for (int i = 0; i < m->n_params; i++) {
    const ct_param *p = &m->params[i];
    if (!p->init) {
      free(offsets);
      cJSON_Delete(root);
      return ct_diag_error(diag, NULL, 0, 0, "package: parameter '%s' has no value", p->name);
    }
    cJSON *e = io_json(m, p->name, &p->type, NULL);
    cJSON_AddStringToObject(e, "kind", kind_name(p->kind));
    offsets[i] = pos;
    cJSON_AddNumberToObject(e, "offset", (double)pos);
    cJSON_AddNumberToObject(e, "nbytes", (double)ct_tensor_nbytes(p->init));
    cJSON_AddItemToArray(params, e);
    pos = align_up(pos + ct_tensor_nbytes(p->init));
  }
  cJSON *entries = cJSON_AddArrayToObject(root, "entries");
  for (int gi = 0; gi < m->n_graphs; gi++) {
    const ct_graph *g = m->graphs[gi];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", g->name);
    cJSON *in = cJSON_AddArrayToObject(e, "inputs");
    for (int i = 0; i < ct_graph_num_inputs(g); i++) {
      const ct_value *v = ct_graph_input(g, i);
      const ct_param *p = v->name ? ct_module_find_param(m, v->name) : NULL;
      const char *role = p ? role_name(p->kind) : is_target(o, v->name) ? "target" : "input";
      cJSON_AddItemToArray(in, io_json(m, v->name ? v->name : "", &v->type, role));
    }
    cJSON *res = cJSON_AddArrayToObject(e, "results");
    int n_res = ct_graph_num_results(g);
    for (int i = 0; i < n_res; i++) {
      char buf[32];
      const char *rn = ct_graph_result_name(g, i);
      if (!rn) {
        if (n_res == 1)
          snprintf(buf, sizeof buf, "output");
        else
          snprintf(buf, sizeof buf, "output%d", i);
        rn = buf;
      }
      cJSON_AddItemToArray(res, io_json(m, rn, &ct_graph_result(g, i)->type, NULL));
    }
    cJSON_AddItemToArray(entries, e);
  }
  *json = cJSON_Print(root);
  cJSON_Delete(root);
  *weights_size = pos;
  *weights = calloc(1, pos ? (size_t)pos : 1);
  if (!*json || !*weights) {
    free(offsets);
    return ct_diag_error(diag, NULL, 0, 0, "package: out of memory");
  }
  for (int i = 0; i < m->n_params; i++) {
    ct_tensor *c = ct_tensor_contiguous(m->params[i].init);
    if (!c) {
      free(offsets);
      return ct_diag_error(diag, NULL, 0, 0, "package: out of memory");
    }
    memcpy(*weights + offsets[i], ct_tensor_data(c), ct_tensor_nbytes(c));
    ct_tensor_release(c);
  }
  free(offsets);
  return CT_OK;
}

/* Runs LLVM code generation into a temporary .so and reads it back. */
static ct_status build_native(const ct_module *m, const ctorchc_options *o, const char *name,
                              char **so, size_t *so_len, ct_diag *diag) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/ctorchc-XXXXXX.so", dir && *dir ? dir : "/tmp");
  int fd = mkstemps(path, 3);
  if (fd < 0) return ct_diag_error(diag, path, 0, 0, "cannot create: %s", strerror(errno));
  close(fd);
  /* Weights live in the package's weights section; the code takes them as arguments. */
  ct_codegen_options cg = {
      name, o->cpu, o->features, o->opt_level, false, o->self_contained, o->print_fallbacks, NULL,
      o->keep_denormals};
  ct_status st = ct_codegen_llvm(m, &cg, CT_EMIT_SO, path, diag);
  if (st == CT_OK) {
    *so = cli_read_file(path, so_len, diag);
    if (!*so) st = CT_ERR_IO;
  }
  unlink(path);
  return st;
}

ct_status ctorchc_write_package(const ct_module *m, const ctorchc_options *o, ct_diag *diag) {
  const char *name = o->name ? o->name : m->name ? m->name : "model";
  char *json = NULL, *so = NULL;
  uint8_t *weights = NULL;
  uint64_t weights_size = 0;
  size_t so_len = 0;
  char *ir = ct_module_to_string(m);
  ct_status st = ir ? CT_OK : ct_diag_error(diag, NULL, 0, 0, "package: out of memory");
  if (st == CT_OK) st = build_meta(m, o, name, &json, &weights, &weights_size, diag);
  if (st == CT_OK && ct_codegen_llvm) st = build_native(m, o, name, &so, &so_len, diag);
  if (st == CT_OK) {
    ct_pkg_blob sections[4] = {
        {CT_PKG_META, CT_PKG_FLAG_REQUIRED, json, strlen(json)},
        {CT_PKG_IR, 0, ir, strlen(ir)},
        {CT_PKG_WEIGHTS, CT_PKG_FLAG_REQUIRED, weights, weights_size},
        {CT_PKG_NATIVE, 0, so, so_len},
    };
    st = ct_package_write(o->output, so ? 4 : 3, sections, diag);
  }
  free(ir);
  free(json);
  free(weights);
  free(so);
  return st;
}
