/* The answer half of the HTTP/1.1 client (h1_client.c): one response read with
 * http-parser from the bytes as they arrive, whatever their split. Caps what a peer
 * can make the hub hold: headers (FB_H1_MAX_HEADER_BYTES) and the body (max_body,
 * refused at the Content-Length already). A body with a Content-Length gets one
 * buffer of that size, which the reads can fill directly (fb_h1_response_body_space):
 * the body is never copied or grown. Interim 1xx answers are skipped. */
#ifndef FB_HTTP_CLIENT_H1_RESPONSE_H
#define FB_HTTP_CLIENT_H1_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "core/util.h"

typedef enum {
  FB_H1R_MORE,    /* incomplete: feed more, or fb_h1_response_eof at the close */
  FB_H1R_DONE,    /* complete: status, body, keep_alive are set */
  FB_H1R_BAD,     /* not an HTTP/1.x answer, or headers over the cap: `error` says which */
  FB_H1R_TOO_BIG, /* the body passes max_body */
} fb_h1r_state;

typedef struct {
  http_parser parser;
  uint64_t max_body;
  size_t header_bytes;  /* of the answer being read, until its headers are complete */
  bool headers_done;
  bool sized;           /* the body's length is known: `body` has room for all of it */
  bool too_big;
  bool done;
  bool keep_alive;      /* DONE: the connection may carry another request */
  bool extra;           /* DONE: bytes followed the answer (the connection is unusable) */
  int status;
  fb_buf body;          /* NUL-terminated once DONE */
  const char *error;    /* BAD: a static description */
} fb_h1_response;

void fb_h1_response_init(fb_h1_response *r, uint64_t max_body);
/* Frees the body, if not taken. The response may be initialised again. */
void fb_h1_response_free(fb_h1_response *r);

/* Bytes of the answer as they arrived. Once it said anything but MORE, it must not be
 * fed again. `data` may be the space fb_h1_response_body_space handed out. */
fb_h1r_state fb_h1_response_feed(fb_h1_response *r, const char *data, size_t len);
/* The peer closed the connection: DONE for an answer read to the close, else BAD. */
fb_h1r_state fb_h1_response_eof(fb_h1_response *r);

/* Where the next read may put body bytes directly, with no copy: the rest of a body
 * of known length. False when there is no such space (headers still to come, a
 * chunked body, or one read to the close). */
bool fb_h1_response_body_space(fb_h1_response *r, char **base, size_t *len);

#endif
