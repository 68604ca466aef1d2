/* Filtered reading of the audit log (audit.h: fb_audit_scan): a streaming pass over the
 * file with a bounded buffer, meant for a worker thread, so that GET /v1/audit?record=
 * over millions of lines neither blocks the loop nor loads the log into memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/internal.h"

#define SCAN_BUF (1u << 20) /* also the longest line: FB_AUDIT_MAX_LINE */

int fb_audit_parse_time(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, sec, n = 0;
  if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19) return -1;
  const char *p = s + n;
  int64_t frac = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 3) frac = frac * 10 + (*p - '0');
    if (digits == 0) return -1;
    for (; digits < 3; digits++) frac *= 10;
  }
  int offset_min = 0;
  if (*p == 'Z' || *p == 'z') p++;
  else if (*p == '+' || *p == '-') {
    int oh, om;
    if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6) return -1;
    offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    p += 6;
  } else return -1;
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  time_t t = timegm(&tm);
  if (t == (time_t)-1) return -1;
  *ms = ((int64_t)t - offset_min * 60) * 1000 + frac;
  return 0;
}

static bool eq(json_t *v, const char *s) { return json_is_string(v) && strcmp(json_string_value(v), s) == 0; }

static bool mentions_state(json_t *e, const char *state) {
  if (eq(json_object_get(json_object_get(e, "requester"), "state"), state)) return true;
  if (eq(json_object_get(json_object_get(e, "from"), "state"), state)) return true;
  if (eq(json_object_get(e, "state"), state)) return true;
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(e, "states"), i, st) if (eq(json_object_get(st, "state"), state)) return true;
  return false;
}

static bool mentions_record(json_t *e, const char *record) {
  const char *k;
  json_t *ids;
  json_object_foreach(json_object_get(e, "disclosed"), k, ids) {
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) if (eq(id, record)) return true;
  }
  return false;
}

bool fb_audit_filter_match(const fb_audit_filter *f, json_t *e) {
  if (f->event && !eq(json_object_get(e, "event"), f->event)) return false;
  if (f->query_id && !eq(json_object_get(e, "query_id"), f->query_id)) return false;
  if (f->request_id && !eq(json_object_get(e, "request_id"), f->request_id)) return false;
  if (f->review && !json_is_true(json_object_get(e, "review"))) return false;
  if (f->sub && !eq(json_object_get(json_object_get(e, "requester"), "sub"), f->sub) &&
      !eq(json_object_get(json_object_get(e, "by"), "sub"), f->sub) &&
      !eq(json_object_get(json_object_get(e, "from"), "sub"), f->sub))
    return false;
  if (f->state && !mentions_state(e, f->state)) return false;
  if (f->record && !mentions_record(e, f->record)) return false;
  if (f->since_ms || f->until_ms) {
    int64_t ts;
    if (fb_audit_parse_time(json_string_value(json_object_get(e, "ts")), &ts) != 0) return false;
    if (f->since_ms && ts < f->since_ms) return false;
    if (f->until_ms && ts >= f->until_ms) return false;
  }
  return true;
}

/* Text screen: a line that does not contain the exact value cannot match. */
static bool screened_out(const fb_audit_filter *f, const char *line, size_t len) {
  const char *needles[] = {f->record, f->query_id, f->request_id, f->sub, f->state};
  for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
    if (needles[i] && !memmem(line, len, needles[i], strlen(needles[i]))) return true;
  return false;
}

int fb_audit_scan(const char *path, uint64_t start_off, uint64_t start_seq, uint64_t end_off, uint64_t after,
                  const fb_audit_filter *f, bool (*emit)(void *data, json_t *entry, uint64_t seq), void *data,
                  uint64_t *last_seq) {
  *last_seq = after;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
#ifdef POSIX_FADV_SEQUENTIAL
  posix_fadvise(fd, (off_t)start_off, (off_t)(end_off - start_off), POSIX_FADV_SEQUENTIAL);
#endif
  char *buf = malloc(SCAN_BUF);
  if (!buf) {
    close(fd);
    errno = ENOMEM;
    return -1;
  }
  uint64_t off = start_off, seq = start_seq;
  size_t have = 0;
  int rc = 0;
  bool go = true;
  while (go && off < end_off) {
    size_t want = SCAN_BUF - have;
    if ((uint64_t)want > end_off - off) want = (size_t)(end_off - off);
    ssize_t n = pread(fd, buf + have, want, (off_t)off);
    if (n <= 0) {
      if (n == 0) errno = EIO;
      rc = -1;
      break;
    }
    off += (uint64_t)n;
    have += (size_t)n;
    size_t pos = 0;
    char *nl;
    while (go && (nl = memchr(buf + pos, '\n', have - pos))) {
      const char *line = buf + pos;
      size_t len = (size_t)(nl - line);
      pos += len + 1;
      uint64_t this_seq = seq++;
      if (this_seq <= after) continue;
      *last_seq = this_seq;
      if (screened_out(f, line, len)) continue;
      json_t *e = json_loadb(line, len, 0, NULL);
      if (!e) continue; /* the chain is verify's business; a reader skips what it cannot parse */
      if (fb_audit_filter_match(f, e)) go = emit(data, e, this_seq);
      json_decref(e);
    }
    if (pos == 0 && have == SCAN_BUF) { /* a line longer than the buffer: not written by this log */
      errno = EBADMSG;
      rc = -1;
      break;
    }
    memmove(buf, buf + pos, have - pos);
    have -= pos;
  }
  free(buf);
  close(fd);
  return rc;
}
