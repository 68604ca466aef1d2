/* Compact records: the canonical scan of a node answer, the record index, the schema
 * check on spans and the span writer. See crec.h for what "canonical" means and why. */
#include "core/crec.h"

#include <errno.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonr.h"
#include "core/jsonw.h"

/* jansson's loader refuses a value nested deeper than 2048 (its JSON_PARSER_MAX_DEPTH,
 * counting every value, the outermost as 1): such text is not JSON it would give back. */
#define MAX_DEPTH 2048
#define MAX_NUMBER 64
#define SMALL_OBJECT 16 /* keys compared pairwise up to this many, sorted beyond */

typedef struct {
  uint32_t off, len;
  uint32_t tag; /* key_tag: keys with different tags differ */
} span;

typedef struct {
  const unsigned char *t;
  char *plain;
  uint32_t p, len;
  bool reals;
  uint8_t kinds, kinds2; /* of the value scanned last (fb_cmember's) */
  span *keys; /* the keys of the objects being scanned, for repeated keys: */
  size_t nkeys, capkeys; /* in `few` while they fit */
  span few[64];
  fb_crecs *set;
} scanner;

static const char *const extra_keys[] = {"id", "type", "redacted", "redacted_by", "state"};

/* A key's text (quotes included) in 32 bits: its length and its first two and last
 * characters. Two keys with different tags differ; equal tags say nothing. */
static inline uint32_t key_tag(const unsigned char *k, uint32_t klen) {
  return klen < 4 ? klen : klen | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[klen - 2] << 24;
}

/* The first and the last 8 bytes of a key's text (quotes included, 8 to 16 bytes; 4 and
 * 4 for 4 to 7): together with its length (in the tag), all of it, in two loads. */
static inline uint64_t key_head(const unsigned char *k, uint32_t klen) {
  uint64_t h = 0;
  uint32_t h4;
  if (klen >= 8) memcpy(&h, k, 8);
  else memcpy(&h4, k, 4), h = h4;
  return h;
}

static inline uint64_t key_tail(const unsigned char *k, uint32_t klen) {
  uint64_t h = 0;
  uint32_t h4;
  if (klen >= 8) memcpy(&h, k + klen - 8, 8);
  else memcpy(&h4, k + klen - 4, 4), h = h4;
  return h;
}

/* The known keys by key_tag, open addressing (made once: the lookup is per member of
 * every record; one probe and one compare instead of a walk over every known key). */
#define KNOWN_SLOTS 64
static struct {
  uint32_t tag[KNOWN_SLOTS];
  uint64_t head[KNOWN_SLOTS], tail[KNOWN_SLOTS];
  int8_t key[KNOWN_SLOTS]; /* -1: empty */
} known;
static uint8_t known_len[FB_CKEY_COUNT]; /* of each known key's text, quotes included */
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static const char *key_text(int key) {
  return key < FB_RECORD_FIELD_COUNT ? fb_record_fields[key] : extra_keys[key - FB_RECORD_FIELD_COUNT];
}

static uint32_t known_slot(uint32_t tag) { return (tag * 2654435761u) >> 26; }

static void known_init(void) {
  memset(known.key, -1, sizeof known.key);
  for (int k = 0; k < FB_CKEY_COUNT; k++) {
    char quoted[32];
    int n = snprintf(quoted, sizeof quoted, "\"%s\"", key_text(k));
    uint32_t tag = key_tag((const unsigned char *)quoted, (uint32_t)n);
    uint32_t i = known_slot(tag);
    while (known.key[i] >= 0) i = (i + 1) % KNOWN_SLOTS;
    known.tag[i] = tag;
    known.head[i] = key_head((const unsigned char *)quoted, (uint32_t)n);
    known.tail[i] = key_tail((const unsigned char *)quoted, (uint32_t)n);
    known.key[i] = (int8_t)k;
    known_len[k] = (uint8_t)n;
  }
}

/* The known key index of a key's text (quotes included), or -1. Equal tags mean equal
 * lengths (a known key's text is at most 13 bytes), and then head and tail cover it. */
static int known_key(const unsigned char *k, uint32_t klen, uint32_t tag) {
  if (klen < 4 || klen > 13) return -1;
  uint64_t head = key_head(k, klen), tail = key_tail(k, klen);
  for (uint32_t i = known_slot(tag); known.key[i] >= 0; i = (i + 1) % KNOWN_SLOTS)
    if (known.tag[i] == tag && known.head[i] == head && known.tail[i] == tail) return known.key[i];
  return -1;
}

/* Grows an array of `size`-byte elements to hold one more. */
static void *grow(void *v, size_t n, size_t *cap, size_t size) {
  if (n < *cap) return v;
  *cap = *cap ? *cap * 2 : 16;
  return fb_xrealloc(v, *cap * size);
}

/* Length of the valid UTF-8 sequence at p, or 0 (jansson's rules, as core/jsonw.c). */
static uint32_t utf8_len(const unsigned char *p, uint32_t left) {
  unsigned c = p[0];
  uint32_t n, cp;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;
  if (left < n) return 0;
  for (uint32_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

static int upper_hex(unsigned c) {
  if (c >= '0' && c <= '9') return (int)(c - '0');
  if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
  return -1;
}

/* The escape at t[p] ('\\' there) as jsonw writes it: its decoded byte and length, or
 * 0 when jsonw would have written that character otherwise. */
static uint32_t canonical_escape(const unsigned char *t, uint32_t p, uint32_t end, char *out) {
  if (end - p < 2) return 0;
  switch (t[p + 1]) {
  case '"': *out = '"'; return 2;
  case '\\': *out = '\\'; return 2;
  case 'b': *out = '\b'; return 2;
  case 'f': *out = '\f'; return 2;
  case 'n': *out = '\n'; return 2;
  case 'r': *out = '\r'; return 2;
  case 't': *out = '\t'; return 2;
  case 'u': {
    if (end - p < 6 || t[p + 2] != '0' || t[p + 3] != '0') return 0;
    int hi = upper_hex(t[p + 4]), lo = upper_hex(t[p + 5]);
    if (hi < 0 || hi > 1 || lo < 0) return 0;
    int c = hi * 16 + lo;
    if (c == 0 || c == '\b' || c == '\t' || c == '\n' || c == '\f' || c == '\r') return 0;
    *out = (char)c;
    return 6;
  }
  default: return 0;
  }
}

/* 1 for the bytes a string's plain run stops at: '"', '\\', control characters and
 * the start of a multi-byte UTF-8 sequence. */
static const unsigned char stop_byte[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* Eight bytes at a time where the byte order allows (the bit tricks below find the
 * first byte of a word in memory order only on a little-endian load). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
#define WORD_SCAN 1
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load_word(const unsigned char *p) {
  uint64_t w;
  memcpy(&w, p, sizeof w);
  return w;
}

/* The high bit of each byte of w equal to c. Exact for the lowest such byte (a
 * subtraction's borrow reaches only the bytes above it), which is all we read. */
static inline uint64_t bytes_equal(uint64_t w, unsigned char c) {
  uint64_t x = w ^ (ONES * c);
  return (x - ONES) & ~x & HIGHS;
}

/* The high bit of each stop byte of w (stop_byte's set), exact for the lowest. */
static inline uint64_t stop_bytes(uint64_t w) {
  return bytes_equal(w, '"') | bytes_equal(w, '\\') | ((w - ONES * 0x20) & ~w & HIGHS) | (w & HIGHS);
}
#endif

/* The first stop byte at or after t[p] (the text ends with a NUL, a stop byte: never
 * past t[len]). Names, dates and codes are a few bytes each: a word at a time. */
static inline uint32_t skip_plain(const unsigned char *t, uint32_t p, uint32_t len) {
#ifdef WORD_SCAN
  for (; len - p >= 8; p += 8) {
    uint64_t m = stop_bytes(load_word(t + p));
    if (m) return p + (uint32_t)(__builtin_ctzll(m) >> 3);
  }
#else
  (void)len;
#endif
  while (!stop_byte[t[p]]) p++;
  return p;
}

#define STRING_BAD UINT32_MAX /* scan_string's answer for text that is not a canonical string */

/* The rest of a string from t[p] on, its bytes before p plain (no escape, ASCII):
 * its decoded bytes go to plain at the same offset, ended by a NUL (decoding never
 * lengthens). The position is kept in a local: s->t's bytes may alias anything, so
 * s->p would be stored and loaded again at every byte. */
static uint32_t scan_string_rest(scanner *s, uint32_t p) {
  const unsigned char *t = s->t;
  const uint32_t len = s->len;
  uint32_t w = p;
  bool escaped = false;
  for (;;) {
    uint32_t run = p;
    p = skip_plain(t, p, len);
    if (escaped) memmove(s->plain + w, t + run, p - run);
    w += p - run;
    if (p >= len) return STRING_BAD;
    unsigned c = t[p];
    if (c == '"') break;
    if (c < 0x20) return STRING_BAD;
    if (c == '\\') {
      char d;
      uint32_t n = canonical_escape(t, p, len, &d);
      if (!n) return STRING_BAD;
      if (!escaped) w = p;
      escaped = true;
      s->plain[w++] = d;
      p += n;
      continue;
    }
    uint32_t n = 1;
    if (c >= 0x80 && !(n = utf8_len(t + p, len - p))) return STRING_BAD;
    if (escaped) memmove(s->plain + w, t + p, n);
    w += n;
    p += n;
  }
  s->plain[escaped ? w : p] = '\0';
  return p + 1;
}

#if defined(__SSE2__)
/* Sixteen bytes at a time on x86-64 (SSE2 is part of it): the stop bytes of t[p..p+16)
 * (a signed compare with 0x20 takes the control bytes and every byte from 0x80 on),
 * and in *quotes the quotes among them, one bit per byte, exact. */
static inline uint32_t stop_bits16(const unsigned char *p, uint32_t *quotes) {
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
  __m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
  __m128i stop = _mm_or_si128(_mm_or_si128(q, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                              _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
  *quotes = (uint32_t)_mm_movemask_epi8(q);
  return (uint32_t)_mm_movemask_epi8(stop);
}
#endif

/* A string at t[p] == '"': the position after it, or STRING_BAD. Most are short and
 * plain: the block that holds the closing quote has no other stop byte before it,
 * which its quote mask tells (the lowest bit of each mask is exact, so the lowest of
 * both is a quote only when it is the quote mask's). Anything else goes on from that
 * block's first byte. Sixteen bytes at a time where SSE2 is, then words of eight. */
static inline uint32_t scan_string(scanner *s, uint32_t p) {
  p++;
#ifdef WORD_SCAN
  const unsigned char *t = s->t;
  const uint32_t len = s->len;
#if defined(__SSE2__)
  for (; len - p >= 16; p += 16) {
    uint32_t quotes16, m16 = stop_bits16(t + p, &quotes16);
    if (!m16) continue;
    if (!((m16 & -m16) & quotes16)) return scan_string_rest(s, p);
    p += (uint32_t)__builtin_ctz(m16);
    s->plain[p] = '\0';
    return p + 1;
  }
#endif
  for (; len - p >= 8; p += 8) {
    uint64_t w = load_word(t + p);
    uint64_t quotes = bytes_equal(w, '"'), m = stop_bytes(w);
    if (!m) continue;
    if (!((m & -m) & quotes)) break;
    p += (uint32_t)(__builtin_ctzll(m) >> 3);
    s->plain[p] = '\0';
    return p + 1;
  }
#endif
  return scan_string_rest(s, p);
}

static int scan_number(scanner *s, uint8_t *type) {
  uint32_t start = s->p;
  const unsigned char *t = s->t;
  bool real = false;
  if (s->p < s->len && t[s->p] == '-') s->p++;
  if (s->p >= s->len) return -1;
  if (t[s->p] == '0') {
    s->p++;
  } else if (t[s->p] >= '1' && t[s->p] <= '9') {
    while (s->p < s->len && t[s->p] >= '0' && t[s->p] <= '9') s->p++;
  } else {
    return -1;
  }
  if (s->p < s->len && t[s->p] == '.') {
    real = true;
    s->p++;
    if (s->p >= s->len || t[s->p] < '0' || t[s->p] > '9') return -1;
    while (s->p < s->len && t[s->p] >= '0' && t[s->p] <= '9') s->p++;
  }
  if (s->p < s->len && (t[s->p] == 'e' || t[s->p] == 'E')) {
    real = true;
    s->p++;
    if (s->p < s->len && (t[s->p] == '+' || t[s->p] == '-')) s->p++;
    if (s->p >= s->len || t[s->p] < '0' || t[s->p] > '9') return -1;
    while (s->p < s->len && t[s->p] >= '0' && t[s->p] <= '9') s->p++;
  }
  uint32_t n = s->p - start;
  if (n >= MAX_NUMBER) return -1;
  if (!real) {
    *type = JSON_INTEGER;
    if (n == 2 && t[start] == '-' && t[start + 1] == '0') return -1; /* jsonw writes "0" */
    if (n < 19) return 0; /* fits in a long long: written as it stands */
  }
  char text[MAX_NUMBER];
  memcpy(text, t + start, n);
  text[n] = '\0';
  char *end;
  errno = 0;
  if (!real) {
    (void)strtoll(text, &end, 10);
    return errno == ERANGE || end != text + n ? -1 : 0;
  }
  *type = JSON_REAL;
  s->reals = true;
  double d = strtod(text, &end);
  if (end != text + n || ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)) return -1;
  return 0;
}

static int word(scanner *s, const char *w, uint32_t n) {
  if (s->len - s->p < n || memcmp(s->t + s->p, w, n) != 0) return -1;
  s->p += n;
  return 0;
}

static int span_cmp(const void *a, const void *b, void *t) {
  const span *x = a, *y = b;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  return memcmp((const char *)t + x->off, (const char *)t + y->off, x->len);
}

/* Whether keys[base..] hold one key twice (jansson would keep one: not canonical). */
static bool repeated_key(scanner *s, size_t base) {
  size_t n = s->nkeys - base;
  span *k = s->keys + base;
  if (n <= SMALL_OBJECT) {
    /* One bit per tag in a 64-bit set: a key is compared with the ones before it only
     * when its bit was taken already (rarely, at ~13 keys a record). */
    uint64_t seen = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t bit = 1ull << ((k[i].tag * 0x9E3779B97F4A7C15ull) >> 58);
      if (seen & bit)
        for (size_t j = 0; j < i; j++)
          if (k[i].tag == k[j].tag && k[i].len == k[j].len && memcmp(s->t + k[i].off, s->t + k[j].off, k[i].len) == 0)
            return true;
      seen |= bit;
    }
    return false;
  }
  span *sorted = fb_xmalloc(n * sizeof *sorted);
  memcpy(sorted, k, n * sizeof *sorted);
  qsort_r(sorted, n, sizeof *sorted, span_cmp, (void *)(uintptr_t)s->t);
  bool rep = false;
  for (size_t i = 1; i < n && !rep; i++) rep = span_cmp(&sorted[i - 1], &sorted[i], (void *)(uintptr_t)s->t) == 0;
  free(sorted);
  return rep;
}

static int scan_value(scanner *s, int depth, uint8_t *type, fb_crec *rec, bool top);

static void scanner_init(scanner *s, const char *t, char *plain, uint32_t p, uint32_t len, fb_crecs *set) {
  s->t = (const unsigned char *)t;
  s->plain = plain;
  s->p = p;
  s->len = len;
  s->reals = false;
  s->kinds = s->kinds2 = 0;
  s->keys = s->few;
  s->nkeys = 0;
  s->capkeys = FB_ARRAY_LEN(s->few);
  s->set = set;
}

static void scanner_end(scanner *s) {
  if (s->keys != s->few) free(s->keys);
}

static void grow_keys(scanner *s) {
  size_t cap = s->capkeys * 2;
  span *k = fb_xmalloc(cap * sizeof *k);
  memcpy(k, s->keys, s->nkeys * sizeof *k);
  scanner_end(s);
  s->keys = k;
  s->capkeys = cap;
}

/* Scans an object; with `rec`, its members become the record's. The text and the
 * position are kept in locals (stores through s->plain may alias s->t's bytes). */
static int scan_object(scanner *s, int depth, fb_crec *rec, bool top) {
  const unsigned char *t = s->t;
  const uint32_t len = s->len;
  uint32_t p = s->p + 1;
  size_t base = s->nkeys;
  uint8_t kinds = 0, kinds2 = 0;
  if (p < len && t[p] == '}') {
    s->p = p + 1;
    s->kinds = s->kinds2 = 0;
    return 0;
  }
  for (;;) {
    if (p >= len || t[p] != '"') return -1;
    uint32_t key = p;
    if ((p = scan_string(s, p)) == STRING_BAD) return -1;
    uint32_t klen = p - key;
    uint32_t tag = key_tag(t + key, klen);
    if (s->nkeys == s->capkeys) grow_keys(s);
    s->keys[s->nkeys++] = (span){key, klen, tag};
    if (p >= len || t[p] != ':') return -1;
    uint32_t val = ++p;
    bool outer_reals = s->reals;
    uint8_t vt, vkinds = 0, vkinds2 = 0;
    s->reals = false;
    if (p < len && t[p] == '"' && depth < MAX_DEPTH) { /* most values: a string, as scan_value would */
      vt = JSON_STRING;
      if ((p = scan_string(s, p)) == STRING_BAD) return -1;
    } else {
      bool records = top && klen == 9 && memcmp(t + key, "\"records\"", 9) == 0;
      s->p = p;
      if (scan_value(s, depth + 1, &vt, NULL, records) != 0) return -1;
      if (records && vt == JSON_ARRAY) s->set->has_records = true;
      vkinds = s->kinds;
      vkinds2 = s->kinds2;
      p = s->p;
    }
    kinds |= FB_CKIND(vt);
    kinds2 |= vkinds;
    if (rec) {
      fb_crecs *set = s->set;
      set->members = grow(set->members, set->nmembers, &set->capmembers, sizeof *set->members);
      set->members[set->nmembers++] = (fb_cmember){key, klen, val, p - val, vt, s->reals, false, vkinds, vkinds2};
      int k = known_key(t + key, klen, tag);
      if (k >= 0) rec->at[k] = (int32_t)(set->nmembers - 1);
      rec->n++;
    }
    s->reals |= outer_reals;
    if (p >= len) return -1;
    if (t[p] == '}') {
      p++;
      break;
    }
    if (t[p] != ',') return -1;
    p++;
  }
  s->p = p;
  bool rep = repeated_key(s, base);
  s->nkeys = base;
  s->kinds = kinds;
  s->kinds2 = kinds2;
  return rep ? -1 : 0;
}

/* Scans an array; with `records`, each element is a record of the set. */
static int scan_array(scanner *s, int depth, bool records) {
  s->p++;
  uint8_t kinds = 0, kinds2 = 0;
  if (s->p < s->len && s->t[s->p] == ']') {
    s->p++;
    s->kinds = s->kinds2 = 0;
    return 0;
  }
  for (;;) {
    if (records) {
      fb_crecs *set = s->set;
      set->recs = grow(set->recs, set->nrecs, &set->caprecs, sizeof *set->recs);
      fb_crec *r = &set->recs[set->nrecs++];
      memset(r, 0, sizeof *r);
      memset(r->at, 0xff, sizeof r->at);
      r->off = s->p;
      r->first = (uint32_t)set->nmembers;
      bool outer_reals = s->reals;
      s->reals = false;
      uint8_t t;
      /* `r` may move while the record's members are added: index it again after */
      fb_crec scratch = *r;
      if (scan_value(s, depth + 1, &t, &scratch, false) != 0) return -1;
      scratch.len = s->p - scratch.off;
      scratch.type = t;
      scratch.reals = s->reals;
      set->recs[set->nrecs - 1] = scratch;
      s->reals |= outer_reals;
    } else {
      uint8_t t;
      if (scan_value(s, depth + 1, &t, NULL, false) != 0) return -1;
      kinds |= FB_CKIND(t);
      kinds2 |= s->kinds;
    }
    if (s->p >= s->len) return -1;
    if (s->t[s->p] == ']') {
      s->p++;
      s->kinds = kinds; /* the records' array: no member, its kinds unread */
      s->kinds2 = kinds2;
      return 0;
    }
    if (s->t[s->p] != ',') return -1;
    s->p++;
  }
}

/* One value at t[p]; `rec` (objects only) collects a record's members; `top`: the
 * answer's outermost object (its "records" are the records), or for an array, that
 * it is that "records" array. */
static int scan_value(scanner *s, int depth, uint8_t *type, fb_crec *rec, bool top) {
  if (s->p >= s->len || depth > MAX_DEPTH) return -1;
  s->kinds = s->kinds2 = 0; /* a scalar's; a container sets its own */
  switch (s->t[s->p]) {
  case '{': *type = JSON_OBJECT; return scan_object(s, depth, rec, top && depth == 1);
  case '[': *type = JSON_ARRAY; return scan_array(s, depth, top && depth == 2);
  case '"': *type = JSON_STRING; return (s->p = scan_string(s, s->p)) == STRING_BAD ? -1 : 0;
  case 't': *type = JSON_TRUE; return word(s, "true", 4);
  case 'f': *type = JSON_FALSE; return word(s, "false", 5);
  case 'n': *type = JSON_NULL; return word(s, "null", 4);
  default: return scan_number(s, type);
  }
}

static void set_reset(fb_crecs *set) {
  free(set->recs);
  free(set->members);
  set->recs = NULL;
  set->members = NULL;
  set->nrecs = set->nmembers = set->caprecs = set->capmembers = 0;
  set->has_records = false;
}

/* Scans set->text as canonical text; 0, or -1 (the set emptied) when it is not. */
static int scan_canonical(fb_crecs *set) {
  if (set->len > UINT32_MAX / 2 || set->len == 0 || (set->text[0] != '{' && set->text[0] != '[')) return -1;
  set->plain = fb_xmalloc(set->len + 1);
  memcpy(set->plain, set->text, set->len + 1);
  /* room for a member every 16 bytes (a record's take ~26 each): a node answer's
   * members without growing on the way (a large answer's grow by doubling from 4096) */
  set->capmembers = set->len / 16 + 16 < 4096 ? set->len / 16 + 16 : 4096;
  set->members = fb_xmalloc(set->capmembers * sizeof *set->members);
  scanner s;
  scanner_init(&s, set->text, set->plain, 0, (uint32_t)set->len, set);
  uint8_t t;
  int rc = scan_value(&s, 1, &t, NULL, true);
  scanner_end(&s);
  /* whitespace after the value (a node ends its answer with a newline) is no part of
   * it: the set's text ends with the value */
  uint32_t end = s.p;
  while (rc == 0 && s.p < s.len && (s.t[s.p] == ' ' || s.t[s.p] == '\n' || s.t[s.p] == '\r' || s.t[s.p] == '\t')) s.p++;
  if (rc == 0 && s.p == s.len) {
    set->len = end;
    set->text[end] = set->plain[end] = '\0';
    return 0;
  }
  free(set->plain);
  set->plain = NULL;
  set_reset(set);
  return -1;
}

fb_crecs *fb_crecs_load(char *text, size_t len, json_error_t *err) {
  pthread_once(&known_once, known_init);
  fb_crecs *set = fb_xcalloc(1, sizeof *set);
  set->text = text;
  set->len = len;
  if (text && scan_canonical(set) == 0) {
    set->fast = true;
    if (err) memset(err, 0, sizeof *err);
    return set;
  }
  /* Not canonical: jansson's value (or its error), written back as jsonw writes it, at
   * the precision that gives every real back exactly. */
  json_t *v = fb_jsonr_loadb(text ? text : "", len, err);
  free(text);
  set->text = NULL;
  if (!v) {
    free(set);
    return NULL;
  }
  fb_buf b = {0};
  int rc = fb_jsonw_dump(&b, v, 17);
  json_decref(v);
  set->len = b.len;
  set->text = fb_buf_steal(&b);
  if (rc != 0 || scan_canonical(set) != 0) { /* jsonw's text is canonical: never here */
    if (err) {
      memset(err, 0, sizeof *err);
      snprintf(err->text, sizeof err->text, "answer could not be read again");
    }
    fb_crecs_free(set);
    return NULL;
  }
  return set;
}

/* Frees everything of a set but its text (fb_crecs_freeze keeps that). */
static void free_all_but_text(fb_crecs *s) {
  free(s->plain);
  free(s->recs);
  free(s->members);
  free(s->xtext);
  free(s->xplain);
  free(s->xmembers);
  fb_buf_free(&s->scratch);
}

int fb_crecs_freeze(fb_crecs *s) {
  if (!s || s->frozen || !s->has_records || s->len > UINT32_MAX / 2) return -1;
  fb_buf b = {0};
  fb_buf_reserve(&b, s->len + s->xused + 16);
  fb_buf_append(&b, "{\"records\":[", 12);
  for (size_t i = 0; i < s->nrecs; i++) {
    if (i) fb_buf_putc(&b, ',');
    fb_crec_write(&b, s, i, FB_CREC_AS_IS);
  }
  fb_buf_append(&b, "]}", 2);
  free(s->text);
  free_all_but_text(s);
  s->plain = s->xtext = s->xplain = NULL;
  s->recs = NULL;
  s->members = s->xmembers = NULL;
  s->nrecs = s->caprecs = s->nmembers = s->capmembers = s->nxmembers = s->capxmembers = 0;
  s->xused = s->xcap = 0;
  memset(s->xkey, 0, sizeof s->xkey);
  memset(s->xseen, 0, sizeof s->xseen);
  s->len = b.len;
  s->text = fb_xrealloc(fb_buf_steal(&b), s->len + 1); /* exactly its bytes */
  s->frozen = true;
  return 0;
}

int fb_crecs_thaw(fb_crecs *s) {
  if (!s || !s->frozen) return 0;
  s->frozen = false;
  if (scan_canonical(s) == 0) return 0;
  /* The text was written as the set's own canonical values: never here. */
  free(s->text);
  s->text = NULL;
  s->len = 0;
  return -1;
}

void fb_crecs_free(fb_crecs *s) {
  if (!s) return;
  free(s->text);
  free_all_but_text(s);
  free(s);
}

/* ---- reading the canonical text ------------------------------------------- */

/* The first '"' or '\\' at or after t[p] of a canonical text of `used` bytes (a
 * string's end is always there). */
static inline uint32_t skip_string_bytes(const char *t, uint32_t p, uint32_t used) {
#ifdef WORD_SCAN
  for (; used - p >= 8; p += 8) {
    uint64_t w = load_word((const unsigned char *)t + p);
    uint64_t m = bytes_equal(w, '"') | bytes_equal(w, '\\');
    if (m) return p + (uint32_t)(__builtin_ctzll(m) >> 3);
  }
#else
  (void)used;
#endif
  while (t[p] != '"' && t[p] != '\\') p++;
  return p;
}

/* The end of the canonical value starting at p, in a text of `used` bytes. */
static uint32_t skip_value(const char *t, uint32_t p, uint32_t used) {
  int depth = 0;
  for (;;) {
    char c = t[p];
    if (c == '"') {
      for (p = skip_string_bytes(t, p + 1, used); t[p] != '"'; p = skip_string_bytes(t, p + 2, used)) {
      }
      p++;
    } else if (c == '{' || c == '[') {
      depth++;
      p++;
    } else if (c == '}' || c == ']') {
      depth--;
      p++;
    } else {
      while (t[p] && t[p] != ',' && t[p] != '}' && t[p] != ']') p++;
    }
    if (depth == 0) return p;
    while (t[p] == ',' || t[p] == ':') p++;
  }
}

static int type_at(const char *t, uint32_t off, uint32_t len) {
  switch (t[off]) {
  case '{': return JSON_OBJECT;
  case '[': return JSON_ARRAY;
  case '"': return JSON_STRING;
  case 't': return JSON_TRUE;
  case 'f': return JSON_FALSE;
  case 'n': return JSON_NULL;
  default: return memchr(t + off, '.', len) || memchr(t + off, 'e', len) || memchr(t + off, 'E', len) ? JSON_REAL
                                                                                                    : JSON_INTEGER;
  }
}

/* The part of the set's text holding offset `off` (the answer's, or the edits'):
 * its text, the offset of its first byte, and its length. A value lies in one. */
static inline const char *region(const fb_crecs *s, uint32_t off, uint32_t *base, uint32_t *size) {
  if (off < s->len) {
    *base = 0;
    *size = (uint32_t)s->len;
    return s->text;
  }
  *base = (uint32_t)s->len;
  *size = (uint32_t)s->xused;
  return s->xtext;
}

int fb_crec_array_next(const fb_crecs *s, uint32_t val, uint32_t *pos, uint32_t *off, uint32_t *len, int *type) {
  uint32_t base, size;
  const char *t = region(s, val, &base, &size);
  uint32_t p = (*pos ? *pos : val + 1) - base;
  if (t[p] == ',') p++;
  if (t[p] == ']') return 0;
  uint32_t end = skip_value(t, p, size);
  *off = p + base;
  *len = end - p;
  *type = type_at(t, p, end - p);
  *pos = end + base;
  return 1;
}

int fb_crec_object_next(const fb_crecs *s, uint32_t val, uint32_t *pos, uint32_t *koff, uint32_t *klen, uint32_t *off,
                        uint32_t *len, int *type) {
  uint32_t base, size;
  const char *t = region(s, val, &base, &size);
  uint32_t p = (*pos ? *pos : val + 1) - base;
  if (t[p] == ',') p++;
  if (t[p] != '"') return 0;
  uint32_t k = p;
  p = skip_value(t, p, size);
  *koff = k + base;
  *klen = p - k;
  p++; /* ':' */
  uint32_t end = skip_value(t, p, size);
  *off = p + base;
  *len = end - p;
  *type = type_at(t, p, end - p);
  *pos = end + base;
  return 1;
}

int fb_crec_object_get(const fb_crecs *s, uint32_t val, const char *key, uint32_t *off, uint32_t *len, int *type) {
  uint32_t base, size;
  const char *t = region(s, val, &base, &size);
  const char *plain = base ? s->xplain : s->plain;
  uint32_t p = val - base + 1;
  while (t[p] == '"') {
    uint32_t k = p;
    p = skip_value(t, p, size) + 1; /* past the key and its ':' */
    uint32_t end = skip_value(t, p, size);
    if (strcmp(plain + k + 1, key) == 0) {
      *off = p + base;
      *len = end - p;
      *type = type_at(t, p, end - p);
      return 1;
    }
    p = end;
    if (t[p] == ',') p++;
  }
  return 0;
}

const char *fb_crec_string(const fb_crecs *s, const fb_crec *r, int key) {
  const fb_cmember *m = fb_crec_get(s, r, key);
  return m && m->type == JSON_STRING ? fb_crec_str_at(s, m->val) : NULL;
}

/* ---- writing -------------------------------------------------------------- */

void fb_crec_put_span(fb_buf *b, const fb_crecs *s, uint32_t off, uint32_t len, bool reals, int precision) {
  const char *t = fb_crec_text_at(s, off);
  if (!reals || precision == FB_CREC_AS_IS) {
    fb_buf_append(b, t, len);
    return;
  }
  /* Copied up to each real, which is written again from its value. */
  uint32_t p = 0, run = 0;
  while (p < len) {
    char c = t[p];
    if (c == '"') {
      for (p++; t[p] != '"'; p++)
        if (t[p] == '\\') p++;
      p++;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      uint32_t n = p;
      bool real = false;
      for (; n < len && t[n] && strchr("0123456789+-.eE", t[n]); n++) real |= t[n] == '.' || t[n] == 'e' || t[n] == 'E';
      if (real) {
        fb_buf_append(b, t + run, p - run);
        char text[MAX_NUMBER];
        memcpy(text, t + p, n - p);
        text[n - p] = '\0';
        fb_jsonw_real(b, strtod(text, NULL), precision);
        run = n;
      }
      p = n;
    } else {
      p++;
    }
  }
  fb_buf_append(b, t + run, len - run);
}

static void put_member(fb_buf *b, const fb_crecs *s, const fb_cmember *m, int precision) {
  fb_buf_append(b, fb_crec_text_at(s, m->key), m->klen);
  fb_buf_putc(b, ':');
  fb_crec_put_span(b, s, m->val, m->vlen, m->reals, precision);
}

/* The members of an edited record (or all but `skip`), each after a ',' but the
 * first when `first`. Members still lying in the set's text as they are written
 * ("k":v,"k":v, bytes checked: unchanged, none removed between) go out as one span,
 * ',' before it included: the same bytes in one append (a redacted record is mostly
 * such runs). A run with reals still goes through fb_crec_put_span's rewriting: keys
 * and separators hold no number, so the span gives what its members one by one give. */
static void put_members(fb_buf *b, const fb_crecs *s, const fb_crec *r, int32_t skip, bool first, int precision) {
  const char *t = s->text;
  uint32_t run = 0, end = 0; /* the pending run: [run, end) of the text, when `in_run` */
  bool in_run = false, run_reals = false;
  for (uint32_t k = 0; k < r->n + r->xn; k++) {
    uint32_t i = k < r->n ? r->first + k : r->xfirst + (k - r->n);
    bool added = k >= r->n;
    const fb_cmember *m = added ? &s->xmembers[i] : &s->members[i];
    if (m->gone || (int32_t)(added ? i + FB_CREC_XMEMBER : i) == skip) continue;
    /* an added member's key and value lie in the edits' text, apart */
    bool in_place = !added && m->val == m->key + m->klen + 1 && t[m->key + m->klen] == ':';
    if (in_run && in_place && m->key == end + 1 && t[end] == ',') {
      end = m->val + m->vlen;
      run_reals |= m->reals;
      continue;
    }
    if (in_run) fb_crec_put_span(b, s, run, end - run, run_reals, precision);
    in_run = false;
    if (in_place) {
      in_run = true;
      run = m->key;
      end = m->val + m->vlen;
      run_reals = m->reals;
      if (!first && run > 0 && t[run - 1] == ',') run--;
      else if (!first) fb_buf_putc(b, ',');
    } else {
      if (!first) fb_buf_putc(b, ',');
      put_member(b, s, m, precision);
    }
    first = false;
  }
  if (in_run) fb_crec_put_span(b, s, run, end - run, run_reals, precision);
}

void fb_crec_write(fb_buf *b, const fb_crecs *s, size_t i, int precision) {
  const fb_crec *r = &s->recs[i];
  if (!r->edited) {
    fb_crec_put_span(b, s, r->off, r->len, r->reals, precision);
    return;
  }
  fb_buf_reserve(b, 2 + r->len);
  fb_buf_putc(b, '{');
  put_members(b, s, r, -1, true, precision);
  fb_buf_putc(b, '}');
}

void fb_crec_write_state(fb_buf *b, const fb_crecs *s, size_t i, const char *state_text, size_t state_len,
                         int precision) {
  const fb_crec *r = &s->recs[i];
  fb_buf_reserve(b, 10 + state_len + r->len);
  fb_buf_append(b, "{\"state\":", 9);
  fb_buf_append(b, state_text, state_len);
  if (!r->edited && r->at[FB_CKEY_STATE] < 0) {
    if (r->n) { /* the record's text after its '{' */
      fb_buf_putc(b, ',');
      fb_crec_put_span(b, s, r->off + 1, r->len - 1, r->reals, precision);
    } else {
      fb_buf_putc(b, '}');
    }
    return;
  }
  put_members(b, s, r, r->at[FB_CKEY_STATE], false, precision);
  fb_buf_putc(b, '}');
}

json_t *fb_crecs_records_json(const fb_crecs *s) {
  json_t *a = json_array();
  for (size_t i = 0; i < s->nrecs; i++) {
    fb_buf b = {0};
    fb_crec_write(&b, s, i, 17); /* reals at the precision that gives them back exactly */
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    fb_buf_free(&b);
    if (v) json_array_append_new(a, v);
  }
  return a;
}

/* ---- edits ---------------------------------------------------------------- */

json_t *fb_crec_json(const fb_crecs *s, const fb_cmember *m) {
  const char *t = fb_crec_text_at(s, m->val);
  switch (m->type) {
  case JSON_STRING: return json_string_nocheck(fb_crec_str_at(s, m->val));
  case JSON_TRUE: return json_true();
  case JSON_FALSE: return json_false();
  case JSON_NULL: return json_null();
  case JSON_INTEGER:
  case JSON_REAL: {
    char text[MAX_NUMBER];
    size_t n = m->vlen < MAX_NUMBER ? m->vlen : MAX_NUMBER - 1;
    memcpy(text, t, n);
    text[n] = '\0';
    return m->type == JSON_INTEGER ? json_integer(strtoll(text, NULL, 10)) : json_real(strtod(text, NULL));
  }
  default: {
    json_t *v = fb_jsonr_fast(t, m->vlen);
    return v ? v : json_loadb(t, m->vlen, JSON_DECODE_ANY, NULL);
  }
  }
}

/* What append_text says of a value besides its offset (fb_cmember's fields). */
typedef struct {
  uint8_t type, kinds, kinds2;
  bool reals;
} value_shape;

/* The xseen slot of a value's text (n > 0): its length and up to 16 of its bytes. */
static size_t xseen_slot(const char *t, size_t n) {
  uint64_t a = 0, b = 0;
  memcpy(&a, t, n < 8 ? n : 8);
  memcpy(&b, t + n - (n < 8 ? n : 8), n < 8 ? n : 8);
  uint64_t h = (a * 0x9E3779B97F4A7C15ull ^ b) * 0xC2B2AE3D27D4EB4Full + n;
  return (size_t)(h >> 58) % FB_ARRAY_LEN(((fb_crecs *)0)->xseen);
}

/* Appends canonical text to the edits' text (and its decoding to xplain); its offset,
 * or UINT32_MAX when it is not canonical (never for jsonw's text). The answer's text
 * stays where it is: the first edit allocates room for half of it again (a redacted
 * answer's edits are about a third of it), and the edits' buffers grow by doubling.
 * Text appended before, byte for byte, is not appended again: its offset is shared
 * (the edits' text is never changed in place; a record's members are written from
 * their spans wherever they lie). Redaction gives most records the same few values. */
static uint32_t append_text(fb_crecs *s, const char *t, size_t n, value_shape *shape) {
  size_t slot = n ? xseen_slot(t, n) : 0;
  if (n && s->xseen[slot].n == n && memcmp(s->xtext + s->xseen[slot].off, t, n) == 0) {
    *shape = (value_shape){s->xseen[slot].type, s->xseen[slot].kinds, s->xseen[slot].kinds2, s->xseen[slot].reals};
    return (uint32_t)s->len + s->xseen[slot].off;
  }
  if ((uint64_t)s->len + s->xused + n + 1 > UINT32_MAX) return UINT32_MAX;
  if (s->xused + n + 1 > s->xcap) {
    size_t cap = s->xcap ? s->xcap * 2 : (s->len / 2 > 256 ? s->len / 2 : 256);
    if (cap < s->xused + n + 1) cap = s->xused + n + 1;
    s->xtext = fb_xrealloc(s->xtext, cap);
    s->xplain = fb_xrealloc(s->xplain, cap);
    s->xcap = cap;
  }
  uint32_t x = (uint32_t)s->xused;
  memcpy(s->xtext + x, t, n);
  s->xtext[x + n] = '\0';
  memcpy(s->xplain + x, t, n + 1);
  scanner sc;
  scanner_init(&sc, s->xtext, s->xplain, x, (uint32_t)(x + n), s);
  int rc = scan_value(&sc, 1, &shape->type, NULL, false);
  scanner_end(&sc);
  if (rc != 0 || sc.p != x + n) return UINT32_MAX;
  shape->reals = sc.reals;
  shape->kinds = sc.kinds;
  shape->kinds2 = sc.kinds2;
  s->xused += n;
  if (n) {
    s->xseen[slot].off = x;
    s->xseen[slot].n = (uint32_t)n;
    s->xseen[slot].type = shape->type;
    s->xseen[slot].kinds = shape->kinds;
    s->xseen[slot].kinds2 = shape->kinds2;
    s->xseen[slot].reals = shape->reals;
  }
  return (uint32_t)s->len + x;
}

/* A new member of record `i`, after the ones added before (in set->xmembers). */
static fb_cmember *add_member(fb_crecs *s, size_t i) {
  fb_crec *r = &s->recs[i];
  if (!s->capxmembers) { /* room for a redaction's marks on every record at once */
    s->capxmembers = 2 * s->nrecs + 16;
    s->xmembers = fb_xmalloc(s->capxmembers * sizeof *s->xmembers);
  }
  if (r->xn && r->xfirst + r->xn != s->nxmembers) { /* another record added since: move them to the end */
    while (s->capxmembers < s->nxmembers + r->xn + 1)
      s->xmembers = grow(s->xmembers, s->capxmembers, &s->capxmembers, sizeof *s->xmembers);
    memcpy(s->xmembers + s->nxmembers, s->xmembers + r->xfirst, r->xn * sizeof *s->xmembers);
    for (int k = 0; k < FB_CKEY_COUNT; k++)
      if (r->at[k] >= (int32_t)(FB_CREC_XMEMBER + r->xfirst) && r->at[k] < (int32_t)(FB_CREC_XMEMBER + r->xfirst + r->xn))
        r->at[k] += (int32_t)(s->nxmembers - r->xfirst);
    r->xfirst = (uint32_t)s->nxmembers;
    s->nxmembers += r->xn;
  }
  s->xmembers = grow(s->xmembers, s->nxmembers, &s->capxmembers, sizeof *s->xmembers);
  if (!r->xn) r->xfirst = (uint32_t)s->nxmembers;
  r->xn++;
  fb_cmember *m = &s->xmembers[s->nxmembers++];
  memset(m, 0, sizeof *m);
  return m;
}

void fb_crec_remove(fb_crecs *s, size_t i, int key) {
  fb_crec *r = &s->recs[i];
  if (r->at[key] < 0) return;
  fb_crec_member(s, r->at[key])->gone = true;
  r->at[key] = -1;
  r->edited = true;
}

void fb_crec_set(fb_crecs *s, size_t i, int key, const json_t *v) {
  fb_buf *b = &s->scratch;
  b->len = 0;
  if (fb_jsonw_value(b, v, 17) != 0 || fb_crec_set_text(s, i, key, b->data, b->len) != 0)
    fb_crec_remove(s, i, key); /* not writable: the field goes */
}

/* Points known key `key` of record `i` at the value text at `off` (`n` bytes). */
static int set_member(fb_crecs *s, size_t i, int key, uint32_t off, size_t n, const value_shape *shape) {
  fb_crec *r = &s->recs[i];
  fb_cmember *m;
  if (r->at[key] >= 0) {
    m = fb_crec_member(s, r->at[key]);
  } else {
    /* the key's text once per set: every record adding this key shares it */
    if (!s->xkey[key]) {
      fb_buf *b = &s->scratch; /* `t` may be the scratch's text: it is copied by now */
      b->len = 0;
      fb_buf_json_string(b, key_text(key));
      value_shape ks;
      uint32_t koff = append_text(s, b->data, b->len, &ks);
      if (koff == UINT32_MAX) return -1; /* no room: nothing changed but unused text */
      s->xkey[key] = koff;
    }
    m = add_member(s, i);
    m->key = s->xkey[key];
    m->klen = known_len[key];
    r->at[key] = (int32_t)(FB_CREC_XMEMBER + (m - s->xmembers));
  }
  r->edited = true;
  m->val = off;
  m->vlen = (uint32_t)n;
  m->type = shape->type;
  m->reals = shape->reals;
  m->kinds = shape->kinds;
  m->kinds2 = shape->kinds2;
  return 0;
}

int fb_crec_set_text(fb_crecs *s, size_t i, int key, const char *t, size_t n) {
  value_shape shape;
  uint32_t off = append_text(s, t, n, &shape);
  if (off == UINT32_MAX) return -1;
  return set_member(s, i, key, off, n, &shape);
}

int fb_crec_set_shared(fb_crecs *s, size_t i, int key, const fb_cmember *v) {
  uint64_t end = (uint64_t)v->val + v->vlen;
  if (v->vlen == 0 || (v->val < s->len ? end > s->len : end > s->len + s->xused)) return -1;
  value_shape shape = {v->type, v->kinds, v->kinds2, v->reals};
  return set_member(s, i, key, v->val, v->vlen, &shape);
}
