#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"

int fb_set_errorv(char **err, const char *fmt, va_list ap) {
  if (!err) return -1;
  fb_buf b = {0};
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) { /* only a bad format string gets here */
    *err = fb_xstrdup("error (unformattable message)");
    return -1;
  }
  fb_buf_reserve(&b, (size_t)n);
  vsnprintf(b.data, (size_t)n + 1, fmt, ap);
  b.len = (size_t)n;
  *err = fb_buf_steal(&b);
  return -1;
}

int fb_set_error(char **err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fb_set_errorv(err, fmt, ap);
  va_end(ap);
  return -1;
}

int fb_prefix_error(char **err, const char *fmt, ...) {
  if (!err || !*err) return -1;
  char *prefix = NULL;
  va_list ap;
  va_start(ap, fmt);
  fb_set_errorv(&prefix, fmt, ap);
  va_end(ap);
  char *old = *err;
  fb_set_error(err, "%s%s", prefix, old);
  free(prefix);
  free(old);
  return -1;
}
