/* Prover benchmark: the whole request space of each demo state, with every kind of
 * record, decided under the demo policies and an edited version (a widened purpose
 * and an added redact rule), then merged into regions. Target: under 1 s per state on
 * one core. Also with three `when` rules (each doubles the points), and, for scale,
 * the real engine's cost of one decision in the same run.
 *
 *   build/prove_bench [POLICY_DIR]     (default: the source tree's policies/) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/policy.h"
#include "policy/prove.h"
#include "policy/tools.h"

static const char *const states[] = {"BGD", "IDN", "MYS", "THA"};

static const char edit[] =
    "\nallow \"bench: intelligence from anyone\" { purpose = \"intelligence\" }\n"
    "redact \"bench: phones of facilitators\" { records = { tags = { \"facilitator\" } }, "
    "fields = { \"phones\" }, action = \"remove\" }\n";

static const char whens[] =
    "\nallow \"bench: w1\" { purpose = \"intelligence\", when = function(q) return #q.justification > 40 end }\n"
    "hit_only \"bench: w2\" { priority = \"urgent\", when = function(q) return q.subject.name ~= nil end }\n"
    "deny \"bench: w3\" { legal_basis = \"consent\", when = function(q) return q.requester.agency == \"X\" end }\n";

static char *slurp(const char *path) {
  FILE *fp = fopen(path, "r");
  if (!fp) return NULL;
  fb_buf b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) fb_buf_append(&b, chunk, n);
  fclose(fp);
  return fb_buf_steal(&b);
}

/* Median of 5 runs of proving `state` with `extra` appended to its file. */
static double bench_state(const char *dir, const char *state, const char *extra, json_t **last) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.lua", dir, state);
  char *src = slurp(path);
  if (!src) return -1;
  fb_buf b = {0};
  fb_buf_puts(&b, src);
  fb_buf_puts(&b, extra);
  char *err = NULL;
  fb_prove_set *old = fb_prove_set_from_dir(dir, &err), *new = fb_prove_set_from_dir(dir, &err);
  if (!old || !new || fb_prove_set_put_source(new, state, b.data, b.len, &err) != 0) {
    fprintf(stderr, "prove_bench: %s\n", err ? err : "load failed");
    exit(1);
  }
  double t[5];
  for (int i = 0; i < 5; i++) {
    double t0 = fb_now_ms();
    json_t *p = fb_policy_prove_json(old, new, state, &err);
    t[i] = fb_now_ms() - t0;
    if (!p) {
      fprintf(stderr, "prove_bench: %s\n", err);
      exit(1);
    }
    json_decref(*last);
    *last = p;
  }
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++)
      if (t[j] < t[i]) {
        double x = t[i];
        t[i] = t[j];
        t[j] = x;
      }
  fb_prove_set_free(old);
  fb_prove_set_free(new);
  fb_buf_free(&b);
  free(src);
  return t[2];
}

static double engine_us(const char *dir) {
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(dir, &err);
  if (!s) return -1;
  fb_policy *common = fb_policy_store_common(s), *mys = fb_policy_store_get(s, "MYS");
  json_t *subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  static const char *const roles[] = {"analyst"};
  fb_query q = {.purpose = "victim_protection", .priority = "urgent", .legal_basis = "consent",
                .justification = "Boat arrival in Sabah, passengers missing", .from_state = "IDN",
                .agency = "POLRI", .roles = roles, .nroles = 1, .subject = subject};
  long iters = 1000000;
  volatile int sink = 0;
  double t0 = fb_now_ms();
  for (long i = 0; i < iters; i++) {
    fb_decision d;
    fb_policy_decide(common, mys, &q, &d, NULL);
    sink += (int)d.effect;
    fb_decision_clear(&d);
  }
  (void)sink;
  double us = (fb_now_ms() - t0) * 1000.0 / (double)iters;
  json_decref(subject);
  fb_policy_unref(common);
  fb_policy_unref(mys);
  fb_policy_store_free(s);
  return us;
}

/* For scale: every request of MYS's space, concrete (every subject-field set, every
 * role set), decided through the real engine under the demo version twice (old and
 * new alike), without records. Returns ms; *n the decisions made. */
static double brute_force_ms(const char *dir, long *n) {
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(dir, &err);
  if (!s) return -1;
  fb_policy *common = fb_policy_store_common(s), *mys = fb_policy_store_get(s, "MYS");
  static const char *const purposes[] = {"investigation", "prosecution", "victim_protection", "intelligence", "border_screening"};
  static const char *const priorities[] = {"routine", "urgent", "immediate"};
  static const char *const bases[] = {"mla_treaty", "bilateral_mou", "interpol_channel", "domestic_law", "consent", "informal"};
  static const char *const from[] = {"BGD", "IDN", "MYS", "THA", "VNM"};
  static const char *const fields[] = {"name", "dob", "document", "nationality", "phone", "vessel"};
  static const char *const just[] = {"short", "Boat arrival in Sabah, passengers missing"};
  json_t *subjects[63];
  for (int m = 1; m < 64; m++) {
    subjects[m - 1] = json_object();
    for (int f = 0; f < 6; f++)
      if (m >> f & 1) json_object_set_new(subjects[m - 1], fields[f], json_string("x"));
  }
  enum { NSETS = (1 << FB_ROLE_COUNT) - 1 };
  static const char *roles[NSETS][FB_ROLE_COUNT];
  size_t nroles[NSETS];
  for (int m = 1; m <= NSETS; m++) {
    nroles[m - 1] = 0;
    for (int r = 0; r < FB_ROLE_COUNT; r++)
      if (m >> r & 1) roles[m - 1][nroles[m - 1]++] = fb_role_names[r];
  }
  volatile int sink = 0;
  *n = 0;
  double t0 = fb_now_ms();
  for (int pu = 0; pu < 5; pu++)
    for (int pr = 0; pr < 3; pr++)
      for (int b = 0; b < 6; b++)
        for (int f = 0; f < 5; f++)
          for (int c = 0; c < 2; c++)
            for (int j = 0; j < 2; j++)
              for (int su = 0; su < 63; su++)
                for (int r = 0; r < NSETS; r++) {
                  fb_query q = {.purpose = purposes[pu], .priority = priorities[pr], .legal_basis = bases[b],
                                .justification = just[j], .case_ref = c ? "C-1" : NULL, .from_state = from[f],
                                .agency = "POLRI", .roles = roles[r], .nroles = nroles[r], .subject = subjects[su]};
                  for (int v = 0; v < 2; v++) {
                    fb_decision d;
                    fb_policy_decide(common, mys, &q, &d, NULL);
                    sink += (int)d.effect;
                    fb_decision_clear(&d);
                    (*n)++;
                  }
                }
  double ms = fb_now_ms() - t0;
  (void)sink;
  for (int m = 0; m < 63; m++) json_decref(subjects[m]);
  fb_policy_unref(common);
  fb_policy_unref(mys);
  fb_policy_store_free(s);
  return ms;
}

int main(int argc, char **argv) {
  fb_log_set_level(FB_LOG_ERROR);
  const char *dir = argc > 1 ? argv[1] : FB_SOURCE_DIR "/policies";
  printf("%-5s %-9s %12s %8s %10s %9s %10s\n", "state", "edit", "requests", "records", "decided", "regions",
         "ms (median)");
  double worst = 0;
  for (size_t i = 0; i < 4; i++)
    for (int w = 0; w < 2; w++) {
      json_t *p = NULL;
      double ms = bench_state(dir, states[i], w ? whens : edit, &p);
      if (ms > worst && !w) worst = ms;
      printf("%-5s %-9s %12lld %8lld %10lld %9zu %10.2f\n", states[i], w ? "3 whens" : "widen+red",
             (long long)json_integer_value(json_object_get(p, "space")),
             (long long)json_integer_value(json_object_get(p, "record_classes")),
             (long long)json_integer_value(json_object_get(p, "evaluated")),
             json_array_size(json_object_get(p, "regions")), ms);
      json_decref(p);
    }
  double us = engine_us(dir);
  printf("engine: %.3f us per decision (fb_policy_decide, MYS, same run)\n", us);
  long n = 0;
  double bf = brute_force_ms(dir, &n);
  printf("brute force through the engine, MYS, no records: %ld decisions in %.0f ms\n", n, bf);
  printf("worst state without when: %.2f ms (target < 1000 ms)\n", worst);
  return worst < 1000 ? 0 : 1;
}
