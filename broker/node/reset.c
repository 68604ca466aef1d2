/* --mode reset: a bare TCP listener that drops search connections with a TCP reset and
 * no answer, which fb_server cannot do (it always answers). So that tests can still
 * wait for the node and read its counters, it speaks just enough HTTP/1.1 to answer
 * GET /healthz and GET /stats (then closes), and counts a search once its body has
 * arrived, before resetting. Anything else (h2c preface, a TLS ClientHello, garbage,
 * a request over 64 KiB, a client silent for 10 s) is reset at once. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "node/internal.h"

#define MAX_REQUEST (64 * 1024)
#define IDLE_MS 10000

typedef struct rconn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  fb_node_reset *r;
  fb_buf in;
  int handles;               /* open handles of tcp and timer */
  bool closing;
  struct rconn *prev, *next;
} rconn;

struct fb_node_reset {
  uv_tcp_t tcp;
  fb_node *node;
  int port;
  bool listener_open;
  rconn *conns;
  void (*done)(void *);
  void *done_data;
};

typedef struct {
  uv_write_t w;
  rconn *c;
  size_t len;
  char data[];
} wreq;

static void maybe_done(fb_node_reset *r) {
  if (r->listener_open || r->conns || !r->done) return;
  void (*done)(void *) = r->done;
  void *data = r->done_data;
  free(r);
  done(data);
}

static void on_conn_handle_closed(uv_handle_t *h) {
  rconn *c = h->data;
  if (--c->handles > 0) return;
  fb_node_reset *r = c->r;
  if (c->prev) c->prev->next = c->next;
  else r->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  fb_buf_free(&c->in);
  free(c);
  maybe_done(r);
}

/* `reset`: RST instead of an orderly FIN. */
static void conn_close(rconn *c, bool reset) {
  if (c->closing) return;
  c->closing = true;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
  if (!reset || uv_tcp_close_reset(&c->tcp, on_conn_handle_closed) != 0)
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_written(uv_write_t *w, int status) {
  (void)status;
  wreq *wr = fb_container_of(w, wreq, w);
  conn_close(wr->c, false);
  free(wr);
}

static void answer(rconn *c, json_t *body) {
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  fb_buf b = {0};
  fb_buf_printf(&b,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
                "connection: close\r\n\r\n%s\n",
                strlen(text) + 1, text);
  free(text);
  wreq *wr = fb_xmalloc(sizeof *wr + b.len);
  wr->c = c;
  wr->len = b.len;
  memcpy(wr->data, b.data, b.len);
  fb_buf_free(&b);
  uv_read_stop((uv_stream_t *)&c->tcp);
  uv_buf_t buf = uv_buf_init(wr->data, (unsigned)wr->len);
  if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0) {
    free(wr);
    conn_close(c, true);
  }
}

/* Value of Content-Length in the header block [h, end), or 0. -1 when malformed. */
static long content_length(const char *h, const char *end) {
  static const char name[] = "\r\ncontent-length:";
  for (const char *p = h; p + sizeof name - 1 <= end; p++) {
    if (strncasecmp(p, name, sizeof name - 1) != 0) continue;
    char *stop;
    long v = strtol(p + sizeof name - 1, &stop, 10);
    return v < 0 || v > MAX_REQUEST ? -1 : v;
  }
  return 0;
}

/* Looks at what has arrived; answers, resets, or waits for more. */
static void examine(rconn *c) {
  const char *d = c->in.data;
  if (c->in.len == 0) return;
  if (d[0] < 'A' || d[0] > 'Z' || c->in.len > MAX_REQUEST) { /* not HTTP/1.1 */
    conn_close(c, true);
    return;
  }
  const char *hend = memmem(d, c->in.len, "\r\n\r\n", 4);
  if (!hend) return;
  const char *sp1 = memchr(d, ' ', (size_t)(hend - d));
  const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(hend - sp1 - 1)) : NULL;
  if (!sp2) {
    conn_close(c, true);
    return;
  }
  size_t mlen = (size_t)(sp1 - d), plen = (size_t)(sp2 - sp1 - 1);
  const char *path = sp1 + 1;
  bool get = mlen == 3 && memcmp(d, "GET", 3) == 0;
  if (get && plen == 8 && memcmp(path, "/healthz", 8) == 0) {
    answer(c, json_pack("{s:s}", "status", "ok"));
    return;
  }
  if (get && plen == 6 && memcmp(path, "/stats", 6) == 0) {
    answer(c, fb_node_stats_json(c->r->node));
    return;
  }
  bool search = mlen == 4 && memcmp(d, "POST", 4) == 0 &&
                ((plen == 7 && memcmp(path, "/search", 7) == 0) || (plen == 1 && path[0] == '/'));
  if (search) {
    long cl = content_length(d, hend + 2);
    const char *body = hend + 4;
    size_t have = c->in.len - (size_t)(body - d);
    if (cl >= 0 && have < (size_t)cl) return; /* the rest of the body is on its way */
    json_t *j = cl > 0 ? json_loadb(body, (size_t)cl, 0, NULL) : NULL;
    fb_node_count(c->r->node, j);
    json_decref(j);
    fb_debug("reset", "search request from a client: connection reset");
  }
  conn_close(c, true);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  rconn *c = h->data;
  fb_buf_reserve(&c->in, 16384);
  *buf = uv_buf_init(c->in.data + c->in.len, 16384);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  rconn *c = s->data;
  if (n < 0) {
    conn_close(c, false);
    return;
  }
  c->in.len += (size_t)n;
  c->in.data[c->in.len] = '\0';
  examine(c);
}

static void on_idle(uv_timer_t *t) { conn_close(t->data, true); }

static void on_connection(uv_stream_t *s, int status) {
  fb_node_reset *r = s->data;
  if (status < 0) return;
  rconn *c = fb_xcalloc(1, sizeof *c);
  c->r = r;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = r->conns;
  if (r->conns) r->conns->prev = c;
  r->conns = c;
  if (uv_accept(s, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c, false);
    return;
  }
  uv_timer_start(&c->timer, on_idle, IDLE_MS, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* "a.b.c.d:port", "[v6]:port", ":port", "localhost:port". */
static int parse_address(const char *addr, struct sockaddr_storage *ss) {
  char host[128];
  const char *colon;
  size_t hl;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':') return UV_EINVAL;
    hl = (size_t)(close - addr - 1);
    if (hl >= sizeof host) return UV_EINVAL;
    memcpy(host, addr + 1, hl);
    colon = close + 1;
  } else {
    colon = strrchr(addr, ':');
    if (!colon) return UV_EINVAL;
    hl = (size_t)(colon - addr);
    if (hl >= sizeof host) return UV_EINVAL;
    memcpy(host, addr, hl);
  }
  host[hl] = '\0';
  if (!host[0]) strcpy(host, "0.0.0.0");
  if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || colon[1] == '\0' || port < 0 || port > 65535) return UV_EINVAL;
  if (strchr(host, ':')) return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss);
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

int fb_node_reset_start(fb_node *node, const char *address, fb_node_reset **out, char **err) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  int rc = parse_address(address, &ss);
  if (rc != 0) {
    fb_set_error(err, "cannot listen on %s: %s", address, uv_strerror(rc));
    return -1;
  }
  fb_node_reset *r = fb_xcalloc(1, sizeof *r);
  r->node = node;
  uv_tcp_init(node->loop, &r->tcp);
  r->tcp.data = r;
  rc = uv_tcp_bind(&r->tcp, (struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&r->tcp, 1024, on_connection);
  if (rc != 0) {
    fb_set_error(err, "cannot listen on %s: %s", address, uv_strerror(rc));
    uv_close((uv_handle_t *)&r->tcp, NULL);
    uv_run(node->loop, UV_RUN_NOWAIT); /* lets the close finish before we free */
    free(r);
    return -1;
  }
  struct sockaddr_storage bound;
  int bl = sizeof bound;
  uv_tcp_getsockname(&r->tcp, (struct sockaddr *)&bound, &bl);
  r->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                               : ((struct sockaddr_in *)&bound)->sin_port);
  r->listener_open = true;
  if (node->opt.tls_cert)
    fb_warn("reset_tls", "mode reset speaks no TLS: every TLS handshake is reset");
  fb_info("listen", "listening on %s (port %d, mode reset: searches get a TCP reset)", address, r->port);
  *out = r;
  return 0;
}

int fb_node_reset_port(const fb_node_reset *r) { return r->port; }

static void on_listener_closed(uv_handle_t *h) {
  fb_node_reset *r = h->data;
  r->listener_open = false;
  maybe_done(r);
}

void fb_node_reset_stop(fb_node_reset *r, void (*done)(void *data), void *data) {
  r->done = done;
  r->done_data = data;
  uv_close((uv_handle_t *)&r->tcp, on_listener_closed);
  for (rconn *c = r->conns; c; c = c->next) conn_close(c, true);
}
