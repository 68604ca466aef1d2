/* The in-process server rig of rig.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rig.h"

net_rig rig;

int rig_setup(void **state) {
  (void)state;
  fb_limits lim;
  rig_default_limits(&lim);
  rig_start(&rig, &lim);
  return 0;
}

int rig_teardown(void **state) {
  (void)state;
  rig_stop(&rig);
  return 0;
}

void rig_restart(void (*tune)(fb_limits *lim)) {
  rig_stop(&rig);
  fb_limits lim;
  rig_default_limits(&lim);
  tune(&lim);
  rig_start(&rig, &lim);
}

void rig_tune_send_timeout(fb_limits *lim) {
  lim->send_timeout_ms = 200;
  lim->idle_timeout_ms = lim->header_timeout_ms = 10 * RIG_WAIT_MS;
}

bool rig_no_connections(net_rig *r, void *arg) {
  (void)arg;
  return fb_server_open_connections(r->srv) == 0;
}

void rig_default_limits(fb_limits *lim) {
  memset(lim, 0, sizeof *lim);
  lim->body = 4096;
  lim->header = 2048;
  lim->streams = 16;
  lim->connections = 64;
  lim->per_client = 64;
  lim->header_timeout_ms = 5000;
  lim->idle_timeout_ms = 5000;
  lim->send_timeout_ms = 5000;
  lim->send_buffers = (size_t)256 << 20;
  lim->control_frames = 5000;
}

static void on_hello(fb_request *req, void *ctx) {
  net_rig *r = ctx;
  r->hits++;
  fb_respond(req, 200, "text/plain", "hello", 5);
}

static void on_echo(fb_request *req, void *ctx) {
  net_rig *r = ctx;
  r->hits++;
  size_t len;
  const char *body = fb_request_body(req, &len);
  fb_respond(req, 200, "application/octet-stream", body, len);
}

char rig_big_byte(size_t i) { return (char)('!' + i % 89); }

static void on_big(fb_request *req, void *ctx) {
  net_rig *r = ctx;
  r->hits++;
  char n[32];
  size_t len = fb_request_query_param(req, "n", n, sizeof n) ? (size_t)strtoull(n, NULL, 10) : 0;
  char *body = fb_xmalloc(len ? len : 1);
  for (size_t i = 0; i < len; i++) body[i] = rig_big_byte(i);
  fb_respond(req, 200, "text/plain", body, len);
  free(body);
}

static void on_hold_abort(fb_request *req, void *data) {
  net_rig *r = data;
  assert_ptr_equal(req, r->held);
  r->held = NULL;
  r->aborted++;
}

static void on_hold(fb_request *req, void *ctx) {
  net_rig *r = ctx;
  r->hits++;
  assert_null(r->held);
  r->held = req;
  fb_request_set_abort(req, on_hold_abort, r);
}

void rig_release(net_rig *r) {
  assert_non_null(r->held);
  fb_request *req = r->held;
  r->held = NULL;
  fb_respond(req, 200, "text/plain", "held", 4);
}

void rig_start(net_rig *r, const fb_limits *lim) {
  memset(r, 0, sizeof *r);
  assert_int_equal(uv_loop_init(&r->loop), 0);
  r->listen.address = (char *)(uintptr_t) "127.0.0.1:0";
  r->cfg.listen = &r->listen;
  r->cfg.nlisten = 1;
  r->cfg.limits = *lim;
  r->router = fb_router_new();
  fb_router_add(r->router, "GET", "/hello", on_hello, r);
  fb_router_add(r->router, "POST", "/echo", on_echo, r);
  fb_router_add(r->router, "GET", "/big", on_big, r);
  fb_router_add(r->router, "GET", "/hold", on_hold, r);
  char *err = NULL;
  r->srv = fb_server_start(&r->loop, &r->cfg, r->router, &err);
  if (!r->srv) fail_msg("fb_server_start: %s", err ? err : "?");
  r->port = fb_server_port(r->srv, 0);
  assert_true(r->port > 0);
}

static void on_stopped(void *data) { *(bool *)data = true; }

static bool is_true(net_rig *r, void *arg) {
  (void)r;
  return *(bool *)arg;
}

void rig_stop_begin(net_rig *r) {
  if (r->stopping) return;
  r->stopping = true;
  if (r->held) rig_release(r);
  fb_server_stop(r->srv, 200, on_stopped, &r->stopped);
}

void rig_stop(net_rig *r) {
  rig_stop_begin(r);
  assert_true(rig_wait(r, is_true, &r->stopped));
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (uv_run(&r->loop, UV_RUN_NOWAIT) != 0)
    if (fb_now_ms() > deadline) fail_msg("handles still active %d ms after the server stopped", RIG_WAIT_MS);
  assert_int_equal(uv_loop_close(&r->loop), 0);
  fb_router_free(r->router);
}

int rig_connect(net_rig *r, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  if (rcvbuf > 0) assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)r->port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* The kernel completes the handshake from the listen backlog: no loop turn needed. */
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
  return fd;
}

void rig_turn(net_rig *r, int fd, int ms) {
  int t = uv_backend_timeout(&r->loop);
  if (t < 0 || t > ms) t = ms;
  struct pollfd p[2] = {{.fd = uv_backend_fd(&r->loop), .events = POLLIN}, {.fd = fd, .events = POLLIN}};
  (void)poll(p, fd >= 0 ? 2 : 1, t);
  uv_run(&r->loop, UV_RUN_NOWAIT);
}

void rig_send(net_rig *r, int fd, const void *data, size_t len) {
  const char *p = data;
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return; /* the server closed */
    if (fb_now_ms() > deadline) fail_msg("rig_send: the server read nothing for %d ms", RIG_WAIT_MS);
    rig_turn(r, -1, 5);
  }
  rig_turn(r, -1, 0);
}

void rig_sends(net_rig *r, int fd, const char *text) { rig_send(r, fd, text, strlen(text)); }

bool rig_read_at_most(net_rig *r, int fd, fb_buf *out, size_t max) {
  rig_turn(r, fd, 5);
  char tmp[65536];
  while (max > 0) {
    ssize_t n = recv(fd, tmp, max < sizeof tmp ? max : sizeof tmp, 0);
    if (n > 0) {
      fb_buf_append(out, tmp, (size_t)n);
      max -= (size_t)n;
      continue;
    }
    if (n == 0) return true;
    if (errno == EINTR) continue;
    return errno != EAGAIN && errno != EWOULDBLOCK; /* a reset ends the stream too */
  }
  return false;
}

bool rig_read_some(net_rig *r, int fd, fb_buf *out) { return rig_read_at_most(r, fd, out, SIZE_MAX); }

static bool contains(const fb_buf *b, const char *needle) {
  return b->len && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

bool rig_read_until(net_rig *r, int fd, fb_buf *out, const char *needle) {
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (!contains(out, needle)) {
    if (rig_read_some(r, fd, out)) return contains(out, needle);
    if (fb_now_ms() > deadline) fail_msg("no \"%s\" within %d ms", needle, RIG_WAIT_MS);
  }
  return true;
}

bool rig_read_to_eof(net_rig *r, int fd, fb_buf *out) {
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (!rig_read_some(r, fd, out))
    if (fb_now_ms() > deadline) return false;
  return true;
}

bool rig_wait(net_rig *r, bool (*cond)(net_rig *r, void *arg), void *arg) {
  double deadline = fb_now_ms() + RIG_WAIT_MS;
  while (!cond(r, arg)) {
    if (fb_now_ms() > deadline) return false;
    rig_turn(r, -1, 5);
  }
  return true;
}

static bool hits_reached(net_rig *r, void *arg) { return r->hits >= *(unsigned *)arg; }

bool rig_wait_hits(net_rig *r, unsigned n) { return rig_wait(r, hits_reached, &n); }

net_conn *rig_conn(net_rig *r) { return r->srv->conns; }

size_t rig_count(const char *hay, size_t len, const char *needle) {
  size_t n = 0, nl = strlen(needle);
  const char *end = hay + len;
  for (const char *p = hay; p && p < end; p += nl) {
    p = memmem(p, (size_t)(end - p), needle, nl);
    if (!p) break;
    n++;
  }
  return n;
}
