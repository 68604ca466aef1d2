/* The writer thread: takes every entry queued since its last round, builds their lines in
 * seq order (serialise, chain with prev, hash; sign checkpoints), writes them with one
 * writev pass and makes them durable with one fdatasync (group commit), then hands each
 * completion straight to the loop that appended it: a worker's through its mailbox (one
 * post per worker and batch), the log's own loop's through the async handle. It is woken
 * only when it sleeps (audit_wake_writer): entries that arrive while it writes wait for
 * its next round. After the first failure it writes nothing more: every later entry
 * fails with the same status (fail closed). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "audit/internal.h"
#include "core/home.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/util.h"

/* Starts a line in a->line_buf: {"seq":N,"ts":"..","event":<event>,"prev":"<prev_hex>"
 * (the object's first four keys, API.md). Returns 0, or -1 for an event that is not
 * UTF-8. */
static int line_head(fb_audit *a, const audit_pending *p, const char *prev_hex, const char *event, size_t event_len) {
  fb_buf *b = &a->line_buf;
  fb_buf_reset(b);
  char num[24], *o = num + sizeof num;
  uint64_t v = p->seq;
  do {
    *--o = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  fb_buf_append(b, "{\"seq\":", 7);
  fb_buf_append(b, o, (size_t)(num + sizeof num - o));
  fb_buf_append(b, ",\"ts\":\"", 7);
  fb_buf_puts(b, p->ts);
  fb_buf_append(b, "\",\"event\":", 10);
  if (fb_jsonw_string(b, event, event_len) != 0) return -1;
  fb_buf_append(b, ",\"prev\":\"", 9);
  fb_buf_append(b, prev_hex, 64);
  fb_buf_putc(b, '"');
  return 0;
}

/* Ends the line with the rest of the entry's fields, `fields` being their object's
 * text ("{}" or "{...}"): its own '{' becomes the ',' after prev. */
static void line_fields(fb_buf *b, const char *fields, size_t len) {
  if (len <= 2) {
    fb_buf_putc(b, '}');
    return;
  }
  fb_buf_putc(b, ',');
  fb_buf_append(b, fields + 1, len - 1);
}

/* Writes {"seq","ts","event","prev", ...fields} into a->line_buf as one compact line
 * (no newline), byte for byte what json_dumps of that object would give, without
 * building the object (core/jsonw.h writes jansson's bytes). `fields` must not hold
 * "event". Returns 0, or -1 when a value cannot be serialised (a string that is not
 * UTF-8). */
static int dump_line(fb_audit *a, const audit_pending *p, const char *prev_hex, json_t *event, json_t *fields) {
  fb_buf *b = &a->line_buf;
  if (!json_is_string(event) ||
      line_head(a, p, prev_hex, json_string_value(event), json_string_length(event)) != 0)
    return -1;
  size_t mark = b->len;
  if (fb_jsonw_dump(b, fields, 0) != 0) return -1;
  if (b->len - mark <= 2) { /* "{}" */
    b->len = mark;
    fb_buf_putc(b, '}');
  } else {
    b->data[mark] = ','; /* the fields' own '{' */
  }
  return 0;
}

/* Builds p's line from a->prev and advances the chain. An entry that cannot be
 * serialised, or whose line would exceed FB_AUDIT_MAX_LINE, is replaced by a `recovery`
 * line under the same seq (the chain must have no gap) and its callback gets -EMSGSIZE
 * (or -EINVAL). Returns 0, or -errno when the log must fail (signing). */
static int build(fb_audit *a, audit_pending *p) {
  char prev_hex[65];
  fb_hex_encode(a->prev, 32, prev_hex);
  int rc = 0;
  if (p->checkpoint) {
    char sig[89];
    if (audit_sign(a->key, prev_hex, 64, sig) != 0) {
      fb_error("audit_checkpoint", "audit log %s: signing a checkpoint failed", a->path);
      return -EIO;
    }
    json_t *f = json_pack("{s:s, s:s}", "key_id", a->key_id, "sig", sig);
    json_t *ev = json_string("checkpoint");
    rc = dump_line(a, p, prev_hex, ev, f);
    json_decref(ev);
    json_decref(f);
  } else {
    /* A text entry's fields are written already; a jansson entry's top-level object is
     * ours (fb_audit_append stole it): take "event" out of it so that the fields dump
     * as they are. */
    json_t *ev = NULL;
    const char *name;
    bool ok;
    if (p->text) {
      name = p->event;
      ok = line_head(a, p, prev_hex, p->event, strlen(p->event)) == 0;
      if (ok) line_fields(&a->line_buf, p->text, p->text_len);
      free(p->text);
      p->text = NULL;
    } else {
      ev = json_incref(json_object_get(p->entry, "event"));
      json_object_del(p->entry, "event");
      name = json_string_value(ev);
      ok = dump_line(a, p, prev_hex, ev, p->entry) == 0;
    }
    if (!ok || a->line_buf.len > FB_AUDIT_MAX_LINE) {
      p->status = ok ? -EMSGSIZE : -EINVAL;
      json_t *f = json_pack("{s:s}", "reason", ok ? "entry over the 1 MiB line limit, not written"
                                                  : "entry cannot be serialised, not written");
      bool named = name && strlen(name) <= 64 && json_object_set_new(f, "dropped_event", json_string(name)) == 0;
      if (ok) json_object_set_new(f, "bytes", json_integer((json_int_t)a->line_buf.len));
      fb_error("audit_entry_dropped", "audit log %s: entry %llu (%s) %s", a->path, (unsigned long long)p->seq,
               named ? name : "?", ok ? "is over 1 MiB" : "cannot be serialised");
      json_t *rec = json_string("recovery");
      rc = dump_line(a, p, prev_hex, rec, f);
      json_decref(rec);
      json_decref(f);
    }
    json_decref(ev);
  }
  json_decref(p->entry); /* the loop does not see it again: freed here */
  p->entry = NULL;
  if (rc != 0) return -EINVAL; /* our own small objects: cannot happen */
  fb_buf *b = &a->line_buf;
  p->len = b->len + 1;
  p->line = fb_xmalloc(p->len + 1);
  memcpy(p->line, b->data, b->len);
  p->line[b->len] = '\n';
  p->line[b->len + 1] = '\0';
  audit_sha256(p->line, b->len, a->prev);
  fb_hex_encode(a->prev, 32, p->hash);
  if (b->cap > 2 * (size_t)FB_AUDIT_MAX_LINE) fb_buf_free(b); /* do not keep a huge entry's buffer */
  return 0;
}

/* Writes the whole batch; returns 0 or -errno. */
static int write_batch(fb_audit *a, audit_pending *batch, uint64_t *bytes) {
  struct iovec iov[64];
  audit_pending *p = batch;
  size_t skip = 0; /* bytes of p already written */
  *bytes = 0;
  while (p) {
    int n = 0;
    audit_pending *q = p;
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

static int commit(fb_audit *a, audit_pending *batch) {
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

void audit_wake_writer(fb_audit *a) {
  if (!a->writer_waiting) return;
  a->writer_waiting = false;
  uv_cond_signal(&a->cv);
}

/* The completions of one worker's entries in a batch, in seq order, delivered on its loop
 * by one mailbox post. */
typedef struct {
  fb_home *home;
  audit_pending *head, **tail;
} home_group;

static void run_at_home(void *arg) {
  audit_pending *p = arg;
  while (p) {
    audit_pending *next = p->next;
    fb_home *home = p->home;
    p->cb(p->data, p->status, p->seq, p->hash);
    free(p->line);
    free(p);
    fb_home_release(home); /* held at append, once per entry with a callback */
    p = next;
  }
}

/* Under `mu`: notes the durable lines in the read index, counts the batch, and sorts its
 * entries: the log's loop's completions onto `done` (returns true when there are any),
 * the workers' into `groups` (posted by the caller once `mu` is released), and entries
 * without a callback are freed here. */
static bool dispatch_locked(fb_audit *a, audit_pending *batch, home_group **groups, size_t *ngroups, size_t *cap) {
  bool local = false;
  uint64_t end = a->durable_end;
  while (batch) {
    audit_pending *p = batch;
    batch = p->next;
    p->next = NULL;
    if (p->written) {
      end += p->len;
      audit_index_note(a, p->seq, end);
    }
    if (!p->cb) {
      free(p->line);
      free(p);
      continue;
    }
    if (!p->home) {
      *a->done_tail = p;
      a->done_tail = &p->next;
      local = true;
      continue;
    }
    size_t g = 0;
    while (g < *ngroups && (*groups)[g].home != p->home) g++;
    if (g == *ngroups) {
      if (*ngroups == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *groups = fb_xrealloc(*groups, *cap * sizeof **groups);
      }
      (*groups)[g] = (home_group){.home = p->home};
      (*groups)[g].tail = &(*groups)[g].head;
      (*ngroups)++;
    }
    *(*groups)[g].tail = p;
    (*groups)[g].tail = &p->next;
  }
  return local;
}

void audit_writer_main(void *arg) {
  fb_audit *a = arg;
  home_group *groups = NULL;
  size_t cap = 0;
  uv_mutex_lock(&a->mu);
  for (;;) {
    while (!a->todo && !a->stop) {
      a->writer_waiting = true;
      uv_cond_wait(&a->cv, &a->mu);
    }
    a->writer_waiting = false;
    if (!a->todo) break; /* stop, and drained */
    audit_pending *batch = a->todo;
    a->todo = NULL;
    a->todo_tail = &a->todo;
    uv_mutex_unlock(&a->mu);

    int st = atomic_load(&a->fail_status);
    for (audit_pending *p = batch; p && st == 0; p = p->next) st = build(a, p);
    if (st == 0) st = commit(a, batch);
    if (st != 0 && atomic_load(&a->fail_status) == 0) {
      atomic_store(&a->fail_status, st);
      fb_error("audit_write_failed", "audit log %s: write failed: %s; failing every later entry",
               a->path, strerror(-st));
    }
    uint64_t n = 0;
    for (audit_pending *p = batch; p; p = p->next) {
      json_decref(p->entry); /* not built: the log had failed */
      p->entry = NULL;
      free(p->text);
      p->text = NULL;
      p->written = st == 0;
      if (st != 0) p->status = st;
      n++;
    }

    size_t ngroups = 0;
    uv_mutex_lock(&a->mu);
    a->stats.batches++;
    if (st == 0) {
      a->stats.written += n;
      if (atomic_load(&a->fsync_enabled)) a->stats.fsyncs++;
    } else {
      a->stats.failed += n;
    }
    if (dispatch_locked(a, batch, &groups, &ngroups, &cap)) uv_async_send(&a->async);
    if (ngroups) {
      /* Posted without `mu`: a worker's mailbox has a lock of its own, and appenders
       * need not wait for it. Once posted, the entries are the worker's. */
      uv_mutex_unlock(&a->mu);
      for (size_t g = 0; g < ngroups; g++) fb_home_post(groups[g].home, run_at_home, groups[g].head);
      uv_mutex_lock(&a->mu);
    }
  }
  a->exited = true;
  uv_mutex_unlock(&a->mu);
  free(groups);
  uv_async_send(&a->async);
}
