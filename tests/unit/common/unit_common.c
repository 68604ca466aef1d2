#include "unit_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

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
