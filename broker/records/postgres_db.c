#include "records/postgres_db.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/error.h"
#include "core/util.h"

/* libpq messages span lines (hints): keep the first for a one-line error. */
static const char *first_line(PGconn *pg) {
  static __thread char line[512];
  const char *m = PQerrorMessage(pg);
  size_t n = strcspn(m, "\n");
  if (n >= sizeof line) n = sizeof line - 1;
  memcpy(line, m, n);
  line[n] = '\0';
  return line;
}

const char fb_pg_schema_sql[] =
    "DROP TABLE IF EXISTS fb_names, fb_keys, fb_records;"
    "CREATE TABLE fb_records(rid bigint PRIMARY KEY, id text NOT NULL UNIQUE, type text NOT NULL,"
    " dob_year int NOT NULL DEFAULT 0, json text NOT NULL);"
    "CREATE TABLE fb_keys(kind int NOT NULL, key text NOT NULL, rid bigint NOT NULL,"
    " PRIMARY KEY(kind, key, rid));"
    "CREATE TABLE fb_names(rid bigint NOT NULL, keys text NOT NULL, blocks text[] NOT NULL);"
    "CREATE INDEX fb_names_blocks ON fb_names USING gin(blocks);"
    "CREATE INDEX fb_names_rid ON fb_names(rid);";

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static void copy_field(fb_buf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
      case '\\': fb_buf_puts(b, "\\\\"); break;
      case '\t': fb_buf_puts(b, "\\t"); break;
      case '\n': fb_buf_puts(b, "\\n"); break;
      case '\r': fb_buf_puts(b, "\\r"); break;
      default: fb_buf_putc(b, *s);
    }
  }
}

/* A text[] literal of the 3-byte (6 for other scripts) prefixes of each token, each
 * element quoted; then escaped again for COPY by the caller. */
static void blocks_literal(fb_buf *b, const char *keys) {
  fb_buf_putc(b, '{');
  const char *p = keys;
  bool first = true;
  while (*p) {
    const char *q = strchr(p, ' ');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n > 1 && p[0] == '^') p++, n--; /* transliterated token: the marker is no part of it */
    size_t take = (unsigned char)p[0] >= 0x80 ? 6 : 3;
    if (take > n) take = n;
    if (!first) fb_buf_putc(b, ',');
    fb_buf_putc(b, '"');
    for (size_t i = 0; i < take; i++) {
      if (p[i] == '"' || p[i] == '\\') fb_buf_putc(b, '\\');
      fb_buf_putc(b, p[i]);
    }
    fb_buf_putc(b, '"');
    first = false;
    p += n;
    while (*p == ' ') p++;
  }
  fb_buf_putc(b, '}');
}

static int copy_table(PGconn *pg, sqlite3 *db, const char *copy_sql, const char *select_sql, int ncols,
                      int blocks_col, char **err) {
  PGresult *res = PQexec(pg, copy_sql);
  if (PQresultStatus(res) != PGRES_COPY_IN) {
    fb_set_error(err, "postgres: %s", first_line(pg));
    PQclear(res);
    return -1;
  }
  PQclear(res);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, select_sql, -1, &st, NULL) != SQLITE_OK) {
    PQputCopyEnd(pg, "source is not a records database");
    PQclear(PQgetResult(pg));
    fb_set_error(err, "not a fedbroker records database: %s", sqlite3_errmsg(db));
    return -1;
  }
  fb_buf line = {0}, tmp = {0};
  int rc = 0;
  while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
    fb_buf_reset(&line);
    for (int c = 0; c < ncols; c++) {
      if (c) fb_buf_putc(&line, '\t');
      const char *v = (const char *)sqlite3_column_text(st, c);
      copy_field(&line, v ? v : "");
    }
    if (blocks_col) {
      fb_buf_reset(&tmp);
      blocks_literal(&tmp, (const char *)sqlite3_column_text(st, 1));
      fb_buf_putc(&line, '\t');
      copy_field(&line, tmp.data);
    }
    fb_buf_putc(&line, '\n');
    if (PQputCopyData(pg, line.data, (int)line.len) != 1) rc = -1;
  }
  sqlite3_finalize(st);
  fb_buf_free(&line);
  fb_buf_free(&tmp);
  if (PQputCopyEnd(pg, NULL) != 1) rc = -1;
  res = PQgetResult(pg);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) rc = -1;
  if (rc) fb_set_error(err, "postgres: copy failed: %s", first_line(pg));
  PQclear(res);
  while ((res = PQgetResult(pg))) PQclear(res);
  return rc;
}

static void quiet(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

int fb_pg_load(const char *conninfo, const char *sqlite_path, char **err) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(sqlite_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fb_set_error(err, "cannot open %s: %s", sqlite_path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return -1;
  }
  PGconn *pg = PQconnectdb(conninfo);
  int rc = -1;
  if (PQstatus(pg) != CONNECTION_OK) {
    fb_set_error(err, "cannot connect to postgres: %s", first_line(pg));
    goto done;
  }
  PQsetNoticeProcessor(pg, quiet, NULL); /* "table does not exist, skipping" */
  PGresult *res = PQexec(pg, "BEGIN");
  PQclear(res);
  res = PQexec(pg, fb_pg_schema_sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    fb_set_error(err, "postgres: cannot create the schema: %s", first_line(pg));
    PQclear(res);
    goto done;
  }
  PQclear(res);
  if (copy_table(pg, db, "COPY fb_records(rid, id, type, dob_year, json) FROM STDIN",
                 "SELECT rid, id, type, dob_year, json FROM records ORDER BY rid", 5, 0, err) ||
      copy_table(pg, db, "COPY fb_keys(kind, key, rid) FROM STDIN", "SELECT kind, key, rid FROM keys", 3, 0, err) ||
      copy_table(pg, db, "COPY fb_names(rid, keys, blocks) FROM STDIN", "SELECT rid, keys FROM name_fts", 2, 1,
                 err))
    goto done;
  res = PQexec(pg, "COMMIT");
  if (PQresultStatus(res) == PGRES_COMMAND_OK) rc = 0;
  else fb_set_error(err, "postgres: commit failed: %s", first_line(pg));
  PQclear(res);
done:
  PQfinish(pg);
  sqlite3_close(db);
  return rc;
}
