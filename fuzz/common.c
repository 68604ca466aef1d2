#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"

static char tmpdir[64];
static char last_file[256];

static void remove_tmpdir(void) {
  if (last_file[0]) unlink(last_file);
  rmdir(tmpdir);
}

const char *fz_tmpdir(void) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fbfuzz.XXXXXX");
    if (!mkdtemp(tmpdir)) abort();
    atexit(remove_tmpdir);
  }
  return tmpdir;
}

const char *fz_write(const char *name, const void *data, size_t len) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", fz_tmpdir(), name);
  snprintf(last_file, sizeof last_file, "%s", path); /* one file per target: removed at exit */
  FILE *fp = fopen(path, "wb");
  if (!fp) abort();
  if (len && fwrite(data, 1, len, fp) != len) abort();
  fclose(fp);
  return path;
}

char *fz_cstr(const uint8_t *data, size_t len) {
  char *s = malloc(len + 1);
  if (!s) abort();
  if (len) memcpy(s, data, len);
  s[len] = '\0';
  return s;
}

const char *fz_key_path(const char *file) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/fuzz/keys/%s", FB_SOURCE_DIR, file);
  return path;
}

EVP_PKEY *fz_test_pub(void) {
  static EVP_PKEY *pub;
  if (!pub) {
    pub = fb_ed25519_load_public_key(fz_key_path("fuzz-test.pub.pem"), NULL);
    if (!pub) abort();
  }
  return pub;
}
