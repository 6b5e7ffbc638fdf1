/* examples/fashion_mnist/dataset.c: the Fashion-MNIST input pipeline (dataset.h) on top of the
 * IDX reader. */
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ct_status fm_dataset_from_idx(ct_idx *images, ct_idx *labels, const char *file, int64_t limit,
                              fm_dataset *out, ct_diag *diag) {
  memset(out, 0, sizeof *out);
  ct_status st = CT_ERR_FORMAT;
  if (images->rank != 3) {
    ct_diag_error(diag, file, 0, 0, "images must have rank 3 ([n, rows, cols]), the file has %d",
                  images->rank);
  } else if (labels->rank != 1) {
    ct_diag_error(diag, file, 0, 0, "labels must have rank 1 ([n]), the file has %d",
                  labels->rank);
  } else if (images->dims[0] != labels->dims[0]) {
    ct_diag_error(diag, file, 0, 0, "%lld images but %lld labels", (long long)images->dims[0],
                  (long long)labels->dims[0]);
  } else {
    st = CT_OK;
    for (int64_t i = 0; i < labels->count; i++) {
      if (labels->data[i] >= FM_CLASSES) {
        ct_diag_error(diag, file, 0, 0, "label %d of example %lld is outside [0, %d)",
                      labels->data[i], (long long)i, FM_CLASSES);
        st = CT_ERR_FORMAT;
        break;
      }
    }
  }
  if (st != CT_OK) {
    ct_idx_free(images);
    ct_idx_free(labels);
    return st;
  }
  out->n = images->dims[0];
  if (limit > 0 && limit < out->n) out->n = limit;
  out->rows = images->dims[1];
  out->cols = images->dims[2];
  out->images = images->data;
  out->labels = labels->data;
  out->image_file = images;
  out->label_file = labels;
  return CT_OK;
}

/* dir/name, or dir/name.gz when only that exists. */
static char *split_path(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 5;
  char *path = malloc(len);
  if (!path) return NULL;
  snprintf(path, len, "%s/%s", dir, name);
  if (access(path, F_OK) != 0) {
    snprintf(path, len, "%s/%s.gz", dir, name);
    if (access(path, F_OK) != 0) snprintf(path, len, "%s/%s", dir, name);
  }
  return path;
}

ct_status fm_dataset_load(const char *dir, const char *split, int64_t limit, fm_dataset *out,
                          ct_diag *diag) {
  memset(out, 0, sizeof *out);
  char name[64];
  snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
  char *image_path = split_path(dir, name);
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
  char *label_path = split_path(dir, name);
  ct_idx *images = NULL, *labels = NULL;
  ct_status st = CT_ERR_INVALID;
  if (!image_path || !label_path) {
    ct_diag_error(diag, dir, 0, 0, "out of memory");
  } else if ((st = ct_idx_load(image_path, &images, diag)) == CT_OK &&
             (st = ct_idx_load(label_path, &labels, diag)) == CT_OK) {
    st = fm_dataset_from_idx(images, labels, label_path, limit, out, diag);
    images = labels = NULL;
  }
  ct_idx_free(images);
  ct_idx_free(labels);
  free(image_path);
  free(label_path);
  return st;
}

void fm_dataset_free(fm_dataset *ds) {
  ct_idx_free(ds->image_file);
  ct_idx_free(ds->label_file);
  memset(ds, 0, sizeof *ds);
}

uint64_t fm_rng_next(fm_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void fm_shuffle(fm_rng *r, int64_t *order, int64_t n) {
  for (int64_t i = 0; i < n; i++) order[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(fm_rng_next(r) % (uint64_t)(i + 1));
    int64_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

void fm_fill_batch(const fm_dataset *ds, const int64_t *order, int64_t begin, int64_t count,
                   float *x, int64_t *y) {
  int64_t pixels = ds->rows * ds->cols;
  for (int64_t b = 0; b < count; b++) {
    int64_t k = order ? order[begin + b] : begin + b;
    const uint8_t *src = ds->images + k * pixels;
    float *dst = x + b * pixels;
    for (int64_t p = 0; p < pixels; p++) dst[p] = ((float)src[p] / 255.0f - FM_MEAN) / FM_STD;
    y[b] = ds->labels[k];
  }
}
