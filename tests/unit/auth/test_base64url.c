/* base64url: round trips and the strictness the JWT verifier relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64url.h"

static long dec(const char *s, uint8_t *out) { return fb_b64url_decode(s, strlen(s), out); }

static void test_known_vectors(void **state) {
  (void)state;
  /* RFC 4648 section 10, without padding and in the URL alphabet. */
  const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (size_t i = 0; i < 7; i++) {
    fb_buf b = {0};
    fb_b64url_encode(plain[i], strlen(plain[i]), &b);
    assert_string_equal(b.data ? b.data : "", enc[i]);
    fb_buf_free(&b);
    uint8_t out[16];
    assert_int_equal(dec(enc[i], out), (long)strlen(plain[i]));
    assert_memory_equal(out, plain[i], strlen(plain[i]));
  }
  uint8_t ff[3] = {0xfb, 0xff, 0xbf};
  fb_buf b = {0};
  fb_b64url_encode(ff, 3, &b);
  assert_string_equal(b.data, "-_-_"); /* URL alphabet, not + and / */
  fb_buf_free(&b);
}

static void test_round_trip_all_lengths(void **state) {
  (void)state;
  uint8_t in[64], out[64];
  for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 37 + 11);
  for (size_t n = 0; n <= sizeof in; n++) {
    fb_buf b = {0};
    fb_b64url_encode(in, n, &b);
    long got = fb_b64url_decode(b.data ? b.data : "", b.len, out);
    assert_int_equal(got, (long)n);
    assert_memory_equal(out, in, n);
    fb_buf_free(&b);
  }
}

static void test_rejects_malformed(void **state) {
  (void)state;
  uint8_t out[16];
  assert_int_equal(dec("Zg==", out), -1);   /* padding */
  assert_int_equal(dec("Zm9v+w", out), -1); /* standard alphabet */
  assert_int_equal(dec("Zm9v/w", out), -1);
  assert_int_equal(dec("Zm 9v", out), -1);  /* whitespace */
  assert_int_equal(dec("Zm9vY", out), -1);  /* length % 4 == 1 */
  assert_int_equal(dec("Zm9vA", out), -1);  /* the same with zero leftover bits: only the length rule */
  assert_int_equal(dec("Zh", out), -1);     /* non-zero unused bits ("Zg" is canonical) */
  assert_int_equal(dec("Zm8", out), 2);
  assert_int_equal(dec("Zm9", out), -1);   /* same bytes as "Zm8", non-canonical */
  assert_int_equal(dec("Zm-", out), -1);    /* non-zero unused bits */
  assert_int_equal(fb_b64url_decode("Zm\0v", 4, out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_vectors),
      cmocka_unit_test(test_round_trip_all_lengths),
      cmocka_unit_test(test_rejects_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
