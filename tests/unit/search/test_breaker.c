/* The circuit breaker (search/breaker.c): closed -> open after `threshold` consecutive
 * failures -> half-open after open_ms, where one probe goes out -> closed on its
 * success, open again on its failure; an abandoned probe frees the probe slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "search/breaker.h"

static void assert_allows(fb_breaker *b, double now, bool want_probe) {
  bool probe = !want_probe;
  assert_true(fb_breaker_allow(b, now, &probe));
  assert_int_equal(probe, want_probe);
}

static void assert_refuses(fb_breaker *b, double now) {
  bool probe = true;
  assert_false(fb_breaker_allow(b, now, &probe));
  assert_false(probe);
}

static void test_opens_after_consecutive_failures(void **st) {
  (void)st;
  fb_breaker b;
  fb_breaker_init(&b, 3, 1000);
  for (int i = 0; i < 2; i++) {
    assert_allows(&b, 0, false);
    fb_breaker_failure(&b, false, 0);
  }
  /* A success in between resets the count: two more failures keep it closed. */
  fb_breaker_success(&b, false);
  for (int i = 0; i < 2; i++) fb_breaker_failure(&b, false, 10);
  assert_int_equal(b.state, FB_BREAKER_CLOSED);
  assert_allows(&b, 10, false);
  fb_breaker_failure(&b, false, 10);
  assert_int_equal(b.state, FB_BREAKER_OPEN);
  assert_refuses(&b, 10);
  assert_refuses(&b, 1009.9);
}

static void test_half_open_one_probe_success_closes(void **st) {
  (void)st;
  fb_breaker b;
  fb_breaker_init(&b, 1, 1000);
  fb_breaker_failure(&b, false, 500);
  assert_refuses(&b, 1499);
  assert_allows(&b, 1500, true);  /* the open period is over: this leg is the probe */
  assert_int_equal(b.state, FB_BREAKER_HALF_OPEN);
  assert_refuses(&b, 1501);       /* one probe at a time */
  assert_refuses(&b, 99999);
  fb_breaker_success(&b, true);
  assert_int_equal(b.state, FB_BREAKER_CLOSED);
  assert_int_equal(b.failures, 0);
  assert_allows(&b, 1502, false);
  assert_allows(&b, 1502, false);
}

static void test_half_open_probe_failure_reopens(void **st) {
  (void)st;
  fb_breaker b;
  fb_breaker_init(&b, 5, 1000);
  for (int i = 0; i < 5; i++) fb_breaker_failure(&b, false, 0);
  assert_allows(&b, 1000, true);
  fb_breaker_failure(&b, true, 1200);
  assert_int_equal(b.state, FB_BREAKER_OPEN);
  /* Open for another open_ms from the probe's failure, not from the first opening. */
  assert_refuses(&b, 2199);
  assert_allows(&b, 2200, true);
}

static void test_abandoned_probe_frees_the_slot(void **st) {
  (void)st;
  fb_breaker b;
  fb_breaker_init(&b, 1, 100);
  fb_breaker_failure(&b, false, 0);
  assert_allows(&b, 100, true);
  assert_refuses(&b, 101);
  fb_breaker_abandon(&b, true);       /* cancelled: no verdict */
  assert_int_equal(b.state, FB_BREAKER_HALF_OPEN);
  assert_allows(&b, 102, true);       /* the next leg becomes the probe */
  /* Abandoning a leg that was not the probe leaves the probe slot taken. */
  fb_breaker_abandon(&b, false);
  assert_refuses(&b, 103);
}

static void test_defaults_and_names(void **st) {
  (void)st;
  fb_breaker b;
  fb_breaker_init(&b, 0, 100);
  assert_int_equal(b.threshold, 5);
  assert_string_equal(fb_breaker_state_name(FB_BREAKER_CLOSED), "closed");
  assert_string_equal(fb_breaker_state_name(FB_BREAKER_OPEN), "open");
  assert_string_equal(fb_breaker_state_name(FB_BREAKER_HALF_OPEN), "half_open");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opens_after_consecutive_failures),
      cmocka_unit_test(test_half_open_one_probe_success_closes),
      cmocka_unit_test(test_half_open_probe_failure_reopens),
      cmocka_unit_test(test_abandoned_probe_frees_the_slot),
      cmocka_unit_test(test_defaults_and_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
