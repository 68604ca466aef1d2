/* The Prometheus registry (core/metrics.c): one series per name and labels, counters,
 * gauges read at render time, cumulative histogram buckets (a value equal to a bound
 * falls in that bucket), families in creation order, and reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"

static char *render(void) {
  fb_buf b = {0};
  fb_metrics_render(&b);
  return fb_buf_steal(&b);
}

static void assert_contains(const char *text, const char *want) {
  if (!strstr(text, want)) fail_msg("missing:\n%s\nin:\n%s", want, text);
}

static int teardown(void **st) {
  (void)st;
  fb_metrics_reset();
  return 0;
}

static void test_counter_and_gauge(void **st) {
  (void)st;
  fb_series *a = fb_metric(FB_METRIC_COUNTER, "t_requests_total", "Requests", "route=\"/x\"");
  fb_series *b = fb_metric(FB_METRIC_COUNTER, "t_requests_total", "ignored", "route=\"/y\"");
  assert_ptr_equal(fb_metric(FB_METRIC_COUNTER, "t_requests_total", "Requests", "route=\"/x\""), a);
  assert_ptr_not_equal(a, b);
  fb_series_add(a, 2);
  fb_series_add(a, 1);
  fb_series *g = fb_metric(FB_METRIC_GAUGE, "t_level", "A level", NULL);
  fb_series_set(g, 7);
  fb_series_set(g, 4.5);
  char *text = render();
  assert_string_equal(text, "# HELP t_requests_total Requests\n# TYPE t_requests_total counter\n"
                            "t_requests_total{route=\"/x\"} 3\n"
                            "t_requests_total{route=\"/y\"} 0\n"
                            "# HELP t_level A level\n# TYPE t_level gauge\n"
                            "t_level 4.5\n");
  free(text);
}

static double read_value(void *data) { return *(double *)data; }

static void test_gauge_fn_read_at_render(void **st) {
  (void)st;
  double v = 1;
  fb_metric_gauge_fn("t_live", "Read when rendered", "state=\"MYS\"", read_value, &v);
  char *t1 = render();
  assert_contains(t1, "t_live{state=\"MYS\"} 1\n");
  v = 42;
  char *t2 = render();
  assert_contains(t2, "t_live{state=\"MYS\"} 42\n");
  free(t1);
  free(t2);
}

static void test_histogram(void **st) {
  (void)st;
  static const double bounds[] = {0.1, 1, 10};
  fb_series *h = fb_metric_histogram("t_seconds", "Durations", "k=\"v\"", bounds, 3);
  fb_series_observe(h, 0.05);
  fb_series_observe(h, 1);     /* equal to a bound: counted in le="1" */
  fb_series_observe(h, 5);
  fb_series_observe(h, 100);   /* above every bound: only +Inf */
  char *text = render();
  assert_string_equal(text, "# HELP t_seconds Durations\n# TYPE t_seconds histogram\n"
                            "t_seconds_bucket{k=\"v\",le=\"0.1\"} 1\n"
                            "t_seconds_bucket{k=\"v\",le=\"1\"} 2\n"
                            "t_seconds_bucket{k=\"v\",le=\"10\"} 3\n"
                            "t_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n"
                            "t_seconds_sum{k=\"v\"} 106.05\n"
                            "t_seconds_count{k=\"v\"} 4\n");
  free(text);
  /* A later series of the family keeps the family's bounds. */
  fb_series *h2 = fb_metric(FB_METRIC_HISTOGRAM, "t_seconds", "Durations", NULL);
  fb_series_observe(h2, 0.5);
  text = render();
  assert_contains(text, "t_seconds_bucket{le=\"1\"} 1\n");
  assert_null(strstr(text, "t_seconds_bucket{le=\"0.0005\"}"));
  free(text);
}

static void test_reset(void **st) {
  (void)st;
  fb_series_add(fb_metric(FB_METRIC_COUNTER, "t_gone_total", "Gone", NULL), 1);
  unsigned e = fb_metrics_epoch();
  fb_metrics_reset();
  assert_int_not_equal(fb_metrics_epoch(), e);
  char *text = render();
  assert_string_equal(text, "");
  free(text);
  /* Created again from zero. */
  fb_series_add(fb_metric(FB_METRIC_COUNTER, "t_gone_total", "Gone", NULL), 1);
  text = render();
  assert_contains(text, "t_gone_total 1\n");
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_counter_and_gauge, teardown),
      cmocka_unit_test_teardown(test_gauge_fn_read_at_render, teardown),
      cmocka_unit_test_teardown(test_histogram, teardown),
      cmocka_unit_test_teardown(test_reset, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
