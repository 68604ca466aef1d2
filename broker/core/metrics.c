#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_series {
  char *labels;
  double value;            /* counter / gauge; histogram: sum */
  double (*fn)(void *);
  void *fn_data;
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
static unsigned epoch;

unsigned fb_metrics_epoch(void) { return epoch; }

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
  return find_series(find_family(name, help, kind), labels ? labels : "");
}

fb_series *fb_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds, size_t nbounds) {
  family *f = find_family(name, help, FB_METRIC_HISTOGRAM);
  if (!f->bounds) {
    f->bounds = fb_xmalloc(nbounds * sizeof *bounds);
    memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->nbounds = nbounds;
  }
  return find_series(f, labels ? labels : "");
}

void fb_series_add(fb_series *s, double v) { s->value += v; }
void fb_series_set(fb_series *s, double v) { s->value = v; }

void fb_series_observe(fb_series *s, double v) {
  s->value += v;
  s->count++;
  size_t i = 0;
  while (i < s->nbounds && v > s->bounds[i]) i++;
  s->buckets[i]++;
}

void fb_metric_gauge_fn(const char *name, const char *help, const char *labels,
                        double (*fn)(void *), void *data) {
  fb_series *s = find_series(find_family(name, help, FB_METRIC_GAUGE), labels ? labels : "");
  s->fn = fn;
  s->fn_data = data;
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
  for (family *f = families; f; f = f->next) {
    fb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kinds[f->kind]);
    for (fb_series *s = f->series; s; s = s->next) {
      if (f->kind != FB_METRIC_HISTOGRAM) {
        double v = s->fn ? s->fn(s->fn_data) : s->value;
        fb_buf_puts(out, f->name);
        put_labels(out, s->labels, NULL);
        fb_buf_printf(out, " %.17g\n", v);
        continue;
      }
      uint64_t cum = 0;
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
      fb_buf_printf(out, " %.17g\n%s_count", s->value, f->name);
      put_labels(out, s->labels, NULL);
      fb_buf_printf(out, " %llu\n", (unsigned long long)s->count);
    }
  }
}

void fb_metrics_reset(void) {
  epoch++;
  while (families) {
    family *f = families;
    families = f->next;
    while (f->series) {
      fb_series *s = f->series;
      f->series = s->next;
      free(s->labels);
      free(s->buckets);
      free(s);
    }
    free(f->name);
    free(f->help);
    free(f->bounds);
    free(f);
  }
}
