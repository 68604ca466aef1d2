/* A small hash map from byte-string keys to fixed-size values, for per-client and
 * per-identity counters on the hot path. The hash is seeded at random per map, so a
 * client choosing its keys (addresses, token subjects) cannot force collisions. Open
 * addressing with linear probing and backward-shift deletion: no tombstones, so the
 * table stays short however many keys come and go. Not thread-safe. */
#ifndef FB_CORE_KEYMAP_H
#define FB_CORE_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fb_keymap fb_keymap;

/* Values are `value_size` bytes, zeroed when created. */
fb_keymap *fb_keymap_new(size_t value_size);
void fb_keymap_free(fb_keymap *m);
/* Replaces the random hash seed of an empty map: tests place keys (and the probe runs
 * that wrap around the table) the same way on every run. */
void fb_keymap_set_seed(fb_keymap *m, uint64_t seed);

/* The value stored under the key, or NULL when absent and !create. A pointer stays
 * valid until the next call that creates or deletes a key. */
void *fb_keymap_get(fb_keymap *m, const void *key, size_t klen, bool create);
void fb_keymap_del(fb_keymap *m, const void *key, size_t klen);
size_t fb_keymap_size(const fb_keymap *m);

/* Deletes every entry for which drop(value, ud) is true. */
void fb_keymap_sweep(fb_keymap *m, bool (*drop)(void *value, void *ud), void *ud);

#endif
