/* Statistics (search/stats.c): counts per from x to x purpose x outcome, latency
 * percentiles to a bucket (about 5 %), sorted output, and the bound on series. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "search/stats.h"

static json_t *rows(fb_stats *s) {
  json_t *j = fb_stats_json(s);
  json_t *r = json_incref(json_object_get(j, "stats"));
  json_decref(j);
  assert_true(json_is_array(r));
  return r;
}

static void test_counts_and_order(void **st) {
  (void)st;
  fb_stats *s = fb_stats_new();
  fb_stats_record(s, "PHL", "THA", "prosecution", "shared", 12.0);
  fb_stats_record(s, "PHL", "THA", "prosecution", "denied", -1);
  fb_stats_record(s, "PHL", "MYS", "prosecution", "denied", -1);
  fb_stats_record(s, "PHL", "MYS", "prosecution", "shared", 10.0);
  fb_stats_record(s, "PHL", "MYS", "prosecution", "shared", 10.0);
  fb_stats_record(s, "IDN", "MYS", "prosecution", "shared", 10.0);
  json_t *r = rows(s);
  assert_int_equal(json_array_size(r), 5);
  /* Sorted by from, to, purpose, outcome. */
  const char *want[][3] = {{"IDN", "MYS", "shared"}, {"PHL", "MYS", "denied"}, {"PHL", "MYS", "shared"},
                           {"PHL", "THA", "denied"}, {"PHL", "THA", "shared"}};
  const json_int_t counts[] = {1, 1, 2, 1, 1};
  for (size_t i = 0; i < 5; i++) {
    json_t *row = json_array_get(r, i);
    assert_string_equal(json_string_value(json_object_get(row, "from")), want[i][0]);
    assert_string_equal(json_string_value(json_object_get(row, "to")), want[i][1]);
    assert_string_equal(json_string_value(json_object_get(row, "outcome")), want[i][2]);
    assert_string_equal(json_string_value(json_object_get(row, "purpose")), "prosecution");
    assert_int_equal(json_integer_value(json_object_get(row, "count")), counts[i]);
  }
  /* An outcome without a leg has no latency. */
  assert_true(json_is_null(json_object_get(json_array_get(r, 1), "latency_ms_p50")));
  assert_true(json_is_null(json_object_get(json_array_get(r, 1), "latency_ms_p99")));
  json_decref(r);
  fb_stats_free(s);
}

static void assert_within_bucket(double got, double want) {
  if (fabs(got - want) > want * 0.05 + 0.1) fail_msg("%g is not within a bucket of %g", got, want);
}

static void test_percentiles(void **st) {
  (void)st;
  fb_stats *s = fb_stats_new();
  for (int ms = 1; ms <= 1000; ms++) fb_stats_record(s, "PHL", "MYS", "prosecution", "shared", ms);
  /* Counted, not timed: percentiles are over the timed ones only. */
  for (int i = 0; i < 1000; i++) fb_stats_record(s, "PHL", "MYS", "prosecution", "shared", -1);
  json_t *r = rows(s);
  json_t *row = json_array_get(r, 0);
  assert_int_equal(json_integer_value(json_object_get(row, "count")), 2000);
  assert_within_bucket(json_number_value(json_object_get(row, "latency_ms_p50")), 500);
  assert_within_bucket(json_number_value(json_object_get(row, "latency_ms_p99")), 990);
  json_decref(r);
  fb_stats_free(s);
}

static void test_buckets(void **st) {
  (void)st;
  assert_int_equal(fb_stats_bucket(0), 0);
  assert_int_equal(fb_stats_bucket(0.05), 0);
  /* Capped, never past the array: the last bucket (about 4.8 minutes) takes anything longer. */
  assert_int_equal(fb_stats_bucket(1e12), FB_STATS_BUCKETS - 1);
  assert_int_equal(fb_stats_bucket(3e5), FB_STATS_BUCKETS - 1);
  /* Below the cap, every deadline a leg can time out at reads back as itself: the
   * routine default (15 s) used to fall into a last bucket of 12.7 s. */
  assert_true(fb_stats_bucket(15000) < FB_STATS_BUCKETS - 1);
  assert_true(fb_stats_bucket(120000) < FB_STATS_BUCKETS - 1);
  int prev = 0;
  for (double ms = 0.06; ms < 250000; ms *= 1.3) {
    int b = fb_stats_bucket(ms);
    assert_true(b >= prev);
    prev = b;
    double back = fb_stats_bucket_ms(b);
    if (fabs(back - ms) > ms * 0.06) fail_msg("bucket %d of %g ms reads back as %g", b, ms, back);
  }
}

/* Legs that ran into the routine deadline (15 s) report it as their latency, not the
 * top of a scale that ended earlier. */
static void test_deadline_latency(void **st) {
  (void)st;
  fb_stats *s = fb_stats_new();
  for (int i = 0; i < 10; i++) fb_stats_record(s, "PHL", "MYS", "prosecution", "timeout", 15000);
  json_t *r = rows(s);
  json_t *row = json_array_get(r, 0);
  assert_within_bucket(json_number_value(json_object_get(row, "latency_ms_p50")), 15000);
  assert_within_bucket(json_number_value(json_object_get(row, "latency_ms_p99")), 15000);
  json_decref(r);
  fb_stats_free(s);
}

/* Whatever the traffic, the number of series is bounded; existing series still count. */
static void test_series_bound(void **st) {
  (void)st;
  fb_stats *s = fb_stats_new();
  char purpose[24];
  for (int i = 0; i < 20010; i++) {
    snprintf(purpose, sizeof purpose, "p%d", i);
    fb_stats_record(s, "PHL", "MYS", purpose, "shared", 1);
  }
  fb_stats_record(s, "PHL", "MYS", "p0", "shared", 1);
  json_t *r = rows(s);
  assert_int_equal(json_array_size(r), 20000);
  size_t i;
  json_t *row;
  bool found = false;
  json_array_foreach(r, i, row) {
    const char *p = json_string_value(json_object_get(row, "purpose"));
    assert_string_not_equal(p, "p20005");
    if (strcmp(p, "p0") == 0) {
      found = true;
      assert_int_equal(json_integer_value(json_object_get(row, "count")), 2);
    }
  }
  assert_true(found);
  json_decref(r);
  fb_stats_free(s);
}

/* Merging adds counts and latencies into existing series and creates the others. */
static void test_merge(void **st) {
  (void)st;
  fb_stats *live = fb_stats_new(), *replayed = fb_stats_new();
  for (int i = 0; i < 10; i++) fb_stats_record(live, "PHL", "MYS", "prosecution", "shared", 10);
  for (int i = 0; i < 30; i++) fb_stats_record(replayed, "PHL", "MYS", "prosecution", "shared", 100);
  fb_stats_record(replayed, "PHL", "THA", "prosecution", "denied", -1);
  fb_stats_merge(live, replayed);
  fb_stats_free(replayed);
  json_t *r = rows(live);
  assert_int_equal(json_array_size(r), 2);
  json_t *mys = json_array_get(r, 0);
  assert_int_equal(json_integer_value(json_object_get(mys, "count")), 40);
  /* 30 of 40 latencies are 100 ms: the median moved there. */
  assert_within_bucket(json_number_value(json_object_get(mys, "latency_ms_p50")), 100);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 1), "count")), 1);
  json_decref(r);
  fb_stats_free(live);
}

/* Names longer than their fields are stored cut, and find the same series again. */
static void test_long_names_one_series(void **st) {
  (void)st;
  fb_stats *s = fb_stats_new();
  const char *purpose = "a_purpose_much_longer_than_its_field";
  fb_stats_record(s, "PHLXXXXXXX", "MYS", purpose, "shared", 1);
  fb_stats_record(s, "PHLXXXXXXX", "MYS", purpose, "shared", 1);
  json_t *r = rows(s);
  assert_int_equal(json_array_size(r), 1);
  json_t *row = json_array_get(r, 0);
  assert_int_equal(json_integer_value(json_object_get(row, "count")), 2);
  assert_string_equal(json_string_value(json_object_get(row, "from")), "PHLXXXX");
  assert_string_equal(json_string_value(json_object_get(row, "purpose")), "a_purpose_much_longer_t");
  json_decref(r);
  fb_stats_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_and_order),
      cmocka_unit_test(test_percentiles),
      cmocka_unit_test(test_buckets),
      cmocka_unit_test(test_deadline_latency),
      cmocka_unit_test(test_series_bound),
      cmocka_unit_test(test_merge),
      cmocka_unit_test(test_long_names_one_series),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
