/* Internals of the net module shared by server.c, conn.c, tls.c, http1.c, http2.c and
 * request.c. Nothing outside broker/net includes this. */
#ifndef FB_NET_INTERNAL_H
#define FB_NET_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config/config.h"
#include "core/keymap.h"
#include "core/metrics.h"
#include "core/util.h"
#include "net/request.h"
#include "net/router.h"
#include "net/server.h"

typedef struct net_conn net_conn;
typedef struct net_h1 net_h1;
typedef struct net_h2 net_h2;

typedef struct listener {
  uv_tcp_t tcp;
  fb_server *srv;
  const fb_listen_config *cfg;
  SSL_CTX *ssl_ctx;          /* NULL for cleartext */
  int port;
} listener;

/* What the limits count across the whole process: with several workers each has a
 * server of its own, and they share the first one's totals. Connections are read and
 * written without the hub lock (core/hublock.h), so the counts are atomic and the
 * per-address map has a mutex of its own. */
typedef struct net_totals {
  uv_mutex_t mu;             /* per_addr */
  fb_keymap *per_addr;       /* client address -> open connections (uint32_t) */
  atomic_size_t nconns;      /* open connections, every worker */
  atomic_size_t nrequests;   /* requests in handlers, every worker */
  atomic_size_t out_bytes;   /* unsent response bytes held by open connections */
  atomic_uint refs;          /* servers using these totals */
} net_totals;

/* The totals' counts: relaxed, since each is a number compared with a limit, never a
 * guard for other memory. A negative delta wraps (size_t), as it always did. */
static inline size_t net_tot_get(const atomic_size_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }
static inline size_t net_tot_add(atomic_size_t *v, size_t d) {
  return atomic_fetch_add_explicit(v, d, memory_order_relaxed) + d;
}
static inline void net_tot_sub(atomic_size_t *v, size_t d) { atomic_fetch_sub_explicit(v, d, memory_order_relaxed); }

struct fb_server {
  uv_loop_t *loop;
  const fb_config *cfg;
  const fb_router *router;
  listener *listeners;
  size_t nlisteners;
  size_t open_listeners;
  net_conn *conns;            /* doubly-linked list of open connections */
  size_t nconns;
  size_t nrequests;          /* requests handed to handlers and not yet finished */
  bool stopping;
  uv_check_t flush;          /* after each loop iteration's I/O: send queued HTTP/2 frames */
  bool flush_started;
  net_conn *flush_head;       /* connections with frames to send (via flush_next) */
  fb_buf send_gather;         /* HTTP/2 frames gathered for one write (http2.c h2_send) */
  bool gathering;
  uv_timer_t grace_timer;
  void (*done)(void *);
  void *done_data;
  net_totals *tot;        /* process-wide counts for the limits */
  unsigned worker;           /* which worker's server (0: the main loop's) */
  fb_series *m_accepted;     /* connections accepted by this worker */
  fb_series *m_refused_cap, *m_refused_per_client, *m_stalled, *m_shed, *m_calm;
};

enum { PROTO_UNKNOWN = 0, PROTO_H1 = 1, PROTO_H2 = 2 };

struct net_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;          /* header / idle timeout */
  uv_timer_t stall;          /* send timeout: runs while output waits and makes no progress */
  fb_server *srv;
  listener *lst;
  SSL *ssl;                  /* TLS through memory BIOs; NULL when cleartext */
  BIO *rbio, *wbio;
  bool handshake_done;
  int proto;
  net_h1 *h1;
  net_h2 *h2;
  char sniff[24];            /* first bytes, to tell the HTTP/2 preface from HTTP/1.1 */
  size_t nsniff;
  bool closing;
  bool read_stopped;
  bool close_when_drained;   /* close once the write queue is empty */
  bool flush_queued;         /* on srv->flush_head */
  net_conn *flush_next;
  int handles_open;
  size_t write_queue;        /* bytes handed to uv_write and not yet written */
  size_t stall_mark;         /* libuv's unwritten bytes when the send timer was armed */
  size_t held;               /* HTTP/2 response bytes not yet taken by nghttp2 */
  bool alpn_h2;              /* TLS chose h2: the preface is required, HTTP/1.1 is refused */
  unsigned char addr_key[16];/* the client's address (IPv4 as IPv4-mapped IPv6) */
  bool addr_counted;         /* counted in srv->per_addr */
  char peer[64];
  net_conn *prev, *next;
};

/* Header block storage and parsed request line; shared by both protocols. */
struct fb_request {
  net_conn *conn;
  int version;               /* 1 or 2 */
  int32_t stream_id;         /* HTTP/2 */
  fb_buf strings;            /* NUL-separated storage for everything below */
  size_t method_off, path_off, query_off;
  size_t *hdr_offs;          /* pairs of offsets into strings: name, value */
  size_t nheaders, caphdrs;
  size_t header_bytes;
  fb_buf body;
  bool body_too_large, headers_too_large;
  bool has_method, has_path;  /* HTTP/2 pseudo-headers seen (in any order) */
  fb_abort_cb abort_cb;
  void *abort_data;
  const char *route;
  double start_ms;
  bool dispatched;
  /* response */
  int status;
  bool headers_sent;         /* response begun */
  bool wire_started;         /* HTTP/1.1: status line written */
  bool finished;             /* the last byte is queued */
  bool eof_sent;             /* HTTP/2: nghttp2 took the last byte (or there is no body) */
  bool streaming;
  bool close_after;          /* HTTP/1.1: close the connection after this response */
  fb_buf resp_headers;       /* "name\0value\0" pairs set by fb_response_header */
  fb_buf resp_body;          /* HTTP/2: data not yet taken by nghttp2 */
  size_t resp_off;
  fb_request *next;
};

/* request.c */
fb_request *net_request_new(net_conn *conn, int version);
void net_request_free(fb_request *req);
void net_request_set_line(fb_request *req, const char *method, size_t mlen, const char *target, size_t tlen);
void net_request_set_method(fb_request *req, const char *method, size_t mlen);
void net_request_set_target(fb_request *req, const char *target, size_t tlen);
void net_request_add_header(fb_request *req, const char *name, size_t nlen, const char *value, size_t vlen);
/* Hands the request to the router (counts it as active). */
void net_request_dispatch(fb_request *req);
/* Called by a protocol when the response has fully gone out or the client vanished. */
void net_request_complete(fb_request *req, bool aborted);
const char *net_status_text(int status);

/* conn.c */
void net_conn_accept(listener *lst);
void net_conn_write(net_conn *c, const void *data, size_t len);
/* Writes and empties `b`; on cleartext connections the buffer's memory is handed to
 * the write request instead of being copied. */
void net_conn_write_buf(net_conn *c, fb_buf *b);
/* Writes what the socket takes at once (when nothing is queued before it) and queues a
 * copy of the rest: `data` is the caller's again on return. Returns the bytes that went
 * out at once (progress: no write callback reports them). Plain TCP; through TLS as
 * net_conn_write (0). */
size_t net_conn_write_now(net_conn *c, char *data, size_t len);
void net_conn_close(net_conn *c);
/* Re-arms the connection timer: header timeout while a request is being read,
 * idle timeout while nothing is pending, stopped while a handler works. */
void net_conn_timer_header(net_conn *c);
void net_conn_timer_idle(net_conn *c);
void net_conn_timer_stop(net_conn *c);
/* Called when a request on this connection finished: during shutdown an idle
 * connection is closed. */
void net_conn_request_done(net_conn *c);
/* Re-evaluates the send timeout after output was queued or (progressed) written:
 * while a response waits to go out, the connection must make write progress at
 * least every limits.send_timeout or it is closed. */
void net_conn_output_changed(net_conn *c, bool progressed);
/* Counts HTTP/2 response bytes held for the connection (delta may be negative). */
void net_conn_hold(net_conn *c, long long delta);
/* Starts or stops reading from the socket as the write queue and the HTTP/1.1
 * pipelining state require. */
void net_conn_update_reading(net_conn *c);

/* server.c: finishes a stop once the last listener and connection are closed. */
void net_server_maybe_finish(fb_server *srv);
/* server.c: sends `c`'s pending HTTP/2 frames after this loop iteration's I/O, so the
 * answers completed in one iteration leave in one write. */
void net_server_queue_flush(fb_server *srv, net_conn *c);
void net_server_unqueue_flush(fb_server *srv, net_conn *c);
/* server.c: per-client-address connection counts. */
bool net_server_addr_acquire(fb_server *srv, net_conn *c);
void net_server_addr_release(fb_server *srv, net_conn *c);

/* tls.c */
SSL_CTX *net_tls_ctx_new(const fb_listen_config *cfg, char **err);
/* Feeds ciphertext; plaintext is delivered through net_conn_plaintext. -1: close. */
int net_tls_feed(net_conn *c, const char *data, size_t len);
int net_tls_write(net_conn *c, const void *data, size_t len);
void net_conn_plaintext(net_conn *c, const char *data, size_t len);
void net_conn_raw_write(net_conn *c, const void *data, size_t len);

/* http1.c */
net_h1 *net_h1_new(net_conn *c);
int net_h1_feed(net_h1 *h, const char *data, size_t len);
void net_h1_respond(fb_request *req, const char *data, size_t len, bool last);
void net_h1_free(net_h1 *h);
bool net_h1_busy(const net_h1 *h);
/* True while parsing of pipelined requests waits for earlier responses to drain. */
bool net_h1_parked(const net_h1 *h);
/* Called as the write queue drains: parses the waiting pipelined requests again. */
void net_h1_unpark(net_h1 *h);

/* http2.c */
net_h2 *net_h2_new(net_conn *c);
int net_h2_feed(net_h2 *h, const char *data, size_t len);
void net_h2_respond(fb_request *req, bool has_more);
void net_h2_goaway(net_h2 *h);
void net_h2_resume_send(net_h2 *h);
void net_h2_free(net_h2 *h);
bool net_h2_busy(const net_h2 *h);
/* True while a response has bytes that flow control (or the send queue) holds back. */
bool net_h2_output_blocked(const net_h2 *h);

#endif
