#include "adapters/normalize.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Lowercase ASCII base letters of U+00C0..U+00FF and U+0100..U+017F; ' ' for the two
 * symbols (x and ÷) that are not letters. */
static const char latin1[] =
    "aaaaaaaceeeeiiiidnooooo ouuuuyts"
    "aaaaaaaceeeeiiiidnooooo ouuuuyty";
static const char latin_ext_a[] =
    "aaaaaacccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "ii" "jj" "kkk"
    "llllllllll" "nnnnnnnnn" "oooooooo" "rrrrrr" "ssssssss" "tttttt" "uuuuuuuuuuuu" "ww"
    "yyy" "zzzzzz" "s";
_Static_assert(sizeof latin1 == 65, "latin1 table covers U+00C0..U+00FF");
_Static_assert(sizeof latin_ext_a == 129, "table covers U+0100..U+017F");

/* Decodes one UTF-8 sequence at s; returns its length (1 for an invalid byte, with
 * *cp = 0xFFFD so that it is dropped). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp) {
  if (s[0] < 0x80) { *cp = s[0]; return 1; }
  size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
  if (n == 0 || s[0] > 0xF4) { *cp = 0xFFFD; return 1; }
  uint32_t c = s[0] & (0x7F >> n);
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) { *cp = 0xFFFD; return 1; }
    c = (c << 6) | (s[i] & 0x3F);
  }
  *cp = c;
  return n;
}

/* Case folds and strips Latin diacritics; separators become one space, apostrophes
 * vanish ("D'Souza" -> "dsouza"), other scripts are copied as they are. */
static size_t fold(const char *in, char *out, size_t outlen) {
  const unsigned char *s = (const unsigned char *)in;
  size_t o = 0;
  bool space = true; /* suppress leading and repeated spaces */
  while (*s && o + 5 < outlen) {
    uint32_t cp;
    size_t n = utf8_next(s, &cp);
    char c = 0;
    if (cp < 0x80) {
      if (isalnum((int)cp)) c = (char)tolower((int)cp);
      else if (cp == '\'' || cp == '`') { s += n; continue; }
      else c = ' ';
    } else if (cp >= 0xC0 && cp <= 0xFF) {
      c = latin1[cp - 0xC0];
    } else if (cp >= 0x100 && cp <= 0x17F) {
      c = latin_ext_a[cp - 0x100];
    } else if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == 0xFFFD) {
      s += n;
      continue;
    } else if (cp < 0xC0 || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000) {
      c = ' '; /* Latin-1 punctuation, general punctuation, ideographic space */
    } else {
      memcpy(out + o, s, n); /* another script: keep the bytes */
      o += n;
      s += n;
      space = false;
      continue;
    }
    s += n;
    if (c == ' ') {
      if (!space) out[o++] = ' ';
      space = true;
    } else {
      out[o++] = c;
      space = false;
    }
  }
  while (o > 0 && out[o - 1] == ' ') o--;
  out[o] = '\0';
  return o;
}

static bool is_connector(const char *t, size_t n) {
  static const char *const words[] = {"bin", "binti", "binte", "bint", "bte", "bt", "bn",
                                      "ibn", "al",  "el",    "ap",   "al"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strlen(words[i]) == n && memcmp(words[i], t, n) == 0) return true;
  return false;
}

/* Whole-token abbreviations; returns the expansion or NULL. */
static const char *expand(const char *t, size_t n) {
  static const char *const from[] = {"md", "mohd", "muhd", "mhd", "moh", "mohd", "abd"};
  static const char *const to[] = {"muhammad", "muhammad", "muhammad", "muhammad",
                                   "muhammad", "muhammad", "abdul"};
  for (size_t i = 0; i < sizeof from / sizeof from[0]; i++)
    if (strlen(from[i]) == n && memcmp(from[i], t, n) == 0) return to[i];
  return NULL;
}

static bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

/* Reduces an ASCII token to its phonetic key in place; returns the new length. The
 * rules merge the spelling variants common in Malay, Indonesian, Bengali and Thai
 * romanisations: old Dutch spellings (dj, tj, oe), aspirated digraphs, e/a and o/u
 * vowel shifts, doubled letters, a final h after a vowel. */
static size_t phonetic(char *t, size_t n) {
  static const struct { char a, b, to; } digraphs[] = {
      {'d', 'j', 'j'}, {'t', 'j', 'c'}, {'c', 'h', 'c'}, {'s', 'j', 's'}, {'s', 'h', 's'},
      {'s', 'y', 's'}, {'o', 'e', 'u'}, {'o', 'u', 'u'}, {'o', 'o', 'u'}, {'p', 'h', 'f'},
      {'t', 'h', 't'}, {'k', 'h', 'k'}, {'d', 'h', 'd'}, {'g', 'h', 'g'}, {'c', 'k', 'k'},
      {'e', 'e', 'i'}, {'i', 'e', 'i'}};
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    if (i + 1 < n) {
      bool hit = false;
      for (size_t d = 0; d < sizeof digraphs / sizeof digraphs[0]; d++) {
        if (c == digraphs[d].a && t[i + 1] == digraphs[d].b) {
          c = digraphs[d].to;
          i++;
          hit = true;
          break;
        }
      }
      (void)hit;
    }
    switch (c) {
      case 'q': c = 'k'; break;
      case 'e': c = 'a'; break;
      case 'o': c = 'u'; break;
      case 'y': if (o > 0) c = 'i'; break;
      default: break;
    }
    if (o > 0 && t[o - 1] == c) continue; /* collapse doubles */
    t[o++] = c;
  }
  if (o > 2 && t[o - 1] == 'h' && is_vowel(t[o - 2])) o--;
  return o;
}

static void key_push(fb_name_key *k, const char *tok, size_t n) {
  if (k->n >= FB_NAME_MAX_TOKENS || n == 0) return;
  size_t used = k->n ? (size_t)k->off[k->n - 1] + k->len[k->n - 1] + 1 : 0;
  if (used + n + 1 > sizeof k->buf || n > 255) return;
  memcpy(k->buf + used, tok, n);
  k->off[k->n] = (uint8_t)used;
  k->len[k->n] = (uint8_t)n;
  k->n++;
  if (k->n > 1) k->buf[used - 1] = ' ';
  k->buf[used + n] = '\0';
}

void fb_name_key_make(const char *name, fb_name_key *out) {
  memset(out, 0, sizeof *out);
  if (!name) return;
  char folded[512];
  size_t len = fold(name, folded, sizeof folded);
  size_t i = 0;
  while (i < len && out->n < FB_NAME_MAX_TOKENS) {
    size_t j = i;
    while (j < len && folded[j] != ' ') j++;
    char *t = folded + i;
    size_t n = j - i;
    i = j + 1;
    bool ascii = true;
    for (size_t x = 0; x < n; x++)
      if ((unsigned char)t[x] >= 0x80) ascii = false;
    if (!ascii) {
      key_push(out, t, n);
      continue;
    }
    if (n < 2 || is_connector(t, n)) continue; /* initials and "bin" carry nothing */
    char tmp[64];
    const char *x = expand(t, n);
    if (x) { n = strlen(x); memcpy(tmp, x, n); }
    else {
      if (n > sizeof tmp) n = sizeof tmp;
      memcpy(tmp, t, n);
    }
    n = phonetic(tmp, n);
    key_push(out, tmp, n);
  }
}

void fb_name_key_parse(const char *keys, fb_name_key *out) {
  memset(out, 0, sizeof *out);
  if (!keys) return;
  const char *p = keys;
  while (*p) {
    while (*p == ' ') p++;
    const char *q = p;
    while (*q && *q != ' ') q++;
    if (q > p) key_push(out, p, (size_t)(q - p));
    p = q;
  }
}

double fb_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen == 0 || blen == 0) return 0.0;
  if (alen == blen && memcmp(a, b, alen) == 0) return 1.0;
  if (alen > 64) alen = 64;
  if (blen > 64) blen = 64;
  size_t window = (alen > blen ? alen : blen) / 2;
  window = window > 0 ? window - 1 : 0;
  bool am[64] = {0}, bm[64] = {0};
  size_t matches = 0;
  for (size_t i = 0; i < alen; i++) {
    size_t lo = i > window ? i - window : 0;
    size_t hi = i + window + 1 < blen ? i + window + 1 : blen;
    for (size_t j = lo; j < hi; j++) {
      if (!bm[j] && a[i] == b[j]) {
        am[i] = bm[j] = true;
        matches++;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;
  size_t k = 0, trans = 0;
  for (size_t i = 0; i < alen; i++) {
    if (!am[i]) continue;
    while (!bm[k]) k++;
    if (a[i] != b[k]) trans++;
    k++;
  }
  double m = (double)matches;
  double jaro = (m / (double)alen + m / (double)blen + (m - (double)trans / 2.0) / m) / 3.0;
  size_t prefix = 0;
  while (prefix < 4 && prefix < alen && prefix < blen && a[prefix] == b[prefix]) prefix++;
  return jaro + (double)prefix * 0.1 * (1.0 - jaro);
}

double fb_name_similarity(const fb_name_key *a, const fb_name_key *b) {
  if (a->n == 0 || b->n == 0) return 0.0;
  double sim[FB_NAME_MAX_TOKENS][FB_NAME_MAX_TOKENS];
  for (int i = 0; i < a->n; i++)
    for (int j = 0; j < b->n; j++) {
      double s = fb_jaro_winkler(a->buf + a->off[i], a->len[i], b->buf + b->off[j], b->len[j]);
      sim[i][j] = s >= 0.8 ? s : 0.0;
    }
  /* Greedy alignment: take the best remaining pair until one side is used up. With at
   * most 8 tokens a side this is cheap and order-independent. */
  bool ua[FB_NAME_MAX_TOKENS] = {0}, ub[FB_NAME_MAX_TOKENS] = {0};
  int pairs = a->n < b->n ? a->n : b->n;
  double sum = 0.0;
  for (int p = 0; p < pairs; p++) {
    double best = -1.0;
    int bi = -1, bj = -1;
    for (int i = 0; i < a->n; i++) {
      if (ua[i]) continue;
      for (int j = 0; j < b->n; j++)
        if (!ub[j] && sim[i][j] > best) { best = sim[i][j]; bi = i; bj = j; }
    }
    if (bi < 0 || best <= 0.0) break;
    ua[bi] = ub[bj] = true;
    sum += best;
  }
  return 2.0 * sum / (double)(a->n + b->n);
}

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
  size_t len = fold(in ? in : "", folded, sizeof folded);
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
