/* A national node's HTTP/1.1 answer as fedbroker's own client reads it
 * (http_client/h1_response.c): the bytes after the first arrive in pieces whose sizes
 * the first byte picks, copied into the body's own buffer whenever the reader offers
 * it (as the client's reads do), and the close follows when the answer is still
 * incomplete. Whatever the bytes: no crash, no leak, the caps hold (a body never over
 * max_body, headers never read past 64 KiB), and a finished body is a NUL-terminated
 * string of its length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "http_client/h1_client.h"
#include "http_client/h1_response.h"

#define MAX_BODY 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)(data[0] % 64) + 1;
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  fb_h1_response r;
  fb_h1_response_init(&r, MAX_BODY);
  fb_h1r_state s = FB_H1R_MORE;
  size_t at = 0;
  while (at < n && s == FB_H1R_MORE) {
    size_t len = n - at < step ? n - at : step;
    char *base;
    size_t room;
    if (fb_h1_response_body_space(&r, &base, &room)) { /* read in place */
      if (len > room) len = room;
      memcpy(base, text + at, len);
      s = fb_h1_response_feed(&r, base, len);
    } else {
      s = fb_h1_response_feed(&r, text + at, len);
    }
    at += len;
    if (!r.headers_done && r.header_bytes > FB_H1_MAX_HEADER_BYTES) abort();
  }
  if (s == FB_H1R_MORE) s = fb_h1_response_eof(&r);
  if (r.body.len > MAX_BODY) abort();
  if (s == FB_H1R_DONE) {
    if (r.status < 0 || r.status > 999 || (r.status >= 100 && r.status < 200)) abort(); /* 1xx: skipped */
    if (r.body.data && (r.body.data[r.body.len] != '\0' || r.body.len >= r.body.cap)) abort();
  }
  if (s == FB_H1R_BAD && !r.error) abort();
  fb_h1_response_free(&r);
  return 0;
}
