/* Monitoring and evaluation: counts and latency percentiles per requester state ×
 * responding state × purpose × outcome (GET /v1/stats). Latencies go into log-spaced
 * buckets (about 5% wide), so memory per series is fixed and p50/p99 are accurate to a
 * bucket. Counts are kept since the process started. Each call takes the stats' own
 * lock: the searches of every worker record outside the hub lock. */
#ifndef FB_SEARCH_STATS_H
#define FB_SEARCH_STATS_H

#include <jansson.h>

typedef struct fb_stats fb_stats;

fb_stats *fb_stats_new(void);
void fb_stats_free(fb_stats *s);
/* latency_ms < 0 when the outcome had no leg (denied, unavailable). */
void fb_stats_record(fb_stats *s, const char *from, const char *to, const char *purpose, const char *outcome,
                     double latency_ms);
/* Adds every series of `src` to `dst` (counts and latency buckets). */
void fb_stats_merge(fb_stats *dst, const fb_stats *src);
/* {"stats": [{"from","to","purpose","outcome","count","latency_ms_p50","latency_ms_p99"}]} */
json_t *fb_stats_json(fb_stats *s);

/* The latency buckets, for other aggregations over the same scale (hub/report.c). */
/* 0.05 ms * 1.05^319 is about 4.8 minutes: every configurable deadline a leg could
 * reach in practice (the routine default is 15 s) gets its own bucket. */
#define FB_STATS_BUCKETS 320
int fb_stats_bucket(double ms);
double fb_stats_bucket_ms(int bucket);

#endif
