/* The "http" adapter against a tiny node (node_server.py) with canned answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "core/util.h"
#include "tests/unit/adapters/leg_outcome.h"
#include "unit_common.h"

static pid_t server_pid;
static int port;

static int setup(void **state) {
  (void)state;
  char *argv[] = {"/usr/bin/python3", FB_SOURCE_DIR "/tests/unit/adapters/node_server.py", NULL};
  server_pid = fb_test_spawn_server(argv, &port);
  if (server_pid < 0) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fb_test_stop_server(server_pid);
  return 0;
}


static const fb_leg_request *request(void) {
  static fb_leg_request req;
  static json_t *subject;
  if (!subject) subject = json_pack("{s:s, s:s}", "name", "Ahmad bin Ismail", "document", "A12345678");
  req = (fb_leg_request){.query_id = "q-42", .subject = subject, .purpose = "prosecution",
                         .priority = "urgent", .legal_basis = "mla_treaty", .case_ref = "MY-2026-0042",
                         .requester_state = "MYS", .requester_agency = "PDRM", .limit = 25,
                         .timeout_ms = 2000};
  return &req;
}

/* Runs one leg against `path` to completion and closes the adapter cleanly. */
static outcome run_leg(const char *path, uint64_t max_body, uint32_t timeout_ms) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  fb_state_config cfg = {.code = "IDN", .adapter = "http", .url = url, .max_body = max_body};
  fb_leg_request req = *request();
  if (timeout_ms) req.timeout_ms = timeout_ms;
  return run_one_leg(&cfg, &req);
}

static void test_good_answer(void **state) {
  (void)state;
  outcome o = run_leg("/good", 0, 0);
  assert_int_equal(o.status, 0);
  assert_int_equal(json_array_size(o.records), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(o.records, 0), "id")), "IDN-P-000001");
  json_decref(o.records);
}

/* compact_done: `data` is an outcome too; the set goes to `set`. */
static fb_crecs *compact_set;
static void compact_cb(void *data, fb_crecs *set) {
  outcome *o = data;
  o->calls++;
  compact_set = set;
}

/* A caller that asks for compact records gets the answer as a set (and the callback
 * for errors still); its records are the ones the jansson path gives. */
static void test_good_answer_as_compact_records(void **state) {
  (void)state;
  outcome want = run_leg("/good", 0, 0);
  assert_int_equal(want.status, 0);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/good", port);
  fb_state_config cfg = {.code = "IDN", .adapter = "http", .url = url};
  fb_leg_request req = *request();
  req.compact_done = compact_cb;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a;
  char *err = NULL;
  if (fb_adapter_open(&loop, &cfg, &a, &err) != 0) fail_msg("open: %s", err);
  outcome o = {0};
  fb_leg *leg;
  compact_set = NULL;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o, &leg), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(o.calls, 1);
  assert_non_null(compact_set);
  json_t *got = fb_crecs_records_json(compact_set);
  assert_true(json_equal(got, want.records));
  json_decref(got);
  fb_crecs_free(compact_set);
  json_decref(want.records);
  int closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_request_body(void **state) {
  (void)state;
  outcome o = run_leg("/echo", 0, 0);
  assert_int_equal(o.status, 0);
  json_t *rec = json_array_get(o.records, 0);
  assert_string_equal(json_string_value(json_object_get(rec, "ctype")), "application/json; charset=utf-8");
  json_t *sent = json_loads(json_string_value(json_object_get(rec, "notes")), 0, NULL);
  assert_non_null(sent);
  assert_string_equal(json_string_value(json_object_get(sent, "query_id")), "q-42");
  assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "subject"), "document")), "A12345678");
  assert_string_equal(json_string_value(json_object_get(sent, "purpose")), "prosecution");
  assert_string_equal(json_string_value(json_object_get(sent, "priority")), "urgent");
  assert_string_equal(json_string_value(json_object_get(sent, "legal_basis")), "mla_treaty");
  assert_string_equal(json_string_value(json_object_get(sent, "case_ref")), "MY-2026-0042");
  assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "requester"), "state")), "MYS");
  assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "requester"), "agency")), "PDRM");
  assert_int_equal(json_integer_value(json_object_get(sent, "limit")), 25);
  json_decref(sent);
  json_decref(o.records);
}

static void expect_error(const char *path, uint64_t max_body, uint32_t timeout_ms, int status, const char *why) {
  outcome o = run_leg(path, max_body, timeout_ms);
  assert_int_equal(o.status, status);
  assert_null(o.records);
  if (strncmp(o.error, why, strlen(why)) != 0) fail_msg("%s: got \"%s\", want \"%s...\"", path, o.error, why);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("/500", 0, 0, FB_LEG_ERROR, "HTTP 500 from node");
  expect_error("/nope", 0, 0, FB_LEG_ERROR, "HTTP 404 from node");
  expect_error("/badjson", 0, 0, FB_LEG_ERROR, "invalid JSON from node: ");
  expect_error("/norecords", 0, 0, FB_LEG_ERROR, "answer from node has no \"records\" array");
  expect_error("/schema", 0, 0, FB_LEG_ERROR, "record 2: missing id");
  expect_error("/big", 1 << 20, 0, FB_LEG_ERROR, "response over 1048576 bytes");
  expect_error("/bigchunk", 1 << 20, 0, FB_LEG_ERROR, "response over 1048576 bytes");
  expect_error("/reset", 0, 0, FB_LEG_ERROR, "request to node failed: ");
}

static void test_default_max_body_allows_big(void **state) {
  (void)state;
  outcome o = run_leg("/big", 0, 0); /* 2 MiB < 8 MiB default */
  assert_int_equal(o.status, 0);
  json_decref(o.records);
}

static void test_timeout(void **state) {
  (void)state;
  double t0 = fb_now_ms();
  expect_error("/slow", 0, 300, FB_LEG_TIMEOUT, "no answer within 300 ms");
  assert_true(fb_now_ms() - t0 < 2500);
}

static void test_connection_refused(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "IDN", .adapter = "http", .url = "http://127.0.0.1:1/search"};
  fb_adapter *a;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  outcome o = {0};
  fb_leg *leg;
  assert_int_equal(fb_adapter_start(a, request(), done_cb, &o, &leg), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(o.status, FB_LEG_ERROR);
  assert_non_null(strstr(o.error, "request to node failed"));
  fb_adapter_close(a, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_concurrent_legs_cancel_and_close(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char good[128], slow[128];
  snprintf(good, sizeof good, "http://127.0.0.1:%d/good", port);
  snprintf(slow, sizeof slow, "http://127.0.0.1:%d/slow", port);
  fb_state_config gcfg = {.code = "IDN", .adapter = "http", .url = good};
  fb_state_config scfg = {.code = "THA", .adapter = "http", .url = slow};
  fb_adapter *ga, *sa;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &gcfg, &ga, &err), 0);
  assert_int_equal(fb_adapter_open(&loop, &scfg, &sa, &err), 0);
  outcome o[10] = {{0}}, s1 = {0}, s2 = {0};
  fb_leg *legs[10], *l1, *l2;
  for (int i = 0; i < 10; i++) assert_int_equal(fb_adapter_start(ga, request(), done_cb, &o[i], &legs[i]), 0);
  assert_int_equal(fb_adapter_start(sa, request(), done_cb, &s1, &l1), 0);
  assert_int_equal(fb_adapter_start(sa, request(), done_cb, &s2, &l2), 0);
  fb_adapter_cancel(legs[3]); /* cancelled before it finished: never called back */
  fb_adapter_cancel(l1);
  /* run until the good legs are done, then close the slow adapter with l2 in flight */
  for (int spins = 0; spins < 10000; spins++) {
    int done = 0;
    for (int i = 0; i < 10; i++) done += o[i].calls;
    if (done == 9) break;
    uv_run(&loop, UV_RUN_ONCE);
  }
  int closed = 0;
  fb_adapter_close(sa, closed_cb, &closed);
  fb_adapter_close(ga, closed_cb, &closed);
  double t0 = fb_now_ms();
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(fb_now_ms() - t0 < 1000); /* close does not wait for the slow node */
  assert_int_equal(closed, 2);
  for (int i = 0; i < 10; i++) {
    if (i == 3) {
      assert_int_equal(o[i].calls, 0);
      continue;
    }
    assert_int_equal(o[i].calls, 1);
    assert_int_equal(o[i].status, 0);
    json_decref(o[i].records);
  }
  assert_int_equal(s1.calls, 0);
  assert_int_equal(s2.calls, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* One leg to completion on an open adapter; uv_run(DEFAULT) must return, so an idle
 * kept-alive connection must not hold the loop. Returns the client port the node saw. */
static long conn_leg(uv_loop_t *loop, fb_adapter *a) {
  outcome o = {0};
  fb_leg *leg;
  assert_int_equal(fb_adapter_start(a, request(), done_cb, &o, &leg), 0);
  alarm(20); /* a handle left referenced would block uv_run forever */
  uv_run(loop, UV_RUN_DEFAULT);
  alarm(0);
  assert_int_equal(o.calls, 1);
  if (o.status != 0) fail_msg("leg failed: %s", o.error);
  long port_seen = strtol(json_string_value(json_object_get(json_array_get(o.records, 0), "notes")), NULL, 10);
  json_decref(o.records);
  assert_true(port_seen > 0);
  return port_seen;
}

/* Legs in a row reuse the connection; when the node drops an idle connection, the
 * next leg gets a new one — usually on the same fd number, which must not find the
 * old connection's state (libcurl's socket contexts once did). */
static void test_connection_reuse_and_drop(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char keep[128], drop[128];
  snprintf(keep, sizeof keep, "http://127.0.0.1:%d/conn", port);
  snprintf(drop, sizeof drop, "http://127.0.0.1:%d/dropped", port);
  fb_state_config kcfg = {.code = "IDN", .adapter = "http", .url = keep};
  fb_state_config dcfg = {.code = "THA", .adapter = "http", .url = drop};
  fb_adapter *ka, *da;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &kcfg, &ka, &err), 0);
  assert_int_equal(fb_adapter_open(&loop, &dcfg, &da, &err), 0);
  long first = conn_leg(&loop, ka);
  for (int i = 0; i < 5; i++) assert_int_equal(conn_leg(&loop, ka), first);
  long prev = conn_leg(&loop, da);
  for (int i = 0; i < 5; i++) {
    usleep(20 * 1000); /* let the node's FIN arrive on the idle connection */
    uv_run(&loop, UV_RUN_NOWAIT);
    long now = conn_leg(&loop, da);
    assert_true(now != prev);
    prev = now;
    assert_int_equal(conn_leg(&loop, ka), first); /* the other adapter's connection lives on */
  }
  int closed = 0;
  fb_adapter_close(ka, closed_cb, &closed);
  fb_adapter_close(da, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 2);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* One leg with `req` on an open adapter, to completion. */
static outcome leg_on(uv_loop_t *loop, fb_adapter *a, const fb_leg_request *req) {
  outcome o = {0};
  fb_leg *leg;
  assert_int_equal(fb_adapter_start(a, req, done_cb, &o, &leg), 0);
  alarm(20);
  uv_run(loop, UV_RUN_DEFAULT);
  alarm(0);
  assert_int_equal(o.calls, 1);
  return o;
}

/* Legs in a row on one adapter reuse its easy handle, which keeps the shared options
 * and not the last call's: each leg sends its own body (longer and shorter than the
 * one before) and gets its own timeout. */
static void test_reused_handle_carries_nothing_over(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char echo[128], slow[128];
  snprintf(echo, sizeof echo, "http://127.0.0.1:%d/echo", port);
  snprintf(slow, sizeof slow, "http://127.0.0.1:%d/slow", port);
  fb_state_config ecfg = {.code = "IDN", .adapter = "http", .url = echo};
  fb_state_config scfg = {.code = "THA", .adapter = "http", .url = slow};
  fb_adapter *ea, *sa;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &ecfg, &ea, &err), 0);
  assert_int_equal(fb_adapter_open(&loop, &scfg, &sa, &err), 0);
  static const char *const ids[] = {"q-1", "q-2222222222222222222222222222", "q-3", "q-44"};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    fb_leg_request req = *request();
    req.query_id = ids[i];
    outcome o = leg_on(&loop, ea, &req);
    if (o.status != 0) fail_msg("leg %zu failed: %s", i, o.error);
    json_t *sent = json_loads(json_string_value(json_object_get(json_array_get(o.records, 0), "notes")), 0, NULL);
    assert_non_null(sent);
    assert_string_equal(json_string_value(json_object_get(sent, "query_id")), ids[i]);
    json_decref(sent);
    json_decref(o.records);
  }
  static const uint32_t timeouts[] = {200, 400};
  for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
    fb_leg_request req = *request();
    req.timeout_ms = timeouts[i];
    double t0 = fb_now_ms();
    outcome o = leg_on(&loop, sa, &req);
    assert_int_equal(o.status, FB_LEG_TIMEOUT);
    /* a timeout never fires early: the 400 ms leg did not keep the 200 ms one's */
    if (fb_now_ms() - t0 < timeouts[i] - 10) fail_msg("timed out after %.0f ms", fb_now_ms() - t0);
    char want[64];
    snprintf(want, sizeof want, "no answer within %u ms", (unsigned)timeouts[i]);
    if (strncmp(o.error, want, strlen(want)) != 0) fail_msg("got \"%s\", want \"%s\"", o.error, want);
  }
  int closed = 0;
  fb_adapter_close(ea, closed_cb, &closed);
  fb_adapter_close(sa, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 2);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Thread-pool blockers: while they hold every worker, an answer's parse stays queued. */
static uv_sem_t gate;
static void block_work(uv_work_t *w) { (void)w; uv_sem_wait(&gate); }
static void block_done(uv_work_t *w, int status) { (void)status; free(w); }
static void stop_cb(uv_timer_t *t) { uv_stop(t->loop); }

/* Runs the loop for `ms`, so that loopback transfers finish (their parse then waits). */
static void run_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, stop_cb, ms, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

/* A large answer is parsed on the thread pool: a leg cancelled, or an adapter closed, once
 * the transfer is over but before the parse is done never calls back; the queued parse
 * is dropped and freed (ASan: nothing leaks). An answer whose parse waited still
 * arrives when the pool frees up. */
static void test_cancel_and_close_while_parsing(void **state) {
  (void)state;
  enum { WORKERS = 4 }; /* UV_THREADPOOL_SIZE, set in main */
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_sem_init(&gate, 0);
  for (int i = 0; i < WORKERS; i++) {
    uv_work_t *w = fb_xcalloc(1, sizeof *w);
    assert_int_equal(uv_queue_work(&loop, w, block_work, block_done), 0);
  }
  char large[128]; /* over the inline-parse threshold: parsed on the pool */
  snprintf(large, sizeof large, "http://127.0.0.1:%d/large", port);
  fb_state_config c1 = {.code = "IDN", .adapter = "http", .url = large};
  fb_state_config c2 = {.code = "THA", .adapter = "http", .url = large};
  fb_adapter *a1, *a2;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &c1, &a1, &err), 0);
  assert_int_equal(fb_adapter_open(&loop, &c2, &a2, &err), 0);
  outcome kept = {0}, cancelled = {0}, closed_leg = {0};
  fb_leg *lk, *lc, *lx;
  assert_int_equal(fb_adapter_start(a1, request(), done_cb, &kept, &lk), 0);
  assert_int_equal(fb_adapter_start(a1, request(), done_cb, &cancelled, &lc), 0);
  assert_int_equal(fb_adapter_start(a2, request(), done_cb, &closed_leg, &lx), 0);
  run_for(&loop, 300);
  assert_int_equal(kept.calls + cancelled.calls + closed_leg.calls, 0); /* parses wait */
  fb_adapter_cancel(lc);
  int closed = 0;
  fb_adapter_close(a2, closed_cb, &closed);
  run_for(&loop, 50);
  assert_int_equal(closed, 1); /* its queued parse was dequeued: no wait for the pool */
  for (int i = 0; i < WORKERS; i++) uv_sem_post(&gate);
  for (int spins = 0; spins < 10000 && (kept.calls == 0 || closed == 0); spins++) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(closed, 1);
  assert_int_equal(kept.calls, 1);
  assert_int_equal(kept.status, 0);
  assert_int_equal(json_array_size(kept.records), 2);
  json_decref(kept.records);
  assert_int_equal(cancelled.calls, 0);
  assert_int_equal(closed_leg.calls, 0);
  fb_adapter_close(a1, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 2);
  assert_int_equal(uv_loop_close(&loop), 0);
  uv_sem_destroy(&gate);
}

static void test_config_errors(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = NULL;
  char *err = NULL;
  fb_state_config nourl = {.code = "IDN", .adapter = "http"};
  assert_int_equal(fb_adapter_open(&loop, &nourl, &a, &err), -1);
  assert_string_equal(err, "state IDN: adapter http needs `url` starting with http:// or https://");
  free(err);
  fb_state_config ftp = {.code = "IDN", .adapter = "http", .url = "ftp://x/"};
  assert_int_equal(fb_adapter_open(&loop, &ftp, &a, &err), -1);
  free(err);
  fb_state_config half = {.code = "IDN", .adapter = "http", .url = "https://x/", .cert = "c.pem"};
  assert_int_equal(fb_adapter_open(&loop, &half, &a, &err), -1);
  assert_string_equal(err, "state IDN: adapter http needs both `cert` and `key` for mTLS");
  free(err);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  setenv("UV_THREADPOOL_SIZE", "4", 1); /* test_cancel_and_close_while_parsing fills the pool */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_answer),
      cmocka_unit_test(test_good_answer_as_compact_records),
      cmocka_unit_test(test_request_body),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_default_max_body_allows_big),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_concurrent_legs_cancel_and_close),
      cmocka_unit_test(test_connection_reuse_and_drop),
      cmocka_unit_test(test_reused_handle_carries_nothing_over),
      cmocka_unit_test(test_cancel_and_close_while_parsing),
      cmocka_unit_test(test_config_errors),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  json_decref(request()->subject);
  return rc;
}
