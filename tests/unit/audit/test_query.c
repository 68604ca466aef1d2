/* Filtered reading of the audit log (audit/query.c): RFC 3339 parsing, each filter,
 * the text screen, `after`, stopping early, torn or foreign lines, and a line longer
 * than the read buffer. The log here is written by hand: the scan does not check the
 * chain (verify does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"

static char path[64];

static const char *const LINES[] = {
    "{\"seq\":1,\"ts\":\"2026-11-01T10:00:00.000Z\",\"event\":\"search\",\"prev\":\"0\",\"query_id\":\"q-A\","
    "\"requester\":{\"sub\":\"a.idn\",\"state\":\"IDN\"},\"states\":[{\"state\":\"MYS\",\"outcome\":\"shared\"}],"
    "\"review\":false,\"disclosed\":{\"MYS\":[\"MYS-P-1\",\"MYS-P-2\"]}}",
    "{\"seq\":2,\"ts\":\"2026-11-02T10:00:00.000Z\",\"event\":\"search\",\"prev\":\"0\",\"query_id\":\"q-B\","
    "\"requester\":{\"sub\":\"a.tha\",\"state\":\"THA\"},\"states\":[{\"state\":\"BGD\",\"outcome\":\"hit_only\"}],"
    "\"review\":true,\"disclosed\":{}}",
    "{\"seq\":3,\"ts\":\"2026-11-03T10:00:00.000Z\",\"event\":\"request\",\"prev\":\"0\",\"request_id\":\"r-1\","
    "\"query_id\":\"q-B\",\"from\":{\"state\":\"THA\",\"sub\":\"a.tha\"},\"state\":\"BGD\",\"status\":\"released\","
    "\"by\":{\"sub\":\"fp.bgd\",\"state\":\"BGD\"},\"disclosed\":{\"BGD\":[\"BGD-P-9\"]}}",
    "not json at all, but it mentions MYS-P-1",
    "{\"seq\":5,\"ts\":\"2026-11-04T10:00:00.000Z\",\"event\":\"reload\",\"prev\":\"0\",\"ok\":true}",
};

static size_t file_size;

static int setup(void **st) {
  (void)st;
  snprintf(path, sizeof path, "/tmp/fb-query-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  for (size_t i = 0; i < sizeof LINES / sizeof LINES[0]; i++) fprintf(f, "%s\n", LINES[i]);
  fprintf(f, "{\"seq\":6,\"torn");  /* no newline: not a line yet */
  fclose(f);
  struct stat sb;
  stat(path, &sb);
  file_size = (size_t)sb.st_size;
  return 0;
}

static int teardown(void **st) {
  (void)st;
  return unlink(path);
}

typedef struct {
  uint64_t seqs[16];
  size_t n, stop_after;
} got;

static bool keep(void *data, json_t *e, uint64_t seq) {
  got *g = data;
  assert_int_equal((uint64_t)json_integer_value(json_object_get(e, "seq")), seq);
  g->seqs[g->n++] = seq;
  return !g->stop_after || g->n < g->stop_after;
}

static size_t run(const fb_audit_filter *f, uint64_t after, got *g, uint64_t *last) {
  memset(g->seqs, 0, sizeof g->seqs);
  g->n = 0;
  assert_int_equal(fb_audit_scan(path, 0, 1, file_size, after, f, keep, g, last), 0);
  return g->n;
}

static void test_time(void **st) {
  (void)st;
  int64_t ms;
  assert_int_equal(fb_audit_parse_time("2026-11-30T12:00:00Z", &ms), 0);
  assert_int_equal(ms, 1796040000000LL);
  assert_int_equal(fb_audit_parse_time("2026-11-30T12:00:00.25Z", &ms), 0);
  assert_int_equal(ms, 1796040000250LL);
  assert_int_equal(fb_audit_parse_time("2026-11-30T14:00:00+02:00", &ms), 0);
  assert_int_equal(ms, 1796040000000LL);
  assert_int_equal(fb_audit_parse_time("2026-11-30T12:00:00", &ms), -1); /* no zone */
  assert_int_equal(fb_audit_parse_time("2026-13-30T12:00:00Z", &ms), -1);
  assert_int_equal(fb_audit_parse_time("yesterday", &ms), -1);
  assert_int_equal(fb_audit_parse_time("2026-11-30T12:00:00.Z", &ms), -1);
  assert_int_equal(fb_audit_parse_time(NULL, &ms), -1);
}

static void test_filters(void **st) {
  (void)st;
  got g = {0};
  uint64_t last;
  fb_audit_filter none = {0};
  assert_int_equal(run(&none, 0, &g, &last), 4); /* the non-JSON line is skipped, the torn tail not read */
  assert_int_equal(last, 5);
  fb_audit_filter rec = {.record = "MYS-P-1"};
  assert_int_equal(run(&rec, 0, &g, &last), 1);
  assert_int_equal(g.seqs[0], 1);
  fb_audit_filter rec2 = {.record = "BGD-P-9"};
  assert_int_equal(run(&rec2, 0, &g, &last), 1);
  assert_int_equal(g.seqs[0], 3);
  fb_audit_filter state = {.state = "BGD"}; /* responder of a search, addressed state of a request */
  assert_int_equal(run(&state, 0, &g, &last), 2);
  fb_audit_filter sub = {.sub = "fp.bgd"}; /* `by` of a request */
  assert_int_equal(run(&sub, 0, &g, &last), 1);
  assert_int_equal(g.seqs[0], 3);
  fb_audit_filter q = {.query_id = "q-B", .event = "search"};
  assert_int_equal(run(&q, 0, &g, &last), 1);
  assert_int_equal(g.seqs[0], 2);
  fb_audit_filter rid = {.request_id = "r-1"};
  assert_int_equal(run(&rid, 0, &g, &last), 1);
  fb_audit_filter review = {.review = true};
  assert_int_equal(run(&review, 0, &g, &last), 1);
  assert_int_equal(g.seqs[0], 2);
  fb_audit_filter period = {.since_ms = 1793613600000LL /* 11-02T10:00Z */, .until_ms = 1793786400000LL /* 11-04T10:00Z: seq 5 itself */};
  assert_int_equal(run(&period, 0, &g, &last), 2); /* since inclusive, until exclusive */
  assert_int_equal(g.seqs[0], 2);
  assert_int_equal(g.seqs[1], 3);
  fb_audit_filter nothing = {.record = "NOPE-1"};
  assert_int_equal(run(&nothing, 0, &g, &last), 0);
  assert_int_equal(last, 5); /* where the scan ended: a client continues from there */
}

static void test_after_and_stop(void **st) {
  (void)st;
  got g = {0};
  uint64_t last;
  fb_audit_filter none = {0};
  assert_int_equal(run(&none, 2, &g, &last), 2);
  assert_int_equal(g.seqs[0], 3);
  g.stop_after = 1;
  assert_int_equal(run(&none, 0, &g, &last), 1);
  assert_int_equal(last, 1);
}

static void test_overlong_line(void **st) {
  (void)st;
  char p2[64];
  snprintf(p2, sizeof p2, "/tmp/fb-query-XXXXXX");
  int fd = mkstemp(p2);
  FILE *f = fdopen(fd, "w");
  for (size_t i = 0; i < (1u << 20) + 10; i++) fputc('x', f);
  fputc('\n', f);
  fclose(f);
  got g = {0};
  uint64_t last;
  fb_audit_filter none = {0};
  assert_int_equal(fb_audit_scan(p2, 0, 1, (1u << 20) + 11, 0, &none, keep, &g, &last), -1);
  unlink(p2);
  assert_int_equal(fb_audit_scan("/nonexistent/log", 0, 1, 10, 0, &none, keep, &g, &last), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_time),
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_after_and_stop, setup, teardown),
      cmocka_unit_test(test_overlong_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
