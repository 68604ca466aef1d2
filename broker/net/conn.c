/* One accepted connection: reading, TLS, telling HTTP/2 from HTTP/1.1, writing with
 * a bounded queue, the header / idle timer and the send (stall) timer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hublock.h"
#include "core/log.h"
#include "net/internal.h"

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24
/* Reading pauses while more than this is queued for writing to a slow reader. */
#define WRITE_QUEUE_HIGH (1u << 20)
/* Handles per connection: the socket, the header/idle timer, the send timer. */
#define CONN_HANDLES 3

typedef struct {
  uv_write_t req;
  net_conn *conn;
  size_t len;
  char *owned;               /* a buffer handed over by net_conn_write_buf, or NULL */
  char data[];
} write_req;

static void on_handle_closed(uv_handle_t *h) {
  net_conn *c = h->data;
  if (--c->handles_open > 0) return;
  fb_server *srv = c->srv;
  net_server_unqueue_flush(srv, c);
  net_server_addr_release(srv, c);
  if (c->h1) net_h1_free(c->h1);
  if (c->h2) net_h2_free(c->h2);
  if (c->ssl) SSL_free(c->ssl); /* frees the BIOs too */
  free(c);
  srv->nconns--;
  net_tot_sub(&srv->tot->nconns, 1);
  net_server_maybe_finish(srv);
}

void net_conn_close(net_conn *c) {
  if (c->closing) return;
  /* From now on its buffers count against no limit: they go with the connection. */
  net_tot_sub(&c->srv->tot->out_bytes, c->write_queue + c->held);
  c->closing = true;
  /* Unlink first so protocol teardown (which aborts requests) sees a closing conn. */
  if (c->prev) c->prev->next = c->next;
  else c->srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  /* The sessions are freed in the close callback: this may run deep inside their own
   * parsing code, which must be able to return safely. */
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->stall, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void net_conn_hold(net_conn *c, long long delta) {
  c->held += (size_t)delta;
  if (!c->closing) net_tot_add(&c->srv->tot->out_bytes, (size_t)delta);
}

static size_t unwritten(net_conn *c) { return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp); }

static void on_stall(uv_timer_t *t) {
  net_conn *c = t->data;
  /* One large write completes (and reports progress) only at its end: bytes that left
   * libuv's queue since the timer was armed are progress too. */
  size_t left = unwritten(c);
  if (left < c->stall_mark) {
    c->stall_mark = left;
    uv_timer_start(&c->stall, on_stall, c->srv->cfg->limits.send_timeout_ms, 0);
    return;
  }
  fb_info("send_timeout", "closing %s: a response made no write progress for %u ms (%zu bytes waiting)", c->peer,
          c->srv->cfg->limits.send_timeout_ms, c->write_queue + c->held);
  fb_series_add(c->srv->m_stalled, 1);
  net_conn_close(c);
}

static bool output_pending(net_conn *c) {
  return c->write_queue > 0 || (c->h2 && net_h2_output_blocked(c->h2));
}

void net_conn_output_changed(net_conn *c, bool progressed) {
  if (c->closing) return;
  if (!output_pending(c)) {
    uv_timer_stop(&c->stall);
    return;
  }
  if (progressed || !uv_is_active((uv_handle_t *)&c->stall)) {
    c->stall_mark = unwritten(c);
    uv_timer_start(&c->stall, on_stall, c->srv->cfg->limits.send_timeout_ms, 0);
  }
}

static void on_timeout(uv_timer_t *t) {
  net_conn *c = t->data;
  fb_debug("conn_timeout", "closing %s after a timeout", c->peer);
  net_conn_close(c);
}

void net_conn_timer_header(net_conn *c) {
  if (c->closing) return;
  uv_timer_start(&c->timer, on_timeout, c->srv->cfg->limits.header_timeout_ms, 0);
}

void net_conn_timer_idle(net_conn *c) {
  if (c->closing) return;
  uv_timer_start(&c->timer, on_timeout, c->srv->cfg->limits.idle_timeout_ms, 0);
}

void net_conn_timer_stop(net_conn *c) {
  if (!c->closing) uv_timer_stop(&c->timer);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  /* One read buffer serves every connection of a loop: a read is parsed before the
   * next one starts. Per thread, since each worker's loop reads at the same time. */
  static _Thread_local char slab[65536];
  buf->base = slab;
  buf->len = sizeof slab;
}

void net_conn_update_reading(net_conn *c) {
  if (c->closing) return;
  bool stop = (c->h1 && net_h1_parked(c->h1)) ||
              c->write_queue > (c->read_stopped ? WRITE_QUEUE_HIGH / 2 : WRITE_QUEUE_HIGH);
  if (stop && !c->read_stopped) {
    c->read_stopped = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
  } else if (!stop && c->read_stopped) {
    c->read_stopped = false;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
}

static void on_written(uv_write_t *w, int status) {
  write_req *wr = fb_container_of(w, write_req, req);
  net_conn *c = wr->conn;
  c->write_queue -= wr->len;
  if (!c->closing) net_tot_sub(&c->srv->tot->out_bytes, wr->len);
  free(wr->owned);
  free(wr);
  if (c->closing) return;
  if (status < 0) {
    net_conn_close(c);
    return;
  }
  if (c->close_when_drained && c->write_queue == 0) {
    net_conn_close(c);
    return;
  }
  if (c->h1 && net_h1_parked(c->h1)) net_h1_unpark(c->h1);
  if (c->closing) return;
  net_conn_update_reading(c);
  if (c->h2) net_h2_resume_send(c->h2);
  net_conn_output_changed(c, true);
}

/* Queues `len` bytes at `base`; `wr` owns them (copied into it, or handed over). */
static void queue_write(net_conn *c, write_req *wr, char *base, size_t len) {
  wr->conn = c;
  wr->len = len;
  uv_buf_t b = uv_buf_init(base, (unsigned)len);
  c->write_queue += len;
  net_tot_add(&c->srv->tot->out_bytes, len);
  int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
  if (rc < 0) {
    c->write_queue -= len;
    net_tot_sub(&c->srv->tot->out_bytes, len);
    free(wr->owned);
    free(wr);
    net_conn_close(c);
    return;
  }
  net_conn_update_reading(c);
  net_conn_output_changed(c, false);
}

void net_conn_raw_write(net_conn *c, const void *data, size_t len) {
  if (c->closing || len == 0) return;
  write_req *wr = fb_xmalloc(sizeof *wr + len);
  wr->owned = NULL;
  memcpy(wr->data, data, len);
  queue_write(c, wr, wr->data, len);
}

size_t net_conn_write_now(net_conn *c, char *data, size_t len) {
  if (c->closing || len == 0) return 0;
  if (c->ssl) {
    net_conn_write(c, data, len);
    return 0;
  }
  size_t sent = 0;
  if (c->write_queue == 0) { /* nothing queued before it: the socket may take it now */
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      net_conn_close(c);
      return 0;
    }
    sent = (size_t)n;
  }
  net_conn_raw_write(c, data + sent, len - sent); /* the rest, copied: nothing when all went out */
  return sent;
}

void net_conn_write_buf(net_conn *c, fb_buf *b) {
  if (c->closing || b->len == 0) {
    fb_buf_reset(b);
    return;
  }
  if (c->ssl) { /* TLS copies through OpenSSL anyway */
    net_conn_write(c, b->data, b->len);
    fb_buf_reset(b);
    return;
  }
  write_req *wr = fb_xmalloc(sizeof *wr);
  size_t len = b->len;
  wr->owned = fb_buf_steal(b);
  queue_write(c, wr, wr->owned, len);
}

void net_conn_write(net_conn *c, const void *data, size_t len) {
  if (c->closing) return;
  if (c->ssl) {
    if (net_tls_write(c, data, len) != 0) net_conn_close(c);
  } else {
    net_conn_raw_write(c, data, len);
  }
}


static int start_proto(net_conn *c, int proto) {
  c->proto = proto;
  if (proto == PROTO_H2) {
    c->h2 = net_h2_new(c);
    return c->h2 ? 0 : -1;
  }
  c->h1 = net_h1_new(c);
  return 0;
}

/* Plain bytes from the socket or from TLS. */
void net_conn_plaintext(net_conn *c, const char *data, size_t len) {
  if (c->closing) return;
  if (c->proto == PROTO_UNKNOWN && c->alpn_h2) {
    /* TLS chose h2: nghttp2 checks the preface itself, and nothing else is served. */
    if (start_proto(c, PROTO_H2) != 0) {
      net_conn_close(c);
      return;
    }
  }
  if (c->proto == PROTO_UNKNOWN) {
    /* Compare what we have with the HTTP/2 preface; a difference in the first bytes
     * means HTTP/1.1, a difference after "PRI " a broken HTTP/2 preface. */
    size_t take = len < H2_PREFACE_LEN - c->nsniff ? len : H2_PREFACE_LEN - c->nsniff;
    memcpy(c->sniff + c->nsniff, data, take);
    c->nsniff += take;
    data += take;
    len -= take;
    if (memcmp(c->sniff, h2_preface, c->nsniff) != 0) {
      if (c->nsniff > 4 && memcmp(c->sniff, h2_preface, 4) == 0) {
        fb_debug("h2_bad_preface", "%s: invalid HTTP/2 connection preface; closing", c->peer);
        net_conn_close(c);
        return;
      }
      if (start_proto(c, PROTO_H1) != 0 || net_h1_feed(c->h1, c->sniff, c->nsniff) != 0) {
        net_conn_close(c);
        return;
      }
    } else if (c->nsniff == H2_PREFACE_LEN) {
      if (start_proto(c, PROTO_H2) != 0 || net_h2_feed(c->h2, c->sniff, c->nsniff) != 0) {
        net_conn_close(c);
        return;
      }
    } else {
      return; /* need more bytes to decide */
    }
    if (c->closing || len == 0) return;
  }
  int rc = c->proto == PROTO_H2 ? net_h2_feed(c->h2, data, len) : net_h1_feed(c->h1, data, len);
  if (rc != 0) net_conn_close(c);
}

/* TLS, HTTP/1.1 and nghttp2 work on this connection's own state and run without the
 * hub lock; a request's dispatch and an abort take it (request.c). */
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  net_conn *c = s->data;
  if (nread < 0) {
    net_conn_close(c);
    return;
  }
  if (nread == 0) return;
  bool yielded = fb_hublock_yield();
  if (c->ssl) {
    if (net_tls_feed(c, buf->base, (size_t)nread) != 0) net_conn_close(c);
  } else {
    net_conn_plaintext(c, buf->base, (size_t)nread);
  }
  fb_hublock_resume(yielded);
}

void net_conn_request_done(net_conn *c) {
  if (c->closing) return;
  if (c->srv->stopping) {
    bool busy = (c->h1 && net_h1_busy(c->h1)) || (c->h2 && net_h2_busy(c->h2));
    if (!busy && c->write_queue == 0) net_conn_close(c);
  }
}

void net_conn_accept(listener *lst) {
  fb_server *srv = lst->srv;
  net_conn *c = fb_xcalloc(1, sizeof *c);
  c->srv = srv;
  c->lst = lst;
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  uv_timer_init(srv->loop, &c->stall);
  c->tcp.data = c->timer.data = c->stall.data = c;
  c->handles_open = CONN_HANDLES;
  srv->nconns++;
  size_t total = net_tot_add(&srv->tot->nconns, 1);
  fb_series_add(srv->m_accepted, 1);
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  if (uv_accept((uv_stream_t *)&lst->tcp, (uv_stream_t *)&c->tcp) != 0) {
    net_conn_close(c);
    return;
  }
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
    char ip[48] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
      memcpy(c->addr_key, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
      c->addr_key[10] = c->addr_key[11] = 0xff; /* ::ffff:a.b.c.d */
      memcpy(c->addr_key + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
  }
  if (total > srv->cfg->limits.connections || srv->stopping) {
    fb_warn("conn_refused", "connection cap of %u reached; closing %s", srv->cfg->limits.connections, c->peer);
    fb_series_add(srv->m_refused_cap, 1);
    net_conn_close(c);
    return;
  }
  if (!net_server_addr_acquire(srv, c)) {
    /* One address must not fill the connection cap for everyone else. */
    fb_debug("conn_refused", "%s has %u connections open (limits.per_client); closing", c->peer,
             srv->cfg->limits.per_client);
    fb_series_add(srv->m_refused_per_client, 1);
    net_conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  if (lst->ssl_ctx) {
    c->ssl = SSL_new(lst->ssl_ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
      BIO_free(c->rbio);
      BIO_free(c->wbio);
      net_conn_close(c);
      return;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
  }
  net_conn_timer_header(c);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}
