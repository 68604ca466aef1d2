/* Small utilities shared by every module: a growable byte buffer, clocks, files,
 * hex encoding, container_of. */
#ifndef FB_CORE_UTIL_H
#define FB_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define fb_container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))
#define FB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A growable buffer. Zero-initialise it; `data` is always NUL-terminated after any
 * append (the NUL is not counted in `len`). Allocation failure aborts: memory is
 * bounded elsewhere by limits, so running out here is not a recoverable state. */
typedef struct {
  char *data;
  size_t len;
  size_t cap;
} fb_buf;

/* The growing itself (fb_buf_reserve's rare path): room for `extra` more bytes and the NUL. */
void fb_buf_grow(fb_buf *b, size_t extra);

/* The appends are inline: the answers, audit entries and node requests are written
 * with hundreds of them per search, and most only copy a few bytes into room the
 * buffer already has. */
static inline void fb_buf_reserve(fb_buf *b, size_t extra) {
  if (b->len + extra + 1 > b->cap) fb_buf_grow(b, extra);
}

static inline void fb_buf_append(fb_buf *b, const void *data, size_t len) {
  fb_buf_reserve(b, len);
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

static inline void fb_buf_puts(fb_buf *b, const char *s) { fb_buf_append(b, s, strlen(s)); }

static inline void fb_buf_putc(fb_buf *b, char c) {
  fb_buf_reserve(b, 1);
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

/* The decimal digits of v, as printf's PRIu64 writes them, without printf (hot writers). */
void fb_buf_put_uint(fb_buf *b, uint64_t v);
void fb_buf_printf(fb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` as a quoted, escaped JSON string. */
void fb_buf_json_string(fb_buf *b, const char *s);
void fb_buf_reset(fb_buf *b);
void fb_buf_free(fb_buf *b);
/* Hands the buffer's memory to the caller (free() it); the buffer is reset. */
char *fb_buf_steal(fb_buf *b);

void *fb_xmalloc(size_t n);
void *fb_xcalloc(size_t n, size_t size);
void *fb_xrealloc(void *p, size_t n);
char *fb_xstrdup(const char *s);
char *fb_xstrndup(const char *s, size_t n);
/* Makes jansson allocate through fb_xmalloc, so that out of memory aborts here too
 * instead of a NULL from json_pack/json_object being dropped. Call once at start-up,
 * before any JSON value exists (main does; so does every unit test, via
 * tests/unit/common). */
void fb_json_use_xalloc(void);

/* Milliseconds on a monotonic clock (for durations). */
double fb_now_ms(void);
/* Milliseconds since the Unix epoch (wall clock). */
int64_t fb_wall_ms(void);
/* Seconds since the Unix epoch (wall clock). */
int64_t fb_wall_s(void);

#define FB_RFC3339_LEN 64
/* "2026-11-27T22:49:00.123Z" — UTC with milliseconds. */
void fb_rfc3339_now(char out[FB_RFC3339_LEN]);
void fb_rfc3339_from_ms(int64_t epoch_ms, char out[FB_RFC3339_LEN]);

/* Reads a whole file, refusing ones larger than `max` bytes. Returns a NUL-terminated
 * malloc'd buffer or NULL with errno set (EFBIG when over `max`). */
char *fb_read_file(const char *path, size_t max, size_t *len_out);

/* Resolves `rel` against the directory of `base_file` unless `rel` is absolute.
 * Returns a malloc'd path. */
char *fb_path_relative_to(const char *base_file, const char *rel);

/* Lowercase hex of `n` bytes; `out` must hold 2n+1. */
void fb_hex_encode(const uint8_t *in, size_t n, char *out);

/* Constant-time comparison of equal-length byte strings. */
bool fb_ct_equal(const void *a, const void *b, size_t n);

#endif
