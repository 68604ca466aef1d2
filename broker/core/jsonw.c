#include "core/jsonw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Deeper than anything the hub parses (jansson's loader stops at 2048) plus what the
 * answer wraps around records: deeper means a cycle, which jansson refuses too. */
#define MAX_DEPTH 4096

/* 0: copied as is; 1: a two-byte escape (its letter in short_escape); 2: \u00XX;
 * 3: the start of a multi-byte UTF-8 sequence, checked. */
static const unsigned char byte_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};

static char short_escape(unsigned char c) {
  switch (c) {
  case '"': return '"';
  case '\\': return '\\';
  case '\b': return 'b';
  case '\f': return 'f';
  case '\n': return 'n';
  case '\r': return 'r';
  default: return 't';
  }
}

/* Length of the valid UTF-8 sequence at s (at most `left` bytes), or 0: the checks of
 * jansson's utf8_check_first / utf8_check_full (no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t left) {
  unsigned c = s[0];
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;
  if (n > left) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

/* The quoted string. Worst case 6 output bytes per input byte, reserved at once. */
static int put_string(fb_buf *b, const char *str, size_t len) {
  fb_buf_reserve(b, len * 6 + 2);
  char *o = b->data + b->len;
  const unsigned char *s = (const unsigned char *)str, *end = s + len;
  *o++ = '"';
  while (s < end) {
    const unsigned char *run = s;
    while (s < end && byte_class[*s] == 0) s++;
    memcpy(o, run, (size_t)(s - run));
    o += s - run;
    if (s == end) break;
    switch (byte_class[*s]) {
    case 1:
      *o++ = '\\';
      *o++ = short_escape(*s++);
      break;
    case 2: {
      static const char hex[] = "0123456789ABCDEF";
      memcpy(o, "\\u00", 4);
      o[4] = hex[*s >> 4];
      o[5] = hex[*s & 15];
      o += 6;
      s++;
      break;
    }
    default: {
      size_t n = utf8_len(s, (size_t)(end - s));
      if (!n) return -1;
      memcpy(o, s, n);
      o += n;
      s += n;
    }
    }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  b->data[b->len] = '\0';
  return 0;
}

/* "%.{p}g" of a finite v != 0 without printf, for the common reals (|v| from 1e-10 to
 * 1e17, p <= 17): the p significant digits are the exact value m * 2^e times 10^k,
 * rounded half to even, computed in 128-bit integers, which is what glibc's printf
 * gives (it rounds the exact binary value in the default rounding mode). Returns the
 * length written into `out` (at least 32 bytes), or 0 when the value is outside that
 * range (the caller uses snprintf). tests/unit/core/test_json_fast.c compares the two. */
static size_t fast_g(double v, int p, char *out) {
  static const uint64_t pow10[18] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
                                   100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
                                   1000000000000ull, 10000000000000ull, 100000000000000ull,
                                   1000000000000000ull, 10000000000000000ull, 100000000000000000ull};
  static const uint64_t pow5[28] = {
      1ull, 5ull, 25ull, 125ull, 625ull, 3125ull, 15625ull, 78125ull, 390625ull, 1953125ull, 9765625ull,
      48828125ull, 244140625ull, 1220703125ull, 6103515625ull, 30517578125ull, 152587890625ull,
      762939453125ull, 3814697265625ull, 19073486328125ull, 95367431640625ull, 476837158203125ull,
      2384185791015625ull, 11920928955078125ull, 59604644775390625ull, 298023223876953125ull,
      1490116119384765625ull, 7450580596923828125ull};
  if (p < 1 || p > 17) return 0;
  size_t len = 0;
  if (v < 0) {
    out[len++] = '-';
    v = -v;
  }
  if (!(v >= 1e-10 && v < 1e17)) return 0; /* zero, NaN and infinities too */
  int e2;
  double fr = frexp(v, &e2);
  uint64_t m = (uint64_t)ldexp(fr, 53); /* exact: v = m * 2^(e2 - 53) */
  int e = e2 - 53;
  /* v is in [2^(e2-1), 2^e2): its decimal exponent is floor((e2 - 1) log10 2) or one
   * more (78913 / 2^18 is log10 2 to 6 digits, exact enough for |e2| < 1,000), and
   * the loop below settles which */
  int d = (e2 - 1) * 78913 >> 18;
  uint64_t n = 0;
  for (int tries = 0;; tries++) {
    int k = p - 1 - d; /* n = round(v * 10^k) must have p digits */
    if (tries == 3 || k < 0 || k > 27) return 0; /* 5^27 is the last power of 5 under 2^64 */
    unsigned __int128 x = (unsigned __int128)m * pow5[k]; /* < 2^53 * 2^63 */
    int s = e + k;                      /* v * 10^k = x * 2^s */
    unsigned __int128 q;   /* v * 10^k, truncated */
    bool up = false;       /* and rounded up (half to even) */
    if (s >= 0) {
      if (s > 60 || (x >> (127 - s)) != 0) return 0;
      q = x << s;
    } else if (-s >= 127) {
      q = 0;
    } else {
      q = x >> -s;
      unsigned __int128 rem = x - (q << -s), half = (unsigned __int128)1 << (-s - 1);
      up = rem > half || (rem == half && (q & 1));
    }
    /* d is v's own exponent when the truncated value has p digits */
    if (q >= pow10[p]) d++;
    else if (q < pow10[p - 1]) d--;
    else {
      n = (uint64_t)q + up;
      if (n == pow10[p]) { /* 9.99..95 rounds to 10.0..0 */
        n = pow10[p - 1];
        d++;
      }
      break;
    }
  }
  char dig[20];
  for (int i = p - 1; i >= 0; i--, n /= 10) dig[i] = (char)('0' + n % 10);
  int nd = p; /* %g drops the trailing zeros of the fraction */
  while (nd > 1 && dig[nd - 1] == '0') nd--;
  if (d < -4 || d >= p) { /* d.ddde±XX */
    out[len++] = dig[0];
    if (nd > 1) {
      out[len++] = '.';
      memcpy(out + len, dig + 1, (size_t)nd - 1);
      len += (size_t)nd - 1;
    }
    out[len++] = 'e';
    out[len++] = d < 0 ? '-' : '+';
    int x = d < 0 ? -d : d;
    if (x >= 100) out[len++] = (char)('0' + x / 100);
    out[len++] = (char)('0' + x / 10 % 10);
    out[len++] = (char)('0' + x % 10);
  } else if (d >= 0) { /* ddd.ddd */
    memcpy(out + len, dig, (size_t)d + 1);
    len += (size_t)d + 1;
    if (nd > d + 1) {
      out[len++] = '.';
      memcpy(out + len, dig + d + 1, (size_t)(nd - d - 1));
      len += (size_t)(nd - d - 1);
    }
  } else { /* 0.000ddd */
    memcpy(out + len, "0.", 2);
    len += 2;
    for (int i = 0; i < -d - 1; i++) out[len++] = '0';
    memcpy(out + len, dig, (size_t)nd);
    len += (size_t)nd;
  }
  out[len] = '\0';
  return len;
}

/* jansson's jsonp_dtostr: "%.{p}g", a ".0" when the text has neither '.' nor 'e', and
 * the exponent without its '+' or leading zeros. */
void fb_jsonw_real(fb_buf *b, double v, int precision) {
  char t[64];
  size_t len = fast_g(v, precision ? precision : 17, t);
  if (!len) {
    int n = snprintf(t, sizeof t, "%.*g", precision ? precision : 17, v);
    if (n < 0 || (size_t)n >= sizeof t - 3) return;
    len = (size_t)n;
  }
  for (size_t i = 0; i < len; i++)
    if (t[i] == ',') t[i] = '.'; /* jansson undoes a locale's decimal comma the same way */
  if (!strchr(t, '.') && !strchr(t, 'e')) {
    memcpy(t + len, ".0", 3);
    len += 2;
  }
  char *start = strchr(t, 'e');
  if (start) {
    start++;
    char *end = start + 1;
    if (*start == '-') start++;
    while (*end == '0') end++;
    if (end != start) {
      memmove(start, end, len - (size_t)(end - t) + 1);
      len -= (size_t)(end - start);
    }
  }
  fb_buf_append(b, t, len);
}

/* One byte: the hot separators, without fb_buf_append's general path. */
static inline void put_byte(fb_buf *b, char c) {
  if (b->len + 2 > b->cap) fb_buf_reserve(b, 1);
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

static int put_value(fb_buf *b, const json_t *v, int precision, int depth) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    if (depth >= MAX_DEPTH) return -1;
    put_byte(b, '{');
    bool first = true;
    for (void *it = json_object_iter((json_t *)(uintptr_t)v); it; it = json_object_iter_next((json_t *)(uintptr_t)v, it)) {
      if (!first) put_byte(b, ',');
      first = false;
      if (put_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) != 0) return -1;
      put_byte(b, ':');
      if (put_value(b, json_object_iter_value(it), precision, depth + 1) != 0) return -1;
    }
    put_byte(b, '}');
    return 0;
  }
  case JSON_ARRAY: {
    if (depth >= MAX_DEPTH) return -1;
    put_byte(b, '[');
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
      if (i) put_byte(b, ',');
      if (put_value(b, json_array_get(v, i), precision, depth + 1) != 0) return -1;
    }
    put_byte(b, ']');
    return 0;
  }
  case JSON_STRING: return put_string(b, json_string_value(v), json_string_length(v));
  case JSON_INTEGER: { /* "%lld" without printf */
    json_int_t x = json_integer_value(v);
    uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
    char t[24], *o = t + sizeof t;
    do {
      *--o = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    if (x < 0) *--o = '-';
    fb_buf_append(b, o, (size_t)(t + sizeof t - o));
    return 0;
  }
  case JSON_REAL: fb_jsonw_real(b, json_real_value(v), precision); return 0;
  case JSON_TRUE: fb_buf_append(b, "true", 4); return 0;
  case JSON_FALSE: fb_buf_append(b, "false", 5); return 0;
  case JSON_NULL: fb_buf_append(b, "null", 4); return 0;
  }
  return -1;
}

int fb_jsonw_value(fb_buf *b, const json_t *v, int precision) {
  size_t mark = b->len;
  if (!v || put_value(b, v, precision, 0) != 0) {
    b->len = mark;
    if (b->data) b->data[mark] = '\0';
    return -1;
  }
  return 0;
}

int fb_jsonw_dump(fb_buf *b, const json_t *v, int precision) {
  if (!json_is_object(v) && !json_is_array(v)) return -1;
  return fb_jsonw_value(b, v, precision);
}

int fb_jsonw_string(fb_buf *b, const char *s, size_t len) { return put_string(b, s, len); }
