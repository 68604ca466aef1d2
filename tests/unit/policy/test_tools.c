/* The policy tools: the evaluate response, the test runner, check (with unreachable
 * rules), and the declarative justification length condition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/log.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "policy/tools.h"
#include "unit_common.h"

#define DEMO FB_SOURCE_DIR "/policies"

static char *slurp(FILE *fp) {
  fflush(fp);
  long n = ftell(fp);
  rewind(fp);
  char *s = calloc(1, (size_t)n + 1);
  assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
  return s;
}

static void test_evaluate(void **state) {
  (void)state;
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);
  json_t *body = json_loads(
      "{\"subject\":{\"name\":\"Siti\"},\"purpose\":\"investigation\",\"priority\":\"urgent\","
      "\"legal_basis\":\"bilateral_mou\",\"justification\":\"Boat arrival in Sabah, passengers missing\","
      "\"records\":{\"MYS\":[{\"id\":\"MYS-P-1\",\"type\":\"person\"}],"
      "\"BGD\":[{\"id\":\"BGD-P-1\",\"type\":\"person\"},{\"id\":\"BGD-P-2\",\"type\":\"person\"}]}}",
      0, NULL);
  static const char *const roles[] = {"legal_officer"};
  json_t *r = fb_policy_evaluate(s, body, "IDN", "POLRI", roles, 1, &err);
  assert_non_null(r);
  json_t *states = json_object_get(r, "states");
  assert_int_equal(json_array_size(states), 3); /* every state but the requester's own */
  size_t i;
  json_t *e;
  int seen = 0;
  json_array_foreach(states, i, e) {
    const char *st = json_string_value(json_object_get(e, "state"));
    assert_string_not_equal(st, "IDN");
    assert_true(json_is_array(json_object_get(e, "trace")));
    assert_true(json_is_array(json_object_get(e, "records")));
    assert_true(json_is_array(json_object_get(e, "redactions")));
    assert_true(json_is_object(json_object_get(e, "contact")));
    if (strcmp(st, "MYS") == 0) { /* hit_only for ASEAN partners: no record content */
      assert_string_equal(json_string_value(json_object_get(e, "effect")), "hit_only");
      assert_int_equal(json_array_size(json_object_get(e, "records")), 0);
      assert_int_equal(json_integer_value(json_object_get(e, "hits")), 1);
      seen++;
    }
    if (strcmp(st, "BGD") == 0) {
      assert_string_equal(json_string_value(json_object_get(e, "effect")), "hit_only");
      assert_string_equal(json_string_value(json_object_get(e, "rule")), "MOU partners: confirm a match only");
      seen++;
    }
  }
  assert_int_equal(seen, 2);
  json_decref(r);
  /* "as" evaluates for another requester; a malformed "as" is an error */
  json_object_set_new(body, "as", json_pack("{s:s}", "state", "MYS"));
  json_object_set_new(body, "states", json_pack("[s]", "IDN"));
  r = fb_policy_evaluate(s, body, "IDN", "POLRI", roles, 1, &err);
  e = json_array_get(json_object_get(r, "states"), 0);
  assert_string_equal(json_string_value(json_object_get(e, "effect")), "allow");
  json_decref(r);
  json_object_set_new(body, "as", json_integer(3));
  assert_null(fb_policy_evaluate(s, body, "IDN", "POLRI", roles, 1, &err));
  assert_non_null(err);
  free(err);
  json_decref(body);
  fb_policy_store_free(s);
}

static void test_runner_counts(void **state) {
  (void)state;
  FILE *out = tmpfile();
  int passed = 0, failed = 0;
  assert_int_equal(fb_policy_run_tests(DEMO, out, &passed, &failed), 0);
  assert_true(passed >= 20);
  assert_int_equal(failed, 0);
  char *text = slurp(out);
  char want[64];
  snprintf(want, sizeof want, "%d passed, 0 failed\n", passed);
  assert_non_null(strstr(text, want));
  free(text);
  fclose(out);

  char dir[] = "/tmp/fbpoltoolsXXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/tests", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/MYS.lua", dir);
  fb_test_write_file(path, "allow 'all urgent' { priority = 'urgent' }\n"
                   "redact 'names' { fields = 'name', action = 'initials' }\n");
  snprintf(path, sizeof path, "%s/tests/a_test.lua", dir);
  fb_test_write_file(path,
      "case 'ok' { request = { purpose = 'intelligence', priority = 'urgent', legal_basis = 'consent' },\n"
      "  records = { MYS = { { id = 'A', type = 'person', name = 'Ahmad bin Ismail', notes = 'x' } } },\n"
      "  expect = { MYS = 'allow' }, expect_records = { MYS = { { id = 'A', name = 'A. B. I.' } } } }\n"
      "case 'wrong record' { request = { purpose = 'intelligence', priority = 'urgent', legal_basis = 'consent' },\n"
      "  records = { MYS = { { id = 'A', type = 'person', name = 'Ahmad', notes = 'x' } } },\n"
      "  expect_records = { MYS = { { id = 'A', notes = REMOVED } } } }\n"
      "case 'misspelt purpose fails' { request = { purpose = 'intel', priority = 'urgent', legal_basis = 'consent' },\n"
      "  expect = { MYS = 'allow' } }\n"
      "case 'denied shares nothing' { request = { purpose = 'intelligence', priority = 'routine', legal_basis = 'consent' },\n"
      "  records = { MYS = { { id = 'A', type = 'person' } } },\n"
      "  expect = { MYS = { effect = 'deny', rule = 'default_deny' } }, expect_records = { MYS = { } } }\n");
  out = tmpfile();
  assert_int_equal(fb_policy_run_tests(dir, out, &passed, &failed), 1);
  text = slurp(out);
  assert_int_equal(passed, 2);
  assert_int_equal(failed, 2);
  assert_non_null(strstr(text, "a_test.lua:4: wrong record"));
  assert_non_null(strstr(text, "notes is \"x\", expected absent"));
  assert_non_null(strstr(text, "request.purpose \"intel\" is not a valid purpose"));
  assert_non_null(strstr(text, "\n2 passed, 2 failed\n"));
  free(text);
  fclose(out);
  assert_true(fb_test_rm_rf(dir));
}

static void test_check(void **state) {
  (void)state;
  char dir[] = "/tmp/fbpolcheckXXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/THA.lua", dir);
  fb_test_write_file(path,
      "state 'THA' { name = 'Thailand' }\n"
      "allow 'urgent' { priority = { 'urgent', 'immediate' } }\n"
      "allow 'urgent prosecution' { purpose = 'prosecution', priority = 'urgent' }\n"
      "allow 'routine with when' { priority = 'routine', when = function(q) return true end }\n"
      "allow 'routine prosecution' { purpose = 'prosecution', priority = 'routine' }\n"
      "deny 'from MYS' { from = 'MYS', unless = { purpose = 'prosecution' } }\n"
      "deny 'from MYS urgent' { from = 'MYS', priority = 'urgent' }\n");
  FILE *out = tmpfile();
  int problems = fb_policy_check_file(path, out);
  char *text = slurp(out);
  /* rule 3 is shadowed by rule 2; rule 5 is not (rule 4 has when); rule 7 by rule 2 */
  assert_int_equal(problems, 2);
  assert_non_null(strstr(text, "THA.lua:3: allow \"urgent prosecution\" can never match: allow \"urgent\" (line 2)"));
  assert_null(strstr(text, "THA.lua:5:"));
  assert_non_null(strstr(text, "THA.lua:7:"));
  free(text);
  fclose(out);
  snprintf(path, sizeof path, "%s/MYS.lua", dir);
  fb_test_write_file(path, "state 'MYS' { name = 'Malaysia' }\nallow 'x' { }\n");
  out = tmpfile();
  assert_int_equal(fb_policy_check_file(path, out), 0);
  fclose(out);
  /* hash needs a key: without one the file does not load */
  char *err = NULL;
  const char *src = "redact 'x' { fields = 'phones', action = 'hash' }\n";
  assert_null(fb_policy_compile("MYS", "MYS.lua", src, strlen(src), NULL, 0, NULL, &err));
  assert_non_null(strstr(err, "redaction key"));
  free(err);
  assert_true(fb_test_rm_rf(dir));
}

static void test_justification_length(void **state) {
  (void)state;
  char *err = NULL;
  const char *src = "deny 'short' { justification_shorter_than = 20 }\n";
  fb_policy *common = fb_policy_compile("common", "common.lua", src, strlen(src), NULL, 0, NULL, &err);
  assert_non_null(common);
  fb_policy *p = fb_policy_compile("MYS", "MYS.lua", "allow 'x' { }", 13, NULL, 0, NULL, &err);
  static const char *const roles[] = {"analyst"};
  fb_query q = {.purpose = "investigation", .priority = "urgent", .legal_basis = "consent",
                .justification = "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ", /* 19 characters, 38 bytes */
                .from_state = "IDN", .roles = roles, .nroles = 1};
  fb_decision d;
  json_t *trace = json_array();
  fb_policy_decide(common, p, &q, &d, trace);
  assert_string_equal(d.rule, "short");
  assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 0), "why")),
                      "the justification has 19 characters, fewer than 20");
  fb_decision_clear(&d);
  q.justification = "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ";
  fb_policy_decide(common, p, &q, &d, NULL);
  assert_string_equal(d.rule, "x");
  fb_decision_clear(&d);
  json_decref(trace);
  fb_policy_unref(common);
  fb_policy_unref(p);
}

int main(void) {
  fb_log_set_level(FB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_evaluate),
      cmocka_unit_test(test_runner_counts),
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_justification_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
