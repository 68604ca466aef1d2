/* The hub's CPU per leg of the "http" adapter, without the rest of a search.
 *
 *   leg_bench URL [CONCURRENCY] [LEGS] [ROUNDS]
 *
 * Opens the http adapter for URL (a running `fedbroker node`, say) on a loop of its
 * own and keeps CONCURRENCY legs (default 32) in flight until LEGS legs (default 5,000)
 * have finished; the request is the realistic workload's (a five-key subject with
 * case_ref). Repeats that ROUNDS times (default 3) and prints, per round, the legs per
 * second and this process's CPU (user + system, all threads) per leg in µs: the
 * adapter's own work — request body, the HTTP client (the own HTTP/1.1 client for
 * http://, libcurl for https://), the socket system calls, the answer's
 * parse and record check — as the hub pays it per leg. Every leg must succeed.
 * Answers are taken as the search engine takes them: compact records (compact_done);
 * LEG_BENCH_JSON=1 takes them as a jansson array instead (the path of callers without
 * compact_done, which costs a JSON round trip of every answer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "core/crec.h"
#include "core/util.h"

typedef struct {
  fb_adapter *a;
  fb_leg_request req;
  long started, done, target, failed;
  int concurrency;
  size_t records;
} run_state;

static void start_one(run_state *s);

static void leg_done(void *data, int status, json_t *records, const char *error) {
  run_state *s = data;
  s->done++;
  if (status != 0) {
    if (s->failed++ < 3) fprintf(stderr, "leg_bench: leg failed: %s\n", error);
  } else {
    s->records += json_array_size(records);
  }
  json_decref(records);
  if (s->started < s->target) start_one(s);
}

/* As the search engine's on_leg_compact takes a successful leg. */
static void leg_compact(void *data, fb_crecs *set) {
  run_state *s = data;
  s->done++;
  s->records += set->nrecs;
  fb_crecs_free(set);
  if (s->started < s->target) start_one(s);
}

static void start_one(run_state *s) {
  fb_leg *leg;
  s->started++;
  if (fb_adapter_start(s->a, &s->req, leg_done, s, &leg) != 0) {
    fprintf(stderr, "leg_bench: a leg did not start\n");
    exit(1);
  }
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: leg_bench URL [CONCURRENCY] [LEGS] [ROUNDS]\n");
    return 2;
  }
  int concurrency = argc > 2 ? atoi(argv[2]) : 32;
  long legs = argc > 3 ? atol(argv[3]) : 5000;
  int rounds = argc > 4 ? atoi(argv[4]) : 3;
  if (concurrency < 1 || legs < concurrency || rounds < 1) {
    fprintf(stderr, "leg_bench: CONCURRENCY >= 1, LEGS >= CONCURRENCY, ROUNDS >= 1\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "IDN", .adapter = "http", .url = argv[1], .dns_cache_ms = 5000, .timeout_ms = 5000};
  fb_adapter *a;
  char *err = NULL;
  if (fb_adapter_open(&loop, &cfg, &a, &err) != 0) {
    fprintf(stderr, "leg_bench: %s\n", err);
    return 1;
  }
  json_t *subject = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "Ahmad bin Ismail", "dob", "1985-03-12", "document",
                              "A12345678", "nationality", "MYS", "phone", "+60123456789");
  run_state s = {.a = a, .concurrency = concurrency};
  s.req = (fb_leg_request){.query_id = "q-bench", .subject = subject, .purpose = "prosecution", .priority = "urgent",
                           .legal_basis = "mla_treaty", .case_ref = "MY-2026-0042", .requester_state = "MYS",
                           .requester_agency = "PDRM", .limit = 100, .timeout_ms = 5000};
  const char *json_env = getenv("LEG_BENCH_JSON");
  if (!json_env || strcmp(json_env, "1") != 0) s.req.compact_done = leg_compact;
  printf("leg_bench: %s, %d legs in flight, %ld legs per round\n", argv[1], concurrency, legs);
  int rc = 0;
  for (int r = 0; r <= rounds; r++) { /* round 0 warms up: connections, handles */
    s.started = s.done = s.failed = 0;
    s.records = 0;
    s.target = r == 0 ? concurrency * 4 : legs;
    double c0 = cpu_us(), t0 = fb_now_ms();
    for (int i = 0; i < concurrency; i++) start_one(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    double c1 = cpu_us(), t1 = fb_now_ms();
    if (s.failed) rc = 1;
    if (r == 0) continue;
    printf("round %d: %.0f legs/s, %.1f us CPU per leg, %.1f records per leg, %ld failed\n", r,
           (double)s.done * 1000.0 / (t1 - t0), (c1 - c0) / (double)s.done, (double)s.records / (double)s.done,
           s.failed);
  }
  fb_adapter_close(a, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  json_decref(subject);
  free(err);
  return rc;
}
