/* Transliteration of one name token from any script to lowercase ASCII.
 *
 * ICU's "Any-Latin" followed by "Latin-ASCII", with rules of our own around it for
 * the region's scripts (see docs/merge.md, "Names across scripts"):
 *   - Thai: the vowel carrier อ is silent before a vowel sign or at the start of a
 *     word (ICU renders it "x"); ICU's syllable spaces are removed.
 *   - Bengali: the inherent vowel ICU writes at the end of a word is dropped
 *     ("আহমদ" -> "ahamad", not "ahamada"); a long final "ā" stays.
 *   - Arabic script (Arabic, Rohingya names written in it): the article "al" glued
 *     to a word is dropped ("الإسلام" -> "aslam").
 * Transliterators are created once per thread (ICU's are not thread-safe, and their
 * creation costs milliseconds) from one master built at first use. */
#ifndef FB_MATCH_TRANSLIT_H
#define FB_MATCH_TRANSLIT_H

#include <stddef.h>
#include <stdint.h>

/* Transliterates the code points cp[0..n) (one token, already NFKC + case folded) to
 * lowercase ASCII letters and digits in out (NUL-terminated, truncated to outlen).
 * Returns the length; 0 when nothing Latin came out (a script ICU cannot
 * transliterate, or an ICU failure). */
size_t fb_translit_token(const int32_t *cp, size_t n, char *out, size_t outlen);

#endif
