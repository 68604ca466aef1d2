/* Audit log throughput: appends/s with `depth` appends kept outstanding (each completion
 * issues the next), with group fsync and without fsync, plus a serial (depth 1) run.
 *
 *   audit_bench [DIR] [ENTRIES]     DIR defaults to a new directory under /var/tmp
 *
 * DIR must be on the disk you care about: on tmpfs fsync costs nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/log.h"
#include "core/util.h"

typedef struct {
  fb_audit *a;
  int started, done, total;
  json_t *proto;
} pump;

static void on_done(void *data, int status, uint64_t seq, const char *hash) {
  (void)seq, (void)hash;
  pump *p = data;
  if (status != 0) {
    fprintf(stderr, "append failed: %d\n", status);
    exit(1);
  }
  p->done++;
  if (p->started < p->total) {
    p->started++;
    fb_audit_append(p->a, json_deep_copy(p->proto), on_done, p);
  }
}

static void closed(void *data) { *(int *)data = 1; }

static void run(const char *dir, const char *name, int depth, int total, bool fsync_on) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.jsonl", dir, name);
  remove(path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_audit_config cfg = {.path = path, .key = NULL, .checkpoint_every = 1000};
  char *err = NULL;
  fb_audit *a = fb_audit_open(&loop, &cfg, &err);
  if (!a) {
    fprintf(stderr, "open: %s\n", err);
    exit(1);
  }
  fb_audit_set_fsync(a, fsync_on);
  /* A search entry of realistic size (~600 bytes). */
  pump p = {.a = a, .total = total,
            .proto = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[s]}, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, "
                               "s:[{s:s, s:s, s:s, s:i, s:i, s:b}, {s:s, s:s, s:s, s:i, s:i, s:b}], s:b}",
                               "event", "search", "query_id", "0b7e2c1f-3a4d-4e5f-9a8b-7c6d5e4f3a2b",
                               "requester", "sub", "analyst-7", "state", "MYS", "agency", "PDRM", "roles", "analyst",
                               "purpose", "prosecution", "priority", "urgent", "legal_basis", "mla_treaty",
                               "justification", "Suspected facilitator in case MY-2026-0042, boat arrivals in Sabah",
                               "case_ref", "MY-2026-0042",
                               "subject", "name", "Ahmad bin Ismail", "dob", "1985-03-12", "document", "A12345678",
                               "states", "state", "IDN", "outcome", "shared", "rule", "idn_mla", "records", 2, "redacted", 1, "review", 0,
                               "state", "THA", "outcome", "hit_only", "rule", "tha_hits", "records", 1, "redacted", 0, "review", 1,
                               "review", 1)};
  double t0 = fb_now_ms();
  for (; p.started < depth && p.started < total; p.started++)
    fb_audit_append(a, json_deep_copy(p.proto), on_done, &p);
  while (p.done < total) uv_run(&loop, UV_RUN_ONCE);
  double ms = fb_now_ms() - t0;
  fb_audit_stats st;
  fb_audit_get_stats(a, &st);
  printf("%-22s depth %2d  %7d entries  %8.3f s  %10.0f appends/s  %6llu fsyncs  %6.1f entries/fsync\n", name,
         depth, total, ms / 1000, total / (ms / 1000), (unsigned long long)st.fsyncs,
         st.fsyncs ? (double)st.written / (double)st.fsyncs : 0.0);
  int done = 0;
  fb_audit_close(a, closed, &done);
  while (!done) uv_run(&loop, UV_RUN_ONCE);
  uv_loop_close(&loop);
  json_decref(p.proto);
  remove(path);
}

int main(int argc, char **argv) {
  char tmpl[] = "/var/tmp/fb_audit_bench.XXXXXX";
  const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
  int total = argc > 2 ? atoi(argv[2]) : 20000;
  if (!dir || total <= 0) {
    fprintf(stderr, "usage: audit_bench [DIR] [ENTRIES]\n");
    return 2;
  }
  fb_log_set_level(FB_LOG_ERROR);
  run(dir, "group_fsync", 64, total, true);
  run(dir, "no_fsync", 64, total, false);
  run(dir, "serial_fsync", 1, total / 10 > 0 ? total / 10 : 1, true);
  if (argc <= 1) remove(dir);
  return 0;
}
