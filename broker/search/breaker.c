#include "search/breaker.h"

void fb_breaker_init(fb_breaker *b, uint32_t threshold, uint32_t open_ms) {
  *b = (fb_breaker){.threshold = threshold ? threshold : 5, .open_ms = open_ms};
}

bool fb_breaker_allow(fb_breaker *b, double now_ms, bool *is_probe) {
  *is_probe = false;
  if (b->state == FB_BREAKER_OPEN) {
    if (now_ms < b->open_until_ms) return false;
    b->state = FB_BREAKER_HALF_OPEN;
    b->probe_in_flight = false;
  }
  if (b->state == FB_BREAKER_HALF_OPEN) {
    if (b->probe_in_flight) return false;
    b->probe_in_flight = true;
    *is_probe = true;
  }
  return true;
}

void fb_breaker_success(fb_breaker *b, bool was_probe) {
  if (was_probe) b->probe_in_flight = false;
  b->failures = 0;
  b->state = FB_BREAKER_CLOSED;
}

void fb_breaker_failure(fb_breaker *b, bool was_probe, double now_ms) {
  if (was_probe) b->probe_in_flight = false;
  b->failures++;
  if (b->state == FB_BREAKER_HALF_OPEN || b->failures >= b->threshold) {
    b->state = FB_BREAKER_OPEN;
    b->open_until_ms = now_ms + b->open_ms;
  }
}

void fb_breaker_abandon(fb_breaker *b, bool was_probe) {
  if (was_probe) b->probe_in_flight = false;
}

const char *fb_breaker_state_name(fb_breaker_state s) {
  switch (s) {
  case FB_BREAKER_OPEN: return "open";
  case FB_BREAKER_HALF_OPEN: return "half_open";
  default: return "closed";
  }
}
