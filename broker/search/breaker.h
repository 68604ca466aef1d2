/* A per-state circuit breaker. Closed: legs go out. After `failures` consecutive
 * failures (errors or timeouts) it opens: legs are refused (`unavailable`) for
 * `open_ms`. Then half-open: one probe leg goes out; success closes it, failure opens
 * it again. */
#ifndef FB_SEARCH_BREAKER_H
#define FB_SEARCH_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { FB_BREAKER_CLOSED = 0, FB_BREAKER_OPEN, FB_BREAKER_HALF_OPEN } fb_breaker_state;

typedef struct {
  fb_breaker_state state;
  uint32_t failures;       /* consecutive */
  uint32_t threshold;
  uint32_t open_ms;
  double open_until_ms;    /* monotonic */
  bool probe_in_flight;
} fb_breaker;

void fb_breaker_init(fb_breaker *b, uint32_t threshold, uint32_t open_ms);
/* May a leg go out now? In half-open state the first caller becomes the probe
 * (*is_probe set) and the others are refused until it reports. */
bool fb_breaker_allow(fb_breaker *b, double now_ms, bool *is_probe);
void fb_breaker_success(fb_breaker *b, bool was_probe);
void fb_breaker_failure(fb_breaker *b, bool was_probe, double now_ms);
/* A probe that ended without a verdict (cancelled) frees the probe slot. */
void fb_breaker_abandon(fb_breaker *b, bool was_probe);
const char *fb_breaker_state_name(fb_breaker_state s);

#endif
