/* The SQLite backend of the store: one connection, used by the worker thread only.
 * WAL journal, synchronous=FULL (an acknowledged request is on disk), a busy timeout
 * so that a second process (the CLI, a test) does not fail at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/error.h"
#include "core/util.h"
#include "store/store.h"

/* fb_set_error with SQLite's own text for the connection's last failure. */
static void set_err(char **err, const char *what, sqlite3 *db) {
  fb_set_error(err, "store (sqlite): %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Creates the parent directories of `path` (0750) when missing. */
static void make_parents(const char *path) {
  char *dir = fb_xstrdup(path);
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) break;
    *p = '/';
  }
  free(dir);
}

static void *sq_open(const char *target, char **err) {
  make_parents(target);
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    set_err(err, target, db);
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 5000);
  char *msg = NULL;
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL,
                   &msg) != SQLITE_OK) {
    fb_set_error(err, "store (sqlite): %s: %s", target, msg ? msg : "pragma failed");
    sqlite3_free(msg);
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static int sq_exec(void *conn, const char *sql, const char *const *params, size_t nparams, fb_store_result *res,
                   char **err) {
  sqlite3 *db = conn;
  if (nparams == 0 && !res) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
      fb_set_error(err, "store (sqlite): %s", msg ? msg : sqlite3_errmsg(db));
      sqlite3_free(msg);
      return -1;
    }
    return 0;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    set_err(err, "prepare", db);
    return -1;
  }
  if ((size_t)sqlite3_bind_parameter_count(st) != nparams) {
    sqlite3_finalize(st);
    fb_set_error(err, "store (sqlite): parameter count does not match the statement");
    return -1;
  }
  for (size_t i = 0; i < nparams; i++) {
    int brc = params[i] ? sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_TRANSIENT)
                        : sqlite3_bind_null(st, (int)i + 1);
    if (brc != SQLITE_OK) {
      set_err(err, "bind", db);
      sqlite3_finalize(st);
      return -1;
    }
  }
  size_t ncols = (size_t)sqlite3_column_count(st), cap = 0;
  fb_store_result r = {.ncols = ncols};
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (!res) continue;
    if ((r.nrows + 1) * ncols > cap) {
      cap = cap ? cap * 2 : ncols * 8;
      r.cells = fb_xrealloc(r.cells, cap * sizeof *r.cells);
    }
    for (size_t c = 0; c < ncols; c++) {
      const unsigned char *t = sqlite3_column_text(st, (int)c);
      r.cells[r.nrows * ncols + c] = t ? fb_xstrdup((const char *)t) : NULL;
    }
    r.nrows++;
  }
  if (rc != SQLITE_DONE) {
    set_err(err, "step", db);
    fb_store_result_clear(&r);
    sqlite3_finalize(st);
    return -1;
  }
  r.changes = (uint64_t)sqlite3_changes(db);
  sqlite3_finalize(st);
  if (res) *res = r;
  else fb_store_result_clear(&r);
  return 0;
}

static void sq_close(void *conn) { sqlite3_close((sqlite3 *)conn); }

const fb_store_backend fb_store_sqlite = {"sqlite", sq_open, sq_exec, sq_close};
