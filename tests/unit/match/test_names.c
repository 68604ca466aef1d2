/* Name keys across Unicode forms and scripts (broker/match/names.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match/names.h"

static double sim(const char *a, const char *b) {
  fb_name_key ka, kb;
  fb_name_key_make(a, &ka);
  fb_name_key_make(b, &kb);
  return fb_name_similarity(&ka, &kb);
}

static const char *key(const char *name) {
  static fb_name_key k;
  fb_name_key_make(name, &k);
  return k.buf;
}

static void test_unicode_forms_fold_alike(void **state) {
  (void)state;
  assert_string_equal(key("Jose\xcc\x81"), "jusa");           /* decomposed José */
  assert_string_equal(key("Jos\xc3\xa9"), "jusa");            /* composed José */
  assert_true(sim("Jose\xcc\x81", "Jose") == 1.0);
  assert_string_equal(key("Nguy\xe1\xbb\x85n"), "nguian");    /* Nguyễn -> nguyen */
  assert_string_equal(key("Nguyen"), key("Nguy\xe1\xbb\x85n"));
  assert_string_equal(key("\xef\xbc\xa1\xef\xbd\x88\xef\xbd\x8d\xef\xbd\x81\xef\xbd\x84"), "ahmad"); /* full-width */
  assert_string_equal(key("STRA\xc3\x9f" "E"), key("strasse")); /* ß case folds to ss */
  assert_string_equal(key("D\xe2\x80\x99Souza"), "dsuza");     /* typographic apostrophe vanishes */
  assert_string_equal(key("Ahmad a/l Ismail"), "ahmad ismail");
}

static void test_latin_keys_unchanged(void **state) {
  (void)state;
  /* the keys stored by earlier versions: Latin names must not move */
  assert_string_equal(key("  AHMAD bin Ismail "), "ahmad ismail");
  assert_string_equal(key("Mohd. Faizal"), "muhamad faizal");
  assert_string_equal(key("Siti Nurhaliza bte Ismail"), "siti nurhaliza ismail");
  fb_name_key k;
  fb_name_key_make("Ahmad bin Ismail", &k);
  assert_int_equal(k.native, 0);
}

static void test_other_scripts_transliterate(void **state) {
  (void)state;
  fb_name_key k;
  fb_name_key_make("\xe0\xb8\xad\xe0\xb8\xb2\xe0\xb8\xab\xe0\xb8\xa1\xe0\xb8\xb1\xe0\xb8\x94 "
                   "\xe0\xb8\x9a\xe0\xb8\xb4\xe0\xb8\x99 "
                   "\xe0\xb8\xad\xe0\xb8\xb4\xe0\xb8\xaa\xe0\xb8\xa1\xe0\xb8\xb2\xe0\xb8\xad\xe0\xb8\xb4\xe0\xb8\xa5",
                   &k); /* อาหมัด บิน อิสมาอิล */
  assert_string_equal(k.buf, "^ahmad ^ismail");
  assert_int_equal(k.native, 3);
  fb_name_key p;
  fb_name_key_parse(k.buf, &p); /* the stored form reads back the same */
  assert_int_equal(p.n, 2);
  assert_int_equal(p.native, 3);
  assert_memory_equal(p.buf + p.off[1], "ismail", 6);
}

static void test_cross_script_similarity(void **state) {
  (void)state;
  const char *latin = "Ahmad bin Ismail";
  const char *thai = "\xe0\xb8\xad\xe0\xb8\xb2\xe0\xb8\xab\xe0\xb8\xa1\xe0\xb8\xb1\xe0\xb8\x94 "
                     "\xe0\xb8\x9a\xe0\xb8\xb4\xe0\xb8\x99 "
                     "\xe0\xb8\xad\xe0\xb8\xb4\xe0\xb8\xaa\xe0\xb8\xa1\xe0\xb8\xb2\xe0\xb8\xad\xe0\xb8\xb4\xe0\xb8\xa5";
  const char *bengali = "\xe0\xa6\x86\xe0\xa6\xb9\xe0\xa6\xae\xe0\xa6\xa6 \xe0\xa6\xac\xe0\xa6\xbf\xe0\xa6\xa8 "
                        "\xe0\xa6\x87\xe0\xa6\xb8\xe0\xa6\xae\xe0\xa6\xbe\xe0\xa6\x87\xe0\xa6\xb2"; /* আহমদ বিন ইসমাইল */
  const char *arabic = "\xd8\xa3\xd8\xad\xd9\x85\xd8\xaf \xd8\xa8\xd9\x86 "
                       "\xd8\xa5\xd8\xb3\xd9\x85\xd8\xa7\xd8\xb9\xd9\x8a\xd9\x84"; /* أحمد بن إسماعيل */
  assert_true(sim(thai, latin) >= 0.85);
  assert_true(sim(bengali, latin) >= 0.85);
  assert_true(sim(arabic, latin) >= 0.85);
  assert_true(sim(bengali, thai) >= 0.85);
  /* Khmer has no ICU transliterator: our own table (សុខ ចាន់, ហេង ស្រី) */
  assert_true(sim("\xe1\x9e\x9f\xe1\x9e\xbb\xe1\x9e\x81 \xe1\x9e\x85\xe1\x9e\xb6\xe1\x9e\x93\xe1\x9f\x8b",
                  "Sok Chan") >= 0.85);
  assert_true(sim("\xe1\x9e\xa0\xe1\x9f\x81\xe1\x9e\x84 \xe1\x9e\x9f\xe1\x9f\x92\xe1\x9e\x9a\xe1\x9e\xb8",
                  "Heng Srey") >= 0.85);
  /* different people stay apart across scripts */
  assert_true(sim(bengali, "Budi Santoso") < 0.5);
  assert_true(sim(arabic, "Ahmad bin Hassan") < 0.85);
}

static void test_skeleton(void **state) {
  (void)state;
  char s[16];
  fb_name_skeleton("ahmad", 5, s, sizeof s);
  assert_string_equal(s, "ahmd");
  fb_name_skeleton("ismail", 6, s, sizeof s);
  assert_string_equal(s, "asml");
  fb_name_skeleton("yusuf", 5, s, sizeof s);
  assert_string_equal(s, "ysf");
  fb_name_skeleton("muhammad", 8, s, 3); /* truncated, terminated */
  assert_string_equal(s, "mh");
}

/* fb_name_similarity_min gives fb_name_similarity exactly whenever that reaches the
 * threshold (also a threshold equal to it), and less than the threshold otherwise;
 * fb_name_match_min likewise fb_name_match, its weakest pair too: random keys of 1 to
 * 8 tokens, alike and not, Latin and transliterated ('^'). */
static void test_similarity_min_is_similarity_above_threshold(void **state) {
  (void)state;
  static const char *const pool[] = {"ahmad", "ahmat", "ahmadi", "muhamad", "ismail", "ismal", "smail", "asmail",
                                     "budi", "santusu", "sri", "wahiuni", "nur", "aziz", "abdul", "rahman",
                                     "rahim", "rahmat", "hasan", "husain", "siti", "nurhaliza", "ahmd", "z"};
  const size_t npool = sizeof pool / sizeof pool[0];
  static const double mins[] = {0.5, 0.8, 0.85, 0.9, 0.95, 1.0};
  uint32_t seed = 12345;
  size_t pruned = 0, kept = 0;
  for (int round = 0; round < 20000; round++) {
    char text[2][FB_NAME_KEY_BYTES];
    fb_name_key k[2];
    for (int side = 0; side < 2; side++) {
      seed = seed * 1103515245u + 12345u;
      int n = 1 + (int)(seed >> 16) % FB_NAME_MAX_TOKENS;
      size_t o = 0;
      for (int t = 0; t < n; t++) {
        seed = seed * 1103515245u + 12345u;
        const char *tok = pool[(seed >> 16) % npool];
        bool native = (seed >> 8) % 4 == 0;
        o += (size_t)snprintf(text[side] + o, sizeof text[side] - o, "%s%s%s", t ? " " : "", native ? "^" : "", tok);
      }
      fb_name_key_parse(text[side], &k[side]);
    }
    double full = fb_name_similarity(&k[0], &k[1]), full_weakest;
    assert_true(fb_name_match(&k[0], &k[1], &full_weakest) == full);
    for (size_t m = 0; m < sizeof mins / sizeof mins[0]; m++) {
      double got = fb_name_similarity_min(&k[0], &k[1], mins[m]), weakest;
      double matched = fb_name_match_min(&k[0], &k[1], mins[m], &weakest);
      if (full >= mins[m]) {
        if (got != full) fail_msg("'%s' / '%s' at %.2f: %.17g, not %.17g", text[0], text[1], mins[m], got, full);
        if (matched != full || weakest != full_weakest)
          fail_msg("'%s' / '%s' at %.2f: match %.17g (weakest %.17g), not %.17g (%.17g)", text[0], text[1], mins[m],
                   matched, weakest, full, full_weakest);
        kept++;
      } else {
        if (!(got < mins[m])) fail_msg("'%s' / '%s' at %.2f: %.17g is not below", text[0], text[1], mins[m], got);
        if (!(matched < mins[m]))
          fail_msg("'%s' / '%s' at %.2f: match %.17g is not below", text[0], text[1], mins[m], matched);
        pruned++;
      }
    }
    if (fb_name_similarity_min(&k[0], &k[1], full) != full) fail_msg("'%s' / '%s' at its own score", text[0], text[1]);
    /* a key against itself or an equal copy (fb_name_match_min's shortcut): what the
     * alignment gives, every word with itself */
    double self_weakest, self = fb_name_match_min(&k[0], &k[0], 0.85, &self_weakest);
    if (self != fb_name_similarity_min(&k[0], &k[0], 0.0) || self != 1.0 || self_weakest != 1.0)
      fail_msg("'%s' against itself: %.17g (weakest %.17g)", text[0], self, self_weakest);
    fb_name_key copy;
    fb_name_key_parse(text[0], &copy);
    double w2, s2 = fb_name_match(&k[0], &copy, &w2);
    if (s2 != 1.0 || w2 != 1.0) fail_msg("'%s' against its copy: %.17g (weakest %.17g)", text[0], s2, w2);
  }
  assert_true(kept > 1000 && pruned > 1000); /* both sides of the threshold were tried */
}

/* Connectors and abbreviations, every word of 2 to 5 letters over their alphabet: a
 * connector ("bin", "binti", "binte", "bint", "bte", "bt", "bn", "ibn", "al", "el", "ap",
 * "bnt") leaves no token, an abbreviation ("md", "mohd", "muhd", "mhd", "moh", "abd")
 * gives its expansion's key, any other word one token no longer than itself (an
 * expansion is longer than the word it replaces). */
static void test_connectors_and_abbreviations_exactly(void **state) {
  (void)state;
  static const char *const connectors[] = {"bin", "binti", "binte", "bint", "bte", "bt", "bn", "ibn", "al", "el",
                                           "ap", "bnt"};
  static const char *const abbrevs[] = {"md", "mohd", "muhd", "mhd", "moh", "abd"};
  static const char letters[] = "abdehilmnoptu";
  const size_t nl = sizeof letters - 1;
  fb_name_key muhammad, abdul;
  fb_name_key_make("muhammad", &muhammad);
  fb_name_key_make("abdul", &abdul);
  size_t seen_connectors = 0, seen_abbrevs = 0;
  for (size_t len = 2; len <= 5; len++) {
    size_t total = 1;
    for (size_t i = 0; i < len; i++) total *= nl;
    for (size_t w = 0; w < total; w++) {
      char word[8];
      for (size_t i = 0, x = w; i < len; i++, x /= nl) word[i] = letters[x % nl];
      word[len] = '\0';
      bool connector = false;
      const char *expansion = NULL;
      for (size_t i = 0; i < sizeof connectors / sizeof connectors[0]; i++)
        connector |= strcmp(word, connectors[i]) == 0;
      for (size_t i = 0; i < sizeof abbrevs / sizeof abbrevs[0]; i++)
        if (strcmp(word, abbrevs[i]) == 0) expansion = i == 5 ? abdul.buf : muhammad.buf;
      fb_name_key k;
      fb_name_key_make(word, &k);
      if (connector) {
        seen_connectors++;
        if (k.n != 0) fail_msg("'%s' is a connector, yet gave '%s'", word, k.buf);
      } else if (expansion) {
        seen_abbrevs++;
        if (strcmp(k.buf, expansion) != 0) fail_msg("'%s' gave '%s', not '%s'", word, k.buf, expansion);
      } else if (k.n != 1 || strlen(k.buf) > len) {
        fail_msg("'%s' gave '%s' (%d tokens)", word, k.buf, k.n);
      }
    }
  }
  assert_int_equal(seen_connectors, 12);
  assert_int_equal(seen_abbrevs, 6);
}

static void test_bad_input(void **state) {
  (void)state;
  fb_name_key k;
  fb_name_key_make("\xff\xfe\xc3", &k);
  assert_int_equal(k.n, 0);
  fb_name_key_make("\xe1\x9e\x9f\xe1\x9e\xbb\xe1\x9e\x81\xe1\x9f\x92\xe1\x9f\x92", &k); /* Khmer, two coeng in a row */
  assert_int_equal(k.n, 1);
  fb_name_key_make("\xe1\x9e\x9f\xe1\x9f\xa0", &k); /* a Khmer digit: not in our table, kept as bytes */
  assert_int_equal(k.n, 1);
  assert_int_equal((unsigned char)k.buf[0], 0xe1);
  char big[8192];
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = i % 7 == 6 ? ' ' : "\xe0\xb8\xad"[i % 3];
  big[sizeof big - 1] = '\0';
  fb_name_key_make(big, &k);
  assert_true(k.n <= FB_NAME_MAX_TOKENS);
  assert_true(strlen(k.buf) < sizeof k.buf);
  char out[8];
  fb_fold_ascii("K.M. Sinar-Laut", out, sizeof out);
  assert_string_equal(out, "k m"); /* whole words only */
}

/* A random name: words of ASCII letters (either case), digits, apostrophes and the
 * region's connectors and abbreviations, separated by spaces and punctuation; with
 * `other`, also pieces in other scripts, combining marks and typographic apostrophes
 * (the general path). Some are long, around the 512 bytes fb_name_key_make folds. */
static size_t random_name(unsigned *seed, bool other, char *out, size_t cap) {
  static const char *const words[] = {"bin", "BINTI", "bte", "a/l", "Md", "MOHD", "abd", "Al", "el", "ibn", "A.",
                                      "D'Souza", "O`Neil", "x", "Ahmad", "Schwarzenegger", "Nguyen", "ismail"};
  static const char *const pieces[] = {"\xc3\xa9", "e\xcc\x81", "\xe2\x80\x99", "\xe0\xb8\xad\xe0\xb8\xb2",
                                       "\xef\xbc\xa1", "\xc3\x9f", "\xd8\xa3\xd8\xad", "\xe1\x9e\x9f", "\xff"};
  static const char seps[] = " .,-/ ;:(  ";
  size_t o = 0;
  size_t target = rand_r(seed) % 8 == 0 ? 380 + (size_t)(rand_r(seed) % 260) : 1 + (size_t)(rand_r(seed) % 60);
  while (o < target && o + 80 < cap) {
    int what = rand_r(seed) % 10;
    const char *w = NULL;
    char tmp[72];
    if (what < 3) {
      w = words[rand_r(seed) % (int)(sizeof words / sizeof words[0])];
    } else if (what < 8) {
      size_t n = 1 + (size_t)(rand_r(seed) % (rand_r(seed) % 6 == 0 ? 70 : 9));
      for (size_t i = 0; i < n; i++) {
        int c = rand_r(seed) % 40;
        tmp[i] = c < 20 ? (char)('a' + c) : c < 32 ? (char)('A' + c - 20) : c < 37 ? (char)('0' + c - 32) : '\'';
      }
      tmp[n] = '\0';
      w = tmp;
    } else if (other && what == 8) {
      w = pieces[rand_r(seed) % (int)(sizeof pieces / sizeof pieces[0])];
    }
    if (w) {
      size_t n = strlen(w);
      memcpy(out + o, w, n);
      o += n;
    }
    int k = 1 + rand_r(seed) % 3;
    for (int i = 0; i < k; i++) out[o++] = seps[rand_r(seed) % (int)(sizeof seps - 1)];
  }
  out[o] = '\0';
  return o;
}

static void test_ascii_path_is_the_general_path(void **state) {
  (void)state;
  unsigned seed = 20261201;
  char name[1024];
  size_t ascii = 0, long_names = 0, full = 0;
  for (int i = 0; i < 20000; i++) {
    size_t len = random_name(&seed, i % 2 == 1, name, sizeof name);
    bool is_ascii = true;
    for (size_t c = 0; c < len; c++) is_ascii &= (unsigned char)name[c] < 0x80;
    ascii += is_ascii;
    long_names += is_ascii && len > 500;
    fb_name_key fast, general;
    fb_name_key_make(name, &fast);
    fb_name_key_make_general(name, &general);
    full += fast.n == FB_NAME_MAX_TOKENS;
    if (memcmp(&fast, &general, sizeof fast) != 0)
      fail_msg("'%s': key '%s' (%d tokens), general path '%s' (%d tokens)", name, fast.buf, fast.n, general.buf,
               general.n);
  }
  /* both paths were taken, and names long enough to meet fold's limit */
  assert_true(ascii > 10000 && ascii < 19000 && long_names > 200 && full > 500);
  /* the boundary itself: a folded form of 510 and 511 bytes, then a short word */
  for (size_t n = 500; n < 515; n++) {
    memset(name, 'k', n);
    memcpy(name + n, " ab", 4);
    fb_name_key fast, general;
    fb_name_key_make(name, &fast);
    fb_name_key_make_general(name, &general);
    assert_memory_equal(&fast, &general, sizeof fast);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unicode_forms_fold_alike), cmocka_unit_test(test_latin_keys_unchanged),
      cmocka_unit_test(test_other_scripts_transliterate), cmocka_unit_test(test_cross_script_similarity),
      cmocka_unit_test(test_skeleton), cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_similarity_min_is_similarity_above_threshold),
      cmocka_unit_test(test_ascii_path_is_the_general_path),
      cmocka_unit_test(test_connectors_and_abbreviations_exactly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
