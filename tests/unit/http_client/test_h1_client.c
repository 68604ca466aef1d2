/* fedbroker's own HTTP/1.1 client (http_client/h1_client.c) against h1_server.py, a
 * node that writes its answers byte by byte: keep-alive reuse, bodies by length, by
 * chunks and to the close, the caps, a stale kept-alive connection retried once,
 * timeouts, aborts in each phase and a close with requests in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/util.h"
#include "http_client/h1_client.h"
#include "tests/unit/http_client/loop_helpers.h"
#include "unit_common.h"

static pid_t server_pid;
static int port;

static int setup(void **state) {
  (void)state;
  char *argv[] = {"/usr/bin/python3", FB_SOURCE_DIR "/tests/unit/http_client/h1_server.py", NULL};
  server_pid = fb_test_spawn_server(argv, &port);
  return server_pid < 0 ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  fb_test_stop_server(server_pid);
  return 0;
}

typedef struct {
  int calls;
  fb_transfer_outcome outcome;
  int status;
  char *body;
  size_t len;
  char reason[256];
  /* on the first answer: post once more on the same client (the stale-connection test) */
  fb_h1_client *again;
  void *again_into;
} result;

static char request_body[] = "{\"q\": 1}";

static void done_cb(void *data, fb_transfer_outcome outcome, int status, fb_buf *body, const char *reason);

static void post(fb_h1_client *c, uint32_t timeout_ms, result *r) {
  if (!fb_h1_post(c, request_body, strlen(request_body), timeout_ms, done_cb, r)) fail_msg("post refused");
}

static void done_cb(void *data, fb_transfer_outcome outcome, int status, fb_buf *body, const char *reason) {
  result *r = data;
  r->calls++;
  r->outcome = outcome;
  r->status = status;
  r->len = body->len;
  free(r->body);
  r->body = fb_buf_steal(body);
  snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
  if (r->again) {
    fb_h1_client *c = r->again;
    r->again = NULL;
    post(c, 5000, r->again_into);
  }
}

static fb_h1_client *client_to(uv_loop_t *loop, const char *host, int p, const char *path, uint64_t max_body) {
  char hosthdr[128];
  snprintf(hosthdr, sizeof hosthdr, "%s:%d", host, p);
  fb_h1_options o = {.host = host, .port = (uint16_t)p, .host_header = hosthdr, .target = path,
                     .headers = "Content-Type: application/json\r\n", .max_body = max_body ? max_body : 1 << 20};
  return fb_h1_client_new(loop, &o);
}

static fb_h1_client *client(uv_loop_t *loop, const char *path, uint64_t max_body) {
  return client_to(loop, "127.0.0.1", port, path, max_body);
}


static void close_client(uv_loop_t *loop, fb_h1_client *c) {
  int closed = 0;
  fb_h1_client_close(c, closed_cb, &closed);
  run(loop);
  assert_int_equal(closed, 1);
}

static void result_free(result *r) {
  free(r->body);
  r->body = NULL;
}

/* One request, run to its end. */
static result once(uv_loop_t *loop, fb_h1_client *c, uint32_t timeout_ms) {
  result r = {0};
  post(c, timeout_ms, &r);
  run(loop);
  assert_int_equal(r.calls, 1);
  return r;
}

/* What the node has seen: connections accepted (this look-up's own included) and the
 * most /hold requests it held at once. */
static long server_count(const char *key) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_h1_client *c = client(&loop, "/count", 0);
  result r = once(&loop, c, 5000);
  assert_int_equal(r.outcome, FB_TRANSFER_ANSWERED);
  json_t *j = json_loads(r.body, 0, NULL);
  long n = (long)json_integer_value(json_object_get(j, key));
  json_decref(j);
  result_free(&r);
  close_client(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
  return n;
}

static void expect_answer(const result *r, int status, const char *body) {
  if (r->outcome != FB_TRANSFER_ANSWERED) fail_msg("outcome %d: %s", (int)r->outcome, r->reason);
  assert_int_equal(r->status, status);
  assert_string_equal(r->body, body);
  assert_int_equal(strlen(r->body), r->len);
}

static void expect_failure(const result *r, fb_transfer_outcome outcome, const char *reason_prefix) {
  assert_int_equal(r->outcome, outcome);
  if (strncmp(r->reason, reason_prefix, strlen(reason_prefix)) != 0)
    fail_msg("reason \"%s\", wanted \"%s...\"", r->reason, reason_prefix);
}

/* Five requests one after the other ride one connection: the node accepts one. */
static void test_keep_alive_reuse(void **state) {
  (void)state;
  long before = server_count("conns");
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_h1_client *c = client(&loop, "/echo", 0);
  for (int i = 0; i < 5; i++) {
    result r = once(&loop, c, 5000);
    expect_answer(&r, 200, request_body);
    result_free(&r);
  }
  assert_int_equal(fb_h1_client_connections_opened(c), 1);
  close_client(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_int_equal(server_count("conns") - before, 2); /* ours, and the count's own */
}

static void test_bodies(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_h1_client *c = client(&loop, "/chunked", 0);
  result r = once(&loop, c, 5000);
  expect_answer(&r, 200, "{\"ok\": 1}");
  result_free(&r);
  close_client(&loop, c);

  /* no length: the body runs to the close, and the connection is not kept */
  c = client(&loop, "/eof", 0);
  for (int i = 0; i < 2; i++) {
    r = once(&loop, c, 5000);
    expect_answer(&r, 200, "{\"ok\": 2}");
    result_free(&r);
  }
  assert_int_equal(fb_h1_client_connections_opened(c), 2);
  close_client(&loop, c);

  c = client(&loop, "/continue", 0); /* an interim 100 is skipped */
  r = once(&loop, c, 5000);
  expect_answer(&r, 200, "{\"ok\": 1}");
  result_free(&r);
  close_client(&loop, c);

  c = client(&loop, "/404", 0); /* any status is an answer; its body comes along */
  r = once(&loop, c, 5000);
  expect_answer(&r, 404, "{\"error\": {\"message\": \"no such thing\"}}");
  result_free(&r);
  close_client(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_hostile_answers(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct {
    const char *path;
    fb_transfer_outcome outcome;
    const char *reason;
  } cases[] = {
      {"/midbody", FB_TRANSFER_FAILED, "bad HTTP answer: connection closed before the answer was complete"},
      {"/big", FB_TRANSFER_TOO_BIG, ""},
      {"/bigchunk", FB_TRANSFER_TOO_BIG, ""},
      {"/flood", FB_TRANSFER_FAILED, "bad HTTP answer: answer headers over 64 KiB"},
      {"/garbage", FB_TRANSFER_FAILED, "bad HTTP answer: "},
  };
  for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
    fb_h1_client *c = client(&loop, cases[i].path, 1000);
    result r = once(&loop, c, 5000);
    expect_failure(&r, cases[i].outcome, cases[i].reason);
    assert_int_equal(r.len, 0);
    result_free(&r);
    close_client(&loop, c);
  }
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_slow_node_times_out(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_h1_client *c = client(&loop, "/slow", 0);
  double t0 = fb_now_ms();
  result r = once(&loop, c, 300);
  double took = fb_now_ms() - t0;
  assert_int_equal(r.outcome, FB_TRANSFER_TIMEOUT);
  if (took < 299 || took > 1500) fail_msg("a 300 ms timeout took %.0f ms", took);
  result_free(&r);
  close_client(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* The node closes a kept-alive connection right after its answer. A request sent on
 * it before the close is seen goes once more, on a fresh connection; one sent after
 * the close was seen takes a fresh connection at once. Both get their answer. */
static void test_stale_connection_retried(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_h1_client *c = client(&loop, "/dropped", 0);
  result first = {0}, second = {0};
  first.again = c;
  first.again_into = &second;
  post(c, 5000, &first);
  run(&loop);
  expect_answer(&first, 200, "{\"ok\": 1}");
  assert_int_equal(second.calls, 1);
  expect_answer(&second, 200, "{\"ok\": 1}");
  assert_int_equal(fb_h1_client_connections_opened(c), 2);
  result_free(&first);
  result_free(&second);
  usleep(200 * 1000); /* the node has closed the second connection too */
  result third = once(&loop, c, 5000);
  expect_answer(&third, 200, "{\"ok\": 1}");
  assert_int_equal(fb_h1_client_connections_opened(c), 3);
  result_free(&third);
  close_client(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_connect_and_resolve_failures(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  /* a port nobody listens on: bind one, learn its number, close it */
  uv_tcp_t t;
  uv_tcp_init(&loop, &t);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
  int len = sizeof a;
  uv_tcp_getsockname(&t, (struct sockaddr *)&a, &len);
  int dead = ntohs(a.sin_port);
  uv_close((uv_handle_t *)&t, NULL);
  run(&loop);
  fb_h1_client *c = client_to(&loop, "127.0.0.1", dead, "/x", 0);
  result r = once(&loop, c, 5000);
  char want[128];
  snprintf(want, sizeof want, "cannot connect to 127.0.0.1 port %d: connection refused", dead);
  expect_failure(&r, FB_TRANSFER_FAILED, want);
  result_free(&r);
  close_client(&loop, c);

  c = client_to(&loop, "fb-no-such-node.invalid", port, "/x", 0);
  r = once(&loop, c, 5000);
  expect_failure(&r, FB_TRANSFER_FAILED, "cannot resolve fb-no-such-node.invalid: ");
  result_free(&r);
  close_client(&loop, c);

  c = client_to(&loop, "localhost", port, "/echo", 0); /* a name: resolved, then its addresses tried */
  r = once(&loop, c, 5000);
  expect_answer(&r, 200, request_body);
  result_free(&r);
  close_client(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void abort_cb(uv_timer_t *t) { fb_h1_abort(t->data); }

/* Aborted while its name is looked up, while connecting, while waiting for the
 * answer, and in the middle of the body: never called back, nothing leaks (ASan). */
static void test_abort_in_each_phase(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  result r = {0};
  fb_h1_client *named = client_to(&loop, "localhost", port, "/echo", 0);
  fb_h1_abort(fb_h1_post(named, request_body, strlen(request_body), 5000, done_cb, &r)); /* resolving */
  fb_h1_client *c = client(&loop, "/echo", 0);
  fb_h1_abort(fb_h1_post(c, request_body, strlen(request_body), 5000, done_cb, &r)); /* connecting */
  run(&loop);
  assert_int_equal(r.calls, 0);
  close_client(&loop, named);
  close_client(&loop, c);

  const char *paths[] = {"/slow", "/midslow"}; /* waiting; mid-body */
  for (size_t i = 0; i < 2; i++) {
    c = client(&loop, paths[i], 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = fb_h1_post(c, request_body, strlen(request_body), 5000, done_cb, &r);
    uv_timer_start(&t, abort_cb, 300, 0);
    run(&loop);
    assert_int_equal(r.calls, 0);
    uv_close((uv_handle_t *)&t, NULL);
    run(&loop);
    close_client(&loop, c);
  }
  assert_int_equal(uv_loop_close(&loop), 0);
}


typedef struct {
  uv_timer_t timer;
  fb_h1_client *c;
  int closed;
} closer;

static void closer_cb(uv_timer_t *t) {
  closer *k = fb_container_of(t, closer, timer);
  fb_h1_client_close(k->c, closed_cb, &k->closed);
  uv_close((uv_handle_t *)t, NULL);
}

/* Closed with requests connecting, waiting and resolving: no callback, one `closed`. */
static void test_close_with_requests_in_flight(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  result r = {0};
  closer k = {.c = client(&loop, "/slow", 0)};
  for (int i = 0; i < 4; i++) post(k.c, 5000, &r);
  uv_timer_init(&loop, &k.timer);
  uv_timer_start(&k.timer, closer_cb, 200, 0);
  closer named = {.c = client_to(&loop, "localhost", port, "/slow", 0)};
  post(named.c, 5000, &r);
  fb_h1_client_close(named.c, closed_cb, &named.closed);
  run(&loop);
  assert_int_equal(r.calls, 0);
  assert_int_equal(k.closed, 1);
  assert_int_equal(named.closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keep_alive_reuse),
      cmocka_unit_test(test_bodies),
      cmocka_unit_test(test_hostile_answers),
      cmocka_unit_test(test_slow_node_times_out),
      cmocka_unit_test(test_stale_connection_retried),
      cmocka_unit_test(test_connect_and_resolve_failures),
      cmocka_unit_test(test_abort_in_each_phase),
      cmocka_unit_test(test_close_with_requests_in_flight),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
