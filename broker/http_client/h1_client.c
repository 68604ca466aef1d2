/* The HTTP/1.1 client's connections: pool, name resolution, connect, request writing,
 * timeouts, the one retry of a stale kept-alive connection. The answer itself is read
 * by h1_response.c. Contract in h1_client.h.
 *
 * A connection lives until the peer closes it, an answer says Connection: close, a
 * request on it fails, times out or is aborted (an answer could still be on its way),
 * or the client closes. An idle connection keeps reading (the peer closing it while
 * idle is seen at once, and costs no epoll_ctl per request) but is unreferenced, so it
 * keeps no loop alive. */
#include "http_client/h1_client.h"

#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hublock.h"
#include "http_client/h1_response.h"

#define READ_BUF 16384 /* headers and small bodies; a sized body is read into its own buffer */

typedef enum { C_RESOLVING, C_CONNECTING, C_BUSY, C_IDLE, C_CLOSING } conn_state;

typedef struct h1_conn h1_conn;

struct fb_h1_request {
  fb_h1_client *c;
  h1_conn *conn;
  char *body; /* borrowed; writev wants it non-const */
  size_t len;
  uint64_t deadline; /* uv_hrtime() */
  fb_transfer_done_cb cb;
  void *data;
  bool retried; /* sent once more after a stale connection: never again */
};

struct h1_conn {
  fb_h1_client *c;
  h1_conn *prev, *next;           /* the client's open connections */
  h1_conn *idle_prev, *idle_next; /* the client's idle ones, most recently used first */
  conn_state state;
  uv_tcp_t tcp;
  uv_timer_t timer;       /* the request's deadline, or 0 ms for a failure found in a call */
  uv_getaddrinfo_t gai;
  uv_connect_t connect;
  uv_write_t write;
  char *unsent;           /* the part of a request uv_try_write could not send */
  bool tcp_open, resolving;
  int pending;            /* handles and requests to come back before the free */
  fb_h1_request *req;
  fb_h1_response resp;
  bool got_bytes;         /* any byte of the current answer arrived */
  uint64_t served;        /* answers completed on this connection */
  struct sockaddr_storage *addrs;
  size_t naddrs, next_addr;
  const char *fail_reason; /* set with the timer at 0 ms: fail from the loop, not the call */
  char reason[192];
  char rbuf[READ_BUF];
};

struct fb_h1_client {
  uv_loop_t *loop;
  char *host, *prefix; /* prefix: the request up to Content-Length's value */
  size_t prefix_len;
  char *head;          /* scratch: prefix, length, blank line */
  char port_str[8];
  uint16_t port;
  uint64_t max_body;
  uint32_t dns_cache_ms;
  bool literal; /* host is an address: no resolution */
  struct sockaddr_storage literal_addr;
  struct sockaddr_storage *cache; /* resolved addresses (dns_cache_ms > 0) */
  size_t ncache;
  uint64_t cache_at;
  h1_conn *conns, *idle;
  size_t nconns;
  size_t allocated; /* connections not yet freed, closing ones included */
  uint64_t opened;
  bool closing;
  void (*closed)(void *);
  void *closed_data;
};

static void conn_close(h1_conn *conn);
static void conn_start(h1_conn *conn);
static h1_conn *conn_new(fb_h1_client *c);
static void conn_assign(h1_conn *conn, fb_h1_request *r);
static void timer_cb(uv_timer_t *t);

/* ---- freeing ---- */

static void client_free(fb_h1_client *c) {
  void (*closed)(void *) = c->closed;
  void *data = c->closed_data;
  free(c->host);
  explicit_bzero(c->prefix, c->prefix_len); /* may hold a bearer token */
  explicit_bzero(c->head, c->prefix_len);
  free(c->prefix);
  free(c->head);
  free(c->cache);
  free(c);
  if (closed) closed(data);
}

static void conn_unpend(h1_conn *conn) {
  if (--conn->pending > 0) return;
  fb_h1_client *c = conn->c;
  fb_h1_response_free(&conn->resp);
  free(conn->unsent);
  free(conn->addrs);
  free(conn);
  if (--c->allocated == 0 && c->closing) client_free(c);
}

static void handle_closed_cb(uv_handle_t *h) { conn_unpend(h->data); }

static void idle_remove(h1_conn *conn) {
  fb_h1_client *c = conn->c;
  if (conn->idle_prev) conn->idle_prev->idle_next = conn->idle_next;
  else c->idle = conn->idle_next;
  if (conn->idle_next) conn->idle_next->idle_prev = conn->idle_prev;
  conn->idle_prev = conn->idle_next = NULL;
}

/* Closes the connection (its request, if any, must be detached already); freed once
 * its handles and its name look-up came back. */
static void conn_close(h1_conn *conn) {
  if (conn->state == C_CLOSING) return;
  fb_h1_client *c = conn->c;
  if (conn->state == C_IDLE) idle_remove(conn);
  if (conn->prev) conn->prev->next = conn->next;
  else c->conns = conn->next;
  if (conn->next) conn->next->prev = conn->prev;
  c->nconns--;
  conn->state = C_CLOSING;
  conn->pending = 1; /* this function's own, let go at the end */
  conn->pending++;
  uv_close((uv_handle_t *)&conn->timer, handle_closed_cb);
  if (conn->tcp_open) {
    conn->pending++;
    uv_close((uv_handle_t *)&conn->tcp, handle_closed_cb); /* cancels a connect or write in flight */
  }
  if (conn->resolving) { /* gai_cb comes back (cancelled or not) and lets go */
    conn->pending++;
    uv_cancel((uv_req_t *)&conn->gai);
  }
  conn_unpend(conn);
}

/* ---- finishing a request ---- */

/* The request's end: its connection is kept idle or closed first, then the callback
 * (which may post, abort or close the client). */
static void finish(h1_conn *conn, fb_transfer_outcome outcome, const char *reason) {
  fb_h1_request *r = conn->req;
  fb_h1_client *c = conn->c;
  conn->req = NULL;
  r->conn = NULL;
  uv_timer_stop(&conn->timer);
  int status = outcome == FB_TRANSFER_ANSWERED ? conn->resp.status : 0;
  fb_buf body = {0};
  if (outcome == FB_TRANSFER_ANSWERED) {
    body = conn->resp.body;
    conn->resp.body = (fb_buf){0};
  }
  if (outcome == FB_TRANSFER_ANSWERED && conn->resp.keep_alive && !conn->resp.extra && !c->closing) {
    fb_h1_response_free(&conn->resp);
    conn->served++;
    conn->state = C_IDLE;
    conn->idle_prev = NULL;
    conn->idle_next = c->idle;
    if (c->idle) c->idle->idle_prev = conn;
    c->idle = conn;
    uv_unref((uv_handle_t *)&conn->tcp);
  } else {
    conn_close(conn);
  }
  fb_transfer_done_cb cb = r->cb;
  void *data = r->data;
  free(r);
  cb(data, outcome, status, &body, reason);
  fb_buf_free(&body);
}

/* The request failed on this connection. Nothing of its answer arrived on a
 * connection that had served before: the peer closed it while idle (or just as the
 * request went out), so the request goes once more, on a fresh connection. */
static void fail(h1_conn *conn, const char *reason) {
  fb_h1_request *r = conn->req;
  if (!r) return;
  if (!conn->got_bytes && conn->served > 0 && !r->retried && !conn->c->closing) {
    r->retried = true;
    conn->req = NULL;
    r->conn = NULL;
    conn_close(conn);
    conn_assign(conn_new(conn->c), r);
    return;
  }
  finish(conn, FB_TRANSFER_FAILED, reason);
}

static void failf(h1_conn *conn, const char *what, int uverr) {
  snprintf(conn->reason, sizeof conn->reason, "%s: %s", what, uv_strerror(uverr));
  fail(conn, conn->reason);
}

/* A failure found inside fb_h1_post: the callback comes from the loop. */
static void fail_later(h1_conn *conn, const char *reason) {
  conn->fail_reason = reason;
  uv_timer_start(&conn->timer, timer_cb, 0, 0);
}

/* ---- the deadline ---- */

static void timer_cb(uv_timer_t *t) {
  h1_conn *conn = t->data;
  if (!conn->req) return;
  bool yielded = fb_hublock_yield();
  if (conn->fail_reason) {
    const char *reason = conn->fail_reason;
    conn->fail_reason = NULL;
    finish(conn, FB_TRANSFER_FAILED, reason);
  } else {
    uint64_t now = uv_hrtime();
    if (conn->req->deadline > now) /* the loop's clock ran behind: wait for the rest */
      uv_timer_start(&conn->timer, timer_cb, (conn->req->deadline - now + 999999) / 1000000, 0);
    else
      finish(conn, FB_TRANSFER_TIMEOUT, NULL);
  }
  fb_hublock_resume(yielded);
}

static void timer_arm(h1_conn *conn) {
  uint64_t now = uv_hrtime();
  uint64_t d = conn->req->deadline;
  uv_timer_start(&conn->timer, timer_cb, d > now ? (d - now + 999999) / 1000000 : 0, 0);
}

/* ---- reading the answer ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  h1_conn *conn = h->data;
  char *base;
  size_t len;
  if (conn->req && fb_h1_response_body_space(&conn->resp, &base, &len)) {
    *buf = uv_buf_init(base, (unsigned)(len > UINT32_MAX ? UINT32_MAX : len));
    return;
  }
  *buf = uv_buf_init(conn->rbuf, sizeof conn->rbuf);
}

static void on_state(h1_conn *conn, fb_h1r_state s) {
  switch (s) {
  case FB_H1R_MORE:
    return;
  case FB_H1R_DONE:
    finish(conn, FB_TRANSFER_ANSWERED, NULL);
    return;
  case FB_H1R_TOO_BIG:
    finish(conn, FB_TRANSFER_TOO_BIG, NULL);
    return;
  case FB_H1R_BAD:
    if (conn->got_bytes) {
      snprintf(conn->reason, sizeof conn->reason, "bad HTTP answer: %s", conn->resp.error);
      fail(conn, conn->reason);
    } else {
      fail(conn, conn->resp.error);
    }
    return;
  }
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  h1_conn *conn = s->data;
  if (nread == 0) return;
  bool yielded = fb_hublock_yield();
  if (conn->state == C_IDLE) { /* the peer closed it, or talks out of turn: not reusable */
    conn_close(conn);
  } else if (conn->state == C_BUSY && conn->req) {
    if (nread == UV_EOF) {
      on_state(conn, fb_h1_response_eof(&conn->resp));
    } else if (nread < 0) {
      failf(conn, conn->got_bytes ? "reading the answer" : "connection lost", (int)nread);
    } else {
      conn->got_bytes = true;
      on_state(conn, fb_h1_response_feed(&conn->resp, buf->base, (size_t)nread));
    }
  }
  fb_hublock_resume(yielded);
}

/* ---- sending the request ---- */

static void write_cb(uv_write_t *w, int status) {
  h1_conn *conn = w->data;
  free(conn->unsent);
  conn->unsent = NULL;
  if (status == 0 || status == UV_ECANCELED || conn->state != C_BUSY) return;
  bool yielded = fb_hublock_yield();
  failf(conn, "sending the request", status);
  fb_hublock_resume(yielded);
}

/* "<len>\r\n\r\n" (the Content-Length value ending the head) into `out` (room for 25
 * bytes): what sprintf's "%zu\r\n\r\n" wrote, without printf on every leg. */
static size_t put_content_length(char *out, size_t len) {
  char t[20], *d = t + sizeof t;
  do {
    *--d = (char)('0' + len % 10);
    len /= 10;
  } while (len);
  size_t n = (size_t)(t + sizeof t - d);
  memcpy(out, d, n);
  memcpy(out + n, "\r\n\r\n", 5); /* and its NUL, as sprintf left */
  return n + 4;
}

/* Headers and body with one writev; what the socket did not take goes out with
 * uv_write (rare: requests are small). */
static void send_request(h1_conn *conn) {
  fb_h1_client *c = conn->c;
  fb_h1_request *r = conn->req;
  fb_h1_response_init(&conn->resp, c->max_body);
  conn->got_bytes = false;
  conn->state = C_BUSY;
  size_t hlen = c->prefix_len + put_content_length(c->head + c->prefix_len, r->len);
  uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)hlen), uv_buf_init(r->body, (unsigned)r->len)};
  size_t total = hlen + r->len;
  int n = uv_try_write((uv_stream_t *)&conn->tcp, bufs, r->len ? 2 : 1);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) {
    failf(conn, "sending the request", n);
    return;
  }
  if ((size_t)n == total) return;
  size_t sent = (size_t)n, rest = total - sent;
  conn->unsent = fb_xmalloc(rest);
  size_t from_head = sent < hlen ? hlen - sent : 0;
  if (from_head) memcpy(conn->unsent, c->head + sent, from_head);
  memcpy(conn->unsent + from_head, r->body + (sent > hlen ? sent - hlen : 0), rest - from_head);
  uv_buf_t b = uv_buf_init(conn->unsent, (unsigned)rest);
  int rc = uv_write(&conn->write, (uv_stream_t *)&conn->tcp, &b, 1, write_cb);
  if (rc < 0) {
    free(conn->unsent);
    conn->unsent = NULL;
    failf(conn, "sending the request", rc);
  }
}

/* ---- connecting ---- */

static void connect_next(h1_conn *conn);

static void connect_cb(uv_connect_t *req, int status) {
  h1_conn *conn = req->data;
  if (status == UV_ECANCELED || conn->state != C_CONNECTING) return;
  bool yielded = fb_hublock_yield();
  if (status < 0) {
    if (conn->next_addr < conn->naddrs) { /* the name's next address, on a fresh connection */
      fb_h1_request *r = conn->req;
      h1_conn *next = conn_new(conn->c);
      next->addrs = conn->addrs;
      next->naddrs = conn->naddrs;
      next->next_addr = conn->next_addr;
      conn->addrs = NULL;
      conn->req = NULL;
      r->conn = NULL;
      conn_close(conn);
      next->req = r;
      r->conn = next;
      timer_arm(next);
      connect_next(next);
    } else {
      char what[128];
      snprintf(what, sizeof what, "cannot connect to %s port %u", conn->c->host, (unsigned)conn->c->port);
      failf(conn, what, status);
    }
  } else {
    int rc = uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb);
    if (rc < 0) failf(conn, "reading the answer", rc);
    else send_request(conn);
  }
  fb_hublock_resume(yielded);
}

/* Connects to the next address in conn->addrs. */
static void connect_next(h1_conn *conn) {
  conn->state = C_CONNECTING;
  const struct sockaddr *sa = (const struct sockaddr *)&conn->addrs[conn->next_addr++];
  int rc = uv_tcp_init(conn->c->loop, &conn->tcp);
  if (rc == 0) {
    conn->tcp_open = true;
    conn->tcp.data = conn;
    rc = uv_tcp_connect(&conn->connect, &conn->tcp, sa, connect_cb);
  }
  if (rc == 0) rc = uv_tcp_nodelay(&conn->tcp, 1); /* small requests: no Nagle wait */
  if (rc < 0) {
    snprintf(conn->reason, sizeof conn->reason, "cannot connect to %s port %u: %s", conn->c->host,
             (unsigned)conn->c->port, uv_strerror(rc));
    fail_later(conn, conn->reason);
  }
}

static void use_addresses(h1_conn *conn, const struct sockaddr_storage *addrs, size_t n) {
  conn->addrs = fb_xmalloc(n * sizeof *addrs);
  memcpy(conn->addrs, addrs, n * sizeof *addrs);
  conn->naddrs = n;
  conn->next_addr = 0;
  connect_next(conn);
}

static bool usable(const struct addrinfo *ai) {
  return (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) && ai->ai_addrlen <= sizeof(struct sockaddr_storage);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  h1_conn *conn = req->data;
  conn->resolving = false;
  if (conn->state == C_CLOSING) {
    if (res) uv_freeaddrinfo(res);
    conn_unpend(conn);
    return;
  }
  bool yielded = fb_hublock_yield();
  fb_h1_client *c = conn->c;
  size_t n = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) n += usable(ai);
  if (status < 0 || n == 0) {
    if (res) uv_freeaddrinfo(res);
    snprintf(conn->reason, sizeof conn->reason, "cannot resolve %s: %s", c->host,
             status < 0 ? uv_strerror(status) : "no address");
    fail(conn, conn->reason);
    fb_hublock_resume(yielded);
    return;
  }
  struct sockaddr_storage *addrs = fb_xcalloc(n, sizeof *addrs);
  size_t i = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    if (usable(ai)) memcpy(&addrs[i++], ai->ai_addr, ai->ai_addrlen);
  uv_freeaddrinfo(res);
  if (c->dns_cache_ms) {
    free(c->cache);
    c->cache = fb_xmalloc(n * sizeof *addrs);
    memcpy(c->cache, addrs, n * sizeof *addrs);
    c->ncache = n;
    c->cache_at = uv_hrtime();
  }
  use_addresses(conn, addrs, n);
  free(addrs);
  fb_hublock_resume(yielded);
}

/* A new connection's first step: the address, from the literal, the cache, or a
 * look-up off the loop. */
static void conn_start(h1_conn *conn) {
  fb_h1_client *c = conn->c;
  if (c->literal) {
    use_addresses(conn, &c->literal_addr, 1);
    return;
  }
  if (c->ncache && uv_hrtime() - c->cache_at < (uint64_t)c->dns_cache_ms * 1000000) {
    use_addresses(conn, c->cache, c->ncache);
    return;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  conn->state = C_RESOLVING;
  conn->gai.data = conn;
  int rc = uv_getaddrinfo(c->loop, &conn->gai, gai_cb, c->host, c->port_str, &hints);
  if (rc < 0) {
    snprintf(conn->reason, sizeof conn->reason, "cannot resolve %s: %s", c->host, uv_strerror(rc));
    fail_later(conn, conn->reason);
    return;
  }
  conn->resolving = true;
}

static h1_conn *conn_new(fb_h1_client *c) {
  h1_conn *conn = fb_xcalloc(1, sizeof *conn);
  conn->c = c;
  conn->state = C_RESOLVING;
  uv_timer_init(c->loop, &conn->timer);
  conn->timer.data = conn;
  conn->write.data = conn;
  conn->connect.data = conn;
  conn->next = c->conns;
  if (c->conns) c->conns->prev = conn;
  c->conns = conn;
  c->nconns++;
  c->allocated++;
  c->opened++;
  return conn;
}

/* Gives the request to the connection: sent now on an idle one, once connected on a
 * new one. */
static void conn_assign(h1_conn *conn, fb_h1_request *r) {
  conn->req = r;
  r->conn = conn;
  timer_arm(conn);
  if (conn->state == C_IDLE) {
    idle_remove(conn);
    uv_ref((uv_handle_t *)&conn->tcp);
    send_request(conn);
  } else {
    conn_start(conn);
  }
}

/* ---- the API ---- */

fb_h1_request *fb_h1_post(fb_h1_client *c, char *body, size_t len, uint32_t timeout_ms, fb_transfer_done_cb cb,
                          void *data) {
  if (c->closing || len > UINT32_MAX) return NULL;
  fb_h1_request *r = fb_xcalloc(1, sizeof *r);
  r->c = c;
  r->body = body;
  r->len = len;
  r->deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000;
  r->cb = cb;
  r->data = data;
  conn_assign(c->idle ? c->idle : conn_new(c), r);
  return r;
}

void fb_h1_abort(fb_h1_request *r) {
  if (!r) return;
  h1_conn *conn = r->conn;
  conn->req = NULL;
  free(r);
  uv_timer_stop(&conn->timer);
  conn_close(conn);
}

fb_h1_client *fb_h1_client_new(uv_loop_t *loop, const fb_h1_options *opts) {
  fb_h1_client *c = fb_xcalloc(1, sizeof *c);
  c->loop = loop;
  c->host = fb_xstrdup(opts->host);
  c->port = opts->port;
  snprintf(c->port_str, sizeof c->port_str, "%u", (unsigned)opts->port);
  c->max_body = opts->max_body;
  c->dns_cache_ms = opts->dns_cache_ms;
  struct sockaddr_in *in4 = (struct sockaddr_in *)&c->literal_addr;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->literal_addr;
  c->literal = uv_ip4_addr(c->host, c->port, in4) == 0 || uv_ip6_addr(c->host, c->port, in6) == 0;
  fb_buf p = {0};
  fb_buf_printf(&p, "POST %s HTTP/1.1\r\nHost: %s\r\n", opts->target, opts->host_header);
  if (opts->headers) fb_buf_puts(&p, opts->headers);
  fb_buf_puts(&p, "Content-Length: ");
  c->prefix_len = p.len;
  c->prefix = fb_buf_steal(&p);
  c->head = fb_xmalloc(c->prefix_len + 32);
  memcpy(c->head, c->prefix, c->prefix_len);
  return c;
}

void fb_h1_client_close(fb_h1_client *c, void (*closed)(void *), void *data) {
  c->closed = closed;
  c->closed_data = data;
  c->closing = true;
  while (c->conns) {
    h1_conn *conn = c->conns;
    if (conn->req) {
      conn->req->conn = NULL;
      free(conn->req);
      conn->req = NULL;
    }
    conn_close(conn);
  }
  if (c->allocated == 0) client_free(c);
}

uint64_t fb_h1_client_connections_opened(const fb_h1_client *c) { return c->opened; }
