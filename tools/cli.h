/* tools/cli.h: what the command-line tools share: reading files, printing diagnostics, parsing
 * common flags. */
#ifndef CT_CLI_H
#define CT_CLI_H

#include <stddef.h>

#include "ctorch/types.h"

/* Reads a whole file into a malloc'd NUL-terminated buffer (*len excludes the NUL). On failure
 * reports `path: error: ...` to diag and returns NULL. */
char *cli_read_file(const char *path, size_t *len, ct_diag *diag);
/* cli_read_file, then registers the text with diag so that messages print the source line and a
 * caret. *name is the name diagnostics use: path, or "<stdin>" for "-". */
char *cli_read_source(const char *path, size_t *len, const char **name, ct_diag *diag);
/* Writes len bytes to path ("-" is stdout) through a temporary file renamed into place. */
ct_status cli_write_file(const char *path, const void *data, size_t len, ct_diag *diag);
/* Prints the diagnostics to stderr; returns 1 when any is an error, else 0 (an exit status). */
int cli_report(const ct_diag *diag);

#endif
