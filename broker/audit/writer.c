/* The writer thread: takes every entry queued since its last round, builds their lines in
 * seq order (serialise, chain with prev, hash; sign checkpoints), writes them with one
 * writev pass and makes them durable with one fdatasync (group commit), then hands them
 * back to the loop thread through the async handle. After the first failure it writes
 * nothing more: every later entry fails with the same status (fail closed). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "audit/internal.h"
#include "core/log.h"
#include "core/util.h"

/* {"seq","ts","event","prev", ...fields} as one compact line, or NULL (out of memory).
 * `fields` may carry "event" (taken as the event, not repeated) or be NULL. */
static char *dump_line(const fb_audit_pending *p, const char *prev_hex, json_t *event, json_t *fields) {
  json_t *o = json_object();
  json_object_set_new(o, "seq", json_integer((json_int_t)p->seq));
  json_object_set_new(o, "ts", json_string(p->ts));
  json_object_set(o, "event", event);
  json_object_set_new(o, "prev", json_string(prev_hex));
  const char *k;
  json_t *v;
  json_object_foreach(fields, k, v) {
    if (strcmp(k, "event") != 0) json_object_set(o, k, v);
  }
  char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
  json_decref(o);
  return text;
}

/* Builds p's line from a->prev and advances the chain. An entry that cannot be
 * serialised, or whose line would exceed FB_AUDIT_MAX_LINE, is replaced by a `recovery`
 * line under the same seq (the chain must have no gap) and its callback gets -EMSGSIZE
 * (or -EINVAL). Returns 0, or -errno when the log must fail (out of memory, signing). */
static int build(fb_audit *a, fb_audit_pending *p) {
  char prev_hex[65];
  fb_hex_encode(a->prev, 32, prev_hex);
  char *text = NULL;
  if (p->checkpoint) {
    char sig[89];
    if (fb_audit_sign(a->key, prev_hex, 64, sig) != 0) {
      fb_error("audit_checkpoint", "audit log %s: signing a checkpoint failed", a->path);
      return -EIO;
    }
    json_t *f = json_pack("{s:s, s:s}", "key_id", a->key_id, "sig", sig);
    json_t *ev = json_string("checkpoint");
    text = dump_line(p, prev_hex, ev, f);
    json_decref(ev);
    json_decref(f);
  } else {
    json_t *ev = json_object_get(p->entry, "event");
    text = dump_line(p, prev_hex, ev, p->entry);
    size_t len = text ? strlen(text) : 0;
    if (!text || len > FB_AUDIT_MAX_LINE) {
      const char *name = json_string_value(ev);
      p->status = text ? -EMSGSIZE : -EINVAL;
      json_t *f = json_pack("{s:s}", "reason", text ? "entry over the 1 MiB line limit, not written"
                                                    : "entry cannot be serialised, not written");
      if (name && strlen(name) <= 64) json_object_set_new(f, "dropped_event", json_string(name));
      if (text) json_object_set_new(f, "bytes", json_integer((json_int_t)len));
      free(text);
      json_t *rec = json_string("recovery");
      text = dump_line(p, prev_hex, rec, f);
      json_decref(rec);
      json_decref(f);
      fb_error("audit_entry_dropped", "audit log %s: entry %llu (%s) %s", a->path, (unsigned long long)p->seq,
               name ? name : "?", p->status == -EMSGSIZE ? "is over 1 MiB" : "cannot be serialised");
    }
  }
  json_decref(p->entry); /* the loop must not see it again: freed here */
  p->entry = NULL;
  if (!text) return -ENOMEM;
  size_t len = strlen(text);
  p->line = fb_xrealloc(text, len + 2);
  p->line[len] = '\n';
  p->line[len + 1] = '\0';
  p->len = len + 1;
  fb_audit_sha256(p->line, len, a->prev);
  fb_hex_encode(a->prev, 32, p->hash);
  return 0;
}

/* Writes the whole batch; returns 0 or -errno. */
static int write_batch(fb_audit *a, fb_audit_pending *batch, uint64_t *bytes) {
  struct iovec iov[64];
  fb_audit_pending *p = batch;
  size_t skip = 0; /* bytes of p already written */
  *bytes = 0;
  while (p) {
    int n = 0;
    fb_audit_pending *q = p;
    for (size_t s = skip; q && n < (int)(sizeof iov / sizeof iov[0]); q = q->next, s = 0) {
      iov[n].iov_base = q->line + s;
      iov[n].iov_len = q->len - s;
      n++;
    }
    ssize_t w = writev(a->fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (w == 0) return -EIO;
    *bytes += (uint64_t)w;
    size_t left = (size_t)w;
    while (p && left >= p->len - skip) { /* consume whole lines */
      left -= p->len - skip;
      skip = 0;
      p = p->next;
    }
    skip += left;
  }
  return 0;
}

static int commit(fb_audit *a, fb_audit_pending *batch) {
  uint64_t bytes = 0;
  int st = write_batch(a, batch, &bytes);
  if (st == 0 && atomic_load(&a->fsync_enabled)) {
    while (fdatasync(a->fd) != 0) {
      if (errno == EINTR) continue;
      st = -errno;
      break;
    }
  }
  if (st == 0) {
    a->good_size += bytes;
    return 0;
  }
  /* Best effort: leave no half batch behind, so a restart finds the log as it was
   * acknowledged. After a failed fsync the page cache state is unknown anyway. */
  if (ftruncate(a->fd, (off_t)a->good_size) != 0) { /* the restart cuts a torn tail */ }
  return st;
}

void fb_audit_writer_main(void *arg) {
  fb_audit *a = arg;
  uv_mutex_lock(&a->mu);
  for (;;) {
    while (!a->todo && !a->stop) uv_cond_wait(&a->cv, &a->mu);
    if (!a->todo) break; /* stop, and drained */
    fb_audit_pending *batch = a->todo;
    a->todo = NULL;
    a->todo_tail = &a->todo;
    uv_mutex_unlock(&a->mu);

    int st = atomic_load(&a->fail_status);
    for (fb_audit_pending *p = batch; p && st == 0; p = p->next) st = build(a, p);
    if (st == 0) st = commit(a, batch);
    if (st != 0 && atomic_load(&a->fail_status) == 0) {
      atomic_store(&a->fail_status, st);
      fb_error("audit_write_failed", "audit log %s: write failed: %s; failing every later entry",
               a->path, strerror(-st));
    }
    uint64_t n = 0;
    fb_audit_pending *last = batch;
    for (fb_audit_pending *p = batch; p; p = p->next) {
      json_decref(p->entry); /* not built: the log had failed */
      p->entry = NULL;
      p->written = st == 0;
      if (st != 0) p->status = st;
      n++;
      last = p;
    }

    uv_mutex_lock(&a->mu);
    a->stats.batches++;
    if (st == 0) {
      a->stats.written += n;
      if (atomic_load(&a->fsync_enabled)) a->stats.fsyncs++;
    } else {
      a->stats.failed += n;
    }
    *a->done_tail = batch;
    a->done_tail = &last->next;
    uv_async_send(&a->async);
  }
  a->exited = true;
  uv_mutex_unlock(&a->mu);
  uv_async_send(&a->async);
}
