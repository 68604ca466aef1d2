/* Name candidates in memory, as FTS5's trigram query finds them: see name_trigrams.h. */
#include "records/name_trigrams.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* A trigram of [a-z0-9] (after folding) as a number below 36^3, which fits the top 16
 * bits of a pair; the row takes the low 16. */
enum { SYMBOLS = 36, OTHER = 0xff, MAX_ROWS = 65536 };

struct fb_name_trigrams {
  uint32_t *pairs; /* trigram << 16 | row, sorted, each once */
  size_t npairs, n;
  uint64_t *bits; /* the rows of one query, n bits */
  uint32_t *rows;
  size_t caprows;
};

static uint8_t ascii_symbol(uint32_t c) {
  if (c >= 'a' && c <= 'z') return (uint8_t)(c - 'a');
  if (c >= 'A' && c <= 'Z') return (uint8_t)(c - 'A');
  if (c >= '0' && c <= '9') return (uint8_t)(26 + c - '0');
  return OTHER;
}

/* The next code point of [*p, end) as FTS5 reads it (its READ_UTF8: a lead byte takes
 * every continuation byte after it; overlong, surrogate and U+FFFE/F values become
 * U+FFFD), folded as its trigram tokenizer folds it, as a symbol. */
static uint8_t next_symbol(const unsigned char **p, const unsigned char *end) {
  uint32_t c = *(*p)++;
  if (c < 0x80) return ascii_symbol(c);
  if (c < 0xc0) return OTHER; /* a lone continuation byte stands for itself */
  c = c < 0xe0 ? c & 0x1f : c < 0xf0 ? c & 0x0f : c < 0xf8 ? c & 0x07 : c < 0xfc ? c & 0x03 : c < 0xfe ? c & 0x01 : 0;
  while (*p < end && (**p & 0xc0) == 0x80) c = (c << 6) + (0x3fu & *(*p)++);
  if (c == 0x212a) return ascii_symbol('k'); /* KELVIN SIGN */
  if (c == 0x17f) return ascii_symbol('s');  /* LATIN SMALL LETTER LONG S */
  return OTHER;
}

static int pair_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

fb_name_trigrams *fb_name_trigrams_build(const char *text, const uint32_t *off, const uint32_t *len, size_t n) {
  if (n == 0 || n > MAX_ROWS) return NULL;
  size_t cap = 0, np = 0;
  for (size_t i = 0; i < n; i++) cap += len[i] > 2 ? len[i] - 2 : 0;
  uint32_t *pairs = fb_xmalloc((cap ? cap : 1) * sizeof *pairs);
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)text + off[i], *end = p + len[i];
    uint8_t a = OTHER, b = OTHER;
    while (p < end) {
      uint8_t c = next_symbol(&p, end);
      if (a != OTHER && b != OTHER && c != OTHER)
        pairs[np++] = (uint32_t)((a * SYMBOLS + b) * SYMBOLS + c) << 16 | (uint32_t)i;
      a = b, b = c;
    }
  }
  qsort(pairs, np, sizeof *pairs, pair_cmp);
  size_t u = 0;
  for (size_t i = 0; i < np; i++)
    if (u == 0 || pairs[u - 1] != pairs[i]) pairs[u++] = pairs[i];
  fb_name_trigrams *ix = fb_xcalloc(1, sizeof *ix);
  ix->pairs = pairs;
  ix->npairs = u;
  ix->n = n;
  ix->bits = fb_xcalloc((n + 63) / 64, sizeof *ix->bits);
  return ix;
}

void fb_name_trigrams_free(fb_name_trigrams *ix) {
  if (!ix) return;
  free(ix->pairs);
  free(ix->bits);
  free(ix->rows);
  free(ix);
}

/* Marks the rows holding trigram `code`. */
static void mark(fb_name_trigrams *ix, uint32_t code) {
  uint32_t key = code << 16;
  size_t lo = 0, hi = ix->npairs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ix->pairs[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i < ix->npairs && ix->pairs[i] >> 16 == code; i++) {
    uint32_t row = ix->pairs[i] & 0xffff;
    ix->bits[row / 64] |= 1ull << (row % 64);
  }
}

long fb_name_trigrams_match(fb_name_trigrams *ix, const fb_name_key *qk, size_t cap, const uint32_t **rows) {
  size_t words = (ix->n + 63) / 64;
  memset(ix->bits, 0, words * sizeof *ix->bits);
  for (int t = 0; t < qk->n; t++) {
    const unsigned char *s = (const unsigned char *)qk->buf + qk->off[t];
    size_t n = qk->len[t];
    if (n < 3) continue;
    uint8_t sym[FB_NAME_KEY_BYTES];
    for (size_t i = 0; i < n; i++)
      if ((sym[i] = ascii_symbol(s[i])) == OTHER) return -1; /* FTS5 reads it: a phrase, or another byte */
    for (size_t i = 0; i + 3 <= n; i++) mark(ix, (uint32_t)((sym[i] * SYMBOLS + sym[i + 1]) * SYMBOLS + sym[i + 2]));
  }
  if (cap > ix->n) cap = ix->n;
  if (ix->caprows < cap) {
    free(ix->rows);
    ix->rows = fb_xmalloc(cap * sizeof *ix->rows);
    ix->caprows = cap;
  }
  size_t k = 0;
  for (size_t w = 0; w < words && k < cap; w++) {
    for (uint64_t b = ix->bits[w]; b && k < cap; b &= b - 1)
      ix->rows[k++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
  }
  *rows = ix->rows;
  return (long)k;
}
