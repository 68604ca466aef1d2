/* The PostgreSQL backend of the store: one libpq connection, used by the worker thread
 * only (blocking calls there keep the loop free). Several hubs may share the database;
 * conditional UPDATEs (status = 'open') decide races between them. A dropped
 * connection is re-established once per statement before it fails. */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/error.h"
#include "core/util.h"
#include "store/store.h"

/* fb_set_error with libpq's text (which ends in a newline: trimmed). */
static void set_err(char **err, const char *what, const char *msg) {
  if (!msg) msg = "unknown error";
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
  fb_set_error(err, "store (postgresql): %s: %.*s", what, (int)n, msg);
}

static void *pg_open(const char *target, char **err) {
  PGconn *c = PQconnectdb(target);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    set_err(err, "connect", c ? PQerrorMessage(c) : "out of memory");
    PQfinish(c);
    return NULL;
  }
  PGresult *r = PQexec(c, "SET client_min_messages = warning");
  PQclear(r);
  return c;
}

static int pg_exec(void *conn, const char *sql, const char *const *params, size_t nparams, fb_store_result *res,
                   char **err) {
  PGconn *c = conn;
  if (PQstatus(c) != CONNECTION_OK) PQreset(c);
  PGresult *r = nparams == 0 && !res ? PQexec(c, sql)
                                     : PQexecParams(c, sql, (int)nparams, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    set_err(err, "statement", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return -1;
  }
  if (res) {
    fb_store_result out = {.nrows = (size_t)PQntuples(r), .ncols = (size_t)PQnfields(r)};
    out.cells = fb_xcalloc(out.nrows * out.ncols + 1, sizeof *out.cells);
    for (size_t i = 0; i < out.nrows; i++)
      for (size_t k = 0; k < out.ncols; k++)
        if (!PQgetisnull(r, (int)i, (int)k)) out.cells[i * out.ncols + k] = fb_xstrdup(PQgetvalue(r, (int)i, (int)k));
    const char *n = PQcmdTuples(r);
    out.changes = n && *n ? strtoull(n, NULL, 10) : 0;
    *res = out;
  }
  PQclear(r);
  return 0;
}

static void pg_close(void *conn) { PQfinish((PGconn *)conn); }

const fb_store_backend fb_store_postgresql = {"postgresql", pg_open, pg_exec, pg_close};
