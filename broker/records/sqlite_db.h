/* The sqlite records database: the embedded national system of the demo and of
 * small deployments, and the store behind `fedbroker node --data FILE.db`.
 *
 * Schema (version 1; see docs/adapters.md):
 *   meta(key, value)                       -- schema = fedbroker-records, version = 1
 *   records(rid, id UNIQUE, type, dob_year, json)   -- the record as its JSON
 *   name_fts(keys, rid) FTS5 trigram       -- phonetic name keys of names and aliases
 *   keys(kind, key, rid)                   -- exact keys: 1 document, 2 phone,
 *                                             3 vessel name, 4 IMO
 *
 * A handle is used by one thread at a time (connections are opened with
 * SQLITE_OPEN_NOMUTEX); open one handle per thread. Statements are prepared once at
 * open. Errors are returned as malloc'd sentences in *err (caller frees). */
#ifndef FB_RECORDS_SQLITE_DB_H
#define FB_RECORDS_SQLITE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/crec.h"
#include "core/util.h"
#include "match/names.h"

typedef struct fb_sqlite_db fb_sqlite_db;

/* Opens an existing database read-only. Fails with "cannot open PATH: ..." or "PATH is
 * not a fedbroker records database". */
int fb_sqlite_db_open(const char *path, fb_sqlite_db **out, char **err);

/* Searches by the API.md subject: `document` (normalised, exact), `phone` (digits,
 * exact), `vessel` (IMO when it is one, else the normalised vessel name, exact),
 * `name` (trigram candidates from FTS5, re-ranked by fb_name_similarity, kept at
 * >= 0.8; a `dob` in the subject drops name-only hits whose year differs). Hits of
 * all criteria are united, ordered by strength (exact first, then name similarity,
 * then id) and cut at `limit` (0 = 100). Returns a new array of records (caller
 * owns), or NULL with *err on a database fault. A subject with no searchable field
 * gives an empty array. */
json_t *fb_sqlite_db_search(fb_sqlite_db *db, json_t *subject, size_t limit, char **err);

/* The same search, its records as a compact set (core/crec.h) of {"records": [...]}
 * made of the stored record texts as they are, without a jansson value: 0 with *set.
 * The writer stores each record as jsonw's canonical text of a valid record; where a
 * stored text is not that (the set would not be exactly those records, each an object
 * that passes the schema), the search runs again the jansson way: 0 with *records,
 * fb_sqlite_db_search's array; so does a search that found nothing (an empty array).
 * -1 with *err on a database fault. */
int fb_sqlite_db_search_set(fb_sqlite_db *db, json_t *subject, size_t limit, fb_crecs **set, json_t **records,
                            char **err);

void fb_sqlite_db_close(fb_sqlite_db *db);

/* Where a search by name finds its trigram candidates. AUTO (the default): in the
 * connection's kept name keys (records/name_trigrams.h) when the database has at most
 * 16,384 name rows with dense rowids and the query is in Latin letters and digits, else
 * FTS5. The others are for tests and benchmarks, which compare the paths: FTS_KEPT asks
 * FTS5 for rowids and reads the keys kept in memory; FTS asks FTS5 for the keys too (the
 * path of a larger database). Every mode gives the same answers. */
typedef enum { FB_SQLITE_NAMES_AUTO, FB_SQLITE_NAMES_FTS_KEPT, FB_SQLITE_NAMES_FTS } fb_sqlite_names_mode;
void fb_sqlite_db_set_names_mode(fb_sqlite_db *db, fb_sqlite_names_mode mode);

/* The FTS5 MATCH expression a search by name `k` asks (appended to `q`): each distinct
 * trigram of each token, quoted, OR-ed; a token of another script as one phrase. false
 * when `k` gives no trigram. Tests ask FTS5 with it to hold the kept-key index to. */
bool fb_sqlite_fts_query(const fb_name_key *k, fb_buf *q);

/* Writing (demo data, tests): creates PATH afresh (an existing file is replaced) and
 * opens a transaction. Add records with fb_sqlite_db_add (each validated with
 * fb_record_validate; duplicate ids are refused), then fb_sqlite_db_commit, then
 * fb_sqlite_db_close. The same records added in the same order give the same bytes. */
int fb_sqlite_db_create(const char *path, fb_sqlite_db **out, char **err);
int fb_sqlite_db_add(fb_sqlite_db *db, json_t *record, char **err);
int fb_sqlite_db_commit(fb_sqlite_db *db, char **err);

#endif
