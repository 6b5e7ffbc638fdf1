/* ctorch/package.h: the .ctm single-file package container (docs/package.md): a 64-byte
 * little-endian header (magic, format version, section count, file size, CRCs), a section table
 * (kind, flags, offset, size, CRC32 per section), then 64-byte aligned sections. This layer knows
 * bytes only; the runtime API (ctorch/ctorch.h) gives the sections their meaning. The reader
 * checks every field, offset, size and checksum and never trusts the file. */
#ifndef CTORCH_PACKAGE_H
#define CTORCH_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "ctorch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_PKG_MAGIC "CTORCHPK" /* 8 bytes, no NUL */
#define CT_PKG_VERSION 1        /* the newest format version this runtime reads and writes */
#define CT_PKG_ALIGN 64         /* every section starts at a multiple of this */
#define CT_PKG_HEADER_SIZE 64
#define CT_PKG_ENTRY_SIZE 32
#define CT_PKG_MAX_SECTIONS 64

/* Section kinds. Values are part of the format: append only. */
typedef enum ct_pkg_kind {
  CT_PKG_META = 1,    /* the ABI metadata JSON (docs/abi.md), UTF-8 */
  CT_PKG_IR = 2,      /* the module's IR text, for the interpreter fallback */
  CT_PKG_WEIGHTS = 3, /* parameter bytes; each at a 64-byte aligned offset given in META */
  CT_PKG_NATIVE = 4,  /* an ELF shared object for the host (the ABI symbols of docs/abi.md) */
  CT_PKG_PTX = 5      /* reserved for GPU code */
} ct_pkg_kind;

/* Section flags. A reader that does not know a section's kind skips it unless it is REQUIRED,
 * in which case the package is CT_ERR_UNSUPPORTED. */
#define CT_PKG_FLAG_REQUIRED 1u

typedef struct ct_pkg_section {
  uint32_t kind, flags;
  uint64_t offset, size;
  uint32_t crc32;
  const uint8_t *data; /* the section's bytes inside the package (64-byte aligned) */
} ct_pkg_section;

typedef struct ct_package ct_package;

/* Maps path (private, copy on write: writes to section bytes never reach the file) and checks
 * it. Errors name the file and the offending field or byte offset: CT_ERR_IO when it cannot be
 * read, CT_ERR_FORMAT when malformed, CT_ERR_VERSION when written by a newer format version,
 * CT_ERR_UNSUPPORTED for an unknown required section. */
ct_status ct_package_open(const char *path, ct_package **out, ct_diag *diag);
/* The same over an in-memory image, which is copied. file names it in diagnostics (or NULL). */
ct_status ct_package_parse(const void *data, size_t len, const char *file, ct_package **out,
                           ct_diag *diag);
void ct_package_free(ct_package *p);

uint32_t ct_package_version(const ct_package *p);
/* Known sections in file order (unknown optional ones are skipped). Borrowed from p. */
int ct_package_num_sections(const ct_package *p);
const ct_pkg_section *ct_package_section(const ct_package *p, int i);
/* The section of a kind, or NULL when absent. */
const ct_pkg_section *ct_package_find(const ct_package *p, uint32_t kind);
/* "meta", "ir", "weights", "native", "ptx", or "unknown". */
const char *ct_pkg_kind_name(uint32_t kind);

/* A section to write. */
typedef struct ct_pkg_blob {
  uint32_t kind, flags;
  const void *data;
  uint64_t size;
} ct_pkg_blob;

/* Lays out n sections (in the given order, each 64-byte aligned, zero padding) into a
 * malloc'd image (*out, *out_len) the caller frees. Fails on more than CT_PKG_MAX_SECTIONS. */
ct_status ct_package_serialize(int n, const ct_pkg_blob *sections, void **out, size_t *out_len,
                               ct_diag *diag);
/* ct_package_serialize written to path through a temporary file renamed into place. */
ct_status ct_package_write(const char *path, int n, const ct_pkg_blob *sections, ct_diag *diag);

/* CRC-32 (IEEE 802.3, zlib's crc32): crc is the running value, 0 to start. */
uint32_t ct_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
