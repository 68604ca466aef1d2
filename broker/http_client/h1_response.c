/* One HTTP/1.1 answer read with http-parser. Contract in h1_response.h. */
#include "http_client/h1_response.h"

#include <string.h>

#include "http_client/h1_client.h"

static fb_h1_response *of(http_parser *p) { return fb_container_of(p, fb_h1_response, parser); }

static bool interim(int status) { return status >= 100 && status < 200; }

static int on_headers_complete(http_parser *p) {
  fb_h1_response *r = of(p);
  r->headers_done = true;
  r->status = (int)p->status_code;
  if (interim(r->status) || (p->flags & F_CHUNKED) || !(p->flags & F_CONTENTLENGTH)) return 0;
  if (p->content_length > r->max_body) {
    r->too_big = true;
    return -1;
  }
  /* one buffer for the whole body, its NUL included: never grown, never copied */
  size_t n = (size_t)p->content_length;
  fb_buf_free(&r->body);
  r->body.data = fb_xmalloc(n + 1);
  r->body.data[0] = '\0';
  r->body.len = 0;
  r->body.cap = n + 1;
  r->sized = true;
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
  fb_h1_response *r = of(p);
  if (r->body.len + n > r->max_body) {
    r->too_big = true;
    return -1;
  }
  if (r->sized) { /* the parser never hands more than Content-Length */
    if (at != r->body.data + r->body.len) memcpy(r->body.data + r->body.len, at, n);
    r->body.len += n;
    return 0;
  }
  fb_buf_append(&r->body, at, n);
  return 0;
}

static int on_message_complete(http_parser *p) {
  fb_h1_response *r = of(p);
  if (interim(r->status)) { /* 100 Continue and the like: the real answer follows */
    r->headers_done = false;
    r->sized = false;
    r->header_bytes = 0;
    fb_buf_free(&r->body); /* an interim answer's body, if the peer sent one, is not the answer's */
    return 0;
  }
  r->done = true;
  r->keep_alive = http_should_keep_alive(p) != 0;
  if (r->body.data) r->body.data[r->body.len] = '\0';
  http_parser_pause(p, 1); /* stop here: what follows is not this answer */
  return 0;
}

static const http_parser_settings settings = {
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void fb_h1_response_init(fb_h1_response *r, uint64_t max_body) {
  memset(r, 0, sizeof *r);
  http_parser_init(&r->parser, HTTP_RESPONSE);
  r->max_body = max_body;
}

void fb_h1_response_free(fb_h1_response *r) { fb_buf_free(&r->body); }

static fb_h1r_state run(fb_h1_response *r, const char *data, size_t len) {
  size_t n = http_parser_execute(&r->parser, &settings, data, len);
  if (r->too_big) return FB_H1R_TOO_BIG;
  if (r->done) {
    r->extra = n < len;
    return FB_H1R_DONE;
  }
  enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
  if (e != HPE_OK) {
    r->error = http_errno_description(e);
    return FB_H1R_BAD;
  }
  return FB_H1R_MORE;
}

fb_h1r_state fb_h1_response_feed(fb_h1_response *r, const char *data, size_t len) {
  if (len == 0) return FB_H1R_MORE; /* http-parser reads 0 bytes as the close */
  if (!r->headers_done) {
    /* http-parser's own header cap is a build constant (80 KiB): ours is fed in */
    size_t room = FB_H1_MAX_HEADER_BYTES - r->header_bytes;
    if (len > room) {
      r->header_bytes += room;
      fb_h1r_state s = room ? run(r, data, room) : FB_H1R_MORE;
      if (s != FB_H1R_MORE) return s;
      if (!r->headers_done) {
        r->error = "answer headers over 64 KiB";
        return FB_H1R_BAD;
      }
      return fb_h1_response_feed(r, data + room, len - room);
    }
    r->header_bytes += len;
  }
  return run(r, data, len);
}

fb_h1r_state fb_h1_response_eof(fb_h1_response *r) {
  bool started = r->header_bytes > 0 || r->headers_done;
  fb_h1r_state s = run(r, NULL, 0);
  if (s != FB_H1R_MORE && s != FB_H1R_BAD) return s;
  r->error = started ? "connection closed before the answer was complete" : "connection closed with no answer";
  return FB_H1R_BAD;
}

bool fb_h1_response_body_space(fb_h1_response *r, char **base, size_t *len) {
  if (!r->sized || r->done || r->body.len + 1 >= r->body.cap) return false;
  *base = r->body.data + r->body.len;
  *len = r->body.cap - 1 - r->body.len;
  return true;
}
