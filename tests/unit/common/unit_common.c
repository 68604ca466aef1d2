#include "unit_common.h"

#include <ftw.h>

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "demo/demo_data.h"

/* Every unit test runs with the allocator convention of the binary (fedbroker's main):
 * jansson allocates through fb_xmalloc. An object library, so this is always linked. */
__attribute__((constructor)) static void use_fedbroker_allocator(void) {
  fb_json_use_xalloc();
}

void fb_test_write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  assert_true(fputs(text, fp) >= 0);
  assert_int_equal(fclose(fp), 0);
}

void fb_test_write_file_in(const char *dir, const char *name, const char *text) {
  char path[512];
  assert_true((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) < sizeof path);
  fb_test_write_file(path, text);
}

uint64_t fb_test_rand(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

int fb_test_sh(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof cmd);
  return system(cmd);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  return remove(path);
}

bool fb_test_rm_rf(const char *dir) {
  return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

bool fb_test_demo_data_dir(char *tmpl) {
  if (!mkdtemp(tmpl)) {
    perror("mkdtemp");
    return false;
  }
  char *err = NULL;
  if (fb_demo_data_generate(tmpl, 1, &err) != 0) {
    fprintf(stderr, "demo data: %s\n", err);
    free(err);
    return false;
  }
  return true;
}

pid_t fb_test_spawn_server(char *const argv[], int *port) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  bool ok = f && fscanf(f, "%d", port) == 1;
  if (f) fclose(f);
  else close(fds[0]);
  if (!ok) {
    fb_test_stop_server(pid);
    return -1;
  }
  return pid;
}

void fb_test_stop_server(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}
