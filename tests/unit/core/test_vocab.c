/* The one vocabulary (core/vocab.h): the generated lists, the ISO 3166-1 table, and
 * the legal officers' guide, whose tables must list exactly the words the code takes
 * (docs/policy-guide.md is what people copy from). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"
#include "core/vocab.h"

static void test_lists(void **state) {
  (void)state;
  assert_int_equal(FB_PURPOSE_COUNT, 5);
  assert_string_equal(fb_purposes[FB_PURPOSE_PROSECUTION], "prosecution");
  assert_null(fb_purposes[FB_PURPOSE_COUNT]);
  assert_int_equal(fb_list_index(fb_priorities, "immediate"), FB_PRIORITY_IMMEDIATE);
  assert_int_equal(fb_list_index(fb_priorities, "Immediate"), -1);
  assert_int_equal(fb_list_index(fb_priorities, NULL), -1);
  assert_int_equal(fb_list_index(fb_role_names, "focal_point_admin"), FB_ROLE_INDEX_FOCAL_POINT_ADMIN);
  assert_int_equal(fb_list_index(fb_outcomes, "withheld"), FB_OUTCOME_WITHHELD);
  /* A word that is a prefix of another, or shares its first byte, is still only itself. */
  assert_int_equal(fb_list_index(fb_role_names, "focal_point"), FB_ROLE_INDEX_FOCAL_POINT);
  assert_int_equal(fb_list_index(fb_role_names, "focal_point_"), -1);
  assert_int_equal(fb_list_index(fb_role_names, "focal"), -1);
  assert_int_equal(fb_list_index(fb_purposes, "intelligence"), FB_PURPOSE_INTELLIGENCE);
  assert_int_equal(fb_list_index(fb_purposes, "investigation"), FB_PURPOSE_INVESTIGATION);
  assert_int_equal(fb_list_index(fb_purposes, "i"), -1);
  assert_int_equal(fb_list_index(fb_purposes, ""), -1);
  assert_int_equal(fb_list_index(fb_record_fields, "name"), FB_RECORD_FIELD_NAME);
  assert_int_equal(fb_list_index(fb_record_fields, "nam"), -1);
  assert_int_equal(fb_list_index(fb_record_fields, "names"), -1);
  assert_int_equal(fb_list_index(fb_record_fields, "nationality"), FB_RECORD_FIELD_NATIONALITY);
  static const char *const with_empty[] = {"a", "", "ab", NULL};
  assert_int_equal(fb_list_index(with_empty, ""), 1);
  assert_int_equal(fb_list_index(with_empty, "ab"), 2);
  char buf[64];
  assert_string_equal(fb_list_text(fb_priorities, buf, sizeof buf), "routine, urgent, immediate");
  assert_string_equal(fb_list_text(fb_effects, buf, sizeof buf), "deny, hit_only, allow, withheld");
  char small[8];
  fb_list_text(fb_priorities, small, sizeof small); /* truncates, stays a string */
  assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_iso3166(void **state) {
  (void)state;
  size_t n = 0;
  while (fb_iso3166_codes[n]) {
    if (n) assert_true(strcmp(fb_iso3166_codes[n - 1], fb_iso3166_codes[n]) < 0); /* sorted */
    assert_int_equal(strlen(fb_iso3166_codes[n]), 3);
    n++;
  }
  assert_int_equal(n, 249);
  for (size_t i = 0; i < n; i++) assert_true(fb_iso3166_alpha3(fb_iso3166_codes[i]));
  assert_true(fb_iso3166_alpha3("BGD"));
  assert_true(fb_iso3166_alpha3("ABW")); /* first */
  assert_true(fb_iso3166_alpha3("ZWE")); /* last */
  assert_false(fb_iso3166_alpha3("BGN"));
  assert_false(fb_iso3166_alpha3("bgd"));
  assert_false(fb_iso3166_alpha3("BG"));
  assert_false(fb_iso3166_alpha3("BGDX"));
  assert_false(fb_iso3166_alpha3(NULL));
}

/* The backquoted words of the guide's table row that starts with `key`, in order. */
static size_t row_words(const char *doc, const char *row_start, char words[][40], size_t cap) {
  const char *row = strstr(doc, row_start);
  if (!row) fail_msg("docs/policy-guide.md has no row starting %s", row_start);
  const char *end = strchr(row, '\n');
  const char *p = row + strlen(row_start);
  /* skip to the last column */
  const char *last = p;
  for (const char *q = p; q < end; q++)
    if (*q == '|' && q + 1 < end) last = q + 1;
  size_t n = 0;
  for (p = last; p < end && n < cap; p++) {
    if (*p != '`') continue;
    const char *close = memchr(p + 1, '`', (size_t)(end - p - 1));
    if (!close) break;
    snprintf(words[n++], 40, "%.*s", (int)(close - p - 1), p + 1);
    p = close;
  }
  return n;
}

static void expect_row(const char *doc, const char *row_start, const char *const *list) {
  char words[32][40];
  size_t n = row_words(doc, row_start, words, 32);
  size_t i = 0;
  for (; list[i]; i++) {
    if (i >= n) fail_msg("guide row %s lacks %s", row_start, list[i]);
    if (strcmp(words[i], list[i]) != 0) fail_msg("guide row %s: %s where the code has %s", row_start, words[i], list[i]);
  }
  if (n != i) fail_msg("guide row %s lists %s, which the code does not know", row_start, words[i]);
}

static void test_guide_matches(void **state) {
  (void)state;
  size_t len;
  char *doc = fb_read_file(FB_SOURCE_DIR "/docs/policy-guide.md", 1 << 20, &len);
  assert_non_null(doc);
  expect_row(doc, "| `purpose` |", fb_purposes);
  expect_row(doc, "| `priority` |", fb_priorities);
  expect_row(doc, "| `legal_basis` |", fb_legal_bases);
  expect_row(doc, "| `role` |", fb_role_names);
  expect_row(doc, "| `subject` |", fb_subject_fields);
  expect_row(doc, "| `tags = { \"victim\", \"minor\" }` |", fb_tags);
  expect_row(doc, "| `type = \"person\"` |", fb_record_types);
  /* "Fields you can redact: `name`, ... `tags`." */
  const char *f = strstr(doc, "Fields you can redact:");
  assert_non_null(f);
  const char *end = strstr(f, ". (");
  assert_non_null(end);
  size_t i = 0;
  for (const char *p = f; p < end; p++) {
    if (*p != '`') continue;
    const char *close = strchr(p + 1, '`');
    if (!fb_record_fields[i]) fail_msg("the guide lists a field the code does not know");
    if ((size_t)(close - p - 1) != strlen(fb_record_fields[i]) || strncmp(p + 1, fb_record_fields[i], (size_t)(close - p - 1)) != 0)
      fail_msg("the guide's fields differ at %s", fb_record_fields[i]);
    i++;
    p = close;
  }
  assert_null(fb_record_fields[i]);
  free(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lists),
      cmocka_unit_test(test_iso3166),
      cmocka_unit_test(test_guide_matches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
