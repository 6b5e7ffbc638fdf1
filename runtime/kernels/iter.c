/* runtime/kernels/iter.c: strided N-d iteration shared by the CPU kernels: broadcast strides,
 * a row-at-a-time iterator that merges contiguous dims, and a strided copy built on it. */
#include <string.h>

#include "kernels_internal.h"

void ct_iter_init(ct_iter *it, int rank, const int64_t *shape, int n_ops, char *const *base,
                  const int64_t *const *strides, const size_t *esize) {
  memset(it, 0, sizeof *it);
  it->n_ops = n_ops;
  for (int k = 0; k < n_ops; k++) it->esize[k] = esize[k];
  /* Keep dims of size != 1, outermost first. */
  int r = 0;
  for (int d = 0; d < rank; d++) {
    if (shape[d] == 1) continue;
    it->shape[r] = shape[d];
    for (int k = 0; k < n_ops; k++) it->strides[k][r] = strides[k][d];
    r++;
  }
  if (r == 0) {
    it->shape[0] = 1;
    for (int k = 0; k < n_ops; k++) it->strides[k][0] = 0;
    r = 1;
  }
  /* Merge dim d into the following one when every operand steps over it contiguously. */
  int m = 0;
  for (int d = 1; d < r; d++) {
    int mergeable = 1;
    for (int k = 0; k < n_ops; k++)
      if (it->strides[k][m] != it->strides[k][d] * it->shape[d]) mergeable = 0;
    if (mergeable) {
      it->shape[m] *= it->shape[d];
      for (int k = 0; k < n_ops; k++) it->strides[k][m] = it->strides[k][d];
    } else {
      m++;
      it->shape[m] = it->shape[d];
      for (int k = 0; k < n_ops; k++) it->strides[k][m] = it->strides[k][d];
    }
  }
  it->rank = m + 1;
  ct_iter_reset(it, base);
}

void ct_iter_reset(ct_iter *it, char *const *base) {
  for (int k = 0; k < it->n_ops; k++) {
    it->base[k] = base[k];
    it->off[k] = 0;
  }
  for (int d = 0; d < it->rank; d++) it->idx[d] = 0;
  it->done = 0;
  for (int d = 0; d < it->rank; d++)
    if (it->shape[d] == 0) it->done = 1;
}

int64_t ct_iter_next(ct_iter *it, char **ptr) {
  if (it->done) return 0;
  int n_ops = it->n_ops;
  for (int k = 0; k < n_ops; k++) ptr[k] = it->base[k] + it->off[k] * (int64_t)it->esize[k];
  int d = it->rank - 2;
  for (; d >= 0; d--) {
    it->idx[d]++;
    for (int k = 0; k < n_ops; k++) it->off[k] += it->strides[k][d];
    if (it->idx[d] < it->shape[d]) break;
    for (int k = 0; k < n_ops; k++) it->off[k] -= it->strides[k][d] * it->shape[d];
    it->idx[d] = 0;
  }
  if (d < 0) it->done = 1;
  return it->shape[it->rank - 1];
}

int ct_bcast_strides(const ct_tensor *t, int rank, const int64_t *shape, int64_t *strides) {
  if (t->rank > rank) return -1;
  int lead = rank - t->rank;
  for (int d = 0; d < rank; d++) {
    if (d < lead) {
      strides[d] = 0;
      continue;
    }
    int64_t n = t->shape[d - lead];
    if (n == shape[d])
      strides[d] = n == 1 ? 0 : t->strides[d - lead];
    else if (n == 1)
      strides[d] = 0;
    else
      return -1;
  }
  return 0;
}

int ct_shape_is(const ct_tensor *t, int rank, const int64_t *shape) {
  if (t->rank != rank) return 0;
  for (int d = 0; d < rank; d++)
    if (t->shape[d] != shape[d]) return 0;
  return 1;
}

#define COPY_ROWS(T)                                                                         \
  do {                                                                                       \
    while ((n = ct_iter_next(&it, p)) > 0) {                                                 \
      T *o = (T *)(void *)p[0];                                                              \
      const T *a = (const T *)(void *)p[1];                                                  \
      int64_t so = it.strides[0][it.rank - 1], sa = it.strides[1][it.rank - 1];              \
      if (so == 1 && sa == 1)                                                                \
        memcpy(o, a, (size_t)n * sizeof(T));                                                 \
      else                                                                                   \
        for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa];                               \
    }                                                                                        \
  } while (0)

void ct_copy_strided(int rank, const int64_t *shape, void *dst, const int64_t *dst_strides,
                     const void *src, const int64_t *src_strides, size_t esize) {
  ct_iter it;
  char *base[2] = {dst, (char *)src};
  const int64_t *strides[2] = {dst_strides, src_strides};
  size_t es[2] = {esize, esize};
  ct_iter_init(&it, rank, shape, 2, base, strides, es);
  char *p[2];
  int64_t n;
  switch (esize) {
  case 1: COPY_ROWS(uint8_t); break;
  case 2: COPY_ROWS(uint16_t); break;
  case 4: COPY_ROWS(uint32_t); break;
  default: COPY_ROWS(uint64_t); break;
  }
}
