/* HTTP/2 sessions (broker/net/http2.c, conn.c) driven in-process through the rig
 * (rig.h): the connection preface, the server's SETTINGS, requests and bodies on
 * streams, the limits answered per stream (431, 413), a stream reset by the client, the
 * control-frame flood limit (GOAWAY ENHANCE_YOUR_CALM), stream ids going backwards
 * (GOAWAY PROTOCOL_ERROR), the send timeout under flow control and GOAWAY on a graceful
 * stop. Requests go out through an nghttp2 client session; frames that break the rules
 * are written byte by byte, and the server's frames are then read with frame_find. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "rig.h"

/* ---- a client on nghttp2 ------------------------------------------------------------ */

#define MAX_STREAM 64

typedef struct {
  int status;
  fb_buf body;
  bool closed;
  uint32_t close_code;
} h2_stream;

typedef struct {
  int fd;
  nghttp2_session *s;
  h2_stream st[MAX_STREAM];
  bool goaway;
  uint32_t goaway_code;
  bool settings;           /* the server's SETTINGS arrived */
  bool eof;
  const char *send_body;   /* POST body for h2c_post */
  size_t send_len, send_off;
} h2c;

static h2_stream *stream_of(h2c *c, int32_t id) {
  assert_true(id > 0 && id < MAX_STREAM);
  return &c->st[id];
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud) {
  (void)s;
  (void)flags;
  (void)vlen;
  if (nlen == 7 && memcmp(name, ":status", 7) == 0)
    stream_of(ud, f->hd.stream_id)->status = atoi((const char *)value);
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud) {
  (void)s;
  (void)flags;
  fb_buf_append(&stream_of(ud, id)->body, data, len);
  return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  (void)s;
  h2c *c = ud;
  if (f->hd.type == NGHTTP2_GOAWAY) {
    c->goaway = true;
    c->goaway_code = f->goaway.error_code;
  }
  if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) c->settings = true;
  return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud) {
  (void)s;
  h2_stream *st = stream_of(ud, id);
  st->closed = true;
  st->close_code = code;
  return 0;
}

static void h2c_flush(h2c *c) {
  const uint8_t *data;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(c->s, &data)) > 0) rig_send(&rig, c->fd, data, (size_t)n);
  assert_true(n == 0);
}

static void h2c_open(h2c *c, int rcvbuf) {
  memset(c, 0, sizeof *c);
  c->fd = rig_connect(&rig, rcvbuf);
  nghttp2_session_callbacks *cbs;
  assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  assert_int_equal(nghttp2_session_client_new(&c->s, cbs, c), 0);
  nghttp2_session_callbacks_del(cbs);
  assert_int_equal(nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
  h2c_flush(c); /* the preface and SETTINGS */
}

static void h2c_close(h2c *c) {
  for (int i = 0; i < MAX_STREAM; i++) fb_buf_free(&c->st[i].body);
  nghttp2_session_del(c->s);
  close(c->fd);
}

/* Reads what arrived (at most `max` bytes) and hands it to the client session; answers
 * with its frames. */
static void h2c_pump_at_most(h2c *c, size_t max) {
  fb_buf in = {0};
  c->eof = rig_read_at_most(&rig, c->fd, &in, max) || c->eof;
  if (in.len) assert_int_equal(nghttp2_session_mem_recv(c->s, (const uint8_t *)in.data, in.len), (ssize_t)in.len);
  fb_buf_free(&in);
  if (!c->eof) h2c_flush(c);
}

static void h2c_pump(h2c *c) { h2c_pump_at_most(c, SIZE_MAX); }

#define NV(n, v) {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static ssize_t read_post(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *ud) {
  (void)s;
  (void)id;
  (void)src;
  h2c *c = ud;
  size_t n = c->send_len - c->send_off < length ? c->send_len - c->send_off : length;
  memcpy(buf, c->send_body + c->send_off, n);
  c->send_off += n;
  if (c->send_off == c->send_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* Submits a request; `hname`/`hvalue` add one header (may be NULL); `body` makes it a POST. */
static int32_t h2c_request(h2c *c, const char *path, const char *hname, const char *hvalue, const char *body,
                           size_t blen) {
  nghttp2_nv nva[5] = {NV(":method", body ? "POST" : "GET"), NV(":scheme", "http"), NV(":authority", "t"),
                       NV(":path", path)};
  size_t n = 4;
  if (hname) nva[n++] = (nghttp2_nv){(uint8_t *)(uintptr_t)hname, (uint8_t *)(uintptr_t)hvalue, strlen(hname),
                                     strlen(hvalue), NGHTTP2_NV_FLAG_NONE};
  c->send_body = body;
  c->send_len = blen;
  c->send_off = 0;
  nghttp2_data_provider prd = {.read_callback = read_post};
  int32_t id = nghttp2_submit_request(c->s, NULL, nva, n, body ? &prd : NULL, NULL);
  assert_true(id > 0);
  h2c_flush(c);
  return id;
}

/* Pumps until stream `id` closes; fails after RIG_WAIT_MS. */
static h2_stream *h2c_wait(h2c *c, int32_t id) {
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (!stream_of(c, id)->closed) {
    if (c->eof || fb_now_ms() > deadline) fail_msg("stream %d did not finish", id);
    h2c_pump(c);
  }
  return stream_of(c, id);
}

static bool body_is_big(const h2_stream *st, size_t n) {
  if (st->body.len != n) return false;
  for (size_t i = 0; i < n; i++)
    if (st->body.data[i] != rig_big_byte(i)) return false;
  return true;
}

static bool body_is(const h2_stream *st, const char *want) {
  return st->body.len == strlen(want) && memcmp(st->body.data, want, st->body.len) == 0;
}

/* ---- raw frames --------------------------------------------------------------------- */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void frame(fb_buf *b, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, uint32_t len) {
  uint8_t hd[9] = {(uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags,
                   (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream};
  fb_buf_append(b, hd, sizeof hd);
  if (len) fb_buf_append(b, payload, len);
}

/* The server's frames in `in` (it sends no preface): the GOAWAY's error code, or -1. */
static long goaway_code(const fb_buf *in) {
  const uint8_t *p = (const uint8_t *)in->data;
  for (size_t off = 0; off + 9 <= in->len;) {
    size_t len = (size_t)p[off] << 16 | (size_t)p[off + 1] << 8 | p[off + 2];
    if (p[off + 3] == NGHTTP2_GOAWAY && off + 9 + 8 <= in->len) {
      const uint8_t *e = p + off + 9 + 4;
      return (long)((uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3]);
    }
    off += 9 + len;
  }
  return -1;
}

/* Sends `frames` after the preface and an empty SETTINGS on a new connection, reads until
 * the server closes it and returns the GOAWAY code it sent (-1: none). */
static long raw_session(const fb_buf *frames) {
  int fd = rig_connect(&rig, 0);
  fb_buf out = {0};
  fb_buf_append(&out, preface, sizeof preface - 1);
  frame(&out, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
  fb_buf_append(&out, frames->data, frames->len);
  rig_send(&rig, fd, out.data, out.len);
  fb_buf_reset(&out);
  assert_true(rig_read_to_eof(&rig, fd, &out));
  long code = goaway_code(&out);
  fb_buf_free(&out);
  close(fd);
  return code;
}

/* A HEADERS frame for GET /hello with END_STREAM, HPACK from the static table only. */
static void get_headers(fb_buf *b, uint32_t stream) {
  static const uint8_t block[] = {0x82, 0x86, 0x04, 0x06, '/', 'h', 'e', 'l', 'l', 'o', 0x01, 0x01, 't'};
  frame(b, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, stream, block, sizeof block);
}

static void window_updates(fb_buf *b, unsigned n) {
  static const uint8_t one[4] = {0, 0, 0, 1};
  for (unsigned i = 0; i < n; i++) frame(b, NGHTTP2_WINDOW_UPDATE, 0, 0, one, 4);
}

static void priorities(fb_buf *b, unsigned n) {
  static const uint8_t dep[5] = {0, 0, 0, 0, 16}; /* on stream 0, weight 17 */
  for (unsigned i = 0; i < n; i++) frame(b, NGHTTP2_PRIORITY, 0, 3, dep, 5);
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_request_and_settings(void **state) {
  (void)state;
  h2c c;
  h2c_open(&c, 0);
  int32_t a = h2c_request(&c, "/hello", NULL, NULL, NULL, 0);
  int32_t b = h2c_request(&c, "/big?n=70000", NULL, NULL, NULL, 0); /* over one flow-control window */
  h2_stream *sa = h2c_wait(&c, a), *sb = h2c_wait(&c, b);
  assert_int_equal(sa->status, 200);
  assert_true(body_is(sa, "hello"));
  assert_int_equal(sb->status, 200);
  assert_true(body_is_big(sb, 70000));
  assert_true(c.settings);
  assert_int_equal(nghttp2_session_get_remote_settings(c.s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 16);
  assert_int_equal(nghttp2_session_get_remote_settings(c.s, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE), 2048);
  assert_int_equal(nghttp2_session_get_remote_settings(c.s, NGHTTP2_SETTINGS_ENABLE_PUSH), 0);
  assert_int_equal(fb_server_open_connections(rig.srv), 1);
  h2c_close(&c);
}

static void test_post_body(void **state) {
  (void)state;
  h2c c;
  h2c_open(&c, 0);
  int32_t id = h2c_request(&c, "/echo", NULL, NULL, "over h2", 7);
  h2_stream *st = h2c_wait(&c, id);
  assert_int_equal(st->status, 200);
  assert_true(body_is(st, "over h2"));
  h2c_close(&c);
}

static void test_limits_per_stream(void **state) {
  (void)state;
  h2c c;
  h2c_open(&c, 0);
  char longv[3000];
  memset(longv, 'a', sizeof longv - 1);
  longv[sizeof longv - 1] = '\0';
  h2_stream *st = h2c_wait(&c, h2c_request(&c, "/hello", "x-long", longv, NULL, 0));
  assert_int_equal(st->status, 431);
  assert_non_null(memmem(st->body.data, st->body.len, "header_too_large", 16));
  static char body[5000];
  memset(body, 'b', sizeof body);
  st = h2c_wait(&c, h2c_request(&c, "/echo", NULL, NULL, body, sizeof body));
  assert_int_equal(st->status, 413);
  assert_non_null(memmem(st->body.data, st->body.len, "payload_too_large", 17));
  st = h2c_wait(&c, h2c_request(&c, "/echo", NULL, NULL, body, 4096)); /* exactly the limit */
  assert_int_equal(st->status, 200);
  assert_int_equal(st->body.len, 4096);
  assert_int_equal(rig.hits, 1); /* the refused ones never reached a handler */
  /* The connection outlives refused streams. */
  st = h2c_wait(&c, h2c_request(&c, "/hello", NULL, NULL, NULL, 0));
  assert_int_equal(st->status, 200);
  assert_false(c.goaway);
  h2c_close(&c);
}

static void test_stream_reset_aborts_handler(void **state) {
  (void)state;
  h2c c;
  h2c_open(&c, 0);
  int32_t id = h2c_request(&c, "/hold", NULL, NULL, NULL, 0);
  assert_true(rig_wait_hits(&rig, 1));
  assert_non_null(rig.held);
  assert_int_equal(fb_server_active_requests(rig.srv), 1);
  assert_int_equal(nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
  h2c_flush(&c);
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (rig.aborted == 0 && fb_now_ms() < deadline) rig_turn(&rig, -1, 5);
  assert_int_equal(rig.aborted, 1);
  assert_null(rig.held);
  assert_int_equal(fb_server_active_requests(rig.srv), 0);
  h2_stream *st = h2c_wait(&c, h2c_request(&c, "/hello", NULL, NULL, NULL, 0));
  assert_int_equal(st->status, 200);
  h2c_close(&c);
}

static void test_bad_preface_closes(void **state) {
  (void)state;
  int fd = rig_connect(&rig, 0);
  rig_sends(&rig, fd, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n");
  fb_buf out = {0};
  assert_true(rig_read_to_eof(&rig, fd, &out));
  assert_int_equal(out.len, 0);
  assert_int_equal(rig.hits, 0);
  fb_buf_free(&out);
  close(fd);
}

static void small_flood_limit(fb_limits *lim) { lim->control_frames = 20; }

static void test_flood_limit(void **state) {
  (void)state;
  rig_restart(small_flood_limit);
  /* Exactly limits.control_frames in a second pass and the request is answered. */
  h2c c;
  h2c_open(&c, 0);
  fb_buf frames = {0};
  window_updates(&frames, 10);
  priorities(&frames, 10);
  rig_send(&rig, c.fd, frames.data, frames.len);
  h2_stream *st = h2c_wait(&c, h2c_request(&c, "/hello", NULL, NULL, NULL, 0));
  assert_int_equal(st->status, 200);
  assert_false(c.goaway);
  h2c_close(&c);
  /* One more (of either kind) ends the connection with ENHANCE_YOUR_CALM. */
  fb_buf_reset(&frames);
  window_updates(&frames, 11);
  priorities(&frames, 10);
  assert_int_equal(raw_session(&frames), NGHTTP2_ENHANCE_YOUR_CALM);
  fb_buf_reset(&frames);
  window_updates(&frames, 10);
  priorities(&frames, 11);
  get_headers(&frames, 1);
  assert_int_equal(raw_session(&frames), NGHTTP2_ENHANCE_YOUR_CALM);
  fb_buf_free(&frames);
}

static void test_stream_ids_backwards(void **state) {
  (void)state;
  fb_buf frames = {0};
  get_headers(&frames, 5);
  get_headers(&frames, 3);
  assert_int_equal(raw_session(&frames), NGHTTP2_PROTOCOL_ERROR);
  fb_buf_reset(&frames);
  /* DATA on a stream id that was skipped (never opened). */
  get_headers(&frames, 5);
  frame(&frames, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 3, "x", 1);
  assert_int_equal(raw_session(&frames), NGHTTP2_PROTOCOL_ERROR);
  fb_buf_free(&frames);
}

static void test_send_timeout_under_flow_control(void **state) {
  (void)state;
  rig_restart(rig_tune_send_timeout);
  h2c c;
  h2c_open(&c, 0);
  double t0 = fb_now_ms();
  /* The client never opens its window: the server holds the rest and must give up. */
  h2c_request(&c, "/big?n=1048576", NULL, NULL, NULL, 0);
  assert_true(rig_wait_hits(&rig, 1));
  assert_true(rig_wait(&rig, rig_no_connections, NULL));
  assert_true(fb_now_ms() - t0 >= 190);
  h2c_close(&c);
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
  h2c c;
  h2c_open(&c, 0);
  int32_t id = h2c_request(&c, "/big?n=2097152", NULL, NULL, NULL, 0);
  /* A slow reader: 32 KiB, then 50 ms without reading. Its reads open the window and
   * let the server make progress, which re-arms the send timeout. */
  double t0 = fb_now_ms();
  while (!stream_of(&c, id)->closed) {
    if (c.eof || fb_now_ms() - t0 > 10 * RIG_WAIT_MS) fail_msg("the paced transfer did not finish");
    h2c_pump_at_most(&c, 32768);
    double resume = fb_now_ms() + 50;
    while (fb_now_ms() < resume) rig_turn(&rig, -1, 5);
  }
  print_message("paced transfer: %.0f ms\n", fb_now_ms() - t0);
  assert_true(fb_now_ms() - t0 > 2 * PACED_TIMEOUT_MS);
  assert_int_equal(stream_of(&c, id)->status, 200);
  assert_int_equal(stream_of(&c, id)->body.len, 2097152);
  assert_int_equal(fb_server_open_connections(rig.srv), 1);
  h2c_close(&c);
}

/* Answers whose DATA go out without nghttp2's copy (http2.c send_data): twelve streams of
 * 100,000 bytes to a client whose windows are wide open, so the server's output reaches
 * its high-water mark mid-frame-run and resumes after the socket drains; every body
 * arrives whole and in order. */
static void test_many_large_answers(void **state) {
  (void)state;
  h2c c;
  h2c_open(&c, 0);
  nghttp2_settings_entry wide = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24};
  assert_int_equal(nghttp2_submit_settings(c.s, NGHTTP2_FLAG_NONE, &wide, 1), 0);
  assert_int_equal(nghttp2_session_set_local_window_size(c.s, NGHTTP2_FLAG_NONE, 0, 1 << 26), 0);
  h2c_flush(&c);
  enum { N = 12, LEN = 100000 };
  int32_t id[N];
  for (int i = 0; i < N; i++) id[i] = h2c_request(&c, "/big?n=100000", NULL, NULL, NULL, 0);
  for (int i = 0; i < N; i++) {
    h2_stream *st = h2c_wait(&c, id[i]);
    assert_int_equal(st->status, 200);
    assert_true(body_is_big(st, LEN));
  }
  assert_int_equal(fb_server_open_connections(rig.srv), 1);
  h2c_close(&c);
}

static void test_goaway_on_stop(void **state) {
  (void)state;
  h2c c;
  h2c_open(&c, 0);
  h2_stream *st = h2c_wait(&c, h2c_request(&c, "/hello", NULL, NULL, NULL, 0));
  assert_int_equal(st->status, 200);
  rig_stop_begin(&rig);
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (!c.goaway && !c.eof && fb_now_ms() < deadline) h2c_pump(&c);
  assert_true(c.goaway);
  assert_int_equal(c.goaway_code, NGHTTP2_NO_ERROR);
  h2c_close(&c);
}

#define T(test) cmocka_unit_test_setup_teardown(test, rig_setup, rig_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_request_and_settings),
      T(test_post_body),
      T(test_limits_per_stream),
      T(test_stream_reset_aborts_handler),
      T(test_bad_preface_closes),
      T(test_flood_limit),
      T(test_stream_ids_backwards),
      T(test_send_timeout_under_flow_control),
      T(test_send_timeout_spares_a_reader),
      T(test_many_large_answers),
      T(test_goaway_on_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
