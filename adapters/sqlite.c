/* Adapter kind "sqlite": a records database on local disk (records/sqlite_db.h).
 *
 * Each leg runs on the uv work queue. Worker threads borrow a read-only connection
 * from a small pool (at most one per concurrently running leg, so at most the
 * threadpool size) and give it back; a connection is never used by two threads at
 * once. The subject is deep-copied on start so the worker never touches JSON the loop
 * thread owns. A cancelled leg cannot interrupt its query: its result is discarded
 * when the work finishes (or the work is dequeued if it had not started). The leg's
 * timeout_ms is not enforced here: local queries take milliseconds, and the search's
 * deadline cancels the leg anyway.
 *
 * A caller that takes compact sets (fb_leg_request.compact_done: the search engine)
 * gets the records as one, made on the worker from the stored record texts as they
 * are (records/sqlite_db.h, fb_sqlite_db_search_set): redaction, merge and the answer
 * then read spans of that text, as for the http adapter's answers, and no jansson
 * value is made per record. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter_impl.h"
#include "core/error.h"
#include "records/sqlite_db.h"
#include "core/log.h"
#include "core/util.h"

typedef struct sqlite_leg sqlite_leg;

typedef struct {
  struct fb_adapter base;
  uv_loop_t *loop;
  char *path;
  uv_mutex_t mu; /* guards pool */
  fb_sqlite_db **pool;
  size_t npool, cappool;
  sqlite_leg *legs; /* in flight, for close */
  size_t inflight;
  uv_timer_t closer; /* only to defer the closed callback to the loop */
  bool closing, closer_closed;
  void (*closed)(void *);
  void *closed_data;
} sqlite_adapter;

struct sqlite_leg {
  struct fb_leg base;
  uv_work_t work;
  sqlite_adapter *a;
  sqlite_leg *prev, *next;
  json_t *subject; /* deep copy, touched only by the worker until after_work */
  size_t limit;
  json_t *records;
  fb_crecs *set; /* the records as a compact set, when compact_done takes one */
  char *err;
  bool cancelled;
  fb_leg_done_cb cb;
  void (*compact_done)(void *data, fb_crecs *records);
  void *data;
};

static fb_sqlite_db *pool_take(sqlite_adapter *a, char **err) {
  fb_sqlite_db *db = NULL;
  uv_mutex_lock(&a->mu);
  if (a->npool > 0) db = a->pool[--a->npool];
  uv_mutex_unlock(&a->mu);
  if (!db && fb_sqlite_db_open(a->path, &db, err) != 0) return NULL;
  return db;
}

static void pool_give(sqlite_adapter *a, fb_sqlite_db *db) {
  uv_mutex_lock(&a->mu);
  if (a->npool == a->cappool) {
    a->cappool = a->cappool ? a->cappool * 2 : 4;
    a->pool = fb_xrealloc(a->pool, a->cappool * sizeof *a->pool);
  }
  a->pool[a->npool++] = db;
  uv_mutex_unlock(&a->mu);
}

/* The keys of a `states` entry of this kind (CONFIG.md). */
static const adapter_option_spec sq_options[] = {
    {"path", ADAPTER_OPT_PATH, offsetof(fb_state_config, path), true},
};

static int sq_configure(fb_state_config *cfg, char **err) {
  return adapter_read_options(cfg, sq_options, FB_ARRAY_LEN(sq_options), err);
}

static int sq_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  if (!cfg->path || !*cfg->path) {
    fb_set_error(err, "state %s: adapter sqlite needs `path`", cfg->code ? cfg->code : "?");
    return -1;
  }
  fb_sqlite_db *db;
  if (fb_sqlite_db_open(cfg->path, &db, err) != 0) return -1; /* fail at start-up, not per query */
  sqlite_adapter *a = fb_xcalloc(1, sizeof *a);
  a->loop = loop;
  a->path = fb_xstrdup(cfg->path);
  uv_mutex_init(&a->mu);
  uv_timer_init(loop, &a->closer);
  pool_give(a, db);
  *out = &a->base;
  return 0;
}

static void work_cb(uv_work_t *w) {
  sqlite_leg *leg = fb_container_of(w, sqlite_leg, work);
  fb_sqlite_db *db = pool_take(leg->a, &leg->err);
  if (!db) return;
  if (leg->compact_done) fb_sqlite_db_search_set(db, leg->subject, leg->limit, &leg->set, &leg->records, &leg->err);
  else leg->records = fb_sqlite_db_search(db, leg->subject, leg->limit, &leg->err);
  pool_give(leg->a, db);
}

static void finish_close(sqlite_adapter *a) {
  if (!a->closer_closed || a->inflight > 0) return;
  for (size_t i = 0; i < a->npool; i++) fb_sqlite_db_close(a->pool[i]);
  free(a->pool);
  uv_mutex_destroy(&a->mu);
  void (*closed)(void *) = a->closed;
  void *data = a->closed_data;
  free(a->path);
  free(a);
  if (closed) closed(data);
}

static void unlink_leg(sqlite_leg *leg) {
  sqlite_adapter *a = leg->a;
  if (leg->prev) leg->prev->next = leg->next;
  else a->legs = leg->next;
  if (leg->next) leg->next->prev = leg->prev;
  a->inflight--;
}

static void after_work_cb(uv_work_t *w, int status) {
  sqlite_leg *leg = fb_container_of(w, sqlite_leg, work);
  sqlite_adapter *a = leg->a;
  unlink_leg(leg);
  json_decref(leg->subject);
  if (!leg->cancelled) {
    if (status == 0 && leg->set) {
      leg->compact_done(leg->data, leg->set);
      leg->set = NULL;
    } else if (status == 0 && leg->records) {
      leg->cb(leg->data, 0, leg->records, NULL);
      leg->records = NULL;
    } else {
      fb_warn("adapter_error", "state %s: %s", a->base.state, leg->err ? leg->err : "query cancelled");
      leg->cb(leg->data, FB_LEG_ERROR, NULL, leg->err ? leg->err : "query cancelled");
    }
  }
  json_decref(leg->records);
  fb_crecs_free(leg->set);
  free(leg->err);
  free(leg);
  if (a->closing) finish_close(a);
}

static int sq_start(fb_adapter *base, const fb_leg_request *req, fb_leg_done_cb cb, void *data,
                    fb_leg **out) {
  sqlite_adapter *a = (sqlite_adapter *)base;
  *out = NULL;
  if (a->closing || !json_is_object(req->subject)) return -1;
  sqlite_leg *leg = fb_xcalloc(1, sizeof *leg);
  leg->base.adapter = base;
  leg->a = a;
  leg->subject = json_deep_copy(req->subject);
  leg->limit = req->limit;
  leg->cb = cb;
  leg->compact_done = req->compact_done;
  leg->data = data;
  if (!leg->subject || uv_queue_work(a->loop, &leg->work, work_cb, after_work_cb) != 0) {
    json_decref(leg->subject);
    free(leg);
    return -1;
  }
  leg->next = a->legs;
  if (a->legs) a->legs->prev = leg;
  a->legs = leg;
  a->inflight++;
  *out = &leg->base;
  return 0;
}

static void sq_cancel(fb_leg *base) {
  sqlite_leg *leg = (sqlite_leg *)base;
  leg->cancelled = true;
  uv_cancel((uv_req_t *)&leg->work); /* dequeues it if not started; after_work frees */
}

static void closer_closed_cb(uv_handle_t *h) {
  sqlite_adapter *a = fb_container_of((uv_timer_t *)h, sqlite_adapter, closer);
  a->closer_closed = true;
  finish_close(a);
}

static void sq_close(fb_adapter *base, void (*closed)(void *), void *data) {
  sqlite_adapter *a = (sqlite_adapter *)base;
  a->closing = true;
  a->closed = closed;
  a->closed_data = data;
  for (sqlite_leg *l = a->legs; l; l = l->next) sq_cancel(&l->base);
  uv_close((uv_handle_t *)&a->closer, closer_closed_cb);
}

const fb_adapter_vtable sqlite_adapter_vtable = {
    .kind = "sqlite", .configure = sq_configure, .open = sq_open, .start = sq_start, .cancel = sq_cancel, .close = sq_close};
