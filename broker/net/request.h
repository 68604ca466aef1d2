/* One HTTP request and its response, the same for HTTP/1.1 and HTTP/2.
 *
 * Lifetime: the protocol layer creates the request when its headers and body have
 * arrived and calls the route's handler. The handler answers now or later (after
 * asynchronous work) with exactly one of fb_respond*, or with a stream
 * (fb_stream_begin ... fb_stream_end). The request is freed by the protocol layer
 * after the response is finished or when the client goes away first. In the latter
 * case the abort callback (if set) runs once, before the request is freed; after it
 * returns the handler must not touch the request again. */
#ifndef FB_NET_REQUEST_H
#define FB_NET_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "core/util.h"

typedef struct fb_request fb_request;

typedef struct {
  const char *name;   /* lowercase */
  const char *value;
} fb_header;

typedef void (*fb_abort_cb)(fb_request *req, void *data);

/* -- reading -- */
const char *fb_request_method(const fb_request *req);
const char *fb_request_path(const fb_request *req);   /* without the query string */
const char *fb_request_query(const fb_request *req);  /* after '?', "" when none */
const char *fb_request_header(const fb_request *req, const char *lowercase_name);
const char *fb_request_body(const fb_request *req, size_t *len);
int fb_request_http_version(const fb_request *req);   /* 1 or 2 */
/* The verified TLS client certificate, borrowed, or NULL. */
X509 *fb_request_peer_cert(const fb_request *req);
const char *fb_request_peer_addr(const fb_request *req);
/* Value of `name` in the query string, decoded into `out`; false when absent. */
bool fb_request_query_param(const fb_request *req, const char *name, char *out, size_t outlen);

/* -- context for the handler -- */
void fb_request_set_abort(fb_request *req, fb_abort_cb cb, void *data);
/* The route's name for metrics and logs (set by the router). */
void fb_request_set_route(fb_request *req, const char *route);

/* -- answering (each copies what it is given) -- */
void fb_response_header(fb_request *req, const char *name, const char *value);
void fb_respond(fb_request *req, int status, const char *content_type, const char *body, size_t len);
/* Serialises and releases `body` (a new reference is stolen). */
void fb_respond_json(fb_request *req, int status, json_t *body);
/* The same for a JSON text already written: `body`'s memory is taken over (a '\n' is
 * added, as fb_respond_json adds) and `body` reset. */
void fb_respond_json_text(fb_request *req, int status, fb_buf *body);
/* API.md error body; `field` may be NULL. Adds Retry-After for 429/503 callers via
 * fb_response_header beforehand. */
void fb_respond_error(fb_request *req, int status, const char *code, const char *message,
                      const char *field);

/* Streaming (NDJSON): headers go out at once, then chunks as they are written. */
void fb_stream_begin(fb_request *req, int status, const char *content_type);
void fb_stream_write(fb_request *req, const char *data, size_t len);
void fb_stream_end(fb_request *req);

#endif
