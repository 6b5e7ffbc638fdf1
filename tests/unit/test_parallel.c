/* tests/unit/test_parallel.c: the thread pool: ranges cover [0, n) exactly once, respect the
 * grain, nested loops run inline, and the thread count can change between loops. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ctorch/parallel.h"
#include "testlib.h"

typedef struct cover_ctx {
  atomic_int *hits;
  int64_t n, grain;
  atomic_int short_ranges; /* ranges shorter than grain that do not end at n */
  atomic_int calls;
} cover_ctx;

static void cover_fn(void *p, int64_t begin, int64_t end) {
  cover_ctx *c = p;
  atomic_fetch_add(&c->calls, 1);
  if (end - begin < c->grain && end != c->n) atomic_fetch_add(&c->short_ranges, 1);
  for (int64_t i = begin; i < end; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void check_cover(int64_t n, int64_t grain) {
  cover_ctx c;
  c.hits = calloc((size_t)n + 1, sizeof *c.hits);
  c.n = n;
  c.grain = grain;
  atomic_init(&c.short_ranges, 0);
  atomic_init(&c.calls, 0);
  ct_parallel_for(n, grain, cover_fn, &c);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) bad += atomic_load(&c.hits[i]) != 1;
  CHECK_MSG(bad == 0, "n=%lld grain=%lld: %d elements not covered once", (long long)n,
            (long long)grain, bad);
  CHECK_EQ_INT(atomic_load(&c.short_ranges), 0);
  CHECK(atomic_load(&c.calls) <= ct_get_num_threads());
  if (n <= grain) CHECK_EQ_INT(atomic_load(&c.calls), 1);
  free(c.hits);
}

static void test_cover(void) {
  ct_set_num_threads(4);
  int64_t ns[] = {1, 2, 3, 7, 64, 1000, 4097, 100000};
  int64_t grains[] = {1, 3, 16, 1000, 200000};
  for (int r = 0; r < 3; r++)
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
      for (size_t j = 0; j < sizeof grains / sizeof *grains; j++) check_cover(ns[i], grains[j]);
  ct_parallel_for(0, 1, cover_fn, NULL); /* n == 0: nothing runs, ctx is never used */
}

typedef struct nested_ctx {
  atomic_int outer_calls, inner_calls, inner_sum;
} nested_ctx;

static void inner_fn(void *p, int64_t begin, int64_t end) {
  nested_ctx *c = p;
  atomic_fetch_add(&c->inner_calls, 1);
  atomic_fetch_add(&c->inner_sum, (int)(end - begin));
}

static void outer_fn(void *p, int64_t begin, int64_t end) {
  nested_ctx *c = p;
  atomic_fetch_add(&c->outer_calls, 1);
  for (int64_t i = begin; i < end; i++) ct_parallel_for(100, 1, inner_fn, c);
}

static void test_nested_inline(void) {
  ct_set_num_threads(4);
  nested_ctx c;
  atomic_init(&c.outer_calls, 0);
  atomic_init(&c.inner_calls, 0);
  atomic_init(&c.inner_sum, 0);
  ct_parallel_for(8, 1, outer_fn, &c);
  /* each of the 8 inner loops ran inline as one call over [0, 100) */
  CHECK_EQ_INT(atomic_load(&c.inner_calls), 8);
  CHECK_EQ_INT(atomic_load(&c.inner_sum), 800);
  CHECK(atomic_load(&c.outer_calls) >= 2);
}

static void test_thread_count_change(void) {
  ct_set_num_threads(1);
  CHECK_EQ_INT(ct_get_num_threads(), 1);
  check_cover(1000, 1);
  ct_set_num_threads(3);
  CHECK_EQ_INT(ct_get_num_threads(), 3);
  check_cover(1000, 1);
  ct_set_num_threads(8);
  check_cover(1000, 1);
  ct_set_num_threads(2);
  check_cover(1000, 1);
  ct_set_num_threads(0); /* clamped to 1 */
  CHECK_EQ_INT(ct_get_num_threads(), 1);
}

#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
/* Half the smallest normal float: a denormal, unless the mode flushes it (inputs too on x86). */
static float halve(volatile float x) { return x * 0.5f; }
/* The control bits of the mode (x86 keeps sticky exception flags in MXCSR's low six bits). */
static uint32_t control(uint32_t mode) {
#if defined(__x86_64__) || defined(__i386__)
  return mode & ~0x3fu;
#else
  return mode;
#endif
}

static atomic_int flushed_ranges, ranges;
static void fp_range(void *ctx, int64_t begin, int64_t end) {
  (void)ctx, (void)begin, (void)end;
  volatile float tiny = 1.17549435e-38f; /* FLT_MIN */
  if (halve(tiny) == 0.0f) atomic_fetch_add(&flushed_ranges, 1);
  atomic_fetch_add(&ranges, 1);
}

/* ct_fp_flush_begin flushes denormal results to zero and ct_fp_restore gives them back; the
 * workers of a parallel loop run in the caller's mode, whichever it is. */
static void test_fp_mode(void) {
  volatile float tiny = 1.17549435e-38f;
  uint32_t before = ct_fp_mode();
  CHECK(halve(tiny) != 0.0f);
  uint32_t saved = ct_fp_flush_begin();
  CHECK(control(saved) == control(before));
  CHECK(halve(tiny) == 0.0f);
  ct_set_num_threads(2);
  atomic_store(&flushed_ranges, 0), atomic_store(&ranges, 0);
  ct_parallel_for(1 << 16, 1, fp_range, NULL);
  CHECK(atomic_load(&ranges) >= 1);
  CHECK_EQ_INT(atomic_load(&flushed_ranges), atomic_load(&ranges));
  ct_fp_restore(saved);
  CHECK(control(ct_fp_mode()) == control(before));
  CHECK(halve(tiny) != 0.0f);
  atomic_store(&flushed_ranges, 0), atomic_store(&ranges, 0);
  ct_parallel_for(1 << 16, 1, fp_range, NULL);
  CHECK_EQ_INT(atomic_load(&flushed_ranges), 0);
}
#endif

int main(void) {
  CHECK(ct_get_num_threads() >= 1);
  RUN_TEST(test_cover);
  RUN_TEST(test_nested_inline);
  RUN_TEST(test_thread_count_change);
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
  RUN_TEST(test_fp_mode);
#endif
  return test_summary();
}
