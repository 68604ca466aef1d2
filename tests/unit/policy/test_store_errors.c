/* A failed reload is visible (policy/policy.h fb_policy_store_last_error): the error of
 * the refused file, with file, line, message and time, while the previous version
 * stays in force; the next good reload clears it; each distinct failure counts once in
 * fedbroker_policy_reload_failures_total. The hub knows only its configured states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "policy/policy.h"
#include "unit_common.h"

static const uint8_t KEY[] = "unit-test-redaction-key";

/* The value of `series` in the metrics text, or -1. */
static double metric(const char *series) {
  fb_buf b = {0};
  fb_metrics_render(&b);
  const char *p = strstr(b.data, series);
  double v = p ? strtod(p + strlen(series), NULL) : -1;
  fb_buf_free(&b);
  return v;
}

static void test_last_error(void **state) {
  (void)state;
  fb_log_set_level(FB_LOG_ERROR + 1);
  char dir[] = "/tmp/fbstoreerrXXXXXX";
  assert_non_null(mkdtemp(dir));
  fb_test_write_file_in(dir, "MYS.lua", "state 'MYS' { name = 'Malaysia' }\nallow 'p' { purpose = 'prosecution' }\n");
  static const char *const states[] = {"MYS", "THA"};
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open(dir, states, 2, KEY, sizeof KEY - 1, &err);
  assert_non_null(s);
  assert_null(fb_policy_store_last_error(s, "MYS"));
  assert_null(fb_policy_store_last_error(s, "common"));
  assert_null(fb_policy_store_last_error(s, "BGD"));
  const char *series = "fedbroker_policy_reload_failures_total{state=\"MYS\"} ";
  double before = metric(series);
  assert_true(before >= 0); /* present from the start */
  fb_policy *p = fb_policy_store_get(s, "MYS");
  json_t *info = fb_policy_info(p);
  char sha[65];
  snprintf(sha, sizeof sha, "%s", json_string_value(json_object_get(info, "sha256")));
  json_decref(info);
  fb_policy_unref(p);

  /* A state the hub does not serve, on line 3. */
  fb_test_write_file_in(dir, "MYS.lua", "state 'MYS' { name = 'Malaysia' }\n\ndeny 'x' { from = 'BGD' }\n");
  assert_int_equal(fb_policy_store_reload_file(s, "MYS", &err), -1);
  free(err);
  json_t *e = fb_policy_store_last_error(s, "MYS");
  assert_non_null(e);
  char path[512];
  snprintf(path, sizeof path, "%s/MYS.lua", dir);
  assert_string_equal(json_string_value(json_object_get(e, "file")), path);
  assert_int_equal(json_integer_value(json_object_get(e, "line")), 3);
  assert_string_equal(json_string_value(json_object_get(e, "message")),
                      "from 'BGD' is not a state this hub knows (expected one of: MYS, THA)");
  assert_non_null(json_string_value(json_object_get(e, "at")));
  assert_true(metric(series) == before + 1);
  /* The same failure met again is not a new one. */
  assert_int_equal(fb_policy_store_reload_file(s, "MYS", &err), -1);
  free(err);
  assert_true(metric(series) == before + 1);
  /* The previous version is still in force. */
  p = fb_policy_store_get(s, "MYS");
  info = fb_policy_info(p);
  assert_string_equal(json_string_value(json_object_get(info, "sha256")), sha);
  json_decref(info);
  fb_policy_unref(p);

  /* Fixed: cleared. */
  fb_test_write_file_in(dir, "MYS.lua", "state 'MYS' { name = 'Malaysia' }\ndeny 'x' { from = 'THA' }\n");
  json_t *report = NULL;
  assert_int_equal(fb_policy_store_reload(s, &report), 0);
  json_decref(report);
  assert_null(fb_policy_store_last_error(s, "MYS"));
  assert_true(metric(series) == before + 1);

  /* common.lua has its own. */
  fb_test_write_file_in(dir, "common.lua", "deny 'x' { purpose = 'prosecutoin' }\n");
  assert_int_equal(fb_policy_store_reload(s, &report), -1);
  json_decref(report);
  e = fb_policy_store_last_error(s, "common");
  assert_non_null(e);
  assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "unknown purpose 'prosecutoin'"));

  fb_policy_store_free(s);
  snprintf(path, sizeof path, "%s/MYS.lua", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/common.lua", dir);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_last_error)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
