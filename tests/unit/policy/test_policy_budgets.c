/* Issue 9: a policy cannot freeze the hub. Each of the examples, in a `when`
 * or at the top of a file, is stopped within a bound; a `when` that is stopped denies
 * its state with policy_error (fail closed). */
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

#define BOUND_MS 1000.0 /* generous for ASan on a loaded machine; the budgets are 50/500 ms */

static const uint8_t KEY[] = "unit-test-redaction-key";
static const char *const analyst[] = {"analyst"};

static fb_policy *compile_ok(const char *src) {
  char *err = NULL;
  fb_policy *p = fb_policy_compile("MYS", "MYS.lua", src, strlen(src), KEY, sizeof KEY - 1, NULL, &err);
  if (!p) fail_msg("unexpected load failure: %s", err);
  return p;
}

/* Decides once for a plain query; checks deny/policy_error naming `needle`, in time. */
static void expect_when_stopped(const char *src, const char *needle) {
  fb_policy *p = compile_ok(src);
  json_t *subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  fb_query q = {.purpose = "prosecution", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "Suspected facilitator", .from_state = "IDN", .agency = "POLRI",
                .roles = analyst, .nroles = 1, .subject = subject, .query_id = "q-1"};
  fb_decision d;
  double t0 = fb_now_ms();
  fb_policy_decide(NULL, p, &q, &d, NULL);
  double ms = fb_now_ms() - t0;
  assert_int_equal(d.effect, FB_EFFECT_DENY);
  assert_string_equal(d.rule, "policy_error");
  assert_non_null(d.error);
  if (!strstr(d.error, needle)) fail_msg("error '%s' lacks '%s'", d.error, needle);
  if (ms > BOUND_MS) fail_msg("decided only after %.0f ms", ms);
  fb_decision_clear(&d);
  /* the record plan fails closed the same way, as quickly */
  t0 = fb_now_ms();
  fb_plan *plan = fb_plan_new(NULL, p, &q);
  ms = fb_now_ms() - t0;
  assert_non_null(fb_plan_error(plan));
  if (ms > BOUND_MS) fail_msg("plan failed only after %.0f ms", ms);
  fb_plan_free(plan);
  json_decref(subject);
  fb_policy_unref(p);
}

static void test_pattern_bomb_in_when(void **state) {
  (void)state;
  expect_when_stopped("allow 'x' { when = function(q)\n"
                      "  return ('a'):rep(24):find(('a?'):rep(24) .. ('a'):rep(24) .. 'b') end }\n"
                      "drop 'y' { when = function(q)\n"
                      "  return ('a'):rep(24):find(('a?'):rep(24) .. ('a'):rep(24) .. 'b') end }\n",
                      "pattern is too costly");
}

static void test_rep_loop_in_when(void **state) {
  (void)state;
  expect_when_stopped("allow 'x' { when = function(q)\n"
                      "  for i = 1, 1e9 do local s = string.rep('ab', 524288) end end }\n"
                      "drop 'y' { when = function(q)\n"
                      "  for i = 1, 1e9 do local s = string.rep('ab', 524288) end end }\n",
                      "budget");
}

/* C calls that move every element: charged per element, stopped by the budgets. */
static void test_slow_c_calls_in_when(void **state) {
  (void)state;
  expect_when_stopped("big = {} for i = 1, 100000 do big[i] = i end\n"
                      "allow 'x' { when = function(q)\n"
                      "  while true do table.insert(big, 1, 0) table.remove(big, 1) end end }\n"
                      "drop 'y' { when = function(q) while true do table.insert(big, 1, 0) end end }\n",
                      "budget");
}

static void test_rep_loop_at_load(void **state) {
  (void)state;
  const char *src = "for i = 1, 1e9 do local s = string.rep('ab', 524288) end\nallow 'x' { }\n";
  char *err = NULL;
  double t0 = fb_now_ms();
  fb_policy *p = fb_policy_compile("MYS", "MYS.lua", src, strlen(src), KEY, sizeof KEY - 1, NULL, &err);
  double ms = fb_now_ms() - t0;
  assert_null(p);
  assert_non_null(err);
  if (!strstr(err, "MYS.lua") || !strstr(err, "budget")) fail_msg("error: %s", err);
  if (ms > BOUND_MS) fail_msg("load stopped only after %.0f ms", ms);
  free(err);
  /* and a loop that the instruction count alone would allow for hours */
  src = "local t = {} for i = 1, 100000 do t[i] = i end\n"
        "for i = 1, 1e9 do table.insert(t, 1, 0) table.remove(t, 1) end\n";
  t0 = fb_now_ms();
  p = fb_policy_compile("MYS", "MYS.lua", src, strlen(src), KEY, sizeof KEY - 1, NULL, &err);
  ms = fb_now_ms() - t0;
  assert_null(p);
  if (!strstr(err, "budget")) fail_msg("error: %s", err);
  if (ms > BOUND_MS) fail_msg("load stopped only after %.0f ms", ms);
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pattern_bomb_in_when),
      cmocka_unit_test(test_rep_loop_in_when),
      cmocka_unit_test(test_slow_c_calls_in_when),
      cmocka_unit_test(test_rep_loop_at_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
