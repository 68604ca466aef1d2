/* The store: migrations, parameters, conditional updates, the worker thread's
 * callbacks on the loop, persistence across reopen, errors. SQLite only here; the
 * PostgreSQL backend runs in tests/integration/followup_pg.sh against a real server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "unit_common.h"

static char dir[64];
static char path[128];

static int setup(void **st) {
  (void)st;
  snprintf(dir, sizeof dir, "/tmp/fb-store-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/sub/store.db", dir);
  return 0;
}

static int teardown(void **st) {
  (void)st;
  return fb_test_rm_rf(dir) ? 0 : -1;
}

static void close_sync(uv_loop_t *loop, fb_store *s) {
  fb_store_close(s, NULL, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
}

static void test_migrates_and_persists(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *err = NULL;
  fb_store *s = fb_store_open(&loop, path, &err);
  assert_non_null(s);
  assert_int_equal(fb_store_schema_version(s), fb_store_latest_version());
  const char *p[] = {"r-1", "q-1", "MYS", "IDN", "open", "1", "2", "{}"};
  assert_int_equal(fb_store_exec_sync(s,
                                      "INSERT INTO requests (request_id, query_id, from_state, to_state, status, "
                                      "created, due, doc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                                      p, 8, NULL, &err),
                   0);
  close_sync(&loop, s);

  s = fb_store_open(&loop, path, &err); /* reopen: no migration runs twice, the row is there */
  assert_non_null(s);
  fb_store_result r = {0};
  const char *q[] = {"r-1"};
  assert_int_equal(fb_store_exec_sync(s, "SELECT to_state, decided FROM requests WHERE request_id = $1", q, 1, &r, &err), 0);
  assert_int_equal(r.nrows, 1);
  assert_string_equal(fb_store_cell(&r, 0, 0), "IDN");
  assert_null(fb_store_cell(&r, 0, 1));
  assert_null(fb_store_cell(&r, 1, 0)); /* out of range */
  fb_store_result_clear(&r);
  close_sync(&loop, s);
  uv_loop_close(&loop);
}

/* Two deciders: the conditional UPDATE lets exactly one through. */
static void test_conditional_update(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *err = NULL;
  fb_store *s = fb_store_open(&loop, path, &err);
  assert_non_null(s);
  const char *p[] = {"r-2", "q-2", "MYS", "IDN", "open", "1", "2", "{}"};
  assert_int_equal(fb_store_exec_sync(s,
                                      "INSERT INTO requests (request_id, query_id, from_state, to_state, status, "
                                      "created, due, doc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                                      p, 8, NULL, &err),
                   0);
  const char *u[] = {"released", "r-2"};
  fb_store_result r = {0};
  const char *sql = "UPDATE requests SET status = $1 WHERE request_id = $2 AND status = 'open'";
  assert_int_equal(fb_store_exec_sync(s, sql, u, 2, &r, &err), 0);
  assert_int_equal(r.changes, 1);
  fb_store_result_clear(&r);
  const char *u2[] = {"declined", "r-2"};
  assert_int_equal(fb_store_exec_sync(s, sql, u2, 2, &r, &err), 0);
  assert_int_equal(r.changes, 0);
  fb_store_result_clear(&r);
  close_sync(&loop, s);
  uv_loop_close(&loop);
}

typedef struct {
  int calls, last_status;
  char value[32];
} seen;

static void on_done(void *data, int status, fb_store_result *res, const char *err) {
  seen *sn = data;
  (void)err;
  sn->calls++;
  sn->last_status = status;
  if (status == 0 && res && fb_store_cell(res, 0, 0)) snprintf(sn->value, sizeof sn->value, "%s", fb_store_cell(res, 0, 0));
}

static void test_async_callbacks_and_errors(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *err = NULL;
  fb_store *s = fb_store_open(&loop, path, &err);
  assert_non_null(s);
  seen ok = {0}, bad = {0};
  const char *p[] = {"21"};
  assert_int_equal(fb_store_exec(s, "SELECT $1 * 2", p, 1, on_done, &ok), 0);
  assert_int_equal(fb_store_exec(s, "SELECT * FROM no_such_table", NULL, 0, on_done, &bad), 0);
  while (ok.calls == 0 || bad.calls == 0) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(ok.last_status, 0);
  assert_string_equal(ok.value, "42");
  assert_int_equal(bad.last_status, -1);
  /* A parameter count that does not match is an error, not a silent NULL. */
  assert_int_equal(fb_store_exec_sync(s, "SELECT $1, $2", p, 1, NULL, &err), -1);
  assert_non_null(err);
  free(err);
  close_sync(&loop, s);
  assert_int_equal(bad.calls, 1);
  uv_loop_close(&loop);
}

static void count_done(void *data, int status, fb_store_result *res, const char *err) {
  (void)res;
  (void)err;
  int *n = data;
  if (status == 0) n[0]++;
  else n[1]++;
}

/* Batched inserts share transactions; each still gets its callback, and a statement
 * queued after them (not batched) sees every row. */
static void test_batched(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *err = NULL;
  fb_store *s = fb_store_open(&loop, path, &err);
  assert_non_null(s);
  int counts[2] = {0, 0};
  enum { N = 3000 };
  for (int i = 0; i < N; i++) {
    char id[32];
    snprintf(id, sizeof id, "q-%d", i);
    const char *p[] = {id, "MYS", "1", "{}"};
    assert_int_equal(fb_store_exec_batched(s,
                                           "INSERT INTO searches (query_id, from_state, created, doc) VALUES ($1,$2,$3,$4)"
                                           " ON CONFLICT (query_id) DO NOTHING",
                                           p, 4, count_done, counts),
                     0);
  }
  seen total = {0};
  assert_int_equal(fb_store_exec(s, "SELECT COUNT(*) FROM searches", NULL, 0, on_done, &total), 0);
  while (total.calls == 0) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(counts[0], N); /* callbacks of earlier jobs come first */
  assert_int_equal(counts[1], 0);
  assert_string_equal(total.value, "3000");
  close_sync(&loop, s);
  uv_loop_close(&loop);
}

static void test_open_failures(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *err = NULL;
  assert_null(fb_store_open(&loop, "/proc/no/such/dir/store.db", &err));
  assert_non_null(err);
  free(err);
  err = NULL;
  assert_null(fb_store_open(&loop, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", &err));
  assert_non_null(err);
  assert_non_null(strstr(err, "postgresql"));
  free(err);
  uv_loop_close(&loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_migrates_and_persists, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conditional_update, setup, teardown),
      cmocka_unit_test_setup_teardown(test_async_callbacks_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batched, setup, teardown),
      cmocka_unit_test(test_open_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
