/* tools/ctorch_opt.c: ctorch-opt reads a module in the IR text form, optionally verifies it,
 * runs a pass pipeline and prints the result: the driver of every stage's text tests. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ir.h"
#include "pass.h"

static const char usage[] =
    "usage: ctorch-opt FILE.ctir [options]\n"
    "  FILE may be '-' for stdin.\n"
    "  -p PIPELINE        comma-separated passes to run, e.g. canonicalize,cse,dce;\n"
    "                     an item may carry arguments: autodiff{entry=forward}\n"
    "  --list-passes      print the available passes and exit\n"
    "  --verify           verify the module after parsing and after each pass\n"
    "  --print-loc        print source locations: loc(\"file\":line:col)\n"
    "  --print-after-all  print the module after each pass\n"
    "  --print-memory-plan  print the memory plans (plan-memory) to stderr\n"
    "  -o OUT             write the result to OUT (default: stdout)\n"
    "  --help             print this help\n";

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "ctorch-opt: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return 2;
}

int main(int argc, char **argv) {
  const char *input = NULL, *output = "-", *pipeline = "";
  bool verify = false, print_loc = false, print_after_all = false, print_plan = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(a, "-p") == 0 || strcmp(a, "-o") == 0) {
      if (i + 1 >= argc) return bad_usage("'%s' needs an argument", a);
      if (a[1] == 'p')
        pipeline = argv[++i];
      else
        output = argv[++i];
    } else if (strncmp(a, "-p=", 3) == 0 || strncmp(a, "--pipeline=", 11) == 0) {
      pipeline = strchr(a, '=') + 1;
    } else if (strcmp(a, "--list-passes") == 0) {
      int n;
      const ct_pass *passes = ct_pass_list(&n);
      for (int k = 0; k < n; k++) printf("  %-14s %s\n", passes[k].name, passes[k].summary);
      return 0;
    } else if (strcmp(a, "--verify") == 0) {
      verify = true;
    } else if (strcmp(a, "--print-loc") == 0) {
      print_loc = true;
    } else if (strcmp(a, "--print-after-all") == 0) {
      print_after_all = true;
    } else if (strcmp(a, "--print-memory-plan") == 0) {
      print_plan = true;
    } else if (a[0] == '-' && a[1] != 0) {
      return bad_usage("unknown option '%s'", a);
    } else if (input) {
      return bad_usage("more than one input file ('%s')", a);
    } else {
      input = a;
    }
  }
  if (!input) return bad_usage("%s", "no input file");
  ct_diag diag;
  ct_diag_init(&diag);
  if (ct_pipeline_check(pipeline, &diag) != CT_OK) {
    for (int k = 0; k < diag.n; k++) fprintf(stderr, "ctorch-opt: error: %s\n", diag.items[k].msg);
    ct_diag_free(&diag);
    return 1;
  }
  size_t len;
  const char *name;
  char *text = cli_read_source(input, &len, &name, &diag);
  if (!text) {
    cli_report(&diag);
    ct_diag_free(&diag);
    return 1;
  }
  ct_module *m = ct_module_parse(text, len, name, &diag);
  free(text);
  int status = 0;
  ct_pipeline_options popt = {verify, print_after_all ? stdout : NULL, print_loc, false};
  if (!m || (verify && ct_module_verify(m, &diag) != CT_OK) ||
      ct_pipeline_run(m, pipeline, &popt, &diag) != CT_OK) {
    status = 1;
  } else {
    if (print_plan) ct_mem_plan_print(m, stderr);
    char *out = ct_module_to_string_opts(m, print_loc);
    if (cli_write_file(output, out, strlen(out), &diag) != CT_OK) status = 1;
    free(out);
  }
  if (cli_report(&diag)) status = 1;
  ct_module_free(m);
  ct_diag_free(&diag);
  return status;
}
