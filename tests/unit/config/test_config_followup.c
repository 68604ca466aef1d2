/* Config keys of the follow-up (CONFIG.md): store, focal_points, followup — defaults,
 * durations, relative store paths, PostgreSQL URIs kept as given, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static int load(const char *src, fb_config *cfg, char **err) {
  *err = NULL;
  return fb_config_load_string(src, strlen(src), "/etc/fb/hub.lua", cfg, err);
}

static void test_defaults(void **st) {
  (void)st;
  fb_config cfg;
  char *err;
  assert_int_equal(load("log_level = 'info'", &cfg, &err), 0);
  assert_null(cfg.store);
  assert_int_equal(cfg.followup.hit_ref_days, 30);
  assert_int_equal(cfg.followup.due_immediate_s, 24 * 3600);
  assert_int_equal(cfg.followup.due_urgent_s, 72 * 3600);
  assert_int_equal(cfg.followup.due_routine_s, 30 * 86400);
  assert_int_equal(cfg.followup.expire_after_s, 30 * 86400);
  assert_int_equal(cfg.followup.stale_after_days, 90);
  assert_int_equal(cfg.followup.refresh_s, 30);
  fb_config_free(&cfg);
}

static void test_values(void **st) {
  (void)st;
  fb_config cfg;
  char *err;
  const char *src = "store = 'var/fb.db'\n"
                    "focal_points = { stale_after_days = 30, refresh = '2m' }\n"
                    "followup = { hit_ref_days = 7, due = { immediate = '2h', urgent = '90m', routine = 600 },\n"
                    "             expire_after = '15s' }\n";
  assert_int_equal(load(src, &cfg, &err), 0);
  assert_string_equal(cfg.store, "/etc/fb/var/fb.db");
  assert_int_equal(cfg.followup.stale_after_days, 30);
  assert_int_equal(cfg.followup.refresh_s, 120);
  assert_int_equal(cfg.followup.hit_ref_days, 7);
  assert_int_equal(cfg.followup.due_immediate_s, 7200);
  assert_int_equal(cfg.followup.due_urgent_s, 5400);
  assert_int_equal(cfg.followup.due_routine_s, 600);
  assert_int_equal(cfg.followup.due_urgent_s, 5400);
  assert_int_equal(cfg.followup.expire_after_s, 15);
  fb_config_free(&cfg);
  assert_int_equal(load("store = 'postgresql://hub@db/fedbroker?sslmode=require'", &cfg, &err), 0);
  assert_string_equal(cfg.store, "postgresql://hub@db/fedbroker?sslmode=require");
  fb_config_free(&cfg);
}

static void expect_error(const char *src, const char *needle) {
  fb_config cfg;
  char *err = NULL;
  assert_int_equal(load(src, &cfg, &err), -1);
  if (!err || !strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err ? err : "(none)", needle);
  free(err);
}

static void test_errors(void **st) {
  (void)st;
  expect_error("followup = { due = { urgent = '3 weeks' } }", "followup.due.urgent");
  expect_error("followup = { due = { urgent = '0h' } }", "duration");
  expect_error("followup = { due = { soon = '1h' } }", "unknown priority");
  expect_error("followup = { hit_ref_days = -1 }", "followup.hit_ref_days");
  expect_error("followup = { colour = 1 }", "unknown key");
  expect_error("focal_points = { stale_after = 3 }", "focal_points.stale_after");
  expect_error("store = 42", "store");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
