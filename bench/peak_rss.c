/* bench/peak_rss.c: runs a command and prints its peak resident set size in KiB on stderr's last
 * line ("peak_rss_kib N"). A small process of its own does the fork, so the measured child does
 * not inherit the high-water mark of a large parent (the kernel carries it across exec).
 *   cc -O2 -o peak_rss bench/peak_rss.c && ./peak_rss ctorch-run model.so --inputs x.safetensors */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: peak_rss COMMAND [ARGS...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("peak_rss: fork");
    return 1;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    perror("peak_rss: exec");
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("peak_rss: wait4");
    return 1;
  }
  fprintf(stderr, "peak_rss_kib %ld\n", ru.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
