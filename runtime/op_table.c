/* runtime/op_table.c: the op info table expanded from ir/ops.def, and the parsed attribute
 * schemas. It lives in the runtime because kernel dispatch (interpreter and fallback) needs the
 * op names and schemas; the compiler uses the same table through ir/ops.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define DIFF CT_OPF_DIFF
#define COMMUTE CT_OPF_COMMUTE
#define BOOLOUT CT_OPF_BOOLOUT
#define NOGRAD CT_OPF_NOGRAD
#define BODY CT_OPF_BODY

const ct_op_info ct_op_table[CT_OP_COUNT] = {
#define OP(id, nm, cls, min_in, max_in, n_out, flags, attrs) \
  [CT_OP_##id] = {nm, CT_OPC_##cls, min_in, max_in, n_out, flags, attrs},
#include "ops.def"
#undef OP
};

ct_op ct_op_lookup(const char *name, size_t len) {
  for (int i = 0; i < CT_OP_COUNT; i++) {
    const char *n = ct_op_table[i].name;
    if (strlen(n) == len && memcmp(n, name, len) == 0) return (ct_op)i;
  }
  return CT_OP_COUNT;
}

typedef struct schema {
  ct_attr_spec *specs;
  int n;
} schema;

static schema schemas[CT_OP_COUNT];
static pthread_once_t schemas_once = PTHREAD_ONCE_INIT;

static ct_attr_kind kind_of(const char *s, size_t len) {
  static const struct {
    const char *name;
    ct_attr_kind kind;
  } kinds[] = {{"int", CT_ATTR_INT},     {"float", CT_ATTR_FLOAT}, {"bool", CT_ATTR_BOOL},
               {"ints", CT_ATTR_INTS},   {"floats", CT_ATTR_FLOATS}, {"dims", CT_ATTR_DIMS},
               {"str", CT_ATTR_STR},     {"dtype", CT_ATTR_DTYPE}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strlen(kinds[i].name) == len && memcmp(kinds[i].name, s, len) == 0) return kinds[i].kind;
  abort(); /* a malformed ops.def row: caught by the first test run */
}

static char *dup_range(const char *s, size_t len) {
  char *r = malloc(len + 1);
  if (!r) abort();
  memcpy(r, s, len);
  r[len] = 0;
  return r;
}

/* Parses a default written in ops.def: 1, 1e-05, true, [1,1], [], "none", f32. */
static void parse_default(ct_attr_spec *spec, const char *s, size_t len) {
  char *text = dup_range(s, len);
  ct_attr *a = &spec->dflt;
  a->name = spec->name;
  a->kind = spec->kind;
  switch (spec->kind) {
  case CT_ATTR_INT: a->u.i = strtoll(text, NULL, 10); break;
  case CT_ATTR_FLOAT: a->u.f = strtod(text, NULL); break;
  case CT_ATTR_BOOL: a->u.i = strcmp(text, "true") == 0; break;
  case CT_ATTR_STR:
    a->u.s = dup_range(text + 1, len >= 2 ? len - 2 : 0); /* strip the quotes */
    break;
  case CT_ATTR_DTYPE:
    if (ct_dtype_parse(text, len, &a->u.dt) != 0) abort();
    break;
  case CT_ATTR_INTS:
  case CT_ATTR_FLOATS:
  case CT_ATTR_DIMS: {
    int n = 0;
    int64_t *ints = calloc(CT_MAX_RANK * 2, sizeof *ints);
    double *floats = calloc(CT_MAX_RANK * 2, sizeof *floats);
    ct_dim *dims = calloc(CT_MAX_RANK * 2, sizeof *dims);
    if (!ints || !floats || !dims) abort();
    char *p = text + 1;
    while (*p && *p != ']') {
      char *end;
      double v = strtod(p, &end);
      if (end == p) abort();
      ints[n] = (int64_t)v;
      floats[n] = v;
      dims[n] = ct_dim_const((int64_t)v);
      n++;
      p = end;
      if (*p == ',') p++;
    }
    a->n = n;
    if (spec->kind == CT_ATTR_INTS) {
      a->u.ints = ints;
      free(floats);
      free(dims);
    } else if (spec->kind == CT_ATTR_FLOATS) {
      a->u.floats = floats;
      free(ints);
      free(dims);
    } else {
      a->u.dims = dims;
      free(ints);
      free(floats);
    }
    break;
  }
  }
  free(text);
}

static void parse_schemas(void) {
  for (int op = 0; op < CT_OP_COUNT; op++) {
    const char *s = ct_op_table[op].attrs;
    int cap = 0;
    for (const char *p = s; *p; p++) cap += *p == ':';
    schema *sc = &schemas[op];
    sc->specs = calloc(cap ? cap : 1, sizeof *sc->specs);
    if (!sc->specs) abort();
    const char *p = s;
    while (*p) {
      while (*p == ' ') p++;
      if (!*p) break;
      const char *name = p;
      while (*p != ':') p++;
      ct_attr_spec *spec = &sc->specs[sc->n++];
      spec->name = dup_range(name, (size_t)(p - name));
      p++;
      const char *kind = p;
      while (*p && *p != ' ' && *p != '=') p++;
      spec->kind = kind_of(kind, (size_t)(p - kind));
      if (*p == '=') {
        p++;
        const char *dflt = p;
        int in_str = 0, depth = 0;
        while (*p && (in_str || depth || *p != ' ')) {
          if (*p == '"') in_str = !in_str;
          else if (!in_str && *p == '[') depth++;
          else if (!in_str && *p == ']') depth--;
          p++;
        }
        spec->has_default = 1;
        parse_default(spec, dflt, (size_t)(p - dflt));
      }
    }
  }
}

const ct_attr_spec *ct_op_attr_specs(ct_op op, int *n_specs) {
  pthread_once(&schemas_once, parse_schemas);
  if ((unsigned)op >= CT_OP_COUNT) {
    *n_specs = 0;
    return NULL;
  }
  *n_specs = schemas[op].n;
  return schemas[op].specs;
}

int ct_op_attr_index(ct_op op, const char *name) {
  int n;
  const ct_attr_spec *specs = ct_op_attr_specs(op, &n);
  for (int i = 0; i < n; i++)
    if (strcmp(specs[i].name, name) == 0) return i;
  return -1;
}
