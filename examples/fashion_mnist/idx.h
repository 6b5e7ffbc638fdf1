/* examples/fashion_mnist/idx.h: a reader for IDX files (the MNIST / Fashion-MNIST format: a 4-byte
 * magic 00 00 <type> <rank>, rank big-endian u32 dims, then the data), raw or gzip-compressed.
 * Nothing in the file is trusted: every size is checked before it is used. */
#ifndef CT_IDX_H
#define CT_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "ctorch/types.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { CT_IDX_MAX_RANK = 4 };
/* Largest decompressed file accepted (a gzip bomb is an error, not an out-of-memory). */
#define CT_IDX_MAX_BYTES ((size_t)1 << 30)

/* An IDX array of unsigned bytes (type 0x08, the only element type the datasets use). */
typedef struct ct_idx {
  int rank;
  int64_t dims[CT_IDX_MAX_RANK];
  int64_t count; /* product of dims */
  uint8_t *data; /* count bytes, row-major; owned */
} ct_idx;

/* Parses an in-memory IDX image of len bytes (copied). file names it in diagnostics (may be
 * NULL). A bad magic, an element type other than unsigned byte, a rank outside 1..4, a truncated
 * header, or a data size different from the product of the dims is CT_ERR_FORMAT with a message
 * naming the byte offset. Returns CT_OK and sets *out (freed with ct_idx_free). */
ct_status ct_idx_parse(const void *buf, size_t len, const char *file, ct_idx **out,
                       ct_diag *diag);
/* Reads path, decompressing it when it is gzip (detected by content, not by name), and parses
 * it. An unreadable file is CT_ERR_IO; a corrupt or truncated gzip stream is CT_ERR_FORMAT. */
ct_status ct_idx_load(const char *path, ct_idx **out, ct_diag *diag);
void ct_idx_free(ct_idx *a);

#ifdef __cplusplus
}
#endif
#endif
