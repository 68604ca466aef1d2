/* Hit references: bound to the query, the requesting and the responding state, valid
 * until their expiry, and useless with another key or altered by one character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hub/followup.h"
#include "hub/hub.h"
#include "search/engine.h"

#define NOW 1800000000LL

static void setup_hub(fb_hub *hub, fb_followup *f, uint8_t fill) {
  memset(hub, 0, sizeof *hub);
  memset(f, 0, sizeof *f);
  fb_config_defaults(&hub->cfg);
  f->hub = hub;
  memset(f->key, fill, sizeof f->key);
}

static void test_binding(void **st) {
  (void)st;
  fb_hub hub;
  fb_followup f;
  setup_hub(&hub, &f, 7);
  char ref[FB_HIT_REF_MAX];
  fb_hit_ref_make(&f, "q-01JDX8Z8N5T5Q8W1", "IDN", "MYS", NOW, ref);
  assert_true(strncmp(ref, "hr1.", 4) == 0);
  assert_null(strstr(ref, "q-01")); /* opaque: the query id is not in it */
  assert_true(fb_hit_ref_check(&f, ref, "q-01JDX8Z8N5T5Q8W1", "IDN", "MYS", NOW));
  assert_false(fb_hit_ref_check(&f, ref, "q-01JDX8Z8N5T5Q8W2", "IDN", "MYS", NOW)); /* another query */
  assert_false(fb_hit_ref_check(&f, ref, "q-01JDX8Z8N5T5Q8W1", "THA", "MYS", NOW)); /* another requester */
  assert_false(fb_hit_ref_check(&f, ref, "q-01JDX8Z8N5T5Q8W1", "IDN", "BGD", NOW)); /* another state */
  /* valid for hit_ref_days (30), not a second more */
  assert_true(fb_hit_ref_check(&f, ref, "q-01JDX8Z8N5T5Q8W1", "IDN", "MYS", NOW + 30LL * 86400));
  assert_false(fb_hit_ref_check(&f, ref, "q-01JDX8Z8N5T5Q8W1", "IDN", "MYS", NOW + 30LL * 86400 + 1));
  fb_config_free(&hub.cfg);
}

static void test_tampering(void **st) {
  (void)st;
  fb_hub hub, other_hub;
  fb_followup f, other;
  setup_hub(&hub, &f, 7);
  setup_hub(&other_hub, &other, 8);
  char ref[FB_HIT_REF_MAX];
  fb_hit_ref_make(&f, "q-1", "IDN", "MYS", NOW, ref);
  assert_false(fb_hit_ref_check(&other, ref, "q-1", "IDN", "MYS", NOW)); /* another hub key */
  for (size_t i = 4; i < strlen(ref); i++) { /* every single-character change is refused */
    char bad[FB_HIT_REF_MAX];
    strcpy(bad, ref);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    if (strcmp(bad, ref) == 0) continue;
    assert_false(fb_hit_ref_check(&f, bad, "q-1", "IDN", "MYS", NOW));
  }
  /* a longer expiry with the old MAC is refused too */
  char *dot = strchr(ref + 4, '.');
  char forged[FB_HIT_REF_MAX];
  snprintf(forged, sizeof forged, "hr1.9999999999%s", dot);
  assert_false(fb_hit_ref_check(&f, forged, "q-1", "IDN", "MYS", NOW));
  assert_false(fb_hit_ref_check(&f, "", "q-1", "IDN", "MYS", NOW));
  assert_false(fb_hit_ref_check(&f, NULL, "q-1", "IDN", "MYS", NOW));
  assert_false(fb_hit_ref_check(&f, "hr1.", "q-1", "IDN", "MYS", NOW));
  fb_config_free(&hub.cfg);
  fb_config_free(&other_hub.cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binding),
      cmocka_unit_test(test_tampering),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
