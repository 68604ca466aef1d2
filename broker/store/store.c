/* The store's worker thread and job queue (store.h). */
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/home.h"
#include "core/log.h"
#include "core/util.h"

typedef struct job {
  char *sql;
  char **params;
  size_t nparams;
  fb_store_cb cb;
  void *data;
  fb_home *home; /* the asking worker's loop, when not the store's own */
  /* filled by the worker */
  int status;
  fb_store_result res;
  char *err;
  /* synchronous callers wait on this */
  bool sync, done;
  bool batch; /* may share a transaction with the batch jobs queued next to it */
  struct job *next;
} job;

struct fb_store {
  const fb_store_backend *b;
  void *conn;
  int version;
  uv_loop_t *loop;
  fb_home *home; /* the mailbox of the store's loop thread (NULL: one loop) */
  uv_async_t async;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* worker: new job or stop */
  pthread_cond_t sync_cv; /* synchronous callers: a job finished */
  job *todo_head, *todo_tail;
  job *done_head, *done_tail;
  size_t batch_queued; /* batch jobs waiting: bounded by FB_STORE_BATCH_QUEUE_MAX */
  bool stop;
  void (*close_cb)(void *);
  void *close_data;
};

void fb_store_result_clear(fb_store_result *r) {
  for (size_t i = 0; i < r->nrows * r->ncols; i++) free(r->cells[i]);
  free(r->cells);
  memset(r, 0, sizeof *r);
}

static void job_free(job *j) {
  for (size_t i = 0; i < j->nparams; i++) free(j->params[i]);
  free(j->params);
  free(j->sql);
  fb_store_result_clear(&j->res);
  free(j->err);
  free(j);
}

/* Hands a finished job back: to its waiting caller, or to the loop. Lock held. */
static void finish_job(fb_store *s, job *j) {
  j->next = NULL;
  if (j->sync) {
    j->done = true;
    pthread_cond_broadcast(&s->sync_cv);
  } else {
    if (s->done_tail) s->done_tail->next = j;
    else s->done_head = j;
    s->done_tail = j;
  }
}

/* Batch jobs queued together run in one transaction: one commit (one fsync) for many
 * rows. If the commit fails, every job of the batch reports the failure. */
static void run_batch(fb_store *s, job **jobs, size_t n) {
  char *err = NULL;
  bool tx = n > 1 && s->b->exec(s->conn, "BEGIN", NULL, 0, NULL, NULL) == 0;
  for (size_t i = 0; i < n; i++)
    jobs[i]->status = s->b->exec(s->conn, jobs[i]->sql, (const char *const *)jobs[i]->params, jobs[i]->nparams,
                                 &jobs[i]->res, &jobs[i]->err);
  if (tx && s->b->exec(s->conn, "COMMIT", NULL, 0, NULL, &err) != 0) {
    s->b->exec(s->conn, "ROLLBACK", NULL, 0, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
      jobs[i]->status = -1;
      if (!jobs[i]->err) jobs[i]->err = fb_xstrdup(err ? err : "commit failed");
    }
  }
  free(err);
}

static void *worker(void *arg) {
  fb_store *s = arg;
  job *batch[FB_STORE_BATCH_MAX];
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->todo_head && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->todo_head) break; /* stopping and drained */
    size_t n = 0;
    do {
      job *j = s->todo_head;
      s->todo_head = j->next;
      if (!s->todo_head) s->todo_tail = NULL;
      if (j->batch) s->batch_queued--;
      batch[n++] = j;
    } while (batch[0]->batch && s->todo_head && s->todo_head->batch && n < FB_STORE_BATCH_MAX);
    pthread_mutex_unlock(&s->mu);

    if (batch[0]->batch) run_batch(s, batch, n);
    else batch[0]->status = s->b->exec(s->conn, batch[0]->sql, (const char *const *)batch[0]->params,
                                       batch[0]->nparams, &batch[0]->res, &batch[0]->err);

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) finish_job(s, batch[i]);
    if (s->done_head) uv_async_send(&s->async);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* A worker's completion runs on the worker's own loop. */
static void run_at_home(void *arg) {
  job *j = arg;
  fb_home *home = j->home;
  j->cb(j->data, j->status, j->status == 0 ? &j->res : NULL, j->err ? j->err : "store error");
  job_free(j);
  fb_home_release(home);
}

static void on_async(uv_async_t *a) {
  fb_store *s = a->data;
  pthread_mutex_lock(&s->mu);
  job *j = s->done_head;
  s->done_head = s->done_tail = NULL;
  pthread_mutex_unlock(&s->mu);
  while (j) {
    job *next = j->next;
    if (j->cb && j->home) {
      fb_home_post(j->home, run_at_home, j);
      j = next;
      continue;
    }
    if (j->cb) j->cb(j->data, j->status, j->status == 0 ? &j->res : NULL, j->err ? j->err : "store error");
    job_free(j);
    j = next;
  }
}

static void on_async_closed(uv_handle_t *h);

static const fb_store_backend *backend_for(const char *target) {
  if (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0)
    return &fb_store_postgresql;
  return &fb_store_sqlite;
}

fb_store *fb_store_open(uv_loop_t *loop, const char *target, char **err) {
  const fb_store_backend *b = backend_for(target);
  void *conn = b->open(target, err);
  if (!conn) return NULL;
  int version = 0;
  if (fb_store_migrate(b, conn, &version, err) != 0) {
    b->close(conn);
    return NULL;
  }
  fb_store *s = fb_xcalloc(1, sizeof *s);
  s->b = b;
  s->conn = conn;
  s->version = version;
  s->loop = loop;
  s->home = fb_home_current();
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  pthread_cond_init(&s->sync_cv, NULL);
  uv_async_init(loop, &s->async, on_async);
  s->async.data = s;
  if (pthread_create(&s->thread, NULL, worker, s) != 0) {
    fb_set_error(err, "store: cannot start the worker thread");
    b->close(conn);
    uv_close((uv_handle_t *)&s->async, on_async_closed);
    return NULL;
  }
  fb_info("store", "store open (%s, schema version %d)", b->name, version);
  return s;
}

static job *job_new(const char *sql, const char *const *params, size_t nparams) {
  job *j = fb_xcalloc(1, sizeof *j);
  j->sql = fb_xstrdup(sql);
  j->nparams = nparams;
  j->params = fb_xcalloc(nparams ? nparams : 1, sizeof *j->params);
  for (size_t i = 0; i < nparams; i++) j->params[i] = params[i] ? fb_xstrdup(params[i]) : NULL;
  return j;
}

static void note_home(fb_store *s, job *j) {
  fb_home *home = fb_home_current();
  if (!j->cb || !home || home == s->home) return;
  j->home = home;
  fb_home_hold(home);
}

static void enqueue(fb_store *s, job *j) {
  if (s->todo_tail) s->todo_tail->next = j;
  else s->todo_head = j;
  s->todo_tail = j;
  pthread_cond_signal(&s->cv);
}

int fb_store_exec(fb_store *s, const char *sql, const char *const *params, size_t nparams, fb_store_cb cb,
                  void *data) {
  if (!s || s->stop) return -1;
  job *j = job_new(sql, params, nparams);
  j->cb = cb;
  j->data = data;
  note_home(s, j);
  pthread_mutex_lock(&s->mu);
  enqueue(s, j);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

int fb_store_exec_batched(fb_store *s, const char *sql, const char *const *params, size_t nparams, fb_store_cb cb,
                          void *data) {
  if (!s || s->stop) return -1;
  pthread_mutex_lock(&s->mu);
  bool full = s->batch_queued >= FB_STORE_BATCH_QUEUE_MAX;
  if (!full) s->batch_queued++;
  pthread_mutex_unlock(&s->mu);
  if (full) return -1;
  job *j = job_new(sql, params, nparams);
  j->cb = cb;
  j->data = data;
  j->batch = true;
  note_home(s, j);
  pthread_mutex_lock(&s->mu);
  enqueue(s, j);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

int fb_store_exec_sync(fb_store *s, const char *sql, const char *const *params, size_t nparams, fb_store_result *res,
                       char **err) {
  if (!s || s->stop) {
    fb_set_error(err, "store closed");
    return -1;
  }
  job *j = job_new(sql, params, nparams);
  j->sync = true;
  pthread_mutex_lock(&s->mu);
  enqueue(s, j);
  while (!j->done) pthread_cond_wait(&s->sync_cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  int rc = j->status;
  if (rc == 0 && res) {
    *res = j->res;
    memset(&j->res, 0, sizeof j->res);
  }
  if (rc != 0 && err) {
    *err = j->err ? j->err : fb_xstrdup("store error");
    j->err = NULL;
  }
  job_free(j);
  return rc;
}

int fb_store_schema_version(fb_store *s) { return s->version; }
const char *fb_store_backend_name(const fb_store *s) { return s->b->name; }

static void on_async_closed(uv_handle_t *h) {
  fb_store *s = h->data;
  void (*cb)(void *) = s->close_cb;
  void *data = s->close_data;
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  pthread_cond_destroy(&s->sync_cv);
  free(s);
  if (cb) cb(data);
}

void fb_store_close(fb_store *s, void (*cb)(void *data), void *data) {
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL); /* the worker drains what was queued first */
  s->b->close(s->conn);
  on_async(&s->async); /* callbacks of the last jobs */
  s->close_cb = cb;
  s->close_data = data;
  uv_close((uv_handle_t *)&s->async, on_async_closed);
}
