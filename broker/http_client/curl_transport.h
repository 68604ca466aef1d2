/* The libcurl transport of client.c: https:// peers (HTTP/2 multiplexed when the peer
 * offers it over ALPN), and http:// ones when a proxy applies or the URL is unusual
 * (credentials, a zone id). The same shape as h1_client.h: post, abort, close, and one
 * completion callback (transfer.h).
 *
 * One fb_curl_transport per peer URL: one multi handle, one uv_timer_t, one uv_poll_t
 * per socket curl opens (kept while the connection lives, not re-made per transfer), a
 * free list of easy handles. Connections are reused across requests (up to
 * FB_HTTP_MAX_HOST_CONNECTIONS per peer, kept open while idle too). Over cleartext
 * http:// the transport is HTTP/1.1 (no h2c prior knowledge: a plain HTTP/1.1 node would
 * fail; and libcurl 7.88 fails the second request on a reused h2c connection), and a new
 * request does not wait to learn whether a connection being opened multiplexes; over
 * https:// it does. Every function runs on the loop thread and none blocks it; the done
 * callback is never called from inside fb_curl_transport_post or _abort. Loop callbacks
 * let go of the hub lock (hublock.h): the done callback runs without it. */
#ifndef FB_HTTP_CLIENT_CURL_TRANSPORT_H
#define FB_HTTP_CLIENT_CURL_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http_client/transfer.h"

typedef struct fb_curl_transport fb_curl_transport;
typedef struct fb_curl_request fb_curl_request;

/* Copied by fb_curl_transport_new. */
typedef struct {
  const char *url;             /* posted to as is */
  const char *ca, *cert, *key; /* optional TLS material (PEM paths) */
  const char *bearer;          /* when set: "Authorization: Bearer <bearer>" on each request */
  const char *peer;            /* word for the log: "node", "remote hub" */
  uint64_t max_body;           /* the transfer is aborted past it (FB_TRANSFER_TOO_BIG) */
  uint32_t dns_cache_ms;       /* reuse of a resolved address; 0 = resolve every new connection */
  bool no_proxy_env;           /* no proxy variable in the environment: curl is told "no
                                  proxy" once instead of reading them per transfer */
} fb_curl_transport_options;

/* NULL when curl cannot make a multi handle. */
fb_curl_transport *fb_curl_transport_new(uv_loop_t *loop, const fb_curl_transport_options *opts);

/* POSTs `body` (`len` bytes, borrowed until the callback or fb_curl_transport_abort) as
 * application/json. The request fails with FB_TRANSFER_TIMEOUT after timeout_ms. NULL
 * when curl would not take it (no callback then). */
fb_curl_request *fb_curl_transport_post(fb_curl_transport *t, const char *body, size_t len, uint32_t timeout_ms,
                                        fb_transfer_done_cb cb, void *data);

/* No callback after this; the connection goes back to curl's pool. */
void fb_curl_transport_abort(fb_curl_request *r);

/* Aborts every request without callbacks, lets curl close its connections, closes the
 * loop handles, frees everything, then calls `closed` (from a close callback). */
void fb_curl_transport_close(fb_curl_transport *t, void (*closed)(void *), void *data);

#endif
