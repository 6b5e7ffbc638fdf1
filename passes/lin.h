/* passes/lin.h: arithmetic on ct_lin (linear expressions in the module's symbols), for the
 * memory planner. Private to passes/. */
#ifndef CT_PASSES_LIN_H
#define CT_PASSES_LIN_H

#include <stdbool.h>

#include "ir.h"

static inline ct_lin lin_const(int64_t c) {
  ct_lin l = {0};
  l.c0 = c;
  return l;
}

/* a + k*b; false when the result needs more than CT_LIN_MAX_TERMS symbols. */
static inline bool lin_add_scaled(ct_lin a, const ct_lin *b, int64_t k, ct_lin *out) {
  a.c0 += k * b->c0;
  for (int i = 0; i < b->n; i++) {
    int j = 0;
    while (j < a.n && a.sym[j] != b->sym[i])
      j++;
    if (j == a.n) {
      if (a.n == CT_LIN_MAX_TERMS) return false;
      a.sym[j] = b->sym[i];
      a.coef[j] = 0;
      a.n++;
    }
    a.coef[j] += k * b->coef[i];
  }
  /* drop zero terms */
  int w = 0;
  for (int i = 0; i < a.n; i++)
    if (a.coef[i]) {
      a.sym[w] = a.sym[i];
      a.coef[w++] = a.coef[i];
    }
  a.n = w;
  *out = a;
  return true;
}

/* f >= 0 for every binding with all symbols >= 1: every coefficient non-negative and the value
 * at all-ones non-negative (exact for linear f on that domain). */
static inline bool lin_nonneg(const ct_lin *f) {
  int64_t at_one = f->c0;
  for (int i = 0; i < f->n; i++) {
    if (f->coef[i] < 0) return false;
    at_one += f->coef[i];
  }
  return at_one >= 0;
}

/* a <= b for every binding. */
static inline bool lin_le(const ct_lin *a, const ct_lin *b) {
  ct_lin d;
  return lin_add_scaled(*b, a, -1, &d) && lin_nonneg(&d);
}

static inline bool lin_eq(const ct_lin *a, const ct_lin *b) { return lin_le(a, b) && lin_le(b, a); }

#endif
