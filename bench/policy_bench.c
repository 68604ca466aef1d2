/* Policy engine micro-benchmark: admission decisions per second against the demo
 * states (without and with a `when`), and records redacted per second with the demo
 * record plans on synthetic records. Targets: < 2 us per state decision without
 * `when`, < 10 us with one, >= 500,000 records redacted/s on one core.
 *
 *   build/policy_bench [POLICY_DIR]     (default: the source tree's policies/) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "policy/tools.h"

static const char *const states[] = {"IDN", "MYS", "THA", "BGD"};

static double bench_decisions(fb_policy *common, fb_policy **ps, size_t np, const fb_query *q,
                              long iters) {
  volatile int sink = 0;
  double t0 = fb_now_ms();
  for (long i = 0; i < iters; i++) {
    fb_decision d;
    fb_policy_decide(common, ps[(size_t)i % np], q, &d, NULL);
    sink += (int)d.effect;
    fb_decision_clear(&d);
  }
  (void)sink;
  return (fb_now_ms() - t0) * 1000.0 / (double)iters; /* us per decision */
}

static json_t *synthetic_record(int i) {
  static const char *const tagsets[][2] = {{"suspect", NULL}, {"victim", NULL}, {"facilitator", NULL},
                                           {"minor", "victim"}, {"witness", NULL}, {"sensitive", "suspect"}};
  const char *const *t = tagsets[i % 6];
  json_t *tags = json_array();
  for (int k = 0; k < 2 && t[k]; k++) json_array_append_new(tags, json_string(t[k]));
  char id[32], phone[32];
  snprintf(id, sizeof id, "MYS-P-%06d", i);
  snprintf(phone, sizeof phone, "+6012%07d", i);
  return json_pack("{s:s, s:s, s:o, s:s, s:[s], s:s, s:s, s:[{s:s, s:s, s:s}], s:[s], s:s, s:s}",
                   "id", id, "type", "person", "tags", tags, "name", "Ahmad bin Ismail",
                   "aliases", "Mat Sinar", "dob", "1985-03-12", "nationality", i % 3 ? "MYS" : "IDN",
                   "documents", "kind", "passport", "number", "A12345678", "country", "MYS",
                   "phones", phone, "address", "Jalan Pantai 12, Tawau", "notes", "seen at the jetty");
}

int main(int argc, char **argv) {
  fb_log_set_level(FB_LOG_ERROR);
  const char *dir = argc > 1 ? argv[1] : FB_SOURCE_DIR "/policies";
  char *err = NULL;
  fb_policy_store *store = fb_policy_store_open_dir(dir, &err);
  if (!store) {
    fprintf(stderr, "policy_bench: %s\n", err);
    return 1;
  }
  fb_policy *common = fb_policy_store_common(store);
  fb_policy *ps[4];
  for (size_t i = 0; i < 4; i++) {
    ps[i] = fb_policy_store_get(store, states[i]);
    if (!ps[i]) {
      fprintf(stderr, "policy_bench: no %s.lua in %s\n", states[i], dir);
      return 1;
    }
  }
  static const char *const roles[] = {"analyst"};
  json_t *subject = json_pack("{s:s, s:s, s:s}", "name", "Ahmad bin Ismail", "dob", "1985-03-12",
                              "document", "A12345678");
  /* Falls through most rules of every state before deciding: a realistic worst case. */
  fb_query q = {.purpose = "investigation", .priority = "urgent", .legal_basis = "consent",
                .justification = "Suspected facilitator of boat arrivals in Sabah, case MY-2026-0042",
                .case_ref = "MY-2026-0042", .from_state = "MYS", .agency = "PDRM",
                .roles = roles, .nroles = 1, .subject = subject, .query_id = "q-bench"};
  long iters = 1000000;
  double us = bench_decisions(common, ps, 4, &q, iters);
  printf("decision without when:  %.3f us per state (%.0f decisions/s)\n", us, 1e6 / us);

  const char *src = "allow 'named subjects with a long justification' {\n"
                    "  when = function(q) return q.subject.name ~= nil and #q.justification > 30\n"
                    "                         and q.requester.state == 'XXX' end }\n"
                    "allow 'prosecution' { purpose = 'prosecution' }\n";
  fb_policy *w = fb_policy_compile("MYS", "when.lua", src, strlen(src), NULL, 0, NULL, &err);
  if (!w) {
    fprintf(stderr, "policy_bench: %s\n", err);
    return 1;
  }
  us = bench_decisions(common, &w, 1, &q, iters / 5);
  printf("decision with one when: %.3f us per state (%.0f decisions/s)\n", us, 1e6 / us);
  fb_policy_unref(w);

  /* Redaction: investigation under consent, immediate (MYS allows, reviewed): common's
   * victim/minor masks and hashes, notes removal, MYS's witness drop and dob year. */
  q.priority = "immediate";
  fb_plan *plan = fb_plan_new(common, ps[1], &q);
  enum { BATCH = 5000, BATCHES = 20 };
  json_t *batches[BATCHES];
  for (int b = 0; b < BATCHES; b++) {
    batches[b] = json_array();
    for (int i = 0; i < BATCH; i++) json_array_append_new(batches[b], synthetic_record(i));
  }
  size_t total_red = 0, kept = 0;
  double t0 = fb_now_ms();
  for (int b = 0; b < BATCHES; b++) {
    size_t red = 0;
    fb_plan_apply(plan, batches[b], &red);
    total_red += red;
    kept += json_array_size(batches[b]);
  }
  double ms = fb_now_ms() - t0;
  double n = (double)BATCH * BATCHES;
  printf("redaction: %.0f records/s (%.0f records in %.1f ms, %zu kept, %zu field values changed)\n",
         n / (ms / 1000.0), n, ms, kept, total_red);
  for (int b = 0; b < BATCHES; b++) json_decref(batches[b]);
  fb_plan_free(plan);
  json_decref(subject);
  for (size_t i = 0; i < 4; i++) fb_policy_unref(ps[i]);
  fb_policy_unref(common);
  fb_policy_store_free(store);
  return 0;
}
