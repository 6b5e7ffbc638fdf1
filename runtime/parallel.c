/* runtime/parallel.c: the runtime's thread pool behind ct_parallel_for. A persistent pool of
 * pthread workers is created on first use (and re-created when the thread count changes); the
 * caller takes part in every loop, and a loop started inside another runs inline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctorch/parallel.h"

/* OpenBLAS (cblas.h of openblas-pthread): its own pool follows ctorch's thread count, so that
 * "T threads" means T for GEMM too. */
void openblas_set_num_threads(int num_threads);

#define MAX_THREADS 1024

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static atomic_int wanted_threads; /* 0: not chosen yet */
static atomic_flag pool_busy = ATOMIC_FLAG_INIT;
static _Thread_local int in_parallel;

/* Everything below is guarded by pool_mu, except next_chunk (atomic, used by joined threads). */
static pthread_t *workers;
static int n_workers;
static int shutting_down;
static uint64_t generation;
static ct_range_fn job_fn;
static void *job_ctx;
static int64_t job_n, job_chunk, job_chunks;
static uint32_t job_fp; /* the caller's floating-point mode */
static int join_slots, joined, finished;
static atomic_llong next_chunk;

static void run_chunks(ct_range_fn fn, void *ctx, int64_t n, int64_t chunk, int64_t chunks) {
  for (;;) {
    int64_t i = atomic_fetch_add(&next_chunk, 1);
    if (i >= chunks) return;
    int64_t begin = i * chunk, end = begin + chunk < n ? begin + chunk : n;
    fn(ctx, begin, end);
  }
}

static void *worker_main(void *arg) {
  (void)arg;
  in_parallel = 1;
  uint64_t seen = 0;
  pthread_mutex_lock(&pool_mu);
  seen = generation;
  for (;;) {
    while (!shutting_down && (generation == seen || joined >= join_slots))
      pthread_cond_wait(&work_cv, &pool_mu);
    if (shutting_down) break;
    seen = generation;
    joined++;
    ct_range_fn fn = job_fn;
    void *ctx = job_ctx;
    int64_t n = job_n, chunk = job_chunk, chunks = job_chunks;
    uint32_t fp = job_fp;
    pthread_mutex_unlock(&pool_mu);
    if (ct_fp_mode() != fp) ct_fp_set_mode(fp);
    run_chunks(fn, ctx, n, chunk, chunks);
    pthread_mutex_lock(&pool_mu);
    finished++;
    pthread_cond_signal(&done_cv);
  }
  pthread_mutex_unlock(&pool_mu);
  return NULL;
}

static int default_threads(void) {
  const char *env = getenv("CTORCH_NUM_THREADS");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1) return v > MAX_THREADS ? MAX_THREADS : (int)v;
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) return 1;
  return cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
}

void ct_set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  atomic_store(&wanted_threads, n);
  openblas_set_num_threads(n);
}

int ct_get_num_threads(void) {
  int n = atomic_load(&wanted_threads);
  if (n == 0) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&wanted_threads, &expected, default_threads()))
      openblas_set_num_threads(atomic_load(&wanted_threads));
    n = atomic_load(&wanted_threads);
  }
  return n;
}

/* Stops and joins the current workers. Called with pool_busy held and pool_mu not held. */
static void pool_stop(void) {
  pthread_mutex_lock(&pool_mu);
  shutting_down = 1;
  pthread_cond_broadcast(&work_cv);
  int count = n_workers;
  pthread_mutex_unlock(&pool_mu);
  for (int i = 0; i < count; i++) pthread_join(workers[i], NULL);
  pthread_mutex_lock(&pool_mu);
  free(workers);
  workers = NULL;
  n_workers = 0;
  shutting_down = 0;
  pthread_mutex_unlock(&pool_mu);
}

/* The workers run this library's code: they must be gone before it is unmapped. That matters
 * for the static copy linked into a `--self-contained` model, which dlclose unloads while the
 * process goes on (its idle workers would wake into unmapped code); for libctorch_rt it runs at
 * exit. */
__attribute__((destructor)) static void pool_unload(void) {
  if (n_workers && !atomic_flag_test_and_set(&pool_busy)) {
    pool_stop();
    atomic_flag_clear(&pool_busy);
  }
}

/* Makes the pool hold want workers (fewer if threads cannot be created). */
static void pool_resize(int want) {
  if (n_workers == want) return;
  if (n_workers) pool_stop();
  if (want <= 0) return;
  pthread_t *ws = malloc(sizeof *ws * (size_t)want);
  if (!ws) return;
  pthread_mutex_lock(&pool_mu);
  workers = ws;
  int made = 0;
  for (; made < want; made++)
    if (pthread_create(&ws[made], NULL, worker_main, NULL) != 0) break;
  n_workers = made;
  pthread_mutex_unlock(&pool_mu);
}

void ct_parallel_for(int64_t n, int64_t grain, ct_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int threads = ct_get_num_threads();
  if (n <= grain || threads <= 1 || in_parallel) {
    fn(ctx, 0, n);
    return;
  }
  /* Another thread owns the pool right now: run inline rather than wait. */
  if (atomic_flag_test_and_set(&pool_busy)) {
    fn(ctx, 0, n);
    return;
  }
  pool_resize(threads - 1);
  int64_t chunk = (n + threads - 1) / threads;
  if (chunk < grain) chunk = grain;
  int64_t chunks = (n + chunk - 1) / chunk;
  pthread_mutex_lock(&pool_mu);
  int helpers = (int)(chunks - 1 < n_workers ? chunks - 1 : n_workers);
  job_fn = fn;
  job_ctx = ctx;
  job_n = n;
  job_chunk = chunk;
  job_chunks = chunks;
  job_fp = ct_fp_mode();
  atomic_store(&next_chunk, 0);
  joined = finished = 0;
  join_slots = helpers;
  generation++;
  if (helpers > 0) pthread_cond_broadcast(&work_cv);
  pthread_mutex_unlock(&pool_mu);

  in_parallel = 1;
  run_chunks(fn, ctx, n, chunk, chunks);
  in_parallel = 0;

  pthread_mutex_lock(&pool_mu);
  join_slots = joined; /* workers that have not woken yet stay out: no chunks are left */
  while (finished < joined) pthread_cond_wait(&done_cv, &pool_mu);
  pthread_mutex_unlock(&pool_mu);
  atomic_flag_clear(&pool_busy);
}
