/* http_client/client.c over fedbroker's own HTTP/1.1 client (an http:// URL, no proxy): at most
 * 16 connections to the node and the rest of the calls in the loop's queue, connections
 * kept idle between bursts, the sentences of client.h, counted at h1_server.py. */
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
#include "http_client/client.h"
#include "tests/unit/http_client/loop_helpers.h"
#include "unit_common.h"

#define SLOTS 16 /* FB_HTTP_MAX_HOST_CONNECTIONS (http_client/transfer.h) */

static pid_t server_pid;
static int port;

static int setup(void **state) {
  (void)state;
  if (getenv("http_proxy") || getenv("HTTP_PROXY") || getenv("all_proxy") || getenv("ALL_PROXY")) {
    fprintf(stderr, "a proxy is set in the environment: these calls would go through libcurl\n");
    return -1;
  }
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
  int calls, status;
  json_t *body;
  char why[256];
} outcome;

static void done_cb(void *data, int status, void *body, const char *why) {
  outcome *o = data;
  o->calls++;
  o->status = status;
  o->body = body;
  snprintf(o->why, sizeof o->why, "%s", why ? why : "");
}

static fb_http_client *open_path(uv_loop_t *loop, const char *path, uint64_t max_body, bool detail) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  fb_http_client_options o = {.url = url, .peer = "node", .max_body = max_body, .error_detail = detail};
  fb_http_client *client = fb_http_client_new(loop, &o);
  assert_non_null(client);
  return client;
}


static void close_client(uv_loop_t *loop, fb_http_client *client) {
  int closed = 0;
  fb_http_client_close(client, closed_cb, &closed);
  run(loop);
  assert_int_equal(closed, 1);
}

static void post(fb_http_client *client, uint32_t timeout_ms, outcome *o) {
  assert_non_null(fb_http_post(client, fb_xstrdup("{\"q\": 1}"), timeout_ms, NULL, done_cb, o));
}

static long server_count(const char *key) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_http_client *client = open_path(&loop, "/count", 0, false);
  outcome o = {0};
  post(client, 5000, &o);
  run(&loop);
  assert_int_equal(o.status, 0);
  long n = (long)json_integer_value(json_object_get(o.body, key));
  json_decref(o.body);
  close_client(&loop, client);
  assert_int_equal(uv_loop_close(&loop), 0);
  return n;
}

/* 40 calls at once: the node holds at most 16 (and more than one) at a time, over at
 * most 16 connections; a second burst after a quiet moment opens none. */
static void test_sixteen_connections_then_queue(void **state) {
  (void)state;
  enum { N = 40 };
  long before = server_count("conns");
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_http_client *client = open_path(&loop, "/hold", 0, false);
  outcome o[N];
  for (int burst = 0; burst < 2; burst++) {
    memset(o, 0, sizeof o);
    for (int i = 0; i < N; i++) post(client, 10000, &o[i]);
    run(&loop);
    for (int i = 0; i < N; i++) {
      assert_int_equal(o[i].calls, 1);
      if (o[i].status != 0) fail_msg("call %d: %s", i, o[i].why);
      json_decref(o[i].body);
    }
    usleep(100 * 1000);
  }
  close_client(&loop, client);
  assert_int_equal(uv_loop_close(&loop), 0);
  long held = server_count("held_max");
  if (held > SLOTS || held < 2) fail_msg("the node held %ld calls at once", held);
  long opened = server_count("conns") - before - 2; /* less the two counts' own */
  if (opened > SLOTS || opened < 2) fail_msg("%ld connections for two bursts of 40 calls", opened);
}

/* Cancelling calls that hold the 16 slots starts the queued one at once, not at its
 * deadline. */
static void test_cancel_frees_slots(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_http_client *client = open_path(&loop, "/hold", 0, false);
  outcome o[SLOTS + 1];
  fb_http_call *calls[SLOTS];
  memset(o, 0, sizeof o);
  for (int i = 0; i < SLOTS; i++)
    assert_non_null(calls[i] = fb_http_post(client, fb_xstrdup("{}"), 10000, NULL, done_cb, &o[i]));
  post(client, 2000, &o[SLOTS]);
  for (int i = 0; i < SLOTS; i++) fb_http_cancel(calls[i]);
  double t0 = fb_now_ms();
  run(&loop);
  double took = fb_now_ms() - t0;
  for (int i = 0; i < SLOTS; i++) assert_int_equal(o[i].calls, 0);
  assert_int_equal(o[SLOTS].calls, 1);
  if (o[SLOTS].status != 0) fail_msg("the queued call: %s", o[SLOTS].why);
  if (took > 1500) fail_msg("the queued call waited %.0f ms", took);
  json_decref(o[SLOTS].body);
  close_client(&loop, client);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void expect(const char *path, uint64_t max_body, uint32_t timeout_ms, int status, const char *why) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_http_client *client = open_path(&loop, path, max_body, true);
  outcome o = {0};
  post(client, timeout_ms, &o);
  run(&loop);
  assert_int_equal(o.calls, 1);
  assert_int_equal(o.status, status);
  if (strncmp(o.why, why, strlen(why)) != 0) fail_msg("%s: \"%s\", wanted \"%s...\"", path, o.why, why);
  json_decref(o.body);
  close_client(&loop, client);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* client.h's sentences, from the own client as they were from libcurl. */
static void test_sentences(void **state) {
  (void)state;
  expect("/chunked", 0, 5000, 0, "");
  expect("/404", 0, 5000, FB_HTTP_ERROR, "HTTP 404 from node: no such thing");
  expect("/big", 1000, 5000, FB_HTTP_ERROR, "response over 1000 bytes");
  expect("/slow", 0, 300, FB_HTTP_TIMEOUT, "no answer within 300 ms");
  expect("/midbody", 0, 5000, FB_HTTP_ERROR, "request to node failed: bad HTTP answer: connection closed");
  expect("/garbage", 0, 5000, FB_HTTP_ERROR, "request to node failed: bad HTTP answer: ");
  expect("/flood", 0, 5000, FB_HTTP_ERROR, "request to node failed: bad HTTP answer: answer headers over 64 KiB");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sixteen_connections_then_queue),
      cmocka_unit_test(test_cancel_frees_slots),
      cmocka_unit_test(test_sentences),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
