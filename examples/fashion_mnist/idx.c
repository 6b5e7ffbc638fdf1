/* examples/fashion_mnist/idx.c: the IDX reader (idx.h). Files are read through zlib's gz*
 * functions, which pass uncompressed files through unchanged, so one path serves .gz and raw. */
#include "idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define IDX_TYPE_U8 0x08

static const char *type_name(unsigned t) {
  switch (t) {
  case 0x08: return "unsigned byte";
  case 0x09: return "signed byte";
  case 0x0B: return "i16";
  case 0x0C: return "i32";
  case 0x0D: return "f32";
  case 0x0E: return "f64";
  default: return NULL;
  }
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* gzerror's message without the "path: " prefix zlib puts in front of it. */
static const char *gz_message(gzFile gz, const char *path, int *code) {
  const char *msg = gzerror(gz, code);
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
  return msg;
}

static ct_status format_error(ct_diag *diag, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ct_status format_error(ct_diag *diag, const char *file, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ct_diag_vadd(diag, CT_SEV_ERROR, file, 0, 0, fmt, ap);
  va_end(ap);
  return CT_ERR_FORMAT;
}

ct_status ct_idx_parse(const void *buf, size_t len, const char *file, ct_idx **out,
                       ct_diag *diag) {
  const uint8_t *p = buf;
  *out = NULL;
  if (len < 4)
    return format_error(diag, file, "truncated IDX header: %zu bytes, the magic needs 4", len);
  if (p[0] != 0 || p[1] != 0)
    return format_error(diag, file, "not an IDX file: magic bytes 0-1 are %02x %02x, expected 00 00",
                        p[0], p[1]);
  if (p[2] != IDX_TYPE_U8) {
    const char *name = type_name(p[2]);
    if (!name)
      return format_error(diag, file, "not an IDX file: unknown element type 0x%02x at byte 2", p[2]);
    return format_error(diag, file,
                        "IDX element type 0x%02x (%s) is not supported: only unsigned byte (0x08)",
                        p[2], name);
  }
  int rank = p[3];
  if (rank < 1 || rank > CT_IDX_MAX_RANK)
    return format_error(diag, file, "IDX rank %d at byte 3 is outside 1..%d", rank, CT_IDX_MAX_RANK);
  size_t header = 4 + 4 * (size_t)rank;
  if (len < header)
    return format_error(diag, file, "truncated IDX header: %zu bytes, %d dims need %zu", len, rank,
                        header);
  ct_idx a = {.rank = rank, .count = 1};
  for (int i = 0; i < rank; i++) {
    a.dims[i] = be32(p + 4 + 4 * i);
    if (__builtin_mul_overflow(a.count, a.dims[i], &a.count))
      return format_error(diag, file, "IDX dims overflow: the element count exceeds 2^63");
  }
  if ((uint64_t)a.count > len - header)
    return format_error(diag, file,
                        "truncated IDX data: the dims need %lld bytes after byte %zu, the file "
                        "has %zu",
                        (long long)a.count, header, len - header);
  if ((uint64_t)a.count != len - header)
    return format_error(diag, file, "IDX data has %zu trailing bytes after byte %zu",
                        len - header - (size_t)a.count, header + (size_t)a.count);
  a.data = malloc(a.count ? (size_t)a.count : 1);
  ct_idx *res = malloc(sizeof *res);
  if (!a.data || !res) {
    free(a.data);
    free(res);
    return ct_diag_error(diag, file, 0, 0, "out of memory reading %lld IDX bytes",
                         (long long)a.count);
  }
  memcpy(a.data, p + header, (size_t)a.count);
  *res = a;
  *out = res;
  return CT_OK;
}

ct_status ct_idx_load(const char *path, ct_idx **out, ct_diag *diag) {
  *out = NULL;
  gzFile gz = gzopen(path, "rb");
  if (!gz) {
    ct_diag_error(diag, path, 0, 0, "cannot open: %s", strerror(errno ? errno : ENOENT));
    return CT_ERR_IO;
  }
  size_t cap = 1 << 20, len = 0;
  uint8_t *buf = malloc(cap);
  ct_status st = CT_OK;
  while (buf) {
    if (len == cap) {
      if (cap >= CT_IDX_MAX_BYTES) {
        st = format_error(diag, path, "more than %zu bytes (decompressed): not an IDX dataset file",
                          (size_t)CT_IDX_MAX_BYTES);
        break;
      }
      uint8_t *grown = realloc(buf, cap * 2);
      if (!grown) break;
      buf = grown;
      cap *= 2;
    }
    size_t want = cap - len;
    int got = gzread(gz, buf + len, (unsigned)(want > (1u << 30) ? (1u << 30) : want));
    if (got < 0) {
      int code;
      const char *msg = gz_message(gz, path, &code);
      st = code == Z_ERRNO ? CT_ERR_IO : CT_ERR_FORMAT;
      ct_diag_error(diag, path, 0, 0, "%s after %zu decompressed bytes",
                    code == Z_ERRNO ? strerror(errno) : msg, len);
      break;
    }
    if (got == 0) {
      /* zlib reports a stream cut short only through gzerror once the input is exhausted. */
      int code;
      const char *msg = gz_message(gz, path, &code);
      if (code != Z_OK && code != Z_STREAM_END)
        st = format_error(diag, path, "%s after %zu decompressed bytes", msg, len);
      break;
    }
    len += (size_t)got;
  }
  gzclose(gz);
  if (!buf) {
    ct_diag_error(diag, path, 0, 0, "out of memory reading the file");
    return CT_ERR_INVALID;
  }
  if (st == CT_OK) st = ct_idx_parse(buf, len, path, out, diag);
  free(buf);
  return st;
}

void ct_idx_free(ct_idx *a) {
  if (!a) return;
  free(a->data);
  free(a);
}
