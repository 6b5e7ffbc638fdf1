/* tests/unit/test_idx.c: the IDX reader and the Fashion-MNIST input pipeline of
 * examples/fashion_mnist (idx.h, dataset.h): valid files raw and gzip, every malformed header and
 * truncation as an error with its message, the committed subset fixture, the shuffle against the
 * Python implementation in train_torch.py, and batch normalization against a double reference. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "dataset.h"
#include "idx.h"
#include "testlib.h"

#define FIXTURE CT_SOURCE_DIR "/tests/fixtures/fashion_mnist_small"

/* An IDX image: magic 00 00 08 rank, dims, then `count` bytes 0, 1, 2, ... */
static size_t make_idx(uint8_t *buf, int rank, const uint32_t *dims, size_t extra_data) {
  size_t n = 0, count = 1;
  buf[n++] = 0;
  buf[n++] = 0;
  buf[n++] = 0x08;
  buf[n++] = (uint8_t)rank;
  for (int i = 0; i < rank; i++) {
    buf[n++] = (uint8_t)(dims[i] >> 24);
    buf[n++] = (uint8_t)(dims[i] >> 16);
    buf[n++] = (uint8_t)(dims[i] >> 8);
    buf[n++] = (uint8_t)dims[i];
    count *= dims[i];
  }
  for (size_t i = 0; i < count + extra_data; i++) buf[n++] = (uint8_t)(i * 7);
  return n;
}

/* Parses buf and expects failure with exactly msg. */
static void expect_error(const uint8_t *buf, size_t len, const char *msg) {
  ct_diag d;
  ct_diag_init(&d);
  ct_idx *a = (ct_idx *)1;
  CHECK_EQ_INT(ct_idx_parse(buf, len, "x.idx", &a, &d), CT_ERR_FORMAT);
  CHECK(a == NULL);
  CHECK_STR_EQ(ct_diag_first_error(&d), msg);
  CHECK(d.n > 0 && d.items[0].file && strcmp(d.items[0].file, "x.idx") == 0);
  ct_diag_free(&d);
}

static void test_parse_valid(void) {
  uint8_t buf[64];
  uint32_t dims[3] = {2, 2, 3};
  size_t len = make_idx(buf, 3, dims, 0);
  ct_diag d;
  ct_diag_init(&d);
  ct_idx *a = NULL;
  CHECK_OK(ct_idx_parse(buf, len, "x.idx", &a, &d));
  CHECK(a != NULL);
  if (a) {
    CHECK_EQ_INT(a->rank, 3);
    CHECK_EQ_INT(a->dims[0], 2);
    CHECK_EQ_INT(a->dims[2], 3);
    CHECK_EQ_INT(a->count, 12);
    CHECK_EQ_INT(a->data[0], 0);
    CHECK_EQ_INT(a->data[11], 77);
  }
  ct_idx_free(a);
  CHECK_EQ_INT(d.n, 0);
  ct_diag_free(&d);
}

static void test_parse_errors(void) {
  uint8_t buf[64];
  uint32_t dims[3] = {2, 2, 3};
  size_t len = make_idx(buf, 3, dims, 0);
  expect_error(buf, 3, "truncated IDX header: 3 bytes, the magic needs 4");
  expect_error(buf, 10, "truncated IDX header: 10 bytes, 3 dims need 16");
  expect_error(buf, len - 1, "truncated IDX data: the dims need 12 bytes after byte 16, the file has 11");
  uint8_t bad[64];
  memcpy(bad, buf, len);
  bad[1] = 0x08;
  expect_error(bad, len, "not an IDX file: magic bytes 0-1 are 00 08, expected 00 00");
  memcpy(bad, buf, len);
  bad[2] = 0x0D;
  expect_error(bad, len, "IDX element type 0x0d (f32) is not supported: only unsigned byte (0x08)");
  bad[2] = 0x42;
  expect_error(bad, len, "not an IDX file: unknown element type 0x42 at byte 2");
  memcpy(bad, buf, len);
  bad[3] = 0;
  expect_error(bad, len, "IDX rank 0 at byte 3 is outside 1..4");
  bad[3] = 5;
  expect_error(bad, len, "IDX rank 5 at byte 3 is outside 1..4");

  size_t extra = make_idx(bad, 3, dims, 2);
  expect_error(bad, extra, "IDX data has 2 trailing bytes after byte 28");
  /* 2^32-1 cubed overflows: the count check must not wrap around to a small number. */
  uint32_t huge[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 1};
  uint8_t head[20] = {0, 0, 0x08, 4};
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 4; k++) head[4 + 4 * i + k] = (uint8_t)(huge[i] >> (24 - 8 * k));
  expect_error(head, sizeof head, "IDX dims overflow: the element count exceeds 2^63");
  huge[1] = 0x7FFFFFFFu;
  huge[2] = 1;
  for (int i = 1; i < 3; i++)
    for (int k = 0; k < 4; k++) head[4 + 4 * i + k] = (uint8_t)(huge[i] >> (24 - 8 * k));
  expect_error(head, sizeof head,
               "truncated IDX data: the dims need 9223372030412324865 bytes after byte 20, the "
               "file has 0");

  /* Every prefix of a valid file is an error, never a crash or a success. */
  for (size_t cut = 0; cut < len; cut++) {
    ct_diag d;
    ct_diag_init(&d);
    ct_idx *a = NULL;
    CHECK_EQ_INT(ct_idx_parse(buf, cut, NULL, &a, &d), CT_ERR_FORMAT);
    CHECK(a == NULL);
    ct_diag_free(&d);
  }
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK_EQ_INT(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void write_gz(const char *path, const void *data, size_t len) {
  gzFile gz = gzopen(path, "wb");
  CHECK(gz != NULL);
  if (!gz) return;
  CHECK_EQ_INT(gzwrite(gz, data, (unsigned)len), len);
  gzclose(gz);
}

static void test_load_files(void) {
  char raw[128], gz[128], cut[128];
  snprintf(raw, sizeof raw, "/tmp/ct_idx_test_%ld.idx", (long)getpid());
  snprintf(gz, sizeof gz, "/tmp/ct_idx_test_%ld.idx.gz", (long)getpid());
  snprintf(cut, sizeof cut, "/tmp/ct_idx_test_%ld_cut.gz", (long)getpid());
  uint8_t buf[4096];
  uint32_t dims[2] = {40, 100};
  size_t len = make_idx(buf, 2, dims, 0);
  write_file(raw, buf, len);
  write_gz(gz, buf, len);

  const char *paths[2] = {raw, gz};
  for (int i = 0; i < 2; i++) {
    ct_diag d;
    ct_diag_init(&d);
    ct_idx *a = NULL;
    CHECK_OK(ct_idx_load(paths[i], &a, &d));
    CHECK(a && a->count == 4000 && a->dims[1] == 100 && memcmp(a->data, buf + 12, 4000) == 0);
    ct_idx_free(a);
    ct_diag_free(&d);
  }

  /* A gzip stream cut short: zlib's "unexpected end of file", reported, not a short array. */
  size_t gz_len = 0;
  char *gz_bytes = test_read_file(gz, &gz_len);
  CHECK(gz_bytes != NULL && gz_len > 20);
  if (gz_bytes) {
    for (size_t keep = 11; keep < gz_len; keep += 7) {
      write_file(cut, gz_bytes, keep);
      ct_diag d;
      ct_diag_init(&d);
      ct_idx *a = NULL;
      CHECK_EQ_INT(ct_idx_load(cut, &a, &d), CT_ERR_FORMAT);
      CHECK(a == NULL);
      CHECK(d.n_errors == 1);
      ct_diag_free(&d);
    }
    write_file(cut, gz_bytes, gz_len - 4); /* the trailer's length field missing */
    ct_diag d;
    ct_diag_init(&d);
    ct_idx *a = NULL;
    CHECK_EQ_INT(ct_idx_load(cut, &a, &d), CT_ERR_FORMAT);
    CHECK_STR_EQ(ct_diag_first_error(&d), "unexpected end of file after 4012 decompressed bytes");
    ct_diag_free(&d);
    free(gz_bytes);
  }

  ct_diag d;
  ct_diag_init(&d);
  ct_idx *a = NULL;
  CHECK_EQ_INT(ct_idx_load("/nonexistent/ct_idx.idx", &a, &d), CT_ERR_IO);
  CHECK_STR_EQ(ct_diag_first_error(&d), "cannot open: No such file or directory");
  ct_diag_free(&d);
  unlink(raw);
  unlink(gz);
  unlink(cut);
}

static void test_fixture(void) {
  ct_diag d;
  ct_diag_init(&d);
  fm_dataset train, test;
  CHECK_OK(fm_dataset_load(FIXTURE, "train", 0, &train, &d));
  CHECK_OK(fm_dataset_load(FIXTURE, "t10k", 0, &test, &d));
  CHECK_EQ_INT(train.n, 256);
  CHECK_EQ_INT(train.rows, 28);
  CHECK_EQ_INT(train.cols, 28);
  CHECK_EQ_INT(test.n, 128);
  /* The first labels of the real files (Python's gzip module read them for this test). */
  static const int train_labels[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  static const int test_labels[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  for (int i = 0; i < 10 && train.labels && test.labels; i++) {
    CHECK_EQ_INT(train.labels[i], train_labels[i]);
    CHECK_EQ_INT(test.labels[i], test_labels[i]);
  }
  int sum = 0;
  for (int64_t i = 0; i < train.n; i++) sum += train.labels[i];
  CHECK_EQ_INT(sum, 1104);
  fm_dataset_free(&train);
  fm_dataset_free(&test);

  fm_dataset limited;
  CHECK_OK(fm_dataset_load(FIXTURE, "train", 100, &limited, &d));
  CHECK_EQ_INT(limited.n, 100);
  fm_dataset_free(&limited);

  fm_dataset missing;
  CHECK_EQ_INT(fm_dataset_load(FIXTURE, "valid", 0, &missing, &d), CT_ERR_IO);
  CHECK_STR_EQ(ct_diag_first_error(&d), "cannot open: No such file or directory");
  CHECK(strstr(d.items[0].file, "valid-images-idx3-ubyte") != NULL);
  ct_diag_free(&d);
}

static ct_idx *idx_of(int rank, const uint32_t *dims, uint8_t fill) {
  uint8_t buf[256];
  size_t len = make_idx(buf, rank, dims, 0);
  for (size_t i = 4 + 4 * (size_t)rank; i < len; i++) buf[i] = fill;
  ct_idx *a = NULL;
  ct_diag d;
  ct_diag_init(&d);
  CHECK_OK(ct_idx_parse(buf, len, NULL, &a, &d));
  ct_diag_free(&d);
  return a;
}

static void expect_pair_error(ct_idx *images, ct_idx *labels, const char *msg) {
  ct_diag d;
  ct_diag_init(&d);
  fm_dataset ds;
  CHECK_EQ_INT(fm_dataset_from_idx(images, labels, "l.idx", 0, &ds, &d), CT_ERR_FORMAT);
  CHECK_STR_EQ(ct_diag_first_error(&d), msg);
  CHECK(ds.images == NULL && ds.n == 0);
  ct_diag_free(&d);
}

static void test_dataset_errors(void) {
  uint32_t img3[3] = {3, 2, 2}, img2[2] = {3, 4}, lab3[1] = {3}, lab4[1] = {4}, lab2d[2] = {3, 1};
  expect_pair_error(idx_of(3, img3, 0), idx_of(1, lab4, 1), "3 images but 4 labels");
  expect_pair_error(idx_of(2, img2, 0), idx_of(1, lab3, 1),
                    "images must have rank 3 ([n, rows, cols]), the file has 2");
  expect_pair_error(idx_of(3, img3, 0), idx_of(2, lab2d, 1),
                    "labels must have rank 1 ([n]), the file has 2");
  expect_pair_error(idx_of(3, img3, 0), idx_of(1, lab3, 10),
                    "label 10 of example 0 is outside [0, 10)");
}

static void test_shuffle(void) {
  fm_rng r = fm_rng_seed(42);
  /* splitmix64 from seed 42, as computed by train_torch.py's SplitMix64. */
  CHECK(fm_rng_next(&r) == 0xbdd732262feb6e95ull);
  CHECK(fm_rng_next(&r) == 0x28efe333b266f103ull);
  CHECK(fm_rng_next(&r) == 0x47526757130f9f52ull);

  /* Two epochs of 10 from seed 42: train_torch.py's epoch_order gives the same orders. */
  static const int64_t epoch1[10] = {0, 9, 5, 8, 6, 4, 7, 2, 1, 3};
  static const int64_t epoch2[10] = {0, 9, 3, 2, 5, 7, 1, 6, 8, 4};
  int64_t order[10];
  r = fm_rng_seed(42);
  fm_shuffle(&r, order, 10);
  for (int i = 0; i < 10; i++) CHECK_EQ_INT(order[i], epoch1[i]);
  fm_shuffle(&r, order, 10);
  for (int i = 0; i < 10; i++) CHECK_EQ_INT(order[i], epoch2[i]);

  enum { N = 1000 };
  int64_t big[N];
  char seen[N] = {0};
  r = fm_rng_seed(7);
  fm_shuffle(&r, big, N);
  int fixed = 0;
  for (int i = 0; i < N; i++) {
    CHECK(big[i] >= 0 && big[i] < N && !seen[big[i]]);
    if (big[i] >= 0 && big[i] < N) seen[big[i]] = 1;
    fixed += big[i] == i;
  }
  CHECK(fixed < 10); /* a shuffle, not the identity (expected fixed points: 1) */
}

static void test_fill_batch(void) {
  ct_diag d;
  ct_diag_init(&d);
  fm_dataset ds;
  CHECK_OK(fm_dataset_load(FIXTURE, "t10k", 0, &ds, &d));
  ct_diag_free(&d);
  if (ds.n != 128) return;
  int64_t order[3] = {5, 0, 127};
  float x[3 * 784];
  int64_t y[3];
  fm_fill_batch(&ds, order, 0, 3, x, y);
  for (int b = 0; b < 3; b++) {
    CHECK_EQ_INT(y[b], ds.labels[order[b]]);
    for (int p = 0; p < 784; p++) {
      double ref = (ds.images[order[b] * 784 + p] / 255.0 - 0.2860) / 0.3530;
      CHECK_CLOSE(x[b * 784 + p], ref, 1e-6, 1e-6);
    }
  }
  fm_fill_batch(&ds, NULL, 126, 2, x, y);
  CHECK_EQ_INT(y[1], ds.labels[127]);
  CHECK_CLOSE(x[784], (ds.images[127 * 784] / 255.0 - 0.2860) / 0.3530, 1e-6, 1e-6);
  fm_dataset_free(&ds);
}

int main(void) {
  RUN_TEST(test_parse_valid);
  RUN_TEST(test_parse_errors);
  RUN_TEST(test_load_files);
  RUN_TEST(test_fixture);
  RUN_TEST(test_dataset_errors);
  RUN_TEST(test_shuffle);
  RUN_TEST(test_fill_batch);
  return test_summary();
}
