/* Config loading: defaults, every section, relative paths, errors naming key and line,
 * environment overrides, and the sandbox (no io/os in a config). */
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

static void expect_error(const char *src, const char *needle) {
  fb_config cfg;
  char *err = NULL;
  assert_int_equal(load(src, &cfg, &err), -1);
  assert_non_null(err);
  if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
  free(err);
}

static void test_full_example(void **state) {
  (void)state;
  const char *src =
      "listen = {\n"
      "  { address = \"127.0.0.1:8080\" },\n"
      "  { address = \"0.0.0.0:8443\", tls = { cert = \"tls/hub.pem\", key = \"tls/hub.key\",\n"
      "                                      client_ca = \"tls/ca.pem\", client_cert = \"optional\" } },\n"
      "}\n"
      "policies = \"policies\"\n"
      "policy_keys = { MYS = \"keys/mys-policy.pub.pem\" }\n"
      "audit = { path = \"var/audit.jsonl\", key = \"keys/audit.pem\", checkpoint_every = 1000 }\n"
      "issuers = { { iss = \"https://idp.example.my\", key = \"keys/idp-mys.pub.pem\", aud = \"fedbroker\" } }\n"
      "deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }\n"
      "limits = { body = 65536, header = 16384, streams = 100, max_states = 64, concurrency = 1024 }\n"
      "breaker = { failures = 5, open_ms = 10000 }\n"
      "redaction_key = \"keys/redaction.key\"\n"
      "states = {\n"
      "  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },\n"
      "  IDN = { adapter = \"http\", url = \"https://idn-node:9443/search\",\n"
      "          ca = \"tls/ca.pem\", cert = \"tls/hub.pem\", key = \"tls/hub.key\", timeout = 5000,\n"
      "          max_body = 8388608 },\n"
      "  THA = { adapter = \"postgres\", conninfo = \"host=tha-db dbname=cases user=hub\" },\n"
      "  BGD = { adapter = \"broker\", url = \"https://bgd-hub:8443\", token_file = \"keys/bgd.jwt\" },\n"
      "}\n";
  fb_config cfg;
  char *err;
  assert_int_equal(load(src, &cfg, &err), 0);
  assert_int_equal(cfg.nlisten, 2);
  assert_string_equal(cfg.listen[0].address, "127.0.0.1:8080");
  assert_false(cfg.listen[0].tls);
  assert_true(cfg.listen[1].tls);
  assert_string_equal(cfg.listen[1].cert, "/etc/fb/tls/hub.pem");
  assert_int_equal(cfg.listen[1].client_cert, FB_CLIENT_CERT_OPTIONAL);
  assert_string_equal(cfg.policies, "/etc/fb/policies");
  assert_int_equal(cfg.npolicy_keys, 1);
  assert_string_equal(cfg.policy_key_states[0], "MYS");
  assert_string_equal(cfg.audit.path, "/etc/fb/var/audit.jsonl");
  assert_int_equal(cfg.audit.checkpoint_every, 1000);
  assert_int_equal(cfg.nissuers, 1);
  assert_string_equal(cfg.issuers[0].aud, "fedbroker");
  assert_int_equal(cfg.deadlines.immediate_ms, 2000);
  assert_int_equal(fb_config_deadline_ms(&cfg, "urgent"), 5000);
  assert_int_equal(cfg.limits.concurrency, 1024);
  assert_int_equal(cfg.breaker.failures, 5);
  assert_int_equal(cfg.nstates, 4);
  assert_string_equal(cfg.states[0].code, "BGD"); /* sorted */
  const fb_state_config *idn = fb_config_state(&cfg, "IDN");
  assert_non_null(idn);
  assert_string_equal(idn->adapter, "http");
  assert_int_equal(idn->timeout_ms, 5000);
  /* The kind's own keys are kept, unread, for its configure (tests/unit/adapters). */
  assert_int_equal(idn->noptions, 5);
  assert_false(idn->configured);
  assert_null(idn->url);
  const fb_state_config *mys = fb_config_state(&cfg, "MYS");
  assert_int_equal(mys->noptions, 1);
  assert_string_equal(mys->options[0].key, "path");
  assert_int_equal(mys->options[0].type, FB_OPTION_STRING);
  assert_string_equal(mys->options[0].text, "data/MYS.db");
  assert_int_equal(mys->options[0].line, 15);
  assert_int_equal(mys->line, 15);
  assert_string_equal(mys->source_path, "/etc/fb/hub.lua");
  assert_null(fb_config_state(&cfg, "XXX"));
  fb_config_free(&cfg);
}

static void test_defaults(void **state) {
  (void)state;
  fb_config cfg;
  char *err;
  assert_int_equal(load("listen = { { address = \"127.0.0.1:0\" } }", &cfg, &err), 0);
  assert_int_equal(cfg.limits.body, 65536);
  assert_int_equal(cfg.limits.header, 16384);
  assert_int_equal(cfg.limits.streams, 100);
  assert_int_equal(cfg.limits.send_timeout_ms, 30000);
  assert_int_equal(cfg.limits.send_buffers, 256u << 20);
  assert_int_equal(cfg.limits.per_client, 256);
  assert_int_equal(cfg.limits.per_identity, 32);
  assert_int_equal(cfg.limits.aborts_per_minute, 60);
  assert_int_equal(cfg.limits.control_frames, 5000);
  assert_int_equal(cfg.deadlines.routine_ms, 15000);
  assert_int_equal(cfg.breaker.open_ms, 10000);
  fb_config_free(&cfg);
}

static void test_hardening_limits(void **state) {
  (void)state;
  fb_config cfg;
  char *err;
  assert_int_equal(load("limits = { send_timeout = 500, send_buffers = 4194304, per_client = 8,\n"
                        "  per_identity = 4, aborts_per_minute = 10, control_frames = 200 }", &cfg, &err), 0);
  assert_int_equal(cfg.limits.send_timeout_ms, 500);
  assert_int_equal(cfg.limits.send_buffers, 4194304);
  assert_int_equal(cfg.limits.per_client, 8);
  assert_int_equal(cfg.limits.per_identity, 4);
  assert_int_equal(cfg.limits.aborts_per_minute, 10);
  assert_int_equal(cfg.limits.control_frames, 200);
  fb_config_free(&cfg);
  expect_error("limits = {\n  per_client = 0,\n}\n", "hub.lua:2: limits.per_client: expected a positive integer");
  expect_error("limits = {\n  send_timeout = \"1s\",\n}\n", "hub.lua:2: limits.send_timeout: expected a positive integer");
  expect_error("limits = { per_identity = -3 }\n", "limits.per_identity: expected a positive integer");
}

static void test_errors_name_key_and_line(void **state) {
  (void)state;
  expect_error("listen = { { address = \"127.0.0.1:0\" } }\nfoo = 1\n", "hub.lua:2: foo: unknown key");
  expect_error("limits = {\n  body = 10,\n  bogus = 3,\n}\n", "hub.lua:3: limits.bogus: unknown key");
  expect_error("limits = {\n  body = -1,\n}\n", "hub.lua:2: limits.body: expected a positive integer");
  expect_error("\n\nstates = { MYS = { path = \"x\" } }\n", "hub.lua:3: states.MYS: adapter is required");
  expect_error("states = { MYS = { adapter = \"sqlite\", max_legs = 0 } }\n", "states.MYS.max_legs: expected a positive integer");
  /* The kind and its own keys: tests/unit/adapters/test_configure.c. */
  expect_error("states = { mys = { adapter = \"sqlite\", path = \"x\" } }\n", "alpha-3");
  expect_error("listen = { { address = 8080 } }\n", "listen[0].address: expected a string");
  expect_error("listen = { { address = \"a:1\", tls = { cert = \"c\" } } }\n", "tls needs both cert and key");
  expect_error("deadlines = { slow = 3 }\n", "deadlines.slow: unknown priority");
  expect_error("listen = {\n", "hub.lua:");                       /* syntax error with line */
  /* A key assigned nil is no setting (and reading it back must not trip the strict
   * globals outside a protected call). */
  fb_config nil_cfg;
  char *nil_err = NULL;
  assert_int_equal(load("listen = { { address = \"127.0.0.1:0\" } }\nredaction_key, log_level = nil\n", &nil_cfg, &nil_err), 0);
  assert_string_equal(nil_cfg.log_level, "info");
  assert_null(nil_cfg.redaction_key);
  fb_config_free(&nil_cfg);
  expect_error("x = io.open('/etc/passwd')\n", "hub.lua:1: io is not available in the config"); /* sandbox */
  /* A word without quotes is an error, not a nil that leaves the default in place. */
  expect_error("\nlog_level = info\n", "hub.lua:2: info is not defined (write words in quotes, like \"info\")");
  expect_error("while true do end\n", "budget");         /* runaway config: instructions or time */
}

static void test_env_overrides(void **state) {
  (void)state;
  fb_config cfg;
  char *err;
  assert_int_equal(load("listen = { { address = \"127.0.0.1:1\" } }\naudit = { path = \"a.jsonl\" }", &cfg, &err), 0);
  setenv("FEDBROKER_LISTEN", "127.0.0.1:9000,[::1]:9001", 1);
  setenv("FEDBROKER_AUDIT", "/var/log/fb.jsonl", 1);
  setenv("FEDBROKER_AUDIT_KEY", "/keys/replica-2.pem", 1);
  setenv("FEDBROKER_POLICIES", "/srv/policies", 1);
  setenv("FEDBROKER_LOG_LEVEL", "debug", 1);
  assert_int_equal(fb_config_apply_env(&cfg, &err), 0);
  assert_int_equal(cfg.nlisten, 2);
  assert_string_equal(cfg.listen[1].address, "[::1]:9001");
  assert_string_equal(cfg.audit.path, "/var/log/fb.jsonl");
  assert_string_equal(cfg.audit.key, "/keys/replica-2.pem");
  assert_string_equal(cfg.policies, "/srv/policies");
  assert_string_equal(cfg.log_level, "debug");
  setenv("FEDBROKER_LOG_LEVEL", "loud", 1);
  assert_int_equal(fb_config_apply_env(&cfg, &err), -1);
  assert_non_null(strstr(err, "FEDBROKER_LOG_LEVEL"));
  free(err);
  unsetenv("FEDBROKER_LISTEN");
  unsetenv("FEDBROKER_AUDIT");
  unsetenv("FEDBROKER_AUDIT_KEY");
  unsetenv("FEDBROKER_POLICIES");
  unsetenv("FEDBROKER_LOG_LEVEL");
  fb_config_free(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_example),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_hardening_limits),
      cmocka_unit_test(test_errors_name_key_and_line),
      cmocka_unit_test(test_env_overrides),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
