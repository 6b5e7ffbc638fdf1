/* runtime/safetensors.c: the safetensors reader and writer used by the package loader and the
 * CLI to bring PyTorch weights in and out. The reader trusts nothing in the file: every length,
 * dtype, shape and offset is checked before a tensor is made.
 *
 * Alignment: a tensor is a zero-copy view of the mapping (or of the parsed copy) when its data
 * is aligned to its element size, which is what the Python library produces; otherwise it is
 * copied into fresh 64-byte aligned storage, so every tensor is at least naturally aligned.
 * Views are not necessarily 64-byte aligned. The mapping is private (copy on write): writing a
 * view never changes the file. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctorch/safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

#define HEADER_LIMIT 100000000u     /* the Python library's limit on the JSON header */
#define EXACT_INT_LIMIT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact */

/* The bytes every view points into: an mmap'd file or a malloc'd copy. Refcounted by the file
 * and by each view's storage. */
typedef struct backing {
  void *base;
  size_t len;
  bool is_mmap;
  _Atomic int refs;
} backing;

struct ct_st_file {
  int n;
  char **names;
  ct_tensor **tensors;
  int *by_name; /* tensor indices sorted by name, for ct_st_find */
  int n_meta;
  char **meta_keys, **meta_values;
  backing *back;
};

static void backing_unref(backing *b) {
  if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
  if (b->is_mmap)
    munmap(b->base, b->len);
  else
    ct_aligned_free(b->base);
  free(b);
}

static void view_release(void *ctx, void *data) {
  (void)data;
  backing_unref(ctx);
}

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct reader {
  const char *file;
  ct_diag *diag;
} reader;

static ct_status fail(const reader *r, ct_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ct_status fail(const reader *r, ct_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_diag_vadd(r->diag, CT_SEV_ERROR, r->file, 0, 0, fmt, ap);
  va_end(ap);
  return st;
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF); returns the offset of the
 * first bad byte, or len when all is well. */
static size_t utf8_check(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (len - i <= n) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k <= n; k++)
      if ((s[i + k] & 0xc0) != 0x80) return i;
    i += n + 1;
  }
  return len;
}

/* A JSON number that is an exact non-negative integer. */
static bool json_uint(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!isfinite(d) || d < 0 || d > EXACT_INT_LIMIT || d != floor(d)) return false;
  *out = (uint64_t)d;
  return true;
}

static void format_shape(char *buf, size_t size, ct_dtype dt, int rank, const int64_t *shape) {
  size_t used = (size_t)snprintf(buf, size, "%s[", ct_dtype_name(dt));
  for (int i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)shape[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

typedef struct entry {
  const char *name;
  ct_dtype dtype;
  int rank;
  int64_t shape[CT_MAX_RANK];
  uint64_t begin, end;
  int index; /* position in the header */
} entry;

static int cmp_range(const void *a, const void *b) {
  const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

typedef struct name_index {
  const char *name;
  int index;
} name_index;

static int cmp_name_index(const void *a, const void *b) {
  return strcmp(((const name_index *)a)->name, ((const name_index *)b)->name);
}

static int cmp_name_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads one tensor entry's dtype, shape and data_offsets. */
static ct_status read_entry(const reader *r, const cJSON *item, uint64_t data_len, entry *e) {
  const char *name = item->string;
  if (!cJSON_IsObject(item)) return fail(r, CT_ERR_FORMAT, "tensor '%s': entry is not an object", name);
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!dtype) return fail(r, CT_ERR_FORMAT, "tensor '%s': missing 'dtype'", name);
  if (!cJSON_IsString(dtype))
    return fail(r, CT_ERR_FORMAT, "tensor '%s': 'dtype' is not a string", name);
  if (ct_dtype_parse_st(dtype->valuestring, &e->dtype) != 0)
    return fail(r, CT_ERR_FORMAT, "tensor '%s': unknown dtype '%s'", name, dtype->valuestring);
  if (!shape) return fail(r, CT_ERR_FORMAT, "tensor '%s': missing 'shape'", name);
  if (!cJSON_IsArray(shape))
    return fail(r, CT_ERR_FORMAT, "tensor '%s': 'shape' is not an array", name);
  int rank = cJSON_GetArraySize(shape);
  if (rank > CT_MAX_RANK)
    return fail(r, CT_ERR_FORMAT, "tensor '%s': rank %d exceeds the maximum of %d", name, rank,
                CT_MAX_RANK);
  e->rank = rank;
  uint64_t numel = 1;
  bool overflow = false, has_zero = false;
  int d = 0;
  for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
    uint64_t v;
    if (!json_uint(dim, &v))
      return fail(r, CT_ERR_FORMAT, "tensor '%s': shape dim %d is not a non-negative integer",
                  name, d);
    e->shape[d] = (int64_t)v;
    if (v == 0) has_zero = true;
    else if (numel > UINT64_MAX / v) overflow = true;
    numel *= v;
  }
  size_t es = ct_dtype_size(e->dtype);
  /* A zero dim makes a valid empty tensor however large the other dims are. */
  if (has_zero) numel = 0;
  if (!has_zero && (overflow || numel > UINT64_MAX / es || numel > (uint64_t)INT64_MAX / es))
    return fail(r, CT_ERR_FORMAT, "tensor '%s': shape is too large (element count overflows)",
                name);
  uint64_t nbytes = numel * es;
  if (!offs) return fail(r, CT_ERR_FORMAT, "tensor '%s': missing 'data_offsets'", name);
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &e->begin) ||
      !json_uint(offs->child->next, &e->end))
    return fail(r, CT_ERR_FORMAT,
                "tensor '%s': 'data_offsets' is not two non-negative integers", name);
  char desc[160];
  format_shape(desc, sizeof desc, e->dtype, e->rank, e->shape);
  if (e->begin > e->end)
    return fail(r, CT_ERR_FORMAT, "tensor '%s': data_offsets [%llu, %llu] begin after end", name,
                (unsigned long long)e->begin, (unsigned long long)e->end);
  if (e->end > data_len)
    return fail(r, CT_ERR_FORMAT,
                "tensor '%s': data_offsets [%llu, %llu] extend beyond the %llu-byte data buffer",
                name, (unsigned long long)e->begin, (unsigned long long)e->end,
                (unsigned long long)data_len);
  if (e->end - e->begin != nbytes)
    return fail(r, CT_ERR_FORMAT, "tensor '%s': data_offsets [%llu, %llu] do not match %s (%llu bytes)",
                name, (unsigned long long)e->begin, (unsigned long long)e->end, desc,
                (unsigned long long)nbytes);
  return CT_OK;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *c = malloc(n);
  if (c) memcpy(c, s, n);
  return c;
}

static ct_status read_metadata(const reader *r, const cJSON *meta, ct_st_file *f) {
  if (!cJSON_IsObject(meta)) return fail(r, CT_ERR_FORMAT, "'__metadata__' is not an object");
  int n = cJSON_GetArraySize(meta);
  f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
  f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
  if (!f->meta_keys || !f->meta_values) return fail(r, CT_ERR_NOMEM, "out of memory");
  for (const cJSON *kv = meta->child; kv; kv = kv->next) {
    if (!cJSON_IsString(kv))
      return fail(r, CT_ERR_FORMAT, "'__metadata__' value of '%s' is not a string", kv->string);
    for (int i = 0; i < f->n_meta; i++)
      if (strcmp(f->meta_keys[i], kv->string) == 0)
        return fail(r, CT_ERR_FORMAT, "'__metadata__': duplicate key '%s'", kv->string);
    f->meta_keys[f->n_meta] = dup_str(kv->string);
    f->meta_values[f->n_meta] = dup_str(kv->valuestring);
    if (!f->meta_keys[f->n_meta] || !f->meta_values[f->n_meta])
      return fail(r, CT_ERR_NOMEM, "out of memory");
    f->n_meta++;
  }
  return CT_OK;
}

/* Makes the tensor for e: a view of the backing when naturally aligned, else an aligned copy. */
static ct_tensor *make_tensor(const entry *e, backing *b, const unsigned char *data) {
  const unsigned char *p = data + e->begin;
  if ((uintptr_t)p % ct_dtype_size(e->dtype) == 0) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    ct_tensor *t = ct_tensor_wrap(e->dtype, e->rank, e->shape, (void *)p, view_release, b);
    if (!t) backing_unref(b);
    return t;
  }
  ct_tensor *t = ct_tensor_empty(e->dtype, e->rank, e->shape);
  if (t && e->end > e->begin) memcpy(ct_tensor_data(t), p, e->end - e->begin);
  return t;
}

/* Parses the image in b; on success *out holds a file with its own reference to b. */
static ct_status parse_image(const reader *r, backing *b, ct_st_file **out) {
  const unsigned char *img = b->base;
  size_t len = b->len;
  if (len < 8)
    return fail(r, CT_ERR_FORMAT, "file is %zu bytes, too short for the 8-byte header length",
                len);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | img[i];
  if (hlen > HEADER_LIMIT)
    return fail(r, CT_ERR_FORMAT, "header length %llu exceeds the limit of %u bytes",
                (unsigned long long)hlen, HEADER_LIMIT);
  if (hlen > len - 8)
    return fail(r, CT_ERR_FORMAT, "header length %llu exceeds the %zu bytes after offset 8",
                (unsigned long long)hlen, len - 8);
  if (hlen == 0) return fail(r, CT_ERR_FORMAT, "header length is 0; expected a JSON object");
  const char *hdr = (const char *)img + 8;
  size_t bad = utf8_check((const unsigned char *)hdr, hlen);
  if (bad != hlen)
    return fail(r, CT_ERR_FORMAT, "header is not valid UTF-8 at byte offset %zu", 8 + bad);
  if (memchr(hdr, '\0', hlen))
    return fail(r, CT_ERR_FORMAT, "header contains a NUL byte at byte offset %zu",
                8 + (size_t)((const char *)memchr(hdr, '\0', hlen) - hdr));
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
  if (!root) {
    size_t at = end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
    return fail(r, CT_ERR_FORMAT, "header is not valid JSON (near byte offset %zu)", 8 + at);
  }
  for (const char *p = end; p < hdr + hlen; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      cJSON_Delete(root);
      return fail(r, CT_ERR_FORMAT, "unexpected data after the JSON header at byte offset %zu",
                  8 + (size_t)(p - hdr));
    }
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return fail(r, CT_ERR_FORMAT, "header is not a JSON object");
  }

  uint64_t data_len = len - 8 - hlen;
  const unsigned char *data = img + 8 + hlen;
  int n_items = cJSON_GetArraySize(root);
  ct_st_file *f = calloc(1, sizeof *f);
  entry *entries = calloc((size_t)n_items + 1, sizeof *entries);
  entry **ranges = calloc((size_t)n_items + 1, sizeof *ranges);
  const char **keys = calloc((size_t)n_items + 1, sizeof *keys);
  ct_status st = CT_OK;
  if (!f || !entries || !ranges || !keys) {
    st = fail(r, CT_ERR_NOMEM, "out of memory");
    goto done;
  }
  int n_keys = 0;
  const cJSON *meta = NULL;
  for (const cJSON *item = root->child; item; item = item->next) {
    keys[n_keys++] = item->string;
    if (strcmp(item->string, "__metadata__") == 0) {
      meta = item;
      continue;
    }
    entry *e = &entries[f->n];
    e->name = item->string;
    e->index = f->n;
    if ((st = read_entry(r, item, data_len, e)) != CT_OK) goto done;
    ranges[f->n] = e;
    f->n++;
  }
  qsort(keys, (size_t)n_keys, sizeof *keys, cmp_name_keys);
  for (int i = 1; i < n_keys; i++)
    if (strcmp(keys[i - 1], keys[i]) == 0) {
      st = fail(r, CT_ERR_FORMAT, "duplicate key '%s' in the header", keys[i]);
      goto done;
    }
  /* Empty tensors own no bytes, so they cannot overlap anything. */
  qsort(ranges, (size_t)f->n, sizeof *ranges, cmp_range);
  const entry *prev = NULL;
  for (int i = 0; i < f->n; i++) {
    const entry *e = ranges[i];
    if (e->begin == e->end) continue;
    if (prev && e->begin < prev->end) {
      st = fail(r, CT_ERR_FORMAT,
                "tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' [%llu, %llu]", e->name,
                (unsigned long long)e->begin, (unsigned long long)e->end, prev->name,
                (unsigned long long)prev->begin, (unsigned long long)prev->end);
      goto done;
    }
    prev = e;
  }
  if (meta && (st = read_metadata(r, meta, f)) != CT_OK) goto done;

  f->names = calloc((size_t)f->n + 1, sizeof *f->names);
  f->tensors = calloc((size_t)f->n + 1, sizeof *f->tensors);
  f->by_name = calloc((size_t)f->n + 1, sizeof *f->by_name);
  if (!f->names || !f->tensors || !f->by_name) {
    st = fail(r, CT_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < f->n; i++) {
    f->names[i] = dup_str(entries[i].name);
    f->tensors[i] = make_tensor(&entries[i], b, data);
    if (!f->names[i] || !f->tensors[i]) {
      st = fail(r, CT_ERR_NOMEM, "tensor '%s': out of memory", entries[i].name);
      goto done;
    }
  }
  name_index *order = malloc(((size_t)f->n + 1) * sizeof *order);
  if (!order) {
    st = fail(r, CT_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < f->n; i++) order[i] = (name_index){f->names[i], i};
  qsort(order, (size_t)f->n, sizeof *order, cmp_name_index);
  for (int i = 0; i < f->n; i++) f->by_name[i] = order[i].index;
  free(order);
  atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
  f->back = b;

done:
  cJSON_Delete(root);
  free(entries);
  free(ranges);
  free(keys);
  if (st != CT_OK) {
    ct_st_free(f);
    return st;
  }
  *out = f;
  return CT_OK;
}

ct_status ct_st_parse(const void *data, size_t len, const char *file, ct_st_file **out,
                      ct_diag *diag) {
  reader r = {file, diag};
  *out = NULL;
  backing *b = calloc(1, sizeof *b);
  void *copy = ct_aligned_alloc(len);
  if (!b || !copy) {
    free(b);
    ct_aligned_free(copy);
    return fail(&r, CT_ERR_NOMEM, "out of memory copying %zu bytes", len);
  }
  if (len) memcpy(copy, data, len);
  b->base = copy;
  b->len = len;
  atomic_init(&b->refs, 1);
  ct_status st = parse_image(&r, b, out);
  backing_unref(b);
  return st;
}

ct_status ct_st_load(const char *path, ct_st_file **out, ct_diag *diag) {
  reader r = {path, diag};
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(&r, CT_ERR_IO, "cannot open: %s", strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int err = errno;
    close(fd);
    return fail(&r, CT_ERR_IO, "cannot stat: %s", strerror(err));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return fail(&r, CT_ERR_IO, "not a regular file");
  }
  size_t len = (size_t)sb.st_size;
  if (len < 8) {
    close(fd);
    return fail(&r, CT_ERR_FORMAT, "file is %zu bytes, too short for the 8-byte header length",
                len);
  }
  /* Private and writable: views may be written (copy on write) without touching the file. */
  void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (base == MAP_FAILED) return fail(&r, CT_ERR_IO, "cannot map: %s", strerror(err));
  backing *b = calloc(1, sizeof *b);
  if (!b) {
    munmap(base, len);
    return fail(&r, CT_ERR_NOMEM, "out of memory");
  }
  b->base = base;
  b->len = len;
  b->is_mmap = true;
  atomic_init(&b->refs, 1);
  ct_status st = parse_image(&r, b, out);
  backing_unref(b);
  return st;
}

void ct_st_free(ct_st_file *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) {
    if (f->names) free(f->names[i]);
    if (f->tensors) ct_tensor_release(f->tensors[i]);
  }
  for (int i = 0; i < f->n_meta; i++) {
    free(f->meta_keys[i]);
    free(f->meta_values[i]);
  }
  free(f->names);
  free(f->tensors);
  free(f->by_name);
  free(f->meta_keys);
  free(f->meta_values);
  backing_unref(f->back);
  free(f);
}

int ct_st_count(const ct_st_file *f) { return f ? f->n : 0; }

const char *ct_st_name(const ct_st_file *f, int i) {
  return f && i >= 0 && i < f->n ? f->names[i] : NULL;
}

ct_tensor *ct_st_tensor(const ct_st_file *f, int i) {
  return f && i >= 0 && i < f->n ? f->tensors[i] : NULL;
}

ct_tensor *ct_st_find(const ct_st_file *f, const char *name) {
  if (!f || !name) return NULL;
  int lo = 0, hi = f->n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(f->names[f->by_name[mid]], name);
    if (c == 0) return f->tensors[f->by_name[mid]];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

const char *ct_st_metadata(const ct_st_file *f, const char *key) {
  if (!f || !key) return NULL;
  for (int i = 0; i < f->n_meta; i++)
    if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
  return NULL;
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct strbuf {
  char *s;
  size_t len, cap;
  bool oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(strbuf *b, uint64_t v) {
  char num[24];
  int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
  sb_put(b, num, (size_t)n);
}

/* A JSON string: quotes, backslashes and control characters escaped, UTF-8 passed through. */
static void sb_json_str(strbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      sb_put(b, esc, 2);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      sb_put(b, esc, 6);
    } else {
      sb_put(b, (const char *)&c, 1);
    }
  }
  sb_put(b, "\"", 1);
}

/* A prepared file: the padded header and contiguous tensors, ready to be emitted. */
typedef struct plan {
  strbuf header;
  ct_tensor **dense; /* contiguous references, one per tensor */
  int n;
  uint64_t data_len;
} plan;

static void plan_free(plan *p) {
  for (int i = 0; i < p->n; i++) ct_tensor_release(p->dense[i]);
  free(p->dense);
  free(p->header.s);
}

static ct_status plan_build(plan *p, int n, const char *const *names, ct_tensor *const *tensors,
                            int n_meta, const char *const *meta_keys,
                            const char *const *meta_values, const char *file, ct_diag *diag) {
  memset(p, 0, sizeof *p);
  if (n < 0 || n_meta < 0 || (n > 0 && (!names || !tensors)) ||
      (n_meta > 0 && (!meta_keys || !meta_values)))
    return ct_diag_error(diag, file, 0, 0, "invalid tensor or metadata list");
  for (int i = 0; i < n; i++) {
    if (!names[i] || !tensors[i])
      return ct_diag_error(diag, file, 0, 0, "tensor %d: NULL name or tensor", i);
    if (strcmp(names[i], "__metadata__") == 0)
      return ct_diag_error(diag, file, 0, 0, "tensor name '__metadata__' is reserved");
    if (utf8_check((const unsigned char *)names[i], strlen(names[i])) != strlen(names[i]))
      return ct_diag_error(diag, file, 0, 0, "tensor %d: name is not valid UTF-8", i);
    if ((unsigned)tensors[i]->dtype >= CT_DT_COUNT)
      return ct_diag_error(diag, file, 0, 0, "tensor '%s': invalid dtype", names[i]);
    for (int j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        return ct_diag_error(diag, file, 0, 0, "duplicate tensor name '%s'", names[i]);
  }
  for (int i = 0; i < n_meta; i++) {
    if (!meta_keys[i] || !meta_values[i])
      return ct_diag_error(diag, file, 0, 0, "metadata %d: NULL key or value", i);
    size_t kl = strlen(meta_keys[i]), vl = strlen(meta_values[i]);
    if (utf8_check((const unsigned char *)meta_keys[i], kl) != kl ||
        utf8_check((const unsigned char *)meta_values[i], vl) != vl)
      return ct_diag_error(diag, file, 0, 0, "metadata '%s': not valid UTF-8", meta_keys[i]);
    for (int j = 0; j < i; j++)
      if (strcmp(meta_keys[i], meta_keys[j]) == 0)
        return ct_diag_error(diag, file, 0, 0, "duplicate metadata key '%s'", meta_keys[i]);
  }
  p->dense = calloc((size_t)n + 1, sizeof *p->dense);
  if (!p->dense) return ct_diag_error(diag, file, 0, 0, "out of memory");
  strbuf *h = &p->header;
  sb_puts(h, "{");
  bool first = true;
  if (n_meta > 0) {
    sb_puts(h, "\"__metadata__\":{");
    for (int i = 0; i < n_meta; i++) {
      if (i) sb_puts(h, ",");
      sb_json_str(h, meta_keys[i]);
      sb_puts(h, ":");
      sb_json_str(h, meta_values[i]);
    }
    sb_puts(h, "}");
    first = false;
  }
  for (int i = 0; i < n; i++) {
    ct_tensor *t = ct_tensor_contiguous(tensors[i]);
    if (!t) {
      plan_free(p);
      return ct_diag_error(diag, file, 0, 0, "tensor '%s': out of memory", names[i]);
    }
    p->dense[p->n++] = t;
    uint64_t nbytes = ct_tensor_nbytes(t);
    if (!first) sb_puts(h, ",");
    first = false;
    sb_json_str(h, names[i]);
    sb_puts(h, ":{\"dtype\":");
    sb_json_str(h, ct_dtype_st_name(t->dtype));
    sb_puts(h, ",\"shape\":[");
    for (int d = 0; d < t->rank; d++) {
      if (d) sb_puts(h, ",");
      sb_u64(h, (uint64_t)t->shape[d]);
    }
    sb_puts(h, "],\"data_offsets\":[");
    sb_u64(h, p->data_len);
    sb_puts(h, ",");
    sb_u64(h, p->data_len + nbytes);
    sb_puts(h, "]}");
    p->data_len += nbytes;
  }
  sb_puts(h, "}");
  while (h->len % 8 != 0) sb_puts(h, " "); /* the data then starts 8-byte aligned */
  if (h->oom) {
    plan_free(p);
    return ct_diag_error(diag, file, 0, 0, "out of memory");
  }
  return CT_OK;
}

static void le64(unsigned char out[8], uint64_t v) {
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)(v >> (8 * i));
}

ct_status ct_st_serialize(int n, const char *const *names, ct_tensor *const *tensors, int n_meta,
                          const char *const *meta_keys, const char *const *meta_values,
                          void **out, size_t *out_len, ct_diag *diag) {
  *out = NULL;
  *out_len = 0;
  plan p;
  ct_status st = plan_build(&p, n, names, tensors, n_meta, meta_keys, meta_values, NULL, diag);
  if (st != CT_OK) return st;
  uint64_t total = 8 + p.header.len + p.data_len;
  unsigned char *buf = total <= SIZE_MAX ? malloc((size_t)total) : NULL;
  if (!buf) {
    plan_free(&p);
    return ct_diag_error(diag, NULL, 0, 0, "out of memory for a %llu-byte file",
                         (unsigned long long)total);
  }
  le64(buf, p.header.len);
  memcpy(buf + 8, p.header.s, p.header.len);
  size_t pos = 8 + p.header.len;
  for (int i = 0; i < p.n; i++) {
    size_t nb = ct_tensor_nbytes(p.dense[i]);
    if (nb) memcpy(buf + pos, ct_tensor_data(p.dense[i]), nb);
    pos += nb;
  }
  plan_free(&p);
  *out = buf;
  *out_len = (size_t)total;
  return CT_OK;
}

static bool write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    len -= (size_t)w;
  }
  return true;
}

ct_status ct_st_save(const char *path, int n, const char *const *names, ct_tensor *const *tensors,
                     int n_meta, const char *const *meta_keys, const char *const *meta_values,
                     ct_diag *diag) {
  static _Atomic unsigned counter;
  plan p;
  ct_status st = plan_build(&p, n, names, tensors, n_meta, meta_keys, meta_values, path, diag);
  if (st != CT_OK) return st;
  size_t tmp_size = strlen(path) + 48;
  char *tmp = malloc(tmp_size);
  int fd = -1;
  for (int attempt = 0; tmp && fd < 0 && attempt < 100; attempt++) {
    snprintf(tmp, tmp_size, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&counter, 1));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    int err = errno;
    free(tmp);
    plan_free(&p);
    ct_diag_error(diag, path, 0, 0, "cannot create a temporary file: %s", strerror(err));
    return CT_ERR_IO;
  }
  unsigned char len8[8];
  le64(len8, p.header.len);
  bool ok = write_all(fd, len8, 8) && write_all(fd, p.header.s, p.header.len);
  for (int i = 0; ok && i < p.n; i++)
    ok = write_all(fd, ct_tensor_data(p.dense[i]), ct_tensor_nbytes(p.dense[i]));
  /* fsync before the rename so that a crash leaves the old file or the whole new one. */
  ok = ok && fsync(fd) == 0;
  int err = errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && rename(tmp, path) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) unlink(tmp);
  free(tmp);
  plan_free(&p);
  if (!ok) {
    ct_diag_error(diag, path, 0, 0, "cannot write: %s", strerror(err));
    return CT_ERR_IO;
  }
  return CT_OK;
}
