#include "match/normalize.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

size_t fb_norm_document(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  if (outlen == 0) return 0;
  for (const unsigned char *s = (const unsigned char *)(in ? in : ""); *s && o + 1 < outlen; s++)
    if (isalnum(*s)) out[o++] = (char)toupper(*s);
  out[o] = '\0';
  return o;
}

size_t fb_norm_phone(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  if (outlen == 0) return 0;
  const char *s = in ? in : "";
  while (*s == ' ') s++;
  if (s[0] == '0' && s[1] == '0') s += 2; /* 0060... is +60... */
  for (; *s && o + 1 < outlen; s++)
    if (*s >= '0' && *s <= '9') out[o++] = *s;
  out[o] = '\0';
  if (o < 6) { out[0] = '\0'; return 0; }
  return o;
}

size_t fb_norm_vessel(const char *in, char *out, size_t outlen) {
  static const char *const prefixes[] = {"km", "kmp", "mv", "mt", "fv", "mb", "klm", "kapal", "kn", "ms"};
  if (outlen == 0) return 0;
  char folded[256];
  size_t len = fb_fold_ascii(in ? in : "", folded, sizeof folded);
  /* "K.M. Sinar" folds to "k m sinar": glue leading single letters back together. */
  char glued[256];
  size_t g = 0, i = 0;
  while (i < len && i + 1 < len && folded[i + 1] == ' ' && i + 2 < len && folded[i + 2] != ' ' &&
         (i == 0 || folded[i - 1] == ' ') && (i + 3 >= len || folded[i + 3] == ' ')) {
    glued[g++] = folded[i];
    i += 2;
  }
  if (g > 0) {
    glued[g++] = folded[i];
    i++;
    while (i < len) glued[g++] = folded[i++];
  } else {
    memcpy(glued, folded, len);
    g = len;
  }
  glued[g] = '\0';
  const char *p = glued;
  for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
    size_t n = strlen(prefixes[k]);
    if (strncmp(p, prefixes[k], n) == 0 && p[n] == ' ') {
      p += n + 1;
      break;
    }
  }
  size_t n = strlen(p);
  if (n + 1 > outlen) n = outlen - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return n;
}

size_t fb_norm_imo(const char *in, char out[8]) {
  out[0] = '\0';
  if (!in) return 0;
  const char *s = in;
  while (*s == ' ') s++;
  if (strncasecmp(s, "imo", 3) == 0) {
    s += 3;
    while (*s == ' ' || *s == ':' || *s == '-') s++;
  }
  size_t n = 0;
  char d[8];
  for (; *s; s++) {
    if (*s >= '0' && *s <= '9') {
      if (n == 7) return 0;
      d[n++] = *s;
    } else if (*s != ' ') {
      return 0;
    }
  }
  if (n != 7) return 0;
  memcpy(out, d, 7);
  out[7] = '\0';
  return 7;
}

int fb_dob_year(const char *dob) {
  if (!dob) return 0;
  for (int i = 0; i < 4; i++)
    if (dob[i] < '0' || dob[i] > '9') return 0;
  if (dob[4] != '\0' && dob[4] != '-') return 0;
  return (dob[0] - '0') * 1000 + (dob[1] - '0') * 100 + (dob[2] - '0') * 10 + (dob[3] - '0');
}
