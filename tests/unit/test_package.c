/* tests/unit/test_package.c: the .ctm container (runtime/package.c): CRC-32 against its check
 * value, a write/read round trip through memory and a file, and one case per malformation class
 * of the header, the section table and the sections, each rejected with its status and message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctorch/package.h"
#include "testlib.h"

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Section table entry i. */
static uint8_t *entry(uint8_t *img, int i) { return img + CT_PKG_HEADER_SIZE + 32 * i; }

/* Recomputes the table and header checksums after an edit (so the edit itself is what the
 * reader sees). */
static void refix(uint8_t *img) {
  uint32_t n = rd32(img + 12);
  wr32(img + 24, ct_crc32(0, img + CT_PKG_HEADER_SIZE, 32 * (size_t)n));
  wr32(img + 28, ct_crc32(0, img, 28));
}

static const char meta[] = "{\"abi\": 1}";
static const char ir_text[] = "module @m\n";
static const uint8_t weights[100] = {1, 2, 3};

/* A valid 3-section image. */
static uint8_t *sample(size_t *len) {
  ct_pkg_blob s[3] = {{CT_PKG_META, CT_PKG_FLAG_REQUIRED, meta, sizeof meta - 1},
                      {CT_PKG_IR, 0, ir_text, sizeof ir_text - 1},
                      {CT_PKG_WEIGHTS, 0, weights, sizeof weights}};
  void *img = NULL;
  CHECK_OK(ct_package_serialize(3, s, &img, len, NULL));
  return img;
}

static void test_crc32(void) {
  CHECK_EQ_INT(ct_crc32(0, "123456789", 9), 0xcbf43926u);
  CHECK_EQ_INT(ct_crc32(0, "", 0), 0);
  /* Running values compose. */
  CHECK_EQ_INT(ct_crc32(ct_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
}

static void test_round_trip(void) {
  size_t len;
  uint8_t *img = sample(&len);
  CHECK(memcmp(img, CT_PKG_MAGIC, 8) == 0);
  CHECK_EQ_INT(rd32(img + 8), CT_PKG_VERSION);
  ct_package *p = NULL;
  CHECK_OK(ct_package_parse(img, len, "x.ctm", &p, NULL));
  CHECK_EQ_INT(ct_package_version(p), CT_PKG_VERSION);
  CHECK_EQ_INT(ct_package_num_sections(p), 3);
  const ct_pkg_section *m = ct_package_find(p, CT_PKG_META);
  const ct_pkg_section *w = ct_package_find(p, CT_PKG_WEIGHTS);
  CHECK(m && m->size == sizeof meta - 1 && memcmp(m->data, meta, m->size) == 0);
  CHECK(w && w->size == sizeof weights && memcmp(w->data, weights, sizeof weights) == 0);
  for (int i = 0; i < ct_package_num_sections(p); i++) {
    const ct_pkg_section *s = ct_package_section(p, i);
    CHECK_EQ_INT(s->offset % CT_PKG_ALIGN, 0);
    CHECK_EQ_INT((uintptr_t)s->data % CT_PKG_ALIGN, 0);
  }
  CHECK(ct_package_find(p, CT_PKG_NATIVE) == NULL);
  CHECK(ct_package_section(p, 3) == NULL);
  CHECK_STR_EQ(ct_pkg_kind_name(CT_PKG_WEIGHTS), "weights");
  ct_package_free(p);

  char path[64];
  snprintf(path, sizeof path, "/tmp/ct_pkg_test_%ld.ctm", (long)getpid());
  ct_pkg_blob s[3] = {{CT_PKG_META, CT_PKG_FLAG_REQUIRED, meta, sizeof meta - 1},
                      {CT_PKG_IR, 0, ir_text, sizeof ir_text - 1},
                      {CT_PKG_WEIGHTS, 0, weights, sizeof weights}};
  CHECK_OK(ct_package_write(path, 3, s, NULL));
  size_t flen;
  char *file = test_read_file(path, &flen);
  CHECK(file && flen == len && memcmp(file, img, len) == 0);
  free(file);
  CHECK_OK(ct_package_open(path, &p, NULL));
  w = p ? ct_package_find(p, CT_PKG_WEIGHTS) : NULL;
  CHECK(w && memcmp(w->data, weights, sizeof weights) == 0);
  /* The mapping is private: writing a section does not change the file. */
  if (w) ((uint8_t *)w->data)[0] = 99;
  ct_package_free(p);
  file = test_read_file(path, &flen);
  CHECK(file && memcmp(file, img, len) == 0);
  free(file);
  unlink(path);
  free(img);
}

/* Expects parse(img) to fail with st and a message containing want. */
static void expect_bad(const uint8_t *img, size_t len, ct_status st, const char *want, int line) {
  ct_diag d;
  ct_diag_init(&d);
  ct_package *p = NULL;
  ct_status got = ct_package_parse(img, len, "bad.ctm", &p, &d);
  test_checks++;
  if (got != st || p != NULL)
    test_fail(__FILE__, line, "status %d (%s), expected %d", got, ct_diag_first_error(&d), st);
  else if (!strstr(ct_diag_first_error(&d), want))
    test_fail(__FILE__, line, "message '%s' lacks '%s'", ct_diag_first_error(&d), want);
  else if (d.n_errors != 1 || !d.items[0].file || strcmp(d.items[0].file, "bad.ctm") != 0)
    test_fail(__FILE__, line, "expected one error naming bad.ctm");
  ct_diag_free(&d);
}
#define EXPECT_BAD(img, len, st, want) expect_bad(img, len, st, want, __LINE__)

static void test_header_errors(void) {
  size_t len;
  uint8_t *img = sample(&len);
  uint8_t *b = malloc(len + 64);
  EXPECT_BAD(img, 0, CT_ERR_FORMAT, "shorter than the magic");
  EXPECT_BAD(img, 11, CT_ERR_FORMAT, "shorter than the magic");
  memcpy(b, img, len);
  b[0] = 'X';
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "bad magic");
  memcpy(b, img, len);
  wr32(b + 8, CT_PKG_VERSION + 1);
  EXPECT_BAD(b, len, CT_ERR_VERSION, "package format version 2 is newer");
  /* A newer version is reported even when the rest is unreadable to this runtime. */
  EXPECT_BAD(b, 12, CT_ERR_VERSION, "upgrade ctorch");
  wr32(b + 8, 0);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "version 0 is invalid");
  EXPECT_BAD(img, 40, CT_ERR_FORMAT, "truncated header: 40 bytes, need 64");
  memcpy(b, img, len);
  b[20] ^= 1; /* file size field, header CRC left stale */
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "header checksum mismatch");
  EXPECT_BAD(img, len - 1, CT_ERR_FORMAT, "truncated: the header records");
  memcpy(b, img, len);
  b[len] = 0;
  EXPECT_BAD(b, len + 1, CT_ERR_FORMAT, "trailing bytes");
  memcpy(b, img, len);
  wr32(b + 12, 0);
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "section count 0 out of range");
  memcpy(b, img, len);
  wr32(b + 12, 1000);
  wr32(b + 28, ct_crc32(0, b, 28));
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "section count 1000 out of range");
  memcpy(b, img, len);
  wr32(b + 12, 40); /* a table of 40 entries would end past the file */
  wr32(b + 28, ct_crc32(0, b, 28));
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "past the end of the file");
  memcpy(b, img, len);
  entry(b, 1)[4] ^= 2; /* flags, table CRC left stale */
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "section table checksum mismatch");
  free(b);
  free(img);
}

static void test_section_errors(void) {
  size_t len;
  uint8_t *img = sample(&len);
  uint8_t *b = malloc(len);
  memcpy(b, img, len);
  wr64(entry(b, 1) + 8, rd32(entry(b, 1) + 8) + 8);
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "section 1 (ir): offset");
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "is not 64-byte aligned");
  memcpy(b, img, len);
  wr64(entry(b, 0) + 8, 64);
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "overlaps the header or section table");
  memcpy(b, img, len);
  wr64(entry(b, 2) + 16, UINT64_MAX - 10); /* offset + size overflows */
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "section 2 (weights): bytes");
  memcpy(b, img, len);
  wr64(entry(b, 2) + 8, ((uint64_t)len + 127) / 64 * 64);
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "run past the end of the file");
  memcpy(b, img, len);
  wr32(entry(b, 1), 77);
  wr32(entry(b, 1) + 4, CT_PKG_FLAG_REQUIRED);
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_UNSUPPORTED, "section 1 has kind 77, unknown to this runtime");
  memcpy(b, img, len);
  wr32(entry(b, 1), CT_PKG_WEIGHTS);
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT,
             "section 2: a second weights section (the first is "
             "section 1)");
  memcpy(b, img, len);
  wr64(entry(b, 1) + 16, 100); /* the IR now runs into the weights */
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "sections ir and weights overlap");
  memcpy(b, img, len);
  b[rd32(entry(b, 2) + 8) + 5] ^= 0x40;
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "section 2 (weights): checksum mismatch");
  memcpy(b, img, len);
  wr32(entry(b, 0), CT_PKG_PTX);
  refix(b);
  EXPECT_BAD(b, len, CT_ERR_FORMAT, "no metadata section");

  /* An unknown optional section is skipped. */
  memcpy(b, img, len);
  wr32(entry(b, 1), 77);
  refix(b);
  ct_package *p = NULL;
  CHECK_OK(ct_package_parse(b, len, "ok.ctm", &p, NULL));
  CHECK(p && ct_package_num_sections(p) == 2 && !ct_package_find(p, CT_PKG_IR));
  ct_package_free(p);
  free(b);
  free(img);
}

static void test_open_errors(void) {
  ct_diag d;
  ct_diag_init(&d);
  ct_package *p = NULL;
  CHECK(ct_package_open("/nonexistent/x.ctm", &p, &d) == CT_ERR_IO && !p);
  CHECK(strstr(ct_diag_first_error(&d), "cannot open") != NULL);
  ct_diag_clear(&d);
  CHECK(ct_package_open("/tmp", &p, &d) == CT_ERR_IO && !p);
  CHECK(strstr(ct_diag_first_error(&d), "is a directory") != NULL);
  ct_diag_clear(&d);
  char path[64];
  snprintf(path, sizeof path, "/tmp/ct_pkg_short_%ld.ctm", (long)getpid());
  FILE *f = fopen(path, "wb");
  fputs("CTORCHPK", f);
  fclose(f);
  CHECK(ct_package_open(path, &p, &d) == CT_ERR_FORMAT && !p);
  CHECK(strstr(ct_diag_first_error(&d), "shorter than the magic") != NULL);
  unlink(path);
  ct_diag_free(&d);
  void *img;
  size_t len;
  CHECK(ct_package_serialize(0, NULL, &img, &len, NULL) == CT_ERR_INVALID);
}

int main(void) {
  RUN_TEST(test_crc32);
  RUN_TEST(test_round_trip);
  RUN_TEST(test_header_errors);
  RUN_TEST(test_section_errors);
  RUN_TEST(test_open_errors);
  return test_summary();
}
