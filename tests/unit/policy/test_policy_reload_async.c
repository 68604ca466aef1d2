/* A reload compiled off the loop (fb_policy_reload_*): the files run on another
 * thread while this one keeps deciding under the versions in force; the swap gives
 * the same report and the same keep-the-old-version rule as fb_policy_store_reload.
 * (Run under the FB_TSAN build it checks that the two threads share nothing.) */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "policy/policy.h"
#include "unit_common.h"

static const uint8_t KEY[] = "unit-test-redaction-key";
static const char *const analyst[] = {"analyst"};

static const char *decide_rule(fb_policy_store *s, char *buf, size_t n) {
  json_t *subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  fb_query q = {.purpose = "prosecution", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "Suspected facilitator", .from_state = "IDN", .agency = "POLRI",
                .roles = analyst, .nroles = 1, .subject = subject, .query_id = "q-1"};
  fb_policy *common = fb_policy_store_common(s), *p = fb_policy_store_get(s, "MYS");
  fb_decision d;
  fb_policy_decide(common, p, &q, &d, NULL);
  snprintf(buf, n, "%s", d.rule);
  fb_decision_clear(&d);
  fb_policy_unref(p);
  fb_policy_unref(common);
  json_decref(subject);
  return buf;
}

typedef struct {
  fb_policy_reload *r;
  volatile int done;
} job;

static void *compile_thread(void *arg) {
  job *j = arg;
  fb_policy_reload_compile(j->r);
  __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void test_reload_off_thread(void **state) {
  (void)state;
  char dir[] = "/tmp/fbreloadXXXXXX";
  assert_non_null(mkdtemp(dir));
  fb_test_write_file_in(dir, "MYS.lua", "allow 'v1' { when = function(q) return q.subject.name:find('Ahmad', 1, true) ~= nil end }\n");
  fb_test_write_file_in(dir, "THA.lua", "allow 't1' { }\n");
  const char *states[] = {"MYS", "THA"};
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open(dir, states, 2, KEY, sizeof KEY - 1, &err);
  assert_non_null(s);
  char rule[64];
  assert_string_equal(decide_rule(s, rule, sizeof rule), "v1");

  /* MYS changes (and takes a moment to load); THA becomes invalid. */
  fb_test_write_file_in(dir, "MYS.lua", "local t = 0 for i = 1, 5e5 do t = t + i end\n"
                             "allow 'v2' { when = function(q) return true end }\n");
  fb_test_write_file_in(dir, "THA.lua", "allow 't2' { purpose = 'nope' }\n");
  job j = {.r = fb_policy_reload_begin(s)};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, compile_thread, &j), 0);
  /* Meanwhile this thread keeps deciding under v1 (with its `when`). */
  do {
    assert_string_equal(decide_rule(s, rule, sizeof rule), "v1");
  } while (!__atomic_load_n(&j.done, __ATOMIC_ACQUIRE));
  pthread_join(th, NULL);
  assert_string_equal(decide_rule(s, rule, sizeof rule), "v1"); /* not swapped before _finish */
  json_t *report = NULL;
  assert_int_equal(fb_policy_reload_finish(j.r, &report), -1);
  json_t *files = json_object_get(report, "files");
  assert_int_equal(json_array_size(files), 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(files, 0), "status")), "missing");
  assert_string_equal(json_string_value(json_object_get(json_array_get(files, 1), "status")), "ok");
  assert_string_equal(json_string_value(json_object_get(json_array_get(files, 2), "status")), "error");
  json_decref(report);
  assert_string_equal(decide_rule(s, rule, sizeof rule), "v2");
  fb_policy *tha = fb_policy_store_get(s, "THA");
  assert_non_null(tha); /* the invalid THA.lua left t1 in force */
  fb_policy_unref(tha);

  /* A batch dropped without finishing changes nothing and leaks nothing. */
  fb_test_write_file_in(dir, "MYS.lua", "allow 'v3' { }\n");
  fb_policy_reload *r = fb_policy_reload_begin(s);
  fb_policy_reload_compile(r);
  fb_policy_reload_discard(r);
  assert_string_equal(decide_rule(s, rule, sizeof rule), "v2");
  /* A file removed between compiling and the swap keeps its version, as a reload does. */
  r = fb_policy_reload_begin(s);
  fb_policy_reload_compile(r);
  char path[600];
  snprintf(path, sizeof path, "%s/MYS.lua", dir);
  unlink(path);
  assert_int_equal(fb_policy_reload_finish(r, NULL), -1);
  assert_string_equal(decide_rule(s, rule, sizeof rule), "v2");

  fb_policy_store_free(s);
  snprintf(path, sizeof path, "%s/THA.lua", dir);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reload_off_thread)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
