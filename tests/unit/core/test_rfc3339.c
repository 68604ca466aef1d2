/* fb_rfc3339_from_ms writes the digits itself for the common dates: byte for byte what
 * snprintf's "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" of gmtime_r gives, at the edges of
 * every field (leap days, the ends of months and years, 0 and 999 ms) and beyond the
 * years it writes itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/util.h"

static void reference(int64_t ms, char out[FB_RFC3339_LEN]) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, FB_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void same(int64_t ms) {
  char want[FB_RFC3339_LEN], got[FB_RFC3339_LEN];
  reference(ms, want);
  memset(got, 'x', sizeof got);
  fb_rfc3339_from_ms(ms, got);
  if (strcmp(got, want) != 0) fail_msg("%lld ms: %s, want %s", (long long)ms, got, want);
}

static void test_edges(void **state) {
  (void)state;
  char t[FB_RFC3339_LEN];
  fb_rfc3339_from_ms(1764567374123, t);
  assert_string_equal(t, "2025-12-01T05:36:14.123Z");
  fb_rfc3339_from_ms(0, t);
  assert_string_equal(t, "1970-01-01T00:00:00.000Z");
  static const int64_t days[] = {0, 58, 59, 365, 789, 10957, 11016, 11017, 20453, 20454, 2932896};
  for (size_t i = 0; i < sizeof days / sizeof days[0]; i++)
    for (int64_t ms = -1000; ms <= 1000; ms += 1)
      same(days[i] * 86400000 + ms);
  same(253402300799999); /* 9999-12-31T23:59:59.999Z, the last the digits are written for */
  same(253402300800000); /* year 10000: snprintf */
  same(-1);
  same(-86400001);
  /* a pseudo-random walk over the years 1970 to 2300 */
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    same((int64_t)(x % 10413792000000ull));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_edges)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
