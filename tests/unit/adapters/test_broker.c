/* The "broker" adapter against a fake remote hub (test_broker_hub.py) with canned
 * /v1/search answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "core/util.h"
#include "tests/unit/adapters/leg_outcome.h"
#include "unit_common.h"

static pid_t server_pid;
static int port;
static char tmpdir[64], token_path[128];

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/fbbroker.XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  snprintf(token_path, sizeof token_path, "%s/bgd.jwt", tmpdir);
  FILE *f = fopen(token_path, "w");
  if (!f) return -1;
  fputs("  eyJhbGciOi.eyJzdWIi.c2ln \n\n", f); /* whitespace around it is not the token's */
  fclose(f);
  char *argv[] = {"/usr/bin/python3", FB_SOURCE_DIR "/tests/unit/adapters/test_broker_hub.py", NULL};
  server_pid = fb_test_spawn_server(argv, &port);
  if (server_pid < 0) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fb_test_stop_server(server_pid);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}


static fb_leg_request request(void) {
  static json_t *subject;
  if (!subject) subject = json_pack("{s:s, s:s}", "name", "Ahmad bin Ismail", "document", "A12345678");
  return (fb_leg_request){.query_id = "q-42", .subject = subject, .purpose = "prosecution",
                          .priority = "urgent", .legal_basis = "mla_treaty",
                          .justification = "Suspected facilitator in case MY-2026-0042",
                          .case_ref = "MY-2026-0042", .requester_state = "MYS",
                          .requester_agency = "PDRM", .limit = 25, .timeout_ms = 2000};
}

static fb_state_config config(char *url, size_t urllen, const char *path) {
  snprintf(url, urllen, "http://127.0.0.1:%d%s", port, path);
  return (fb_state_config){.code = "BGD", .adapter = "broker", .url = url, .token_file = token_path};
}

/* Runs one leg against `path` to completion and closes the adapter cleanly. */
static outcome run_leg_req(const char *path, const fb_leg_request *req) {
  char url[128];
  fb_state_config cfg = config(url, sizeof url, path);
  return run_one_leg(&cfg, req);
}

static outcome run_leg(const char *path) {
  fb_leg_request req = request();
  return run_leg_req(path, &req);
}

static const char *str(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static void test_shared_records_extracted(void **state) {
  (void)state;
  outcome o = run_leg("/shared");
  assert_int_equal(o.status, 0);
  /* Two BGD records from two results; the IDN record is another state's. */
  assert_int_equal(json_array_size(o.records), 2);
  json_t *r1 = json_array_get(o.records, 0), *r2 = json_array_get(o.records, 1);
  assert_string_equal(str(r1, "id"), "BGD-P-000001");
  assert_string_equal(str(r2, "id"), "BGD-V-000002");
  /* The remote's redactions stay marked, so the local merge never links through them. */
  json_t *red = json_object_get(r1, "redacted");
  assert_int_equal(json_array_size(red), 2);
  assert_string_equal(json_string_value(json_array_get(red, 0)), "dob");
  assert_string_equal(str(r1, "state"), "BGD");
  json_decref(o.records);
}

static void test_limit_cuts_lowest_ranked(void **state) {
  (void)state;
  fb_leg_request req = request();
  req.limit = 1;
  outcome o = run_leg_req("/shared", &req);
  assert_int_equal(o.status, 0);
  assert_int_equal(json_array_size(o.records), 1);
  assert_string_equal(str(json_array_get(o.records, 0), "id"), "BGD-P-000001");
  json_decref(o.records);
}

static void test_request_sent(void **state) {
  (void)state;
  outcome o = run_leg("/echo");
  assert_int_equal(o.status, 0);
  json_t *rec = json_array_get(o.records, 0);
  assert_string_equal(str(rec, "auth"), "Bearer eyJhbGciOi.eyJzdWIi.c2ln");
  assert_string_equal(str(rec, "ctype"), "application/json; charset=utf-8");
  json_t *sent = json_loads(str(rec, "notes"), 0, NULL);
  assert_non_null(sent);
  assert_string_equal(str(json_object_get(sent, "subject"), "document"), "A12345678");
  assert_string_equal(str(sent, "purpose"), "prosecution");
  assert_string_equal(str(sent, "priority"), "urgent");
  assert_string_equal(str(sent, "legal_basis"), "mla_treaty");
  assert_string_equal(str(sent, "justification"), "Suspected facilitator in case MY-2026-0042");
  assert_string_equal(str(sent, "case_ref"), "MY-2026-0042");
  json_t *states = json_object_get(sent, "states");
  assert_int_equal(json_array_size(states), 1);
  assert_string_equal(json_string_value(json_array_get(states, 0)), "BGD");
  /* Only API.md request fields: the remote hub answers 400 to unknown ones. */
  assert_null(json_object_get(sent, "query_id"));
  assert_null(json_object_get(sent, "requester"));
  assert_null(json_object_get(sent, "limit"));
  json_decref(sent);
  json_decref(o.records);
  /* Without a case_ref none is sent (a hub refuses null where a string belongs). */
  fb_leg_request req = request();
  req.case_ref = NULL;
  o = run_leg_req("/echo", &req);
  assert_int_equal(o.status, 0);
  sent = json_loads(str(json_array_get(o.records, 0), "notes"), 0, NULL);
  assert_non_null(sent);
  assert_null(json_object_get(sent, "case_ref"));
  json_decref(sent);
  json_decref(o.records);
}

static void expect_error(const char *path, int status, const char *why) {
  outcome o = run_leg(path);
  assert_int_equal(o.status, status);
  assert_null(o.records);
  if (strncmp(o.error, why, strlen(why)) != 0) fail_msg("%s: got \"%s\", want \"%s...\"", path, o.error, why);
}

static void test_remote_outcomes_other_than_shared_fail(void **state) {
  (void)state;
  expect_error("/denied", FB_LEG_ERROR, "remote hub: BGD denied (rule no_informal): No informal channel.");
  expect_error("/hitonly", FB_LEG_ERROR, "remote hub: BGD hit_only (rule hit_only_routine)");
  expect_error("/missing", FB_LEG_ERROR, "remote hub: the answer has no outcome for BGD");
}

static void test_bad_answers_fail(void **state) {
  (void)state;
  expect_error("/401", FB_LEG_ERROR, "HTTP 401 from remote hub: The bearer token has expired.");
  expect_error("/nowhere", FB_LEG_ERROR, "HTTP 404 from remote hub");
  expect_error("/badjson", FB_LEG_ERROR, "invalid JSON from remote hub: ");
  expect_error("/badrecord", FB_LEG_ERROR, "remote hub: results[0].records[1]: missing id");
  expect_error("/nostate", FB_LEG_ERROR, "remote hub: results[0].records[0] has no state");
}

static void test_timeout(void **state) {
  (void)state;
  fb_leg_request req = request();
  req.timeout_ms = 300;
  double t0 = fb_now_ms();
  outcome o = run_leg_req("/slow", &req);
  assert_int_equal(o.status, FB_LEG_TIMEOUT);
  assert_string_equal(o.error, "no answer within 300 ms");
  assert_true(fb_now_ms() - t0 < 2500);
}

/* Two legs in a row on one adapter use one connection; a cancelled leg never calls
 * back; closing with a leg in flight frees it. */
static void test_reuse_cancel_close(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[128], slow_url[128];
  fb_state_config cfg = config(url, sizeof url, "/echo");
  fb_state_config scfg = config(slow_url, sizeof slow_url, "/slow");
  fb_adapter *a, *sa;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  assert_int_equal(fb_adapter_open(&loop, &scfg, &sa, &err), 0);
  fb_leg_request req = request();
  outcome o1 = {0}, o2 = {0}, s1 = {0}, s2 = {0};
  fb_leg *leg, *l1, *l2;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o1, &leg), 0);
  assert_int_equal(fb_adapter_start(sa, &req, done_cb, &s1, &l1), 0);
  assert_int_equal(fb_adapter_start(sa, &req, done_cb, &s2, &l2), 0);
  fb_adapter_cancel(l1);
  while (o1.calls == 0) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o2, &leg), 0);
  while (o2.calls == 0) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(o1.status, 0);
  assert_int_equal(o2.status, 0);
  json_int_t c1 = json_integer_value(json_object_get(json_array_get(o1.records, 0), "conn"));
  json_int_t c2 = json_integer_value(json_object_get(json_array_get(o2.records, 0), "conn"));
  assert_true(c1 > 0);
  assert_int_equal(c1, c2);
  json_decref(o1.records);
  json_decref(o2.records);
  int closed = 0;
  fb_adapter_close(sa, closed_cb, &closed); /* l2 still in flight */
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 2);
  assert_int_equal(s1.calls + s2.calls, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void expect_open_error(fb_state_config *cfg, const char *want) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = NULL;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, cfg, &a, &err), -1);
  assert_null(a);
  if (!strstr(err, want)) fail_msg("got \"%s\", want \"...%s...\"", err, want);
  free(err);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_open_errors(void **state) {
  (void)state;
  char missing[160], empty[160], spaced[160];
  snprintf(missing, sizeof missing, "%s/none.jwt", tmpdir);
  snprintf(empty, sizeof empty, "%s/empty.jwt", tmpdir);
  snprintf(spaced, sizeof spaced, "%s/spaced.jwt", tmpdir);
  fb_test_write_file(empty, " \n\t\n");
  fb_test_write_file(spaced, "abc\r\nX-Injected: 1\n");
  fb_state_config c = {.code = "BGD", .adapter = "broker", .url = "http://127.0.0.1:1", .token_file = missing};
  char want[256];
  snprintf(want, sizeof want, "state BGD: cannot read token_file %s: No such file or directory", missing);
  expect_open_error(&c, want);
  c.token_file = empty;
  snprintf(want, sizeof want, "state BGD: token_file %s is empty", empty);
  expect_open_error(&c, want);
  c.token_file = spaced;
  snprintf(want, sizeof want, "state BGD: token_file %s holds characters a bearer token cannot have", spaced);
  expect_open_error(&c, want);
  c.token_file = NULL;
  expect_open_error(&c, "state BGD: adapter broker needs `token_file`");
  c.token_file = token_path;
  c.url = "ftp://x";
  expect_open_error(&c, "state BGD: adapter broker needs `url` starting with http:// or https://");
  c.url = "https://x";
  c.cert = "cert.pem";
  expect_open_error(&c, "state BGD: adapter broker needs both `cert` and `key` for mTLS");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_records_extracted),
      cmocka_unit_test(test_limit_cuts_lowest_ranked),
      cmocka_unit_test(test_request_sent),
      cmocka_unit_test(test_remote_outcomes_other_than_shared_fail),
      cmocka_unit_test(test_bad_answers_fail),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_reuse_cancel_close),
      cmocka_unit_test(test_open_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
