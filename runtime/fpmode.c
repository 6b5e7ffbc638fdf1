/* runtime/fpmode.c: the floating-point mode of compiled code. Entries built with
 * flush_denormals (ctorchc's default) run with denormal results flushed to zero and denormal
 * inputs read as zero (x86: MXCSR FTZ|DAZ; AArch64: FPCR.FZ), as TensorFlow and XLA run CPU
 * code: an operation that produces or consumes a subnormal float costs ~100 cycles on x86, and
 * training drives gradients and Adam's second moments into that range. Values below FLT_MIN
 * (1.2e-38) become 0; nothing else changes. The entry saves the caller's mode and restores it on
 * every return; ct_parallel_for hands the caller's mode to the workers that join a loop. */
#include "ctorch/parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FLUSH_BITS 0x8040u /* FTZ (bit 15) | DAZ (bit 6) */
uint32_t ct_fp_mode(void) { return _mm_getcsr(); }
void ct_fp_set_mode(uint32_t mode) { _mm_setcsr(mode); }
#elif defined(__aarch64__)
#define FLUSH_BITS (1u << 24) /* FPCR.FZ */
uint32_t ct_fp_mode(void) {
  uint64_t v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  return (uint32_t)v;
}
void ct_fp_set_mode(uint32_t mode) {
  uint64_t v = mode;
  __asm__ volatile("msr fpcr, %0" : : "r"(v));
}
#else
#define FLUSH_BITS 0u
uint32_t ct_fp_mode(void) { return 0; }
void ct_fp_set_mode(uint32_t mode) { (void)mode; }
#endif

uint32_t ct_fp_flush_begin(void) {
  uint32_t saved = ct_fp_mode();
  if ((saved & FLUSH_BITS) != FLUSH_BITS) ct_fp_set_mode(saved | FLUSH_BITS);
  return saved;
}

void ct_fp_restore(uint32_t saved) {
  if (ct_fp_mode() != saved) ct_fp_set_mode(saved);
}
