/* examples/fashion_mnist/dataset.h: the Fashion-MNIST input pipeline of the training driver:
 * a split's images and labels from their IDX files, a seeded shuffle, and batches normalized
 * exactly as train_torch.py normalizes them (same f32 operations, same order). */
#ifndef CT_FM_DATASET_H
#define CT_FM_DATASET_H

#include <stdint.h>

#include "idx.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FM_CLASSES = 10 };
/* The training set's pixel mean and standard deviation (of pixel / 255). */
#define FM_MEAN 0.2860f
#define FM_STD 0.3530f

typedef struct fm_dataset {
  int64_t n;           /* number of examples */
  int64_t rows, cols;  /* image size (28 x 28) */
  const uint8_t *images; /* n * rows * cols pixels */
  const uint8_t *labels; /* n labels in [0, FM_CLASSES) */
  ct_idx *image_file, *label_file;
} fm_dataset;

/* Pairs an images array (rank 3: [n, rows, cols]) with a labels array (rank 1: [n]), taking
 * ownership of both (freed on failure too). Mismatched counts, wrong ranks and labels outside
 * [0, FM_CLASSES) are CT_ERR_FORMAT, reported against file. limit > 0 keeps the first limit
 * examples. */
ct_status fm_dataset_from_idx(ct_idx *images, ct_idx *labels, const char *file, int64_t limit,
                              fm_dataset *out, ct_diag *diag);
/* Loads split ("train" or "t10k") from dir: <split>-images-idx3-ubyte and
 * <split>-labels-idx1-ubyte, each raw or with a .gz suffix. */
ct_status fm_dataset_load(const char *dir, const char *split, int64_t limit, fm_dataset *out,
                          ct_diag *diag);
void fm_dataset_free(fm_dataset *ds);

/* splitmix64: the shuffle's random stream (train_torch.py implements the same one). */
typedef struct fm_rng {
  uint64_t state;
} fm_rng;
static inline fm_rng fm_rng_seed(uint64_t seed) {
  fm_rng r = {seed};
  return r;
}
uint64_t fm_rng_next(fm_rng *r);
/* One epoch's order: order = 0..n-1, then a Fisher-Yates shuffle drawing j = next % (i + 1) for
 * i from n-1 down to 1. The stream continues across epochs. */
void fm_shuffle(fm_rng *r, int64_t *order, int64_t n);

/* Writes examples order[begin .. begin+count) as x (f32 [count, 1, rows, cols]: (p / 255 -
 * FM_MEAN) / FM_STD) and y (i64 [count]). order may be NULL for the natural order. */
void fm_fill_batch(const fm_dataset *ds, const int64_t *order, int64_t begin, int64_t count,
                   float *x, int64_t *y);

#ifdef __cplusplus
}
#endif
#endif
