/* The store's schema, as numbered migrations applied in order and recorded in
 * schema_version. A migration is never edited once released: changes are new entries.
 * The SQL is common to SQLite and PostgreSQL (TEXT, BIGINT, INTEGER only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store.h"

static const struct {
  int version;
  const char *what;
  const char *sql;
} migrations[] = {
    {1, "follow-up requests, focal points, searches, hub keys",
     "CREATE TABLE hub_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
     /* One row per audited search: what a follow-up request refers to. */
     "CREATE TABLE searches (query_id TEXT PRIMARY KEY, from_state TEXT NOT NULL, created BIGINT NOT NULL,"
     " doc TEXT NOT NULL);"
     "CREATE TABLE focal_points (state TEXT NOT NULL, position INTEGER NOT NULL, doc TEXT NOT NULL,"
     " PRIMARY KEY (state, position));"
     "CREATE TABLE focal_point_updates (state TEXT PRIMARY KEY, updated BIGINT NOT NULL);"
     "CREATE TABLE requests (request_id TEXT PRIMARY KEY, query_id TEXT NOT NULL, from_state TEXT NOT NULL,"
     " to_state TEXT NOT NULL, status TEXT NOT NULL, created BIGINT NOT NULL, due BIGINT NOT NULL,"
     " decided BIGINT, doc TEXT NOT NULL);"
     "CREATE INDEX requests_from ON requests (from_state, created);"
     "CREATE INDEX requests_to ON requests (to_state, created);"
     "CREATE INDEX requests_open ON requests (status, due);"},
};

static int current_version(const fb_store_backend *b, void *conn, int *version, char **err) {
  fb_store_result r = {0};
  if (b->exec(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0, &r, err) != 0) return -1;
  const char *v = fb_store_cell(&r, 0, 0);
  *version = v ? atoi(v) : 0;
  fb_store_result_clear(&r);
  return 0;
}

int fb_store_migrate(const fb_store_backend *b, void *conn, int *version, char **err) {
  bool pg = strcmp(b->name, "postgresql") == 0;
  /* Hubs sharing a PostgreSQL database may start together: one migrates at a time. */
  if (pg && b->exec(conn, "SELECT pg_advisory_lock(7210301)", NULL, 0, NULL, err) != 0) return -1;
  int rc = b->exec(conn,
                   "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, what TEXT NOT NULL,"
                   " applied BIGINT NOT NULL)",
                   NULL, 0, NULL, err);
  if (rc == 0) rc = current_version(b, conn, version, err);
  for (size_t i = 0; rc == 0 && i < FB_ARRAY_LEN(migrations); i++) {
    if (migrations[i].version <= *version) continue;
    char v[16], now[24];
    snprintf(v, sizeof v, "%d", migrations[i].version);
    snprintf(now, sizeof now, "%lld", (long long)fb_wall_ms());
    const char *params[] = {v, migrations[i].what, now};
    rc = b->exec(conn, "BEGIN", NULL, 0, NULL, err);
    if (rc == 0) rc = b->exec(conn, migrations[i].sql, NULL, 0, NULL, err);
    if (rc == 0)
      rc = b->exec(conn, "INSERT INTO schema_version (version, what, applied) VALUES ($1, $2, $3)", params, 3, NULL,
                   err);
    if (rc == 0) rc = b->exec(conn, "COMMIT", NULL, 0, NULL, err);
    if (rc != 0) {
      b->exec(conn, "ROLLBACK", NULL, 0, NULL, NULL);
      break;
    }
    *version = migrations[i].version;
  }
  if (pg) b->exec(conn, "SELECT pg_advisory_unlock(7210301)", NULL, 0, NULL, NULL);
  return rc;
}

int fb_store_latest_version(void) { return migrations[FB_ARRAY_LEN(migrations) - 1].version; }
