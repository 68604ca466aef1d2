/* Normalised keys for matching people, documents, phones and vessels.
 *
 * Shared by the sqlite adapter (index keys, re-rank) and the merge (linking records
 * across states), so that both agree on what "the same name" means. Every function
 * here is pure, allocation-free and thread-safe; outputs are written into caller
 * buffers and always NUL-terminated (truncated to fit).
 *
 * Name keys live in match/names.h (included here for the adapters). */
#ifndef FB_MATCH_NORMALIZE_H
#define FB_MATCH_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "match/names.h" /* name keys (moved to their own module) */

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
