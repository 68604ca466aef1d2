/* HTTP/1.1 sessions (broker/net/http1.c, conn.c) driven in-process through the rig
 * (rig.h): keep-alive, pipelining in order and its bounds, bodies (Content-Length and
 * chunked), 100-continue, HEAD, the limits (431, 413), malformed requests (400 with a
 * reason), bytes that are not HTTP, the header timeout and the send timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rig.h"

static bool has(const fb_buf *b, const char *needle) { return rig_count(b->data, b->len, needle) > 0; }

/* Sends `req` on a new connection and reads until the server closes it. */
static void exchange_to_close(const char *req, fb_buf *out) {
  int fd = rig_connect(&rig, 0);
  rig_sends(&rig, fd, req);
  assert_true(rig_read_to_eof(&rig, fd, out));
  close(fd);
}

static void test_keep_alive(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  rig_sends(&rig, fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  assert_true(rig_read_until(&rig, fd, &out, "hello"));
  assert_true(has(&out, "HTTP/1.1 200 OK\r\n"));
  assert_true(has(&out, "content-length: 5\r\n"));
  assert_false(has(&out, "connection: close"));
  fb_buf_reset(&out);
  rig_sends(&rig, fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  assert_true(rig_read_until(&rig, fd, &out, "hello"));
  assert_int_equal(rig.hits, 2);
  assert_int_equal(fb_server_open_connections(rig.srv), 1); /* the same connection served both */
  fb_buf_free(&out);
  close(fd);
}

static void test_connection_close(void **state) {
  (void)state;
  fb_buf out = {0};
  exchange_to_close("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &out);
  assert_true(has(&out, "connection: close\r\n"));
  assert_true(has(&out, "\r\n\r\nhello"));
  fb_buf_reset(&out);
  exchange_to_close("GET /hello HTTP/1.0\r\n\r\n", &out); /* HTTP/1.0 without keep-alive */
  assert_true(has(&out, "\r\n\r\nhello"));
  fb_buf_free(&out);
}

static void test_pipelined_in_order(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  rig_sends(&rig, fd,
            "GET /big?n=3 HTTP/1.1\r\nHost: t\r\n\r\n"
            "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
            "GET /big?n=2 HTTP/1.1\r\nHost: t\r\n\r\n");
  while (rig_count(out.data, out.len, "HTTP/1.1 200") < 3 || !has(&out, "content-length: 2\r\n\r\n!\""))
    assert_false(rig_read_some(&rig, fd, &out));
  fb_buf_putc(&out, '\0');
  /* /big's bodies begin "!\"#" (rig_big_byte) */
  const char *a = strstr(out.data, "\r\n\r\n!\"#"), *b = strstr(out.data, "\r\n\r\nhello"),
             *c = strstr(out.data, "content-length: 2\r\n\r\n!\"");
  assert_true(a && b && c && a < b && b < c);
  fb_buf_free(&out);
  close(fd);
}

static void test_bodies(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  rig_sends(&rig, fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
  assert_true(rig_read_until(&rig, fd, &out, "\r\n\r\nhello world"));
  fb_buf_reset(&out);
  rig_sends(&rig, fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nchunk\r\n6\r\ned bod\r\n1\r\ny\r\n0\r\n\r\n");
  assert_true(rig_read_until(&rig, fd, &out, "content-length: 12\r\n\r\nchunked body"));
  fb_buf_free(&out);
  close(fd);
}

static void test_expect_continue(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  rig_sends(&rig, fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  assert_true(rig_read_until(&rig, fd, &out, "HTTP/1.1 100 Continue\r\n\r\n"));
  assert_int_equal(rig.hits, 0); /* the handler waits for the body */
  rig_sends(&rig, fd, "ping");
  assert_true(rig_read_until(&rig, fd, &out, "\r\n\r\nping"));
  fb_buf_free(&out);
  close(fd);
}

static void test_head_has_no_body(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  /* HEAD then GET: the GET's status line must follow the HEAD's header block at once. */
  rig_sends(&rig, fd, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  assert_true(rig_read_until(&rig, fd, &out, "\r\n\r\nhello"));
  assert_true(has(&out, "content-length: 5\r\n\r\nHTTP/1.1 200 OK"));
  assert_int_equal(rig_count(out.data, out.len, "hello"), 1);
  fb_buf_free(&out);
  close(fd);
}

static void test_header_block_too_large(void **state) {
  (void)state;
  char req[4096];
  char filler[3000];
  memset(filler, 'a', sizeof filler - 1);
  filler[sizeof filler - 1] = '\0';
  snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Long: %s\r\n\r\n", filler);
  fb_buf out = {0};
  exchange_to_close(req, &out);
  assert_true(has(&out, "HTTP/1.1 431 "));
  assert_true(has(&out, "\"code\":\"header_too_large\""));
  assert_int_equal(rig.hits, 0);
  fb_buf_free(&out);
}

static void test_header_block_at_limit(void **state) {
  (void)state;
  /* Exactly limits.header bytes of request line and fields pass. Counted: the URL, each
   * field name and each value ("/hello" 6 + "Host" 4 + "t" 1 + "X" 1 + value). */
  char req[4096];
  char filler[2048 - 12 + 1];
  memset(filler, 'a', sizeof filler - 1);
  filler[sizeof filler - 1] = '\0';
  snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: t\r\nX: %s\r\n\r\n", filler);
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  rig_sends(&rig, fd, req);
  assert_true(rig_read_until(&rig, fd, &out, "\r\n\r\nhello"));
  fb_buf_reset(&out);
  close(fd);
  snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: t\r\nX: %sb\r\n\r\n", filler);
  exchange_to_close(req, &out); /* one byte more */
  assert_true(has(&out, "HTTP/1.1 431 "));
  fb_buf_free(&out);
}

static void test_body_too_large(void **state) {
  (void)state;
  fb_buf out = {0};
  exchange_to_close("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4097\r\n\r\n", &out);
  assert_true(has(&out, "HTTP/1.1 413 "));
  assert_true(has(&out, "\"code\":\"payload_too_large\""));
  fb_buf_reset(&out);
  /* Chunked: no length up front; the limit applies as the chunks arrive. */
  int fd = rig_connect(&rig, 0);
  rig_sends(&rig, fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  char chunk[1024 + 16];
  memset(chunk, 'z', sizeof chunk);
  memcpy(chunk, "400\r\n", 5);
  memcpy(chunk + 5 + 1024, "\r\n", 2);
  for (int i = 0; i < 5; i++) rig_send(&rig, fd, chunk, 5 + 1024 + 2);
  assert_true(rig_read_to_eof(&rig, fd, &out));
  assert_true(has(&out, "HTTP/1.1 413 "));
  assert_int_equal(rig.hits, 0);
  fb_buf_free(&out);
  close(fd);
  /* Exactly the limit passes. */
  fd = rig_connect(&rig, 0);
  fb_buf_reset(&out);
  rig_sends(&rig, fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n");
  char body[4096];
  memset(body, 'q', sizeof body);
  rig_send(&rig, fd, body, sizeof body);
  assert_true(rig_read_until(&rig, fd, &out, "content-length: 4096\r\n"));
  assert_true(has(&out, "HTTP/1.1 200 "));
  fb_buf_free(&out);
  close(fd);
}

static void test_malformed_requests(void **state) {
  (void)state;
  static const struct {
    const char *req, *reason;
  } cases[] = {
      {"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"},
      {"GET /hello HTTP/1.1\r\n\r\n", "needs a Host header"},
      {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 4\r\n\r\nabcd", "Whitespace between"},
      {"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n", "not allowed in an HTTP/1.0"},
      {"GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "not valid HTTP/1.1"},
  };
  for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
    fb_buf out = {0};
    exchange_to_close(cases[i].req, &out);
    if (!has(&out, "HTTP/1.1 400 ") || !has(&out, cases[i].reason))
      fail_msg("case %zu: want 400 \"%s\", got \"%.*s\"", i, cases[i].reason, (int)out.len, out.data);
    assert_true(has(&out, "connection: close\r\n"));
    fb_buf_free(&out);
  }
  assert_int_equal(rig.hits, 0);
}

static void test_not_http_is_closed_silently(void **state) {
  (void)state;
  fb_buf out = {0};
  exchange_to_close("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not a request line\r\n\r\n", &out);
  assert_int_equal(out.len, 0);
  exchange_to_close("HELLO\r\n\r\n", &out);
  assert_int_equal(out.len, 0);
  /* A request line with a broken version is HTTP/1.1-shaped: it gets its 400. */
  exchange_to_close("GET /hello HTTP/9\r\n\r\n", &out);
  assert_true(has(&out, "HTTP/1.1 400 "));
  fb_buf_free(&out);
}

static void test_pipelined_while_busy(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  /* A request waits while the one before it is answered, then is answered in turn. */
  rig_sends(&rig, fd, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  assert_true(rig_wait_hits(&rig, 1));
  assert_non_null(rig.held);
  for (int i = 0; i < 5; i++) rig_turn(&rig, -1, 1);
  assert_int_equal(rig.hits, 1);
  rig_release(&rig);
  assert_true(rig_read_until(&rig, fd, &out, "\r\n\r\nhello"));
  fb_buf_putc(&out, '\0');
  assert_true(strstr(out.data, "held") < strstr(out.data, "hello"));
  fb_buf_free(&out);
  close(fd);
}

static void test_pipelined_bytes_bounded(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  rig_sends(&rig, fd, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  assert_true(rig_wait_hits(&rig, 1));
  assert_non_null(rig.held);
  /* While the handler works, at most limits.header + limits.body bytes may wait. */
  char junk[2048];
  memset(junk, 'j', sizeof junk);
  for (int i = 0; i < 2; i++) rig_send(&rig, fd, junk, sizeof junk);
  assert_int_equal(fb_server_open_connections(rig.srv), 1);
  for (int i = 0; i < 2; i++) rig_send(&rig, fd, junk, sizeof junk);
  fb_buf out = {0};
  assert_true(rig_read_to_eof(&rig, fd, &out));
  assert_int_equal(rig.aborted, 1); /* the handler was told its client is gone */
  assert_null(rig.held);
  fb_buf_free(&out);
  close(fd);
}

static bool parked(net_rig *r, void *arg) {
  (void)arg;
  net_conn *c = rig_conn(r);
  return c && c->h1 && net_h1_parked(c->h1);
}

static void test_pipeline_parks_for_slow_reader(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 4096);
  enum { N = 16 };
  fb_buf reqs = {0};
  for (int i = 0; i < N; i++) fb_buf_puts(&reqs, "GET /big?n=262144 HTTP/1.1\r\nHost: t\r\n\r\n");
  rig_send(&rig, fd, reqs.data, reqs.len);
  fb_buf_free(&reqs);
  /* The client reads nothing: the server stops parsing once answers pile up. */
  assert_true(rig_wait(&rig, parked, NULL));
  assert_true(rig.hits < N);
  assert_true(rig_conn(&rig)->read_stopped);
  fb_buf out = {0};
  while (rig_count(out.data, out.len, "HTTP/1.1 200") < N) assert_false(rig_read_some(&rig, fd, &out));
  assert_int_equal(rig.hits, N);
  assert_false(parked(&rig, NULL));
  fb_buf_free(&out);
  close(fd);
}

static void short_header_timeout(fb_limits *lim) {
  lim->header_timeout_ms = 150;
  lim->idle_timeout_ms = lim->send_timeout_ms = 10 * RIG_WAIT_MS; /* out of reach */
}

static void test_header_timeout(void **state) {
  (void)state;
  rig_restart(short_header_timeout);
  int fd = rig_connect(&rig, 0);
  double t0 = fb_now_ms();
  rig_sends(&rig, fd, "GET /hello HTTP/1.1\r\nHost:");
  fb_buf out = {0};
  assert_true(rig_read_to_eof(&rig, fd, &out));
  assert_true(fb_now_ms() - t0 >= 140);
  assert_int_equal(out.len, 0);
  assert_int_equal(rig.hits, 0);
  fb_buf_free(&out);
  close(fd);
}

static void test_send_timeout(void **state) {
  (void)state;
  rig_restart(rig_tune_send_timeout);
  int fd = rig_connect(&rig, 4096);
  double t0 = fb_now_ms();
  rig_sends(&rig, fd, "GET /big?n=16777216 HTTP/1.1\r\nHost: t\r\n\r\n");
  assert_true(rig_wait_hits(&rig, 1));
  assert_true(rig_conn(&rig)->write_queue > 0); /* the kernel cannot take 16 MiB */
  assert_true(rig_wait(&rig, rig_no_connections, NULL));
  assert_true(fb_now_ms() - t0 >= 190);
  close(fd);
}

/* 1 s: longer than a loaded machine (ASan, other jobs) starves this process between two
 * reads, short enough for the paced transfer below to outlive it twice. */
#define PACED_TIMEOUT_MS 1000
static void paced_send_timeout(fb_limits *lim) {
  rig_tune_send_timeout(lim);
  lim->send_timeout_ms = PACED_TIMEOUT_MS;
}

static void test_send_timeout_spares_a_reader(void **state) {
  (void)state;
  rig_restart(paced_send_timeout);
  int fd = rig_connect(&rig, 4096);
  rig_sends(&rig, fd, "GET /big?n=16777216 HTTP/1.1\r\nHost: t\r\n\r\n");
  /* A slow but steady reader: 256 KiB, then 50 ms without reading. 16 MiB is more than
   * the kernel's buffers hold, so the server's one write for it stays pending in libuv
   * for the whole transfer; the bytes leaving its queue are progress, which re-arms the
   * send timeout: the transfer outlives the timeout and still completes. */
  fb_buf out = {0};
  double t0 = fb_now_ms();
  while (out.len < 16777216) {
    assert_false(rig_read_at_most(&rig, fd, &out, 262144));
    double resume = fb_now_ms() + 50;
    while (fb_now_ms() < resume) rig_turn(&rig, -1, 5);
  }
  print_message("paced transfer: %.0f ms\n", fb_now_ms() - t0);
  assert_true(fb_now_ms() - t0 > 2 * PACED_TIMEOUT_MS);
  assert_int_equal(fb_server_open_connections(rig.srv), 1);
  fb_buf_free(&out);
  close(fd);
}

#define T(test) cmocka_unit_test_setup_teardown(test, rig_setup, rig_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_keep_alive),
      T(test_connection_close),
      T(test_pipelined_in_order),
      T(test_bodies),
      T(test_expect_continue),
      T(test_head_has_no_body),
      T(test_header_block_too_large),
      T(test_header_block_at_limit),
      T(test_body_too_large),
      T(test_malformed_requests),
      T(test_not_http_is_closed_silently),
      T(test_pipelined_while_busy),
      T(test_pipelined_bytes_bounded),
      T(test_pipeline_parks_for_slow_reader),
      T(test_header_timeout),
      T(test_send_timeout),
      T(test_send_timeout_spares_a_reader),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
