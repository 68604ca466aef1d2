/* The audit log on a real uv loop in a temp dir: chain, group fsync, checkpoints,
 * reopen, torn tail, paging, write failure, rate limiting. */
#include "helpers.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "audit/internal.h"

typedef struct {
  uv_loop_t loop;
  char *dir, *log, *key, *pub;
  EVP_PKEY *pkey;
  fb_audit_config cfg;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  f->dir = make_tmpdir();
  f->log = mkpath(f->dir, "audit.jsonl");
  f->key = mkpath(f->dir, "audit.pem");
  f->pub = mkpath(f->dir, "audit.pub.pem");
  f->pkey = make_key(f->key, f->pub);
  f->cfg = (fb_audit_config){.path = f->log, .key = f->key, .checkpoint_every = 10};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  /* Every handle must be closed: a leaked one fails here. */
  assert_int_equal(uv_loop_close(&f->loop), 0);
  rm_rf(f->dir);
  EVP_PKEY_free(f->pkey);
  free(f->dir), free(f->log), free(f->key), free(f->pub);
  free(f);
  return 0;
}

static fb_audit *open_ok(fixture *f) {
  char *err = NULL;
  fb_audit *a = fb_audit_open(&f->loop, &f->cfg, &err);
  if (!a) fail_msg("open: %s", err);
  return a;
}

/* Appends n entries and runs the loop until they (and everything appended before them
 * with the same counter) have called back: callbacks come in seq order, so that is when
 * the last one's seq has been seen, or, on a failed log, when n more have failed. */
static void append_n(fixture *f, fb_audit *a, int n, done_counter *d) {
  int before = d->ok + d->failed;
  uint64_t last = 0;
  for (int i = 0; i < n; i++) {
    last = fb_audit_last_seq(a) + 1; /* this entry's seq (a checkpoint may follow it) */
    assert_int_equal(fb_audit_append(a, event("test", i), count_done, d), 0);
  }
  double end = fb_now_ms() + 10000;
  while (d->last_seq < last && !(!fb_audit_healthy(a) && d->ok + d->failed >= before + n)) {
    assert_true(fb_now_ms() < end);
    uv_run(&f->loop, UV_RUN_ONCE);
  }
}

static void hash_hex(const char *s, char out[65]) {
  uint8_t h[32];
  audit_sha256(s, strlen(s), h);
  fb_hex_encode(h, 32, out);
}

static void test_chain_and_checkpoints(void **state) {
  fixture *f = *state;
  fb_audit *a = open_ok(f);
  done_counter d = {0};
  append_n(f, a, 95, &d);
  assert_int_equal(d.ok, 95);
  assert_true(fb_audit_healthy(a));
  /* 9 checkpoints were added after every 10th entry. */
  assert_int_equal(fb_audit_last_seq(a), 104);
  close_log(&f->loop, a);

  size_t n;
  char **lines = read_lines(f->log, &n);
  assert_int_equal(n, 105); /* + the checkpoint at close */
  char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000";
  int checkpoints = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_loads(lines[i], 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), (json_int_t)i + 1);
    assert_string_equal(json_string_value(json_object_get(o, "prev")), prev);
    const char *ev = json_string_value(json_object_get(o, "event"));
    if (strcmp(ev, "checkpoint") == 0) {
      checkpoints++;
      assert_true((i + 1) % 11 == 0 || i + 1 == n);
      char kid[17];
      assert_int_equal(audit_key_id(f->pkey, kid), 0);
      assert_string_equal(json_string_value(json_object_get(o, "key_id")), kid);
      assert_true(audit_sig_ok(f->pkey, prev, 64, json_string_value(json_object_get(o, "sig"))));
    } else {
      /* Exact layout: the log's keys first, then the event's in insertion order;
       * compact, and UTF-8 unescaped. */
      char want[200];
      snprintf(want, sizeof want, "{\"seq\":%zu,\"ts\":\"", i + 1);
      assert_memory_equal(lines[i], want, strlen(want));
      assert_non_null(strstr(lines[i], "\",\"event\":\"test\",\"prev\":\""));
      char tail[100];
      snprintf(tail, sizeof tail, "\"prev\":\"%s\",\"i\":", prev);
      assert_non_null(strstr(lines[i], tail));
      assert_non_null(strstr(lines[i], "\"note\":\"Ahmad bin Ismail \xe2\x80\x94 Sabah\"}"));
    }
    json_decref(o);
    hash_hex(lines[i], prev);
  }
  assert_int_equal(checkpoints, 10);
  free_lines(lines, n);

  char *err = NULL;
  fb_audit_verify_result res;
  if (fb_audit_verify_file_ex(f->log, f->pkey, &res, &err) != 0) fail_msg("%s", err);
  assert_int_equal(res.lines, 105);
  assert_int_equal(res.checkpoints, 10);
}

/* The hash handed to the callback is the SHA-256 of the entry's own line. */
static void test_callback_hash(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  fb_audit *a = open_ok(f);
  done_counter d = {0};
  append_n(f, a, 3, &d);
  close_log(&f->loop, a);
  size_t n;
  char **lines = read_lines(f->log, &n);
  assert_int_equal(n, 3); /* no key: no checkpoints */
  char h[65];
  hash_hex(lines[2], h);
  assert_string_equal(h, d.last_hash);
  assert_int_equal(d.last_seq, 3);
  free_lines(lines, n);
}

/* 64 appends kept outstanding share fsyncs. */
typedef struct {
  fb_audit *a;
  int started, done, total;
} pump;

static void pump_done(void *data, int status, uint64_t seq, const char *hash) {
  (void)seq, (void)hash;
  pump *p = data;
  assert_int_equal(status, 0);
  p->done++;
  if (p->started < p->total) {
    p->started++;
    assert_int_equal(fb_audit_append(p->a, event("test", p->started), pump_done, p), 0);
  }
}

static void test_group_fsync(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  fb_audit *a = open_ok(f);
  pump p = {.a = a, .total = 1000};
  for (; p.started < 64; p.started++) assert_int_equal(fb_audit_append(a, event("test", p.started), pump_done, &p), 0);
  double end = fb_now_ms() + 20000;
  while (p.done < p.total) {
    assert_true(fb_now_ms() < end);
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  fb_audit_stats st;
  fb_audit_get_stats(a, &st);
  print_message("group fsync: %llu lines, %llu fsyncs\n", (unsigned long long)st.written,
                (unsigned long long)st.fsyncs);
  assert_int_equal(st.written, 1000);
  assert_true(st.fsyncs >= 1);
  /* Completions of one batch re-append together and go out as one batch (64 when the
   * machine is idle); waking the writer per append instead gave under 3 entries per
   * fsync. The bound leaves room for a loaded machine (sanitizers, parallel tests). */
  assert_true(st.fsyncs * 4 <= st.written);
  close_log(&f->loop, a);
}

static void test_reopen_continues(void **state) {
  fixture *f = *state;
  done_counter d = {0};
  fb_audit *a = open_ok(f);
  append_n(f, a, 5, &d);
  close_log(&f->loop, a);
  a = open_ok(f);
  assert_int_equal(fb_audit_last_seq(a), 6); /* 5 + checkpoint */
  d.last_seq = 0;
  append_n(f, a, 5, &d);
  assert_int_equal(d.last_seq, 11);
  close_log(&f->loop, a);
  /* Reopening and closing with nothing new adds no second checkpoint. */
  a = open_ok(f);
  close_log(&f->loop, a);
  char *err = NULL;
  fb_audit_verify_result res;
  if (fb_audit_verify_file_ex(f->log, f->pkey, &res, &err) != 0) fail_msg("%s", err);
  assert_int_equal(res.lines, 12);
  assert_int_equal(res.checkpoints, 2);
}

static void append_raw(const char *path, const char *s) {
  FILE *fp = fopen(path, "a");
  assert_non_null(fp);
  fputs(s, fp);
  fclose(fp);
}

static void test_torn_tail_recovery(void **state) {
  fixture *f = *state;
  done_counter d = {0};
  fb_audit *a = open_ok(f);
  append_n(f, a, 3, &d);
  close_log(&f->loop, a);
  const char *torn = "{\"seq\":5,\"ts\":\"2026-11-27T2";
  append_raw(f->log, torn);

  a = open_ok(f);
  assert_int_equal(fb_audit_last_seq(a), 5); /* 3 + checkpoint + recovery */
  d.last_seq = 0;
  append_n(f, a, 1, &d);
  close_log(&f->loop, a);
  size_t n;
  char **lines = read_lines(f->log, &n);
  assert_int_equal(n, 7);
  json_t *rec = json_loads(lines[4], 0, NULL);
  assert_string_equal(json_string_value(json_object_get(rec, "event")), "recovery");
  assert_int_equal(json_integer_value(json_object_get(rec, "seq")), 5);
  assert_int_equal(json_integer_value(json_object_get(rec, "cut_bytes")), (json_int_t)strlen(torn));
  json_decref(rec);
  free_lines(lines, n);
  char *err = NULL;
  if (fb_audit_verify_file(f->log, f->pkey, &err) != 0) fail_msg("%s", err);
}

/* A crash while writing the very first line: everything is cut, the recovery entry
 * becomes line 1 with 64 zeros as prev. */
static void test_torn_first_line(void **state) {
  fixture *f = *state;
  append_raw(f->log, "{\"seq\":1,\"ts\"");
  fb_audit *a = open_ok(f);
  assert_int_equal(fb_audit_last_seq(a), 1);
  close_log(&f->loop, a);
  size_t n;
  char **lines = read_lines(f->log, &n);
  assert_int_equal(n, 2); /* recovery + checkpoint */
  assert_non_null(strstr(lines[0], "\"event\":\"recovery\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"cut_bytes\":13,"));
  free_lines(lines, n);
  char *err = NULL;
  if (fb_audit_verify_file(f->log, f->pkey, &err) != 0) fail_msg("%s", err);
}

static void test_bad_key_refused(void **state) {
  fixture *f = *state;
  char *err = NULL;
  f->cfg.key = f->log; /* not a PEM key */
  append_raw(f->log, "");
  assert_null(fb_audit_open(&f->loop, &f->cfg, &err));
  assert_non_null(strstr(err, ": not an unencrypted PEM private key"));
  free(err);
  f->cfg.key = "/nonexistent/audit.pem";
  assert_null(fb_audit_open(&f->loop, &f->cfg, &err));
  assert_non_null(strstr(err, "/nonexistent/audit.pem: No such file"));
  free(err);
  /* An RSA key is not an Ed25519 key. */
  EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  FILE *fp = fopen(f->key, "w");
  PEM_write_PrivateKey(fp, rsa, NULL, NULL, 0, NULL, NULL);
  fclose(fp);
  EVP_PKEY_free(rsa);
  f->cfg.key = f->key;
  assert_null(fb_audit_open(&f->loop, &f->cfg, &err));
  assert_non_null(strstr(err, "not an Ed25519 key"));
  free(err);
  f->cfg.path = NULL;
  assert_null(fb_audit_open(&f->loop, &f->cfg, &err));
  assert_non_null(strstr(err, "audit.path"));
  free(err);
}

static void test_broken_chain_refused(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  done_counter d = {0};
  fb_audit *a = open_ok(f);
  append_n(f, a, 4, &d);
  close_log(&f->loop, a);
  /* Change one byte of line 2 ("i":1 -> "i":7): line 3's prev no longer matches. */
  size_t len;
  char *text = fb_read_file(f->log, 1 << 20, &len);
  char *l2 = strchr(text, '\n') + 1;
  char *p = strstr(l2, "\"i\":1");
  assert_non_null(p);
  p[4] = '7';
  FILE *fp = fopen(f->log, "w");
  fwrite(text, 1, len, fp);
  fclose(fp);
  free(text);

  char *err = NULL;
  a = fb_audit_open(&f->loop, &f->cfg, &err);
  assert_null(a);
  assert_non_null(err);
  assert_non_null(strstr(err, "line 3 (seq 3)"));
  assert_non_null(strstr(err, "refusing"));
  free(err);
}

static void test_huge_line_refused(void **state) {
  fixture *f = *state;
  FILE *fp = fopen(f->log, "w");
  for (int i = 0; i < (2 << 20); i++) fputc('x', fp);
  fputc('\n', fp);
  fclose(fp);
  char *err = NULL;
  assert_null(fb_audit_open(&f->loop, &f->cfg, &err));
  assert_non_null(strstr(err, "damaged at line 1: longer than"));
  free(err);
}

static void test_second_writer_refused(void **state) {
  fixture *f = *state;
  fb_audit *a = open_ok(f);
  char *err = NULL;
  fb_audit *b = fb_audit_open(&f->loop, &f->cfg, &err);
  assert_null(b);
  assert_non_null(strstr(err, "in use"));
  free(err);
  close_log(&f->loop, a);
}

static void test_not_regular_file_refused(void **state) {
  fixture *f = *state;
  /* A FIFO of this test's own (not a shared device such as /dev/full, whose flock
   * another process running this test would hold: "in use" instead of this error). */
  char *fifo = mkpath(f->dir, "audit.fifo");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  assert_int_equal(symlink(fifo, f->log), 0);
  free(fifo);
  char *err = NULL;
  assert_null(fb_audit_open(&f->loop, &f->cfg, &err));
  assert_non_null(strstr(err, "not a regular file"));
  free(err);
  /* Under a regular file: no directory can be made there. */
  char *bad = mkpath(f->key, "audit.jsonl");
  f->cfg.path = bad;
  assert_null(fb_audit_open(&f->loop, &f->cfg, &err));
  assert_non_null(strstr(err, "cannot open audit log"));
  assert_non_null(strstr(err, "Not a directory"));
  free(err);
  free(bad);
  /* Missing parent directories are created. */
  char *deep = mkpath(f->dir, "var/log/audit.jsonl");
  f->cfg.path = deep;
  fb_audit *a = open_ok(f);
  close_log(&f->loop, a);
  free(deep);
}

static void test_read_paging(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  fb_audit *a = open_ok(f);
  done_counter d = {0};
  append_n(f, a, 25, &d);
  json_t *e;
  uint64_t next;
  uint64_t after = 0;
  int pages = 0, seen = 0;
  for (;;) {
    assert_int_equal(fb_audit_read(a, after, 10, &e, &next), 0);
    size_t n = json_array_size(e);
    for (size_t i = 0; i < n; i++) {
      json_t *o = json_array_get(e, i);
      assert_int_equal(json_integer_value(json_object_get(o, "seq")), (json_int_t)(after + i + 1));
      assert_int_equal(json_integer_value(json_object_get(o, "i")), (json_int_t)(after + i));
      seen++;
    }
    json_decref(e);
    if (n == 0) {
      assert_int_equal(next, after);
      break;
    }
    assert_int_equal(next, after + n);
    after = next;
    pages++;
  }
  assert_int_equal(pages, 3);
  assert_int_equal(seen, 25);
  assert_int_equal(fb_audit_read(a, 3, 0, &e, &next), 0);
  assert_int_equal(json_array_size(e), 0);
  assert_int_equal(next, 3);
  json_decref(e);
  assert_int_equal(fb_audit_read(a, 1000, 5, &e, &next), 0);
  assert_int_equal(json_array_size(e), 0);
  assert_int_equal(next, 1000);
  json_decref(e);
  /* After a reopen, reads use the index built from the file. */
  close_log(&f->loop, a);
  a = open_ok(f);
  assert_int_equal(fb_audit_read(a, 22, 10, &e, &next), 0);
  assert_int_equal(json_array_size(e), 3);
  assert_int_equal(next, 25);
  json_decref(e);
  close_log(&f->loop, a);
}

/* Reads (after, limit) and checks that exactly the lines after+1 .. min(after+limit,
 * durable) come back, in order, with *next right. Returns how many came back. */
static size_t read_check(fb_audit *a, uint64_t after, size_t limit, uint64_t durable) {
  json_t *e;
  uint64_t next;
  assert_int_equal(fb_audit_read(a, after, limit, &e, &next), 0);
  uint64_t want = after >= durable ? 0 : (durable - after < limit ? durable - after : limit);
  assert_int_equal(json_array_size(e), want);
  for (size_t i = 0; i < json_array_size(e); i++)
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, i), "seq")), (json_int_t)(after + i + 1));
  assert_int_equal(next, after + want);
  json_decref(e);
  return (size_t)want;
}

/* Byte offset where line `seq` starts in the file. */
static uint64_t line_start(const char *path, uint64_t seq) {
  size_t len;
  char *text = fb_read_file(path, 1 << 26, &len);
  assert_non_null(text);
  uint64_t line = 1, off = 0;
  for (; line < seq && off < len; off++) line += text[off] == '\n';
  free(text);
  assert_int_equal(line, seq);
  return off;
}

/* The sparse index: one offset per FB_AUDIT_INDEX_STRIDE lines; reads that start and
 * end on and around its entries, across several of them, after a reopen and after a
 * recovery, all return exactly the lines asked for. */
static void test_read_sparse_index(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  enum { N = 2 * FB_AUDIT_INDEX_STRIDE + 452 }; /* 2500 */
  fb_audit *a = open_ok(f);
  done_counter d = {0};
  append_n(f, a, N, &d);
  assert_int_equal(d.ok, N);
  /* Memory: 3 offsets (lines 1, 1025, 2049) for 2,500 lines. */
  assert_int_equal(a->index_len, 3);
  assert_true(a->index_cap * sizeof *a->index <= 64 * sizeof(uint64_t));
  assert_int_equal(a->index[1], line_start(f->log, FB_AUDIT_INDEX_STRIDE + 1));
  assert_int_equal(a->index[2], line_start(f->log, 2 * FB_AUDIT_INDEX_STRIDE + 1));
  const uint64_t S = FB_AUDIT_INDEX_STRIDE;
  const uint64_t edges[] = {0, 1, S - 2, S - 1, S, S + 1, 2 * S - 1, 2 * S, 2 * S + 1, N - 2, N - 1, N, N + 5};
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
      read_check(a, edges[i], 1, N);
      read_check(a, edges[i], 3, N);
      read_check(a, edges[i], S + 7, N); /* crosses one or two index entries */
    }
    /* Paging through everything with a page size prime to the stride. */
    uint64_t after = 0;
    size_t got, total = 0;
    while ((got = read_check(a, after, 97, N)) > 0) {
      after += got;
      total += got;
    }
    assert_int_equal(total, N);
    /* The first line after an index entry carries the right payload. */
    json_t *e;
    uint64_t next;
    assert_int_equal(fb_audit_read(a, S, 1, &e, &next), 0);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "i")), (json_int_t)S);
    json_decref(e);
    /* Second pass: the same on the index rebuilt from the file. */
    close_log(&f->loop, a);
    a = open_ok(f);
    assert_int_equal(a->index_len, 3);
    assert_int_equal(a->index[2], line_start(f->log, 2 * S + 1));
  }
  close_log(&f->loop, a);

  /* After recovery: a torn tail is cut, the recovery entry is line N + 1 and readable,
   * and a new entry after it too. */
  append_raw(f->log, "{\"seq\":2501,\"ts\":\"2026-11-2");
  a = open_ok(f);
  d.last_seq = 0;
  append_n(f, a, 1, &d);
  assert_int_equal(d.last_seq, N + 2);
  read_check(a, 2 * S - 3, S, N + 2);
  read_check(a, 2 * S, 1000, N + 2);
  json_t *e;
  uint64_t next;
  assert_int_equal(fb_audit_read(a, N, 10, &e, &next), 0);
  assert_int_equal(json_array_size(e), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "event")), "recovery");
  assert_string_equal(json_string_value(json_object_get(json_array_get(e, 1), "event")), "test");
  assert_int_equal(next, N + 2);
  json_decref(e);
  close_log(&f->loop, a);
  char *err = NULL;
  if (fb_audit_verify_file(f->log, NULL, &err) != 0) fail_msg("%s", err);
}

/* An index entry is added as the line at the stride boundary becomes durable, not when
 * it is appended: a read never sees a line that is not on disk. */
static void test_index_follows_durable(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  fb_audit *a = open_ok(f);
  done_counter d = {0};
  append_n(f, a, FB_AUDIT_INDEX_STRIDE - 1, &d);
  assert_int_equal(a->index_len, 1);
  assert_int_equal(fb_audit_append(a, event("test", 0), count_done, &d), 0);
  assert_int_equal(fb_audit_last_seq(a), FB_AUDIT_INDEX_STRIDE);
  read_check(a, FB_AUDIT_INDEX_STRIDE - 2, 10, FB_AUDIT_INDEX_STRIDE - 1); /* not durable yet */
  assert_int_equal(a->index_len, 1);
  double end = fb_now_ms() + 10000;
  while (d.ok < FB_AUDIT_INDEX_STRIDE) {
    assert_true(fb_now_ms() < end);
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  assert_int_equal(a->index_len, 2);
  read_check(a, FB_AUDIT_INDEX_STRIDE - 2, 10, FB_AUDIT_INDEX_STRIDE);
  struct stat st;
  assert_int_equal(stat(f->log, &st), 0);
  assert_int_equal(a->index[1], (uint64_t)st.st_size);
  close_log(&f->loop, a);
}

/* A write that fails (here: the file size limit, EFBIG) makes the log unhealthy, fails
 * the pending entries and refuses every later append. */
static void test_write_failure_fails_closed(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  fb_audit *a = open_ok(f);
  done_counter d = {0};
  append_n(f, a, 3, &d);
  assert_int_equal(d.ok, 3);
  struct stat st;
  assert_int_equal(stat(f->log, &st), 0);

  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = (rlim_t)st.st_size + 150; /* room for about one more line */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  /* The writer may fail the first ones while we are still appending: then the later
   * appends are refused at once (-1, no callback). */
  int queued = 0;
  for (int i = 0; i < 20; i++) queued += fb_audit_append(a, event("test", i), count_done, &d) == 0;
  double end = fb_now_ms() + 10000;
  while (d.ok + d.failed < 3 + queued) {
    assert_true(fb_now_ms() < end);
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_DFL);

  assert_true(d.failed > 0);
  assert_int_equal(d.last_status, -EFBIG);
  assert_false(fb_audit_healthy(a));
  assert_int_equal(fb_audit_append(a, event("test", 99), count_done, &d), -1);
  fb_audit_stats s;
  fb_audit_get_stats(a, &s);
  assert_int_equal(s.failed, (uint64_t)d.failed);
  close_log(&f->loop, a);
  /* What was acknowledged is intact and chains; the failed batch left nothing behind. */
  char *err = NULL;
  fb_audit_verify_result res;
  if (fb_audit_verify_file_ex(f->log, NULL, &res, &err) != 0) fail_msg("%s", err);
  assert_int_equal(res.lines, (uint64_t)d.ok);
}

static void test_bad_entries(void **state) {
  fixture *f = *state;
  fb_audit *a = open_ok(f);
  assert_int_equal(fb_audit_append(a, json_pack("{s:i}", "x", 1), NULL, NULL), -1);
  assert_int_equal(fb_audit_append(a, json_pack("{s:i}", "event", 1), NULL, NULL), -1);
  assert_int_equal(fb_audit_append(a, json_pack("{s:s}", "event", "checkpoint"), NULL, NULL), -1);
  assert_int_equal(fb_audit_append(a, json_pack("{s:s}", "event", "recovery"), NULL, NULL), -1);
  assert_int_equal(fb_audit_append(a, json_pack("{s:s,s:i}", "event", "search", "seq", 4), NULL, NULL), -1);
  assert_int_equal(fb_audit_append(a, json_pack("[s]", "event"), NULL, NULL), -1);
  assert_int_equal(fb_audit_append(a, NULL, NULL, NULL), -1);
  json_t *big = json_pack("{s:s}", "event", "search");
  char *s = malloc(FB_AUDIT_MAX_LINE + 10);
  memset(s, 'x', FB_AUDIT_MAX_LINE + 9);
  s[FB_AUDIT_MAX_LINE + 9] = '\0';
  json_object_set_new(big, "blob", json_string(s));
  free(s);
  assert_int_equal(fb_audit_last_seq(a), 0); /* none of the above took a seq */
  /* A line over 1 MiB is only known on the writer thread: the append is accepted, its
   * callback fails with -EMSGSIZE, and a `recovery` line takes its seq so that the chain
   * has no gap. The log stays healthy and later entries are written. */
  done_counter d = {0};
  assert_int_equal(fb_audit_append(a, big, count_done, &d), 0);
  append_n(f, a, 1, &d);
  assert_int_equal(d.failed, 1);
  assert_int_equal(d.ok, 1);
  assert_int_equal(d.last_seq, 2);
  assert_true(fb_audit_healthy(a));
  json_t *e;
  uint64_t next;
  assert_int_equal(fb_audit_read(a, 0, 10, &e, &next), 0);
  assert_int_equal(json_array_size(e), 2);
  json_t *rec = json_array_get(e, 0);
  assert_string_equal(json_string_value(json_object_get(rec, "event")), "recovery");
  assert_string_equal(json_string_value(json_object_get(rec, "dropped_event")), "search");
  assert_true(json_integer_value(json_object_get(rec, "bytes")) > FB_AUDIT_MAX_LINE);
  assert_null(json_object_get(rec, "blob"));
  json_decref(e);
  close_log(&f->loop, a);
  char *err = NULL;
  if (fb_audit_verify_file(f->log, f->pkey, &err) != 0) fail_msg("%s", err);
}

/* The writer assembles lines without building one object per entry: every line must
 * still be exactly jansson's compact dump of {"seq","ts","event","prev", ...fields}. */
static void test_line_format(void **state) {
  fixture *f = *state;
  fb_audit *a = open_ok(f);
  done_counter d = {0};
  assert_int_equal(fb_audit_append(a, json_pack("{s:s}", "event", "admin"), count_done, &d), 0);
  json_t *e = json_pack("{s:s, s:s, s:{s:[i, n, b, f]}, s:{}, s:[]}", "note", "q\"b\\c\n\x01\x1f é — \xe2\x80\xa8/",
                        "event", "se\"arch\t", "nested", "k", 1, 0, 2.5, "empty", "list");
  assert_int_equal(fb_audit_append(a, e, count_done, &d), 0);
  append_n(f, a, 1, &d);
  assert_int_equal(d.ok, 3);
  close_log(&f->loop, a);
  size_t n;
  char **lines = read_lines(f->log, &n);
  assert_int_equal(n, 4); /* + checkpoint */
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_loads(lines[i], 0, NULL);
    assert_non_null(o);
    char *again = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    assert_string_equal(again, lines[i]);
    free(again);
    json_decref(o);
  }
  assert_non_null(strstr(lines[0], "\"event\":\"admin\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"));
  assert_non_null(strstr(lines[1], ",\"event\":\"se\\\"arch\\t\",\"prev\":\""));
  assert_non_null(strstr(lines[1], "\",\"note\":\"q\\\"b"));
  assert_non_null(strstr(lines[1], ",\"empty\":{},\"list\":[]}"));
  free_lines(lines, n);
  char *err = NULL;
  if (fb_audit_verify_file(f->log, f->pkey, &err) != 0) fail_msg("%s", err);
}

static void big_done(void *data, int status, uint64_t seq, const char *hash) {
  (void)hash;
  int *st = data;
  st[0] = status;
  st[1] = (int)seq;
}

/* The loop hands the entry over: seq order is still call order, checkpoints still
 * chain and sign the line before them, and each callback's hash is its own line's. */
static void test_writer_builds_lines(void **state) {
  fixture *f = *state;
  fb_audit *a = open_ok(f); /* checkpoint_every 10 */
  done_counter d = {0};
  int big[2] = {1, 0};
  for (int i = 0; i < 25; i++) {
    if (i == 12) {
      json_t *e = json_pack("{s:s}", "event", "search");
      char *s = malloc(FB_AUDIT_MAX_LINE + 1);
      memset(s, 'y', FB_AUDIT_MAX_LINE);
      s[FB_AUDIT_MAX_LINE] = '\0';
      json_object_set_new(e, "blob", json_string(s));
      free(s);
      assert_int_equal(fb_audit_append(a, e, big_done, big), 0);
    } else {
      assert_int_equal(fb_audit_append(a, event("test", i), count_done, &d), 0);
    }
  }
  double end = fb_now_ms() + 10000;
  while (d.ok + d.failed < 24 || big[0] == 1) {
    assert_true(fb_now_ms() < end);
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  assert_int_equal(d.failed, 0);
  assert_int_equal(big[0], -EMSGSIZE);
  assert_int_equal(big[1], 14); /* 12 entries + 1 checkpoint before it */
  assert_int_equal(fb_audit_last_seq(a), 27);
  close_log(&f->loop, a);
  size_t n;
  char **lines = read_lines(f->log, &n);
  assert_int_equal(n, 28); /* 25 + checkpoints after 10, 20 and at close */
  char h[65];
  hash_hex(lines[n - 2], h);
  assert_string_equal(h, d.last_hash);
  assert_non_null(strstr(lines[10], "\"event\":\"checkpoint\""));
  assert_non_null(strstr(lines[13], "\"event\":\"recovery\""));
  assert_non_null(strstr(lines[13], "\"seq\":14,"));
  free_lines(lines, n);
  char *err = NULL;
  fb_audit_verify_result res;
  if (fb_audit_verify_file_ex(f->log, f->pkey, &res, &err) != 0) fail_msg("%s", err);
  assert_int_equal(res.checkpoints, 3);
}

static void test_bucket(void **state) {
  (void)state;
  audit_bucket b;
  audit_bucket_init(&b, 20, 100, 1000.0);
  int ok = 0;
  for (int i = 0; i < 150; i++) ok += audit_bucket_take(&b, 1000.0);
  assert_int_equal(ok, 100);
  assert_false(audit_bucket_take(&b, 1049.0)); /* 0.98 tokens */
  assert_true(audit_bucket_take(&b, 1050.0));  /* 20/s: one token per 50 ms */
  assert_false(audit_bucket_take(&b, 1050.0));
  ok = 0;
  for (int i = 0; i < 500; i++) ok += audit_bucket_take(&b, 100000.0);
  assert_int_equal(ok, 100); /* refill is capped at the burst */
  assert_false(audit_bucket_take(&b, 50.0)); /* a clock going back adds nothing */
}

/* The bucket's clock, driven by the test so that the count does not depend on how
 * fast the loop below runs on a loaded machine. */
static double fake_clock(void *ctx) {
  return *(double *)ctx;
}

static void test_auth_failure_suppression(void **state) {
  fixture *f = *state;
  f->cfg.key = NULL;
  fb_audit *a = open_ok(f);
  double now = 5000.0;
  fb_audit_set_clock(a, fake_clock, &now);
  int admitted = 0, refused = 0;
  for (int i = 0; i < 300; i++) {
    if (fb_audit_admit_auth_failure(a)) admitted++;
    else refused++;
  }
  assert_int_equal(admitted, 100); /* the burst, nothing refilled: the clock stood still */
  now += 50.0;                     /* 20/s: one token per 50 ms */
  assert_true(fb_audit_admit_auth_failure(a));
  assert_false(fb_audit_admit_auth_failure(a));
  admitted++;
  refused++;
  assert_int_equal(refused, 201);
  done_counter d = {0};
  assert_int_equal(fb_audit_append(a, json_pack("{s:s,s:s}", "event", "auth_failure", "why", "bad token"), count_done, &d), 0);
  assert_int_equal(fb_audit_append(a, json_pack("{s:s,s:s}", "event", "auth_failure", "why", "bad token"), count_done, &d), 0);
  double end = fb_now_ms() + 10000;
  while (d.ok < 2) {
    assert_true(fb_now_ms() < end);
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  json_t *e;
  uint64_t next;
  assert_int_equal(fb_audit_read(a, 0, 10, &e, &next), 0);
  assert_int_equal(json_array_size(e), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "suppressed")), refused);
  assert_null(json_object_get(json_array_get(e, 1), "suppressed"));
  json_decref(e);
  fb_audit_stats s;
  fb_audit_get_stats(a, &s);
  assert_int_equal(s.suppressed, (uint64_t)refused);
  /* Refusals not yet reported are summarised at close. */
  for (int i = 0; i < 5; i++) fb_audit_admit_auth_failure(a);
  close_log(&f->loop, a);
  size_t n;
  char **lines = read_lines(f->log, &n);
  assert_int_equal(n, 3);
  assert_non_null(strstr(lines[2], "\"event\":\"auth_failure\""));
  assert_non_null(strstr(lines[2], "\"suppressed\":5"));
  free_lines(lines, n);
}

/* Every test here runs between setup and teardown. */
#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_chain_and_checkpoints),
      T(test_callback_hash),
      T(test_group_fsync),
      T(test_reopen_continues),
      T(test_torn_tail_recovery),
      T(test_torn_first_line),
      T(test_bad_key_refused),
      T(test_broken_chain_refused),
      T(test_huge_line_refused),
      T(test_second_writer_refused),
      T(test_not_regular_file_refused),
      T(test_read_paging),
      T(test_read_sparse_index),
      T(test_index_follows_durable),
      T(test_write_failure_fails_closed),
      T(test_bad_entries),
      T(test_writer_builds_lines),
      T(test_line_format),
      cmocka_unit_test(test_bucket),
      T(test_auth_failure_suppression),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
