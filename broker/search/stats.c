#include "search/stats.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/keymap.h"
#include "core/util.h"

#define NBUCKETS FB_STATS_BUCKETS          /* 0.05 ms * 1.05^319 ≈ 4.8 min: longer counts there */
#define BASE_MS 0.05
#define GROWTH 1.05
#define MAX_SERIES 20000       /* bounds memory whatever the traffic */

typedef struct series {
  char from[8], to[8], purpose[24], outcome[16];
  uint64_t count, timed;
  uint32_t buckets[NBUCKETS];
  struct series *next;
} series;

struct fb_stats {
  pthread_mutex_t mu;  /* the searches of every worker record here, without the hub lock */
  series *head;
  size_t n;
  fb_keymap *index;    /* "from\nto\npurpose\noutcome" -> series *: one lookup per leg */
};

fb_stats *fb_stats_new(void) {
  fb_stats *s = fb_xcalloc(1, sizeof(fb_stats));
  pthread_mutex_init(&s->mu, NULL);
  s->index = fb_keymap_new(sizeof(series *));
  return s;
}

void fb_stats_free(fb_stats *s) {
  if (!s) return;
  while (s->head) {
    series *x = s->head;
    s->head = x->next;
    free(x);
  }
  fb_keymap_free(s->index);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static int bucket_of(double ms) {
  if (ms <= BASE_MS) return 0;
  int b = (int)(log(ms / BASE_MS) / log(GROWTH)) + 1;
  return b >= NBUCKETS ? NBUCKETS - 1 : b;
}

static double bucket_value(int b) { return b == 0 ? BASE_MS : BASE_MS * pow(GROWTH, b); }

int fb_stats_bucket(double ms) { return bucket_of(ms); }
double fb_stats_bucket_ms(int bucket) { return bucket_value(bucket); }

/* `s` cut to `max` - 1 bytes, at `p`; returns the end. */
static char *put_field(char *p, const char *s, size_t max) {
  size_t n = strnlen(s, max - 1);
  memcpy(p, s, n);
  return p + n;
}

/* The series of from x to x purpose x outcome, created if there is room; NULL when
 * MAX_SERIES are taken. The caller holds s->mu. */
static series *series_of(fb_stats *s, const char *from, const char *to, const char *purpose, const char *outcome) {
  /* Keyed by the names as stored (cut to their fields), so a long name finds its series. */
  enum { FROM = sizeof((series *)0)->from, TO = sizeof((series *)0)->to, PURPOSE = sizeof((series *)0)->purpose,
         OUTCOME = sizeof((series *)0)->outcome };
  char key[FROM + TO + PURPOSE + OUTCOME];
  char *p = put_field(key, from, FROM);
  *p++ = '\n';
  p = put_field(p, to, TO);
  *p++ = '\n';
  p = put_field(p, purpose, PURPOSE);
  *p++ = '\n';
  p = put_field(p, outcome, OUTCOME);
  size_t klen = (size_t)(p - key);
  series **slot = fb_keymap_get(s->index, key, klen, false);
  if (slot) return *slot;
  if (s->n >= MAX_SERIES) return NULL;
  series *x = fb_xcalloc(1, sizeof *x);
  snprintf(x->from, sizeof x->from, "%s", from);
  snprintf(x->to, sizeof x->to, "%s", to);
  snprintf(x->purpose, sizeof x->purpose, "%s", purpose);
  snprintf(x->outcome, sizeof x->outcome, "%s", outcome);
  x->next = s->head;
  s->head = x;
  s->n++;
  *(series **)fb_keymap_get(s->index, key, klen, true) = x;
  return x;
}

void fb_stats_record(fb_stats *s, const char *from, const char *to, const char *purpose, const char *outcome,
                     double latency_ms) {
  int bucket = latency_ms >= 0 ? bucket_of(latency_ms) : -1;
  pthread_mutex_lock(&s->mu);
  series *x = series_of(s, from, to, purpose, outcome);
  if (x) {
    x->count++;
    if (bucket >= 0) {
      x->timed++;
      x->buckets[bucket]++;
    }
  }
  pthread_mutex_unlock(&s->mu);
}

void fb_stats_merge(fb_stats *dst, const fb_stats *src) {
  pthread_mutex_lock(&dst->mu);
  for (const series *y = src->head; y; y = y->next) {
    series *x = series_of(dst, y->from, y->to, y->purpose, y->outcome);
    if (!x) break;
    x->count += y->count;
    x->timed += y->timed;
    for (int b = 0; b < NBUCKETS; b++) x->buckets[b] += y->buckets[b];
  }
  pthread_mutex_unlock(&dst->mu);
}

static json_t *percentile(const series *x, double q) {
  if (x->timed == 0) return json_null();
  uint64_t want = (uint64_t)ceil(q * (double)x->timed), seen = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    seen += x->buckets[b];
    if (seen >= want) return json_real(round(bucket_value(b) * 10) / 10);
  }
  return json_real(bucket_value(NBUCKETS - 1));
}

static int cmp_series(const void *a, const void *b) {
  const series *x = *(series *const *)a, *y = *(series *const *)b;
  int c;
  if ((c = strcmp(x->from, y->from))) return c;
  if ((c = strcmp(x->to, y->to))) return c;
  if ((c = strcmp(x->purpose, y->purpose))) return c;
  return strcmp(x->outcome, y->outcome);
}

json_t *fb_stats_json(fb_stats *s) {
  pthread_mutex_lock(&s->mu); /* read while workers record */
  series **all = fb_xcalloc(s->n ? s->n : 1, sizeof *all);
  size_t n = 0;
  for (series *x = s->head; x; x = x->next) all[n++] = x;
  qsort(all, n, sizeof *all, cmp_series);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    series *x = all[i];
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "from", x->from, "to", x->to,
                                         "purpose", x->purpose, "outcome", x->outcome, "count",
                                         (json_int_t)x->count, "latency_ms_p50", percentile(x, 0.5),
                                         "latency_ms_p99", percentile(x, 0.99)));
  }
  pthread_mutex_unlock(&s->mu);
  free(all);
  return json_pack("{s:o}", "stats", arr);
}
