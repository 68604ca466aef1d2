/* HTTP/1.1 sessions on top of http-parser: keep-alive, Content-Length and chunked
 * bodies, 100-continue, limits (431 header block, 413 body), one request at a time
 * (bytes that arrive meanwhile wait in a bounded buffer), and no parsing of further
 * pipelined requests while earlier answers wait to be read by the client. RFC 9112
 * rules that http-parser leaves to its user are checked here: no whitespace before a
 * field's colon, exactly one Host in HTTP/1.1, no Transfer-Encoding in HTTP/1.0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "core/log.h"
#include "net/internal.h"

/* Pipelined requests wait (and reading stops) while more than this is unsent. */
#define PIPELINE_QUEUE_MAX (64u << 10)

struct net_h1 {
  net_conn *conn;
  http_parser parser;
  fb_request *cur;         /* being parsed, then being answered */
  bool cur_dispatched;
  fb_buf url, field, value;
  bool in_value;
  fb_buf pending;          /* input that arrived while a request was being answered */
  bool in_feed;
  bool close_after;
  bool head_request;
  bool failed;             /* an error response is going out; then close */
  bool parked;             /* pipelined input waits until the write queue drains */
  bool any_request;        /* a request line was parsed on this connection */
  unsigned hosts;          /* Host fields in the request being parsed */
  bool has_te;             /* ... and whether it had Transfer-Encoding */
  const char *bad_request; /* why the request being parsed is malformed, for the 400 */
};

static http_parser_settings settings;

static size_t header_limit(net_h1 *h) { return h->conn->srv->cfg->limits.header; }
static size_t body_limit(net_h1 *h) { return h->conn->srv->cfg->limits.body; }

static int count_header_bytes(net_h1 *h, size_t len) {
  h->cur->header_bytes += len;
  if (h->cur->header_bytes > header_limit(h)) {
    h->cur->headers_too_large = true;
    return -1;
  }
  return 0;
}

static void flush_header(net_h1 *h) {
  if (h->field.len == 4 && strncasecmp(h->field.data, "host", 4) == 0) h->hosts++;
  if (h->field.len == 17 && strncasecmp(h->field.data, "transfer-encoding", 17) == 0) h->has_te = true;
  if (h->field.len)
    net_request_add_header(h->cur, h->field.data, h->field.len, h->value.data ? h->value.data : "",
                           h->value.len);
  fb_buf_reset(&h->field);
  fb_buf_reset(&h->value);
  h->in_value = false;
}

static int on_message_begin(http_parser *p) {
  net_h1 *h = p->data;
  h->cur = net_request_new(h->conn, 1);
  h->cur_dispatched = false;
  fb_buf_reset(&h->url);
  fb_buf_reset(&h->field);
  fb_buf_reset(&h->value);
  h->in_value = false;
  h->hosts = 0;
  h->has_te = false;
  h->bad_request = NULL;
  net_conn_timer_header(h->conn);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  net_h1 *h = p->data;
  if (count_header_bytes(h, len)) return -1;
  fb_buf_append(&h->url, at, len);
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  net_h1 *h = p->data;
  if (count_header_bytes(h, len)) return -1;
  /* http-parser accepts "Content-Length : 5" and obeys it; RFC 9112 5.1 makes it a 400
   * (a proxy in front may frame the message differently: request smuggling). */
  if (memchr(at, ' ', len) || memchr(at, '\t', len)) {
    h->bad_request = "Whitespace between a header field name and its colon is not allowed.";
    return -1;
  }
  if (h->in_value) flush_header(h);
  fb_buf_append(&h->field, at, len);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  net_h1 *h = p->data;
  if (count_header_bytes(h, len)) return -1;
  h->in_value = true;
  fb_buf_append(&h->value, at, len);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  net_h1 *h = p->data;
  flush_header(h);
  h->any_request = true;
  if (h->hosts > 1) {
    h->bad_request = "The request has more than one Host header.";
    return -1;
  }
  if (h->hosts == 0 && p->http_major == 1 && p->http_minor >= 1) {
    h->bad_request = "An HTTP/1.1 request needs a Host header.";
    return -1;
  }
  if (h->has_te && p->http_major == 1 && p->http_minor == 0) {
    /* HTTP/1.0 has no chunked framing: the body's length is unknown (RFC 9112 6.1). */
    h->bad_request = "Transfer-Encoding is not allowed in an HTTP/1.0 request.";
    return -1;
  }
  const char *method = http_method_str((enum http_method)p->method);
  net_request_set_line(h->cur, method, strlen(method), h->url.data ? h->url.data : "/", h->url.len);
  h->head_request = p->method == HTTP_HEAD;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > body_limit(h)) {
    h->cur->body_too_large = true;
    return -1;
  }
  const char *expect = fb_request_header(h->cur, "expect");
  if (expect && strcasecmp(expect, "100-continue") == 0) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    net_conn_write(h->conn, cont, sizeof cont - 1);
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  net_h1 *h = p->data;
  if (h->cur->body.len + len > body_limit(h)) {
    h->cur->body_too_large = true;
    return -1;
  }
  fb_buf_append(&h->cur->body, at, len);
  return 0;
}

static int on_message_complete(http_parser *p) {
  net_h1 *h = p->data;
  h->close_after = !http_should_keep_alive(p);
  http_parser_pause(p, 1); /* one request at a time: dispatch after execute returns */
  return 0;
}

__attribute__((constructor)) static void init_settings(void) {
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
}

net_h1 *net_h1_new(net_conn *c) {
  net_h1 *h = fb_xcalloc(1, sizeof *h);
  h->conn = c;
  http_parser_init(&h->parser, HTTP_REQUEST);
  h->parser.data = h;
  return h;
}

void net_h1_free(net_h1 *h) {
  if (!h) return;
  if (h->cur) {
    fb_request *req = h->cur;
    h->cur = NULL;
    req->conn = h->cur_dispatched ? req->conn : NULL;
    if (h->cur_dispatched) {
      net_request_complete(req, true);
      /* complete() ran with conn set; the conn is closing so nothing more happens. */
    } else {
      net_request_free(req);
    }
  }
  fb_buf_free(&h->url);
  fb_buf_free(&h->field);
  fb_buf_free(&h->value);
  fb_buf_free(&h->pending);
  free(h);
}

bool net_h1_busy(const net_h1 *h) { return h->cur && h->cur_dispatched; }
bool net_h1_parked(const net_h1 *h) { return h->parked; }

/* An error answered by the protocol layer itself; the connection closes afterwards. */
static void fail_request(net_h1 *h, int status, const char *code, const char *msg) {
  h->failed = true;
  h->close_after = true;
  if (!h->cur) h->cur = net_request_new(h->conn, 1);
  fb_respond_error(h->cur, status, code, msg, NULL);
}

static void process(net_h1 *h, const char *data, size_t len);

static void after_response(net_h1 *h) {
  net_conn *c = h->conn;
  if (h->close_after) {
    c->close_when_drained = true;
    if (c->write_queue == 0) net_conn_close(c);
    return;
  }
  net_conn_timer_idle(c);
  if (c->write_queue > PIPELINE_QUEUE_MAX) {
    /* A client that pipelines and does not read would otherwise make the hub hold
     * every answer: wait (and stop reading) until it reads. */
    h->parked = true;
    net_conn_update_reading(c);
    return;
  }
  if (!h->in_feed && h->pending.len) {
    fb_buf rest = h->pending;
    memset(&h->pending, 0, sizeof h->pending);
    process(h, rest.data, rest.len);
    fb_buf_free(&rest);
  }
}

void net_h1_respond(fb_request *req, const char *data, size_t len, bool last) {
  net_conn *c = req->conn;
  net_h1 *h = c->h1;
  if (!h || h->cur != req) return;
  fb_buf out = {0};
  if (!req->wire_started) {
    req->wire_started = true;
    fb_buf_printf(&out, "HTTP/1.1 %d %s\r\n", req->status, net_status_text(req->status));
    for (size_t off = 0; off < req->resp_headers.len;) {
      const char *name = req->resp_headers.data + off;
      const char *value = name + strlen(name) + 1;
      fb_buf_printf(&out, "%s: %s\r\n", name, value);
      off = (size_t)(value - req->resp_headers.data) + strlen(value) + 1;
    }
    if (req->streaming) fb_buf_puts(&out, "transfer-encoding: chunked\r\n");
    else fb_buf_printf(&out, "content-length: %zu\r\n", len);
    if (h->close_after || c->srv->stopping) {
      h->close_after = true;
      fb_buf_puts(&out, "connection: close\r\n");
    }
    fb_buf_puts(&out, "\r\n");
  }
  if (!h->head_request) {
    if (req->streaming) {
      if (len) {
        fb_buf_printf(&out, "%zx\r\n", len);
        fb_buf_append(&out, data, len);
        fb_buf_puts(&out, "\r\n");
      }
      if (last) fb_buf_puts(&out, "0\r\n\r\n");
    } else {
      fb_buf_append(&out, data, len);
    }
  }
  net_conn_write_buf(c, &out);
  fb_buf_free(&out);
  if (!last) return;
  h->cur = NULL;
  bool dispatched = h->cur_dispatched;
  h->cur_dispatched = false;
  if (dispatched) net_request_complete(req, false);
  else net_request_free(req);
  if (!c->closing) after_response(h);
}

void net_h1_unpark(net_h1 *h) {
  net_conn *c = h->conn;
  if (!h->parked || c->write_queue > PIPELINE_QUEUE_MAX / 2 || h->in_feed) return;
  h->parked = false;
  net_conn_update_reading(c);
  if (h->pending.len && !(h->cur && h->cur_dispatched)) {
    fb_buf rest = h->pending;
    memset(&h->pending, 0, sizeof h->pending);
    process(h, rest.data, rest.len);
    fb_buf_free(&rest);
  }
}

/* Whether the first bytes of a connection could begin an HTTP/1.x request line:
 * method, space, then an origin-form path, "*" or an absolute URI. Anything else (an
 * HTTP/2 client with a broken preface, a stray protocol) is closed without an
 * HTTP/1.1 answer it would not understand. */
static bool looks_like_http1(const net_conn *c) {
  const char *s = c->sniff;
  size_t n = c->nsniff, i = 0;
  if (n == 0) return true; /* TLS chose http/1.1 by ALPN: no sniffing happened */
  while (i < n && i < 20 && s[i] > ' ' && s[i] < 127) i++; /* the method */
  if (i == 0 || i + 1 >= n || s[i] != ' ') return false;
  char t = s[++i];
  if (t == '/' || t == '*') return true;
  /* absolute-form ("http://host/x") or authority-form ("host:443"): a colon first */
  for (; i < n && s[i] != ' '; i++)
    if (s[i] == ':') return true;
  return false;
}

/* Runs the parser over `data`, dispatching each complete request in turn. */
static void process(net_h1 *h, const char *data, size_t len) {
  net_conn *c = h->conn;
  h->in_feed = true;
  while (len > 0 && !c->closing && !h->failed) {
    if ((h->cur && h->cur_dispatched) || h->parked) { /* still answering: keep the rest for later */
      fb_buf_append(&h->pending, data, len);
      break;
    }
    size_t n = http_parser_execute(&h->parser, &settings, data, len);
    enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);
    if (err == HPE_PAUSED) {
      http_parser_pause(&h->parser, 0);
      data += n;
      len -= n;
      net_conn_timer_stop(c);
      h->cur_dispatched = true;
      net_request_dispatch(h->cur);
      continue;
    }
    if (err != HPE_OK) {
      if (!h->any_request && !looks_like_http1(c)) {
        fb_debug("h1_not_http", "%s: the first bytes are not an HTTP/1.1 request; closing", c->peer);
        h->failed = true;
        net_conn_close(c);
        break;
      }
      if (h->cur && h->bad_request)
        fail_request(h, 400, "bad_request", h->bad_request);
      else if (h->cur && h->cur->headers_too_large)
        fail_request(h, 431, "header_too_large", "The request's header block is too large.");
      else if (h->cur && h->cur->body_too_large)
        fail_request(h, 413, "payload_too_large", "The request body is too large.");
      else
        fail_request(h, 400, "bad_request", "The request is not valid HTTP/1.1.");
      break;
    }
    data += n;
    len -= n;
  }
  h->in_feed = false;
  /* A request answered synchronously above may have left input for the next one. */
  if (!c->closing && !h->failed && !(h->cur && h->cur_dispatched) && !h->parked && h->pending.len) {
    fb_buf rest = h->pending;
    memset(&h->pending, 0, sizeof h->pending);
    process(h, rest.data, rest.len);
    fb_buf_free(&rest);
  }
}

int net_h1_feed(net_h1 *h, const char *data, size_t len) {
  if (h->failed) return 0; /* discard input while the error response drains */
  if ((h->cur && h->cur_dispatched) || h->parked) {
    /* Pipelined bytes while a handler works: bounded, then the client is cut off. */
    if (h->pending.len + len > header_limit(h) + body_limit(h)) return -1;
    fb_buf_append(&h->pending, data, len);
    return 0;
  }
  process(h, data, len);
  return 0;
}
