/* The writer thread: takes every line queued since its last round, writes them with one
 * writev pass and makes them durable with one fdatasync (group commit), then hands them
 * back to the loop thread through the async handle. After the first failure it writes
 * nothing more: every later line fails with the same status (fail closed). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "audit/internal.h"
#include "core/log.h"

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
    if (st == 0) {
      st = commit(a, batch);
      if (st != 0) {
        atomic_store(&a->fail_status, st);
        fb_error("audit_write_failed", "audit log %s: write failed: %s; failing every later entry",
                 a->path, strerror(-st));
      }
    }
    uint64_t n = 0;
    fb_audit_pending *last = batch;
    for (fb_audit_pending *p = batch; p; p = p->next) {
      p->status = st;
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
