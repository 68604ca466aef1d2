#include "match/translit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/utrans.h>

enum script { S_OTHER, S_THAI, S_BENGALI, S_ARABIC, S_BURMESE };

/* Transliterated tokens remembered per thread: the same names come back in search
 * after search, and ICU's rule-based transliteration is most of a non-Latin name's
 * matching cost. Direct-mapped, fixed size (bounded memory); a token longer than
 * CACHE_CPS code points, or transliterated to CACHE_OUT bytes or more, is not
 * remembered. The key is the code points and the caller's outlen, so a hit gives
 * exactly what transliterating again would. */
#define CACHE_SLOTS 512
#define CACHE_CPS 24
#define CACHE_OUT 64

typedef struct {
  uint8_t used, n, olen;
  size_t outlen; /* the caller's buffer size: part of the key (it may cut the output) */
  int32_t cp[CACHE_CPS];
  char out[CACHE_OUT];
} cached_token;

typedef struct {
  UTransliterator *to_latin, *to_ascii;
  cached_token cache[CACHE_SLOTS];
} translit;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t tls;
static translit master; /* never used directly: each thread clones it */

static void translit_free(void *p) {
  translit *t = p;
  if (!t) return;
  if (t->to_latin) utrans_close(t->to_latin);
  if (t->to_ascii) utrans_close(t->to_ascii);
  free(t);
}

static UTransliterator *open_id(const char *id) {
  UChar uid[32];
  int32_t n = 0;
  while (id[n] && n < 31) uid[n] = (UChar)id[n], n++;
  UErrorCode e = U_ZERO_ERROR;
  UTransliterator *t = utrans_openU(uid, n, UTRANS_FORWARD, NULL, 0, NULL, &e);
  return U_SUCCESS(e) ? t : NULL;
}

static void init_master(void) {
  pthread_key_create(&tls, translit_free);
  master.to_latin = open_id("Any-Latin");
  master.to_ascii = open_id("Latin-ASCII");
}

/* This thread's transliterators, cloned from the master on first use; NULL when ICU
 * cannot provide them (then names in other scripts are kept as they are). */
static translit *thread_translit(void) {
  pthread_once(&once, init_master);
  if (!master.to_latin || !master.to_ascii) return NULL;
  translit *t = pthread_getspecific(tls);
  if (t) return t;
  t = calloc(1, sizeof *t);
  if (!t) return NULL;
  UErrorCode e = U_ZERO_ERROR;
  t->to_latin = utrans_clone(master.to_latin, &e);
  t->to_ascii = utrans_clone(master.to_ascii, &e);
  if (U_FAILURE(e) || pthread_setspecific(tls, t) != 0) {
    translit_free(t);
    return NULL;
  }
  return t;
}

static enum script script_of(int32_t c) {
  if (c >= 0x0E00 && c <= 0x0E7F) return S_THAI;
  if (c >= 0x0980 && c <= 0x09FF) return S_BENGALI;
  if (c >= 0x1000 && c <= 0x109F) return S_BURMESE;
  if ((c >= 0x0600 && c <= 0x06FF) || (c >= 0x0750 && c <= 0x077F) || (c >= 0x08A0 && c <= 0x08FF) ||
      (c >= 0xFB50 && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF))
    return S_ARABIC;
  return S_OTHER;
}

static bool thai_vowel_sign(int32_t c) { return (c >= 0x0E30 && c <= 0x0E39) || (c >= 0x0E47 && c <= 0x0E4E); }
static bool thai_leading_vowel(int32_t c) { return c >= 0x0E40 && c <= 0x0E44; }
static bool thai_consonant(int32_t c) { return c >= 0x0E01 && c <= 0x0E2E; }
static bool latin_vowel(UChar c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

/* Burmese names are romanised by sound, not by ICU's letters: the aspirates are
 * written kh, th, ph and s (ICU: hk, ht, hp, hc), "-ain" is "-in" (Win, Min,
 * Thein). */
static size_t burmese_names(char *s, size_t n) {
  static const struct { const char *from, *to; } rules[] = {
      {"hk", "kh"}, {"ht", "th"}, {"hp", "ph"}, {"hc", "s"}, {"ain", "in"}};
  char tmp[256];
  size_t o = 0;
  for (size_t i = 0; i < n && o + 3 < sizeof tmp;) {
    size_t r = 0;
    for (; r < sizeof rules / sizeof rules[0]; r++)
      if (strncmp(s + i, rules[r].from, strlen(rules[r].from)) == 0) break;
    if (r < sizeof rules / sizeof rules[0]) {
      memcpy(tmp + o, rules[r].to, strlen(rules[r].to));
      o += strlen(rules[r].to);
      i += strlen(rules[r].from);
    } else {
      tmp[o++] = s[i++];
    }
  }
  if (o > n) o = n; /* never longer than the input */
  memcpy(s, tmp, o);
  s[o] = '\0';
  return o;
}

/* Khmer, which ICU does not transliterate: consonants, vowel signs and independent
 * vowels as Cambodian names are romanised (ស -> s, ខ -> kh, ា -> a, េ -> e, ី -> ei);
 * a consonant followed directly by another consonant carries its inherent "o"; the
 * coeng ្ stacks the next consonant (no vowel between); other signs are silent.
 * Returns the length, 0 when a code point is not Khmer or out is too small. */
static size_t khmer(const int32_t *cp, size_t n, char *out, size_t outlen) {
  static const char *const cons[] = {/* U+1780..U+17A2 */
      "k", "kh", "k", "kh", "ng", "ch", "chh", "ch", "chh", "nh", "d", "th", "d", "th", "n", "t", "th",
      "t", "th", "n", "b", "ph", "p", "ph", "m", "y", "r", "l", "v", "s", "s", "s", "h", "l", ""};
  static const char *const indep[] = {/* U+17A3..U+17B3 */
      "a", "aa", "e", "ei", "o", "ou", "ou", "ry", "rue", "ly", "lue", "ae", "ai", "ao", "ao", "au", "ao"};
  static const char *const signs[] = {/* U+17B6..U+17C5 */
      "a", "e", "ei", "oe", "eu", "o", "ou", "uo", "aeu", "oea", "ie", "e", "ae", "ai", "ao", "au"};
  _Static_assert(sizeof cons / sizeof cons[0] == 0x17A3 - 0x1780, "Khmer consonants");
  _Static_assert(sizeof indep / sizeof indep[0] == 0x17B4 - 0x17A3, "Khmer independent vowels");
  _Static_assert(sizeof signs / sizeof signs[0] == 0x17C6 - 0x17B6, "Khmer vowel signs");
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t c = cp[i];
    const char *add;
    bool inherent = false;
    if (c >= 0x1780 && c <= 0x17A2) {
      add = cons[c - 0x1780];
      inherent = i + 2 < n && cp[i + 1] >= 0x1780 && cp[i + 1] <= 0x17A2;
    } else if (c >= 0x17A3 && c <= 0x17B3) {
      add = indep[c - 0x17A3];
    } else if (c >= 0x17B6 && c <= 0x17C5) {
      add = signs[c - 0x17B6];
    } else if (c == 0x17C6) {
      add = "m"; /* nikahit */
    } else if (c == 0x17C7) {
      add = "h"; /* reahmuk */
    } else if (c >= 0x17C8 && c <= 0x17DD) {
      add = ""; /* coeng, register and other signs */
    } else {
      return 0;
    }
    size_t w = strlen(add);
    if (o + w + 2 > outlen) return 0;
    memcpy(out + o, add, w);
    o += w;
    if (inherent) out[o++] = 'o';
  }
  out[o] = '\0';
  return o;
}

static size_t transliterate(translit *t, const int32_t *cp, size_t n, char *out, size_t outlen);

size_t fb_translit_token(const int32_t *cp, size_t n, char *out, size_t outlen) {
  out[0] = '\0';
  if (n == 0 || outlen < 2) return 0;
  if (cp[0] >= 0x1780 && cp[0] <= 0x17FF) return khmer(cp, n, out, outlen);
  translit *t = thread_translit();
  if (!t) return 0;
  if (n > CACHE_CPS) return transliterate(t, cp, n, out, outlen);
  uint32_t h = 2166136261u; /* FNV-1a over the code points */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)cp[i]) * 16777619u;
  cached_token *c = &t->cache[(h ^ (uint32_t)outlen) % CACHE_SLOTS];
  if (c->used && c->n == n && c->outlen == outlen && memcmp(c->cp, cp, n * sizeof *cp) == 0) {
    memcpy(out, c->out, (size_t)c->olen + 1);
    return c->olen;
  }
  size_t o = transliterate(t, cp, n, out, outlen);
  if (o >= CACHE_OUT) return o; /* not remembered: longer than a slot holds */
  c->used = 1;
  c->n = (uint8_t)n;
  c->outlen = outlen;
  c->olen = (uint8_t)o;
  memcpy(c->cp, cp, n * sizeof *cp);
  memcpy(c->out, out, o + 1);
  return o;
}

/* fb_translit_token past the Khmer table and the cache: ICU, then our corrections. */
static size_t transliterate(translit *t, const int32_t *cp, size_t n, char *out, size_t outlen) {
  enum script sc = S_OTHER;
  for (size_t i = 0; i < n && sc == S_OTHER; i++) sc = script_of(cp[i]);

  /* UTF-16 for ICU; room for the expansion of a name word into Latin letters. */
  UChar u[512];
  int32_t len = 0;
  for (size_t i = 0; i < n && len < 64; i++) {
    int32_t c = cp[i];
    if (sc == S_THAI) {
      if (c == 0x0E4C) { /* thanthakhat: the letter under it (and its vowel) is silent */
        while (len > 0 && thai_vowel_sign(u[len - 1])) len--;
        if (len > 0) len--;
        continue;
      }
      if (c == 0x0E2D) { /* อ: a vowel carrier, silent (ICU writes it "x") */
        if (i == 0 && i + 1 < n && thai_consonant(cp[i + 1])) u[len++] = 'a'; /* อนันต์: "anan" */
        if (i == 0 || (i + 1 < n && thai_vowel_sign(cp[i + 1])) || thai_leading_vowel(cp[i - 1])) continue;
      }
    }
    if (sc == S_ARABIC) {
      if (c == 0x0629) continue;           /* ta marbuta: the name ends in a vowel (Jamila, Fatimah) */
      if (c == 0x062B) c = 0x0633;         /* tha is said "s" in the region (Usman, Osman) */
      if (c == 0x0639 && i == 0) c = 0x0627; /* a word-initial ain is heard as a vowel (Omar) */
    }
    if (c > 0xFFFF) {
      c -= 0x10000;
      u[len++] = (UChar)(0xD800 + (c >> 10));
      u[len++] = (UChar)(0xDC00 + (c & 0x3FF));
    } else {
      u[len++] = (UChar)c;
    }
  }

  UErrorCode e = U_ZERO_ERROR;
  int32_t limit = len;
  utrans_transUChars(t->to_latin, u, &len, (int32_t)(sizeof u / sizeof u[0]), 0, &limit, &e);
  if (U_FAILURE(e)) return 0;
  /* Bengali: ICU spells the inherent vowel of the last consonant ("ahamada"); names
   * are said and romanised without it. A long final ā is a real vowel and stays. */
  if (sc == S_BENGALI && len > 2 && u[len - 1] == 'a' && !latin_vowel(u[len - 2]) && u[len - 2] < 0x80 &&
      u[len - 2] != '\'')
    len--;
  limit = len;
  utrans_transUChars(t->to_ascii, u, &len, (int32_t)(sizeof u / sizeof u[0]), 0, &limit, &e);
  if (U_FAILURE(e)) return 0;
  size_t o = 0;
  for (int32_t i = 0; i < len && o + 1 < outlen; i++) {
    UChar c = u[i];
    if (c >= 'A' && c <= 'Z') c = (UChar)(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out[o++] = (char)c;
    else if (c >= 0x80 && u_isalpha(c) && u_charType(c) != U_MODIFIER_LETTER)
      return out[0] = '\0', 0; /* a script ICU does not transliterate */
    /* spaces ICU puts between Thai syllables, apostrophes, ʿ: dropped */
  }
  out[o] = '\0';
  if (sc == S_THAI)
    for (size_t i = 0; i < o; i++)
      if (out[i] == 'x') out[i] = 'o'; /* a remaining อ is the vowel o */
  if (sc == S_BURMESE) o = burmese_names(out, o);
  if (sc == S_ARABIC && o > 4 && out[0] == 'a' && out[1] == 'l') { /* the article al- */
    for (size_t i = 2; i <= o; i++) out[i - 2] = out[i];
    o -= 2;
  }
  return o;
}
