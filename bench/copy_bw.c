/* bench/copy_bw.c: the machine's copy bandwidth, the yardstick of the fused elementwise chain
 * benchmark: the best of 20 memcpy runs of N floats split over T threads, reported as bytes read
 * plus bytes written per second.
 *   cc -O2 -pthread -o copy_bw bench/copy_bw.c && ./copy_bw 16777216 2 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct chunk {
  float *dst;
  const float *src;
  size_t n;
} chunk;

static void *copy_chunk(void *arg) {
  chunk *c = arg;
  memcpy(c->dst, c->src, c->n * sizeof(float));
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 16u << 20;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  if (n == 0 || threads < 1 || threads > 256) {
    fprintf(stderr, "usage: copy_bw N THREADS\n");
    return 2;
  }
  float *src = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  float *dst = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (!src || !dst) {
    fprintf(stderr, "copy_bw: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < n; i++) src[i] = (float)i, dst[i] = 0.0f; /* fault every page in */
  pthread_t tid[256];
  chunk chunks[256];
  double best = 1e30;
  for (int rep = 0; rep < 20; rep++) {
    double t0 = now();
    for (int t = 0; t < threads; t++) {
      size_t begin = n * (size_t)t / (size_t)threads, end = n * (size_t)(t + 1) / (size_t)threads;
      chunks[t] = (chunk){dst + begin, src + begin, end - begin};
      if (t > 0) pthread_create(&tid[t], NULL, copy_chunk, &chunks[t]);
    }
    copy_chunk(&chunks[0]);
    for (int t = 1; t < threads; t++) pthread_join(tid[t], NULL);
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  printf("copy %zu floats on %d threads: %.3f ms, %.2f GB/s\n", n, threads, best * 1e3,
         2.0 * (double)n * sizeof(float) / best / 1e9);
  int ok = dst[n - 1] == (float)(n - 1);
  free(src);
  free(dst);
  return ok ? 0 : 1;
}
