/* tools/ctorch-run: runs a model. A .ctir graph runs through the reference interpreter; a .ctm
 * package or a ctorchc .so runs through the deployment API (tools/ctorch_run_model.c). Inputs
 * and outputs are safetensors files keyed by the entry's input and result names, and --check
 * compares the outputs with expected ones (the differential tests' oracle check). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctorch/parallel.h"
#include "ctorch_run.h"
#include "ctorch/safetensors.h"
#include "ir.h"

static const char usage[] =
    "usage: ctorch-run MODEL.ctir|MODEL.ctm|MODEL.so [options]\n"
    "Runs an entry of a model: IR text through the reference interpreter, a package or shared\n"
    "object built by ctorchc through its native code (or the interpreter fallback).\n"
    "  --entry NAME            entry to run (default: forward, else the first one)\n"
    "  --inputs FILE           safetensors file holding the entry's user inputs, by name\n"
    "  --weights FILE          safetensors file with the parameters (state_dict keys)\n"
    "  --seed S                seed for parameters without weights (default 0; .ctir only)\n"
    "  --outputs FILE          write the results: 'output' (one result) or 'output0', ...\n"
    "                          (named results keep their names)\n"
    "  --check FILE            compare the results with FILE's tensors of the same names;\n"
    "                          exit 1 when any |got - want| > atol + rtol * |want|\n"
    "  --rtol R, --atol A      tolerances for --check (default 1e-5 and 1e-6)\n"
    "  --print                 print each result's shape and first values\n"
    "  --threads T             threads for the kernels (default: CTORCH_NUM_THREADS or CPUs)\n"
    ".ctm and .so models only:\n"
    "  --list                  print the entries and their signatures\n"
    "  --bench K               run K times after one warm-up run; print min/median latency\n"
    "                          and throughput\n"
    "  --profile               print the time per kernel (per node of native code)\n"
    "  --interpret             ignore the package's native code: run its IR\n"
    "  --save-weights FILE     after the run, write the parameters (state_dict keys)\n"
    "  --save-state FILE       same, with the optimizer state\n"
    "  --save-package FILE     after the run, write the package with the current parameters\n"
    "  -h, --help              this text\n";

static int parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->rtol = 1e-5;
  o->atol = 1e-6;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **dst = NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      exit(0);
    }
    int *flag = !strcmp(a, "--print")     ? &o->print
                : !strcmp(a, "--list")    ? &o->list
                : !strcmp(a, "--profile") ? &o->profile
                : !strcmp(a, "--interpret") ? &o->interpret
                                          : NULL;
    if (flag) {
      *flag = 1;
      continue;
    }
    if (!strcmp(a, "--entry")) dst = &o->entry;
    else if (!strcmp(a, "--inputs")) dst = &o->inputs;
    else if (!strcmp(a, "--weights")) dst = &o->weights;
    else if (!strcmp(a, "--outputs")) dst = &o->outputs;
    else if (!strcmp(a, "--check")) dst = &o->check;
    else if (!strcmp(a, "--save-weights")) dst = &o->save_weights;
    else if (!strcmp(a, "--save-state")) dst = &o->save_state;
    else if (!strcmp(a, "--save-package")) dst = &o->save_package;
    else if (!strcmp(a, "--seed") || !strcmp(a, "--rtol") || !strcmp(a, "--atol") ||
             !strcmp(a, "--threads") || !strcmp(a, "--bench")) {
      if (i + 1 >= argc) goto missing;
      char *end;
      const char *v = argv[++i];
      double x = strtod(v, &end);
      if (end == v || *end || x < 0) {
        fprintf(stderr, "ctorch-run: error: %s expects a non-negative number, got '%s'\n", a, v);
        return 2;
      }
      if (!strcmp(a, "--seed")) o->seed = (uint64_t)x;
      else if (!strcmp(a, "--rtol")) o->rtol = x;
      else if (!strcmp(a, "--atol")) o->atol = x;
      else if (!strcmp(a, "--bench")) {
        if (x < 1 || x > 1e9 || x != (double)(long long)x) {
          fprintf(stderr, "ctorch-run: error: --bench expects a count >= 1, got '%s'\n", v);
          return 2;
        }
        o->bench = (long long)x;
      } else if (x < 1 || x > 1024) {
        fprintf(stderr, "ctorch-run: error: --threads expects 1..1024, got '%s'\n", v);
        return 2;
      } else o->threads = (int)x;
      continue;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "ctorch-run: error: unknown option '%s' (see --help)\n", a);
      return 2;
    } else if (!o->model) {
      o->model = a;
      continue;
    } else {
      fprintf(stderr, "ctorch-run: error: more than one model given ('%s')\n", a);
      return 2;
    }
    if (i + 1 >= argc) goto missing;
    *dst = argv[++i];
    continue;
  missing:
    fprintf(stderr, "ctorch-run: error: %s expects a value\n", a);
    return 2;
  }
  if (!o->model) {
    fputs(usage, stderr);
    return 2;
  }
  return 0;
}

static char *result_name(const ct_graph *g, int i, int n, char *buf, size_t size) {
  const char *name = ct_graph_result_name(g, i);
  if (name) snprintf(buf, size, "%s", name);
  else if (n == 1) snprintf(buf, size, "output");
  else snprintf(buf, size, "output%d", i);
  return buf;
}

void print_result(const char *name, const ct_tensor *t) {
  char desc[128];
  ct_tensor_describe(t, desc, sizeof desc);
  printf("%s: %s =", name, desc);
  int64_t n = ct_tensor_numel(t);
  for (int64_t i = 0; i < n && i < 8; i++) printf(" %.6g", ct_tensor_get(t, i));
  printf("%s\n", n > 8 ? " ..." : "");
}

/* Compares got with want; returns 0 when within tolerance, else reports and returns 1. */
int check_result(const char *name, const ct_tensor *got, const ct_tensor *want,
                        const options *o) {
  char g[128], w[128];
  ct_tensor_describe(got, g, sizeof g);
  ct_tensor_describe(want, w, sizeof w);
  int same = got->rank == want->rank;
  for (int d = 0; same && d < got->rank; d++) same = got->shape[d] == want->shape[d];
  if (!same) {
    fprintf(stderr, "ctorch-run: check: '%s' is %s, expected %s\n", name, g, w);
    return 1;
  }
  int64_t n = ct_tensor_numel(got), bad = 0, worst_i = 0;
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double a = ct_tensor_get(got, i), b = ct_tensor_get(want, i);
    double excess = fabs(a - b) - (o->atol + o->rtol * fabs(b));
    if (isnan(a) != isnan(b) || excess > 0) {
      if (!bad || excess > worst || isnan(a)) worst = excess, worst_i = i;
      bad++;
    }
  }
  if (bad) {
    fprintf(stderr,
            "ctorch-run: check: '%s': %lld of %lld elements differ; worst at %lld: %.9g vs "
            "%.9g\n", name, (long long)bad, (long long)n, (long long)worst_i,
            ct_tensor_get(got, worst_i), ct_tensor_get(want, worst_i));
    return 1;
  }
  printf("check: %s matches (%lld elements)\n", name, (long long)n);
  return 0;
}

int main(int argc, char **argv) {
  options o;
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc;
  if (o.threads) ct_set_num_threads(o.threads);
  if (ctorch_run_is_compiled(o.model)) return ctorch_run_compiled(&o);
  if (o.list || o.bench || o.profile || o.interpret || o.save_weights || o.save_state ||
      o.save_package) {
    fprintf(stderr, "ctorch-run: error: --list, --bench, --profile, --interpret, --save-weights, "
            "--save-state and --save-package need a .ctm or .so model\n");
    return 2;
  }

  ct_diag diag;
  ct_diag_init(&diag);
  ct_module *m = NULL;
  ct_st_file *inputs = NULL, *weights = NULL, *expected = NULL;
  ct_tensor **args = NULL, **results = NULL;
  int n_args = 0, n_results = 0;
  rc = 1;

  size_t len;
  const char *name;
  char *text = cli_read_source(o.model, &len, &name, &diag);
  if (!text) goto done;
  m = ct_module_parse(text, len, name, &diag);
  free(text);
  if (!m || ct_module_verify(m, &diag) != CT_OK) goto done;

  const ct_graph *g = ct_module_find_graph(m, o.entry ? o.entry : "forward");
  if (!g && !o.entry && m->n_graphs) g = m->graphs[0];
  if (!g) {
    ct_diag_error(&diag, o.model, 0, 0, "no graph @%s", o.entry ? o.entry : "forward");
    goto done;
  }
  if (o.weights) {
    if (ct_st_load(o.weights, &weights, &diag) != CT_OK) goto done;
    if (ct_module_bind_weights(m, weights, &diag) != CT_OK) goto done;
  }
  if (ct_module_init_params(m, o.seed, &diag) != CT_OK) goto done;
  if (o.inputs && ct_st_load(o.inputs, &inputs, &diag) != CT_OK) goto done;

  n_args = ct_graph_num_inputs(g);
  args = calloc((size_t)n_args + 1, sizeof *args);
  if (!args) goto done;
  for (int i = 0; i < n_args; i++) {
    const ct_value *v = ct_graph_input(g, i);
    ct_param *p = v->name ? ct_module_find_param(m, v->name) : NULL;
    ct_tensor *t = p ? p->init : inputs ? ct_st_find(inputs, v->name ? v->name : "") : NULL;
    if (!t) {
      ct_diag_error(&diag, o.model, 0, 0, "@%s: no value for input '%s'%s%s", g->name,
                    v->name ? v->name : "?", inputs ? " in " : " (no --inputs given)",
                    inputs ? o.inputs : "");
      continue;
    }
    args[i] = ct_tensor_retain(t);
  }
  if (diag.n_errors) goto done;
  if (ct_interpret(g, args, n_args, &results, &n_results, &diag) != CT_OK) goto done;

  const char **names = calloc((size_t)n_results + 1, sizeof *names);
  char(*bufs)[256] = calloc((size_t)n_results + 1, sizeof *bufs);
  if (!names || !bufs) goto done_names;
  for (int i = 0; i < n_results; i++)
    names[i] = result_name(g, i, n_results, bufs[i], sizeof bufs[i]);
  if (o.print)
    for (int i = 0; i < n_results; i++) print_result(names[i], results[i]);
  if (o.outputs &&
      ct_st_save(o.outputs, n_results, names, results, 0, NULL, NULL, &diag) != CT_OK)
    goto done_names;
  int mismatches = 0;
  if (o.check) {
    if (ct_st_load(o.check, &expected, &diag) != CT_OK) goto done_names;
    for (int i = 0; i < n_results; i++) {
      ct_tensor *want = ct_st_find(expected, names[i]);
      if (!want) {
        fprintf(stderr, "ctorch-run: check: %s has no tensor '%s'\n", o.check, names[i]);
        mismatches++;
      } else {
        mismatches += check_result(names[i], results[i], want, &o);
      }
    }
  }
  rc = mismatches ? 1 : 0;
done_names:
  free(names);
  free(bufs);
done:
  if (cli_report(&diag)) rc = 1;
  for (int i = 0; i < n_args; i++) ct_tensor_release(args ? args[i] : NULL);
  for (int i = 0; i < n_results; i++) ct_tensor_release(results[i]);
  free(args);
  free(results);
  ct_st_free(inputs);
  ct_st_free(weights);
  ct_st_free(expected);
  ct_module_free(m);
  ct_diag_free(&diag);
  return rc;
}
