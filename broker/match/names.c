#include "match/names.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include <utf8proc.h>

#include "match/translit.h"

#define MAX_CPS 1024 /* code points of one name after decomposition; the rest is ignored */
#define FOLDED_MAX 512 /* bytes of a folded name (fb_name_key_make); whole words past it are ignored */

static bool apostrophe(int32_t c) {
  return c == '\'' || c == '`' || c == 0x2018 || c == 0x2019 || c == 0x02BC || c == 0x02BB || c == 0x02BE ||
         c == 0x02BF;
}

static bool in_word(int32_t c) {
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
      return true;
    default:
      return false;
  }
}

static bool is_mark(int32_t c) {
  utf8proc_category_t k = utf8proc_category(c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

/* NFKD + case fold of the whole name into cp (invalid UTF-8 bytes are skipped);
 * returns the number of code points. */
static size_t decompose(const char *in, int32_t *cp, size_t cap) {
  const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)in;
  utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(in);
  size_t n = 0;
  int boundclass = UTF8PROC_BOUNDCLASS_START;
  while (left > 0 && n + 32 < cap) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(s, left, &c);
    if (k < 0) { s++; left--; continue; }
    s += k;
    left -= k;
    utf8proc_ssize_t m = utf8proc_decompose_char(c, cp + n, (utf8proc_ssize_t)(cap - n),
                                                 UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STABLE,
                                                 &boundclass);
    if (m > 0 && (size_t)m <= cap - n) n += (size_t)m;
  }
  /* canonical order of marks (the buffer has room: utf8proc needs none extra here) */
  utf8proc_ssize_t r = utf8proc_normalize_utf32(cp, (utf8proc_ssize_t)n, UTF8PROC_STABLE);
  return r >= 0 ? (size_t)r : n;
}

/* One word cp[0..n) to ASCII in out: Latin letters lose their marks; other scripts
 * are transliterated (*native = true); a word nothing can transliterate keeps its
 * NFC bytes. Returns the length. */
static size_t word_to_ascii(const int32_t *cp, size_t n, char *out, size_t outlen, bool *native) {
  *native = false;
  size_t o = 0;
  bool ascii = true, latin = true;
  for (size_t i = 0; i < n; i++) {
    if (cp[i] < 0x80) {
      if (o + 1 < outlen) out[o++] = (char)cp[i];
    } else if (!is_mark(cp[i])) {
      ascii = false;
      if (!(cp[i] <= 0x24F || (cp[i] >= 0x1E00 && cp[i] <= 0x1EFF))) latin = false;
    }
  }
  out[o] = '\0';
  if (ascii) return o;
  int32_t nfc[128];
  size_t m = n < 96 ? n : 96;
  memcpy(nfc, cp, m * sizeof *nfc);
  utf8proc_ssize_t k = utf8proc_normalize_utf32(nfc, (utf8proc_ssize_t)m, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (k < 0) k = (utf8proc_ssize_t)m;
  o = fb_translit_token(nfc, (size_t)k, out, outlen);
  if (o > 0) {
    *native = !latin;
    return o;
  }
  /* No transliteration: the word's own bytes, composed (compare byte for byte). */
  for (utf8proc_ssize_t i = 0; i < k; i++) {
    utf8proc_uint8_t b[4];
    utf8proc_ssize_t w = utf8proc_encode_char(nfc[i], b);
    if (o + (size_t)w + 1 > outlen) break;
    memcpy(out + o, b, (size_t)w);
    o += (size_t)w;
  }
  out[o] = '\0';
  return o;
}

/* Folds a name to words separated by single spaces; a transliterated word is
 * prefixed by '^' when mark_native. */
static size_t fold(const char *in, char *out, size_t outlen, bool mark_native) {
  if (!in) in = "";
  /* Most names are plain ASCII: NFKC and case folding are then tolower. */
  size_t o = 0;
  const unsigned char *u = (const unsigned char *)in;
  while (*u && *u < 0x80) u++;
  if (!*u) {
    size_t start = 0; /* where the current word (with its space) began */
    bool in_word_now = false;
    for (u = (const unsigned char *)in; *u; u++) {
      if (isalnum(*u)) {
        if (!in_word_now) {
          start = o;
          if (o) out[o++] = ' ';
          in_word_now = true;
        }
        if (o + 1 >= outlen) { o = start; break; } /* whole words only, as below */
        out[o++] = (char)tolower(*u);
      } else if (!apostrophe(*u)) {
        in_word_now = false;
      }
    }
    out[o] = '\0';
    return o;
  }
  int32_t cp[MAX_CPS];
  size_t n = decompose(in, cp, MAX_CPS), i = 0;
  int32_t word[MAX_CPS];
  while (i < n) {
    while (i < n && !in_word(cp[i]) && !apostrophe(cp[i])) i++;
    size_t w = 0;
    while (i < n && (in_word(cp[i]) || apostrophe(cp[i]))) {
      if (!apostrophe(cp[i])) word[w++] = cp[i];
      i++;
    }
    if (w == 0) continue;
    char tok[256];
    bool native;
    size_t t = word_to_ascii(word, w, tok, sizeof tok, &native);
    if (t == 0) continue;
    size_t need = t + (o ? 1 : 0) + (native && mark_native ? 1 : 0);
    if (o + need + 1 > outlen) break;
    if (o) out[o++] = ' ';
    if (native && mark_native) out[o++] = '^';
    memcpy(out + o, tok, t);
    o += t;
  }
  out[o] = '\0';
  return o;
}

size_t fb_fold_ascii(const char *in, char *out, size_t outlen) {
  if (outlen == 0) return 0;
  return fold(in, out, outlen, false);
}

/* Whether t[0..n) is a connector: "bin", "binti", "binte", "bint", "bte", "bt", "bn",
 * "ibn", "al", "el", "ap", "bnt" (bnt, bn: Arabic script). By length, without a list
 * walk: this runs for every word of every name the merge and the index key. */
static bool is_connector(const char *t, size_t n) {
  switch (n) {
    case 2:
      return (t[0] == 'b' && (t[1] == 't' || t[1] == 'n')) || (t[1] == 'l' && (t[0] == 'a' || t[0] == 'e')) ||
             (t[0] == 'a' && t[1] == 'p');
    case 3:
      return memcmp(t, "bin", 3) == 0 || memcmp(t, "bte", 3) == 0 || memcmp(t, "ibn", 3) == 0 ||
             memcmp(t, "bnt", 3) == 0;
    case 4:
      return memcmp(t, "bint", 4) == 0;
    case 5:
      return memcmp(t, "binti", 5) == 0 || memcmp(t, "binte", 5) == 0;
    default:
      return false;
  }
}

/* Whole-token abbreviations ("md", "mohd", "muhd", "mhd", "moh" -> muhammad, "abd" ->
 * abdul); returns the expansion or NULL. */
static const char *expand(const char *t, size_t n) {
  switch (n) {
    case 2:
      return t[0] == 'm' && t[1] == 'd' ? "muhammad" : NULL;
    case 3:
      if (memcmp(t, "mhd", 3) == 0 || memcmp(t, "moh", 3) == 0) return "muhammad";
      return memcmp(t, "abd", 3) == 0 ? "abdul" : NULL;
    case 4:
      return memcmp(t, "mohd", 4) == 0 || memcmp(t, "muhd", 4) == 0 ? "muhammad" : NULL;
    default:
      return NULL;
  }
}

static bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

/* The letter a digraph ab stands for, or 0: dj -> j, tj -> c, ch -> c, sj / sh / sy -> s,
 * oe / ou / oo -> u, ph -> f, th -> t, kh -> k, dh -> d, gh -> g, ck -> k, ee / ie -> i. */
static char digraph(char a, char b) {
  switch (a) {
    case 'd': return b == 'j' ? 'j' : b == 'h' ? 'd' : 0;
    case 't': return b == 'j' ? 'c' : b == 'h' ? 't' : 0;
    case 'c': return b == 'h' ? 'c' : b == 'k' ? 'k' : 0;
    case 's': return b == 'j' || b == 'h' || b == 'y' ? 's' : 0;
    case 'o': return b == 'e' || b == 'u' || b == 'o' ? 'u' : 0;
    case 'p': return b == 'h' ? 'f' : 0;
    case 'k': return b == 'h' ? 'k' : 0;
    case 'g': return b == 'h' ? 'g' : 0;
    case 'e': case 'i': return b == 'e' ? 'i' : 0;
    default: return 0;
  }
}

/* Reduces an ASCII token to its phonetic key in place; returns the new length. The
 * rules merge the spelling variants common in Malay, Indonesian, Bengali and Thai
 * romanisations: old Dutch spellings (dj, tj, oe), aspirated digraphs, e/a and o/u
 * vowel shifts, doubled letters, a final h after a vowel. */
static size_t phonetic(char *t, size_t n) {
  size_t o = 0;
  /* the letters a digraph starts with (digraph() below): one test skips the others */
  const uint32_t starts = 1u << ('d' - 'a') | 1u << ('t' - 'a') | 1u << ('c' - 'a') | 1u << ('s' - 'a') |
                          1u << ('o' - 'a') | 1u << ('p' - 'a') | 1u << ('k' - 'a') | 1u << ('g' - 'a') |
                          1u << ('e' - 'a') | 1u << ('i' - 'a');
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    if (i + 1 < n && (unsigned)(c - 'a') < 26u && (starts >> (c - 'a') & 1)) {
      char d = digraph(c, t[i + 1]);
      if (d) {
        c = d;
        i++;
      }
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

size_t fb_name_skeleton(const char *tok, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < outlen; i++) {
    char c = tok[i];
    if (i == 0 && is_vowel(c)) c = 'a';
    else if (i > 0 && (is_vowel(c) || c == 'y' || c == 'w')) continue;
    if (c == 'j' || c == 'z') c = 'c'; /* Thai จ is "c" in ISO 11940, "j"/"ch" in names; Bengali জ is j or z */
    if (o > 0 && out[o - 1] == c) continue;
    out[o++] = c;
  }
  out[o] = '\0';
  return o;
}

static void key_push(fb_name_key *k, const char *tok, size_t n, bool native) {
  if (k->n >= FB_NAME_MAX_TOKENS || n == 0 || n > 255) return;
  size_t used = k->n ? (size_t)k->off[k->n - 1] + k->len[k->n - 1] + 1 : 0; /* after the space */
  size_t start = used + (native ? 1 : 0);
  if (start + n + 1 > sizeof k->buf) return;
  if (k->n > 0) k->buf[used - 1] = ' ';
  if (native) k->buf[used] = '^';
  memcpy(k->buf + start, tok, n);
  k->buf[start + n] = '\0';
  k->off[k->n] = (uint8_t)start;
  k->len[k->n] = (uint8_t)n;
  if (native) k->native |= (uint8_t)(1u << k->n);
  k->n++;
}

/* One folded ASCII word t[0..n) (only its first 64 bytes are read past the short
 * word lists) into the key: initials and connectors carry nothing, abbreviations are
 * expanded, the rest reduced to its phonetic key. */
static void key_add_word(fb_name_key *out, const char *t, size_t n, bool native) {
  if (n < 2 || is_connector(t, n)) return; /* initials and "bin" carry nothing */
  char tmp[64];
  const char *x = expand(t, n);
  if (x) { n = strlen(x); memcpy(tmp, x, n); }
  else {
    if (n > sizeof tmp) n = sizeof tmp;
    memcpy(tmp, t, n);
  }
  n = phonetic(tmp, n);
  key_push(out, tmp, n, native);
}

/* The general path: the name folded (NFKC, case folding, other scripts
 * transliterated), then its words one by one. */
static void key_make_folded(const char *name, fb_name_key *out) {
  char folded[FOLDED_MAX];
  size_t len = fold(name, folded, sizeof folded, true);
  size_t i = 0;
  while (i < len && out->n < FB_NAME_MAX_TOKENS) {
    size_t j = i;
    while (j < len && folded[j] != ' ') j++;
    char *t = folded + i;
    size_t n = j - i;
    i = j + 1;
    bool native = n > 0 && t[0] == '^';
    if (native) t++, n--;
    bool ascii = true;
    for (size_t x = 0; x < n; x++)
      if ((unsigned char)t[x] >= 0x80) ascii = false;
    if (!ascii) {
      key_push(out, t, n, false);
      continue;
    }
    key_add_word(out, t, n, native);
  }
}

/* An ASCII letter or digit in lowercase (isalnum and tolower on ASCII bytes, in any
 * locale), or 0 for any other byte: without ctype's calls per byte. */
static inline char ascii_alnum_lower(unsigned char c) {
  if ((unsigned)(c - 'a') < 26u || (unsigned)(c - '0') < 10u) return (char)c;
  if ((unsigned)(c - 'A') < 26u) return (char)(c + ('a' - 'A'));
  return 0;
}

/* A name of ASCII bytes only (most names): fold's ASCII branch and the word loop of
 * key_make_folded in one pass, without the folded copy. Words are counted as fold
 * counts them (with their separating spaces) so that a name whose folded form would
 * not fit FOLDED_MAX stops at the same word. tests/unit/match/test_names.c compares
 * the two paths on random names. */
static void key_make_ascii(const unsigned char *u, fb_name_key *out) {
  size_t folded = 0; /* bytes fold would have written */
  while (out->n < FB_NAME_MAX_TOKENS) {
    while (*u && !ascii_alnum_lower(*u)) u++; /* separators; an apostrophe outside a word too */
    if (!*u) return;
    if (folded) folded++; /* the space before the word */
    char word[64];
    size_t n = 0;
    for (;; u++) {
      char c = ascii_alnum_lower(*u);
      if (!c) {
        if (*u == '\'' || *u == '`') continue; /* apostrophes vanish inside words */
        break;
      }
      if (folded + 1 >= FOLDED_MAX) return; /* fold keeps whole words only, and stops */
      folded++;
      if (n < sizeof word) word[n] = c;
      n++;
    }
    key_add_word(out, word, n, false);
  }
}

void fb_name_key_make(const char *name, fb_name_key *out) {
  static const fb_name_key empty;
  *out = empty; /* copied, not memset: a string instruction's start-up cost more here */
  if (!name) return;
  const unsigned char *u = (const unsigned char *)name;
  while (*u && *u < 0x80) u++;
  if (*u) key_make_folded(name, out);
  else key_make_ascii((const unsigned char *)name, out);
}

void fb_name_key_make_general(const char *name, fb_name_key *out) {
  memset(out, 0, sizeof *out);
  if (name) key_make_folded(name, out);
}

void fb_name_key_parse(const char *keys, fb_name_key *out) {
  memset(out, 0, sizeof *out);
  if (!keys) return;
  const char *p = keys;
  while (*p) {
    while (*p == ' ') p++;
    const char *q = p;
    while (*q && *q != ' ') q++;
    bool native = q > p && *p == '^';
    if (q > p + native) key_push(out, p + native, (size_t)(q - p - native), native);
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
  /* matched positions as bit sets: this runs for every token pair of every
   * candidate, so no per-call array clearing */
  uint64_t am = 0, bm = 0;
  size_t matches = 0;
  for (size_t i = 0; i < alen; i++) {
    size_t lo = i > window ? i - window : 0;
    size_t hi = i + window + 1 < blen ? i + window + 1 : blen;
    for (size_t j = lo; j < hi; j++) {
      if (!(bm >> j & 1) && a[i] == b[j]) {
        am |= 1ull << i;
        bm |= 1ull << j;
        matches++;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;
  size_t k = 0, trans = 0;
  for (size_t i = 0; i < alen; i++) {
    if (!(am >> i & 1)) continue;
    while (!(bm >> k & 1)) k++;
    if (a[i] != b[k]) trans++;
    k++;
  }
  double m = (double)matches;
  double jaro = (m / (double)alen + m / (double)blen + (m - (double)trans / 2.0) / m) / 3.0;
  size_t prefix = 0;
  while (prefix < 4 && prefix < alen && prefix < blen && a[prefix] == b[prefix]) prefix++;
  return jaro + (double)prefix * 0.1 * (1.0 - jaro);
}

/* Token pair similarity: Jaro-Winkler; across scripts, equal skeletons give 0.9. */
static double token_sim(const fb_name_key *a, int i, const fb_name_key *b, int j) {
  const char *x = a->buf + a->off[i], *y = b->buf + b->off[j];
  double s = fb_jaro_winkler(x, a->len[i], y, b->len[j]);
  if (s < 0.9 && ((a->native >> i) & 1 || (b->native >> j) & 1)) {
    char sx[64], sy[64];
    size_t nx = fb_name_skeleton(x, a->len[i], sx, sizeof sx), ny = fb_name_skeleton(y, b->len[j], sy, sizeof sy);
    if (nx >= 2 && nx == ny && memcmp(sx, sy, nx) == 0) s = 0.9;
  }
  return s;
}

/* Greedy alignment: take the best remaining pair until one side is used up. With at
 * most 8 tokens a side this is cheap and order-independent. */
static double align(const fb_name_key *a, const fb_name_key *b, double sim[FB_NAME_MAX_TOKENS][FB_NAME_MAX_TOKENS],
                    double *weakest) {
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
    if (weakest) *weakest = p == 0 || best < *weakest ? best : *weakest;
  }
  return 2.0 * sum / (double)(a->n + b->n);
}

/* Pair scores (under 0.8 count 0) into sim, row by row. With min > 0, stops as soon
 * as the score cannot reach min and returns false: the aligned sum is at most the sum
 * of each row's best pair, and a row not yet scored adds at most 1 (and no more pairs
 * align than the smaller side has tokens). The margin keeps rounding from ever
 * refusing a score fb_name_similarity would put at min. */
static bool score_pairs(const fb_name_key *a, const fb_name_key *b, double min,
                        double sim[FB_NAME_MAX_TOKENS][FB_NAME_MAX_TOKENS]) {
  int pairs = a->n < b->n ? a->n : b->n;
  double total = (double)(a->n + b->n), best_sum = 0.0;
  if (min > 0.0 && 2.0 * (double)pairs / total < min - 1e-9) return false;
  for (int i = 0; i < a->n; i++) {
    double row_best = 0.0;
    for (int j = 0; j < b->n; j++) {
      double s = token_sim(a, i, b, j);
      sim[i][j] = s >= 0.8 ? s : 0.0;
      if (sim[i][j] > row_best) row_best = sim[i][j];
    }
    best_sum += row_best;
    if (min > 0.0) {
      double bound = best_sum + (double)(a->n - 1 - i);
      if (bound > (double)pairs) bound = (double)pairs;
      if (2.0 * bound / total < min - 1e-9) return false;
    }
  }
  return true;
}

double fb_name_similarity(const fb_name_key *a, const fb_name_key *b) { return fb_name_match(a, b, NULL); }

double fb_name_similarity_min(const fb_name_key *a, const fb_name_key *b, double min) {
  if (a->n == 0 || b->n == 0) return 0.0;
  double sim[FB_NAME_MAX_TOKENS][FB_NAME_MAX_TOKENS];
  if (!score_pairs(a, b, min, sim)) return 0.0;
  return align(a, b, sim, NULL);
}

double fb_name_match(const fb_name_key *a, const fb_name_key *b, double *weakest) {
  return fb_name_match_min(a, b, 0.0, weakest);
}

double fb_name_match_min(const fb_name_key *a, const fb_name_key *b, double min, double *weakest) {
  if (weakest) *weakest = 0.0;
  if (a->n == 0 || b->n == 0) return 0.0;
  if (a->n == b->n && strcmp(a->buf, b->buf) == 0) { /* one key (namesakes): every word aligns with itself at 1 */
    if (weakest) *weakest = 1.0;
    return 1.0;
  }
  double sim[FB_NAME_MAX_TOKENS][FB_NAME_MAX_TOKENS];
  if (!score_pairs(a, b, min, sim)) return 0.0;
  return align(a, b, sim, weakest);
}
