/* Name candidates in memory: which of a connection's kept name keys (records/sqlite_db.c)
 * the FTS5 trigram query of a search would match, without running it.
 *
 * The query sqlite_db.c sends FTS5 ORs every trigram of every name token of three bytes
 * or more (a token in another script as a phrase); a row of name_fts matches when its
 * keys text holds one of those trigrams. FTS5's trigram tokenizer (case_sensitive 0,
 * the schema's) reads the text as UTF-8 code points, folds each (A-Z to a-z; of the
 * code points above ASCII only U+212A KELVIN SIGN and U+017F LONG S fold into ASCII, to
 * k and s) and indexes every run of three. This index does the same for the trigrams
 * made of [a-z0-9] only, the only ones a query of transliterated tokens asks for:
 * a sorted list of (trigram, row) pairs, looked up by binary search, the rows of the
 * query's trigrams united in a bitmap and read in row order, as FTS5 returns them
 * (ORDER BY rowid). A query with a token it cannot mirror (another script, a byte
 * outside [A-Za-z0-9]) is refused (the caller runs FTS5). tests/unit/records/
 * test_sqlite_names.c compares the two on the demo's databases. */
#ifndef FB_RECORDS_NAME_TRIGRAMS_H
#define FB_RECORDS_NAME_TRIGRAMS_H

#include <stddef.h>
#include <stdint.h>

#include "match/names.h"

typedef struct fb_name_trigrams fb_name_trigrams;

/* The index of n texts (row i: text + off[i], len[i] bytes; n <= 65536), or NULL when
 * n is out of range. */
fb_name_trigrams *fb_name_trigrams_build(const char *text, const uint32_t *off, const uint32_t *len, size_t n);

void fb_name_trigrams_free(fb_name_trigrams *ix);

/* The rows the FTS5 query of `qk` (every distinct trigram of its tokens of three bytes
 * or more, OR-ed) matches, in row order, at most `cap`: their number, the rows in
 * *rows (the index's own buffer, valid until the next call). -1 when the query cannot
 * be answered here; 0 rows when `qk` has no token of three bytes. */
long fb_name_trigrams_match(fb_name_trigrams *ix, const fb_name_key *qk, size_t cap, const uint32_t **rows);

#endif
