/* Shared by the audit unit tests: temp dirs, keys, and running a loop until a
 * condition holds. Included by one test file each, so statics are fine. */
#ifndef FB_TEST_AUDIT_HELPERS_H
#define FB_TEST_AUDIT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "audit/audit.h"
#include "core/util.h"
#include "unit_common.h"

static __attribute__((unused)) char *mkpath(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static __attribute__((unused)) char *make_tmpdir(void) {
  char tmpl[] = "/tmp/fb_audit_test.XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

static __attribute__((unused)) void rm_rf(const char *dir) { assert_true(fb_test_rm_rf(dir)); }

/* Writes a fresh Ed25519 key pair as PEM files; returns the key (caller frees). */
static __attribute__((unused)) EVP_PKEY *make_key(const char *priv_path, const char *pub_path) {
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  assert_non_null(k);
  FILE *f = fopen(priv_path, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
  if (pub_path) {
    f = fopen(pub_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
  }
  return k;
}

/* Counts completions of appends. */
typedef struct {
  int ok, failed;
  uint64_t last_seq;
  char last_hash[65];
  int last_status;
} done_counter;

static __attribute__((unused)) void count_done(void *data, int status, uint64_t seq, const char *hash) {
  done_counter *d = data;
  if (status == 0) {
    d->ok++;
    assert_true(seq > d->last_seq); /* completions come in seq order */
    d->last_seq = seq;
    assert_int_equal(strlen(hash), 64);
    memcpy(d->last_hash, hash, 65);
  } else {
    d->failed++;
  }
  d->last_status = status;
}

static __attribute__((unused)) void set_flag(void *data) { *(int *)data = 1; }

/* Runs the loop until *flag or ~10 s pass; fails the test on timeout. */
static __attribute__((unused)) void run_until(uv_loop_t *loop, const int *flag) {
  double end = fb_now_ms() + 10000;
  while (!*flag) {
    assert_true(fb_now_ms() < end);
    uv_run(loop, UV_RUN_ONCE);
  }
}

static __attribute__((unused)) void close_log(uv_loop_t *loop, fb_audit *a) {
  int closed = 0;
  fb_audit_close(a, set_flag, &closed);
  run_until(loop, &closed);
}

static __attribute__((unused)) json_t *event(const char *name, int i) {
  return json_pack("{s:s, s:i, s:s}", "event", name, "i", i, "note", "Ahmad bin Ismail — Sabah");
}

static __attribute__((unused)) char **read_lines(const char *path, size_t *n) {
  size_t len;
  char *text = fb_read_file(path, 1 << 26, &len);
  assert_non_null(text);
  char **lines = NULL;
  *n = 0;
  for (char *p = text; *p;) {
    char *nl = strchr(p, '\n');
    assert_non_null(nl);
    lines = realloc(lines, (*n + 1) * sizeof *lines);
    lines[(*n)++] = strndup(p, (size_t)(nl - p));
    p = nl + 1;
  }
  free(text);
  return lines;
}

static __attribute__((unused)) void free_lines(char **lines, size_t n) {
  for (size_t i = 0; i < n; i++) free(lines[i]);
  free(lines);
}

#endif
