/* The audit log handle: open, append (seq and ts assigned on the loop thread; the line,
 * its prev and hash built by the writer), durable completions, paging reads, the
 * auth-failure limiter, and an orderly close. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/internal.h"
#include "core/error.h"
#include "core/home.h"
#include "core/log.h"
#include "core/util.h"

#define AUTH_FAIL_RATE 20.0   /* per second */
#define AUTH_FAIL_BURST 100.0

static void on_async(uv_async_t *h);
static void on_closed(uv_handle_t *h);

static void on_kick(uv_prepare_t *h) {
  fb_audit *a = fb_container_of(h, fb_audit, kick);
  uv_prepare_stop(h);
  a->kick_armed = false;
  uv_mutex_lock(&a->mu);
  audit_wake_writer(a);
  uv_mutex_unlock(&a->mu);
}

static void kick_from_worker(void *arg) {
  fb_audit *a = arg;
  uv_mutex_lock(&a->mu);
  audit_wake_writer(a);
  uv_mutex_unlock(&a->mu);
}

/* A new file's directory entry must be durable too, or a crash could lose the log. */
static void fsync_dir(const char *path) {
  char *copy = fb_xstrdup(path);
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  free(copy);
}

/* Creates the missing parent directories of `path` (mode 0750), as `mkdir -p` would:
 * the default `var/audit.jsonl` should work on a fresh checkout. Errors surface at
 * open() of the file itself. */
static void make_parents(const char *path) {
  char *copy = fb_xstrdup(path);
  for (char *p = copy + 1; (p = strchr(p, '/')) != NULL; p++) {
    *p = '\0';
    (void)mkdir(copy, 0750);
    *p = '/';
  }
  free(copy);
}

static void enqueue_pending(fb_audit *a, audit_pending *p, json_t *entry, fb_audit_done_cb cb, void *data);

static void free_handle(fb_audit *a) {
  uv_mutex_destroy(&a->append_mu);
  if (a->fd >= 0) close(a->fd);
  EVP_PKEY_free(a->key);
  free(a->index);
  fb_buf_free(&a->line_buf);
  free(a->path);
  free(a);
}

/* Queues an entry (or, with entry NULL, a checkpoint) under the next seq; the writer
 * thread serialises, chains, hashes and signs it. Steals `entry`. Cannot fail. Under
 * append_mu (or at open, before any other thread has the log): seq and ts are taken
 * together, so both grow in the order of the queue. */
static void enqueue(fb_audit *a, json_t *entry, fb_audit_done_cb cb, void *data) {
  audit_pending *p = fb_xcalloc(1, sizeof *p);
  enqueue_pending(a, p, entry, cb, data);
}

static void enqueue_pending(fb_audit *a, audit_pending *p, json_t *entry, fb_audit_done_cb cb, void *data) {
  p->entry = entry;
  p->checkpoint = entry == NULL && p->text == NULL;
  fb_rfc3339_now(p->ts);
  p->cb = cb;
  p->data = data;
  p->seq = ++a->seq;
  fb_home *home = fb_home_current();
  if (home && home != a->home) { /* a worker's loop: its completion goes back there */
    p->home = home;
    if (cb) fb_home_hold(home);
  }

  /* Once queued, `p` is the writer's, and the log's loop may free it: not read after. */
  bool remote = p->home != NULL;
  uv_mutex_lock(&a->mu);
  a->stats.appended++;
  if (p->checkpoint) a->stats.checkpoints++;
  *a->todo_tail = p;
  a->todo_tail = &p->next;
  uv_mutex_unlock(&a->mu);
  /* Wake the writer once, after this loop iteration's callbacks have run, so that the
   * entries they append go out as one write and one fsync (and the writer, if it is
   * busy, takes them at its next round without being signalled): on a worker's loop
   * through its mailbox, on the log's own through the prepare handle. */
  if (remote) {
    fb_home_before_wait(home, kick_from_worker, a);
  } else if (!a->kick_armed) {
    uv_prepare_start(&a->kick, on_kick);
    a->kick_armed = true;
  }
}

static void checkpoint(fb_audit *a) {
  enqueue(a, NULL, NULL, NULL);
  a->since_checkpoint = 0;
  a->last_is_checkpoint = true;
}

/* After an entry of the caller's (under append_mu): a checkpoint every
 * checkpoint_every entries when the log signs. */
static void count_entry(fb_audit *a) {
  a->last_is_checkpoint = false;
  if (a->key && ++a->since_checkpoint >= a->checkpoint_every) checkpoint(a);
}

static double system_clock(void *ctx) {
  (void)ctx;
  return fb_now_ms();
}

fb_audit *fb_audit_open(uv_loop_t *loop, const fb_audit_config *cfg, char **err) {
  *err = NULL;
  if (!cfg || !cfg->path || !*cfg->path) {
    fb_set_error(err, "audit: no log path configured (audit.path)");
    return NULL;
  }
  fb_audit *a = fb_xcalloc(1, sizeof *a);
  a->loop = loop;
  a->home = fb_home_current();
  a->path = fb_xstrdup(cfg->path);
  a->checkpoint_every = cfg->checkpoint_every ? cfg->checkpoint_every : 1000;
  uv_mutex_init(&a->append_mu);
  atomic_init(&a->seq, 0);
  atomic_init(&a->closing, false);
  a->todo_tail = &a->todo;
  a->done_tail = &a->done;
  atomic_init(&a->fsync_enabled, true);
  atomic_init(&a->fail_status, 0);
  a->fd = -1;
  if (cfg->key) {
    a->key = audit_load_private_key(cfg->key, err);
    if (!a->key) fb_prefix_error(err, "audit.key ");
    if (!a->key || audit_key_id(a->key, a->key_id) != 0) {
      if (!*err) fb_set_error(err, "audit.key %s: cannot derive its public key", cfg->key);
      free_handle(a);
      return NULL;
    }
  } else {
    fb_warn("audit_unsigned", "audit.key is not set: the audit log %s gets no signed checkpoints", a->path);
  }
  make_parents(a->path);
  a->fd = open(a->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (a->fd < 0) {
    fb_set_error(err, "cannot open audit log %s: %s", a->path, strerror(errno));
    free_handle(a);
    return NULL;
  }
  if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
    fb_set_error(err, errno == EWOULDBLOCK ? "audit log %s is in use by another process"
                                           : "cannot lock audit log %s: %s",
                 a->path, strerror(errno));
    free_handle(a);
    return NULL;
  }
  fsync_dir(a->path);
  int64_t cut = audit_recover(a, err);
  if (cut < 0) {
    free_handle(a);
    return NULL;
  }
  a->now_ms = system_clock;
  audit_bucket_init(&a->bucket, AUTH_FAIL_RATE, AUTH_FAIL_BURST, a->now_ms(NULL));
  uv_mutex_init(&a->mu);
  uv_cond_init(&a->cv);
  int rc = uv_async_init(loop, &a->async, on_async);
  if (rc != 0) {
    fb_set_error(err, "audit: cannot create the async handle: %s", uv_strerror(rc));
    uv_cond_destroy(&a->cv);
    uv_mutex_destroy(&a->mu);
    free_handle(a);
    return NULL;
  }
  uv_prepare_init(loop, &a->kick); /* cannot fail on unix */
  a->async.data = a;
  a->kick.data = a;
  a->open_handles = 2;
  rc = uv_thread_create(&a->thread, audit_writer_main, a);
  if (rc != 0) {
    fb_set_error(err, "audit: cannot start the writer thread: %s", uv_strerror(rc));
    /* The handles are embedded: the memory goes in the last close callback. */
    uv_close((uv_handle_t *)&a->async, on_closed);
    uv_close((uv_handle_t *)&a->kick, on_closed);
    return NULL;
  }
  if (cut > 0) {
    json_t *e = json_pack("{s:s, s:I, s:s}", "event", "recovery", "cut_bytes", (json_int_t)cut,
                          "reason", "torn last line removed at open");
    enqueue(a, e, NULL, NULL);
  }
  return a;
}

static int refuse_entry(json_t *entry, int e) {
  json_decref(entry);
  errno = e;
  return -1;
}

/* Any loop thread, with or without the hub lock: seq order is the order in which the
 * callers took append_mu. */
int fb_audit_append(fb_audit *a, json_t *entry, fb_audit_done_cb cb, void *data) {
  const char *event = json_string_value(json_object_get(entry, "event"));
  bool invalid = !json_is_object(entry) || !event || !*event || strcmp(event, "checkpoint") == 0 ||
                 strcmp(event, "recovery") == 0 || json_object_get(entry, "seq") ||
                 json_object_get(entry, "ts") || json_object_get(entry, "prev");
  uv_mutex_lock(&a->append_mu);
  if (atomic_load(&a->closing) || atomic_load(&a->fail_status) != 0) {
    int e = atomic_load(&a->closing) ? ESHUTDOWN : EIO;
    uv_mutex_unlock(&a->append_mu);
    return refuse_entry(entry, e);
  }
  if (invalid) {
    uv_mutex_unlock(&a->append_mu);
    return refuse_entry(entry, EINVAL);
  }
  if (a->suppressed_pending && strcmp(event, "auth_failure") == 0) {
    json_object_set_new(entry, "suppressed", json_integer((json_int_t)a->suppressed_pending));
    a->suppressed_pending = 0;
  }
  enqueue(a, entry, cb, data);
  count_entry(a);
  uv_mutex_unlock(&a->append_mu);
  return 0;
}

int fb_audit_append_text(fb_audit *a, const char *event, char *fields, size_t len, fb_audit_done_cb cb, void *data) {
  bool invalid = !event || !*event || strcmp(event, "checkpoint") == 0 || strcmp(event, "recovery") == 0 ||
                 !fields || len < 2 || fields[0] != '{' || fields[len - 1] != '}';
  uv_mutex_lock(&a->append_mu);
  int e = atomic_load(&a->closing) ? ESHUTDOWN : atomic_load(&a->fail_status) != 0 ? EIO : invalid ? EINVAL : 0;
  if (e) {
    uv_mutex_unlock(&a->append_mu);
    free(fields);
    errno = e;
    return -1;
  }
  audit_pending *p = fb_xcalloc(1, sizeof *p);
  p->event = event;
  p->text = fields;
  p->text_len = len;
  enqueue_pending(a, p, NULL, cb, data);
  count_entry(a);
  uv_mutex_unlock(&a->append_mu);
  return 0;
}

static void on_closed(uv_handle_t *h) {
  fb_audit *a = h->data;
  if (--a->open_handles > 0) return;
  void (*cb)(void *) = a->close_cb;
  void *data = a->close_data;
  uv_cond_destroy(&a->cv);
  uv_mutex_destroy(&a->mu);
  free_handle(a);
  if (cb) cb(data);
}

static void on_async(uv_async_t *h) {
  fb_audit *a = fb_container_of(h, fb_audit, async);
  uv_mutex_lock(&a->mu);
  audit_pending *done = a->done;
  a->done = NULL;
  a->done_tail = &a->done;
  bool exited = a->exited;
  uv_mutex_unlock(&a->mu);
  while (done) {
    audit_pending *p = done; /* the log's loop's own, with a callback (writer.c) */
    done = p->next;
    p->cb(p->data, p->status, p->seq, p->hash);
    free(p->line);
    free(p);
  }
  if (exited && !uv_is_closing((uv_handle_t *)h)) {
    uv_thread_join(&a->thread);
    uv_close((uv_handle_t *)h, on_closed);
    uv_close((uv_handle_t *)&a->kick, on_closed);
  }
}

void fb_audit_close(fb_audit *a, void (*cb)(void *data), void *data) {
  uv_mutex_lock(&a->append_mu);
  if (atomic_load(&a->closing)) {
    uv_mutex_unlock(&a->append_mu);
    return;
  }
  if (atomic_load(&a->fail_status) == 0) {
    if (a->suppressed_pending) {
      json_t *e = json_pack("{s:s, s:I, s:s}", "event", "auth_failure", "suppressed",
                            (json_int_t)a->suppressed_pending, "reason", "rate limited, summary at close");
      a->suppressed_pending = 0;
      enqueue(a, e, NULL, NULL);
      a->last_is_checkpoint = false;
    }
    if (a->key && !a->last_is_checkpoint && a->seq > 0) checkpoint(a);
  }
  atomic_store(&a->closing, true);
  uv_mutex_unlock(&a->append_mu);
  a->close_cb = cb;
  a->close_data = data;
  uv_mutex_lock(&a->mu);
  a->stop = true;
  uv_cond_signal(&a->cv);
  uv_mutex_unlock(&a->mu);
}

bool fb_audit_healthy(const fb_audit *a) {
  return atomic_load(&a->fail_status) == 0;
}

uint64_t fb_audit_last_seq(const fb_audit *a) { return a->seq; }

/* Reads a file forward line by line, through a buffer that grows to the longest
 * line met; never past `limit` (the end of the durable lines). */
typedef struct {
  int fd;
  uint64_t off, limit;  /* file offset of buf[end], and where to stop */
  char *buf;
  size_t cap, start, end;
} line_reader;

/* Sets *line and *len (without the newline) to the next line, valid until the next call.
 * Returns 0, or -1 with errno set (EIO when the file ends inside a durable line). */
static int next_line(line_reader *r, const char **line, size_t *len) {
  size_t scanned = r->start;
  for (;;) {
    char *nl = memchr(r->buf + scanned, '\n', r->end - scanned);
    if (nl) {
      *line = r->buf + r->start;
      *len = (size_t)(nl - *line);
      r->start = (size_t)(nl - r->buf) + 1;
      return 0;
    }
    if (r->start > 0) { /* keep only the partial line */
      memmove(r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
    scanned = r->end;
    if (r->end == r->cap) {
      r->cap *= 2;
      r->buf = fb_xrealloc(r->buf, r->cap);
    }
    if (r->off >= r->limit) {
      errno = EIO; /* the index says there is a line here */
      return -1;
    }
    size_t want = r->cap - r->end;
    if (want > r->limit - r->off) want = (size_t)(r->limit - r->off);
    ssize_t got = pread(r->fd, r->buf + r->end, want, (off_t)r->off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) errno = EIO;
      return -1;
    }
    r->end += (size_t)got;
    r->off += (uint64_t)got;
  }
}

int fb_audit_read(fb_audit *a, uint64_t after, size_t limit, json_t **entries, uint64_t *next) {
  *entries = json_array();
  *next = after;
  uint64_t block = after / FB_AUDIT_INDEX_STRIDE, durable_seq, durable_end, start = 0;
  uv_mutex_lock(&a->mu); /* the writer extends the index */
  durable_seq = a->durable_seq;
  durable_end = a->durable_end;
  if (after < durable_seq) start = a->index[block];
  uv_mutex_unlock(&a->mu);
  if (after >= durable_seq || limit == 0) return 0;
  uint64_t last = durable_seq - after < limit ? durable_seq : after + limit;
  /* Seek to the indexed line at or before after + 1, skip to it (at most
   * FB_AUDIT_INDEX_STRIDE - 1 lines), then parse the lines asked for. */
  line_reader r = {.fd = a->fd, .off = start, .limit = durable_end, .cap = 1 << 16};
  r.buf = fb_xmalloc(r.cap);
  const char *line;
  size_t len;
  for (uint64_t k = block * FB_AUDIT_INDEX_STRIDE + 1; k <= after; k++) {
    if (next_line(&r, &line, &len) != 0) goto fail;
  }
  for (uint64_t k = after + 1; k <= last; k++) {
    if (next_line(&r, &line, &len) != 0) goto fail;
    json_t *o = json_loadb(line, len, 0, NULL);
    if (!o) {
      errno = EBADMSG;
      goto fail;
    }
    json_array_append_new(*entries, o);
  }
  free(r.buf);
  *next = last;
  return 0;
fail:
  free(r.buf);
  json_decref(*entries);
  *entries = NULL;
  return -1;
}

void fb_audit_scan_bounds(fb_audit *a, uint64_t after, uint64_t *start_off, uint64_t *start_seq, uint64_t *end_off) {
  uv_mutex_lock(&a->mu); /* the writer extends the index */
  uint64_t block = (after < a->durable_seq ? after : a->durable_seq) / FB_AUDIT_INDEX_STRIDE;
  *start_off = a->index[block];
  *end_off = a->durable_end;
  uv_mutex_unlock(&a->mu);
  *start_seq = block * FB_AUDIT_INDEX_STRIDE + 1;
}

void fb_audit_set_clock(fb_audit *a, double (*now_ms)(void *ctx), void *ctx) {
  a->now_ms = now_ms;
  a->clock_ctx = ctx;
  audit_bucket_init(&a->bucket, AUTH_FAIL_RATE, AUTH_FAIL_BURST, now_ms(ctx));
}

bool fb_audit_admit_auth_failure(fb_audit *a) {
  uv_mutex_lock(&a->append_mu);
  bool admitted = audit_bucket_take(&a->bucket, a->now_ms(a->clock_ctx));
  if (!admitted) a->suppressed_pending++;
  uv_mutex_unlock(&a->append_mu);
  if (admitted) return true;
  uv_mutex_lock(&a->mu);
  a->stats.suppressed++;
  uv_mutex_unlock(&a->mu);
  return false;
}

void fb_audit_get_stats(fb_audit *a, fb_audit_stats *out) {
  uv_mutex_lock(&a->mu);
  *out = a->stats;
  uv_mutex_unlock(&a->mu);
}

void fb_audit_set_fsync(fb_audit *a, bool enabled) { atomic_store(&a->fsync_enabled, enabled); }
