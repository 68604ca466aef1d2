/* Property test: mutated versions of a real policy file either fail to load with a
 * message, or load and then decide and redact without crashing — and whatever loads
 * still decides only allow, hit_only or deny, with a rule name. A careless or hostile
 * edit by a legal officer must never take the hub down (ASan+UBSan run this too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "unit_common.h"

#define MUTATIONS 3000

static const uint8_t KEY[] = "unit-test-redaction-key";
static uint64_t rng = 0x853c49e6748fea9bull;
static void test_mutated_policies(void **state) {
  (void)state;
  size_t len = 0;
  char *orig = fb_read_file(FB_SOURCE_DIR "/policies/MYS.lua", 1 << 20, &len);
  assert_non_null(orig);
  static const char pool[] = "{}()\"',=.-_ \nabcdefghijklmnopqrstuvwxyz0123456789#[]";
  json_t *subject = json_pack("{s:s}", "name", "Siti");
  static const char *const roles[] = {"analyst"};
  fb_query q = {.purpose = "victim_protection", .priority = "immediate", .legal_basis = "informal",
                .justification = "A person at sea is at immediate risk of harm", .from_state = "IDN",
                .agency = "POLRI", .roles = roles, .nroles = 1, .subject = subject, .query_id = "q-1"};
  json_t *records = json_pack("[{s:s, s:s, s:[s], s:s, s:s}]", "id", "MYS-P-1", "type", "person", "tags", "victim",
                              "name", "Siti Aminah", "dob", "1990-01-02");
  int loaded = 0;
  for (int i = 0; i < MUTATIONS; i++) {
    char *m = fb_xmalloc(len + 64);
    memcpy(m, orig, len + 1);
    size_t n = len;
    for (int e = 1 + (int)(fb_test_rand(&rng) % 3); e > 0 && n > 0; e--) {
      size_t pos = fb_test_rand(&rng) % n;
      switch (fb_test_rand(&rng) % 3) {
      case 0: m[pos] = pool[fb_test_rand(&rng) % (sizeof pool - 1)]; break;
      case 1: memmove(m + pos, m + pos + 1, n - pos); n--; break;
      default: memmove(m + pos + 1, m + pos, n - pos + 1); m[pos] = pool[fb_test_rand(&rng) % (sizeof pool - 1)]; n++;
      }
    }
    char *err = NULL;
    fb_policy *p = fb_policy_compile("MYS", "MYS.lua", m, n, KEY, sizeof KEY - 1, NULL, &err);
    if (!p) {
      assert_non_null(err);
      assert_true(strlen(err) > 0);
      free(err);
    } else {
      loaded++;
      fb_decision d = {0};
      fb_policy_decide(NULL, p, &q, &d, NULL);
      assert_true(d.effect == FB_EFFECT_DENY || d.effect == FB_EFFECT_HIT_ONLY || d.effect == FB_EFFECT_ALLOW);
      assert_non_null(d.rule);
      fb_decision_clear(&d);
      fb_plan *plan = fb_plan_new(NULL, p, &q);
      json_t *copy = json_deep_copy(records);
      size_t redacted = 0;
      fb_plan_apply(plan, copy, &redacted);
      json_decref(copy);
      fb_plan_free(plan);
      fb_policy_unref(p);
    }
    free(m);
  }
  print_message("mutated policies: %d of %d loaded\n", loaded, MUTATIONS);
  assert_true(loaded > 10); /* some mutations survive to decide and redact */
  json_decref(records);
  json_decref(subject);
  free(orig);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_mutated_policies)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
