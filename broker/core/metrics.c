#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Several loop threads update series at once (workers): a counter or gauge is one
 * atomic double; a histogram's sum, count and buckets change together under the
 * series' own mutex, so a render never sees a count that its buckets disagree with.
 * The lists of families and series change under `registry`. */
struct fb_series {
  char *labels;
  _Atomic double value;    /* counter / gauge; histogram: sum (under mu) */
  double (*fn)(void *);
  void *fn_data;
  pthread_mutex_t mu;      /* histogram observations and their render */
  uint64_t *buckets;       /* histogram: cumulative at render, per-bucket here */
  uint64_t count;
  const double *bounds;    /* histogram: the family's bounds */
  size_t nbounds;
  struct fb_series *next;
};

typedef struct family {
  char *name;
  char *help;
  fb_metric_kind kind;
  double *bounds;
  size_t nbounds;
  fb_series *series;
  struct family *next;
} family;

static family *families;
static atomic_uint epoch;
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;

unsigned fb_metrics_epoch(void) { return atomic_load_explicit(&epoch, memory_order_relaxed); }

const double fb_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
const size_t fb_latency_nbuckets = FB_ARRAY_LEN(fb_latency_buckets);

static family *find_family(const char *name, const char *help, fb_metric_kind kind) {
  family **p = &families;
  for (; *p; p = &(*p)->next)
    if (strcmp((*p)->name, name) == 0) return *p;
  family *f = fb_xcalloc(1, sizeof *f);
  f->name = fb_xstrdup(name);
  f->help = fb_xstrdup(help);
  f->kind = kind;
  *p = f; /* append: render order = creation order */
  return f;
}

static fb_series *find_series(family *f, const char *labels) {
  fb_series **p = &f->series;
  for (; *p; p = &(*p)->next)
    if (strcmp((*p)->labels, labels) == 0) return *p;
  fb_series *s = fb_xcalloc(1, sizeof *s);
  atomic_init(&s->value, 0.0);
  pthread_mutex_init(&s->mu, NULL);
  s->labels = fb_xstrdup(labels ? labels : "");
  if (f->kind == FB_METRIC_HISTOGRAM) {
    s->buckets = fb_xcalloc(f->nbounds + 1, sizeof *s->buckets);
    s->bounds = f->bounds;
    s->nbounds = f->nbounds;
  }
  *p = s;
  return s;
}

fb_series *fb_metric(fb_metric_kind kind, const char *name, const char *help, const char *labels) {
  if (kind == FB_METRIC_HISTOGRAM)
    return fb_metric_histogram(name, help, labels, fb_latency_buckets, fb_latency_nbuckets);
  pthread_mutex_lock(&registry);
  fb_series *s = find_series(find_family(name, help, kind), labels ? labels : "");
  pthread_mutex_unlock(&registry);
  return s;
}

fb_series *fb_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds, size_t nbounds) {
  pthread_mutex_lock(&registry);
  family *f = find_family(name, help, FB_METRIC_HISTOGRAM);
  if (!f->bounds) {
    f->bounds = fb_xmalloc(nbounds * sizeof *bounds);
    memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->nbounds = nbounds;
  }
  fb_series *s = find_series(f, labels ? labels : "");
  pthread_mutex_unlock(&registry);
  return s;
}

void fb_series_add(fb_series *s, double v) {
  double old = atomic_load_explicit(&s->value, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&s->value, &old, old + v, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

void fb_series_set(fb_series *s, double v) { atomic_store_explicit(&s->value, v, memory_order_relaxed); }

void fb_series_observe(fb_series *s, double v) {
  size_t i = 0;
  while (i < s->nbounds && v > s->bounds[i]) i++;
  pthread_mutex_lock(&s->mu);
  atomic_store_explicit(&s->value, atomic_load_explicit(&s->value, memory_order_relaxed) + v, memory_order_relaxed);
  s->count++;
  s->buckets[i]++;
  pthread_mutex_unlock(&s->mu);
}

static void metric_fn(fb_metric_kind kind, const char *name, const char *help, const char *labels,
                      double (*fn)(void *), void *data) {
  pthread_mutex_lock(&registry);
  fb_series *s = find_series(find_family(name, help, kind), labels ? labels : "");
  s->fn = fn;
  s->fn_data = data;
  pthread_mutex_unlock(&registry);
}

void fb_metric_gauge_fn(const char *name, const char *help, const char *labels,
                        double (*fn)(void *), void *data) {
  metric_fn(FB_METRIC_GAUGE, name, help, labels, fn, data);
}

void fb_metric_counter_fn(const char *name, const char *help, const char *labels,
                          double (*fn)(void *), void *data) {
  metric_fn(FB_METRIC_COUNTER, name, help, labels, fn, data);
}

static void put_labels(fb_buf *out, const char *labels, const char *extra) {
  bool has = labels && *labels;
  if (!has && !extra) return;
  fb_buf_putc(out, '{');
  if (has) fb_buf_puts(out, labels);
  if (extra) {
    if (has) fb_buf_putc(out, ',');
    fb_buf_puts(out, extra);
  }
  fb_buf_putc(out, '}');
}

void fb_metrics_render(fb_buf *out) {
  static const char *const kinds[] = {"counter", "gauge", "histogram"};
  pthread_mutex_lock(&registry);
  for (family *f = families; f; f = f->next) {
    fb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kinds[f->kind]);
    for (fb_series *s = f->series; s; s = s->next) {
      if (f->kind != FB_METRIC_HISTOGRAM) {
        double v = s->fn ? s->fn(s->fn_data) : atomic_load_explicit(&s->value, memory_order_relaxed);
        fb_buf_puts(out, f->name);
        put_labels(out, s->labels, NULL);
        fb_buf_printf(out, " %.17g\n", v);
        continue;
      }
      uint64_t cum = 0;
      pthread_mutex_lock(&s->mu);
      for (size_t i = 0; i <= f->nbounds; i++) {
        char le[48];
        cum += s->buckets[i];
        if (i < f->nbounds) snprintf(le, sizeof le, "le=\"%g\"", f->bounds[i]);
        else snprintf(le, sizeof le, "le=\"+Inf\"");
        fb_buf_printf(out, "%s_bucket", f->name);
        put_labels(out, s->labels, le);
        fb_buf_printf(out, " %llu\n", (unsigned long long)cum);
      }
      fb_buf_printf(out, "%s_sum", f->name);
      put_labels(out, s->labels, NULL);
      fb_buf_printf(out, " %.17g\n%s_count", atomic_load_explicit(&s->value, memory_order_relaxed), f->name);
      put_labels(out, s->labels, NULL);
      fb_buf_printf(out, " %llu\n", (unsigned long long)s->count);
      pthread_mutex_unlock(&s->mu);
    }
  }
  pthread_mutex_unlock(&registry);
}

void fb_metrics_reset(void) {
  pthread_mutex_lock(&registry);
  atomic_fetch_add(&epoch, 1);
  while (families) {
    family *f = families;
    families = f->next;
    while (f->series) {
      fb_series *s = f->series;
      f->series = s->next;
      free(s->labels);
      free(s->buckets);
      pthread_mutex_destroy(&s->mu);
      free(s);
    }
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
  }
  pthread_mutex_unlock(&registry);
}
