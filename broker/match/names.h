/* Name keys: what "the same name" means, for the sqlite index, the postgres adapter
 * and the merge alike.
 *
 * A name is NFKC-normalised and case folded (utf8proc), split into words at anything
 * that is not a letter, mark or digit (apostrophes vanish: "D'Souza" -> "dsouza").
 * Latin words lose their marks ("José", decomposed or not, -> "jose"; "Nguyễn" ->
 * "nguyen"); words in another script are transliterated to Latin (match/translit.h:
 * ICU plus our own rules) and flagged as such. Then connectors ("bin", "binti",
 * "bte", "bt", "a/l", "a/p", "al", "el", initials) are dropped, abbreviations
 * expanded ("Md", "Mohd" -> muhammad, "Abd" -> abdul), and each word reduced to a
 * transliteration-tolerant phonetic key (Mohammad / Muhammad / Mohamed all give
 * "muhamad", Yusof / Yusuf give "yusuf").
 *
 * Every function is allocation-free for the caller and thread-safe; outputs are
 * written into caller buffers, always NUL-terminated (truncated to fit). */
#ifndef FB_MATCH_NAMES_H
#define FB_MATCH_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define FB_NAME_MAX_TOKENS 8
#define FB_NAME_KEY_BYTES 160

/* A name as phonetic tokens. `buf` holds them separated by single spaces (the form
 * stored in the sqlite index), a token transliterated from another script prefixed
 * by '^'; off/len locate each token (without the '^') in `buf`; bit t of `native`
 * says token t came from another script. */
typedef struct fb_name_key {
  char buf[FB_NAME_KEY_BYTES];
  uint8_t off[FB_NAME_MAX_TOKENS];
  uint8_t len[FB_NAME_MAX_TOKENS];
  uint8_t n;
  uint8_t native;
} fb_name_key;

/* Builds the key of a display name ("Ahmad bin Ismail" -> "ahmad ismail",
 * "อาหมัด บิน อิสมาอิล" -> "^ahmad ^ismail"). NULL or an empty name gives n == 0.
 * Tokens past FB_NAME_MAX_TOKENS are ignored. */
void fb_name_key_make(const char *name, fb_name_key *out);

/* The same key by the general path (the name folded, then split into words), which
 * fb_name_key_make skips for names of ASCII bytes only: for tests, which compare the
 * two. */
void fb_name_key_make_general(const char *name, fb_name_key *out);

/* Re-reads a key previously produced by fb_name_key_make (its `buf`). */
void fb_name_key_parse(const char *keys, fb_name_key *out);

/* Similarity in [0,1]: tokens are aligned regardless of order (greedy best pairs by
 * Jaro-Winkler on the phonetic keys; pairs under 0.8 count 0), then
 * 2 * sum(pair scores) / (n_a + n_b). When either token of a pair came from another
 * script, equal consonant skeletons (fb_name_skeleton) score at least 0.9: scripts
 * write vowels differently (Arabic hardly at all), consonants survive. 0 when either
 * key is empty. */
double fb_name_similarity(const fb_name_key *a, const fb_name_key *b);

/* fb_name_similarity(a, b) when it is at least `min`; otherwise some value below `min`
 * (0.0), found with as few token comparisons as it takes to know: for a search that
 * keeps only candidates at or above a threshold, most of which fall short. */
double fb_name_similarity_min(const fb_name_key *a, const fb_name_key *b, double min);

/* fb_name_similarity, also giving in *weakest (may be NULL) the lowest score among
 * the aligned token pairs (0 when none aligned): "Wati Gunawan" and "Wahyu Gunawan"
 * are similar as wholes (0.83 + 1.0) yet one pair is weak. */
double fb_name_match(const fb_name_key *a, const fb_name_key *b, double *weakest);

/* fb_name_match(a, b, weakest) when its value is at least `min`; otherwise some value
 * below `min` (0.0, *weakest then 0), found as fb_name_similarity_min finds it: the
 * merge only links names at or above a threshold. */
double fb_name_match_min(const fb_name_key *a, const fb_name_key *b, double min, double *weakest);

/* The consonant skeleton of a phonetic token: a leading vowel becomes 'a', later
 * vowels and y/w are dropped, j and z count as c, doubles collapse ("ahmad" -> "ahmd", "ismail" ->
 * "asml", "yusuf" -> "ysf"). Returns the length written to out (outlen >= 2). */
size_t fb_name_skeleton(const char *tok, size_t n, char *out, size_t outlen);

/* Jaro-Winkler similarity of two byte strings, in [0,1]. */
double fb_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen);

/* Folds free text to lowercase ASCII words separated by single spaces (NFKC, case
 * folding, marks stripped, other scripts transliterated, punctuation removed,
 * apostrophes vanish). Returns the length. Used for vessel names. */
size_t fb_fold_ascii(const char *in, char *out, size_t outlen);

#endif
