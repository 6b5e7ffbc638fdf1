/* runtime/api/model.c: loading a compiled model (include/ctorch/ctorch.h): a .ctm package
 * (checked container, metadata, weights as views of the private mapping, native code through
 * memfd + dlopen, IR for the interpreter fallback) or a ctorchc .so (its ctorch_model_info
 * metadata and embedded weights); the accessors and the thread-local error. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api_internal.h"

static _Thread_local char last_error[1024];

const char *ct_last_error(void) { return last_error; }

ct_status api_fail(ct_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return st;
}

/* The first error of a diag as "file: message". */
static ct_status fail_diag(ct_status st, const ct_diag *d) {
  for (int i = 0; i < d->n; i++) {
    const ct_diag_entry *e = &d->items[i];
    if (e->sev != CT_SEV_ERROR) continue;
    if (e->file && e->line) return api_fail(st, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
    if (e->file) return api_fail(st, "%s: %s", e->file, e->msg);
    return api_fail(st, "%s", e->msg);
  }
  return api_fail(st, "%s", ct_status_name(st));
}

static ct_model *model_new(const char *path) {
  ct_model *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  size_t n = strlen(path) + 1;
  if (!(m->path = malloc(n))) {
    free(m);
    return NULL;
  }
  memcpy(m->path, path, n);
  return m;
}

/* Points every parameter at its bytes in the weights blob (borrowed views). */
static ct_status bind_weights(ct_model *m, const uint8_t *weights) {
  static _Alignas(CT_ALIGN) uint8_t none[CT_ALIGN]; /* for empty params of a weightless package */
  if (!weights) weights = none;
  for (int i = 0; i < m->n_params; i++) {
    api_param *p = &m->params[i];
    p->cur = ct_tensor_wrap(p->dtype, p->rank, p->shape, (void *)(weights + p->offset), NULL, NULL);
    if (!p->cur) return api_fail(CT_ERR_NOMEM, "out of memory");
    p->writable = m->pkg != NULL; /* a .so's embedded weights are read-only */
  }
  return CT_OK;
}

/* The native section, written to an anonymous memory file and dlopen'ed from /proc/self/fd. */
static ct_status open_native_section(ct_model *m, const ct_pkg_section *s, char *why,
                                     size_t why_size) {
  int fd = memfd_create("ctorch-model", MFD_CLOEXEC);
  if (fd < 0) {
    snprintf(why, why_size, "memfd_create: %s", strerror(errno));
    return CT_ERR_IO;
  }
  size_t done = 0;
  while (done < s->size) {
    ssize_t w = write(fd, s->data + done, (size_t)s->size - done);
    if (w <= 0) {
      snprintf(why, why_size, "writing the native code: %s", strerror(errno));
      close(fd);
      return CT_ERR_IO;
    }
    done += (size_t)w;
  }
  char fdpath[64];
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
  m->dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
  close(fd);
  if (!m->dl) {
    const char *e = dlerror();
    snprintf(why, why_size, "%s", e ? e : "dlopen failed");
    return CT_ERR_UNSUPPORTED;
  }
  return CT_OK;
}

static ct_status load_ctm(ct_model *m, const void *image, size_t len, unsigned flags) {
  ct_diag diag;
  ct_diag_init(&diag);
  ct_status st = image ? ct_package_parse(image, len, m->path, &m->pkg, &diag)
                       : ct_package_open(m->path, &m->pkg, &diag);
  if (st != CT_OK) {
    fail_diag(st, &diag);
    ct_diag_free(&diag);
    return st;
  }
  ct_diag_free(&diag);
  const ct_pkg_section *meta = ct_package_find(m->pkg, CT_PKG_META);
  const ct_pkg_section *weights = ct_package_find(m->pkg, CT_PKG_WEIGHTS);
  const ct_pkg_section *ir = ct_package_find(m->pkg, CT_PKG_IR);
  const ct_pkg_section *native =
      flags & CT_LOAD_INTERPRET ? NULL : ct_package_find(m->pkg, CT_PKG_NATIVE);
  st = api_parse_meta(m, (const char *)meta->data, (size_t)meta->size, weights ? weights->size : 0,
                      m->path);
  if (st == CT_OK) st = bind_weights(m, weights ? weights->data : NULL);
  if (st != CT_OK) return st;
  if (native) {
    char why[512];
    if (open_native_section(m, native, why, sizeof why) == CT_OK) {
      st = api_bind_native(m, m->path);
      if (st == CT_OK) st = api_check_native_meta(m, m->path);
      if (st != CT_OK) return st;
    } else if (!ir) {
      return api_fail(CT_ERR_UNSUPPORTED,
                      "%s: cannot load the native code (%s) and the package "
                      "has no IR to interpret",
                      m->path, why);
    }
  }
  const api_entry *interpreted = NULL;
  for (int i = 0; i < m->n_entries && !interpreted; i++)
    if (!m->entries[i].call) interpreted = &m->entries[i];
  if (interpreted) {
    if (!ir)
      return api_fail(CT_ERR_FORMAT,
                      "%s: entry '%s' has no native code and the package has no "
                      "IR section",
                      m->path, interpreted->name);
    st = api_load_ir(m, (const char *)ir->data, (size_t)ir->size, m->path);
  }
  return st;
}

static ct_status load_so(ct_model *m) {
  char *so = m->path;
  char local[4096];
  if (!strchr(so, '/')) { /* dlopen searches the library path for a bare name */
    snprintf(local, sizeof local, "./%s", so);
    so = local;
  }
  m->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!m->dl) {
    const char *e = dlerror();
    return api_fail(CT_ERR_FORMAT,
                    "%s: neither a ctorch package nor a loadable shared object "
                    "(%s)",
                    m->path, e ? e : "dlopen failed");
  }
  ct_abi_info_fn info = (ct_abi_info_fn)dlsym(m->dl, "ctorch_model_info");
  if (!info)
    return api_fail(CT_ERR_FORMAT,
                    "%s: a shared object without ctorch_model_info: not built by "
                    "ctorchc",
                    m->path);
  const char *json = info();
  if (!json) return api_fail(CT_ERR_FORMAT, "%s: ctorch_model_info returned NULL", m->path);
  ct_status st = api_parse_meta(m, json, strlen(json), UINT64_MAX, m->path);
  if (st == CT_OK) st = api_bind_native(m, m->path);
  if (st != CT_OK) return st;
  for (int i = 0; i < m->n_entries; i++)
    if (!m->entries[i].call)
      return api_fail(CT_ERR_FORMAT, "%s: no symbol %s_%s_call", m->path, m->name,
                      m->entries[i].name);
  char sym[600];
  snprintf(sym, sizeof sym, "%s_weights", m->name);
  const uint8_t *weights = dlsym(m->dl, sym);
  /* Without embedded weights (--external-weights) the parameters wait for ct_model_load_params. */
  return weights ? bind_weights(m, weights) : CT_OK;
}

ct_status ct_model_load(const char *path, ct_model **out) {
  return ct_model_load_flags(path, 0, out);
}

ct_status ct_model_load_memory(const void *data, size_t len, const char *name, unsigned flags,
                               ct_model **out) {
  *out = NULL;
  if (!data && len) return api_fail(CT_ERR_INVALID, "ct_model_load_memory: data is NULL");
  ct_model *m = model_new(name ? name : "<memory>");
  if (!m) return api_fail(CT_ERR_NOMEM, "out of memory");
  ct_status st = load_ctm(m, data ? data : "", len, flags);
  if (st != CT_OK) {
    ct_model_free(m);
    return st;
  }
  *out = m;
  return CT_OK;
}

ct_status ct_model_load_flags(const char *path, unsigned flags, ct_model **out) {
  *out = NULL;
  if (!path) return api_fail(CT_ERR_INVALID, "ct_model_load: path is NULL");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return api_fail(CT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char magic[8] = {0};
  ssize_t got = read(fd, magic, sizeof magic);
  close(fd);
  if (got < 0) return api_fail(CT_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
  ct_model *m = model_new(path);
  if (!m) return api_fail(CT_ERR_NOMEM, "out of memory");
  static const char elf[4] = {0x7f, 'E', 'L', 'F'};
  ct_status st;
  if (got >= 4 && memcmp(magic, elf, 4) == 0)
    st = flags & CT_LOAD_INTERPRET
             ? api_fail(CT_ERR_UNSUPPORTED, "%s: a shared object has no IR to interpret", path)
             : load_so(m);
  else
    st = load_ctm(m, NULL, 0, flags); /* anything else is read as a package */
  if (st != CT_OK) {
    ct_model_free(m);
    return st;
  }
  *out = m;
  return CT_OK;
}

void ct_model_free(ct_model *m) {
  if (!m) return;
  for (int i = 0; i < m->n_params; i++) {
    free(m->params[i].name);
    ct_tensor_release(m->params[i].cur);
    ct_tensor_release(m->params[i].spare);
  }
  free(m->params);
  for (int i = 0; i < m->n_entries; i++) {
    api_entry *e = &m->entries[i];
    for (int k = 0; k < e->n_in; k++)
      free((char *)e->in[k].name);
    for (int k = 0; k < e->n_res; k++)
      free((char *)e->res[k].name);
    free(e->in);
    free(e->res);
    free(e->in_param);
    free(e->res_param);
    free(e->user_in);
    free(e->user_out);
    free(e->name);
  }
  free(m->entries);
  for (int i = 1; i <= m->n_syms; i++)
    free(m->syms[i]);
  api_free_ir(m);
  if (m->dl) dlclose(m->dl);
  ct_package_free(m->pkg);
  ct_aligned_free(m->workspace);
  free(m->name);
  free(m->path);
  free(m);
}

const char *ct_model_name(const ct_model *m) { return m->name; }
int ct_model_num_symbols(const ct_model *m) { return m->n_syms; }
const char *ct_model_symbol(const ct_model *m, int sym) {
  return sym >= 1 && sym <= m->n_syms ? m->syms[sym] : NULL;
}
int ct_model_num_entries(const ct_model *m) { return m->n_entries; }
const char *ct_model_entry_name(const ct_model *m, int entry) {
  return entry >= 0 && entry < m->n_entries ? m->entries[entry].name : NULL;
}

int ct_model_find_entry(const ct_model *m, const char *name) {
  for (int i = 0; i < m->n_entries; i++)
    if (name && strcmp(m->entries[i].name, name) == 0) return i;
  char have[512] = "";
  for (int i = 0; i < m->n_entries; i++) {
    size_t used = strlen(have);
    snprintf(have + used, sizeof have - used, "%s%s", i ? ", " : "", m->entries[i].name);
  }
  api_fail(CT_ERR_INVALID, "%s: no entry '%s' (entries: %s)", m->path, name ? name : "(null)",
           have);
  return -1;
}

static const api_entry *entry_at(const ct_model *m, int entry) {
  return entry >= 0 && entry < m->n_entries ? &m->entries[entry] : NULL;
}

bool ct_model_entry_is_native(const ct_model *m, int entry) {
  const api_entry *e = entry_at(m, entry);
  return e && e->call;
}
int ct_model_num_inputs(const ct_model *m, int entry) {
  const api_entry *e = entry_at(m, entry);
  return e ? e->n_user_in : 0;
}
const ct_io_info *ct_model_input(const ct_model *m, int entry, int i) {
  const api_entry *e = entry_at(m, entry);
  return e && i >= 0 && i < e->n_user_in ? &e->in[e->user_in[i]] : NULL;
}
int ct_model_num_outputs(const ct_model *m, int entry) {
  const api_entry *e = entry_at(m, entry);
  return e ? e->n_user_out : 0;
}
const ct_io_info *ct_model_output(const ct_model *m, int entry, int i) {
  const api_entry *e = entry_at(m, entry);
  return e && i >= 0 && i < e->n_user_out ? &e->res[e->user_out[i]] : NULL;
}

void ct_model_format_type(const ct_model *m, const ct_io_info *io, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "%s[", ct_dtype_name(io->dtype));
  for (int i = 0; i < io->rank && used < size; i++) {
    ct_dim d = io->dims[i];
    const char *sep = i ? "," : "";
    if (!d.sym)
      used += (size_t)snprintf(buf + used, size - used, "%s%lld", sep, (long long)d.off);
    else if (d.coef == 1)
      used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, m->syms[d.sym]);
    else
      used += (size_t)snprintf(buf + used, size - used, "%s%lld*%s", sep, (long long)d.coef,
                               m->syms[d.sym]);
    if (d.sym && d.off && used < size)
      used += (size_t)snprintf(buf + used, size - used, "%+lld", (long long)d.off);
  }
  if (used < size) snprintf(buf + used, size - used, "]");
}

void ct_model_set_profiler(ct_model *m, ct_model_profile_fn fn, void *ctx) {
  m->profile = fn;
  m->profile_ctx = ctx;
}
