#include "auth/token_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

typedef struct {
  uint8_t digest[32];
  bool used;
  int64_t nbf;
  fb_identity id;
} entry;

struct fb_token_cache {
  entry *entries;
  size_t nsets;              /* power of two; 0 = caching disabled */
  size_t count;
  uint64_t evictions;
};

fb_token_cache *fb_token_cache_new(size_t want) {
  fb_token_cache *c = fb_xcalloc(1, sizeof *c);
  if (want == 0) return c;
  size_t sets = 1;
  while (sets * FB_TOKEN_CACHE_WAYS < want) sets *= 2;
  c->nsets = sets;
  /* calloc: the OS hands out zero pages lazily, so an idle cache costs little. */
  c->entries = fb_xcalloc(sets * FB_TOKEN_CACHE_WAYS, sizeof(entry));
  return c;
}

void fb_token_cache_free(fb_token_cache *c) {
  if (!c) return;
  free(c->entries);
  free(c);
}

/* The digest is SHA-256, so any of its bytes is uniformly spread: no further hashing. */
static entry *set_of(fb_token_cache *c, const uint8_t digest[32]) {
  uint32_t h = (uint32_t)digest[0] | (uint32_t)digest[1] << 8 | (uint32_t)digest[2] << 16 |
               (uint32_t)digest[3] << 24;
  return c->entries + (h & (c->nsets - 1)) * FB_TOKEN_CACHE_WAYS;
}

static entry *find(fb_token_cache *c, const uint8_t digest[32]) {
  if (c->nsets == 0) return NULL;
  entry *set = set_of(c, digest);
  for (size_t i = 0; i < FB_TOKEN_CACHE_WAYS; i++)
    if (set[i].used && memcmp(set[i].digest, digest, 32) == 0) return &set[i];
  return NULL;
}

bool fb_token_cache_get(fb_token_cache *c, const uint8_t digest[32], fb_identity *id,
                        int64_t *nbf) {
  entry *e = find(c, digest);
  if (!e) return false;
  *id = e->id;
  *nbf = e->nbf;
  return true;
}

void fb_token_cache_put(fb_token_cache *c, const uint8_t digest[32], const fb_identity *id,
                        int64_t nbf, int64_t now, int64_t leeway) {
  if (c->nsets == 0) return;
  entry *e = find(c, digest);
  if (!e) {
    entry *set = set_of(c, digest);
    entry *free_slot = NULL, *dead = NULL, *soonest = NULL;
    for (size_t i = 0; i < FB_TOKEN_CACHE_WAYS; i++) {
      entry *x = &set[i];
      if (!x->used) {
        if (!free_slot) free_slot = x;
      } else if (x->id.exp + leeway < now) {
        if (!dead) dead = x;
      } else if (!soonest || x->id.exp < soonest->id.exp) {
        soonest = x;
      }
    }
    if (free_slot) {
      e = free_slot;
      c->count++;
    } else if (dead) {
      e = dead;
    } else {
      e = soonest;
      c->evictions++;
    }
  }
  memcpy(e->digest, digest, 32);
  e->used = true;
  e->nbf = nbf;
  e->id = *id;
}

void fb_token_cache_remove(fb_token_cache *c, const uint8_t digest[32]) {
  entry *e = find(c, digest);
  if (!e) return;
  e->used = false;
  c->count--;
}

size_t fb_token_cache_count(const fb_token_cache *c) { return c->count; }
size_t fb_token_cache_capacity(const fb_token_cache *c) {
  return c->nsets * FB_TOKEN_CACHE_WAYS;
}
uint64_t fb_token_cache_evictions(const fb_token_cache *c) { return c->evictions; }
