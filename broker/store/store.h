/* The hub's own store (CONFIG.md `store`, FOLLOWUP.md): follow-up requests, the focal
 * point directory, the searches they refer to, and the hub's hit-reference key.
 *
 * Two backends behind one small vtable: SQLite (a file; the default) and PostgreSQL
 * ("postgresql://..."; several hubs may share one database). Every statement runs on
 * the store's own worker thread, in submission order, so the loop never waits for a
 * disk or a network round trip; results come back to the loop through a uv_async_t.
 *
 * SQL is written once for both backends: parameters are $1, $2, ... (SQLite accepts
 * them as named parameters numbered in order of first use), values are bound as text
 * and results are read as text (NULL stays NULL).
 *
 * Threads: fb_store_* functions are called on the loop thread. fb_store_exec_sync
 * queues like the others and blocks until the worker has run it: for start-up, the
 * CLI and tests, never for a request's path. */
#ifndef FB_STORE_STORE_H
#define FB_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct fb_store fb_store;

/* A result: `nrows` x `ncols` cells, row-major, each a malloc'd string or NULL. */
typedef struct {
  size_t nrows, ncols;
  char **cells;
  uint64_t changes; /* rows changed by an INSERT/UPDATE/DELETE */
} fb_store_result;

static inline const char *fb_store_cell(const fb_store_result *r, size_t row, size_t col) {
  return row < r->nrows && col < r->ncols ? r->cells[row * r->ncols + col] : NULL;
}
void fb_store_result_clear(fb_store_result *r);

/* Backend interface: every function runs on the worker thread only. */
typedef struct fb_store_backend {
  const char *name; /* "sqlite", "postgresql" */
  void *(*open)(const char *target, char **err);
  /* Runs one statement (several, separated by ';', when nparams is 0 and `res` NULL). */
  int (*exec)(void *conn, const char *sql, const char *const *params, size_t nparams, fb_store_result *res,
              char **err);
  void (*close)(void *conn);
} fb_store_backend;

extern const fb_store_backend fb_store_sqlite;
extern const fb_store_backend fb_store_postgresql;

/* Opens the store at `target` (a file path, or a postgresql:// URI) and brings its
 * schema up to date (migrations.c). Synchronous: called once at start-up. NULL with
 * *err (malloc'd) on failure. */
fb_store *fb_store_open(uv_loop_t *loop, const char *target, char **err);

/* `status` 0 with `res` (owned by the store; valid during the call), or -1 with `err`. */
typedef void (*fb_store_cb)(void *data, int status, fb_store_result *res, const char *err);

/* Queues one statement. Parameters are copied (NULL entries bind SQL NULL). `cb` runs
 * on the loop thread. Returns -1 when the store is closing (no callback). */
int fb_store_exec(fb_store *s, const char *sql, const char *const *params, size_t nparams, fb_store_cb cb,
                  void *data);

/* Like fb_store_exec for statements that do not fail in normal operation (INSERT ...
 * ON CONFLICT DO NOTHING): consecutive batched statements share one transaction, so a
 * burst of them costs one commit. At most FB_STORE_BATCH_QUEUE_MAX wait at a time:
 * beyond that the call returns -1 (no callback) instead of letting memory grow. */
#define FB_STORE_BATCH_MAX 512
#define FB_STORE_BATCH_QUEUE_MAX 100000
int fb_store_exec_batched(fb_store *s, const char *sql, const char *const *params, size_t nparams, fb_store_cb cb,
                          void *data);

/* Runs a statement and waits for it (start-up, tests). Returns 0 with *res filled
 * (caller clears it; `res` may be NULL), or -1 with *err. */
int fb_store_exec_sync(fb_store *s, const char *sql, const char *const *params, size_t nparams, fb_store_result *res,
                       char **err);

/* The schema version the store is at (schema_version table). */
int fb_store_schema_version(fb_store *s);
const char *fb_store_backend_name(const fb_store *s);

/* Finishes the queued statements, stops the worker, then calls cb(data). */
void fb_store_close(fb_store *s, void (*cb)(void *data), void *data);

/* Internal: applies the embedded migrations on the worker thread's connection. */
int fb_store_migrate(const fb_store_backend *b, void *conn, int *version, char **err);
/* The newest schema version this build knows. */
int fb_store_latest_version(void);

#endif
