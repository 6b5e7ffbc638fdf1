/* runtime/package.c: the .ctm container reader (docs/package.md). It checks the header, the
 * section table and every section's bounds, alignment, overlap and CRC32 before anyone reads a
 * byte of a section; the runtime API (runtime/api/) then interprets the sections. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctorch/package.h"
#include "ctorch/tensor.h"
#include "package_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .ctm format is little-endian; this reader assumes a little-endian host"
#endif

struct ct_package {
  uint8_t *base;
  size_t len;
  bool is_mmap;
  uint32_t version;
  int n;
  ct_pkg_section sections[CT_PKG_MAX_SECTIONS];
};

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t ct_crc32(uint32_t crc, const void *data, size_t len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, crc_init);
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < len; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

const char *ct_pkg_kind_name(uint32_t kind) {
  switch (kind) {
  case CT_PKG_META: return "meta";
  case CT_PKG_IR: return "ir";
  case CT_PKG_WEIGHTS: return "weights";
  case CT_PKG_NATIVE: return "native";
  case CT_PKG_PTX: return "ptx";
  default: return "unknown";
  }
}

static bool kind_known(uint32_t kind) { return kind >= CT_PKG_META && kind <= CT_PKG_PTX; }

static ct_status fail(ct_diag *diag, const char *file, ct_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ct_status fail(ct_diag *diag, const char *file, ct_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_diag_vadd(diag, CT_SEV_ERROR, file, 0, 0, fmt, ap);
  va_end(ap);
  return st;
}

static int by_offset(const void *a, const void *b) {
  const ct_pkg_section *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Checks the image p->base[0, p->len) and fills p's section table. */
static ct_status check_image(ct_package *p, const char *file, ct_diag *diag) {
  const uint8_t *b = p->base;
  size_t len = p->len;
  if (len < 12)
    return fail(diag, file, CT_ERR_FORMAT,
                "not a ctorch package: %zu bytes, shorter than the "
                "magic and version",
                len);
  if (memcmp(b, CT_PKG_MAGIC, 8) != 0)
    return fail(diag, file, CT_ERR_FORMAT,
                "not a ctorch package: bad magic (expected "
                "'" CT_PKG_MAGIC "')");
  p->version = ct_pkg_rd32(b + 8);
  if (p->version > CT_PKG_VERSION)
    return fail(diag, file, CT_ERR_VERSION,
                "package format version %u is newer than this "
                "runtime reads (up to %u): rebuild the package or upgrade ctorch",
                p->version, CT_PKG_VERSION);
  if (p->version == 0)
    return fail(diag, file, CT_ERR_FORMAT, "package format version 0 is invalid");
  if (len < CT_PKG_HEADER_SIZE)
    return fail(diag, file, CT_ERR_FORMAT, "truncated header: %zu bytes, need %d", len,
                CT_PKG_HEADER_SIZE);
  uint32_t header_crc = ct_pkg_rd32(b + 28);
  if (ct_crc32(0, b, 28) != header_crc)
    return fail(diag, file, CT_ERR_FORMAT, "header checksum mismatch (bytes 0..27)");
  uint32_t n = ct_pkg_rd32(b + 12);
  uint64_t file_size = ct_pkg_rd64(b + 16);
  if (file_size != len)
    return fail(diag, file, CT_ERR_FORMAT,
                "%s: the header records %llu bytes, the file has "
                "%zu",
                file_size > len ? "truncated" : "trailing bytes", (unsigned long long)file_size,
                len);
  if (n == 0 || n > CT_PKG_MAX_SECTIONS)
    return fail(diag, file, CT_ERR_FORMAT, "section count %u out of range (1..%d)", n,
                CT_PKG_MAX_SECTIONS);
  uint64_t table_end = CT_PKG_HEADER_SIZE + (uint64_t)n * CT_PKG_ENTRY_SIZE;
  if (table_end > len)
    return fail(diag, file, CT_ERR_FORMAT,
                "section table (%u entries) ends at byte %llu, past "
                "the end of the file (%zu)",
                n, (unsigned long long)table_end, len);
  if (ct_crc32(0, b + CT_PKG_HEADER_SIZE, (size_t)(table_end - CT_PKG_HEADER_SIZE)) !=
      ct_pkg_rd32(b + 24))
    return fail(diag, file, CT_ERR_FORMAT, "section table checksum mismatch");

  ct_pkg_section all[CT_PKG_MAX_SECTIONS];
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *e = b + CT_PKG_HEADER_SIZE + (size_t)i * CT_PKG_ENTRY_SIZE;
    ct_pkg_section *s = &all[i];
    s->kind = ct_pkg_rd32(e);
    s->flags = ct_pkg_rd32(e + 4);
    s->offset = ct_pkg_rd64(e + 8);
    s->size = ct_pkg_rd64(e + 16);
    s->crc32 = ct_pkg_rd32(e + 24);
    const char *kn = ct_pkg_kind_name(s->kind);
    if (s->offset % CT_PKG_ALIGN)
      return fail(diag, file, CT_ERR_FORMAT,
                  "section %u (%s): offset %llu is not %d-byte "
                  "aligned",
                  i, kn, (unsigned long long)s->offset, CT_PKG_ALIGN);
    if (s->offset < table_end)
      return fail(diag, file, CT_ERR_FORMAT,
                  "section %u (%s): offset %llu overlaps the header "
                  "or section table",
                  i, kn, (unsigned long long)s->offset);
    if (s->offset > len || s->size > len - s->offset)
      return fail(diag, file, CT_ERR_FORMAT,
                  "section %u (%s): bytes %llu..+%llu run past the "
                  "end of the file (%zu)",
                  i, kn, (unsigned long long)s->offset, (unsigned long long)s->size, len);
    if (!kind_known(s->kind) && (s->flags & CT_PKG_FLAG_REQUIRED))
      return fail(diag, file, CT_ERR_UNSUPPORTED,
                  "section %u has kind %u, unknown to this "
                  "runtime, and is marked required",
                  i, s->kind);
    for (uint32_t k = 0; k < i; k++)
      if (kind_known(s->kind) && all[k].kind == s->kind)
        return fail(diag, file, CT_ERR_FORMAT,
                    "section %u: a second %s section (the first is "
                    "section %u)",
                    i, kn, k);
    s->data = b + s->offset;
  }
  ct_pkg_section sorted[CT_PKG_MAX_SECTIONS];
  memcpy(sorted, all, n * sizeof *all);
  qsort(sorted, n, sizeof *sorted, by_offset);
  for (uint32_t i = 1; i < n; i++)
    if (sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].size)
      return fail(diag, file, CT_ERR_FORMAT, "sections %s and %s overlap at byte %llu",
                  ct_pkg_kind_name(sorted[i - 1].kind), ct_pkg_kind_name(sorted[i].kind),
                  (unsigned long long)sorted[i].offset);
  for (uint32_t i = 0; i < n; i++) {
    const ct_pkg_section *s = &all[i];
    if (ct_crc32(0, s->data, (size_t)s->size) != s->crc32)
      return fail(diag, file, CT_ERR_FORMAT,
                  "section %u (%s): checksum mismatch (corrupted "
                  "bytes %llu..+%llu)",
                  i, ct_pkg_kind_name(s->kind), (unsigned long long)s->offset,
                  (unsigned long long)s->size);
    if (kind_known(s->kind)) p->sections[p->n++] = *s;
  }
  if (!ct_package_find(p, CT_PKG_META))
    return fail(diag, file, CT_ERR_FORMAT, "no metadata section");
  return CT_OK;
}

ct_status ct_package_parse(const void *data, size_t len, const char *file, ct_package **out,
                           ct_diag *diag) {
  *out = NULL;
  ct_package *p = calloc(1, sizeof *p);
  uint8_t *copy = ct_aligned_alloc(len);
  if (!p || !copy) {
    free(p);
    ct_aligned_free(copy);
    return fail(diag, file, CT_ERR_NOMEM, "out of memory copying a %zu-byte package", len);
  }
  if (len) memcpy(copy, data, len);
  p->base = copy;
  p->len = len;
  ct_status st = check_image(p, file, diag);
  if (st != CT_OK) {
    ct_package_free(p);
    return st;
  }
  *out = p;
  return CT_OK;
}

ct_status ct_package_open(const char *path, ct_package **out, ct_diag *diag) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(diag, path, CT_ERR_IO, "cannot open: %s", strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    int err = errno;
    close(fd);
    return fail(diag, path, CT_ERR_IO, "cannot read: %s",
                S_ISDIR(sb.st_mode) ? "is a directory" : strerror(err));
  }
  size_t len = (size_t)sb.st_size;
  if (len < CT_PKG_HEADER_SIZE) {
    /* Too small to map usefully; parse a copy so the short-file messages stay the same. */
    uint8_t small[CT_PKG_HEADER_SIZE];
    ssize_t got = read(fd, small, sizeof small);
    close(fd);
    if (got < 0) return fail(diag, path, CT_ERR_IO, "cannot read: %s", strerror(errno));
    return ct_package_parse(small, (size_t)got, path, out, diag);
  }
  void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return fail(diag, path, CT_ERR_IO, "cannot map: %s", strerror(errno));
  ct_package *p = calloc(1, sizeof *p);
  if (!p) {
    munmap(map, len);
    return fail(diag, path, CT_ERR_NOMEM, "out of memory");
  }
  p->base = map;
  p->len = len;
  p->is_mmap = true;
  ct_status st = check_image(p, path, diag);
  if (st != CT_OK) {
    ct_package_free(p);
    return st;
  }
  *out = p;
  return CT_OK;
}

void ct_package_free(ct_package *p) {
  if (!p) return;
  if (p->is_mmap)
    munmap(p->base, p->len);
  else
    ct_aligned_free(p->base);
  free(p);
}

uint32_t ct_package_version(const ct_package *p) { return p->version; }
int ct_package_num_sections(const ct_package *p) { return p->n; }
const ct_pkg_section *ct_package_section(const ct_package *p, int i) {
  return i >= 0 && i < p->n ? &p->sections[i] : NULL;
}

const ct_pkg_section *ct_package_find(const ct_package *p, uint32_t kind) {
  for (int i = 0; i < p->n; i++)
    if (p->sections[i].kind == kind) return &p->sections[i];
  return NULL;
}
