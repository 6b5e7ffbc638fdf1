/* codegen/llvm/link.c: links the emitted object into a shared object with the system C
 * compiler driver (`cc -shared`), against libctorch_rt (found next to the running tool, in
 * $CTORCH_LIB_DIR, or in the build tree) and OpenBLAS, with an rpath to the runtime. With
 * --self-contained it links the static PIC copy libctorch_rt.a (same places) instead, under a
 * version script that exports only the ABI symbols of docs/abi.md, so the .so needs nothing but
 * libc, libm, libpthread and OpenBLAS. */
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

static bool has_runtime(const char *dir, const char *lib) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/%s", dir, lib);
  return access(path, R_OK) == 0;
}

/* The directory holding lib (libctorch_rt.so or .a): $CTORCH_LIB_DIR, <tool>/../lib, or the
 * build tree's. */
static bool runtime_dir(const char *lib, char *out, size_t size) {
  const char *env = getenv("CTORCH_LIB_DIR");
  if (env && env[0] && has_runtime(env, lib)) {
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
      if (realpath(dir, real) && has_runtime(real, lib)) {
        snprintf(out, size, "%s", real);
        return true;
      }
    }
  }
  if (has_runtime(CT_RT_LIB_DIR, lib)) {
    snprintf(out, size, "%s", CT_RT_LIB_DIR);
    return true;
  }
  return false;
}

static ct_status run_linker(cg *c, char **argv, const char *so_path) {
  const char *cc = argv[0];
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

/* The version script of a self-contained .so: the model's NAME_* symbols, the two ABI functions
 * and the runtime copy's error/thread hooks are global, every runtime symbol is local. */
static ct_status write_version_script(cg *c, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return ct_diag_error(c->diag, path, 0, 0, "cannot write: %s", strerror(errno));
  fprintf(f, "{\n  global:\n    %s_*;\n    ctorch_model_info;\n    ctorch_abi_version;\n"
             "    ctorch_rt_last_error;\n    ctorch_rt_set_num_threads;\n  local: *;\n};\n",
          c->name);
  if (fclose(f) != 0) return ct_diag_error(c->diag, path, 0, 0, "cannot write: %s", strerror(errno));
  return CT_OK;
}

static const char *compiler(void) {
  const char *cc = getenv("CC");
  return cc && cc[0] ? cc : "cc";
}

static ct_status link_self_contained(cg *c, const char *obj_path, const char *so_path) {
  char dir[PATH_MAX];
  if (!runtime_dir("libctorch_rt.a", dir, sizeof dir))
    return ct_diag_error(c->diag, NULL, 0, 0, "--self-contained: cannot find libctorch_rt.a "
                         "(set CTORCH_LIB_DIR)");
  char lib[PATH_MAX + 32], ver[4200], verarg[4300];
  snprintf(lib, sizeof lib, "%s/libctorch_rt.a", dir);
  snprintf(ver, sizeof ver, "%s.ver", obj_path);
  snprintf(verarg, sizeof verarg, "-Wl,--version-script=%s", ver);
  ct_status st = write_version_script(c, ver);
  if (st != CT_OK) return st;
  /* -u pulls the error/thread hooks out of the archive; --as-needed drops the runtime's own
   * dependencies (cJSON, libdl) that the members the model uses do not reference. */
  char *argv[] = {(char *)compiler(), "-shared", "-o", (char *)so_path, (char *)obj_path,
                  "-Wl,--as-needed", "-Wl,-u,ctorch_rt_last_error",
                  "-Wl,-u,ctorch_rt_set_num_threads", verarg, lib, (char *)CT_OPENBLAS_LIB,
                  "-lm", "-lpthread", "-Wl,--no-undefined", "-Wl,-z,noexecstack", NULL};
  st = run_linker(c, argv, so_path);
  remove(ver);
  return st;
}

ct_status cg_link_so(cg *c, const char *obj_path, const char *so_path) {
  if (c->opt->self_contained) return link_self_contained(c, obj_path, so_path);
  char dir[PATH_MAX];
  if (!runtime_dir("libctorch_rt.so", dir, sizeof dir))
    return ct_diag_error(c->diag, NULL, 0, 0, "cannot find libctorch_rt.so (set CTORCH_LIB_DIR)");
  char ldir[PATH_MAX + 8], rpath[PATH_MAX + 16];
  snprintf(ldir, sizeof ldir, "-L%s", dir);
  snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", dir);
  char *argv[] = {(char *)compiler(), "-shared",      "-o",  (char *)so_path,   (char *)obj_path, ldir,
                  rpath,          "-lctorch_rt",  (char *)CT_OPENBLAS_LIB, "-lm",  "-Wl,--no-undefined",
                  "-Wl,-z,noexecstack", NULL};
  return run_linker(c, argv, so_path);
}
