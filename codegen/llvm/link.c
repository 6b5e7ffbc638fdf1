/* codegen/llvm/link.c: links the emitted object into a shared object with the system C
 * compiler driver (`cc -shared`), against libctorch_rt (found next to the running tool, in
 * $CTORCH_LIB_DIR, or in the build tree) and OpenBLAS, with an rpath to the runtime. */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_internal.h"

extern char **environ;

static bool has_runtime(const char *dir) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/libctorch_rt.so", dir);
  return access(path, R_OK) == 0;
}

/* The directory holding libctorch_rt.so: $CTORCH_LIB_DIR, <tool>/../lib, or the build tree's. */
static bool runtime_dir(char *out, size_t size) {
  const char *env = getenv("CTORCH_LIB_DIR");
  if (env && env[0] && has_runtime(env)) {
    snprintf(out, size, "%s", env);
    return true;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = 0;
      char dir[PATH_MAX + 8];
      snprintf(dir, sizeof dir, "%s/../lib", exe);
      char real[PATH_MAX];
      if (realpath(dir, real) && has_runtime(real)) {
        snprintf(out, size, "%s", real);
        return true;
      }
    }
  }
  if (has_runtime(CT_RT_LIB_DIR)) {
    snprintf(out, size, "%s", CT_RT_LIB_DIR);
    return true;
  }
  return false;
}

ct_status cg_link_so(cg *c, const char *obj_path, const char *so_path) {
  if (c->opt->self_contained)
    return ct_diag_error(c->diag, NULL, 0, 0, "--self-contained: not supported yet (this build "
                         "has no static runtime to link); drop it to link against libctorch_rt");
  char dir[PATH_MAX];
  if (!runtime_dir(dir, sizeof dir))
    return ct_diag_error(c->diag, NULL, 0, 0, "cannot find libctorch_rt.so (set CTORCH_LIB_DIR)");
  char ldir[PATH_MAX + 8], rpath[PATH_MAX + 16];
  snprintf(ldir, sizeof ldir, "-L%s", dir);
  snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", dir);
  const char *cc = getenv("CC");
  if (!cc || !cc[0]) cc = "cc";
  char *argv[] = {(char *)cc,     "-shared",      "-o",  (char *)so_path,   (char *)obj_path, ldir,
                  rpath,          "-lctorch_rt",  (char *)CT_OPENBLAS_LIB, "-lm",  "-Wl,--no-undefined",
                  "-Wl,-z,noexecstack", NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, cc, NULL, NULL, argv, environ);
  if (rc != 0)
    return ct_diag_error(c->diag, NULL, 0, 0, "cannot run the linker '%s': %s", cc, strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return ct_diag_error(c->diag, NULL, 0, 0, "waiting for the linker failed: %s", strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return ct_diag_error(c->diag, so_path, 0, 0, "linking failed ('%s -shared' exited with %d)", cc,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return CT_OK;
}
