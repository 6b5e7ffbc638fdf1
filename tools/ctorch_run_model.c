/* tools/ctorch_run_model.c: ctorch-run on a compiled model (.ctm package or ctorchc .so) through
 * the deployment API (include/ctorch/ctorch.h): list the entries, run one on a safetensors file
 * of inputs, write and check the outputs, benchmark, profile (per op interpreted, per node native), and save the
 * parameters a train step updated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctorch/ctorch.h"
#include "ctorch/package.h"
#include "ctorch/safetensors.h"
#include "ctorch_run.h"

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n > k && strcmp(s + n - k, suffix) == 0;
}

bool ctorch_run_is_compiled(const char *path) {
  if (has_suffix(path, ".ctm") || has_suffix(path, ".so")) return true;
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  return (got == 8 && memcmp(magic, CT_PKG_MAGIC, 8) == 0) ||
         (got >= 4 && memcmp(magic, "\177ELF", 4) == 0);
}

static int error(const char *msg) {
  fprintf(stderr, "ctorch-run: error: %s\n", msg);
  return 1;
}

static const char *role_name(ct_role r) {
  static const char *const names[] = {"input", "target", "param", "buffer", "state"};
  return names[r];
}

static void list_model(const ct_model *m) {
  printf("model %s\n", ct_model_name(m));
  for (int s = 1; s <= ct_model_num_symbols(m); s++)
    printf("symbol %s\n", ct_model_symbol(m, s));
  for (int i = 0; i < ct_model_num_params(m); i++) {
    const ct_tensor *t = ct_model_get_param(m, ct_model_param_name(m, i));
    char desc[128] = "(no value)";
    if (t) ct_tensor_describe(t, desc, sizeof desc);
    printf("param %s: %s\n", ct_model_param_name(m, i), desc);
  }
  for (int e = 0; e < ct_model_num_entries(m); e++) {
    printf("entry %s (%s)\n", ct_model_entry_name(m, e),
           ct_model_entry_is_native(m, e) ? "native" : "interpreted");
    char buf[256];
    for (int i = 0; i < ct_model_num_inputs(m, e); i++) {
      const ct_io_info *io = ct_model_input(m, e, i);
      ct_model_format_type(m, io, buf, sizeof buf);
      printf("  %s %s: %s\n", role_name(io->role), io->name, buf);
    }
    for (int i = 0; i < ct_model_num_outputs(m, e); i++) {
      const ct_io_info *io = ct_model_output(m, e, i);
      ct_model_format_type(m, io, buf, sizeof buf);
      printf("  result %s: %s\n", io->name, buf);
    }
  }
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* --profile: total time and call count per op (interpreted) or node label (native). */
typedef struct op_time {
  const char *op;
  double seconds;
  long long calls;
} op_time;

typedef struct profile {
  op_time ops[1024];
  int n;
} profile;

static void on_node(void *ctx, const char *op, double seconds) {
  profile *p = ctx;
  int i = 0;
  while (i < p->n && strcmp(p->ops[i].op, op) != 0)
    i++;
  if (i == p->n) {
    if (p->n == (int)(sizeof p->ops / sizeof p->ops[0])) return;
    p->ops[p->n++] = (op_time){op, 0, 0};
  }
  p->ops[i].seconds += seconds;
  p->ops[i].calls++;
}

static int by_time(const void *a, const void *b) {
  const op_time *x = a, *y = b;
  return x->seconds > y->seconds ? -1 : x->seconds < y->seconds;
}

static void print_profile(profile *p, long long runs, bool native) {
  qsort(p->ops, (size_t)p->n, sizeof *p->ops, by_time);
  double total = 0;
  for (int i = 0; i < p->n; i++)
    total += p->ops[i].seconds;
  printf("profile: %lld run%s, %.3f ms in kernels per run\n", runs, runs == 1 ? "" : "s",
         1e3 * total / (double)runs);
  printf("  %-36s %8s %12s %7s\n", native ? "node" : "op", "calls", "ms/run", "%");
  for (int i = 0; i < p->n; i++)
    printf("  %-36s %8lld %12.4f %6.1f%%\n", p->ops[i].op, p->ops[i].calls / runs,
           1e3 * p->ops[i].seconds / (double)runs,
           total > 0 ? 100.0 * p->ops[i].seconds / total : 0.0);
}

int ctorch_run_compiled(const options *o) {
  ct_model *m = NULL;
  ct_st_file *inputs = NULL, *expected = NULL;
  ct_tensor **in = NULL, **out = NULL;
  const char **names = NULL;
  int n_in = 0, n_out = 0, rc = 1;
  ct_diag diag;
  ct_diag_init(&diag);
  profile prof = {.n = 0};

  if (ct_model_load_flags(o->model, o->interpret ? CT_LOAD_INTERPRET : 0, &m) != CT_OK) {
    rc = error(ct_last_error());
    goto done;
  }
  if (o->weights && ct_model_load_params(m, o->weights) != CT_OK) {
    rc = error(ct_last_error());
    goto done;
  }
  if (o->list) {
    list_model(m);
    if (!o->inputs) {
      rc = 0;
      goto done;
    }
  }
  int e = o->entry ? ct_model_find_entry(m, o->entry) : ct_model_num_entries(m) > 0 ? 0 : -1;
  if (!o->entry)
    for (int k = 0; k < ct_model_num_entries(m); k++)
      if (strcmp(ct_model_entry_name(m, k), "forward") == 0) e = k;
  if (e < 0) {
    rc = error(ct_last_error());
    goto done;
  }
  n_in = ct_model_num_inputs(m, e);
  n_out = ct_model_num_outputs(m, e);
  in = calloc((size_t)n_in + 1, sizeof *in);
  out = calloc((size_t)n_out + 1, sizeof *out);
  names = calloc((size_t)n_out + 1, sizeof *names);
  if (!in || !out || !names) {
    rc = error("out of memory");
    goto done;
  }
  if (o->inputs && ct_st_load(o->inputs, &inputs, &diag) != CT_OK) {
    ct_diag_print(&diag, stderr);
    goto done;
  }
  int missing = 0;
  for (int i = 0; i < n_in; i++) {
    const char *name = ct_model_input(m, e, i)->name;
    in[i] = inputs ? ct_st_find(inputs, name) : NULL;
    if (!in[i]) {
      fprintf(stderr, "ctorch-run: error: %s: no value for input '%s'%s%s\n",
              ct_model_entry_name(m, e), name, inputs ? " in " : " (no --inputs given)",
              inputs ? o->inputs : "");
      missing++;
    }
  }
  if (missing) goto done;
  if (o->profile) ct_model_set_profiler(m, on_node, &prof);

  long long runs = o->bench ? o->bench : 1;
  double *times = calloc((size_t)runs, sizeof *times);
  if (!times) {
    rc = error("out of memory");
    goto done;
  }
  ct_status st = CT_OK;
  /* The first run allocates the outputs; later ones write into them in place. */
  if (o->bench) {
    st = ct_model_run(m, e, in, out);
    prof.n = 0;
  }
  for (long long r = 0; r < runs && st == CT_OK; r++) {
    double t0 = now_seconds();
    st = ct_model_run(m, e, in, out);
    times[r] = now_seconds() - t0;
  }
  if (st != CT_OK) {
    free(times);
    rc = error(ct_last_error());
    goto done;
  }
  if (o->bench) {
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    double median = runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    const ct_io_info *first = n_in ? ct_model_input(m, e, 0) : NULL;
    int64_t batch = first && first->rank && in[0]->rank ? in[0]->shape[0] : 1;
    printf("bench: %s x %lld (%s): min %.4f ms, median %.4f ms, %.1f samples/s (batch %lld)\n",
           ct_model_entry_name(m, e), runs,
           ct_model_entry_is_native(m, e) ? "native" : "interpreted", 1e3 * times[0], 1e3 * median,
           median > 0 ? (double)batch / median : INFINITY, (long long)batch);
  }
  free(times);
  if (o->profile) {
    if (ct_model_entry_is_native(m, e) && prof.n == 0)
      printf("profile: entry '%s' runs native code without a profile table (built by an older "
             "ctorchc); add --interpret to profile its IR on the runtime's kernels\n",
             ct_model_entry_name(m, e));
    else
      print_profile(&prof, runs, ct_model_entry_is_native(m, e));
  }

  for (int i = 0; i < n_out; i++)
    names[i] = ct_model_output(m, e, i)->name;
  if (o->print)
    for (int i = 0; i < n_out; i++)
      print_result(names[i], out[i]);
  if (o->outputs && ct_st_save(o->outputs, n_out, names, out, 0, NULL, NULL, &diag) != CT_OK) {
    ct_diag_print(&diag, stderr);
    goto done;
  }
  int mismatches = 0;
  if (o->check) {
    if (ct_st_load(o->check, &expected, &diag) != CT_OK) {
      ct_diag_print(&diag, stderr);
      goto done;
    }
    for (int i = 0; i < n_out; i++) {
      ct_tensor *want = ct_st_find(expected, names[i]);
      if (!want) {
        fprintf(stderr, "ctorch-run: check: %s has no tensor '%s'\n", o->check, names[i]);
        mismatches++;
      } else {
        mismatches += check_result(names[i], out[i], want, o);
      }
    }
  }
  if (o->save_weights && ct_model_save_params(m, o->save_weights, false) != CT_OK) {
    rc = error(ct_last_error());
    goto done;
  }
  if (o->save_state && ct_model_save_params(m, o->save_state, true) != CT_OK) {
    rc = error(ct_last_error());
    goto done;
  }
  if (o->save_package && ct_model_save_package(m, o->save_package) != CT_OK) {
    rc = error(ct_last_error());
    goto done;
  }
  rc = mismatches ? 1 : 0;
done:
  for (int i = 0; out && i < n_out; i++)
    ct_tensor_release(out[i]);
  free(in);
  free(out);
  free(names);
  ct_st_free(inputs);
  ct_st_free(expected);
  ct_model_free(m);
  ct_diag_free(&diag);
  return rc;
}
