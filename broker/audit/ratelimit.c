/* A token bucket: `burst` tokens, refilled at `rate` per second. The clock is passed in
 * so that tests can drive it. */
#include "audit/internal.h"

void audit_bucket_init(audit_bucket *b, double rate_per_s, double burst, double now_ms) {
  b->rate_per_ms = rate_per_s / 1000.0;
  b->burst = burst;
  b->tokens = burst;
  b->last_ms = now_ms;
}

bool audit_bucket_take(audit_bucket *b, double now_ms) {
  if (now_ms > b->last_ms) {
    b->tokens += (now_ms - b->last_ms) * b->rate_per_ms;
    if (b->tokens > b->burst) b->tokens = b->burst;
    b->last_ms = now_ms;
  }
  if (b->tokens < 1.0) return false;
  b->tokens -= 1.0;
  return true;
}
