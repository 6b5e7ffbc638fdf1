/* runtime/package_write.c: lays sections out into a .ctm image (docs/package.md): the header,
 * the section table, then each section at the next 64-byte boundary, zero padded. Used by
 * ctorchc (tools/ctorchc_package.c) and by the runtime API to re-save a package. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctorch/package.h"
#include "package_internal.h"

static uint64_t align_up(uint64_t x) {
  return (x + CT_PKG_ALIGN - 1) / CT_PKG_ALIGN * CT_PKG_ALIGN;
}

ct_status ct_package_serialize(int n, const ct_pkg_blob *sections, void **out, size_t *out_len,
                               ct_diag *diag) {
  *out = NULL;
  *out_len = 0;
  if (n < 1 || n > CT_PKG_MAX_SECTIONS)
    return ct_diag_error(diag, NULL, 0, 0, "package: %d sections (1..%d allowed)", n,
                         CT_PKG_MAX_SECTIONS);
  uint64_t pos = align_up(CT_PKG_HEADER_SIZE + (uint64_t)n * CT_PKG_ENTRY_SIZE);
  uint64_t offsets[CT_PKG_MAX_SECTIONS];
  for (int i = 0; i < n; i++) {
    offsets[i] = pos;
    pos = align_up(pos + sections[i].size);
  }
  /* The last section ends the file: no trailing padding. */
  uint64_t total = offsets[n - 1] + sections[n - 1].size;
  uint8_t *img = calloc(1, (size_t)total);
  if (!img)
    return ct_diag_error(diag, NULL, 0, 0, "package: out of memory (%llu bytes)",
                         (unsigned long long)total);
  memcpy(img, CT_PKG_MAGIC, 8);
  ct_pkg_wr32(img + 8, CT_PKG_VERSION);
  ct_pkg_wr32(img + 12, (uint32_t)n);
  ct_pkg_wr64(img + 16, total);
  for (int i = 0; i < n; i++) {
    uint8_t *e = img + CT_PKG_HEADER_SIZE + (size_t)i * CT_PKG_ENTRY_SIZE;
    const ct_pkg_blob *s = &sections[i];
    if (s->size) memcpy(img + offsets[i], s->data, (size_t)s->size);
    ct_pkg_wr32(e, s->kind);
    ct_pkg_wr32(e + 4, s->flags);
    ct_pkg_wr64(e + 8, offsets[i]);
    ct_pkg_wr64(e + 16, s->size);
    ct_pkg_wr32(e + 24, ct_crc32(0, img + offsets[i], (size_t)s->size));
  }
  ct_pkg_wr32(img + 24, ct_crc32(0, img + CT_PKG_HEADER_SIZE, (size_t)n * CT_PKG_ENTRY_SIZE));
  ct_pkg_wr32(img + 28, ct_crc32(0, img, 28));
  *out = img;
  *out_len = (size_t)total;
  return CT_OK;
}

ct_status ct_package_write(const char *path, int n, const ct_pkg_blob *sections, ct_diag *diag) {
  void *img;
  size_t len;
  ct_status st = ct_package_serialize(n, sections, &img, &len, diag);
  if (st != CT_OK) return st;
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 32);
  if (!tmp) {
    free(img);
    return ct_diag_error(diag, path, 0, 0, "out of memory");
  }
  snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(img, 1, len, f) == len;
  int err = errno;
  if (f && fclose(f) != 0 && ok) ok = false, err = errno;
  if (ok && rename(tmp, path) != 0) ok = false, err = errno;
  if (!ok) {
    remove(tmp);
    st = ct_diag_error(diag, path, 0, 0, "cannot write: %s", strerror(err));
  }
  free(tmp);
  free(img);
  return st;
}
