/* runtime/api/meta.c: reads a model's metadata JSON (docs/abi.md) into the loaded model: name,
 * symbols, parameter table and entry signatures. The JSON comes from a package or a .so, so
 * every field is checked: types, identifiers, dtypes, ranks, dim expressions over the declared
 * symbols, parameter offsets inside the weights, and the agreement of param-role inputs and
 * `new.<key>` results with the parameter table. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_internal.h"

#define MAX_ITEMS 65536
#define MAX_NAME 512
#define EXACT_INT_LIMIT 9007199254740992.0 /* 2^53 */
#define MAX_DIM ((int64_t)1 << 40)

typedef struct meta_ctx {
  ct_model *m;
  const char *where;
  uint64_t weights_size;
} meta_ctx;

static ct_status bad(const meta_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ct_status bad(const meta_ctx *c, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return api_fail(CT_ERR_FORMAT, "%s: metadata: %s", c->where, msg);
}

static bool is_ident(const char *s) {
  if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') return false;
  return strlen(s) < MAX_NAME;
}

/* A key: non-empty printable ASCII without spaces, as state_dict keys are. */
static bool is_key(const char *s) {
  if (!s || !*s || strlen(s) >= MAX_NAME) return false;
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) return false;
  return true;
}

static bool json_int(const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= -EXACT_INT_LIMIT && d <= EXACT_INT_LIMIT) || d != (double)(int64_t)d) return false;
  int64_t i = (int64_t)d;
  if (i < lo || i > hi) return false;
  *out = i;
  return true;
}

static const char *json_str(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* A dim as the IR prints it: an integer, or [COEF*]SYM[+OFF|-OFF]. */
static bool parse_dim_text(const ct_model *m, const char *s, ct_dim *out) {
  const char *p = s;
  int64_t coef = 1, off = 0;
  if (isdigit((unsigned char)*p)) {
    char *end;
    long long v = strtoll(p, &end, 10);
    if (*end == 0) {
      if (v < 0 || v > MAX_DIM) return false;
      *out = ct_dim_const(v);
      return true;
    }
    if (*end != '*' || v < 1 || v > MAX_DIM) return false;
    coef = v;
    p = end + 1;
  }
  const char *name = p;
  while (isalnum((unsigned char)*p) || *p == '_')
    p++;
  size_t nlen = (size_t)(p - name);
  int sym = 0;
  for (int i = 1; i <= m->n_syms && !sym; i++)
    if (strlen(m->syms[i]) == nlen && strncmp(m->syms[i], name, nlen) == 0) sym = i;
  if (!sym) return false;
  if (*p == '+' || *p == '-') {
    char *end;
    if (!isdigit((unsigned char)p[1])) return false;
    long long v = strtoll(p + 1, &end, 10);
    if (*end || v > MAX_DIM) return false;
    off = *p == '-' ? -v : v;
  } else if (*p) {
    return false;
  }
  out->sym = sym;
  out->coef = coef;
  out->off = off;
  return true;
}

static ct_status parse_dtype(const meta_ctx *c, const cJSON *obj, const char *what, ct_dtype *out) {
  const char *s = json_str(obj, "dtype");
  if (!s || ct_dtype_parse(s, strlen(s), out) != 0)
    return bad(c, "%s: 'dtype' missing or unknown%s%s%s", what, s ? " ('" : "", s ? s : "",
               s ? "')" : "");
  return CT_OK;
}

/* A shape: an array of at most CT_MAX_RANK dims (integers, or dim text when symbolic). */
static ct_status parse_shape(const meta_ctx *c, const cJSON *obj, const char *what, bool symbolic,
                             int *rank, ct_dim *dims) {
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(obj, "shape");
  if (!cJSON_IsArray(shape)) return bad(c, "%s: 'shape' missing or not an array", what);
  int n = cJSON_GetArraySize(shape);
  if (n > CT_MAX_RANK) return bad(c, "%s: rank %d exceeds %d", what, n, CT_MAX_RANK);
  int i = 0;
  for (const cJSON *d = shape->child; d; d = d->next, i++) {
    int64_t v;
    if (json_int(d, 0, MAX_DIM, &v)) {
      dims[i] = ct_dim_const(v);
    } else if (symbolic && cJSON_IsString(d) && parse_dim_text(c->m, d->valuestring, &dims[i])) {
    } else {
      return bad(c, "%s: dim %d is not a %s", what, i,
                 symbolic ? "size or an expression over the declared symbols"
                          : "non-negative integer");
    }
  }
  *rank = n;
  return CT_OK;
}

static ct_status parse_params(const meta_ctx *c, const cJSON *arr) {
  ct_model *m = c->m;
  if (!arr) return CT_OK;
  if (!cJSON_IsArray(arr)) return bad(c, "'params' is not an array");
  int n = cJSON_GetArraySize(arr);
  if (n > MAX_ITEMS) return bad(c, "%d params (at most %d)", n, MAX_ITEMS);
  m->params = calloc((size_t)n + 1, sizeof *m->params);
  if (!m->params) return api_fail(CT_ERR_NOMEM, "out of memory");
  for (const cJSON *it = arr->child; it; it = it->next) {
    api_param *p = &m->params[m->n_params];
    char what[MAX_NAME + 32];
    snprintf(what, sizeof what, "param %d", m->n_params);
    const char *name = json_str(it, "name");
    if (!cJSON_IsObject(it) || !is_key(name)) return bad(c, "%s: missing or invalid 'name'", what);
    snprintf(what, sizeof what, "param '%s'", name);
    for (int k = 0; k < m->n_params; k++)
      if (strcmp(m->params[k].name, name) == 0) return bad(c, "%s appears twice", what);
    const char *kind = json_str(it, "kind");
    if (kind && strcmp(kind, "weight") == 0)
      p->role = CT_ROLE_PARAM;
    else if (kind && strcmp(kind, "buffer") == 0)
      p->role = CT_ROLE_BUFFER;
    else if (kind && strcmp(kind, "state") == 0)
      p->role = CT_ROLE_STATE;
    else
      return bad(c, "%s: 'kind' must be weight, buffer or state", what);
    ct_dim dims[CT_MAX_RANK];
    ct_status st = parse_dtype(c, it, what, &p->dtype);
    if (st == CT_OK) st = parse_shape(c, it, what, false, &p->rank, dims);
    if (st != CT_OK) return st;
    uint64_t numel = 1;
    for (int d = 0; d < p->rank; d++) {
      p->shape[d] = dims[d].off;
      if (dims[d].off && numel > (uint64_t)MAX_DIM / (uint64_t)dims[d].off)
        return bad(c, "%s: too many elements", what);
      numel *= (uint64_t)dims[d].off;
    }
    int64_t off, nbytes;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(it, "offset"), 0, INT64_MAX, &off) ||
        !json_int(cJSON_GetObjectItemCaseSensitive(it, "nbytes"), 0, INT64_MAX, &nbytes))
      return bad(c, "%s: 'offset' and 'nbytes' must be non-negative integers", what);
    if ((uint64_t)nbytes != numel * ct_dtype_size(p->dtype))
      return bad(c, "%s: nbytes %lld does not match its dtype and shape (%llu)", what,
                 (long long)nbytes, (unsigned long long)(numel * ct_dtype_size(p->dtype)));
    if (off % CT_ALIGN)
      return bad(c, "%s: offset %lld is not %d-byte aligned", what, (long long)off, CT_ALIGN);
    if ((uint64_t)off > c->weights_size || (uint64_t)nbytes > c->weights_size - (uint64_t)off)
      return bad(c, "%s: bytes %lld..+%lld lie outside the weights (%llu bytes)", what,
                 (long long)off, (long long)nbytes, (unsigned long long)c->weights_size);
    p->offset = (uint64_t)off;
    p->nbytes = (uint64_t)nbytes;
    if (!(p->name = dup(name))) return api_fail(CT_ERR_NOMEM, "out of memory");
    m->n_params++;
  }
  return CT_OK;
}

static int find_param(const ct_model *m, const char *name) {
  for (int i = 0; i < m->n_params; i++)
    if (strcmp(m->params[i].name, name) == 0) return i;
  return -1;
}

static bool same_type(const api_param *p, const ct_io_info *io) {
  if (p->dtype != io->dtype || p->rank != io->rank) return false;
  for (int d = 0; d < p->rank; d++)
    if (io->dims[d].sym || io->dims[d].off != p->shape[d]) return false;
  return true;
}

/* inputs or results of an entry. */
static ct_status parse_ios(const meta_ctx *c, const char *entry, const cJSON *arr, bool inputs,
                           int *n_out, ct_io_info **out) {
  const char *list = inputs ? "inputs" : "results";
  if (!cJSON_IsArray(arr)) return bad(c, "entry '%s': '%s' missing or not an array", entry, list);
  int n = cJSON_GetArraySize(arr);
  if (n > MAX_ITEMS) return bad(c, "entry '%s': too many %s", entry, list);
  ct_io_info *ios = calloc((size_t)n + 1, sizeof *ios);
  if (!ios) return api_fail(CT_ERR_NOMEM, "out of memory");
  *out = ios;
  int i = 0;
  for (const cJSON *it = arr->child; it; it = it->next, i++) {
    ct_io_info *io = &ios[i];
    const char *name = json_str(it, "name");
    char what[2 * MAX_NAME + 64];
    if (!cJSON_IsObject(it) || !is_key(name))
      return bad(c, "entry '%s': %s %d: missing or invalid 'name'", entry, list, i);
    snprintf(what, sizeof what, "entry '%s': %s '%s'", entry, inputs ? "input" : "result", name);
    for (int k = 0; k < i; k++)
      if (strcmp(ios[k].name, name) == 0) return bad(c, "%s appears twice", what);
    if (!(io->name = dup(name))) return api_fail(CT_ERR_NOMEM, "out of memory");
    *n_out = i + 1;
    ct_status st = parse_dtype(c, it, what, &io->dtype);
    if (st == CT_OK) st = parse_shape(c, it, what, true, &io->rank, io->dims);
    if (st != CT_OK) return st;
    io->role = CT_ROLE_INPUT;
    if (inputs) {
      static const char *const roles[] = {"input", "target", "param", "buffer", "state"};
      const char *role = json_str(it, "role");
      int r = -1;
      for (int k = 0; role && k < 5; k++)
        if (strcmp(role, roles[k]) == 0) r = k;
      if (r < 0) return bad(c, "%s: 'role' must be input, target, param, buffer or state", what);
      io->role = (ct_role)r;
    }
  }
  *n_out = n;
  return CT_OK;
}

static ct_status parse_entry(const meta_ctx *c, const cJSON *it, api_entry *e) {
  ct_model *m = c->m;
  const char *name = json_str(it, "name");
  if (!cJSON_IsObject(it) || !is_ident(name))
    return bad(c, "an entry has a missing or invalid 'name'");
  if (!(e->name = dup(name))) return api_fail(CT_ERR_NOMEM, "out of memory");
  ct_status st =
      parse_ios(c, name, cJSON_GetObjectItemCaseSensitive(it, "inputs"), true, &e->n_in, &e->in);
  if (st == CT_OK)
    st = parse_ios(c, name, cJSON_GetObjectItemCaseSensitive(it, "results"), false, &e->n_res,
                   &e->res);
  if (st != CT_OK) return st;
  e->in_param = calloc((size_t)e->n_in + 1, sizeof *e->in_param);
  e->user_in = calloc((size_t)e->n_in + 1, sizeof *e->user_in);
  e->res_param = calloc((size_t)e->n_res + 1, sizeof *e->res_param);
  e->user_out = calloc((size_t)e->n_res + 1, sizeof *e->user_out);
  if (!e->in_param || !e->user_in || !e->res_param || !e->user_out)
    return api_fail(CT_ERR_NOMEM, "out of memory");
  bool bound[CT_API_MAX_SYMS + 1] = {false};
  for (int i = 0; i < e->n_in; i++) {
    const ct_io_info *io = &e->in[i];
    e->in_param[i] = -1;
    if (io->role == CT_ROLE_INPUT || io->role == CT_ROLE_TARGET) {
      e->user_in[e->n_user_in++] = i;
      for (int d = 0; d < io->rank; d++)
        bound[io->dims[d].sym] = true;
      continue;
    }
    int p = find_param(m, io->name);
    if (p < 0)
      return bad(c, "entry '%s': input '%s' is a %s but no param has that name", name, io->name,
                 io->role == CT_ROLE_STATE ? "state" : "parameter");
    if (!same_type(&m->params[p], io))
      return bad(c, "entry '%s': input '%s' does not have its param's dtype and shape", name,
                 io->name);
    e->in_param[i] = p;
  }
  for (int i = 0; i < e->n_res; i++) {
    const ct_io_info *io = &e->res[i];
    e->res_param[i] = -1;
    for (int d = 0; d < io->rank; d++)
      if (io->dims[d].sym && !bound[io->dims[d].sym])
        return bad(c, "entry '%s': result '%s' uses symbol '%s', which no input binds", name,
                   io->name, m->syms[io->dims[d].sym]);
    if (strncmp(io->name, "new.", 4) == 0) {
      int p = find_param(m, io->name + 4);
      if (p < 0) return bad(c, "entry '%s': result '%s' updates no param", name, io->name);
      if (!same_type(&m->params[p], io))
        return bad(c, "entry '%s': result '%s' does not have its param's dtype and shape", name,
                   io->name);
      for (int k = 0; k < i; k++)
        if (e->res_param[k] == p)
          return bad(c, "entry '%s': param '%s' is updated twice", name, io->name + 4);
      e->res_param[i] = p;
    } else {
      e->user_out[e->n_user_out++] = i;
    }
  }
  return CT_OK;
}

ct_status api_parse_meta(ct_model *m, const char *json, size_t len, uint64_t weights_size,
                         const char *where) {
  meta_ctx c = {m, where, weights_size};
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) return bad(&c, "not valid JSON");
  ct_status st = CT_OK;
  int64_t abi;
  const cJSON *syms = cJSON_GetObjectItemCaseSensitive(root, "symbols");
  const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
  const char *name = json_str(root, "name");
  if (!cJSON_IsObject(root)) {
    st = bad(&c, "not a JSON object");
  } else if (!json_int(cJSON_GetObjectItemCaseSensitive(root, "abi"), 0, INT32_MAX, &abi)) {
    st = bad(&c, "'abi' missing or not an integer");
  } else if (abi > CT_ABI_VERSION) {
    st = api_fail(CT_ERR_VERSION, "%s: built for model ABI %lld, newer than this runtime's (%d)",
                  where, (long long)abi, CT_ABI_VERSION);
  } else if (abi != CT_ABI_VERSION) {
    st = api_fail(CT_ERR_VERSION, "%s: built for model ABI %lld; this runtime runs ABI %d", where,
                  (long long)abi, CT_ABI_VERSION);
  } else if (!is_ident(name)) {
    st = bad(&c, "'name' missing or not an identifier");
  } else if (syms && !cJSON_IsArray(syms)) {
    st = bad(&c, "'symbols' is not an array");
  } else if (syms && cJSON_GetArraySize(syms) > CT_API_MAX_SYMS) {
    st = bad(&c, "more than %d symbols", CT_API_MAX_SYMS);
  } else if (!cJSON_IsArray(entries) || cJSON_GetArraySize(entries) == 0) {
    st = bad(&c, "'entries' missing, not an array or empty");
  } else if (cJSON_GetArraySize(entries) > MAX_ITEMS) {
    st = bad(&c, "too many entries");
  }
  if (st == CT_OK && !(m->name = dup(name))) st = api_fail(CT_ERR_NOMEM, "out of memory");
  for (const cJSON *s = syms ? syms->child : NULL; s && st == CT_OK; s = s->next) {
    if (!cJSON_IsString(s) || !is_ident(s->valuestring)) {
      st = bad(&c, "symbol %d is not an identifier", m->n_syms + 1);
      break;
    }
    for (int k = 1; k <= m->n_syms; k++)
      if (strcmp(m->syms[k], s->valuestring) == 0)
        st = bad(&c, "symbol '%s' appears twice", s->valuestring);
    if (st == CT_OK && !(m->syms[m->n_syms + 1] = dup(s->valuestring)))
      st = api_fail(CT_ERR_NOMEM, "out of memory");
    if (st == CT_OK) m->n_syms++;
  }
  if (st == CT_OK) st = parse_params(&c, cJSON_GetObjectItemCaseSensitive(root, "params"));
  if (st == CT_OK) {
    int n = cJSON_GetArraySize(entries);
    m->entries = calloc((size_t)n, sizeof *m->entries);
    if (!m->entries) st = api_fail(CT_ERR_NOMEM, "out of memory");
    for (const cJSON *it = entries->child; it && st == CT_OK; it = it->next) {
      st = parse_entry(&c, it, &m->entries[m->n_entries]);
      m->n_entries++;
      for (int k = 0; st == CT_OK && k < m->n_entries - 1; k++)
        if (strcmp(m->entries[k].name, m->entries[m->n_entries - 1].name) == 0)
          st = bad(&c, "entry '%s' appears twice", m->entries[k].name);
    }
  }
  cJSON_Delete(root);
  return st;
}
