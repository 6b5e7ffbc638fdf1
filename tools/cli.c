/* tools/cli.c: file I/O and diagnostics printing shared by ctorchc, ctorch-opt and ctorch-run. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cli_read_file(const char *path, size_t *len, ct_diag *diag) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    ct_diag_error(diag, path, 0, 0, "cannot open: %s", strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
    if (n + 1 == cap) {
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = bigger;
      cap *= 2;
    }
  }
  int err = ferror(f);
  if (f != stdin) fclose(f);
  if (!buf || err) {
    free(buf);
    ct_diag_error(diag, path, 0, 0, "cannot read: %s", buf ? strerror(errno) : "out of memory");
    return NULL;
  }
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

char *cli_read_source(const char *path, size_t *len, const char **name, ct_diag *diag) {
  *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
  char *text = cli_read_file(path, len, diag);
  if (text) ct_diag_add_source(diag, *name, text, *len);
  return text;
}

ct_status cli_write_file(const char *path, const void *data, size_t len, ct_diag *diag) {
  if (strcmp(path, "-") == 0) {
    if (fwrite(data, 1, len, stdout) != len) return ct_diag_error(diag, "<stdout>", 0, 0, "write failed");
    return CT_OK;
  }
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return CT_ERR_NOMEM;
  snprintf(tmp, plen + 16, "%s.tmp%d", path, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    ct_diag_error(diag, path, 0, 0, "cannot write: %s", strerror(errno));
    free(tmp);
    return CT_ERR_IO;
  }
  int ok = fwrite(data, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    ct_diag_error(diag, path, 0, 0, "cannot write: %s", strerror(errno));
    remove(tmp);
    free(tmp);
    return CT_ERR_IO;
  }
  free(tmp);
  return CT_OK;
}

int cli_report(const ct_diag *diag) {
  ct_diag_print(diag, stderr);
  return diag->n_errors ? 1 : 0;
}
