/* Transliteration of one name word from any script to lowercase ASCII.
 *
 * ICU's "Any-Latin" followed by "Latin-ASCII", with rules of our own around it for
 * the region's scripts (docs/merge.md, "Names across scripts"):
 *   - Thai: the vowel carrier อ is silent before a vowel sign, after a leading vowel
 *     and at the start of a word (ICU renders it "x"; before a consonant it is
 *     "a"); a letter under the thanthakhat ์ is silent and dropped with its vowel;
 *     ICU's syllable spaces are removed.
 *   - Bengali: the inherent vowel ICU writes at the end of a word is dropped
 *     ("আহমদ" -> "ahamad", not "ahamada"); a long final "ā" stays.
 *   - Arabic script (Arabic, Malay in Jawi, Rohingya names written in it): the
 *     article "al" glued to a word is dropped ("الإسلام" -> "aslam"); a final ta
 *     marbuta is silent (the name ends in -a/-ah: "جميلة" -> "jmil", Jamila); tha
 *     is "s" (Osman); a word-initial ain is a vowel ("عمر" -> "amr", Omar).
 *   - Burmese: aspirates as names write them (kh, th, ph, s for ICU's hk, ht, hp,
 *     hc) and "-ain" as "-in" (ဝင်း -> "win").
 *   - Khmer: ICU 72 has no Khmer transliterator; our own table romanises it as
 *     Cambodian names are written (សុខ -> "sokh", ចាន់ -> "chan").
 * ICU transliterators are created once per thread (they are not thread-safe, and
 * creating one costs milliseconds) from one master built at first use; each thread
 * remembers the tokens it transliterated (a bounded memo). */
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
