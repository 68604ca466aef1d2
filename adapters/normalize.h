/* Normalised keys for matching people, documents, phones and vessels.
 *
 * Shared by the sqlite adapter (index keys, re-rank) and the merge (linking records
 * across states), so that both agree on what "the same name" means. Every function
 * here is pure, allocation-free and thread-safe; outputs are written into caller
 * buffers and always NUL-terminated (truncated to fit).
 *
 * Name keys: case folded, Latin diacritics stripped, punctuation removed, connectors
 * ("bin", "binti", "b.", "bte", "bt", "a/l", "a/p", "al", "el") dropped, common
 * abbreviations expanded ("Md", "Mohd" -> muhammad, "Abd" -> abdul), then each token
 * reduced to a transliteration-tolerant phonetic key (Mohammad / Muhammad / Mohamed
 * all give "muhamad", Yusof / Yusuf give "yusuf"). Tokens in other scripts are kept
 * byte for byte. */
#ifndef FB_ADAPTERS_NORMALIZE_H
#define FB_ADAPTERS_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#define FB_NAME_MAX_TOKENS 8
#define FB_NAME_KEY_BYTES 160

/* A name as phonetic tokens. `buf` holds them separated by single spaces (the form
 * stored in the sqlite index); off/len locate each token in `buf`. */
typedef struct fb_name_key {
  char buf[FB_NAME_KEY_BYTES];
  uint8_t off[FB_NAME_MAX_TOKENS];
  uint8_t len[FB_NAME_MAX_TOKENS];
  uint8_t n;
} fb_name_key;

/* Builds the key of a display name ("Ahmad bin Ismail" -> "ahmad ismail"). NULL or an
 * empty name gives n == 0. Tokens past FB_NAME_MAX_TOKENS are ignored. */
void fb_name_key_make(const char *name, fb_name_key *out);

/* Re-reads a key previously produced by fb_name_key_make (its `buf`). */
void fb_name_key_parse(const char *keys, fb_name_key *out);

/* Similarity in [0,1]: tokens are aligned regardless of order (greedy best pairs by
 * Jaro-Winkler on the phonetic keys; pairs under 0.8 count 0), then
 * 2 * sum(pair scores) / (n_a + n_b). 0 when either key is empty. */
double fb_name_similarity(const fb_name_key *a, const fb_name_key *b);

/* Jaro-Winkler similarity of two byte strings, in [0,1]. */
double fb_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen);

/* Document number: uppercase letters and digits only ("a 1234-5678" -> "A12345678").
 * Returns the length written; 0 when nothing is left (not a usable key). */
size_t fb_norm_document(const char *in, char *out, size_t outlen);

/* Phone: digits only, a leading "00" treated as "+" ("+60 12-345 6789" ->
 * "60123456789"). Returns the length; 0 when fewer than 6 digits remain. */
size_t fb_norm_phone(const char *in, char *out, size_t outlen);

/* Vessel name: lowercase words, punctuation removed, leading type prefixes dropped
 * ("KM", "KMP", "MV", "MT", "FV", "MB", "KLM", "Kapal"): "K.M. Sinar-Laut" -> "sinar laut".
 * Returns the length; 0 when empty. */
size_t fb_norm_vessel(const char *in, char *out, size_t outlen);

/* IMO number: "IMO 9123453", "9123453" -> "9123453" (exactly seven digits, nothing
 * else but an optional "IMO" prefix). Returns 7, or 0 when `in` is not an IMO number.
 * `out` must hold 8 bytes. The check digit is not verified (national data has typos
 * we still want to find). */
size_t fb_norm_imo(const char *in, char out[8]);

/* Year of a "YYYY" or "YYYY-MM-DD" date; 0 when not a date. */
int fb_dob_year(const char *dob);

#endif
