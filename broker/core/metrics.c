#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Several loop threads update series at once (workers). So that they do not share a
 * cache line per update, a counter's or histogram's value lives in per-thread slots,
 * summed when rendered: each updating thread takes a slot of its own the first time
 * it updates any series (slots are per thread, not per series), up to
 * FB_METRIC_SLOTS - 1 threads; later threads share the last slot. A slot's cell is
 * allocated the first time its thread updates that series, so a series costs memory
 * only for the threads that touch it.
 *
 * A thread with its own slot writes its cell without a lock or a read-modify-write:
 * a counter is one relaxed load and store; a histogram's sum, count and bucket change
 * under a sequence count, so a render never sees a count its buckets disagree with (it
 * re-reads a cell caught mid-update). The shared slot's writers take the series'
 * mutex around the same protocol. Gauges are set as well as added, so a gauge keeps
 * one atomic value. The lists of families and series change under `registry`. */
#define FB_METRIC_SLOTS 16
#define SHARED_SLOT (FB_METRIC_SLOTS - 1)

typedef struct cell {
  _Atomic unsigned seq;     /* histogram: odd while its thread updates it */
  _Atomic double value;     /* counter: the slot's total; histogram: its sum */
  _Atomic uint64_t count;   /* histogram */
  _Atomic uint64_t buckets[]; /* histogram: per-bucket (cumulative at render) */
} cell;

struct fb_series {
  char *labels;
  fb_metric_kind kind;
  _Atomic double value;    /* gauge */
  double (*fn)(void *);
  void *fn_data;
  pthread_mutex_t mu;      /* the shared slot's writers */
  _Atomic(cell *) cells[FB_METRIC_SLOTS];
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
static atomic_uint slots_taken;
static _Thread_local unsigned my_slot_plus_one; /* 0: not taken yet */

unsigned fb_metrics_epoch(void) { return atomic_load_explicit(&epoch, memory_order_relaxed); }

const double fb_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
const size_t fb_latency_nbuckets = FB_ARRAY_LEN(fb_latency_buckets);

static unsigned my_slot(void) {
  if (!my_slot_plus_one) {
    unsigned n = atomic_fetch_add_explicit(&slots_taken, 1, memory_order_relaxed);
    my_slot_plus_one = (n < SHARED_SLOT ? n : SHARED_SLOT) + 1;
  }
  return my_slot_plus_one - 1;
}

/* The cell of `slot` in `s`, allocated on its first update. Only the slot's own thread
 * (or, for the shared slot, a writer holding s->mu) allocates it; the renderer reads
 * the pointer with acquire, so it sees a zeroed cell or none. */
static cell *slot_cell(fb_series *s, unsigned slot) {
  cell *c = atomic_load_explicit(&s->cells[slot], memory_order_relaxed);
  if (c) return c;
  size_t n = s->kind == FB_METRIC_HISTOGRAM ? s->nbounds + 1 : 0;
  c = fb_xcalloc(1, sizeof *c + n * sizeof c->buckets[0]);
  atomic_store_explicit(&s->cells[slot], c, memory_order_release);
  return c;
}

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
  s->kind = f->kind;
  atomic_init(&s->value, 0.0);
  pthread_mutex_init(&s->mu, NULL);
  s->labels = fb_xstrdup(labels ? labels : "");
  if (f->kind == FB_METRIC_HISTOGRAM) {
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

static void add_double(_Atomic double *v, double d) {
  double old = atomic_load_explicit(v, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(v, &old, old + d, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

void fb_series_add(fb_series *s, double v) {
  if (s->kind == FB_METRIC_GAUGE) {
    add_double(&s->value, v);
    return;
  }
  unsigned slot = my_slot();
  if (slot == SHARED_SLOT) {
    pthread_mutex_lock(&s->mu);
    add_double(&slot_cell(s, slot)->value, v);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  cell *c = slot_cell(s, slot); /* this thread is the cell's only writer */
  atomic_store_explicit(&c->value, atomic_load_explicit(&c->value, memory_order_relaxed) + v,
                        memory_order_relaxed);
}

void fb_series_set(fb_series *s, double v) { atomic_store_explicit(&s->value, v, memory_order_relaxed); }

/* One writer at a time per cell (its thread, or the shared slot's mutex holder). A
 * seqlock without fences (which ThreadSanitizer cannot follow): the fields are stored
 * with release after the odd count, so a render that reads any of them with acquire
 * then sees the count moved, and reads the cell again. */
static void observe_cell(cell *c, size_t bucket, double v) {
  unsigned seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
  atomic_store_explicit(&c->seq, seq + 1, memory_order_relaxed);
  atomic_store_explicit(&c->value, atomic_load_explicit(&c->value, memory_order_relaxed) + v,
                        memory_order_release);
  atomic_store_explicit(&c->count, atomic_load_explicit(&c->count, memory_order_relaxed) + 1,
                        memory_order_release);
  atomic_store_explicit(&c->buckets[bucket],
                        atomic_load_explicit(&c->buckets[bucket], memory_order_relaxed) + 1,
                        memory_order_release);
  atomic_store_explicit(&c->seq, seq + 2, memory_order_release);
}

void fb_series_observe(fb_series *s, double v) {
  size_t i = 0;
  while (i < s->nbounds && v > s->bounds[i]) i++;
  unsigned slot = my_slot();
  if (slot == SHARED_SLOT) {
    pthread_mutex_lock(&s->mu);
    observe_cell(slot_cell(s, slot), i, v);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  observe_cell(slot_cell(s, slot), i, v);
}

/* A counter's total: the sum of its threads' slots. */
static double counter_total(fb_series *s) {
  double total = 0;
  for (unsigned i = 0; i < FB_METRIC_SLOTS; i++) {
    cell *c = atomic_load_explicit(&s->cells[i], memory_order_acquire);
    if (c) total += atomic_load_explicit(&c->value, memory_order_relaxed);
  }
  return total;
}

/* A histogram's sum, count and per-bucket counts (`buckets`, nbounds + 1 zeroed by the
 * caller; `tmp` as many scratch) over all slots, each slot read whole: a cell caught mid-update is read again. */
static void histogram_total(fb_series *s, double *sum, uint64_t *count, uint64_t *buckets,
                            uint64_t *tmp) {
  size_t nb = s->nbounds + 1;
  for (unsigned i = 0; i < FB_METRIC_SLOTS; i++) {
    cell *c = atomic_load_explicit(&s->cells[i], memory_order_acquire);
    if (!c) continue;
    double csum;
    uint64_t ccount;
    for (;;) {
      unsigned before = atomic_load_explicit(&c->seq, memory_order_acquire);
      if (before & 1) continue;
      csum = atomic_load_explicit(&c->value, memory_order_acquire);
      ccount = atomic_load_explicit(&c->count, memory_order_acquire);
      for (size_t b = 0; b < nb; b++) tmp[b] = atomic_load_explicit(&c->buckets[b], memory_order_acquire);
      if (atomic_load_explicit(&c->seq, memory_order_relaxed) == before) break;
    }
    *sum += csum;
    *count += ccount;
    for (size_t b = 0; b < nb; b++) buckets[b] += tmp[b];
  }
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
        double v = s->fn                          ? s->fn(s->fn_data)
                   : f->kind == FB_METRIC_GAUGE ? atomic_load_explicit(&s->value, memory_order_relaxed)
                                                : counter_total(s);
        fb_buf_puts(out, f->name);
        put_labels(out, s->labels, NULL);
        fb_buf_printf(out, " %.17g\n", v);
        continue;
      }
      double sum = 0;
      uint64_t count = 0, cum = 0;
      uint64_t *buckets = fb_xcalloc(2 * (f->nbounds + 1), sizeof *buckets);
      histogram_total(s, &sum, &count, buckets, buckets + f->nbounds + 1);
      for (size_t i = 0; i <= f->nbounds; i++) {
        char le[48];
        cum += buckets[i];
        if (i < f->nbounds) snprintf(le, sizeof le, "le=\"%g\"", f->bounds[i]);
        else snprintf(le, sizeof le, "le=\"+Inf\"");
        fb_buf_printf(out, "%s_bucket", f->name);
        put_labels(out, s->labels, le);
        fb_buf_printf(out, " %llu\n", (unsigned long long)cum);
      }
      fb_buf_printf(out, "%s_sum", f->name);
      put_labels(out, s->labels, NULL);
      fb_buf_printf(out, " %.17g\n%s_count", sum, f->name);
      put_labels(out, s->labels, NULL);
      fb_buf_printf(out, " %llu\n", (unsigned long long)count);
      free(buckets);
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
      for (unsigned i = 0; i < FB_METRIC_SLOTS; i++) free(atomic_load(&s->cells[i]));
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
