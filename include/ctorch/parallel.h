/* ctorch/parallel.h: the runtime's thread pool. Kernels and generated code split their outer
 * loops with ct_parallel_for; the pool is created on first use with ct_get_num_threads() workers
 * (default: the CTORCH_NUM_THREADS environment variable, else the number of online CPUs), and
 * the floating-point mode of compiled code (denormal flushing, runtime/fpmode.c). */
#ifndef CTORCH_PARALLEL_H
#define CTORCH_PARALLEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ct_range_fn)(void *ctx, int64_t begin, int64_t end);

/* Sets the number of threads used by later parallel loops (n >= 1). Not thread-safe against a
 * running ct_parallel_for. */
void ct_set_num_threads(int n);
int ct_get_num_threads(void);
/* Calls fn(ctx, begin, end) over disjoint ranges covering [0, n), each at least `grain` long
 * (except the last), on up to ct_get_num_threads() threads including the caller, and returns
 * when all are done. Runs inline when n <= grain, with one thread, or when called from inside
 * another parallel loop (no nested parallelism). */
void ct_parallel_for(int64_t n, int64_t grain, ct_range_fn fn, void *ctx);

/* The calling thread's floating-point control word (x86 MXCSR, AArch64 FPCR; 0 elsewhere).
 * ct_parallel_for's workers take the caller's mode for the loop. */
uint32_t ct_fp_mode(void);
void ct_fp_set_mode(uint32_t mode);
/* Flushes denormals to zero on this thread (results and inputs) and returns the previous mode,
 * for ct_fp_restore. Entries compiled with flush_denormals bracket their body with the two. */
uint32_t ct_fp_flush_begin(void);
void ct_fp_restore(uint32_t saved);

#ifdef __cplusplus
}
#endif
#endif
