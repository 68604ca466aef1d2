/* The answer reader of the HTTP/1.1 client (http_client/h1_response.c): any split of
 * the bytes reads the same; a sized body is read in place; the header and body caps;
 * what follows an answer; interim answers; the close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_client/h1_client.h"
#include "http_client/h1_response.h"

static const char LENGTH[] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\": 12}\n";
static const char CHUNKED[] = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "4\r\n{\"ok\r\n7\r\n\": 12}\n\r\n0\r\n\r\n";

/* Fed in pieces of `step` bytes: DONE exactly at the last byte. */
static void read_in_steps(const char *text, size_t step, int status) {
  fb_h1_response r;
  fb_h1_response_init(&r, 1 << 20);
  size_t n = strlen(text);
  for (size_t at = 0; at < n; at += step) {
    size_t len = n - at < step ? n - at : step;
    fb_h1r_state s = fb_h1_response_feed(&r, text + at, len);
    if (at + len < n) assert_int_equal(s, FB_H1R_MORE);
    else assert_int_equal(s, FB_H1R_DONE);
  }
  assert_int_equal(r.status, status);
  assert_string_equal(r.body.data, "{\"ok\": 12}\n");
  assert_int_equal(r.body.len, 11);
  assert_true(r.keep_alive);
  assert_false(r.extra);
  fb_h1_response_free(&r);
}

static void test_any_split_reads_the_same(void **state) {
  (void)state;
  for (size_t step = 1; step <= sizeof CHUNKED; step++) {
    read_in_steps(LENGTH, step, 200);
    read_in_steps(CHUNKED, step, 201);
  }
}

/* Once the headers said the length, the rest of the body can be read straight into
 * the body's own buffer: the buffer handed out is the one the body ends in. */
static void test_sized_body_read_in_place(void **state) {
  (void)state;
  fb_h1_response r;
  fb_h1_response_init(&r, 1 << 20);
  const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123";
  char *base;
  size_t len;
  assert_false(fb_h1_response_body_space(&r, &base, &len));
  assert_int_equal(fb_h1_response_feed(&r, head, strlen(head)), FB_H1R_MORE);
  assert_true(fb_h1_response_body_space(&r, &base, &len));
  assert_int_equal(len, 6);
  char *buffer = r.body.data;
  assert_ptr_equal(base, buffer + 4);
  memcpy(base, "456789", 6);
  assert_int_equal(fb_h1_response_feed(&r, base, 6), FB_H1R_DONE);
  assert_ptr_equal(r.body.data, buffer);
  assert_string_equal(r.body.data, "0123456789");
  assert_false(fb_h1_response_body_space(&r, &base, &len));
  fb_h1_response_free(&r);
}

static fb_h1r_state read_all(fb_h1_response *r, const char *text, uint64_t max_body) {
  fb_h1_response_init(r, max_body);
  return fb_h1_response_feed(r, text, strlen(text));
}

static void test_body_cap(void **state) {
  (void)state;
  fb_h1_response r;
  /* refused at the Content-Length, before any byte of the body */
  assert_int_equal(read_all(&r, "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", 100), FB_H1R_TOO_BIG);
  assert_null(r.body.data);
  fb_h1_response_free(&r);
  assert_int_equal(read_all(&r, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 100),
                   FB_H1R_BAD); /* not a number http-parser takes */
  fb_h1_response_free(&r);
  assert_int_equal(read_all(&r, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 100), FB_H1R_MORE);
  fb_h1_response_free(&r);
  /* a chunked body, when it passes the cap */
  char text[512];
  snprintf(text, sizeof text,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n%050d\r\n33\r\n%051d\r\n", 0, 0);
  assert_int_equal(read_all(&r, text, 100), FB_H1R_TOO_BIG);
  fb_h1_response_free(&r);
  /* a body read to the close */
  fb_h1_response_init(&r, 100);
  const char *head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
  assert_int_equal(fb_h1_response_feed(&r, head, strlen(head)), FB_H1R_MORE);
  char part[60];
  memset(part, 'x', sizeof part);
  assert_int_equal(fb_h1_response_feed(&r, part, sizeof part), FB_H1R_MORE);
  assert_int_equal(fb_h1_response_feed(&r, part, sizeof part), FB_H1R_TOO_BIG);
  fb_h1_response_free(&r);
}

/* Headers up to the cap are read; one byte more is refused, whatever the split. */
static void test_header_cap(void **state) {
  (void)state;
  const char *status = "HTTP/1.1 200 OK\r\n", *tail = "Content-Length: 0\r\n\r\n";
  for (int over = 0; over <= 1; over++) {
    size_t n = FB_H1_MAX_HEADER_BYTES + (size_t)over;
    char *text = malloc(n + 1);
    size_t fill = n - strlen(status) - strlen(tail);
    memcpy(text, status, strlen(status));
    size_t at = strlen(status);
    while (fill > 0) { /* header lines "X: yyy...\r\n" of up to 1000 bytes */
      size_t line = fill > 1000 ? 1000 : fill;
      if (fill - line < 5 && fill > 1000) line -= 5;
      memcpy(text + at, "X: ", 3);
      memset(text + at + 3, 'y', line - 5);
      memcpy(text + at + line - 2, "\r\n", 2);
      at += line;
      fill -= line;
    }
    memcpy(text + at, tail, strlen(tail) + 1);
    assert_int_equal(strlen(text), n);
    for (size_t step = 4096; step <= n; step += n / 2) {
      fb_h1_response r;
      fb_h1_response_init(&r, 100);
      fb_h1r_state s = FB_H1R_MORE;
      for (size_t p = 0; p < n && s == FB_H1R_MORE; p += step)
        s = fb_h1_response_feed(&r, text + p, n - p < step ? n - p : step);
      if (over) {
        assert_int_equal(s, FB_H1R_BAD);
        assert_string_equal(r.error, "answer headers over 64 KiB");
      } else {
        assert_int_equal(s, FB_H1R_DONE);
      }
      fb_h1_response_free(&r);
    }
    free(text);
  }
}

static void test_interim_extra_and_close(void **state) {
  (void)state;
  fb_h1_response r;
  assert_int_equal(read_all(&r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 100),
                   FB_H1R_DONE);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, "{}");
  fb_h1_response_free(&r);
  /* bytes after the answer: the connection cannot carry another request */
  assert_int_equal(read_all(&r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200", 100), FB_H1R_DONE);
  assert_true(r.extra);
  fb_h1_response_free(&r);
  assert_int_equal(read_all(&r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 100),
                   FB_H1R_DONE);
  assert_false(r.keep_alive);
  fb_h1_response_free(&r);
  /* HTTP/1.0 without keep-alive: read to the close */
  assert_int_equal(read_all(&r, "HTTP/1.0 200 OK\r\n\r\n{\"a\"", 100), FB_H1R_MORE);
  assert_int_equal(fb_h1_response_eof(&r), FB_H1R_DONE);
  assert_string_equal(r.body.data, "{\"a\"");
  assert_false(r.keep_alive);
  fb_h1_response_free(&r);
  /* the close in the middle, and before anything */
  assert_int_equal(read_all(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", 100), FB_H1R_MORE);
  assert_int_equal(fb_h1_response_eof(&r), FB_H1R_BAD);
  assert_string_equal(r.error, "connection closed before the answer was complete");
  fb_h1_response_free(&r);
  fb_h1_response_init(&r, 100);
  assert_int_equal(fb_h1_response_eof(&r), FB_H1R_BAD);
  assert_string_equal(r.error, "connection closed with no answer");
  fb_h1_response_free(&r);
  /* not HTTP */
  assert_int_equal(read_all(&r, "SSH-2.0-OpenSSH\r\n", 100), FB_H1R_BAD);
  fb_h1_response_free(&r);
  assert_int_equal(read_all(&r, "HTTP/1.1 2x0 OK\r\n", 100), FB_H1R_BAD);
  fb_h1_response_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_any_split_reads_the_same),
      cmocka_unit_test(test_sized_body_read_in_place),
      cmocka_unit_test(test_body_cap),
      cmocka_unit_test(test_header_cap),
      cmocka_unit_test(test_interim_extra_and_close),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
