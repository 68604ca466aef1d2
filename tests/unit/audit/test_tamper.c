/* Tamper detection: a log written by fb_audit, then every single-byte flip, every line
 * deletion and every swap of two lines must be caught at that line or the next, by
 * fb_audit_verify_file and (for the intact log) by the independent Python verifier.
 *
 * `unit_audit_test_tamper --write-sample DIR` writes DIR/audit.jsonl, DIR/audit.pem and
 * DIR/audit.pub.pem and exits: tests/integration/audit_verify.sh uses it to get a log
 * written by the real writer. */
#include "helpers.h"

#include <fcntl.h>

#define ENTRIES 20
#define EVERY 6

static void done_one(void *data, int status, uint64_t seq, const char *hash) {
  (void)seq, (void)hash;
  assert_int_equal(status, 0);
  (*(int *)data)++;
}

/* Writes a sample log with ENTRIES entries and a checkpoint every EVERY. */
static void write_sample(const char *dir) {
  char *log = mkpath(dir, "audit.jsonl"), *key = mkpath(dir, "audit.pem"), *pub = mkpath(dir, "audit.pub.pem");
  EVP_PKEY *k = make_key(key, pub);
  EVP_PKEY_free(k);
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_audit_config cfg = {.path = log, .key = key, .checkpoint_every = EVERY};
  char *err = NULL;
  fb_audit *a = fb_audit_open(&loop, &cfg, &err);
  if (!a) fail_msg("open: %s", err);
  int done = 0;
  for (int i = 0; i < ENTRIES; i++) {
    json_t *e = i % 3 == 0
        ? json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[s]}, s:s, s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, s:i, s:i, s:b}], s:b}",
                    "event", "search", "query_id", "q-0001",
                    "requester", "sub", "analyst-7", "state", "MYS", "agency", "PDRM", "roles", "analyst",
                    "purpose", "prosecution", "legal_basis", "mla_treaty", "justification", "Boat arrivals in Sabah — case MY-2026-0042",
                    "subject", "name", "Ahmad bin Ismail", "vessel", "KM Sinar Laut",
                    "states", "state", "IDN", "outcome", "shared", "rule", "idn_mla", "records", 2, "redacted", 1, "review", 0,
                    "review", 0)
        : json_pack("{s:s, s:i, s:s}", "event", i % 3 == 1 ? "evaluate" : "admin", "n", i, "note", "ñandú ✓");
    assert_int_equal(fb_audit_append(a, e, done_one, &done), 0);
  }
  int closed = 0;
  fb_audit_close(a, set_flag, &closed);
  run_until(&loop, &closed);
  assert_int_equal(done, ENTRIES);
  assert_int_equal(uv_loop_close(&loop), 0);
  free(log), free(key), free(pub);
}

typedef struct {
  char *dir, *log, *copy;
  EVP_PKEY *pub;
  char *text;
  size_t len;
  size_t nlines;
  size_t *starts; /* start of line k (0-based); starts[nlines] = len */
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->dir = make_tmpdir();
  write_sample(f->dir);
  f->log = mkpath(f->dir, "audit.jsonl");
  f->copy = mkpath(f->dir, "tampered.jsonl");
  char *pub = mkpath(f->dir, "audit.pub.pem"), *err = NULL;
  f->pub = fb_audit_load_public_key(pub, &err);
  assert_non_null(f->pub);
  free(pub);
  f->text = fb_read_file(f->log, 1 << 20, &f->len);
  assert_non_null(f->text);
  f->starts = malloc((f->len + 2) * sizeof *f->starts);
  f->starts[0] = 0;
  for (size_t i = 0; i < f->len; i++)
    if (f->text[i] == '\n') f->starts[++f->nlines] = i + 1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  rm_rf(f->dir);
  EVP_PKEY_free(f->pub);
  free(f->dir), free(f->log), free(f->copy), free(f->text), free(f->starts);
  free(f);
  return 0;
}

/* Rewrites the copy in place: no truncation to zero, which on ext4 (auto_da_alloc)
 * would force a flush on every one of thousands of rewrites. */
static void write_copy(fixture *f, const char *data, size_t len) {
  int fd = open(f->copy, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, data, len, 0), (ssize_t)len);
  assert_int_equal(ftruncate(fd, (off_t)len), 0);
  close(fd);
}

/* Verifies the copy; expects a failure at line `line` or the next (1-based). */
static void expect_caught(fixture *f, size_t line, const char *what) {
  fb_audit_verify_result res;
  char *err = NULL;
  if (fb_audit_verify_file_ex(f->copy, f->pub, &res, &err) == 0) fail_msg("%s at line %zu not detected", what, line);
  if (res.bad_line != line && res.bad_line != line + 1)
    fail_msg("%s at line %zu detected at line %llu: %s", what, line, (unsigned long long)res.bad_line, err);
  if (res.bad_seq != line && res.bad_seq != line + 1)
    fail_msg("%s at line %zu reported seq %llu: %s", what, line, (unsigned long long)res.bad_seq, err);
  free(err);
}

static void test_intact(void **state) {
  fixture *f = *state;
  fb_audit_verify_result res;
  char *err = NULL;
  if (fb_audit_verify_file_ex(f->log, f->pub, &res, &err) != 0) fail_msg("%s", err);
  /* ENTRIES entries, a checkpoint after every EVERY, none left over at close? 20 = 3*6+2:
   * 3 periodic checkpoints and one at close. */
  assert_int_equal(res.checkpoints, ENTRIES / EVERY + 1);
  assert_int_equal(res.lines, ENTRIES + res.checkpoints);
  assert_int_equal(f->nlines, res.lines);
  /* Chain only, without a key. */
  assert_int_equal(fb_audit_verify_file(f->log, NULL, &err), 0);

  /* The independent verifier agrees. */
  char cmd[1024], out[256] = {0}, want[100];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/lib/audit_verify.py '%s' --key '%s/audit.pub.pem'",
           FB_SOURCE_DIR, f->log, f->dir);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, sizeof out - 1, p);
  (void)n;
  assert_int_equal(pclose(p), 0);
  snprintf(want, sizeof want, "ok: %llu entries, %llu checkpoints\n", (unsigned long long)res.lines,
           (unsigned long long)res.checkpoints);
  assert_string_equal(out, want);
}

static void test_every_byte_flip(void **state) {
  fixture *f = *state;
  char *buf = malloc(f->len);
  static const uint8_t masks[] = {0x01, 0x80};
  size_t tried = 0;
  /* All lines but the last: a flip there changes its hash, so the next prev breaks
   * even when the flipped line itself still parses. (The last line is covered below.) */
  for (size_t l = 0; l + 1 < f->nlines; l++) {
    for (size_t i = f->starts[l]; i + 1 < f->starts[l + 1]; i++) {
      for (size_t m = 0; m < FB_ARRAY_LEN(masks); m++) {
        memcpy(buf, f->text, f->len);
        buf[i] ^= (char)masks[m];
        write_copy(f, buf, f->len);
        expect_caught(f, l + 1, "byte flip");
        tried++;
      }
    }
  }
  print_message("%zu flips detected\n", tried);
  free(buf);
}

/* The last line is the checkpoint written at close: its prev and sig are covered by the
 * signature, its seq by continuity, its key_id by the key. */
static void test_last_checkpoint_flips(void **state) {
  fixture *f = *state;
  size_t l = f->nlines - 1;
  const char *line = f->text + f->starts[l];
  assert_non_null(strstr(line, "\"event\":\"checkpoint\""));
  char *buf = malloc(f->len);
  static const char *const fields[] = {"\"seq\":", "\"prev\":\"", "\"key_id\":\"", "\"sig\":\""};
  for (size_t k = 0; k < FB_ARRAY_LEN(fields); k++) {
    size_t at = (size_t)(strstr(line, fields[k]) - f->text) + strlen(fields[k]);
    for (size_t i = at; i < at + 8; i++) {
      memcpy(buf, f->text, f->len);
      buf[i] ^= 0x01;
      write_copy(f, buf, f->len);
      expect_caught(f, l + 1, fields[k]);
    }
  }
  free(buf);
}

static void test_delete_each_line(void **state) {
  fixture *f = *state;
  char *buf = malloc(f->len);
  for (size_t l = 0; l + 1 < f->nlines; l++) {
    size_t a = f->starts[l], b = f->starts[l + 1];
    memcpy(buf, f->text, a);
    memcpy(buf + a, f->text + b, f->len - b);
    write_copy(f, buf, f->len - (b - a));
    expect_caught(f, l + 1, "deleted line");
  }
  free(buf);
}

static void test_swap_lines(void **state) {
  fixture *f = *state;
  char *buf = malloc(f->len);
  for (size_t l1 = 0; l1 < f->nlines; l1++) {
    for (size_t l2 = l1 + 1; l2 < f->nlines; l2 += 3) {
      /* buf = [0,l1) + line l2 + (l1,l2) + line l1 + (l2,end) */
      size_t o = 0;
      memcpy(buf + o, f->text, f->starts[l1]), o += f->starts[l1];
      memcpy(buf + o, f->text + f->starts[l2], f->starts[l2 + 1] - f->starts[l2]), o += f->starts[l2 + 1] - f->starts[l2];
      memcpy(buf + o, f->text + f->starts[l1 + 1], f->starts[l2] - f->starts[l1 + 1]), o += f->starts[l2] - f->starts[l1 + 1];
      memcpy(buf + o, f->text + f->starts[l1], f->starts[l1 + 1] - f->starts[l1]), o += f->starts[l1 + 1] - f->starts[l1];
      memcpy(buf + o, f->text + f->starts[l2 + 1], f->len - f->starts[l2 + 1]), o += f->len - f->starts[l2 + 1];
      assert_int_equal(o, f->len);
      write_copy(f, buf, f->len);
      expect_caught(f, l1 + 1, "swapped lines");
    }
  }
  free(buf);
}

static void test_other_faults(void **state) {
  fixture *f = *state;
  fb_audit_verify_result res;
  char *err = NULL;
  /* A torn end. */
  write_copy(f, f->text, f->len - 1);
  assert_int_equal(fb_audit_verify_file_ex(f->copy, f->pub, &res, &err), -1);
  assert_int_equal(res.bad_line, f->nlines);
  assert_non_null(strstr(err, "torn"));
  free(err);
  /* Another key: caught at the first checkpoint, with a clear reason. */
  EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  assert_int_equal(fb_audit_verify_file_ex(f->log, other, &res, &err), -1);
  assert_int_equal(res.bad_line, EVERY + 1);
  assert_non_null(strstr(err, "key_id"));
  free(err);
  EVP_PKEY_free(other);
  /* An inserted blank line, a missing file. */
  char *buf = malloc(f->len + 1);
  memcpy(buf, f->text, f->starts[3]);
  buf[f->starts[3]] = '\n';
  memcpy(buf + f->starts[3] + 1, f->text + f->starts[3], f->len - f->starts[3]);
  write_copy(f, buf, f->len + 1);
  expect_caught(f, 4, "blank line");
  free(buf);
  assert_int_equal(fb_audit_verify_file("/nonexistent/audit.jsonl", NULL, &err), -1);
  assert_non_null(strstr(err, "cannot open"));
  free(err);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-sample") == 0) {
    write_sample(argv[2]);
    return 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_intact),
      cmocka_unit_test(test_every_byte_flip),
      cmocka_unit_test(test_last_checkpoint_flips),
      cmocka_unit_test(test_delete_each_line),
      cmocka_unit_test(test_swap_lines),
      cmocka_unit_test(test_other_faults),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
