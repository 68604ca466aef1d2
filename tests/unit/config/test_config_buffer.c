/* fb_config_load_string reads exactly `len` bytes: a buffer with no NUL after it (as
 * libFuzzer passes, or a mapped file) must not be read past (fuzz_config found the
 * line finders doing so; the ASan build of this test catches a regression). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static void load_exact(const char *text, int want_rc) {
  size_t len = strlen(text);
  char *buf = malloc(len); /* no terminator */
  memcpy(buf, text, len);
  fb_config cfg;
  char *err = NULL;
  int rc = fb_config_load_string(buf, len, "/etc/fb/hub.lua", &cfg, &err);
  free(buf);
  assert_int_equal(rc, want_rc);
  if (rc == 0) fb_config_free(&cfg);
  else {
    assert_non_null(strstr(err, "hub.lua:"));
    free(err);
  }
}

static void test_unterminated_buffer(void **state) {
  (void)state;
  load_exact("listen = {\n  { address = \"127.0.0.1:8080\" },\n}\nlog_level = \"warn\"", 0);
  load_exact("listen = {\n  { address = 5 },\n}", -1);        /* error: the key's line is looked up */
  load_exact("listen = { { address = \"127.0.0.1:1\" } }\nlimits = { max_body = -1 }", -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_unterminated_buffer)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
