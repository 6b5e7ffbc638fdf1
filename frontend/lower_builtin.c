/* frontend/lower_builtin.c: the Python builtins a model applies to compile-time values:
 * range (unrolled loops), len, enumerate, zip, list, tuple, int, float, abs, min, max. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctorch/compiler.h"
#include "frontend.h"

#define ERR(node, ...) ct_lower_error(L, (node)->line, (node)->col, __VA_ARGS__)

enum { MAX_ARGS = 8, MAX_RANGE = 100000 };

/* ---- Python builtins on compile-time values ------------------------------------------------ */

bool ct_lower_is_builtin(const char *name) {
  static const char *const names[] = {"range", "len", "enumerate", "zip",  "int",  "float",
                                      "min",   "max", "abs",       "list", "tuple"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) return true;
  return false;
}

static bool const_int(ct_lower *L, const ct_py_expr *x, ct_lower_val v, int64_t *out) {
  if (v.kind == CT_LV_INT && !ct_dim_is_const(v.i)) {
    ERR(x, "unsupported: a symbolic size here; supported: constants");
    return false;
  }
  return ct_lower_as_int(L, x, v, out);
}

ct_lower_val ct_lower_call_builtin(ct_lower *L, ct_lower_env *e, const ct_py_expr *call,
                                   const char *name) {
  const ct_py_expr_list *args = &call->u.call.args;
  if (call->u.call.kwargs.n)
    return ERR(&call->u.call.kwargs.items[0], "%s() takes no keyword arguments here", name);
  int n = args->n;
  if (n > MAX_ARGS) return ERR(call, "%s() given too many arguments", name);
  ct_lower_val a[MAX_ARGS];
  for (int i = 0; i < n; i++) {
    a[i] = ct_lower_eval(L, e, args->items[i]);
    if (a[i].kind == CT_LV_ERR) return a[i];
  }
  if (strcmp(name, "range") == 0) {
    int64_t r[3] = {0, 0, 1};
    if (n < 1 || n > 3) return ERR(call, "range() takes 1 to 3 arguments, %d given", n);
    for (int i = 0; i < n; i++)
      if (!const_int(L, args->items[i], a[i], &r[n == 1 ? 1 : i])) return ct_lower_err_val();
    if (r[2] == 0) return ERR(call, "range() arg 3 must not be zero");
    int64_t count = r[2] > 0 ? (r[1] > r[0] ? (r[1] - r[0] + r[2] - 1) / r[2] : 0)
                             : (r[0] > r[1] ? (r[0] - r[1] - r[2] - 1) / -r[2] : 0);
    if (count > MAX_RANGE)
      return ERR(call, "range() of %lld items; at most %d are unrolled", (long long)count,
                 MAX_RANGE);
    ct_lower_val t = ct_lower_tuple(L, (int)count);
    for (int64_t i = 0; i < count; i++)
      t.elts[i] = ct_lower_int(r[0] + i * r[2]);
    return t;
  }
  if (strcmp(name, "len") == 0) {
    if (n != 1) return ERR(call, "len() takes exactly one argument (%d given)", n);
    if (a[0].kind == CT_LV_TENSOR) {
      if (a[0].t->type.rank == 0) return ERR(call, "len() of a 0-d tensor");
      return ct_lower_dim(a[0].t->type.dims[0]);
    }
    if (a[0].kind == CT_LV_STR) return ct_lower_int((int64_t)strlen(a[0].s));
    ct_lower_val items;
    if (!ct_lower_iter_items(L, args->items[0], a[0], &items)) return ct_lower_err_val();
    return ct_lower_int(items.n);
  }
  if (strcmp(name, "enumerate") == 0 || strcmp(name, "list") == 0 || strcmp(name, "tuple") == 0) {
    int64_t start = 0;
    if (n < 1 || n > (name[0] == 'e' ? 2 : 1)) return ERR(call, "%s() given %d arguments", name, n);
    if (n == 2 && !const_int(L, args->items[1], a[1], &start)) return ct_lower_err_val();
    ct_lower_val items;
    if (!ct_lower_iter_items(L, args->items[0], a[0], &items)) return ct_lower_err_val();
    if (name[0] != 'e') return items;
    ct_lower_val t = ct_lower_tuple(L, items.n);
    for (int i = 0; i < items.n; i++) {
      t.elts[i] = ct_lower_tuple(L, 2);
      t.elts[i].elts[0] = ct_lower_int(start + i);
      t.elts[i].elts[1] = items.elts[i];
    }
    return t;
  }
  if (strcmp(name, "zip") == 0) {
    ct_lower_val items[MAX_ARGS];
    int len = n ? INT32_MAX : 0;
    for (int i = 0; i < n; i++) {
      if (!ct_lower_iter_items(L, args->items[i], a[i], &items[i])) return ct_lower_err_val();
      if (items[i].n < len) len = items[i].n;
    }
    ct_lower_val t = ct_lower_tuple(L, len);
    for (int k = 0; k < len; k++) {
      t.elts[k] = ct_lower_tuple(L, n);
      for (int i = 0; i < n; i++)
        t.elts[k].elts[i] = items[i].elts[k];
    }
    return t;
  }
  if (strcmp(name, "int") == 0 || strcmp(name, "float") == 0 || strcmp(name, "abs") == 0) {
    if (n != 1) return ERR(call, "%s() takes exactly one argument (%d given)", name, n);
    ct_lower_val v = a[0];
    if (v.kind == CT_LV_STR && name[0] == 'f') {
      /* float('inf'), float('-inf'), float('nan'): the usual masking values. */
      static const struct {
        const char *text;
        double value;
      } special[] = {{"inf", INFINITY},      {"+inf", INFINITY},       {"-inf", -INFINITY},
                     {"infinity", INFINITY}, {"-infinity", -INFINITY}, {"nan", NAN}};
      for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (strcasecmp(v.s, special[i].text) == 0) return ct_lower_float(special[i].value);
      char *end;
      double f = strtod(v.s, &end);
      if (end != v.s && *end == 0) return ct_lower_float(f);
      return ERR(call, "could not convert string to float: '%s'", v.s);
    }
    if (v.kind == CT_LV_INT && !ct_dim_is_const(v.i)) {
      if (name[0] == 'i') return v;
      return ERR(call, "unsupported: %s() of a symbolic size", name);
    }
    if (v.kind != CT_LV_INT && v.kind != CT_LV_BOOL && v.kind != CT_LV_FLOAT)
      return ERR(call, "%s() expects a number, got a value of type %s", name,
                 ct_lower_kind_name(v.kind));
    double f = v.kind == CT_LV_FLOAT ? v.f : (double)v.i.off;
    if (name[0] == 'i') return ct_lower_int((int64_t)f);
    if (name[0] == 'f') return ct_lower_float(f);
    if (v.kind == CT_LV_FLOAT) return ct_lower_float(fabs(f));
    return ct_lower_int(v.i.off < 0 ? -v.i.off : v.i.off);
  }
  if (strcmp(name, "min") == 0 || strcmp(name, "max") == 0) {
    ct_lower_val items;
    if (n == 1) {
      if (!ct_lower_iter_items(L, args->items[0], a[0], &items)) return ct_lower_err_val();
    } else {
      items = ct_lower_tuple(L, n);
      memcpy(items.elts, a, (size_t)n * sizeof *a);
    }
    if (items.n == 0) return ERR(call, "%s() of an empty sequence", name);
    ct_lower_val best = items.elts[0];
    double bv = 0;
    for (int i = 0; i < items.n; i++) {
      ct_lower_val v = items.elts[i];
      if (v.kind == CT_LV_INT && !ct_dim_is_const(v.i))
        return ERR(call, "unsupported: %s() of a symbolic size", name);
      if (v.kind != CT_LV_INT && v.kind != CT_LV_BOOL && v.kind != CT_LV_FLOAT)
        return ERR(call, "%s() expects numbers", name);
      double f = v.kind == CT_LV_FLOAT ? v.f : (double)v.i.off;
      if (i == 0 || (name[1] == 'i' ? f < bv : f > bv)) best = v, bv = f;
    }
    return best;
  }
  return ERR(call, "unsupported builtin: %s()", name);
}
