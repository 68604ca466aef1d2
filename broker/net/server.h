/* The listening side: one port serves HTTP/1.1 and HTTP/2 (prior knowledge, told apart
 * by the connection preface), optionally over TLS (ALPN h2 / http/1.1, TLS 1.2+,
 * optional or required client certificates). Limits protect against bad clients:
 * body size (413), header block (431 / stream reset), concurrent streams, a header
 * timeout (slowloris), an idle timeout and a connection cap. */
#ifndef FB_NET_SERVER_H
#define FB_NET_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "config/config.h"
#include "net/router.h"

typedef struct fb_server fb_server;

/* Binds every listener in cfg->listen (IPv4 "a.b.c.d:port", IPv6 "[::1]:port").
 * `cfg` and `router` must outlive the server. NULL with *err on failure. */
fb_server *fb_server_start(uv_loop_t *loop, const fb_config *cfg, const fb_router *router, char **err);

/* Several workers each run a server of their own on the same ports. */
typedef struct fb_server_options {
  const fb_server *share;    /* bind its ports and count limits with its totals (NULL: first) */
  bool reuseport;            /* SO_REUSEPORT on the listening sockets (every worker's server) */
  unsigned worker;           /* the worker's number, for the per-worker metrics */
} fb_server_options;

/* fb_server_start with options (NULL = defaults). A server that shares another's totals
 * must be stopped before that one. */
fb_server *fb_server_start_ex(uv_loop_t *loop, const fb_config *cfg, const fb_router *router,
                              const fb_server_options *opt, char **err);

/* The port actually bound by listener `i` (useful with port 0). */
int fb_server_port(const fb_server *srv, size_t i);

/* Graceful stop: close listeners, tell HTTP/2 clients GOAWAY, close idle connections,
 * let requests in flight finish for at most `grace_ms`, then close everything. `done`
 * runs when every handle is closed and the server is freed. */
void fb_server_stop(fb_server *srv, unsigned grace_ms, void (*done)(void *data), void *data);

size_t fb_server_open_connections(const fb_server *srv);
size_t fb_server_active_requests(const fb_server *srv);

#endif
