/* tests/unit/test_safetensors.c: safetensors round trips (in memory and through a file) and a
 * table of malformed files, each rejected with CT_ERR_FORMAT and a message naming the problem. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctorch/safetensors.h"
#include "testlib.h"

/* Builds an image from a header text and n data bytes (all 0x11). */
static unsigned char *image(const char *header, size_t data_len, size_t *len) {
  size_t hl = strlen(header);
  *len = 8 + hl + data_len;
  unsigned char *buf = malloc(*len);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(buf + 8, header, hl);
  memset(buf + 8 + hl, 0x11, data_len);
  return buf;
}

static void test_round_trip(void) {
  int64_t s23[2] = {2, 3}, s4[1] = {4}, s0[1] = {0}, s5[1] = {5};
  ct_tensor *a = ct_tensor_empty(CT_DT_F32, 2, s23);
  ct_tensor *b = ct_tensor_empty(CT_DT_F64, 1, s4);
  ct_tensor *c = ct_tensor_empty(CT_DT_I64, 1, s4);
  ct_tensor *d = ct_tensor_empty(CT_DT_I32, 1, s5);
  ct_tensor *e = ct_tensor_empty(CT_DT_BOOL, 1, s5);
  ct_tensor *scalar = ct_tensor_empty(CT_DT_F32, 0, NULL);
  ct_tensor *empty = ct_tensor_empty(CT_DT_F32, 1, s0);
  for (int i = 0; i < 6; i++) ct_tensor_set(a, i, i * 0.5);
  for (int i = 0; i < 4; i++) ct_tensor_set(b, i, 1.0 / (i + 3));
  for (int i = 0; i < 4; i++) ct_tensor_set(c, i, (double)(i - 2) * 1e12);
  for (int i = 0; i < 5; i++) ct_tensor_set(d, i, -i * 7);
  for (int i = 0; i < 5; i++) ct_tensor_set(e, i, i % 2);
  ct_tensor_set(scalar, 0, 42.0);
  int64_t ts[2] = {3, 2}, tst[2] = {1, 3};
  ct_tensor *at = ct_tensor_view(a, 2, ts, tst, 0); /* transposed, not contiguous */
  const char *names[] = {"a", "b.f64", "c", "d", "e", "scalar", "empty", "a.T"};
  ct_tensor *ts_[] = {a, b, c, d, e, scalar, empty, at};
  const char *mk[] = {"format", "note"}, *mv[] = {"pt", "quote \" and \\ ok"};
  void *buf;
  size_t len;
  CHECK_OK(ct_st_serialize(8, names, ts_, 2, mk, mv, &buf, &len, NULL));
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | ((unsigned char *)buf)[i];
  CHECK_EQ_INT((8 + hl) % 8, 0);

  char path[64];
  snprintf(path, sizeof path, "/tmp/ct_st_test_%ld.safetensors", (long)getpid());
  CHECK_OK(ct_st_save(path, 8, names, ts_, 2, mk, mv, NULL));
  size_t flen;
  char *fbuf = test_read_file(path, &flen);
  CHECK(fbuf && flen == len && memcmp(fbuf, buf, len) == 0);
  free(fbuf);

  for (int pass = 0; pass < 2; pass++) {
    ct_st_file *f = NULL;
    ct_diag dg;
    ct_diag_init(&dg);
    if (pass == 0)
      CHECK_OK(ct_st_parse(buf, len, "mem", &f, &dg));
    else
      CHECK_OK(ct_st_load(path, &f, &dg));
    if (!f) {
      ct_diag_print(&dg, stderr);
      ct_diag_free(&dg);
      continue;
    }
    CHECK_EQ_INT(ct_st_count(f), 8);
    for (int i = 0; i < 8; i++) {
      CHECK_STR_EQ(ct_st_name(f, i), names[i]);
      ct_tensor *t = ct_st_find(f, names[i]);
      CHECK(t == ct_st_tensor(f, i));
      CHECK_EQ_INT(t->dtype, ts_[i]->dtype);
      CHECK_EQ_INT(t->rank, ts_[i]->rank);
      CHECK(((uintptr_t)ct_tensor_data(t) % ct_dtype_size(t->dtype)) == 0);
      for (int k = 0; k < t->rank; k++) CHECK_EQ_INT(t->shape[k], ts_[i]->shape[k]);
      for (int64_t k = 0; k < ct_tensor_numel(t); k++)
        CHECK(ct_tensor_get(t, k) == ct_tensor_get(ts_[i], k));
    }
    CHECK(ct_st_find(f, "nope") == NULL);
    CHECK_STR_EQ(ct_st_metadata(f, "format"), "pt");
    CHECK_STR_EQ(ct_st_metadata(f, "note"), "quote \" and \\ ok");
    CHECK(ct_st_metadata(f, "absent") == NULL);
    /* a tensor outlives its file */
    ct_tensor *keep = ct_tensor_retain(ct_st_find(f, "a"));
    ct_st_free(f);
    CHECK(ct_tensor_get(keep, 5) == 2.5);
    ct_tensor_release(keep);
    ct_diag_free(&dg);
  }
  unlink(path);
  free(buf);
  ct_tensor *all[] = {a, b, c, d, e, scalar, empty, at};
  for (int i = 0; i < 8; i++) ct_tensor_release(all[i]);
}

static void test_misaligned(void) {
  /* a 3-byte bool then an f32 at data offset 3: the f32 is copied into aligned storage */
  const char *h = "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]},"
                  "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[3,7]}}";
  size_t len;
  unsigned char *img = image(h, 7, &len);
  float v = 1.25f;
  memcpy(img + len - 4, &v, 4);
  ct_st_file *f = NULL;
  CHECK_OK(ct_st_parse(img, len, NULL, &f, NULL));
  ct_tensor *x = ct_st_find(f, "x");
  CHECK(x && ((uintptr_t)ct_tensor_data(x) % 4) == 0 && ct_tensor_get(x, 0) == 1.25);
  ct_st_free(f);
  free(img);
}

static void test_truncated(void) {
  int64_t s[1] = {3};
  ct_tensor *t = ct_tensor_zeros(CT_DT_F32, 1, s);
  const char *names[] = {"w"};
  void *buf;
  size_t len;
  CHECK_OK(ct_st_serialize(1, names, &t, 0, NULL, NULL, &buf, &len, NULL));
  for (size_t n = 0; n < len; n++) {
    ct_st_file *f = NULL;
    ct_diag dg;
    ct_diag_init(&dg);
    ct_status st = ct_st_parse(buf, n, "t.safetensors", &f, &dg);
    CHECK_MSG(st == CT_ERR_FORMAT && !f && dg.n_errors == 1, "truncated to %zu bytes: status %d",
              n, st);
    ct_diag_free(&dg);
  }
  free(buf);
  ct_tensor_release(t);
}

static void test_malformed(void) {
  static const struct {
    const char *header; /* NULL: raw bytes below */
    size_t data_len;
    const char *expect;
  } cases[] = {
      {"[1,2]", 0, "not a JSON object"},
      {"{\"a\":", 0, "not valid JSON"},
      {"not json", 0, "not valid JSON"},
      {"{} x", 0, "unexpected data after the JSON header"},
      {"{\"a\":3}", 0, "tensor 'a': entry is not an object"},
      {"{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing 'dtype'"},
      {"{\"a\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4, "'dtype' is not a string"},
      {"{\"a\":{\"dtype\":\"Q7\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'Q7'"},
      {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing 'shape'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, "'shape' is not an array"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape dim 0 is not"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape dim 0 is not"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,4]}}", 4, "shape dim 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
       "rank 9 exceeds"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4,
       "shape is too large"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "shape dim 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing 'data_offsets'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "not two non-negative"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "not two non-negative"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "begin after end"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4,
       "data_offsets [0, 8] extend beyond the 4-byte data buffer"},
      {"{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[5,6],\"data_offsets\":[0,100]}}", 200,
       "tensor 'fc1.weight': data_offsets [0, 100] do not match f32[5,6] (120 bytes)"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
       "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate key 'a'"},
      {"{\"__metadata__\":{\"k\":1}}", 0, "'__metadata__' value of 'k' is not a string"},
      {"{\"__metadata__\":[]}", 0, "'__metadata__' is not an object"},
      {"{\"a\xff\":{}}", 0, "not valid UTF-8 at byte offset 11"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len;
    unsigned char *img = image(cases[i].header, cases[i].data_len, &len);
    ct_st_file *f = NULL;
    ct_diag dg;
    ct_diag_init(&dg);
    ct_status st = ct_st_parse(img, len, "bad.safetensors", &f, &dg);
    const char *msg = ct_diag_first_error(&dg);
    CHECK_MSG(st == CT_ERR_FORMAT && !f && strstr(msg, cases[i].expect),
              "case %zu (%s): status %d, message '%s', expected '%s'", i, cases[i].header, st, msg,
              cases[i].expect);
    CHECK(dg.n > 0 && dg.items[0].file && strcmp(dg.items[0].file, "bad.safetensors") == 0);
    ct_diag_free(&dg);
    free(img);
  }
  /* header length beyond the file and beyond the limit */
  unsigned char raw[16] = {0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  ct_st_file *f = NULL;
  ct_diag dg;
  ct_diag_init(&dg);
  CHECK_EQ_INT(ct_st_parse(raw, sizeof raw, NULL, &f, &dg), CT_ERR_FORMAT);
  CHECK(strstr(ct_diag_first_error(&dg), "header length 255 exceeds the 8 bytes"));
  ct_diag_clear(&dg);
  raw[4] = 1;
  CHECK_EQ_INT(ct_st_parse(raw, sizeof raw, NULL, &f, &dg), CT_ERR_FORMAT);
  CHECK(strstr(ct_diag_first_error(&dg), "exceeds the limit"));
  ct_diag_clear(&dg);
  CHECK_EQ_INT(ct_st_load("/nonexistent/x.safetensors", &f, &dg), CT_ERR_IO);
  CHECK(strstr(ct_diag_first_error(&dg), "cannot open"));
  ct_diag_free(&dg);
}

int main(void) {
  RUN_TEST(test_round_trip);
  RUN_TEST(test_misaligned);
  RUN_TEST(test_truncated);
  RUN_TEST(test_malformed);
  return test_summary();
}
