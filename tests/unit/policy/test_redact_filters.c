/* Record filters see the record as it arrived: a redact rule that masks, hashes or
 * removes `nationality` must not change (or free) what a later rule's
 * `records = { nationality = ... }` filter reads (a use-after-free under ASan before). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "policy/policy.h"
#include "policy/rules.h"

static void check_action(const char *action) {
  char src[1024];
  snprintf(src, sizeof src,
           "redact \"nationality hidden\" { fields = { \"nationality\" }, action = \"%s\" }\n"
           "redact \"Bangladeshi addresses removed\" { records = { nationality = { \"BGD\" } }, "
           "fields = { \"address\" }, action = \"remove\" }\n",
           action);
  char *err = NULL;
  fb_policy *common = fb_policy_compile("common", "common.lua", src, strlen(src), fb_policy_test_key,
                                        sizeof fb_policy_test_key, NULL, &err);
  assert_non_null(common);
  json_t *subject = json_pack("{s:s}", "name", "x");
  fb_query q = {.purpose = "investigation", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "long enough justification", .from_state = "IDN", .subject = subject};
  fb_plan *plan = fb_plan_new(common, NULL, &q);
  json_t *recs = json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "id", "A", "type", "person",
                           "nationality", "BGD", "address", "Dhaka", "id", "B", "type", "person",
                           "nationality", "MYS", "address", "Tawau");
  assert_int_equal(fb_plan_apply(plan, recs, NULL), 0);
  assert_null(json_object_get(json_array_get(recs, 0), "address"));
  assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "address")), "Tawau");
  json_t *nat = json_object_get(json_array_get(recs, 0), "nationality");
  if (strcmp(action, "remove") == 0) assert_null(nat);
  else assert_string_not_equal(json_string_value(nat), "BGD");
  json_decref(recs);
  json_decref(subject);
  fb_plan_free(plan);
  fb_policy_unref(common);
}

static void test_filters_read_the_original(void **st) {
  (void)st;
  check_action("mask");
  check_action("hash");
  check_action("remove");
}

int main(void) {
  fb_log_set_level(FB_LOG_ERROR);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_filters_read_the_original)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
