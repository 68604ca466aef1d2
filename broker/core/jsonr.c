#include "core/jsonr.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Far below jansson's 2048: deeper input goes to json_loadb, which judges the limit. */
#define MAX_DEPTH 256
/* Longer number texts (none in a record) go to json_loadb too. */
#define MAX_NUMBER 64

typedef struct {
  const unsigned char *p, *end;
  bool reject_duplicates; /* JSON_REJECT_DUPLICATES: a repeated key goes to json_loadb */
} scanner;

static void skip_ws(scanner *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

/* Length of the valid UTF-8 sequence at p, or 0 (jansson's rules: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;
  if ((size_t)(end - p) < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

static int hex4(const unsigned char *p, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t utf8_put(uint32_t cp, char *o) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The string after the opening quote: its bytes in *out / *outlen, either a span of
 * the input (*heap NULL) or a malloc'd decoding of its escapes (*heap set). Returns
 * -1 where json_loadb must judge (a control character, invalid UTF-8, a bad escape,
 * \u0000 or a surrogate that does not pair, the end of the input). */
static int scan_string(scanner *s, const char **out, size_t *outlen, char **heap) {
  const unsigned char *start = s->p;
  bool escaped = false;
  *heap = NULL;
  for (;;) {
    if (s->p >= s->end) return -1;
    unsigned c = *s->p;
    if (c == '"') break;
    if (c < 0x20) return -1;
    if (c == '\\') {
      escaped = true;
      if (s->end - s->p < 2) return -1;
      s->p += 2;
      continue;
    }
    if (c < 0x80) {
      s->p++;
      continue;
    }
    size_t n = utf8_len(s->p, s->end);
    if (!n) return -1;
    s->p += n;
  }
  const unsigned char *stop = s->p++;
  if (!escaped) {
    *out = (const char *)start;
    *outlen = (size_t)(stop - start);
    return 0;
  }
  /* Decoding never makes the text longer: \uXXXX (6 bytes) gives at most 3. */
  char *o = malloc((size_t)(stop - start) + 1), *w = o;
  if (!o) return -1;
  for (const unsigned char *p = start; p < stop;) {
    if (*p != '\\') {
      *w++ = (char)*p++;
      continue;
    }
    p++;
    switch (*p++) {
    case '"': *w++ = '"'; break;
    case '\\': *w++ = '\\'; break;
    case '/': *w++ = '/'; break;
    case 'b': *w++ = '\b'; break;
    case 'f': *w++ = '\f'; break;
    case 'n': *w++ = '\n'; break;
    case 'r': *w++ = '\r'; break;
    case 't': *w++ = '\t'; break;
    case 'u': {
      uint32_t cp, lo;
      if (stop - p < 4 || hex4(p, &cp) != 0) goto bail;
      p += 4;
      if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) goto bail;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (stop - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
          goto bail;
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      w += utf8_put(cp, w);
      break;
    }
    default: goto bail;
    }
  }
  *w = '\0';
  *out = o;
  *outlen = (size_t)(w - o);
  *heap = o;
  return 0;
bail:
  free(o);
  return -1;
}

static json_t *scan_value(scanner *s, int depth);

static json_t *scan_number(scanner *s) {
  const unsigned char *start = s->p;
  bool real = false;
  if (s->p < s->end && *s->p == '-') s->p++;
  if (s->p >= s->end) return NULL;
  if (*s->p == '0') {
    s->p++;
    if (s->p < s->end && *s->p >= '0' && *s->p <= '9') return NULL;
  } else if (*s->p >= '1' && *s->p <= '9') {
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  } else {
    return NULL;
  }
  if (s->p < s->end && *s->p == '.') {
    real = true;
    s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9') return NULL;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    real = true;
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9') return NULL;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  }
  size_t n = (size_t)(s->p - start);
  if (n >= MAX_NUMBER) return NULL;
  char text[MAX_NUMBER];
  memcpy(text, start, n);
  text[n] = '\0';
  char *end;
  errno = 0;
  if (!real) {
    long long v = strtoll(text, &end, 10);
    if (errno == ERANGE || end != text + n) return NULL;
    return json_integer((json_int_t)v);
  }
  double d = strtod(text, &end);
  if (end != text + n || ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)) return NULL;
  return json_real(d);
}

/* A literal must not run on into more letters: jansson reads the whole word. */
static json_t *scan_word(scanner *s, const char *word, size_t n, json_t *value) {
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return NULL;
  s->p += n;
  if (s->p < s->end && ((*s->p | 0x20) >= 'a' && (*s->p | 0x20) <= 'z')) return NULL;
  return value;
}

static json_t *scan_object(scanner *s, int depth) {
  json_t *o = json_object();
  s->p++; /* '{' */
  skip_ws(s);
  if (s->p < s->end && *s->p == '}') {
    s->p++;
    return o;
  }
  for (;;) {
    if (s->p >= s->end || *s->p != '"') goto bail;
    s->p++;
    const char *key;
    size_t klen;
    char *heap;
    if (scan_string(s, &key, &klen, &heap) != 0) goto bail;
    skip_ws(s);
    json_t *v = NULL;
    if (s->p < s->end && *s->p == ':') {
      s->p++;
      skip_ws(s);
      v = scan_value(s, depth + 1);
    }
    /* setn_new_nocheck: the key's UTF-8 was checked above and has no NUL */
    int rc = -1;
    if (v && s->reject_duplicates && json_object_getn(o, key, klen)) json_decref(v);
    else if (v) rc = json_object_setn_new_nocheck(o, key, klen, v);
    free(heap);
    if (rc != 0) goto bail;
    skip_ws(s);
    if (s->p >= s->end) goto bail;
    if (*s->p == '}') {
      s->p++;
      return o;
    }
    if (*s->p != ',') goto bail;
    s->p++;
    skip_ws(s);
  }
bail:
  json_decref(o);
  return NULL;
}

static json_t *scan_array(scanner *s, int depth) {
  json_t *a = json_array();
  s->p++; /* '[' */
  skip_ws(s);
  if (s->p < s->end && *s->p == ']') {
    s->p++;
    return a;
  }
  for (;;) {
    json_t *v = scan_value(s, depth + 1);
    if (!v || json_array_append_new(a, v) != 0) goto bail;
    skip_ws(s);
    if (s->p >= s->end) goto bail;
    if (*s->p == ']') {
      s->p++;
      return a;
    }
    if (*s->p != ',') goto bail;
    s->p++;
    skip_ws(s);
  }
bail:
  json_decref(a);
  return NULL;
}

static json_t *scan_value(scanner *s, int depth) {
  if (s->p >= s->end || depth > MAX_DEPTH) return NULL;
  switch (*s->p) {
  case '{': return scan_object(s, depth);
  case '[': return scan_array(s, depth);
  case '"': {
    s->p++;
    const char *str;
    size_t n;
    char *heap;
    if (scan_string(s, &str, &n, &heap) != 0) return NULL;
    json_t *v = json_stringn_nocheck(str, n);
    free(heap);
    return v;
  }
  case 't': return scan_word(s, "true", 4, json_true());
  case 'f': return scan_word(s, "false", 5, json_false());
  case 'n': return scan_word(s, "null", 4, json_null());
  default: return scan_number(s);
  }
}

static json_t *fast(const char *buf, size_t len, bool reject_duplicates) {
  if (!buf) return NULL;
  scanner s = {(const unsigned char *)buf, (const unsigned char *)buf + len, reject_duplicates};
  skip_ws(&s);
  /* Without JSON_DECODE_ANY the text must be an object or an array. */
  if (s.p >= s.end || (*s.p != '{' && *s.p != '[')) return NULL;
  json_t *v = scan_value(&s, 1);
  if (!v) return NULL;
  skip_ws(&s);
  if (s.p != s.end) { /* trailing bytes: json_loadb says what they are */
    json_decref(v);
    return NULL;
  }
  return v;
}

json_t *fb_jsonr_fast(const char *buf, size_t len) { return fast(buf, len, false); }

json_t *fb_jsonr_loadb_flags(const char *buf, size_t len, size_t flags, json_error_t *err) {
  json_t *v = flags & ~(size_t)JSON_REJECT_DUPLICATES ? NULL : fast(buf, len, flags != 0);
  if (v) {
    if (err) memset(err, 0, sizeof *err);
    return v;
  }
  return json_loadb(buf ? buf : "", len, flags, err);
}

json_t *fb_jsonr_loadb(const char *buf, size_t len, json_error_t *err) {
  return fb_jsonr_loadb_flags(buf, len, 0, err);
}
