/* A small Prometheus registry (text format 0.0.4): counters, gauges and histograms,
 * grouped in families by name, each series identified by its label text
 * (`route="/healthz",status="200"`). Series are created on first use and live for the
 * process. Any thread may update a series (workers): counters and gauges are atomic,
 * a histogram's observation takes its series' mutex; the registry's lists have a
 * mutex of their own. Callers on a hot path keep the series pointer instead of looking
 * it up each time. A gauge or counter read through a function (…_fn) is read at
 * render time by the thread that renders. */
#ifndef FB_CORE_METRICS_H
#define FB_CORE_METRICS_H

#include <stddef.h>

#include "core/util.h"

typedef struct fb_series fb_series;

typedef enum { FB_METRIC_COUNTER, FB_METRIC_GAUGE, FB_METRIC_HISTOGRAM } fb_metric_kind;

/* The series `name{labels}`; the family is created with `help` on first use. For
 * histograms, `bounds` (ascending, without +Inf) is taken from the first call. */
fb_series *fb_metric(fb_metric_kind kind, const char *name, const char *help, const char *labels);
fb_series *fb_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds, size_t nbounds);

void fb_series_add(fb_series *s, double v);      /* counter / gauge */
void fb_series_set(fb_series *s, double v);      /* gauge */
void fb_series_observe(fb_series *s, double v);  /* histogram */

/* Gauge whose value is read at render time. */
void fb_metric_gauge_fn(const char *name, const char *help, const char *labels,
                        double (*fn)(void *), void *data);

/* Counter whose value is read at render time (it only grows). */
void fb_metric_counter_fn(const char *name, const char *help, const char *labels,
                          double (*fn)(void *), void *data);

/* Appends every family in the text exposition format. */
void fb_metrics_render(fb_buf *out);

/* Frees everything (tests and orderly shutdown). Series pointers kept by callers are
 * invalid afterwards; fb_metrics_epoch() changes so caches can tell. */
void fb_metrics_reset(void);
unsigned fb_metrics_epoch(void);

/* Default latency buckets in seconds, 0.5 ms .. 10 s. */
extern const double fb_latency_buckets[];
extern const size_t fb_latency_nbuckets;

#endif
