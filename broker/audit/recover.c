/* Open-time recovery: index every line, cut a torn tail, check the chain of the last
 * lines, and pick up seq/prev where the file ends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/internal.h"
#include "core/log.h"
#include "core/util.h"

void fb_audit_offsets_push(fb_audit *a, uint64_t end) {
  /* offsets[0..seq] are in use; the caller has just bumped a->seq. */
  if (a->seq + 1 > a->offsets_cap) {
    size_t cap = a->offsets_cap ? a->offsets_cap * 2 : 1024;
    while (cap < a->seq + 1) cap *= 2;
    a->offsets = fb_xrealloc(a->offsets, cap * sizeof *a->offsets);
    a->offsets_cap = cap;
  }
  a->offsets[a->seq] = end;
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

int64_t fb_audit_recover(fb_audit *a, char **err) {
  struct stat st;
  if (fstat(a->fd, &st) != 0) {
    *err = fb_audit_errf("audit log %s: %s", a->path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *err = fb_audit_errf("audit log %s is not a regular file", a->path);
    return -1;
  }
  uint64_t size = (uint64_t)st.st_size;

  /* Index: one pass of newline search, 64 KiB at a time. */
  a->seq = 0;
  fb_audit_offsets_push(a, 0);
  enum { CHUNK = 1 << 16 };
  char *buf = fb_xmalloc(CHUNK);
  for (uint64_t off = 0; off < size;) {
    size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
    if (read_at(a->fd, buf, n, off) != 0) {
      *err = fb_audit_errf("reading audit log %s: %s", a->path, strerror(errno));
      free(buf);
      return -1;
    }
    for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
      a->seq++;
      fb_audit_offsets_push(a, off + (uint64_t)(p - buf) + 1);
    }
    off += n;
  }
  free(buf);

  /* A torn last line: the write of a line (with its newline) never completed, so it was
   * never acknowledged; cut it and say so in a recovery entry. */
  uint64_t good = a->offsets[a->seq];
  int64_t cut = (int64_t)(size - good);
  if (cut > 0) {
    if (ftruncate(a->fd, (off_t)good) != 0 || fdatasync(a->fd) != 0) {
      *err = fb_audit_errf("audit log %s: cannot cut the torn last line: %s", a->path, strerror(errno));
      return -1;
    }
    fb_warn("audit_recovery", "audit log %s: cut a torn last line of %lld bytes", a->path, (long long)cut);
  }

  /* Chain check of the last lines. */
  uint64_t first = a->seq > FB_AUDIT_TAIL_CHECK ? a->seq - FB_AUDIT_TAIL_CHECK : 0; /* lines before */
  /* Bound the memory a damaged file can make us take: fewer lines when they are huge. */
  const uint64_t max_bytes = 16u << 20;
  while (first + 1 < a->seq && a->offsets[a->seq] - a->offsets[first] > max_bytes) first++;
  if (a->seq && a->offsets[a->seq] - a->offsets[first] > (uint64_t)FB_AUDIT_MAX_LINE + 1) {
    *err = fb_audit_errf("audit log %s is damaged at line %llu: longer than any line the log writes; "
                         "refusing to extend it", a->path, (unsigned long long)a->seq);
    return -1;
  }
  uint64_t from = a->offsets[first], to = a->offsets[a->seq];
  memset(a->prev, 0, sizeof a->prev);
  a->last_is_checkpoint = false;
  if (to > from) {
    char *tail = fb_xmalloc((size_t)(to - from));
    if (read_at(a->fd, tail, (size_t)(to - from), from) != 0) {
      *err = fb_audit_errf("reading audit log %s: %s", a->path, strerror(errno));
      free(tail);
      return -1;
    }
    fb_audit_chain c = {.lineno = first, .next_seq = first + 1};
    for (uint64_t k = first + 1; k <= a->seq; k++) {
      const char *line = tail + (a->offsets[k - 1] - from);
      size_t len = (size_t)(a->offsets[k] - a->offsets[k - 1]) - 1;
      char *why = NULL;
      if (fb_audit_chain_line(&c, line, len, &why) != 0) {
        *err = fb_audit_errf("audit log %s is damaged at %s; refusing to extend a broken chain "
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
  a->durable_seq = a->seq;
  a->good_size = good;
  return cut;
}
