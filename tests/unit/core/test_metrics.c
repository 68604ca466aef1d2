/* The Prometheus registry (core/metrics.c): one series per name and labels, counters,
 * gauges read at render time, cumulative histogram buckets (a value equal to a bound
 * falls in that bucket), families in creation order, and reset; several threads
 * (workers) adding, observing, creating series and rendering at once lose nothing and
 * never render a histogram whose count and buckets disagree — threads with a slot of
 * their own and threads sharing the last slot alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

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

/* More threads than the registry has slots (16), so some share the last slot. */
#define THREADS 20
#define ROUNDS 20000

typedef struct {
  fb_series *counter, *hist;
  int id;
} adder_arg;

static void adder(void *arg) {
  adder_arg *a = arg;
  char labels[32];
  snprintf(labels, sizeof labels, "thread=\"%d\"", a->id);
  /* Created while the other threads create theirs and update the shared ones. */
  fb_series *own = fb_metric(FB_METRIC_COUNTER, "t_own_total", "Per thread", labels);
  for (int i = 0; i < ROUNDS; i++) {
    fb_series_add(a->counter, 1);
    fb_series_observe(a->hist, (i & 1) ? 0.5 : 5);
    fb_series_add(own, 1);
  }
}

static atomic_bool adders_done;
static int inconsistent_renders;

/* Every render while the adders run: the +Inf bucket equals the count. */
static void renderer(void *arg) {
  (void)arg;
  while (!atomic_load(&adders_done)) {
    char *text = render();
    const char *inf = strstr(text, "t_par_seconds_bucket{le=\"+Inf\"} ");
    const char *count = strstr(text, "t_par_seconds_count ");
    if (inf && count) {
      unsigned long long a = strtoull(inf + strlen("t_par_seconds_bucket{le=\"+Inf\"} "), NULL, 10);
      unsigned long long b = strtoull(count + strlen("t_par_seconds_count "), NULL, 10);
      if (a != b) inconsistent_renders++;
    }
    free(text);
  }
}

static void test_threads(void **st) {
  (void)st;
  static const double bounds[] = {1};
  adder_arg args[THREADS];
  fb_series *counter = fb_metric(FB_METRIC_COUNTER, "t_par_total", "Shared", NULL);
  fb_series *hist = fb_metric_histogram("t_par_seconds", "Shared", NULL, bounds, 1);
  atomic_store(&adders_done, false);
  inconsistent_renders = 0;
  uv_thread_t t[THREADS], r;
  assert_int_equal(uv_thread_create(&r, renderer, NULL), 0);
  for (int i = 0; i < THREADS; i++) {
    args[i] = (adder_arg){counter, hist, i};
    assert_int_equal(uv_thread_create(&t[i], adder, &args[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) uv_thread_join(&t[i]);
  atomic_store(&adders_done, true);
  uv_thread_join(&r);
  assert_int_equal(inconsistent_renders, 0);
  char *text = render();
  char want[128];
  snprintf(want, sizeof want, "t_par_total %d\n", THREADS * ROUNDS);
  assert_contains(text, want);
  snprintf(want, sizeof want, "t_par_seconds_bucket{le=\"1\"} %d\n", THREADS * ROUNDS / 2);
  assert_contains(text, want);
  snprintf(want, sizeof want, "t_par_seconds_count %d\n", THREADS * ROUNDS);
  assert_contains(text, want);
  snprintf(want, sizeof want, "t_par_seconds_sum %d\n", THREADS * ROUNDS / 2 * 5 + THREADS * ROUNDS / 4);
  assert_contains(text, want);
  for (int i = 0; i < THREADS; i++) {
    snprintf(want, sizeof want, "t_own_total{thread=\"%d\"} %d\n", i, ROUNDS);
    assert_contains(text, want);
  }
  free(text);
}

/* A render that reads a histogram while its threads observe as fast as they can: a
 * small registry, so renders are many (a few hundred thousand in the test's 300 ms).
 * Without the per-slot sequence count the +Inf bucket and the count part ways. */
static fb_series *busy_hist;

static void busy_observer(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&adders_done, memory_order_relaxed))
    for (int i = 0; i < 1000; i++) fb_series_observe(busy_hist, (i & 1) ? 0.5 : 5);
}

static void test_render_during_observes(void **st) {
  (void)st;
  static const double bounds[] = {1};
  busy_hist = fb_metric_histogram("t_busy_seconds", "Busy", NULL, bounds, 1);
  atomic_store(&adders_done, false);
  uv_thread_t t[2];
  for (int i = 0; i < 2; i++) assert_int_equal(uv_thread_create(&t[i], busy_observer, NULL), 0);
  int renders = 0, inconsistent = 0;
  uint64_t end = uv_hrtime() + 300 * 1000000ull;
  const char *inf_key = "t_busy_seconds_bucket{le=\"+Inf\"} ", *count_key = "t_busy_seconds_count ";
  while (uv_hrtime() < end) {
    char *text = render();
    const char *inf = strstr(text, inf_key), *count = strstr(text, count_key);
    if (inf && count &&
        strtoull(inf + strlen(inf_key), NULL, 10) != strtoull(count + strlen(count_key), NULL, 10))
      inconsistent++;
    renders++;
    free(text);
  }
  atomic_store(&adders_done, true);
  for (int i = 0; i < 2; i++) uv_thread_join(&t[i]);
  assert_true(renders > 100);
  assert_int_equal(inconsistent, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_counter_and_gauge, teardown),
      cmocka_unit_test_teardown(test_gauge_fn_read_at_render, teardown),
      cmocka_unit_test_teardown(test_histogram, teardown),
      cmocka_unit_test_teardown(test_reset, teardown),
      cmocka_unit_test_teardown(test_threads, teardown),
      cmocka_unit_test_teardown(test_render_during_observes, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
