/* runtime/api/params.c: a loaded model's parameters, buffers and optimizer state by key: read,
 * replace, load from and save to safetensors with PyTorch's state_dict names. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "ctorch/safetensors.h"

int ct_model_num_params(const ct_model *m) { return m->n_params; }
const char *ct_model_param_name(const ct_model *m, int i) {
  return i >= 0 && i < m->n_params ? m->params[i].name : NULL;
}

static api_param *find(const ct_model *m, const char *name) {
  for (int i = 0; name && i < m->n_params; i++)
    if (strcmp(m->params[i].name, name) == 0) return &m->params[i];
  return NULL;
}

ct_tensor *ct_model_get_param(const ct_model *m, const char *name) {
  api_param *p = find(m, name);
  if (!p) api_fail(CT_ERR_INVALID, "%s: no parameter '%s'", m->path, name ? name : "(null)");
  return p ? p->cur : NULL;
}

static ct_status check_value(const ct_model *m, const api_param *p, const ct_tensor *t,
                             const char *where) {
  bool ok = t->dtype == p->dtype && t->rank == p->rank;
  for (int d = 0; ok && d < p->rank; d++)
    ok = t->shape[d] == p->shape[d];
  if (ok) return CT_OK;
  char got[128], want[128];
  ct_tensor_describe(t, got, sizeof got);
  size_t used = (size_t)snprintf(want, sizeof want, "%s[", ct_dtype_name(p->dtype));
  for (int d = 0; d < p->rank && used < sizeof want; d++)
    used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", d ? "," : "",
                             (long long)p->shape[d]);
  if (used < sizeof want) snprintf(want + used, sizeof want - used, "]");
  return api_fail(CT_ERR_SHAPE, "%s: parameter '%s' is %s, got %s", where, p->name, want, got);
}

static void replace(api_param *p, ct_tensor *value) {
  ct_tensor_release(p->cur);
  ct_tensor_release(p->spare);
  p->cur = value;
  p->spare = NULL;
  p->writable = true;
}

ct_status ct_model_set_param(ct_model *m, const char *name, const ct_tensor *t) {
  api_param *p = find(m, name);
  if (!p) return api_fail(CT_ERR_INVALID, "%s: no parameter '%s'", m->path, name ? name : "(null)");
  if (!t) return api_fail(CT_ERR_INVALID, "%s: parameter '%s': tensor is NULL", m->path, name);
  ct_status st = check_value(m, p, t, m->path);
  if (st != CT_OK) return st;
  ct_tensor *copy = ct_tensor_clone(t);
  if (!copy) return api_fail(CT_ERR_NOMEM, "out of memory");
  replace(p, copy);
  return CT_OK;
}

ct_status ct_model_load_params(ct_model *m, const char *path) {
  ct_diag diag;
  ct_diag_init(&diag);
  ct_st_file *f = NULL;
  ct_status st = ct_st_load(path, &f, &diag);
  if (st != CT_OK) {
    api_fail(st, "%s: %s", path, ct_diag_first_error(&diag));
    ct_diag_free(&diag);
    return st;
  }
  ct_diag_free(&diag);
  int n = ct_st_count(f);
  for (int i = 0; i < n && st == CT_OK; i++) {
    api_param *p = find(m, ct_st_name(f, i));
    if (!p)
      st = api_fail(CT_ERR_INVALID, "%s: '%s' is not a parameter of %s", path, ct_st_name(f, i),
                    m->path);
    else
      st = check_value(m, p, ct_st_tensor(f, i), path);
  }
  for (int i = 0; i < n && st == CT_OK; i++) {
    ct_tensor *copy = ct_tensor_clone(ct_st_tensor(f, i));
    if (!copy)
      st = api_fail(CT_ERR_NOMEM, "out of memory");
    else
      replace(find(m, ct_st_name(f, i)), copy);
  }
  ct_st_free(f);
  return st;
}

ct_status ct_model_save_params(const ct_model *m, const char *path, bool with_state) {
  const char **names = calloc((size_t)m->n_params + 1, sizeof *names);
  ct_tensor **values = calloc((size_t)m->n_params + 1, sizeof *values);
  ct_status st = CT_OK;
  int n = 0;
  if (!names || !values) st = api_fail(CT_ERR_NOMEM, "out of memory");
  for (int i = 0; i < m->n_params && st == CT_OK; i++) {
    const api_param *p = &m->params[i];
    if (p->role == CT_ROLE_STATE && !with_state) continue;
    if (!p->cur) {
      st = api_fail(CT_ERR_INVALID, "%s: parameter '%s' has no value", m->path, p->name);
      break;
    }
    names[n] = p->name;
    values[n++] = p->cur;
  }
  if (st == CT_OK) {
    ct_diag diag;
    ct_diag_init(&diag);
    st = ct_st_save(path, n, names, values, 0, NULL, NULL, &diag);
    if (st != CT_OK) api_fail(st, "%s: %s", path, ct_diag_first_error(&diag));
    ct_diag_free(&diag);
  }
  free(names);
  free(values);
  return st;
}

ct_status ct_model_save_package(const ct_model *m, const char *path) {
  if (!m->pkg)
    return api_fail(CT_ERR_UNSUPPORTED,
                    "%s: only a model loaded from a package can be saved as "
                    "one",
                    m->path);
  const ct_pkg_section *w = ct_package_find(m->pkg, CT_PKG_WEIGHTS);
  uint64_t size = w ? w->size : 0;
  uint8_t *weights = calloc(1, size ? (size_t)size : 1);
  if (!weights) return api_fail(CT_ERR_NOMEM, "out of memory");
  if (size) memcpy(weights, w->data, (size_t)size); /* keeps the padding as it was */
  for (int i = 0; i < m->n_params; i++) {
    const api_param *p = &m->params[i];
    ct_tensor *c = ct_tensor_contiguous(p->cur);
    if (!c) {
      free(weights);
      return api_fail(CT_ERR_NOMEM, "out of memory");
    }
    memcpy(weights + p->offset, ct_tensor_data(c), (size_t)p->nbytes);
    ct_tensor_release(c);
  }
  int n = ct_package_num_sections(m->pkg);
  ct_pkg_blob blobs[CT_PKG_MAX_SECTIONS];
  for (int i = 0; i < n; i++) {
    const ct_pkg_section *s = ct_package_section(m->pkg, i);
    blobs[i] =
        (ct_pkg_blob){s->kind, s->flags, s->kind == CT_PKG_WEIGHTS ? weights : s->data, s->size};
  }
  ct_diag diag;
  ct_diag_init(&diag);
  ct_status st = ct_package_write(path, n, blobs, &diag);
  if (st != CT_OK) api_fail(st, "%s: %s", path, ct_diag_first_error(&diag));
  ct_diag_free(&diag);
  free(weights);
  return st;
}
