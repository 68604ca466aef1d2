/* Strict globals (fb_sandbox_strict_globals): a name nothing defined raises instead of
 * reading nil, the left-out libraries say so, an explain hook speaks first, and an
 * existing metatable of the global table keeps its other fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <lauxlib.h>

#include "lua/sandbox.h"

/* Runs `src` in a strict sandbox; returns the error (malloc'd) or NULL. */
static char *run_strict(const char *src, fb_sandbox_explain_fn explain, void *ud) {
  fb_sandbox *sb = fb_sandbox_new(1u << 20);
  assert_non_null(sb);
  fb_sandbox_strict_globals(sb, "tests (they run in a sandbox)", explain, ud);
  char *err = NULL;
  int rc = fb_sandbox_run(sb, src, strlen(src), "=t", 100000, &err);
  assert_int_equal(rc != 0, err != NULL);
  fb_sandbox_free(sb);
  return err;
}

static void expect_error(const char *src, fb_sandbox_explain_fn explain, void *ud, const char *want) {
  char *err = run_strict(src, explain, ud);
  if (!err || !strstr(err, want)) fail_msg("'%s': error '%s' lacks '%s'", src, err ? err : "(none)", want);
  free(err);
}

static void test_undefined_name_raises(void **state) {
  (void)state;
  expect_error("level = high", NULL, NULL, "high is not defined (write words in quotes, like \"high\")");
  expect_error("x = io.open('/etc/passwd')", NULL, NULL, "io is not available in tests (they run in a sandbox)");
  expect_error("require 'x'", NULL, NULL, "require is not available in tests");
  /* What is defined still reads, and so do locals and rawget. */
  char *err = run_strict("local a = 1\nb = a + 1\nassert(b == 2 and string.len('xy') == 2)", NULL, NULL);
  if (err) fail_msg("defined names failed: %s", err);
}

static int explained;
static void explain(lua_State *L, const char *name, void *ud) {
  explained++;
  if (strcmp(name, "colour") == 0) luaL_error(L, "%s: did you mean %s?", name, (const char *)ud);
}

static void test_explain_speaks_first(void **state) {
  (void)state;
  explained = 0;
  expect_error("x = colour", explain, "color", "colour: did you mean color?");
  expect_error("x = shade", explain, "color", "shade is not defined"); /* hook passes: default */
  assert_int_equal(explained, 2);
  expect_error("x = os.time()", explain, "color", "os is not available"); /* before the hook */
  assert_int_equal(explained, 2);
}

static int assigned;
static int count_assignment(lua_State *L) {
  assigned++;
  lua_rawset(L, 1);
  return 0;
}

/* The config loader records assignments through __newindex: strict reads keep it. */
static void test_keeps_existing_metatable(void **state) {
  (void)state;
  fb_sandbox *sb = fb_sandbox_new(1u << 20);
  lua_State *L = fb_sandbox_state(sb);
  lua_pushglobaltable(L);
  lua_newtable(L);
  lua_pushcfunction(L, count_assignment);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  fb_sandbox_strict_globals(sb, "tests", NULL, NULL);
  assigned = 0;
  char *err = NULL;
  const char *src = "a = 1\nb = a + 1";
  assert_int_equal(fb_sandbox_run(sb, src, strlen(src), "=t", 100000, &err), 0);
  assert_int_equal(assigned, 2);
  lua_getglobal(L, "b");
  assert_int_equal(lua_tointeger(L, -1), 2);
  lua_pop(L, 1);
  const char *bad = "c = missing";
  assert_int_equal(fb_sandbox_run(sb, bad, strlen(bad), "=t", 100000, &err), -1);
  assert_non_null(strstr(err, "missing is not defined"));
  free(err);
  fb_sandbox_free(sb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_undefined_name_raises),
      cmocka_unit_test(test_explain_speaks_first),
      cmocka_unit_test(test_keeps_existing_metatable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
