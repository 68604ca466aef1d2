/* fedbroker's own HTTP/1.1 client for one cleartext peer (an http:// national node):
 * the transport client.c uses when the URL is http:// and no proxy applies, in
 * place of libcurl, whose general machinery cost a leg more of the loop thread than
 * the request itself (issue 10).
 *
 * One fb_h1_client per peer (host, port, request target): a pool of keep-alive
 * connections, each carrying one request at a time (no pipelining). A request takes
 * an idle connection when there is one, else opens one:
 * the name is resolved with uv_getaddrinfo off the loop (an address literal is used as
 * is; a resolved address is reused for dns_cache_ms, 0: resolved for every new
 * connection), TCP_NODELAY, the request written with one writev (headers and body),
 * the answer parsed with http-parser (Content-Length, chunked, or read to the close),
 * its body read into a buffer sized from Content-Length. A request on a reused
 * connection that fails before any byte of the answer arrived (the peer closed it
 * while idle) is sent once more on a fresh connection, as libcurl does.
 *
 * A new connection is opened only when none is idle, so the pool never holds more
 * connections than the caller has requests in flight at its busiest: client.c
 * keeps at most 16 per peer and queues the rest. Every function runs on the loop
 * thread; none blocks it; the done callback is never called from inside fb_h1_post or
 * fb_h1_abort. Loop callbacks let go of the hub lock (hublock.h): the done callback
 * runs without it. */
#ifndef FB_HTTP_CLIENT_H1_CLIENT_H
#define FB_HTTP_CLIENT_H1_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http_client/transfer.h"

/* Answer headers (status line included) larger than this are refused. */
#define FB_H1_MAX_HEADER_BYTES (64u << 10)

typedef struct fb_h1_client fb_h1_client;
typedef struct fb_h1_request fb_h1_request;

/* The done callback and its outcomes: transfer.h. */

/* Copied by fb_h1_client_new. */
typedef struct {
  const char *host;          /* a name or an address literal (an IPv6 one without brackets) */
  uint16_t port;
  const char *host_header;   /* the Host header's value ("name:port") */
  const char *target;        /* request target: path and query, "/" at least */
  const char *headers;       /* further header lines, each ending in CRLF */
  uint64_t max_body;
  uint32_t dns_cache_ms;
} fb_h1_options;

fb_h1_client *fb_h1_client_new(uv_loop_t *loop, const fb_h1_options *opts);

/* POSTs `body` (`len` bytes, borrowed until the callback or fb_h1_abort). The request
 * fails with FB_TRANSFER_TIMEOUT after timeout_ms. NULL when nothing could be started (no
 * callback then). */
fb_h1_request *fb_h1_post(fb_h1_client *c, char *body, size_t len, uint32_t timeout_ms, fb_transfer_done_cb cb,
                          void *data);

/* No callback after this; the request's connection is closed (an answer may be on
 * its way). */
void fb_h1_abort(fb_h1_request *r);

/* Aborts every request without callbacks, closes every connection, frees everything,
 * then calls `closed` (from a close callback, or from here when nothing was open). */
void fb_h1_client_close(fb_h1_client *c, void (*closed)(void *), void *data);

/* Connections opened so far (for tests of reuse). */
uint64_t fb_h1_client_connections_opened(const fb_h1_client *c);

#endif
