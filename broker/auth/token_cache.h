/* A bounded cache of verified tokens, keyed by the SHA-256 of the token text, so
 * that a token seen before is not signature-checked again. Internal to the auth
 * module.
 *
 * Set-associative: the capacity is split into sets of FB_TOKEN_CACHE_WAYS entries and
 * a token's set is chosen by its digest, so lookups and inserts touch at most that
 * many entries and memory is fixed at creation (no growth, ever). A full set evicts
 * an expired entry if it has one, else the entry that expires soonest.
 * Not thread-safe (see auth/jwt.h). */
#ifndef FB_AUTH_TOKEN_CACHE_H
#define FB_AUTH_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/identity.h"

#define FB_TOKEN_CACHE_WAYS 8

typedef struct fb_token_cache fb_token_cache;

/* About `entries` entries (rounded up to a power of two, at least one set);
 * 0 gives a cache that stores nothing. Never NULL (allocation failure aborts). */
fb_token_cache *fb_token_cache_new(size_t entries);
void fb_token_cache_free(fb_token_cache *c);

/* Copies the entry for `digest` into *id and *nbf (as given to put); false if absent. */
bool fb_token_cache_get(fb_token_cache *c, const uint8_t digest[32], fb_identity *id,
                        int64_t *nbf);

/* Remembers a verified token; id->exp is the entry's expiry. An entry whose
 * exp + `leeway` < `now` counts as dead and is reused first. */
void fb_token_cache_put(fb_token_cache *c, const uint8_t digest[32], const fb_identity *id,
                        int64_t nbf, int64_t now, int64_t leeway);

void fb_token_cache_remove(fb_token_cache *c, const uint8_t digest[32]);

size_t fb_token_cache_count(const fb_token_cache *c);
size_t fb_token_cache_capacity(const fb_token_cache *c);
uint64_t fb_token_cache_evictions(const fb_token_cache *c);

#endif
