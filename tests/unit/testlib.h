/* tests/unit/testlib.h: a small unit-test harness. A test file defines functions
 * `static void test_x(void)` and a main that runs them with RUN_TEST(test_x), then returns
 * test_summary(). CHECK* record a failure with file:line and continue. */
#ifndef CT_TESTLIB_H
#define CT_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <string.h>

extern int test_failures;
extern int test_checks;
extern const char *test_current;

void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int test_summary(void);
/* Reads a whole file into a malloc'd, NUL-terminated buffer; NULL on failure. */
char *test_read_file(const char *path, size_t *len);

#define RUN_TEST(fn)                                                                         \
  do {                                                                                       \
    test_current = #fn;                                                                      \
    int before_ = test_failures;                                                             \
    fn();                                                                                    \
    printf("%s %s\n", test_failures == before_ ? "PASS" : "FAIL", #fn);                      \
    fflush(stdout);                                                                          \
  } while (0)

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    test_checks++;                                                                           \
    if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                                 \
  do {                                                                                       \
    test_checks++;                                                                           \
    if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                                 \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                   \
  do {                                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                                      \
    test_checks++;                                                                           \
    if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_);   \
  } while (0)

#define CHECK_STR_EQ(a, b)                                                                   \
  do {                                                                                       \
    const char *a_ = (a), *b_ = (b);                                                         \
    test_checks++;                                                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                   \
      test_fail(__FILE__, __LINE__, "%s == %s:\n  got:      %s\n  expected: %s", #a, #b,     \
                a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                     \
  } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                                        \
  do {                                                                                       \
    double a_ = (a), b_ = (b);                                                               \
    test_checks++;                                                                           \
    if (!(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_)))                                        \
      test_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g", #a, #b, a_, b_);               \
  } while (0)

#define CHECK_OK(expr)                                                                       \
  do {                                                                                       \
    int st_ = (int)(expr);                                                                   \
    test_checks++;                                                                           \
    if (st_ != 0) test_fail(__FILE__, __LINE__, "%s returned status %d", #expr, st_);        \
  } while (0)

#endif
