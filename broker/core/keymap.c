/* Open-addressing hash map with a random seed (see keymap.h). */
#include "core/keymap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/util.h"

typedef struct {
  char *key;                 /* NULL: empty slot */
  size_t klen;
  uint64_t hash;
  void *value;
} slot;

struct fb_keymap {
  slot *slots;
  size_t cap;                /* a power of two */
  size_t size;
  size_t value_size;
  uint64_t seed;
};

/* FNV-1a over the key, mixed with the seed and finished with a 64-bit avalanche. */
static uint64_t hash_of(const fb_keymap *m, const void *key, size_t klen) {
  const unsigned char *p = key;
  uint64_t h = 1469598103934665603ull ^ m->seed;
  for (size_t i = 0; i < klen; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

fb_keymap *fb_keymap_new(size_t value_size) {
  fb_keymap *m = fb_xcalloc(1, sizeof *m);
  m->cap = 16;
  m->slots = fb_xcalloc(m->cap, sizeof *m->slots);
  m->value_size = value_size;
  if (RAND_bytes((unsigned char *)&m->seed, sizeof m->seed) != 1) m->seed = (uint64_t)(uintptr_t)m ^ (uint64_t)fb_wall_ms();
  return m;
}

void fb_keymap_set_seed(fb_keymap *m, uint64_t seed) {
  if (m->size == 0) m->seed = seed;
}

void fb_keymap_free(fb_keymap *m) {
  if (!m) return;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key) {
      free(m->slots[i].key);
      free(m->slots[i].value);
    }
  free(m->slots);
  free(m);
}

size_t fb_keymap_size(const fb_keymap *m) { return m->size; }

static size_t find(const fb_keymap *m, const void *key, size_t klen, uint64_t h) {
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const slot *s = &m->slots[i];
    if (!s->key || (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)) return i;
  }
}

static void grow(fb_keymap *m) {
  slot *old = m->slots;
  size_t oldcap = m->cap;
  m->cap *= 2;
  m->slots = fb_xcalloc(m->cap, sizeof *m->slots);
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].key) {
      size_t mask = m->cap - 1, j = old[i].hash & mask;
      while (m->slots[j].key) j = (j + 1) & mask;
      m->slots[j] = old[i];
    }
  free(old);
}

void *fb_keymap_get(fb_keymap *m, const void *key, size_t klen, bool create) {
  uint64_t h = hash_of(m, key, klen);
  size_t i = find(m, key, klen, h);
  if (m->slots[i].key) return m->slots[i].value;
  if (!create) return NULL;
  if ((m->size + 1) * 4 > m->cap * 3) { /* keep the load under 3/4 */
    grow(m);
    i = find(m, key, klen, h);
  }
  slot *s = &m->slots[i];
  s->key = fb_xmalloc(klen ? klen : 1);
  memcpy(s->key, key, klen);
  s->klen = klen;
  s->hash = h;
  s->value = fb_xcalloc(1, m->value_size ? m->value_size : 1);
  m->size++;
  return s->value;
}

/* Empties slot i and moves later members of its probe run back into the hole. */
static void remove_at(fb_keymap *m, size_t i) {
  size_t mask = m->cap - 1;
  free(m->slots[i].key);
  free(m->slots[i].value);
  m->slots[i] = (slot){0};
  m->size--;
  for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
    size_t home = m->slots[j].hash & mask;
    /* Slot j may move to the hole i unless its home lies cyclically in (i, j]. */
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    m->slots[i] = m->slots[j];
    m->slots[j] = (slot){0};
    i = j;
  }
}

void fb_keymap_del(fb_keymap *m, const void *key, size_t klen) {
  uint64_t h = hash_of(m, key, klen);
  size_t i = find(m, key, klen, h);
  if (m->slots[i].key) remove_at(m, i);
}

void fb_keymap_sweep(fb_keymap *m, bool (*drop)(void *value, void *ud), void *ud) {
  /* Backward shifts can move an entry into a slot already visited; restart the scan
   * from that slot whenever something was removed there. */
  for (size_t i = 0; i < m->cap;) {
    if (m->slots[i].key && drop(m->slots[i].value, ud)) {
      remove_at(m, i);
      continue; /* slot i may now hold a shifted entry: look at it again */
    }
    i++;
  }
}
