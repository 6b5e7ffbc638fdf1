/* ctorch/abi.h: the ABI between generated model code and the runtime (docs/abi.md). */
#ifndef CTORCH_ABI_H
#define CTORCH_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CT_ABI_VERSION 1

/* No result buffer overlaps an input, another result or the workspace, and the workspace
 * overlaps no input; inputs may overlap each other (docs/abi.md: generated code relies on it). */
typedef struct ct_abi_call {
  const int64_t *syms;  /* symbol values, indexed by symbol id (syms[0] unused) */
  void *const *args;    /* one data pointer per graph input, in graph-input order */
  void *const *results; /* one data pointer per graph result, preallocated by the caller */
  void *workspace;      /* >= <name>_<entry>_workspace_size(syms) bytes, 64-byte aligned */
} ct_abi_call;

typedef int32_t (*ct_abi_entry_fn)(const ct_abi_call *call);
typedef int64_t (*ct_abi_workspace_fn)(const int64_t *syms);
typedef const char *(*ct_abi_info_fn)(void);

/* Records a failure message for the calling thread (generated code and the fallback path call
 * it before returning a non-zero status); the message is copied. */
void ct_abi_set_error(const char *msg);
/* The calling thread's last recorded message, or "" when none. */
const char *ct_abi_last_error(void);
/* Per-node profiling: each entry exports `ct_abi_profile NAME_E_profile`, one row per lowered
 * node in schedule order. Generated code reads `enabled` once per call; when it is non-zero,
 * every node adds 1 to its row's calls and its elapsed ct_abi_now_ns() to ns. The table is
 * global to the loaded .so (not per thread): enable it only while one thread runs the entry. */
typedef struct ct_abi_profile_row {
  const char *label; /* "%12 = fusion[linear,relu]", "%3 = argmax (fallback)" */
  const char *op;    /* the node's op name */
  uint64_t calls, ns;
} ct_abi_profile_row;
typedef struct ct_abi_profile {
  int32_t enabled;
  int32_t n_rows;
  ct_abi_profile_row rows[];
} ct_abi_profile;
/* CLOCK_MONOTONIC in nanoseconds (what generated code times nodes with). */
int64_t ct_abi_now_ns(void);

/* A self-contained .so (`ctorchc --self-contained`) carries its own copy of the runtime and
 * exports these two for it: the loader reads the model's error message and forwards the thread
 * count (ct_set_num_threads) through them. libctorch_rt defines them too. */
typedef const char *(*ct_abi_last_error_fn)(void);
typedef void (*ct_abi_set_threads_fn)(int n);
const char *ctorch_rt_last_error(void);
void ctorch_rt_set_num_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
