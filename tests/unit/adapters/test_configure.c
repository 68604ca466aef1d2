/* Each adapter kind reads its own keys of a `states` entry (the vtable's configure, run
 * by fb_adapters_configure): values, defaults, relative paths, and errors naming the
 * file, line and key as the config loader's do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "config/config.h"

/* Loads `src` as /etc/fb/hub.lua and configures its states: the status of the first
 * step that failed (the config loader's errors are tests/unit/config's). */
static int configure(const char *src, fb_config *cfg, char **err) {
  *err = NULL;
  if (fb_config_load_string(src, strlen(src), "/etc/fb/hub.lua", cfg, err) != 0)
    fail_msg("config did not load: %s", *err);
  return fb_adapters_configure(cfg, err);
}

static void expect_error(const char *src, const char *want) {
  fb_config cfg;
  char *err = NULL;
  assert_int_equal(configure(src, &cfg, &err), -1);
  assert_non_null(err);
  if (!strstr(err, want)) fail_msg("error '%s' lacks '%s'", err, want);
  free(err);
  fb_config_free(&cfg);
}

static void test_each_kind_reads_its_keys(void **state) {
  (void)state;
  const char *src =
      "states = {\n"
      "  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },\n"
      "  IDN = { adapter = \"http\", url = \"https://idn-node:9443/search\",\n"
      "          ca = \"tls/ca.pem\", cert = \"/abs/hub.pem\", key = \"tls/hub.key\", timeout = 5000,\n"
      "          max_body = 1048576, dns_cache_ms = 250 },\n"
      "  THA = { adapter = \"postgres\", conninfo = \"host=tha-db dbname=cases user=hub\" },\n"
      "  BGD = { adapter = \"broker\", url = \"https://bgd-hub:8443\", token_file = \"keys/bgd.jwt\" },\n"
      "}\n";
  fb_config cfg;
  char *err;
  assert_int_equal(configure(src, &cfg, &err), 0);
  const fb_state_config *mys = fb_config_state(&cfg, "MYS");
  assert_true(mys->configured);
  assert_string_equal(mys->path, "/etc/fb/data/MYS.db");
  const fb_state_config *idn = fb_config_state(&cfg, "IDN");
  assert_string_equal(idn->url, "https://idn-node:9443/search");
  assert_string_equal(idn->ca, "/etc/fb/tls/ca.pem");
  assert_string_equal(idn->cert, "/abs/hub.pem");
  assert_string_equal(idn->key, "/etc/fb/tls/hub.key");
  assert_int_equal(idn->timeout_ms, 5000);
  assert_int_equal(idn->max_body, 1048576);
  assert_int_equal(idn->dns_cache_ms, 250);
  assert_string_equal(fb_config_state(&cfg, "THA")->conninfo, "host=tha-db dbname=cases user=hub");
  const fb_state_config *bgd = fb_config_state(&cfg, "BGD");
  assert_string_equal(bgd->token_file, "/etc/fb/keys/bgd.jwt");
  assert_int_equal(bgd->max_body, 8u << 20); /* defaults of the http-speaking kinds */
  assert_int_equal(bgd->dns_cache_ms, 5000);
  /* A second run leaves configured states alone. */
  assert_int_equal(fb_adapters_configure(&cfg, &err), 0);
  assert_string_equal(fb_config_state(&cfg, "MYS")->path, "/etc/fb/data/MYS.db");
  fb_config_free(&cfg);
}

static void test_errors_name_key_and_line(void **state) {
  (void)state;
  expect_error("\n\nstates = { MYS = { adapter = \"sqlite\" } }\n", "hub.lua:3: states.MYS: adapter sqlite needs path");
  expect_error("states = {\n MYS = { adapter = \"oracle\", path = \"x\" } }\n",
               "hub.lua:2: states.MYS: unknown adapter 'oracle' (expected sqlite, http, postgres, broker)");
  expect_error("states = { IDN = { adapter = \"http\" } }\n", "hub.lua:1: states.IDN: adapter http needs url");
  expect_error("states = { IDN = { adapter = \"broker\" } }\n", "states.IDN: adapter broker needs url");
  expect_error("states = { THA = { adapter = \"postgres\" } }\n", "states.THA: adapter postgres needs conninfo");
  expect_error("states = {\n  IDN = { adapter = \"http\",\n    url = 8080 } }\n",
               "hub.lua:3: states.IDN.url: expected a string, got number");
  expect_error("states = { MYS = { adapter = \"sqlite\", path = { \"a\" } } }\n",
               "states.MYS.path: expected a string, got table");
  expect_error("states = { IDN = { adapter = \"http\", url = \"http://x\", max_body = -1 } }\n",
               "states.IDN.max_body: expected a positive integer up to 4294967296");
  expect_error("states = { IDN = { adapter = \"http\", url = \"http://x\", dns_cache_ms = \"soon\" } }\n",
               "states.IDN.dns_cache_ms: expected a positive integer");
  /* A key of another kind is refused, naming the keys this kind reads. */
  expect_error("states = {\n  MYS = { adapter = \"sqlite\", path = \"x\",\n    url = \"http://x\" } }\n",
               "hub.lua:3: states.MYS.url: unknown key (expected adapter, timeout, max_legs, path)");
  expect_error("states = { THA = { adapter = \"postgres\", conninfo = \"x\", token_file = \"t\" } }\n",
               "states.THA.token_file: unknown key (expected adapter, timeout, max_legs, conninfo)");
}

/* A loaded state whose keys were never read must not open as if it had none. */
static void test_open_refuses_unconfigured_state(void **state) {
  (void)state;
  fb_config cfg;
  char *err = NULL;
  const char *src = "states = { MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" } }\n";
  assert_int_equal(fb_config_load_string(src, strlen(src), "/etc/fb/hub.lua", &cfg, &err), 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg.states[0], &a, &err), -1);
  assert_null(a);
  assert_non_null(strstr(err, "state MYS: adapter options not read"));
  free(err);
  uv_loop_close(&loop);
  fb_config_free(&cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_kind_reads_its_keys),
      cmocka_unit_test(test_errors_name_key_and_line),
      cmocka_unit_test(test_open_refuses_unconfigured_state),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
