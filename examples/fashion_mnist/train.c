/* examples/fashion_mnist/train.c: the Fashion-MNIST main job's driver (issue 7). It trains the
 * compiled train step of examples/fashion_mnist/model.py (ctorchc --train --loss cross_entropy
 * --optim adam) from C on the IDX files, evaluates on the test set every epoch, saves the weights
 * (safetensors, state_dict names) after every completed epoch, then compiles the inference .ctm
 * and .so with ctorchc, runs ctorch-run on a few test images and prints a summary. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctorch/parallel.h"
#include "ctorch/safetensors.h"
#include "dataset.h"
#include "trainer.h"

#ifndef CT_SOURCE_DIR
#define CT_SOURCE_DIR "."
#endif
#define SMOKE_DATA CT_SOURCE_DIR "/tests/fixtures/fashion_mnist_small"
#define FULL_DATA "/usr/share/datasets/fashion-mnist"
#define MODEL_PY CT_SOURCE_DIR "/examples/fashion_mnist/model.py"
#define EVAL_BATCH 1000
#define SHOW_IMAGES 8

typedef struct options {
  const char *package, *data, *out, *init, *model, *tools;
  int epochs, batch, threads;
  uint64_t seed;
  int64_t train_limit, test_limit;
  int64_t sigint_after; /* --raise-sigint-after: the tests' deterministic Ctrl-C */
  int progress; /* -1: when stdout is a terminal */
  bool smoke, deploy;
} options;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double peak_rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: ctorch-fmnist-train --package TRAIN.ctm [options]\n"
          "Trains the Fashion-MNIST LeNet (examples/fashion_mnist/model.py) with its compiled\n"
          "train step, evaluates it on the test set each epoch, saves the weights, builds the\n"
          "inference package and shared object and runs ctorch-run on a few test images.\n"
          "  --package FILE     training package (ctorchc model.py --train ... -o FILE)\n"
          "  --data DIR         IDX files (default " FULL_DATA ")\n"
          "  --out DIR          outputs: weights.safetensors, model.ctm, model.so (default .)\n"
          "  --epochs E         epochs (default 8: about 90%% test accuracy); 0 evaluates the\n"
          "                     initial weights (--init) only\n"
          "  --batch-size B     batch size (default 64)\n"
          "  --seed S           shuffle seed (default 42)\n"
          "  --init FILE        initial weights (safetensors); default: the package's, which\n"
          "                     are written to OUT/init.safetensors for train_torch.py --init\n"
          "  --threads T        threads (default: CTORCH_NUM_THREADS or the CPUs)\n"
          "  --train-limit K    train on the first K images only; --test-limit K likewise\n"
          "  --progress, --no-progress   progress bar (default: when stdout is a terminal)\n"
          "  --no-deploy        stop after training (no .ctm/.so, no ctorch-run)\n"
          "  --tools DIR        where ctorchc and ctorch-run are (default: next to this program)\n"
          "  --smoke            the test suite's run: the committed 256/128-image subset, 1 epoch\n"
          "  --raise-sigint-after K   send this process SIGINT after K batches (for tests)\n"
          "  -h, --help         this text\n");
}

static int parse_int(const char *flag, const char *s, long long lo, long long hi, long long *v) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || end == s || *end || x < lo || x > hi) {
    fprintf(stderr, "ctorch-fmnist-train: error: %s expects an integer in [%lld, %lld], got '%s'\n",
            flag, lo, hi, s);
    return -1;
  }
  *v = x;
  return 0;
}

static int parse_options(int argc, char **argv, options *o) {
  enum { O_PACKAGE = 256, O_DATA, O_OUT, O_EPOCHS, O_BATCH, O_SEED, O_INIT, O_THREADS, O_TRAIN_LIMIT,
         O_TEST_LIMIT, O_PROGRESS, O_NO_PROGRESS, O_NO_DEPLOY, O_TOOLS, O_SMOKE, O_MODEL, O_SIGINT };
  static const struct option longs[] = {
      {"package", required_argument, 0, O_PACKAGE},   {"data", required_argument, 0, O_DATA},
      {"out", required_argument, 0, O_OUT},           {"epochs", required_argument, 0, O_EPOCHS},
      {"batch-size", required_argument, 0, O_BATCH},  {"seed", required_argument, 0, O_SEED},
      {"init", required_argument, 0, O_INIT},         {"threads", required_argument, 0, O_THREADS},
      {"train-limit", required_argument, 0, O_TRAIN_LIMIT},
      {"test-limit", required_argument, 0, O_TEST_LIMIT},
      {"progress", no_argument, 0, O_PROGRESS},       {"no-progress", no_argument, 0, O_NO_PROGRESS},
      {"no-deploy", no_argument, 0, O_NO_DEPLOY},     {"tools", required_argument, 0, O_TOOLS},
      {"smoke", no_argument, 0, O_SMOKE},             {"model", required_argument, 0, O_MODEL},
      {"raise-sigint-after", required_argument, 0, O_SIGINT},
      {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0}};
  *o = (options){.out = ".", .epochs = -1, .batch = 64, .seed = 42, .progress = -1,
                 .deploy = true, .model = MODEL_PY, .train_limit = -1, .test_limit = -1};
  opterr = 0;
  int c;
  long long v;
  while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
    switch (c) {
    case O_PACKAGE: o->package = optarg; break;
    case O_DATA: o->data = optarg; break;
    case O_OUT: o->out = optarg; break;
    case O_INIT: o->init = optarg; break;
    case O_TOOLS: o->tools = optarg; break;
    case O_MODEL: o->model = optarg; break;
    case O_EPOCHS:
      if (parse_int("--epochs", optarg, 0, 100000, &v)) return 2;
      o->epochs = (int)v;
      break;
    case O_BATCH:
      if (parse_int("--batch-size", optarg, 1, 1 << 20, &v)) return 2;
      o->batch = (int)v;
      break;
    case O_SEED:
      if (parse_int("--seed", optarg, 0, LLONG_MAX, &v)) return 2;
      o->seed = (uint64_t)v;
      break;
    case O_THREADS:
      if (parse_int("--threads", optarg, 1, 1024, &v)) return 2;
      o->threads = (int)v;
      break;
    case O_TRAIN_LIMIT:
      if (parse_int("--train-limit", optarg, 1, LLONG_MAX, &v)) return 2;
      o->train_limit = v;
      break;
    case O_TEST_LIMIT:
      if (parse_int("--test-limit", optarg, 1, LLONG_MAX, &v)) return 2;
      o->test_limit = v;
      break;
    case O_SIGINT:
      if (parse_int("--raise-sigint-after", optarg, 1, LLONG_MAX, &v)) return 2;
      o->sigint_after = v;
      break;
    case O_PROGRESS: o->progress = 1; break;
    case O_NO_PROGRESS: o->progress = 0; break;
    case O_NO_DEPLOY: o->deploy = false; break;
    case O_SMOKE: o->smoke = true; break;
    case 'h': usage(stdout); return 1;
    default:
      fprintf(stderr, "ctorch-fmnist-train: error: unknown or incomplete option '%s'\n",
              argv[optind - 1]);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "ctorch-fmnist-train: error: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (!o->package) {
    fprintf(stderr, "ctorch-fmnist-train: error: --package TRAIN.ctm is required (see --help)\n");
    return 2;
  }
  if (o->smoke) {
    if (!o->data) o->data = SMOKE_DATA;
    if (o->epochs < 0) o->epochs = 1;
  }
  if (!o->data) o->data = FULL_DATA;
  if (o->epochs < 0) o->epochs = 8;
  if (o->progress < 0) o->progress = isatty(STDOUT_FILENO);
  return 0;
}

/* The progress line: a bar on a terminal (redrawn in place), plain lines otherwise. */
typedef struct progress {
  bool tty;
  int epoch, epochs;
  int64_t batches;
  double start, last;
} progress;

static void progress_update(progress *p, int64_t done, double loss, bool final) {
  double t = now();
  double rate = done / (t - p->start > 1e-9 ? t - p->start : 1e-9);
  if (p->tty) {
    if (!final && t - p->last < 0.1) return;
    enum { WIDTH = 30 };
    int fill = (int)(WIDTH * done / (p->batches ? p->batches : 1));
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[WIDTH] = 0;
    printf("\repoch %d/%d [%s] %lld/%lld  %6.1f batches/s  loss %.4f\033[K", p->epoch,
           p->epochs, bar, (long long)done, (long long)p->batches, rate, loss);
    if (final) printf("\n");
    fflush(stdout);
  } else {
    /* About ten lines per epoch. */
    int64_t every = p->batches / 10 > 0 ? p->batches / 10 : 1;
    if (!final && done % every != 0) return;
    printf("epoch %d/%d: batch %lld/%lld, %.1f batches/s, loss %.4f\n", p->epoch, p->epochs,
           (long long)done, (long long)p->batches, rate, loss);
    fflush(stdout);
  }
  p->last = t;
}

/* The test set's accuracy in [0, 1] through the package's forward entry, in batches of
 * EVAL_BATCH; *seconds is the time it took. */
static ct_status evaluate(fm_trainer *tr, const fm_dataset *ds, double *accuracy, double *seconds,
                          ct_diag *diag) {
  int64_t shape[4] = {EVAL_BATCH, 1, ds->rows, ds->cols}, lshape[2] = {EVAL_BATCH, FM_CLASSES};
  float *xbuf = ct_aligned_alloc((size_t)EVAL_BATCH * (size_t)(ds->rows * ds->cols) * sizeof(float));
  int64_t *ybuf = malloc(EVAL_BATCH * sizeof(int64_t));
  float *lbuf = ct_aligned_alloc(EVAL_BATCH * FM_CLASSES * sizeof(float));
  ct_status st = CT_OK;
  if (!xbuf || !ybuf || !lbuf) st = ct_diag_error(diag, NULL, 0, 0, "out of memory");
  int64_t correct = 0;
  double t0 = now();
  for (int64_t b = 0; st == CT_OK && b < ds->n; b += EVAL_BATCH) {
    int64_t n = ds->n - b < EVAL_BATCH ? ds->n - b : EVAL_BATCH;
    shape[0] = lshape[0] = n;
    fm_fill_batch(ds, NULL, b, n, xbuf, ybuf);
    ct_tensor *x = ct_tensor_wrap(CT_DT_F32, 4, shape, xbuf, NULL, NULL);
    ct_tensor *logits = ct_tensor_wrap(CT_DT_F32, 2, lshape, lbuf, NULL, NULL);
    if (!x || !logits) st = ct_diag_error(diag, NULL, 0, 0, "out of memory");
    else st = fm_trainer_forward(tr, x, logits, diag);
    for (int64_t i = 0; st == CT_OK && i < n; i++) {
      int best = 0;
      for (int k = 1; k < FM_CLASSES; k++)
        if (lbuf[i * FM_CLASSES + k] > lbuf[i * FM_CLASSES + best]) best = k;
      correct += best == ybuf[i];
    }
    ct_tensor_release(x);
    ct_tensor_release(logits);
  }
  *seconds = now() - t0;
  *accuracy = ds->n ? (double)correct / (double)ds->n : 0.0;
  ct_aligned_free(xbuf);
  free(ybuf);
  ct_aligned_free(lbuf);
  return st;
}

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/* Runs argv[0] (a tool path) with argv and waits; its output goes to ours. Returns its exit
 * status, or -1 when it could not be run. */
static int run_tool(char *const *argv) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execv(argv[0], argv);
    fprintf(stderr, "ctorch-fmnist-train: error: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *const class_names[FM_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* Compiles the inference .ctm and .so from the saved weights and runs ctorch-run on the first
 * SHOW_IMAGES test images, printing predicted and true labels. */
static int deploy(const options *o, const char *tools, const char *weights,
                  const fm_dataset *test) {
  char *ctorchc = join(tools, "ctorchc"), *runner = join(tools, "ctorch-run");
  char *ctm = join(o->out, "model.ctm"), *so = join(o->out, "model.so");
  char *inputs = join(o->out, "test-images.safetensors");
  char *outputs = join(o->out, "test-predictions.safetensors");
  int rc = 1;
  if (!ctorchc || !runner || !ctm || !so || !inputs || !outputs) goto done;
  for (int k = 0; k < 2; k++) {
    const char *target = k == 0 ? ctm : so;
    printf("== ctorchc %s --weights %s -o %s\n", o->model, weights, target);
    char *argv[] = {ctorchc, (char *)o->model, "--input", "x=f32[N,1,28,28]", "--weights",
                    (char *)weights, "-O2", "-o", (char *)target, NULL};
    if (run_tool(argv) != 0) {
      fprintf(stderr, "ctorch-fmnist-train: error: ctorchc failed to build %s\n", target);
      goto done;
    }
    struct stat sb;
    if (stat(target, &sb) == 0) printf("   %s: %lld bytes\n", target, (long long)sb.st_size);
  }

  int64_t n = test->n < SHOW_IMAGES ? test->n : SHOW_IMAGES;
  int64_t shape[4] = {n, 1, test->rows, test->cols};
  float *xbuf = ct_aligned_alloc((size_t)(n * test->rows * test->cols) * sizeof(float));
  int64_t ybuf[SHOW_IMAGES];
  ct_tensor *x = xbuf ? ct_tensor_wrap(CT_DT_F32, 4, shape, xbuf, NULL, NULL) : NULL;
  ct_diag diag;
  ct_diag_init(&diag);
  ct_status st = CT_ERR_INVALID;
  if (x) {
    fm_fill_batch(test, NULL, 0, n, xbuf, ybuf);
    const char *names[1] = {"x"};
    st = ct_st_save(inputs, 1, names, &x, 0, NULL, NULL, &diag);
  }
  ct_tensor_release(x);
  ct_aligned_free(xbuf);
  if (st != CT_OK) {
    ct_diag_print(&diag, stderr);
    ct_diag_free(&diag);
    goto done;
  }
  /* Both artifacts run on the same images; their predictions must agree. */
  int predicted[2][SHOW_IMAGES];
  for (int k = 0; k < 2; k++) {
    const char *model = k == 0 ? ctm : so;
    printf("== ctorch-run %s --inputs %s --outputs %s\n", model, inputs, outputs);
    char *argv[] = {runner, (char *)model, "--inputs", inputs, "--outputs", outputs, NULL};
    if (run_tool(argv) != 0) {
      fprintf(stderr, "ctorch-fmnist-train: error: ctorch-run failed on %s\n", model);
      ct_diag_free(&diag);
      goto done;
    }
    ct_st_file *pred = NULL;
    st = ct_st_load(outputs, &pred, &diag);
    ct_tensor *logits = pred ? ct_st_find(pred, "output") : NULL;
    if (st != CT_OK || !logits || logits->rank != 2 || logits->shape[0] != n ||
        logits->shape[1] != FM_CLASSES) {
      if (st == CT_OK)
        ct_diag_error(&diag, outputs, 0, 0, "no 'output' of shape [%lld, 10]", (long long)n);
      ct_diag_print(&diag, stderr);
      ct_st_free(pred);
      ct_diag_free(&diag);
      goto done;
    }
    for (int64_t i = 0; i < n; i++) {
      int best = 0;
      for (int c = 1; c < FM_CLASSES; c++)
        if (ct_tensor_get(logits, i * FM_CLASSES + c) > ct_tensor_get(logits, i * FM_CLASSES + best))
          best = c;
      predicted[k][i] = best;
    }
    ct_st_free(pred);
  }
  printf("   image  predicted     true\n");
  int right = 0, agree = 0;
  for (int64_t i = 0; i < n; i++) {
    int best = predicted[1][i];
    right += best == ybuf[i];
    agree += best == predicted[0][i];
    printf("   %5lld  %-12s  %s%s\n", (long long)i, class_names[best], class_names[ybuf[i]],
           best == ybuf[i] ? "" : "  (wrong)");
  }
  printf("   %d of %lld right; model.ctm and model.so agree on %d of %lld\n", right, (long long)n,
         agree, (long long)n);
  if (agree != n) {
    fprintf(stderr, "ctorch-fmnist-train: error: model.ctm and model.so predict differently\n");
    ct_diag_free(&diag);
    goto done;
  }
  /* The deployed .so's own latency on these images (ctorch-run prints min/median, images/s). */
  printf("== ctorch-run %s --inputs %s --bench 100\n", so, inputs);
  char *bench_argv[] = {runner, so, "--inputs", inputs, "--bench", "100", NULL};
  if (run_tool(bench_argv) != 0) {
    fprintf(stderr, "ctorch-fmnist-train: error: ctorch-run --bench failed on %s\n", so);
    ct_diag_free(&diag);
    goto done;
  }
  ct_diag_free(&diag);
  rc = 0;
done:
  free(ctorchc);
  free(runner);
  free(ctm);
  free(so);
  free(inputs);
  free(outputs);
  return rc;
}

/* The directory holding this executable (tools sit next to it in build/bin). */
static char *self_dir(void) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return strdup(".");
  buf[n] = 0;
  char *slash = strrchr(buf, '/');
  if (slash) *slash = 0;
  return strdup(buf);
}

int main(int argc, char **argv) {
  options o;
  int rc = parse_options(argc, argv, &o);
  if (rc) return rc == 1 ? 0 : rc;
  if (o.threads) ct_set_num_threads(o.threads);
  if (mkdir(o.out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "ctorch-fmnist-train: error: cannot create %s: %s\n", o.out, strerror(errno));
    return 1;
  }

  ct_diag diag;
  ct_diag_init(&diag);
  fm_dataset train = {0}, test = {0};
  fm_trainer *tr = NULL;
  int64_t *order = NULL;
  float *xbuf = NULL;
  int64_t *ybuf = NULL;
  char *weights = join(o.out, "weights.safetensors"), *init_out = join(o.out, "init.safetensors");
  char *tools = o.tools ? strdup(o.tools) : self_dir();
  double *epoch_seconds = calloc((size_t)o.epochs + 1, sizeof(double));
  rc = 1;
  if (!weights || !init_out || !tools || !epoch_seconds) goto out;

  double t_load = now();
  if (fm_dataset_load(o.data, "train", o.smoke && o.train_limit < 0 ? 256 : o.train_limit, &train,
                      &diag) != CT_OK ||
      fm_dataset_load(o.data, "t10k", o.smoke && o.test_limit < 0 ? 128 : o.test_limit, &test,
                      &diag) != CT_OK)
    goto out;
  printf("data: %lld training and %lld test images from %s (%.2f s)\n", (long long)train.n,
         (long long)test.n, o.data, now() - t_load);
  if (fm_trainer_open(o.package, o.init, &tr, &diag) != CT_OK) goto out;
  if (!o.init) {
    if (fm_trainer_save(tr, init_out, &diag) != CT_OK) goto out;
    printf("initial weights: %s\n", init_out);
  }
  printf("training %s: %d epochs, batch %d, shuffle seed %llu, %d threads\n", o.package, o.epochs,
         o.batch, (unsigned long long)o.seed, ct_get_num_threads());

  int64_t pixels = train.rows * train.cols;
  order = malloc((size_t)train.n * sizeof(int64_t));
  xbuf = ct_aligned_alloc((size_t)o.batch * (size_t)pixels * sizeof(float));
  ybuf = malloc((size_t)o.batch * sizeof(int64_t));
  if (!order || !xbuf || !ybuf) {
    ct_diag_error(&diag, NULL, 0, 0, "out of memory");
    goto out;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the process at once */
  sigaction(SIGINT, &sa, NULL);

  fm_rng rng = fm_rng_seed(o.seed);
  int64_t batches = (train.n + o.batch - 1) / o.batch;
  double train_seconds = 0, eval_seconds = 0, accuracy = 0;
  int done_epochs = 0;
  int64_t steps = 0;
  for (int epoch = 1; epoch <= o.epochs && !interrupted; epoch++) {
    fm_shuffle(&rng, order, train.n);
    progress bar = {.tty = o.progress == 1, .epoch = epoch, .epochs = o.epochs,
                    .batches = batches, .start = now()};
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t b = 0; b < batches && !interrupted; b++) {
      int64_t begin = b * o.batch, n = train.n - begin < o.batch ? train.n - begin : o.batch;
      int64_t xs[4] = {n, 1, train.rows, train.cols}, ys[1] = {n};
      fm_fill_batch(&train, order, begin, n, xbuf, ybuf);
      ct_tensor *x = ct_tensor_wrap(CT_DT_F32, 4, xs, xbuf, NULL, NULL);
      ct_tensor *y = ct_tensor_wrap(CT_DT_I64, 1, ys, ybuf, NULL, NULL);
      float loss = 0;
      ct_status st = x && y ? fm_trainer_step(tr, x, y, &loss, &diag)
                            : ct_diag_error(&diag, NULL, 0, 0, "out of memory");
      ct_tensor_release(x);
      ct_tensor_release(y);
      if (st != CT_OK) goto out;
      loss_sum += (double)loss * (double)n;
      seen += n;
      progress_update(&bar, b + 1, loss_sum / (double)seen, b + 1 == batches);
      if (++steps == o.sigint_after) raise(SIGINT);
    }
    double dt = now() - bar.start;
    if (interrupted) {
      if (bar.tty) printf("\n");
      break;
    }
    train_seconds += dt;
    epoch_seconds[epoch] = dt;
    double es;
    if (evaluate(tr, &test, &accuracy, &es, &diag) != CT_OK) goto out;
    eval_seconds += es;
    if (fm_trainer_save(tr, weights, &diag) != CT_OK) goto out;
    done_epochs = epoch;
    printf("epoch %d: loss %.4f  test accuracy %.2f%%  %.1f s  %.0f images/s  (saved %s)\n", epoch,
           loss_sum / (double)seen, 100.0 * accuracy, dt, (double)train.n / dt, weights);
    fflush(stdout);
  }
  if (interrupted) {
    printf("interrupted: %s holds the weights of the last completed epoch (%d)\n", weights,
           done_epochs);
    rc = 130;
    goto out;
  }

  if (o.epochs == 0) { /* evaluation only: the initial (or --init) weights */
    double es;
    if (evaluate(tr, &test, &accuracy, &es, &diag) != CT_OK) goto out;
    printf("initial weights: test accuracy %.2f%% (%.1f s)\n", 100.0 * accuracy, es);
  }
  if (o.deploy && done_epochs > 0 && deploy(&o, tools, weights, &test) != 0) goto out;

  printf("== summary\n");
  printf("epochs: %d, test accuracy %.2f%%\n", done_epochs, 100.0 * accuracy);
  for (int e = 1; e <= done_epochs; e++) printf("  epoch %d: %.2f s\n", e, epoch_seconds[e]);
  if (train_seconds > 0)
    printf("training: %.0f images/s (%.2f s per epoch)\n",
           (double)train.n * done_epochs / train_seconds, train_seconds / done_epochs);
  if (eval_seconds > 0)
    printf("inference: %.0f images/s (test-set evaluation, batch %d)\n",
           (double)test.n * done_epochs / eval_seconds, EVAL_BATCH);
  printf("peak memory: %.1f MiB\n", peak_rss_mib());
  printf("weights: %s\n", weights);
  rc = 0;
out:
  fflush(stdout);
  if (diag.n_errors) ct_diag_print(&diag, stderr);
  ct_diag_free(&diag);
  fm_trainer_free(tr);
  fm_dataset_free(&train);
  fm_dataset_free(&test);
  free(order);
  ct_aligned_free(xbuf);
  free(ybuf);
  free(weights);
  free(init_out);
  free(tools);
  free(epoch_seconds);
  return rc;
}
