/* The records schema in PostgreSQL, for the "postgres" adapter (adapters/postgres.c).
 *
 * A national case database exposes its records to the hub through three tables (or
 * views of the same shape) in the connection's search_path:
 *
 *   fb_records(rid bigint PRIMARY KEY, id text UNIQUE, type text, dob_year int, json text)
 *   fb_keys(kind int, key text, rid bigint)     -- 1 document, 2 phone, 3 vessel name, 4 IMO
 *   fb_names(rid bigint, keys text, blocks text[])  -- phonetic name keys; blocks are
 *                                                     the 3-byte token prefixes (GIN index)
 *
 * Keys are those of match/normalize.h, as in the sqlite schema. fb_pg_load copies
 * a sqlite records database into that schema (tests, demos, migrations). */
#ifndef FB_RECORDS_POSTGRES_DB_H
#define FB_RECORDS_POSTGRES_DB_H

/* The CREATE statements (dropping existing fb_ tables first). */
extern const char fb_pg_schema_sql[];

/* Connects with `conninfo` (blocking: a command-line and test helper, never used on
 * the loop thread), recreates the schema and copies every record of the sqlite
 * records database at `sqlite_path`. Returns 0, or -1 with *err a malloc'd sentence. */
int fb_pg_load(const char *conninfo, const char *sqlite_path, char **err);

#endif
