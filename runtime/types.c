/* runtime/types.c: dtype names and sizes, status names, attribute look-ups. */
#include <string.h>

#include "ctorch/types.h"

static const struct {
  const char *name, *st_name;
  size_t size;
  int is_float;
} dtypes[CT_DT_COUNT] = {
    [CT_DT_F32] = {"f32", "F32", 4, 1},   [CT_DT_F64] = {"f64", "F64", 8, 1},
    [CT_DT_F16] = {"f16", "F16", 2, 1},   [CT_DT_BF16] = {"bf16", "BF16", 2, 1},
    [CT_DT_I64] = {"i64", "I64", 8, 0},   [CT_DT_I32] = {"i32", "I32", 4, 0},
    [CT_DT_BOOL] = {"bool", "BOOL", 1, 0}, [CT_DT_U8] = {"u8", "U8", 1, 0},
};

size_t ct_dtype_size(ct_dtype dt) { return (unsigned)dt < CT_DT_COUNT ? dtypes[dt].size : 0; }

const char *ct_dtype_name(ct_dtype dt) {
  return (unsigned)dt < CT_DT_COUNT ? dtypes[dt].name : "?";
}

const char *ct_dtype_st_name(ct_dtype dt) {
  return (unsigned)dt < CT_DT_COUNT ? dtypes[dt].st_name : "?";
}

int ct_dtype_is_float(ct_dtype dt) { return (unsigned)dt < CT_DT_COUNT && dtypes[dt].is_float; }

int ct_dtype_parse(const char *name, size_t len, ct_dtype *out) {
  for (int i = 0; i < CT_DT_COUNT; i++)
    if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, name, len) == 0) {
      *out = (ct_dtype)i;
      return 0;
    }
  return -1;
}

int ct_dtype_parse_st(const char *name, ct_dtype *out) {
  for (int i = 0; i < CT_DT_COUNT; i++)
    if (strcmp(dtypes[i].st_name, name) == 0) {
      *out = (ct_dtype)i;
      return 0;
    }
  return -1;
}

const char *ct_status_name(ct_status st) {
  switch (st) {
  case CT_OK: return "ok";
  case CT_ERR_INVALID: return "invalid input";
  case CT_ERR_IO: return "I/O error";
  case CT_ERR_FORMAT: return "malformed file";
  case CT_ERR_SHAPE: return "shape mismatch";
  case CT_ERR_NOMEM: return "out of memory";
  case CT_ERR_UNSUPPORTED: return "unsupported";
  case CT_ERR_VERSION: return "unsupported format version";
  case CT_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const ct_attr *ct_attr_find(const ct_attr *attrs, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(attrs[i].name, name) == 0) return &attrs[i];
  return NULL;
}

int64_t ct_attr_get_int(const ct_attr *attrs, int n, const char *name, int64_t dflt) {
  const ct_attr *a = ct_attr_find(attrs, n, name);
  if (!a) return dflt;
  if (a->kind == CT_ATTR_INT || a->kind == CT_ATTR_BOOL) return a->u.i;
  if (a->kind == CT_ATTR_FLOAT) return (int64_t)a->u.f;
  return dflt;
}

double ct_attr_get_float(const ct_attr *attrs, int n, const char *name, double dflt) {
  const ct_attr *a = ct_attr_find(attrs, n, name);
  if (!a) return dflt;
  if (a->kind == CT_ATTR_FLOAT) return a->u.f;
  if (a->kind == CT_ATTR_INT || a->kind == CT_ATTR_BOOL) return (double)a->u.i;
  return dflt;
}

int ct_attr_get_ints(const ct_attr *attrs, int n, const char *name, int64_t *out, int max) {
  const ct_attr *a = ct_attr_find(attrs, n, name);
  if (!a) return -1;
  if (a->kind == CT_ATTR_INTS) {
    for (int i = 0; i < a->n && i < max; i++) out[i] = a->u.ints[i];
    return a->n;
  }
  if (a->kind == CT_ATTR_DIMS) {
    for (int i = 0; i < a->n && i < max; i++) out[i] = a->u.dims[i].off;
    return a->n;
  }
  if (a->kind == CT_ATTR_INT) {
    if (max > 0) out[0] = a->u.i;
    return 1;
  }
  return -1;
}

const char *ct_attr_get_str(const ct_attr *attrs, int n, const char *name, const char *dflt) {
  const ct_attr *a = ct_attr_find(attrs, n, name);
  return a && a->kind == CT_ATTR_STR ? a->u.s : dflt;
}
