#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

static void out_of_memory(void) {
  fputs("{\"level\":\"error\",\"event\":\"oom\",\"msg\":\"out of memory\"}\n", stderr);
  abort();
}

void *fb_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

void *fb_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

void *fb_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) out_of_memory();
  return q;
}

char *fb_xstrdup(const char *s) { return fb_xstrndup(s, strlen(s)); }

char *fb_xstrndup(const char *s, size_t n) {
  char *p = fb_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void fb_json_use_xalloc(void) {
  /* fb_xmalloc is malloc that aborts on NULL, so values jansson made before this call
   * (there should be none) and strings it returns are still freed with free(). */
  json_set_alloc_funcs(fb_xmalloc, free);
}

void fb_buf_grow(fb_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  b->data = fb_xrealloc(b->data, cap);
  b->cap = cap;
  b->data[b->len] = '\0'; /* a reserved buffer is already a valid (empty) string */
}

void fb_buf_put_uint(fb_buf *b, uint64_t v) {
  char t[24], *o = t + sizeof t;
  do {
    *--o = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  fb_buf_append(b, o, (size_t)(t + sizeof t - o));
}

void fb_buf_printf(fb_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  fb_buf_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void fb_buf_json_string(fb_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  fb_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fb_buf_puts(b, "\\\""); break;
    case '\\': fb_buf_puts(b, "\\\\"); break;
    case '\n': fb_buf_puts(b, "\\n"); break;
    case '\r': fb_buf_puts(b, "\\r"); break;
    case '\t': fb_buf_puts(b, "\\t"); break;
    default:
      if (*p < 0x20) {
        char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
        fb_buf_puts(b, esc);
      } else {
        fb_buf_putc(b, (char)*p);
      }
    }
  }
  fb_buf_putc(b, '"');
}

void fb_buf_reset(fb_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void fb_buf_free(fb_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *fb_buf_steal(fb_buf *b) {
  char *p = b->data ? b->data : fb_xstrdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

double fb_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int64_t fb_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fb_wall_s(void) { return fb_wall_ms() / 1000; }

static void put_digits(char *out, int v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10) out[i] = (char)('0' + v % 10);
}

/* Every audit entry is stamped: the digits are written directly for the years 0 to
 * 9999 after 1970 (the text "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" gives), snprintf
 * writes the rest (before 1970 the milliseconds are negative). */
void fb_rfc3339_from_ms(int64_t epoch_ms, char out[FB_RFC3339_LEN]) {
  time_t secs = (time_t)(epoch_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  int year = tm.tm_year + 1900;
  if (epoch_ms >= 0 && year <= 9999) {
    put_digits(out, year, 4);
    out[4] = '-';
    put_digits(out + 5, tm.tm_mon + 1, 2);
    out[7] = '-';
    put_digits(out + 8, tm.tm_mday, 2);
    out[10] = 'T';
    put_digits(out + 11, tm.tm_hour, 2);
    out[13] = ':';
    put_digits(out + 14, tm.tm_min, 2);
    out[16] = ':';
    put_digits(out + 17, tm.tm_sec, 2);
    out[19] = '.';
    put_digits(out + 20, (int)(epoch_ms % 1000), 3);
    memcpy(out + 23, "Z", 2);
    return;
  }
  snprintf(out, FB_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(epoch_ms % 1000));
}

void fb_rfc3339_now(char out[FB_RFC3339_LEN]) { fb_rfc3339_from_ms(fb_wall_ms(), out); }

char *fb_read_file(const char *path, size_t max, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    fclose(f);
    return NULL;
  }
  if ((size_t)st.st_size > max) {
    fclose(f);
    errno = EFBIG;
    return NULL;
  }
  fb_buf b = {0};
  fb_buf_reserve(&b, (size_t)st.st_size);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + n > max) {
      fclose(f);
      fb_buf_free(&b);
      errno = EFBIG;
      return NULL;
    }
    fb_buf_append(&b, chunk, n);
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    fb_buf_free(&b);
    errno = EIO;
    return NULL;
  }
  if (len_out) *len_out = b.len;
  return fb_buf_steal(&b);
}

char *fb_path_relative_to(const char *base_file, const char *rel) {
  if (rel[0] == '/' || !base_file) return fb_xstrdup(rel);
  const char *slash = strrchr(base_file, '/');
  if (!slash) return fb_xstrdup(rel);
  fb_buf b = {0};
  fb_buf_append(&b, base_file, (size_t)(slash - base_file) + 1);
  fb_buf_puts(&b, rel);
  return fb_buf_steal(&b);
}

void fb_hex_encode(const uint8_t *in, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[in[i] >> 4];
    out[2 * i + 1] = hex[in[i] & 15];
  }
  out[2 * n] = '\0';
}

bool fb_ct_equal(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  unsigned char d = 0;
  for (size_t i = 0; i < n; i++) d |= x[i] ^ y[i];
  return d == 0;
}
