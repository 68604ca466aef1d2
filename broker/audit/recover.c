/* Open-time recovery: one read of the file for line boundaries (the sparse index, and
 * the ends of the last lines in a ring), cut a torn tail, check the chain of the last
 * lines, and pick up seq/prev where the file ends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

void audit_index_note(fb_audit *a, uint64_t seq, uint64_t end) {
  a->durable_seq = seq;
  a->durable_end = end;
  if (seq % FB_AUDIT_INDEX_STRIDE != 0) return;
  if (a->index_len == a->index_cap) {
    a->index_cap = a->index_cap ? a->index_cap * 2 : 64;
    a->index = fb_xrealloc(a->index, a->index_cap * sizeof *a->index);
  }
  a->index[a->index_len++] = end; /* where line seq + 1 starts */
}

static int read_at(int fd, char *buf, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO; /* shrank under us */
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

int64_t audit_recover(fb_audit *a, char **err) {
  struct stat st;
  if (fstat(a->fd, &st) != 0) {
    fb_set_error(err, "audit log %s: %s", a->path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    fb_set_error(err, "audit log %s is not a regular file", a->path);
    return -1;
  }
  uint64_t size = (uint64_t)st.st_size;

  /* One pass of newline search, 64 KiB at a time. The sparse index gets an entry every
   * FB_AUDIT_INDEX_STRIDE lines; `ends` keeps the end offsets of the last
   * FB_AUDIT_TAIL_CHECK + 1 lines (ends[k % RING] = end of line k) for the chain check. */
  enum { CHUNK = 1 << 16, RING = FB_AUDIT_TAIL_CHECK + 1 };
  uint64_t ends[RING];
  ends[0] = 0;
  a->seq = 0;
  a->index_len = 0;
  audit_index_note(a, 0, 0);
  char *buf = fb_xmalloc(CHUNK);
  for (uint64_t off = 0; off < size;) {
    size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
    if (read_at(a->fd, buf, n, off) != 0) {
      fb_set_error(err, "reading audit log %s: %s", a->path, strerror(errno));
      free(buf);
      return -1;
    }
    for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
      uint64_t e = off + (uint64_t)(p - buf) + 1;
      a->seq++;
      ends[a->seq % RING] = e;
      audit_index_note(a, a->seq, e);
    }
    off += n;
  }
  free(buf);
#define END_OF(k) ends[(k) % RING] /* valid for seq - FB_AUDIT_TAIL_CHECK <= k <= seq */

  /* A torn last line: the write of a line (with its newline) never completed, so it was
   * never acknowledged; cut it and say so in a recovery entry. */
  uint64_t good = END_OF(a->seq);
  int64_t cut = (int64_t)(size - good);
  if (cut > 0) {
    if (ftruncate(a->fd, (off_t)good) != 0 || fdatasync(a->fd) != 0) {
      fb_set_error(err, "audit log %s: cannot cut the torn last line: %s", a->path, strerror(errno));
      return -1;
    }
    fb_warn("audit_recovery", "audit log %s: cut a torn last line of %lld bytes", a->path, (long long)cut);
  }

  /* Chain check of the last lines. */
  uint64_t first = a->seq > FB_AUDIT_TAIL_CHECK ? a->seq - FB_AUDIT_TAIL_CHECK : 0; /* lines before */
  /* Bound the memory a damaged file can make us take: fewer lines when they are huge. */
  const uint64_t max_bytes = 16u << 20;
  while (first + 1 < a->seq && END_OF(a->seq) - END_OF(first) > max_bytes) first++;
  if (a->seq && END_OF(a->seq) - END_OF(first) > (uint64_t)FB_AUDIT_MAX_LINE + 1) {
    fb_set_error(err, "audit log %s is damaged at line %llu: longer than any line the log writes; "
                 "refusing to extend it", a->path, (unsigned long long)a->seq);
    return -1;
  }
  uint64_t from = END_OF(first), to = END_OF(a->seq);
  memset(a->prev, 0, sizeof a->prev);
  a->last_is_checkpoint = false;
  if (to > from) {
    char *tail = fb_xmalloc((size_t)(to - from));
    if (read_at(a->fd, tail, (size_t)(to - from), from) != 0) {
      fb_set_error(err, "reading audit log %s: %s", a->path, strerror(errno));
      free(tail);
      return -1;
    }
    audit_chain c = {.lineno = first, .next_seq = first + 1};
    for (uint64_t k = first + 1; k <= a->seq; k++) {
      const char *line = tail + (END_OF(k - 1) - from);
      size_t len = (size_t)(END_OF(k) - END_OF(k - 1)) - 1;
      char *why = NULL;
      if (audit_chain_line(&c, line, len, &why) != 0) {
        fb_set_error(err, "audit log %s is damaged at %s; refusing to extend a broken chain "
                     "(run `fedbroker audit verify`, keep the file as evidence and start a new log)",
                     a->path, why);
        free(why);
        free(tail);
        return -1;
      }
    }
    free(tail);
    memcpy(a->prev, c.prev, sizeof a->prev);
    a->last_is_checkpoint = c.last_is_checkpoint;
  }
#undef END_OF
  a->good_size = good;
  return cut;
}
