/* core/error.c: the one way errors are reported (docs/architecture.md "Conventions"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"

static void test_set_error_formats_and_returns_minus_one(void **state) {
  (void)state;
  char *err = NULL;
  assert_int_equal(fb_set_error(&err, "%s: %d problems", "MYS.lua", 3), -1);
  assert_string_equal(err, "MYS.lua: 3 problems");
  free(err);
  /* No room limit: a message longer than any fixed buffer the old copies used. */
  char big[5000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  err = NULL;
  fb_set_error(&err, "[%s]", big);
  assert_int_equal(strlen(err), sizeof big + 1);
  assert_int_equal(err[0], '[');
  assert_int_equal(err[sizeof big], ']');
  free(err);
}

static void test_null_err_is_allowed(void **state) {
  (void)state;
  assert_int_equal(fb_set_error(NULL, "nobody reads %s", "this"), -1);
  assert_int_equal(fb_prefix_error(NULL, "x: "), -1);
  char *err = NULL;
  assert_int_equal(fb_prefix_error(&err, "x: "), -1); /* nothing to prefix */
  assert_null(err);
}

static void test_prefix_error_adds_context(void **state) {
  (void)state;
  char *err = NULL;
  fb_set_error(&err, "%s: not an Ed25519 key", "keys/a.pem");
  assert_int_equal(fb_prefix_error(&err, "policy_keys[%d]: ", 2), -1);
  assert_string_equal(err, "policy_keys[2]: keys/a.pem: not an Ed25519 key");
  fb_prefix_error(&err, "%s", "hub: ");
  assert_string_equal(err, "hub: policy_keys[2]: keys/a.pem: not an Ed25519 key");
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_set_error_formats_and_returns_minus_one),
      cmocka_unit_test(test_null_err_is_allowed),
      cmocka_unit_test(test_prefix_error_adds_context),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
