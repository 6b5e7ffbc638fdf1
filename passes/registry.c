/* passes/registry.c: the pass table built from passes.def, pipeline parsing and running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass.h"

static const ct_pass all_passes[] = {
#define PASS(ident, name, summary) {name, summary, NULL},
#include "passes.def"
#undef PASS
};
enum { N_ALL = sizeof all_passes / sizeof all_passes[0] };

static ct_pass registered[N_ALL];
static int n_registered = -1;

static void init_registry(void) {
  if (n_registered >= 0) return;
  ct_pass_fn fns[] = {
#define PASS(ident, name, summary) ct_pass_##ident,
#include "passes.def"
#undef PASS
  };
  int n = 0;
  for (int i = 0; i < N_ALL; i++) {
    if (!fns[i]) continue; /* weak and not linked in */
    registered[n] = all_passes[i];
    registered[n].run = fns[i];
    n++;
  }
  n_registered = n;
}

const ct_pass *ct_pass_list(int *n) {
  init_registry();
  *n = n_registered;
  return registered;
}

const ct_pass *ct_pass_find(const char *name, size_t len) {
  init_registry();
  for (int i = 0; i < n_registered; i++)
    if (strlen(registered[i].name) == len && memcmp(registered[i].name, name, len) == 0)
      return &registered[i];
  return NULL;
}

void ct_pass_names(char *buf, size_t size) {
  init_registry();
  size_t used = 0;
  buf[0] = 0;
  if (n_registered == 0) {
    snprintf(buf, size, "none");
    return;
  }
  for (int i = 0; i < n_registered && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", registered[i].name);
}

bool ct_pass_arg(const ct_pass_args *a, const char *key, char *buf, size_t size) {
  if (!a || !a->text) return false;
  size_t klen = strlen(key);
  const char *p = a->text;
  while (*p) {
    while (*p == ' ' || *p == ';') p++;
    const char *end = p + strcspn(p, "; ");
    const char *eq = memchr(p, '=', (size_t)(end - p));
    size_t nlen = eq ? (size_t)(eq - p) : (size_t)(end - p);
    if (nlen == klen && memcmp(p, key, klen) == 0) {
      const char *v = eq ? eq + 1 : end;
      size_t vlen = (size_t)(end - v);
      if (vlen >= size) vlen = size - 1;
      memcpy(buf, v, vlen);
      buf[vlen] = 0;
      return true;
    }
    p = end;
  }
  return false;
}

/* One pipeline item: name [ '{' args '}' ]. Advances *pp past the item and its comma. Returns
 * false at the end. Sets *bad for a malformed item (unbalanced braces). */
typedef struct item {
  const char *name;
  size_t name_len;
  const char *args;
  size_t args_len;
} item;

static bool next_item(const char **pp, item *it, bool *bad) {
  const char *p = *pp;
  *bad = false;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) return false;
    it->name = p;
    while (*p && *p != ',' && *p != '{' && *p != ' ') p++;
    it->name_len = (size_t)(p - it->name);
    while (*p == ' ') p++;
    it->args = "";
    it->args_len = 0;
    if (*p == '{') {
      const char *close = strchr(p, '}');
      if (!close) {
        *bad = true;
        *pp = p + strlen(p);
        return true;
      }
      it->args = p + 1;
      it->args_len = (size_t)(close - p - 1);
      p = close + 1;
    }
    while (*p == ' ') p++;
    if (*p && *p != ',') *bad = true;
    while (*p && *p != ',') p++;
    *pp = p;
    return true;
  }
}

ct_status ct_pipeline_check(const char *pipeline, ct_diag *diag) {
  const char *p = pipeline ? pipeline : "";
  item it;
  bool bad;
  ct_status st = CT_OK;
  while (next_item(&p, &it, &bad)) {
    if (bad) {
      st = ct_diag_error(diag, NULL, 0, 0, "malformed pipeline item '%.*s' (expected name or name{args})",
                         (int)it.name_len, it.name);
      continue;
    }
    if (!ct_pass_find(it.name, it.name_len)) {
      char names[512];
      ct_pass_names(names, sizeof names);
      st = ct_diag_error(diag, NULL, 0, 0, "unknown pass '%.*s' (available: %s)", (int)it.name_len,
                         it.name, names);
    }
  }
  return st;
}

ct_status ct_pipeline_run(ct_module *m, const char *pipeline, const ct_pipeline_options *opt,
                          ct_diag *diag) {
  ct_pipeline_options none = {0};
  if (!opt) opt = &none;
  if (ct_pipeline_check(pipeline, diag) != CT_OK) return CT_ERR_INVALID;
  bool verify = opt->verify_each;
#ifdef CT_VERIFY_EACH_PASS
  verify = true;
#endif
  const char *p = pipeline ? pipeline : "";
  item it;
  bool bad;
  while (next_item(&p, &it, &bad)) {
    const ct_pass *pass = ct_pass_find(it.name, it.name_len);
    char *args_text = malloc(it.args_len + 1);
    if (!args_text) return ct_diag_error(diag, NULL, 0, 0, "out of memory");
    memcpy(args_text, it.args, it.args_len);
    args_text[it.args_len] = 0;
    ct_pass_args args = {args_text};
    int errors_before = diag->n_errors;
    ct_status st = pass->run(m, &args, diag);
    free(args_text);
    if (st != CT_OK) {
      if (diag->n_errors == errors_before)
        ct_diag_error(diag, NULL, 0, 0, "pass '%s' failed", pass->name);
      return st;
    }
    if (verify && ct_module_verify(m, diag) != CT_OK) {
      ct_diag_error(diag, NULL, 0, 0, "the module is invalid after pass '%s'", pass->name);
      return CT_ERR_INVALID;
    }
    if (opt->print_after) {
      fprintf(opt->print_after, "// ----- after %s -----\n", pass->name);
      ct_module_print_opts(m, opt->print_after, opt->print_loc);
    }
  }
  return CT_OK;
}

const char *ct_pipeline_for_level(int level) {
  static const char *const full[] = {"decompose", "canonicalize", "fold", "cse", "dce",
                                     "fuse", "schedule", "plan-memory"};
  static char buf[3][256];
  if (level <= 0) return "";
  if (level > 2) level = 2;
  char *out = buf[level];
  if (out[0]) return out;
  size_t used = 0;
  for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
    if (level == 1 && (strcmp(full[i], "decompose") == 0 || strcmp(full[i], "fuse") == 0))
      continue;
    if (!ct_pass_find(full[i], strlen(full[i]))) continue; /* not linked in */
    used += (size_t)snprintf(out + used, sizeof buf[0] - used, "%s%s", used ? "," : "", full[i]);
  }
  return out;
}
