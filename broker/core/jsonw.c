#include "core/jsonw.h"

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

/* jansson's jsonp_dtostr: "%.{p}g", a ".0" when the text has neither '.' nor 'e', and
 * the exponent without its '+' or leading zeros. */
static void put_real(fb_buf *b, double v, int precision) {
  char t[64];
  int n = snprintf(t, sizeof t, "%.*g", precision ? precision : 17, v);
  if (n < 0 || (size_t)n >= sizeof t - 3) return;
  size_t len = (size_t)n;
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
  case JSON_INTEGER: {
    char t[24];
    int n = snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    fb_buf_append(b, t, (size_t)n);
    return 0;
  }
  case JSON_REAL: put_real(b, json_real_value(v), precision); return 0;
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
