/* The "http" adapter's own queue (http_client/client.c): over http:// at most 16
 * legs of an adapter are in flight at once (on the own HTTP/1.1 client, h1_client.c), the rest wait in the client's queue, first in
 * first out, with their deadline running from the moment they were started; and how
 * legs fare on kept-alive and on closed connections. Against queue_server.py. */
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

#include "adapters/adapter.h"
#include "core/util.h"
#include "tests/unit/adapters/leg_outcome.h"
#include "unit_common.h"

#define SLOTS 16 /* FB_HTTP_MAX_HOST_CONNECTIONS (http_client/transfer.h) */

static pid_t server_pid;
static int port;

static int setup(void **state) {
  (void)state;
  char *argv[] = {"/usr/bin/python3", FB_SOURCE_DIR "/tests/unit/adapters/queue_server.py", NULL};
  server_pid = fb_test_spawn_server(argv, &port);
  return server_pid < 0 ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  fb_test_stop_server(server_pid);
  return 0;
}

static fb_leg_request request(const char *query_id, uint32_t timeout_ms) {
  static json_t *subject;
  if (!subject) subject = json_pack("{s:s}", "document", "A12345678");
  return (fb_leg_request){.query_id = query_id, .subject = subject, .purpose = "prosecution",
                          .priority = "urgent", .legal_basis = "mla_treaty", .requester_state = "MYS",
                          .requester_agency = "PDRM", .timeout_ms = timeout_ms};
}

static fb_adapter *open_path(uv_loop_t *loop, const char *path) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  fb_state_config cfg = {.code = "IDN", .adapter = "http", .url = url};
  fb_adapter *a;
  char *err = NULL;
  if (fb_adapter_open(loop, &cfg, &a, &err) != 0) fail_msg("open: %s", err);
  return a;
}

static void close_adapter(uv_loop_t *loop, fb_adapter *a) {
  int closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  alarm(20);
  uv_run(loop, UV_RUN_DEFAULT);
  alarm(0);
  assert_int_equal(closed, 1);
}

static long notes_of(const outcome *o) {
  return strtol(json_string_value(json_object_get(json_array_get(o->records, 0), "notes")), NULL, 10);
}

/* Legs over the slots wait and then all get their answer; the node never holds more
 * than 16 of them at once, and does hold several (they do run side by side). */
static void test_queued_legs_all_answer(void **state) {
  (void)state;
  enum { N = 40 };
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = open_path(&loop, "/hold");
  outcome o[N] = {{0}};
  fb_leg *leg;
  fb_leg_request req = request("q-hold", 10000);
  for (int i = 0; i < N; i++) assert_int_equal(fb_adapter_start(a, &req, done_cb, &o[i], &leg), 0);
  alarm(30);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once every leg is done: nothing queued holds it */
  alarm(0);
  long most = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(o[i].calls, 1);
    if (o[i].status != 0) fail_msg("leg %d: %s", i, o[i].error);
    long held = notes_of(&o[i]);
    if (held > most) most = held;
    json_decref(o[i].records);
  }
  if (most > SLOTS) fail_msg("the node held %ld legs at once", most);
  assert_true(most >= 2);
  close_adapter(&loop, a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A queued leg's deadline runs from its start, not from when a slot frees: 20 legs to
 * a node that never answers in time all time out after their own 500 ms, the four
 * that waited for a slot included (had their time started only when the first 16 gave
 * up their slots, they would end after 1,000 ms). */
static void test_queued_leg_keeps_its_deadline(void **state) {
  (void)state;
  enum { N = SLOTS + 4 };
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = open_path(&loop, "/slow");
  outcome o[N] = {{0}};
  fb_leg *leg;
  fb_leg_request req = request("q-slow", 500);
  double t0 = fb_now_ms();
  for (int i = 0; i < N; i++) assert_int_equal(fb_adapter_start(a, &req, done_cb, &o[i], &leg), 0);
  alarm(30);
  uv_run(&loop, UV_RUN_DEFAULT);
  alarm(0);
  double took = fb_now_ms() - t0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(o[i].calls, 1);
    assert_int_equal(o[i].status, FB_LEG_TIMEOUT);
    assert_string_equal(o[i].error, "no answer within 500 ms");
  }
  if (took < 490 || took > 950) fail_msg("20 legs of 500 ms took %.0f ms", took);
  close_adapter(&loop, a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Cancelled legs, queued or in flight, are never called back; the queued ones behind
 * them still run; closing with legs still queued calls nothing back and frees them. */
static void test_cancel_queued_and_close(void **state) {
  (void)state;
  enum { N = SLOTS + 8 };
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = open_path(&loop, "/hold");
  outcome o[N] = {{0}};
  fb_leg *legs[N];
  fb_leg_request req = request("q-hold", 10000);
  for (int i = 0; i < N; i++) assert_int_equal(fb_adapter_start(a, &req, done_cb, &o[i], &legs[i]), 0);
  fb_adapter_cancel(legs[0]);     /* in flight */
  fb_adapter_cancel(legs[SLOTS]); /* first in the queue */
  fb_adapter_cancel(legs[N - 1]); /* last in the queue */
  alarm(30);
  uv_run(&loop, UV_RUN_DEFAULT);
  alarm(0);
  for (int i = 0; i < N; i++) {
    if (i == 0 || i == SLOTS || i == N - 1) {
      assert_int_equal(o[i].calls, 0);
      continue;
    }
    assert_int_equal(o[i].calls, 1);
    if (o[i].status != 0) fail_msg("leg %d: %s", i, o[i].error);
    json_decref(o[i].records);
  }
  /* close with 16 legs in flight and 8 queued: no callback, everything freed (ASan) */
  fb_adapter *s = open_path(&loop, "/slow");
  outcome q[N] = {{0}};
  fb_leg_request slow = request("q-slow", 10000);
  for (int i = 0; i < N; i++) assert_int_equal(fb_adapter_start(s, &slow, done_cb, &q[i], &legs[i]), 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  double t0 = fb_now_ms();
  close_adapter(&loop, s);
  assert_true(fb_now_ms() - t0 < 1000);
  for (int i = 0; i < N; i++) assert_int_equal(q[i].calls, 0);
  close_adapter(&loop, a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A kept-alive connection: the leg after a fast one gets its own deadline on the same
 * connection, and the leg after the timeout gets an answer (on a new connection: the
 * timed-out one is closed). */
static void test_reused_connection_keeps_the_leg_deadline(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = open_path(&loop, "/mixed");
  fb_leg *leg;
  fb_leg_request fast = request("fast", 5000), slow = request("slow", 300);
  outcome o1 = {0}, o2 = {0}, o3 = {0}, o4 = {0};
  assert_int_equal(fb_adapter_start(a, &fast, done_cb, &o1, &leg), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(o1.status, 0);
  assert_int_equal(fb_adapter_start(a, &fast, done_cb, &o2, &leg), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(o2.status, 0);
  assert_int_equal(notes_of(&o1), notes_of(&o2)); /* one connection */
  double t0 = fb_now_ms();
  assert_int_equal(fb_adapter_start(a, &slow, done_cb, &o3, &leg), 0);
  alarm(20);
  uv_run(&loop, UV_RUN_DEFAULT);
  alarm(0);
  double took = fb_now_ms() - t0;
  assert_int_equal(o3.status, FB_LEG_TIMEOUT);
  assert_string_equal(o3.error, "no answer within 300 ms");
  if (took < 290 || took > 2000) fail_msg("a 300 ms leg timed out after %.0f ms", took);
  assert_int_equal(fb_adapter_start(a, &fast, done_cb, &o4, &leg), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (o4.status != 0) fail_msg("the leg after the timeout: %s", o4.error);
  json_decref(o1.records);
  json_decref(o2.records);
  json_decref(o4.records);
  close_adapter(&loop, a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A node that answers with `Connection: close`: every leg, in a row or side by side,
 * gets its answer, each on a connection of its own. */
static void test_connection_close_answers(void **state) {
  (void)state;
  enum { N = SLOTS + 8 };
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = open_path(&loop, "/close");
  fb_leg *leg;
  fb_leg_request req = request("q-close", 5000);
  long prev = 0;
  for (int i = 0; i < 5; i++) {
    outcome o = {0};
    assert_int_equal(fb_adapter_start(a, &req, done_cb, &o, &leg), 0);
    alarm(20);
    uv_run(&loop, UV_RUN_DEFAULT);
    alarm(0);
    if (o.status != 0) fail_msg("leg %d: %s", i, o.error);
    long now = notes_of(&o);
    assert_true(now != prev);
    prev = now;
    json_decref(o.records);
  }
  outcome o[N] = {{0}};
  for (int i = 0; i < N; i++) assert_int_equal(fb_adapter_start(a, &req, done_cb, &o[i], &leg), 0);
  alarm(30);
  uv_run(&loop, UV_RUN_DEFAULT);
  alarm(0);
  for (int i = 0; i < N; i++) {
    assert_int_equal(o[i].calls, 1);
    if (o[i].status != 0) fail_msg("leg %d: %s", i, o[i].error);
    json_decref(o[i].records);
  }
  close_adapter(&loop, a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Runs `n` legs side by side to `a` and puts the client port of each answer (from
 * /holdport: which connection carried it) in ports[]. */
static void burst(uv_loop_t *loop, fb_adapter *a, int n, long *ports) {
  outcome o[SLOTS] = {{0}};
  fb_leg *leg;
  fb_leg_request req = request("q-port", 10000);
  for (int i = 0; i < n; i++) assert_int_equal(fb_adapter_start(a, &req, done_cb, &o[i], &leg), 0);
  alarm(30);
  uv_run(loop, UV_RUN_DEFAULT);
  alarm(0);
  for (int i = 0; i < n; i++) {
    assert_int_equal(o[i].calls, 1);
    if (o[i].status != 0) fail_msg("leg %d: %s", i, o[i].error);
    ports[i] = notes_of(&o[i]);
    json_decref(o[i].records);
  }
}

/* 16 legs side by side to a new node go over 16 connections at once (none waits for
 * the first one's answer to learn whether the connection multiplexes: HTTP/1.1 does
 * not). And the connections of a busy moment outlive a quiet one: after those 16 legs,
 * then legs one at a time, 16 legs side by side again all go over the connections
 * already open, none over a new one. (libcurl's own cache, which carried these legs
 * before h1_client.c, kept four idle connections per transfer by default: with one
 * leg running it closed all but four, and each busy moment after a quiet one paid a
 * dozen new connections — connect, socket options, the handshake on both sides.) */
static void test_idle_connections_kept(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = open_path(&loop, "/holdport");
  long first[SLOTS], one[1], again[SLOTS];
  burst(&loop, a, SLOTS, first);
  for (int i = 0; i < SLOTS; i++)
    for (int j = 0; j < i; j++)
      if (first[i] == first[j]) fail_msg("legs %d and %d shared a connection while both in flight", j, i);
  for (int i = 0; i < 6; i++) burst(&loop, a, 1, one);
  burst(&loop, a, SLOTS, again);
  for (int i = 0; i < SLOTS; i++) {
    bool known = false;
    for (int j = 0; j < SLOTS && !known; j++) known = again[i] == first[j];
    if (!known) fail_msg("leg %d of the second busy moment went over a new connection (port %ld)", i, again[i]);
  }
  close_adapter(&loop, a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A proxy named in the environment is used (http_client/client.c looks at the proxy variables
 * once, when the adapter opens, and tells curl "no proxy" only when none is set): the
 * leg to a host that does not resolve is answered by the node acting as the proxy. */
static void test_proxy_from_environment(void **state) {
  (void)state;
  char proxy[64];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", port);
  setenv("http_proxy", proxy, 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "IDN", .adapter = "http", .url = "http://node.invalid/proxied"};
  fb_adapter *a;
  char *err = NULL;
  if (fb_adapter_open(&loop, &cfg, &a, &err) != 0) fail_msg("open: %s", err);
  outcome o = {0};
  fb_leg *leg;
  fb_leg_request req = request("q-proxy", 5000);
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o, &leg), 0);
  alarm(20);
  uv_run(&loop, UV_RUN_DEFAULT);
  alarm(0);
  unsetenv("http_proxy");
  if (o.status != 0) fail_msg("leg: %s", o.error);
  assert_string_equal(json_string_value(json_object_get(json_array_get(o.records, 0), "notes")), "proxied");
  json_decref(o.records);
  close_adapter(&loop, a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queued_legs_all_answer),
      cmocka_unit_test(test_queued_leg_keeps_its_deadline),
      cmocka_unit_test(test_cancel_queued_and_close),
      cmocka_unit_test(test_reused_connection_keeps_the_leg_deadline),
      cmocka_unit_test(test_connection_close_answers),
      cmocka_unit_test(test_idle_connections_kept),
      cmocka_unit_test(test_proxy_from_environment),
  };
  fb_leg_request r = request(NULL, 0);
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  json_decref(r.subject);
  return rc;
}
