/* tools/ctorchc.c: ctorchc compiles a PyTorch nn.Module source file (model.py) ahead of time:
 * frontend, optional training graphs, the -O pipeline, then IR text, LLVM IR, assembly, an
 * object, a shared object or a .ctm package. Stages beyond the frontend live in
 * tools/ctorchc_<stage>.c and the compiler libraries (tools/ctorchc.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codegen.h"
#include "ctorch/compiler.h"
#include "ctorch/safetensors.h"
#include "ctorchc.h"
#include "ir.h"
#include "pass.h"

static const char usage[] =
    "usage: ctorchc MODEL.py --input NAME=DTYPE[DIMS] [--input ...] [options]\n"
    "       ctorchc MODULE.ctir [options]   (IR text: the frontend is skipped)\n"
    "Input:\n"
    "  --input x=f32[N,784]   one forward input: name, dtype and shape (symbols allowed)\n"
    "  --class NAME           the nn.Module class to compile (default: the last one)\n"
    "  --weights W.safetensors  parameters by state_dict key (default: PyTorch's init)\n"
    "  --seed S               seed of the default parameter init (default 0)\n"
    "Training (adds the grad and train_step entries):\n"
    "  --train                compile the training graphs too\n"
    "  --loss NAME            cross_entropy (default), nll_loss, mse_loss, l1_loss,\n"
    "                         binary_cross_entropy_with_logits\n"
    "  --target y=i64[N]      the loss target (default: y=i64[N] for class losses)\n"
    "  --reduction mean|sum   --label-smoothing F\n"
    "  --optim sgd|adam|adamw (default sgd) with PyTorch's argument names:\n"
    "  --lr F  --momentum F  --dampening F  --nesterov  --weight-decay F  --betas B1,B2\n"
    "  --eps F  --clip-grad-norm F\n"
    "  --no-dropout           train as with dropout p=0 (reproducible comparisons; @forward\n"
    "                         is the same either way)\n"
    "Optimization and output:\n"
    "  -O0 | -O1 | -O2        pass pipeline (default -O2; -O0 runs none)\n"
    "  --print-after-all      print the IR after every pass (stderr)\n"
    "  --print-memory-plan    print each graph's memory plan (stderr)\n"
    "  --emit KIND            ir, llvm, asm, obj, so or ctm (default: from -o's extension,\n"
    "                         else ir)\n"
    "  -o OUT                 output file (default: stdout for text)\n"
    "  --name NAME            exported symbol prefix (default: the class in snake_case)\n"
    "  --cpu NAME  --features +avx2,...  target CPU (default: the host)\n"
    "  --external-weights     keep weights out of the .so   --self-contained  static runtime\n"
    "  --print-fallbacks      list ops that call runtime kernels\n"
    "  --keep-denormals       IEEE subnormals in compiled code (default: flushed to zero,\n"
    "                         as TensorFlow and XLA do on CPU; ~100x faster where they occur)\n"
    "  --help                 print this help\n";

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "ctorchc: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return 2;
}

static bool parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return end != s && *end == 0 && errno == 0;
}

/* Options taking a value. */
static const char *const valued[] = {
    "--input", "-o", "--class", "--emit", "--weights", "--seed", "--loss", "--target",
    "--reduction", "--label-smoothing", "--optim", "--lr", "--momentum", "--dampening",
    "--weight-decay", "--betas", "--eps", "--clip-grad-norm", "--name", "--cpu", "--features"};

static bool takes_value(const char *a) {
  for (size_t i = 0; i < sizeof valued / sizeof valued[0]; i++)
    if (strcmp(a, valued[i]) == 0) return true;
  return false;
}

/* Parses argv into o. Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, ctorchc_options *o) {
  memset(o, 0, sizeof *o);
  o->output = "-";
  o->opt_level = 2;
  o->dampening = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    }
    if (takes_value(a)) {
      if (i + 1 >= argc) return bad_usage("'%s' needs an argument", a);
      const char *v = argv[++i];
      double d = 0;
      bool numeric = strcmp(a, "--label-smoothing") == 0 || strcmp(a, "--lr") == 0 ||
                     strcmp(a, "--momentum") == 0 || strcmp(a, "--dampening") == 0 ||
                     strcmp(a, "--weight-decay") == 0 || strcmp(a, "--eps") == 0 ||
                     strcmp(a, "--clip-grad-norm") == 0 || strcmp(a, "--seed") == 0;
      if (numeric && !parse_double(v, &d)) return bad_usage("'%s' needs a number", a);
      if (strcmp(a, "--input") == 0 || strcmp(a, "--target") == 0) {
        bool tgt = a[2] == 't';
        int *n = tgt ? &o->n_targets : &o->n_specs;
        if (*n == CTORCHC_MAX_INPUTS) return bad_usage("too many %s options", a);
        (tgt ? o->targets : o->specs)[(*n)++] = v;
      } else if (strcmp(a, "-o") == 0) o->output = v;
      else if (strcmp(a, "--class") == 0) o->root = v;
      else if (strcmp(a, "--emit") == 0) o->emit = v;
      else if (strcmp(a, "--weights") == 0) o->weights = v;
      else if (strcmp(a, "--seed") == 0) o->seed = (uint64_t)d;
      else if (strcmp(a, "--loss") == 0) o->loss = v;
      else if (strcmp(a, "--reduction") == 0) o->reduction = v;
      else if (strcmp(a, "--label-smoothing") == 0) o->label_smoothing = d;
      else if (strcmp(a, "--optim") == 0) o->optim = v;
      else if (strcmp(a, "--lr") == 0) o->lr = d, o->lr_set = true;
      else if (strcmp(a, "--momentum") == 0) o->momentum = d;
      else if (strcmp(a, "--dampening") == 0) o->dampening = d;
      else if (strcmp(a, "--weight-decay") == 0) o->weight_decay = d, o->weight_decay_set = true;
      else if (strcmp(a, "--eps") == 0) o->eps = d, o->eps_set = true;
      else if (strcmp(a, "--clip-grad-norm") == 0) o->clip_grad_norm = d;
      else if (strcmp(a, "--name") == 0) o->name = v;
      else if (strcmp(a, "--cpu") == 0) o->cpu = v;
      else if (strcmp(a, "--features") == 0) o->features = v;
      else if (strcmp(a, "--betas") == 0) {
        char *end;
        o->beta1 = strtod(v, &end);
        if (end == v || *end != ',') return bad_usage("'--betas' needs B1,B2 (got '%s')", v);
        const char *second = end + 1;
        o->beta2 = strtod(second, &end);
        if (end == second || *end) return bad_usage("'--betas' needs B1,B2 (got '%s')", v);
        o->betas_set = true;
      }
    } else if (strcmp(a, "-O0") == 0 || strcmp(a, "-O1") == 0 || strcmp(a, "-O2") == 0) {
      o->opt_level = a[2] - '0';
    } else if (strcmp(a, "-O3") == 0) {
      o->opt_level = 2;
    } else if (strcmp(a, "--train") == 0) o->train = true;
    else if (strcmp(a, "--nesterov") == 0) o->nesterov = true;
    else if (strcmp(a, "--no-dropout") == 0) o->no_dropout = true;
    else if (strcmp(a, "--print-after-all") == 0) o->print_after_all = true;
    else if (strcmp(a, "--print-memory-plan") == 0) o->print_memory_plan = true;
    else if (strcmp(a, "--print-fallbacks") == 0) o->print_fallbacks = true;
    else if (strcmp(a, "--external-weights") == 0) o->external_weights = true;
    else if (strcmp(a, "--self-contained") == 0) o->self_contained = true;
    else if (strcmp(a, "--keep-denormals") == 0) o->keep_denormals = true;
    else if (a[0] == '-' && a[1] != 0) return bad_usage("unknown option '%s'", a);
    else if (o->input) return bad_usage("more than one input file ('%s')", a);
    else o->input = a;
  }
  if (!o->input) return bad_usage("%s", "no input file");
  if (!o->emit) {
    size_t n = strlen(o->output);
    static const char *const ext[][2] = {{".so", "so"}, {".ctm", "ctm"}, {".ll", "llvm"},
                                         {".s", "asm"}, {".o", "obj"}, {".ctir", "ir"}};
    o->emit = "ir";
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
      size_t e = strlen(ext[k][0]);
      if (n > e && strcmp(o->output + n - e, ext[k][0]) == 0) o->emit = ext[k][1];
    }
  }
  static const char *const kinds[] = {"ir", "llvm", "asm", "obj", "so", "ctm"};
  bool known = false;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) known |= strcmp(o->emit, kinds[k]) == 0;
  if (!known) return bad_usage("unknown --emit kind '%s' (ir, llvm, asm, obj, so, ctm)", o->emit);
  if ((strcmp(o->emit, "obj") == 0 || strcmp(o->emit, "so") == 0 || strcmp(o->emit, "ctm") == 0) &&
      strcmp(o->output, "-") == 0)
    return bad_usage("--emit %s needs -o FILE", o->emit);
  return -1;
}

/* Parameters: from --weights, else PyTorch's default init from --seed. */
static ct_status bind_params(ct_module *m, const ctorchc_options *o, ct_diag *diag) {
  if (!o->weights) return ct_module_init_params(m, o->seed, diag);
  ct_st_file *w = NULL;
  ct_status st = ct_st_load(o->weights, &w, diag);
  if (st != CT_OK) return st;
  st = ct_module_bind_weights(m, w, diag);
  ct_st_free(w);
  return st;
}

static ct_status emit(ct_module *m, const ctorchc_options *o, ct_diag *diag) {
  if (strcmp(o->emit, "ir") == 0) {
    char *out = ct_module_to_string(m);
    ct_status st = cli_write_file(o->output, out, strlen(out), diag);
    free(out);
    return st;
  }
  if (strcmp(o->emit, "ctm") == 0) {
    if (!ctorchc_write_package)
      return ct_diag_error(diag, NULL, 0, 0, "not supported in this build: .ctm packages");
    return ctorchc_write_package(m, o, diag);
  }
  if (!ct_codegen_llvm)
    return ct_diag_error(diag, NULL, 0, 0, "not supported in this build: --emit %s (LLVM code "
                         "generation is not linked in)", o->emit);
  ct_emit_kind kind = strcmp(o->emit, "llvm") == 0  ? CT_EMIT_LLVM
                      : strcmp(o->emit, "asm") == 0 ? CT_EMIT_ASM
                      : strcmp(o->emit, "obj") == 0 ? CT_EMIT_OBJ
                                                    : CT_EMIT_SO;
  char header[4096] = {0};
  if (kind == CT_EMIT_SO) {
    size_t n = strlen(o->output);
    if (n + 1 < sizeof header) {
      memcpy(header, o->output, n + 1);
      if (n > 3 && strcmp(header + n - 3, ".so") == 0) header[n - 3] = 0;
      strncat(header, ".h", sizeof header - strlen(header) - 1);
    }
  }
  ct_codegen_options cg = {o->name,     o->cpu,         o->features,          o->opt_level,
                           !o->external_weights, o->self_contained, o->print_fallbacks,
                           header[0] ? header : NULL, o->keep_denormals};
  return ct_codegen_llvm(m, &cg, kind, o->output, diag);
}

int main(int argc, char **argv) {
  ctorchc_options o;
  int rc = parse_args(argc, argv, &o);
  if (rc >= 0) return rc;

  ct_diag diag;
  ct_diag_init(&diag);
  size_t len;
  const char *file;
  char *text = cli_read_source(o.input, &len, &file, &diag);
  if (!text) {
    cli_report(&diag);
    ct_diag_free(&diag);
    return 1;
  }
  ct_frontend_options fopt = {o.root, o.n_specs, o.specs};
  ct_module *m = NULL;
  int status = 0;
  bool native = strcmp(o.emit, "ir") != 0;
  const char *pipeline = ct_pipeline_for_level(o.opt_level);
  ct_pipeline_options popt = {false, o.print_after_all ? stderr : NULL, false, true};
  /* A .ctir input is IR text (as ctorch-opt reads it): it skips the frontend. */
  size_t in_len = strlen(o.input);
  bool ir_input = in_len > 5 && strcmp(o.input + in_len - 5, ".ctir") == 0;
  if (ir_input) {
    m = ct_module_parse(text, len, file, &diag);
    if (m && o.n_specs)
      ct_diag_add(&diag, CT_SEV_WARNING, NULL, 0, 0, "--input is ignored for a .ctir input");
  }
  if ((ir_input ? !m : ct_frontend_compile(text, len, file, &fopt, &m, &diag) != CT_OK) ||
      ct_module_verify(m, &diag) != CT_OK) {
    status = 1;
  } else if ((native || o.weights) && bind_params(m, &o, &diag) != CT_OK) {
    status = 1;
  } else if (o.train && !ctorchc_train) {
    ct_diag_error(&diag, NULL, 0, 0, "not supported in this build: --train (autodiff is not "
                  "linked in)");
    status = 1;
  } else if (o.train && ctorchc_train(m, &o, &diag) != CT_OK) {
    status = 1;
  } else if (ct_pipeline_run(m, pipeline, &popt, &diag) != CT_OK) {
    status = 1;
  } else {
    if (o.print_memory_plan) {
      if (ctorchc_print_memory_plan)
        ctorchc_print_memory_plan(m, stderr);
      else
        ct_diag_add(&diag, CT_SEV_WARNING, NULL, 0, 0,
                    "--print-memory-plan: memory planning is not linked in");
    }
    if (emit(m, &o, &diag) != CT_OK) status = 1;
  }
  free(text);
  if (cli_report(&diag)) status = 1;
  ct_module_free(m);
  ct_diag_free(&diag);
  return status;
}
