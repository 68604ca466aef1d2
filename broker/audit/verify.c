/* Verifying a whole log file, line by line, with constant memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/internal.h"
#include "core/error.h"

int fb_audit_verify_file_ex(const char *path, EVP_PKEY *pub, fb_audit_verify_result *res,
                            char **err) {
  fb_audit_verify_result dummy;
  if (!res) res = &dummy;
  memset(res, 0, sizeof *res);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fb_set_error(err, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  audit_chain c = {.pub = pub};
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = 0;
  while ((n = getline(&line, &cap, f)) > 0) {
    if (line[n - 1] != '\n') {
      fb_set_error(err, "line %llu (seq %llu): torn last line (no newline)",
                   (unsigned long long)(c.lineno + 1),
                   (unsigned long long)(c.next_seq ? c.next_seq : 1));
      rc = -1;
      break;
    }
    if (memchr(line, '\0', (size_t)n - 1) != NULL) {
      fb_set_error(err, "line %llu (seq %llu): NUL byte in line", (unsigned long long)(c.lineno + 1),
                   (unsigned long long)(c.next_seq ? c.next_seq : 1));
      rc = -1;
      break;
    }
    if (audit_chain_line(&c, line, (size_t)n - 1, err) != 0) {
      rc = -1;
      break;
    }
  }
  if (rc == 0 && ferror(f)) {
    fb_set_error(err, "reading %s: %s", path, strerror(errno));
    rc = -1;
  }
  if (rc != 0 && res->bad_line == 0) {
    res->bad_line = c.lineno + 1;
    res->bad_seq = c.next_seq ? c.next_seq : 1;
    /* The message carries the line's own seq when it had a readable one. */
    const char *p = strstr(*err, "(seq ");
    if (p) res->bad_seq = strtoull(p + 5, NULL, 10);
  }
  res->lines = c.lineno;
  res->checkpoints = c.checkpoints;
  res->unsigned_entries = c.lineno - c.covered;
  free(line);
  fclose(f);
  return rc;
}

int fb_audit_verify_file(const char *path, EVP_PKEY *pub, char **err) {
  return fb_audit_verify_file_ex(path, pub, NULL, err);
}
