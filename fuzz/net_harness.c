/* A real fb_server on loopback, fed through a real socket: the fuzz targets exercise
 * exactly what a client reaches (sniffing, TLS through memory BIOs, http-parser or
 * nghttp2, the request object, routing, answers, aborts) without depending on the
 * net module's internals. One connection per input: connect, send, half-close, then
 * run the loop until the server has closed the connection. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "common.h"
#include "config/config.h"
#include "core/util.h"
#include "net/request.h"
#include "net/router.h"
#include "net/server.h"

static uv_loop_t loop;
static fb_config cfg;
static fb_router *router;
static fb_server *srv;
static int ports[2];

static void h_json(fb_request *req, void *ctx) {
  (void)ctx;
  char q[64];
  json_t *o = json_pack("{s:s, s:s, s:s?}", "path", fb_request_path(req), "method", fb_request_method(req),
                        "q", fb_request_query_param(req, "q", q, sizeof q) ? q : NULL);
  fb_respond_json(req, 200, o);
}

static void h_echo(fb_request *req, void *ctx) {
  (void)ctx;
  size_t n;
  const char *b = fb_request_body(req, &n);
  fb_response_header(req, "x-echo", fb_request_header(req, "content-type") ? "typed" : "untyped");
  fb_respond(req, 200, "application/octet-stream", b, n);
}

static void h_stream(fb_request *req, void *ctx) {
  (void)ctx;
  fb_stream_begin(req, 200, "application/x-ndjson");
  for (int i = 0; i < 3; i++) fb_stream_write(req, "{\"n\":1}\n", 8);
  fb_stream_end(req);
}

/* Answers on a later loop iteration, unless the client went away first. */
typedef struct {
  uv_timer_t t;
  fb_request *req;
} later;

static void later_closed(uv_handle_t *h) { free(h->data); }
static void later_abort(fb_request *req, void *data) {
  (void)req;
  ((later *)data)->req = NULL;
}
static void later_fire(uv_timer_t *t) {
  later *l = t->data;
  if (l->req) {
    fb_request_set_abort(l->req, NULL, NULL);
    fb_respond_error(l->req, 429, "overloaded", "later", NULL);
  }
  uv_close((uv_handle_t *)&l->t, later_closed);
}
static void h_later(fb_request *req, void *ctx) {
  (void)ctx;
  later *l = fb_xcalloc(1, sizeof *l);
  l->req = req;
  l->t.data = l;
  uv_timer_init(&loop, &l->t);
  fb_request_set_abort(req, later_abort, l);
  uv_timer_start(&l->t, later_fire, 0, 0);
}

static void init(void) {
  char src[2048];
  snprintf(src, sizeof src,
           "listen = { { address = \"127.0.0.1:0\" },\n"
           "  { address = \"127.0.0.1:0\", tls = { cert = \"%s/fuzz/keys/server.pem\", key = \"%s/fuzz/keys/server.key\" } } }\n"
           "limits = { body = 65536 }\n",
           FB_SOURCE_DIR, FB_SOURCE_DIR);
  char *err = NULL;
  if (fb_config_load_string(src, strlen(src), "/tmp/hub.lua", &cfg, &err) != 0) {
    fprintf(stderr, "fuzz config: %s\n", err);
    abort();
  }
  uv_loop_init(&loop);
  router = fb_router_new();
  fb_router_add(router, "GET", "/healthz", h_json, NULL);
  fb_router_add(router, "GET", "/v1/states", h_json, NULL);
  fb_router_add(router, "POST", "/v1/search", h_echo, NULL);
  fb_router_add(router, "GET", "/stream", h_stream, NULL);
  fb_router_add(router, "GET", "/later", h_later, NULL);
  srv = fb_server_start(&loop, &cfg, router, &err);
  if (!srv) {
    fprintf(stderr, "fuzz server: %s\n", err);
    abort();
  }
  ports[0] = fb_server_port(srv, 0);
  ports[1] = fb_server_port(srv, 1);
}

/* Reads whatever the server sent; returns 1 once it closed its side. */
static int drain(int fd) {
  char buf[16384];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r > 0) continue;
    if (r == 0) return 1;
    return errno == EAGAIN || errno == EINTR ? 0 : 1;
  }
}

static void run_until(int fd, double limit_ms, int *closed) {
  double end = fb_now_ms() + limit_ms;
  while (fb_now_ms() < end) {
    uv_run(&loop, UV_RUN_NOWAIT);
    if (!*closed) *closed = drain(fd);
    if (*closed && fb_server_open_connections(srv) == 0) return;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 1);
  }
}

void fz_net_feed(const uint8_t *data, size_t len, int tls) {
  if (!srv) init();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[tls ? 1 : 0]),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  /* Closing with a reset leaves no TIME_WAIT behind: tens of thousands of inputs
   * would otherwise use up the ephemeral ports. */
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) abort();
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  /* Non-blocking, so libFuzzer's timer signal cannot cut the connect short (EINTR). */
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    int pr = -1;
    if (errno == EINPROGRESS || errno == EINTR) do pr = poll(&p, 1, 2000); while (pr < 0 && errno == EINTR);
    if (pr != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
      perror("fuzz: connect");
      abort();
    }
  }
  int closed = 0;
  size_t off = 0;
  double end = fb_now_ms() + 2000;
  while (off < len && !closed && fb_now_ms() < end) {
    ssize_t w = write(fd, data + off, len - off);
    if (w > 0) off += (size_t)w;
    else if (w < 0 && errno != EAGAIN && errno != EINTR) break; /* the server closed first */
    uv_run(&loop, UV_RUN_NOWAIT);
    closed = drain(fd);
  }
  shutdown(fd, SHUT_WR);
  run_until(fd, 2000, &closed);
  close(fd);
  /* Whatever the server was waiting for, a client that left must not leave a
   * connection behind. */
  closed = 1;
  run_until(fd, 2000, &closed);
  if (fb_server_open_connections(srv) != 0) {
    fprintf(stderr, "fuzz: the server kept a connection after its client left\n");
    abort();
  }
}
