/* ir/weights.c: giving a module's parameters their values: from a safetensors file keyed by
 * PyTorch's state_dict names, or drawn from their init specs (PyTorch's default distributions)
 * with a seeded generator. Used by ctorch-run and ctorchc before a graph runs or is packaged. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctorch/safetensors.h"
#include "ir.h"

ct_status ct_module_bind_weights(ct_module *m, struct ct_st_file *weights, ct_diag *diag) {
  ct_status st = CT_OK;
  for (int i = 0; i < m->n_params; i++) {
    ct_param *p = &m->params[i];
    ct_tensor *t = ct_st_find(weights, p->name);
    /* Optimizer state starts from zeros (its init spec) when the file has none: a PyTorch
     * state_dict holds weights and buffers only. */
    if (!t && p->kind == CT_PARAM_STATE) continue;
    if (!t) {
      char want[128];
      ct_type_format(m, &p->type, want, sizeof want);
      st = ct_diag_error(diag, NULL, 0, 0, "weights: missing key '%s' (expected %s)", p->name,
                         want);
      continue;
    }
    char want[128], got[128];
    ct_type_format(m, &p->type, want, sizeof want);
    ct_tensor_describe(t, got, sizeof got);
    bool ok = t->dtype == p->type.dtype && t->rank == p->type.rank;
    for (int d = 0; ok && d < t->rank; d++)
      ok = ct_dim_is_const(p->type.dims[d]) && p->type.dims[d].off == t->shape[d];
    if (!ok) {
      st = ct_diag_error(diag, NULL, 0, 0, "weights: key '%s' is %s, the model expects %s",
                         p->name, got, want);
      continue;
    }
    ct_tensor *c = ct_tensor_contiguous(t);
    if (!c) return ct_diag_error(diag, NULL, 0, 0, "weights: out of memory");
    ct_tensor_release(p->init);
    p->init = c;
  }
  for (int i = 0; i < ct_st_count(weights); i++) {
    const char *name = ct_st_name(weights, i);
    if (!ct_module_find_param(m, name))
      st = ct_diag_error(diag, NULL, 0, 0, "weights: unexpected key '%s' (not a parameter of "
                                           "the model)", name);
  }
  return st;
}

/* xoshiro256** seeded through splitmix64: a small, good, reproducible generator. */
typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Uniform in [0, 1). */
static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

static double rng_normal(rng *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Parses "name(a,b,c)" / "name(a,b)" / "name(a)" / "name" into kind and up to three numbers
 * (args[0..2]). Returns the number count, or -1 when malformed. */
static int parse_spec(const char *spec, char *kind, size_t kind_size, double *args) {
  const char *open = strchr(spec, '(');
  size_t n = open ? (size_t)(open - spec) : strlen(spec);
  if (n + 1 > kind_size) return -1;
  memcpy(kind, spec, n);
  kind[n] = 0;
  int count = 0;
  if (open) {
    const char *p = open + 1;
    for (;;) {
      if (count == 3) return -1;
      char *end;
      args[count] = strtod(p, &end);
      if (end == p) return -1;
      count++;
      if (*end == ',') {
        p = end + 1;
        continue;
      }
      if (*end != ')' || end[1]) return -1;
      break;
    }
  }
  return count;
}

ct_status ct_module_init_params(ct_module *m, uint64_t seed, ct_diag *diag) {
  rng r;
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r.s[i] = splitmix64(&x);
  for (int i = 0; i < m->n_params; i++) {
    ct_param *p = &m->params[i];
    if (p->init) continue;
    int64_t shape[CT_MAX_RANK];
    for (int d = 0; d < p->type.rank; d++) {
      if (!ct_dim_is_const(p->type.dims[d]))
        return ct_diag_error(diag, NULL, 0, 0, "parameter '%s' has a symbolic shape", p->name);
      shape[d] = p->type.dims[d].off;
    }
    ct_tensor *t = ct_tensor_zeros(p->type.dtype, p->type.rank, shape);
    if (!t) return ct_diag_error(diag, NULL, 0, 0, "parameter '%s': out of memory", p->name);
    const char *spec = p->init_spec ? p->init_spec : "zeros";
    char kind[32];
    double args[3] = {0, 0, 0};
    int n_args = parse_spec(spec, kind, sizeof kind, args);
    double a = args[0], b = args[1];
    int64_t numel = ct_tensor_numel(t);
    ct_status st = CT_OK;
    if (n_args == 2 && strcmp(kind, "uniform") == 0) {
      for (int64_t k = 0; k < numel; k++) ct_tensor_set(t, k, a + (b - a) * rng_uniform(&r));
    } else if (n_args == 2 && strcmp(kind, "normal") == 0) {
      for (int64_t k = 0; k < numel; k++) ct_tensor_set(t, k, a + b * rng_normal(&r));
    } else if (n_args == 3 && strcmp(kind, "normal_pad") == 0) {
      /* nn.Embedding(padding_idx=row): normal(mean,std), then row `row` of dim 0 zeroed. */
      int64_t rows = p->type.rank ? shape[0] : 1, row = (int64_t)args[2];
      if (row < 0 || row >= rows || (double)row != args[2]) {
        st = ct_diag_error(diag, NULL, 0, 0, "parameter '%s': normal_pad row %g is not a row "
                           "index below %lld", p->name, args[2], (long long)rows);
      } else {
        for (int64_t k = 0; k < numel; k++) ct_tensor_set(t, k, a + b * rng_normal(&r));
        int64_t width = numel / rows;
        for (int64_t k = row * width; k < (row + 1) * width; k++) ct_tensor_set(t, k, 0.0);
      }
    } else if (n_args == 0 && strcmp(kind, "zeros") == 0) {
    } else if (n_args == 0 && strcmp(kind, "ones") == 0) {
      for (int64_t k = 0; k < numel; k++) ct_tensor_set(t, k, 1.0);
    } else if (n_args == 1 && strcmp(kind, "constant") == 0) {
      for (int64_t k = 0; k < numel; k++) ct_tensor_set(t, k, a);
    } else {
      st = ct_diag_error(diag, NULL, 0, 0, "parameter '%s': unknown init '%s' (expected "
                                           "uniform(a,b), normal(mean,std), "
                                           "normal_pad(mean,std,row), zeros, ones or "
                                           "constant(v))", p->name, spec);
    }
    if (st != CT_OK) {
      ct_tensor_release(t);
      return st;
    }
    p->init = t;
  }
  return CT_OK;
}
