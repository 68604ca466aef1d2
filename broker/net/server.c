/* Listeners and the server's lifecycle: bind, accept, graceful stop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "core/hublock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/internal.h"

static void on_connection(uv_stream_t *s, int status) {
  listener *lst = s->data;
  if (status < 0) {
    fb_warn("accept_failed", "accept: %s", uv_strerror(status));
    return;
  }
  net_conn_accept(lst);
}

/* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:0", ":8080" (all IPv4 interfaces). */
static int parse_address(const char *addr, struct sockaddr_storage *ss) {
  char host[128];
  const char *colon;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof host) return UV_EINVAL;
    memcpy(host, addr + 1, (size_t)(close - addr - 1));
    host[close - addr - 1] = '\0';
    colon = close + 1;
  } else {
    colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) return UV_EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    if (!host[0]) strcpy(host, "0.0.0.0");
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || colon[1] == '\0') return UV_EINVAL;
  if (strchr(host, ':')) return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss);
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss);
}

static double open_connections(void *data) { return (double)net_tot_get(&((net_totals *)data)->nconns); }
static double active_requests(void *data) { return (double)net_tot_get(&((net_totals *)data)->nrequests); }
static double send_buffer_bytes(void *data) { return (double)net_tot_get(&((net_totals *)data)->out_bytes); }

bool net_server_addr_acquire(fb_server *srv, net_conn *c) {
  net_totals *t = srv->tot;
  bool ok = false;
  uv_mutex_lock(&t->mu);
  uint32_t *n = fb_keymap_get(t->per_addr, c->addr_key, sizeof c->addr_key, true);
  if (*n < srv->cfg->limits.per_client) {
    (*n)++;
    ok = true;
  } else if (*n == 0) {
    fb_keymap_del(t->per_addr, c->addr_key, sizeof c->addr_key);
  }
  uv_mutex_unlock(&t->mu);
  c->addr_counted = ok;
  return ok;
}

void net_server_addr_release(fb_server *srv, net_conn *c) {
  if (!c->addr_counted) return;
  c->addr_counted = false;
  net_totals *t = srv->tot;
  uv_mutex_lock(&t->mu);
  uint32_t *n = fb_keymap_get(t->per_addr, c->addr_key, sizeof c->addr_key, false);
  if (n && --*n == 0) fb_keymap_del(t->per_addr, c->addr_key, sizeof c->addr_key);
  uv_mutex_unlock(&t->mu);
}

/* Over limits.send_buffers of unsent responses in the whole process, the connections
 * holding the most are closed until the total is back under the limit: the clients
 * that do not read pay, not everyone. With several workers each closes its own
 * heaviest connections when it sees the process-wide total over the limit. */
static void shed_send_buffers(fb_server *srv) {
  size_t limit = srv->cfg->limits.send_buffers;
  while (net_tot_get(&srv->tot->out_bytes) > limit) {
    net_conn *worst = NULL;
    for (net_conn *c = srv->conns; c; c = c->next)
      if (!worst || c->write_queue + c->held > worst->write_queue + worst->held) worst = c;
    if (!worst || worst->write_queue + worst->held == 0) break;
    fb_warn("send_buffers_full", "%zu bytes of unsent responses (limits.send_buffers %zu): closing %s, which holds %zu",
            net_tot_get(&srv->tot->out_bytes), limit, worst->peer, worst->write_queue + worst->held);
    fb_series_add(srv->m_shed, 1);
    net_conn_close(worst);
  }
}

/* nghttp2 packs the frames and they are written without the hub lock: the sessions are
 * this loop's own (a stream that closes finishes its request under it, request.c). */
static void on_flush(uv_check_t *h) {
  fb_server *srv = h->data;
  net_conn *c = srv->flush_head;
  srv->flush_head = NULL;
  bool yielded = c ? fb_hublock_yield() : false;
  while (c) {
    net_conn *next = c->flush_next;
    c->flush_queued = false;
    c->flush_next = NULL;
    if (!c->closing && c->h2) net_h2_resume_send(c->h2);
    c = next;
  }
  if (net_tot_get(&srv->tot->out_bytes) > srv->cfg->limits.send_buffers) shed_send_buffers(srv);
  fb_hublock_resume(yielded);
}

void net_server_queue_flush(fb_server *srv, net_conn *c) {
  if (c->flush_queued || c->closing) return;
  if (!srv->flush_started) { /* no check handle (stopping): send now */
    if (c->h2) net_h2_resume_send(c->h2);
    return;
  }
  c->flush_queued = true;
  c->flush_next = srv->flush_head;
  srv->flush_head = c;
}

void net_server_unqueue_flush(fb_server *srv, net_conn *c) {
  if (!c->flush_queued) return;
  for (net_conn **p = &srv->flush_head; *p; p = &(*p)->flush_next)
    if (*p == c) {
      *p = c->flush_next;
      break;
    }
  c->flush_queued = false;
}

static void on_grace_closed(uv_handle_t *h) {
  fb_server *srv = h->data;
  void (*done)(void *) = srv->done;
  srv->done = NULL;
  if (done) done(srv->done_data);
}

void net_server_maybe_finish(fb_server *srv) {
  if (!srv->stopping || srv->open_listeners || srv->nconns || !srv->done) return;
  if (uv_is_closing((uv_handle_t *)&srv->grace_timer)) return;
  uv_timer_stop(&srv->grace_timer);
  uv_close((uv_handle_t *)&srv->grace_timer, on_grace_closed);
}

static void on_listener_closed(uv_handle_t *h) {
  listener *lst = h->data;
  lst->srv->open_listeners--;
  net_server_maybe_finish(lst->srv);
}

static void on_flush_closed(uv_handle_t *h) {
  fb_server *srv = h->data;
  srv->open_listeners--; /* counted with the listeners: the stop waits for it */
  net_server_maybe_finish(srv);
}

static void totals_release(net_totals *t) {
  if (atomic_fetch_sub(&t->refs, 1) > 1) return;
  fb_keymap_free(t->per_addr);
  uv_mutex_destroy(&t->mu);
  free(t);
}

static void free_server(void *data) {
  fb_server *srv = data;
  for (size_t i = 0; i < srv->nlisteners; i++)
    if (srv->listeners[i].ssl_ctx) SSL_CTX_free(srv->listeners[i].ssl_ctx);
  free(srv->listeners);
  totals_release(srv->tot);
  fb_buf_free(&srv->send_gather);
  free(srv);
}

/* A listening socket made by hand with SO_REUSEPORT (Debian's libuv has no flag for
 * it), so that each worker's loop has a socket of its own on the same port and the
 * kernel spreads the connections between them; handed to libuv with uv_tcp_open. */
static int bind_reuseport(uv_tcp_t *tcp, const struct sockaddr_storage *ss) {
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return uv_translate_sys_error(errno);
  int on = 1;
  socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      bind(fd, (const struct sockaddr *)ss, len) != 0) {
    int rc = uv_translate_sys_error(errno);
    close(fd);
    return rc;
  }
  int rc = uv_tcp_open(tcp, fd);
  if (rc != 0) close(fd);
  return rc;
}

fb_server *fb_server_start(uv_loop_t *loop, const fb_config *cfg, const fb_router *router, char **err) {
  return fb_server_start_ex(loop, cfg, router, NULL, err);
}

fb_server *fb_server_start_ex(uv_loop_t *loop, const fb_config *cfg, const fb_router *router,
                              const fb_server_options *opt, char **err) {
  static const fb_server_options defaults = {0};
  if (!opt) opt = &defaults;
  fb_server *srv = fb_xcalloc(1, sizeof *srv);
  srv->loop = loop;
  srv->cfg = cfg;
  srv->router = router;
  srv->worker = opt->worker;
  srv->listeners = fb_xcalloc(cfg->nlisten ? cfg->nlisten : 1, sizeof *srv->listeners);
  if (opt->share) {
    srv->tot = opt->share->tot;
  } else {
    srv->tot = fb_xcalloc(1, sizeof *srv->tot);
    uv_mutex_init(&srv->tot->mu);
    srv->tot->per_addr = fb_keymap_new(sizeof(uint32_t));
  }
  atomic_fetch_add(&srv->tot->refs, 1);
  uv_timer_init(loop, &srv->grace_timer);
  srv->grace_timer.data = srv;
  for (size_t i = 0; i < cfg->nlisten; i++) {
    const fb_listen_config *lc = &cfg->listen[i];
    listener *lst = &srv->listeners[i];
    lst->srv = srv;
    lst->cfg = lc;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = parse_address(lc->address, &ss);
    if (rc == 0 && opt->share) { /* the port the first worker bound (it may have been 0) */
      uint16_t port = htons((uint16_t)opt->share->listeners[i].port);
      if (ss.ss_family == AF_INET6) ((struct sockaddr_in6 *)&ss)->sin6_port = port;
      else ((struct sockaddr_in *)&ss)->sin_port = port;
    }
    if (rc == 0 && lc->tls) {
      lst->ssl_ctx = net_tls_ctx_new(lc, err);
      if (!lst->ssl_ctx) goto fail;
    }
    if (rc == 0) {
      uv_tcp_init(loop, &lst->tcp);
      lst->tcp.data = lst;
      srv->nlisteners++;
      srv->open_listeners++;
      rc = opt->reuseport ? bind_reuseport(&lst->tcp, &ss) : uv_tcp_bind(&lst->tcp, (struct sockaddr *)&ss, 0);
      if (rc == 0) rc = uv_listen((uv_stream_t *)&lst->tcp, 1024, on_connection);
    }
    if (rc != 0) {
      fb_set_error(err, "cannot listen on %s: %s", lc->address, uv_strerror(rc));
      goto fail;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    uv_tcp_getsockname(&lst->tcp, (struct sockaddr *)&bound, &bl);
    lst->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                   : ((struct sockaddr_in *)&bound)->sin_port);
    if (!opt->share)
      fb_info("listen", "listening on %s (port %d, %s)", lc->address, lst->port,
              lc->tls ? "TLS: h2 and http/1.1 by ALPN" : "cleartext: HTTP/1.1 and h2c");
  }
  uv_check_init(loop, &srv->flush);
  srv->flush.data = srv;
  uv_check_start(&srv->flush, on_flush);
  uv_unref((uv_handle_t *)&srv->flush); /* it must not keep the loop alive by itself */
  srv->flush_started = true;
  srv->open_listeners++;
  if (!opt->share) { /* process-wide: registered once, by the first worker */
    fb_metric_gauge_fn("fedbroker_open_connections", "Open client connections", NULL, open_connections, srv->tot);
    fb_metric_gauge_fn("fedbroker_requests_in_flight", "Requests being handled", NULL, active_requests, srv->tot);
    fb_metric_gauge_fn("fedbroker_send_buffer_bytes", "Unsent response bytes held for clients", NULL,
                       send_buffer_bytes, srv->tot);
  }
  char wl[32];
  snprintf(wl, sizeof wl, "worker=\"%u\"", opt->worker);
  srv->m_accepted = fb_metric(FB_METRIC_COUNTER, "fedbroker_worker_connections_total",
                              "Connections accepted, by event-loop worker (0 is the main loop)", wl);
  const char *refused = "fedbroker_connections_refused_total", *closed = "fedbroker_connections_closed_total";
  srv->m_refused_cap = fb_metric(FB_METRIC_COUNTER, refused, "Connections refused at accept", "reason=\"connections\"");
  srv->m_refused_per_client = fb_metric(FB_METRIC_COUNTER, refused, "Connections refused at accept",
                                        "reason=\"per_client\"");
  srv->m_stalled = fb_metric(FB_METRIC_COUNTER, closed, "Connections closed by a protection", "reason=\"send_timeout\"");
  srv->m_shed = fb_metric(FB_METRIC_COUNTER, closed, "Connections closed by a protection", "reason=\"send_buffers\"");
  srv->m_calm = fb_metric(FB_METRIC_COUNTER, closed, "Connections closed by a protection", "reason=\"control_frames\"");
  return srv;

fail:
  /* Close what was opened; the loop must run once more to release the handles. */
  srv->stopping = true;
  for (size_t i = 0; i < srv->nlisteners; i++) {
    srv->listeners[i].tcp.data = &srv->listeners[i];
    uv_close((uv_handle_t *)&srv->listeners[i].tcp, NULL);
  }
  uv_close((uv_handle_t *)&srv->grace_timer, NULL);
  for (size_t i = 0; i < cfg->nlisten; i++)
    if (srv->listeners[i].ssl_ctx) SSL_CTX_free(srv->listeners[i].ssl_ctx);
  uv_run(loop, UV_RUN_NOWAIT);
  free(srv->listeners);
  totals_release(srv->tot);
  free(srv);
  return NULL;
}

int fb_server_port(const fb_server *srv, size_t i) { return i < srv->nlisteners ? srv->listeners[i].port : -1; }
size_t fb_server_open_connections(const fb_server *srv) { return srv->nconns; }
size_t fb_server_active_requests(const fb_server *srv) { return srv->nrequests; }

static void on_grace_over(uv_timer_t *t) {
  fb_server *srv = t->data;
  fb_warn("shutdown_forced", "grace period over with %zu requests in flight; closing", srv->nrequests);
  while (srv->conns) net_conn_close(srv->conns);
}

typedef struct {
  void (*done)(void *);
  void *data;
  fb_server *srv;
} stop_ctx;

static void stop_done(void *data) {
  stop_ctx *sc = data;
  void (*done)(void *) = sc->done;
  void *d = sc->data;
  free_server(sc->srv);
  free(sc);
  if (done) done(d);
}

void fb_server_stop(fb_server *srv, unsigned grace_ms, void (*done)(void *data), void *data) {
  if (srv->stopping) return;
  srv->stopping = true;
  stop_ctx *sc = fb_xmalloc(sizeof *sc);
  sc->done = done;
  sc->data = data;
  sc->srv = srv;
  srv->done = stop_done;
  srv->done_data = sc;
  for (size_t i = 0; i < srv->nlisteners; i++) uv_close((uv_handle_t *)&srv->listeners[i].tcp, on_listener_closed);
  if (srv->flush_started) {
    on_flush(&srv->flush); /* what is queued goes out now */
    srv->flush_started = false;
    uv_close((uv_handle_t *)&srv->flush, on_flush_closed);
  }
  /* Idle connections go now; busy ones when their last request finishes. */
  net_conn *c = srv->conns;
  while (c) {
    net_conn *next = c->next;
    if (c->h2) net_h2_goaway(c->h2);
    bool busy = (c->h1 && net_h1_busy(c->h1)) || (c->h2 && net_h2_busy(c->h2));
    if (!busy) net_conn_close(c);
    c = next;
  }
  uv_timer_start(&srv->grace_timer, on_grace_over, grace_ms, 0);
  net_server_maybe_finish(srv);
}
