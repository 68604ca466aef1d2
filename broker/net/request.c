/* The protocol-neutral request: header storage, accessors, and the response calls that
 * hand bytes to the HTTP/1.1 or HTTP/2 session. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hublock.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/internal.h"

fb_request *net_request_new(net_conn *conn, int version) {
  fb_request *req = fb_xcalloc(1, sizeof *req);
  req->conn = conn;
  req->version = version;
  req->start_ms = fb_now_ms();
  req->route = "other";
  fb_buf_putc(&req->strings, '\0'); /* offset 0 = "" */
  return req;
}

void net_request_free(fb_request *req) {
  if (!req) return;
  if (req->version == 2 && req->conn && req->resp_off < req->resp_body.len)
    net_conn_hold(req->conn, -(long long)(req->resp_body.len - req->resp_off));
  fb_buf_free(&req->strings);
  fb_buf_free(&req->body);
  fb_buf_free(&req->resp_headers);
  fb_buf_free(&req->resp_body);
  free(req->hdr_offs);
  free(req);
}

static size_t store(fb_request *req, const char *s, size_t len, bool lower) {
  size_t off = req->strings.len;
  fb_buf_append(&req->strings, s, len);
  if (lower)
    for (size_t i = off; i < off + len; i++) req->strings.data[i] = (char)tolower((unsigned char)req->strings.data[i]);
  fb_buf_putc(&req->strings, '\0');
  return off;
}

void net_request_set_method(fb_request *req, const char *method, size_t mlen) {
  req->method_off = store(req, method, mlen, false);
}

void net_request_set_target(fb_request *req, const char *target, size_t tlen) {
  const char *q = memchr(target, '?', tlen);
  size_t plen = q ? (size_t)(q - target) : tlen;
  req->path_off = store(req, target, plen, false);
  req->query_off = q ? store(req, q + 1, tlen - plen - 1, false) : 0;
}

void net_request_set_line(fb_request *req, const char *method, size_t mlen, const char *target, size_t tlen) {
  net_request_set_method(req, method, mlen);
  net_request_set_target(req, target, tlen);
}

void net_request_add_header(fb_request *req, const char *name, size_t nlen, const char *value, size_t vlen) {
  if (req->nheaders == req->caphdrs) {
    req->caphdrs = req->caphdrs ? req->caphdrs * 2 : 16;
    req->hdr_offs = fb_xrealloc(req->hdr_offs, req->caphdrs * 2 * sizeof(size_t));
  }
  req->hdr_offs[2 * req->nheaders] = store(req, name, nlen, true);
  req->hdr_offs[2 * req->nheaders + 1] = store(req, value, vlen, false);
  req->nheaders++;
}

const char *fb_request_method(const fb_request *req) { return req->strings.data + req->method_off; }
const char *fb_request_path(const fb_request *req) { return req->strings.data + req->path_off; }
const char *fb_request_query(const fb_request *req) { return req->strings.data + req->query_off; }
int fb_request_http_version(const fb_request *req) { return req->version; }

const char *fb_request_header(const fb_request *req, const char *name) {
  for (size_t i = 0; i < req->nheaders; i++)
    if (strcmp(req->strings.data + req->hdr_offs[2 * i], name) == 0)
      return req->strings.data + req->hdr_offs[2 * i + 1];
  return NULL;
}

const char *fb_request_body(const fb_request *req, size_t *len) {
  if (len) *len = req->body.len;
  return req->body.data ? req->body.data : "";
}

X509 *fb_request_peer_cert(const fb_request *req) {
  if (!req->conn || !req->conn->ssl) return NULL;
  if (SSL_get_verify_result(req->conn->ssl) != X509_V_OK) return NULL;
  return SSL_get0_peer_certificate(req->conn->ssl);
}

const char *fb_request_peer_addr(const fb_request *req) { return req->conn ? req->conn->peer : ""; }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool fb_request_query_param(const fb_request *req, const char *name, char *out, size_t outlen) {
  const char *q = fb_request_query(req);
  size_t nlen = strlen(name);
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    if (len > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
      size_t o = 0;
      for (size_t i = nlen + 1; i < len && o + 1 < outlen; i++) {
        int h, l;
        if (q[i] == '%' && i + 2 < len + 0 && (h = hexval(q[i + 1])) >= 0 && (l = hexval(q[i + 2])) >= 0) {
          out[o++] = (char)(h * 16 + l);
          i += 2;
        } else {
          out[o++] = q[i] == '+' ? ' ' : q[i];
        }
      }
      out[o] = '\0';
      return true;
    }
    q += len;
    if (*q == '&') q++;
  }
  return false;
}

void fb_request_set_abort(fb_request *req, fb_abort_cb cb, void *data) {
  req->abort_cb = cb;
  req->abort_data = data;
}

void fb_request_set_route(fb_request *req, const char *route) { req->route = route; }

void fb_response_header(fb_request *req, const char *name, const char *value) {
  fb_buf_append(&req->resp_headers, name, strlen(name) + 1);
  fb_buf_append(&req->resp_headers, value, strlen(value) + 1);
}

static void send_bytes(fb_request *req, const char *data, size_t len, bool last) {
  if (!req->conn) return;
  if (last) req->finished = true;
  if (req->version == 1) {
    net_h1_respond(req, data, len, last);
  } else {
    fb_buf_append(&req->resp_body, data, len);
    net_conn_hold(req->conn, (long long)len);
    net_h2_respond(req, !last);
  }
}

static void begin(fb_request *req, int status, const char *content_type) {
  req->status = status;
  req->headers_sent = true;
  if (content_type) fb_response_header(req, "content-type", content_type);
}

void fb_respond(fb_request *req, int status, const char *content_type, const char *body, size_t len) {
  if (req->headers_sent) {
    fb_warn("respond_twice", "a handler answered %s twice", fb_request_path(req));
    return;
  }
  begin(req, status, content_type);
  send_bytes(req, body, len, true);
}

void fb_respond_json(fb_request *req, int status, json_t *body) {
  /* Written straight into the buffer that becomes the response body (core/jsonw.h:
   * the bytes json_dump_callback gave with the flags the answers always had). */
  fb_buf b = {0};
  fb_buf_reserve(&b, 4096); /* most answers fit: no regrowth while writing */
  /* Writing reads the body only (values may be shared by reference, whose counts are
   * atomic; nobody modifies them any more): other workers may run meanwhile. */
  bool yielded = fb_hublock_yield();
  int rc = fb_jsonw_dump(&b, body, FB_JSONW_PRECISION);
  json_decref(body); /* mostly this search's own records: freed in parallel too */
  fb_hublock_resume(yielded);
  if (rc != 0) {
    fb_buf_free(&b);
    fb_respond_error(req, 500, "internal", "The response could not be encoded.", NULL);
    return;
  }
  fb_respond_json_text(req, status, &b);
}

void fb_respond_json_text(fb_request *req, int status, fb_buf *body) {
  fb_buf b = *body;
  *body = (fb_buf){0};
  fb_buf_putc(&b, '\n');
  if (req->headers_sent) {
    fb_buf_free(&b);
    fb_warn("respond_twice", "a handler answered %s twice", fb_request_path(req));
    return;
  }
  begin(req, status, "application/json; charset=utf-8");
  if (req->version == 2 && req->conn && req->resp_body.len == 0) {
    fb_buf_free(&req->resp_body);
    req->resp_body = b; /* handed over: nghttp2 reads the body from here */
    req->resp_off = 0;
    net_conn_hold(req->conn, (long long)b.len);
    req->finished = true;
    net_h2_respond(req, false);
    return;
  }
  send_bytes(req, b.data, b.len, true);
  fb_buf_free(&b);
}

void fb_respond_error(fb_request *req, int status, const char *code, const char *message, const char *field) {
  fb_buf b = {0};
  fb_buf_puts(&b, "{\"error\":{\"code\":");
  fb_buf_json_string(&b, code);
  fb_buf_puts(&b, ",\"message\":");
  fb_buf_json_string(&b, message);
  if (field) {
    fb_buf_puts(&b, ",\"field\":");
    fb_buf_json_string(&b, field);
  }
  fb_buf_puts(&b, "}}\n");
  fb_respond(req, status, "application/json; charset=utf-8", b.data, b.len);
  fb_buf_free(&b);
}

void fb_stream_begin(fb_request *req, int status, const char *content_type) {
  if (req->headers_sent) return;
  req->streaming = true;
  begin(req, status, content_type);
  send_bytes(req, "", 0, false);
}

void fb_stream_write(fb_request *req, const char *data, size_t len) {
  if (!req->streaming || req->finished || len == 0) return;
  send_bytes(req, data, len, false);
}

void fb_stream_end(fb_request *req) {
  if (!req->streaming || req->finished) return;
  send_bytes(req, "", 0, true);
}

/* The protocols parse without the hub lock; handlers run under it. */
void net_request_dispatch(fb_request *req) {
  req->dispatched = true;
  req->conn->srv->nrequests++;
  net_tot_add(&req->conn->srv->tot->nrequests, 1);
  bool entered = fb_hublock_enter();
  fb_router_dispatch(req->conn->srv->router, req);
  fb_hublock_leave(entered);
}

/* The series of one (route, status) pair, looked up once: route names are the route
 * table's own strings, so the pointer identifies the route. */
typedef struct {
  const char *route;
  int status;
  fb_series *count, *duration;
} request_metrics;

static request_metrics *metrics_for(const char *route, int status) {
  /* Per thread: each worker's loop finishes requests at the same time. */
  static _Thread_local request_metrics cache[128];
  static _Thread_local size_t used;
  static _Thread_local unsigned epoch;
  if (epoch != fb_metrics_epoch()) { /* the registry was reset: forget its series */
    used = 0;
    epoch = fb_metrics_epoch();
  }
  for (size_t i = 0; i < used; i++)
    if (cache[i].route == route && cache[i].status == status) return &cache[i];
  char labels[160];
  snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", route, status);
  fb_series *count = fb_metric(FB_METRIC_COUNTER, "fedbroker_http_requests_total", "HTTP requests by route and status", labels);
  snprintf(labels, sizeof labels, "route=\"%s\"", route);
  fb_series *duration = fb_metric(FB_METRIC_HISTOGRAM, "fedbroker_http_request_duration_seconds",
                                  "Time from a complete request to the end of its response", labels);
  static _Thread_local request_metrics overflow;
  request_metrics *m = used < FB_ARRAY_LEN(cache) ? &cache[used++] : &overflow;
  *m = (request_metrics){route, status, count, duration};
  return m;
}

/* Bookkeeping once a dispatched request ends, either way. A protocol may call this
 * without the hub lock (a stream reset while parsing): the handler's abort callback
 * runs under it. */
void net_request_complete(fb_request *req, bool aborted) {
  net_conn *conn = req->conn;
  if (aborted && req->abort_cb && !req->finished) {
    fb_abort_cb cb = req->abort_cb;
    req->abort_cb = NULL;
    bool entered = fb_hublock_enter();
    cb(req, req->abort_data);
    fb_hublock_leave(entered);
  }
  if (req->dispatched) {
    int status = aborted && !req->finished ? 499 : req->status;
    request_metrics *m = metrics_for(req->route, status);
    fb_series_add(m->count, 1);
    fb_series_observe(m->duration, (fb_now_ms() - req->start_ms) / 1000.0);
    if (conn) {
      conn->srv->nrequests--;
      net_tot_sub(&conn->srv->tot->nrequests, 1);
    }
    fb_debug("request", "%s %s -> %d in %.2f ms", fb_request_method(req), fb_request_path(req), status,
             fb_now_ms() - req->start_ms);
  }
  bool dispatched = req->dispatched;
  net_request_free(req);
  if (conn && dispatched) net_conn_request_done(conn);
}

const char *net_status_text(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 413: return "Payload Too Large";
  case 415: return "Unsupported Media Type";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Unknown";
  }
}
