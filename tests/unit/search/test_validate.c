/* The POST /v1/search body (API.md) through fb_search_validate: each field's rule at
 * its bounds (one under, at, one over), counted in characters not bytes, and the field
 * each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "search/validate.h"

static fb_config cfg;

static int setup(void **state) {
  (void)state;
  const char *src = "states = { MYS = { adapter = \"sqlite\", path = \"m.db\" }, IDN = { adapter = \"sqlite\", path = \"i.db\" },"
                    "  THA = { adapter = \"sqlite\", path = \"t.db\" } }\nlimits = { max_states = 2 }";
  char *err = NULL;
  if (fb_config_load_string(src, strlen(src), "t.lua", &cfg, &err) != 0) fail_msg("%s", err);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fb_config_free(&cfg);
  return 0;
}

static json_t *valid_body(void) {
  return json_pack("{s:{s:s}, s:s, s:s, s:s, s:s}", "subject", "name", "Ahmad bin Ismail", "purpose", "prosecution",
                   "priority", "urgent", "legal_basis", "mla_treaty", "justification", "Suspected facilitator");
}

/* `n` copies of the UTF-8 text `unit`, as a JSON string. */
static json_t *repeat(const char *unit, size_t n) {
  size_t u = strlen(unit);
  char *s = malloc(u * n + 1);
  for (size_t i = 0; i < n; i++) memcpy(s + i * u, unit, u);
  s[u * n] = '\0';
  json_t *j = json_string(s);
  free(s);
  return j;
}

/* Validates the valid body with `key` set to `value` (stolen; NULL removes the key)
 * and checks the outcome: success when `want_field` is NULL, else a refusal naming it. */
static void expect(const char *key, json_t *value, const char *want_field) {
  json_t *body = valid_body();
  if (value) json_object_set_new(body, key, value);
  else json_object_del(body, key);
  fb_search_params p;
  fb_validation_error e;
  int rc = fb_search_validate(body, &cfg, "IDN", NULL, &p, &e);
  if (want_field == NULL && rc != 0) fail_msg("%s: refused (%s: %s)", key, e.field, e.message);
  if (want_field != NULL && rc == 0) fail_msg("%s: accepted, want a refusal naming %s", key, want_field);
  if (rc == 0) {
    fb_search_params_free(&p);
  } else {
    assert_string_equal(e.code, "invalid_request");
    assert_string_equal(e.field, want_field);
    assert_true(e.message[0] != '\0');
  }
  json_decref(body);
}

static void test_justification_bounds(void **state) {
  (void)state;
  expect("justification", NULL, "justification");
  expect("justification", json_integer(12345678901), "justification");
  expect("justification", repeat("x", 9), "justification");
  expect("justification", repeat("x", 10), NULL);
  expect("justification", repeat("\xc3\xa9", 9), "justification"); /* 18 bytes, 9 characters */
  expect("justification", repeat("\xc3\xa9", 10), NULL);
  expect("justification", repeat("x", 2000), NULL);
  expect("justification", repeat("x", 2001), "justification");
}

static void test_case_ref_bounds(void **state) {
  (void)state;
  expect("case_ref", repeat("c", 64), NULL);
  expect("case_ref", repeat("\xe0\xb8\x81", 64), NULL); /* Thai: 192 bytes, 64 characters */
  expect("case_ref", repeat("c", 65), "case_ref");
  expect("case_ref", json_null(), NULL);
  expect("case_ref", json_true(), "case_ref");
}

static void test_subject(void **state) {
  (void)state;
  expect("subject", NULL, "subject");
  expect("subject", json_pack("{}"), "subject");
  expect("subject", json_pack("{s:s}", "dob", "1985"), "subject"); /* nothing searchable */
  expect("subject", json_pack("{s:s, s:s}", "name", "X", "eye_colour", "blue"), "subject.eye_colour");
  expect("subject", json_pack("{s:s, s:s}", "name", "X", "dob", "1985-13-01"), "subject.dob");
  expect("subject", json_pack("{s:s, s:s}", "name", "X", "dob", "1985-02-31x"), "subject.dob");
  expect("subject", json_pack("{s:s, s:s}", "name", "X", "dob", "1985"), NULL);
  expect("subject", json_pack("{s:s, s:s}", "name", "X", "dob", "1985-03-12"), NULL);
  expect("subject", json_pack("{s:s, s:s}", "name", "X", "nationality", "mys"), "subject.nationality");
  expect("subject", json_pack("{s:s, s:s}", "name", "X", "nationality", "MYS"), NULL);
  expect("subject", json_pack("{s:s}", "name", ""), "subject.name");
  expect("subject", json_pack("{s:i}", "name", 5), "subject.name");
  expect("subject", json_pack("{s:o}", "name", repeat("n", 200)), NULL);
  expect("subject", json_pack("{s:o}", "name", repeat("n", 201)), "subject.name");
  expect("subject", json_pack("{s:s}", "vessel", "IMO 9123453"), NULL);
}

static void test_enums_and_unknown_fields(void **state) {
  (void)state;
  expect("purpose", json_string("fishing"), "purpose");
  expect("priority", json_string("whenever"), "priority");
  expect("legal_basis", json_string("curiosity"), "legal_basis");
  expect("legal_basis", NULL, "legal_basis");
  expect("mood", json_string("curious"), "mood");
}

static void test_states(void **state) {
  (void)state;
  expect("states", json_pack("[]"), "states");
  expect("states", json_pack("[s]", "XXX"), "states[0]");
  expect("states", json_pack("[s, s]", "MYS", "MYS"), "states[1]");
  expect("states", json_pack("[s, i]", "MYS", 1), "states[1]");
  expect("states", json_pack("[s, s]", "MYS", "THA"), NULL);
  expect("states", json_pack("[s, s, s]", "MYS", "THA", "IDN"), "states"); /* over limits.max_states = 2 */
  expect("states", json_string("MYS"), "states");
  /* No states: every configured state but the requester's own. */
  json_t *body = valid_body();
  fb_search_params p;
  fb_validation_error e;
  assert_int_equal(fb_search_validate(body, &cfg, "IDN", NULL, &p, &e), 0);
  assert_int_equal(p.nstates, 2);
  assert_string_equal(p.states[0], "MYS");
  assert_string_equal(p.states[1], "THA");
  fb_search_params_free(&p);
  /* The dry run's extra keys pass only when named. */
  json_object_set_new(body, "as", json_string("MYS"));
  assert_int_equal(fb_search_validate(body, &cfg, "IDN", NULL, &p, &e), -1);
  assert_string_equal(e.field, "as");
  static const char *const extra[] = {"as", NULL};
  assert_int_equal(fb_search_validate(body, &cfg, "IDN", extra, &p, &e), 0);
  fb_search_params_free(&p);
  json_decref(body);
}

/* The refusal's exact sentence (API.md clients show it as is). */
static void expect_message(const char *key, json_t *value, const char *want_field, const char *want_message) {
  json_t *body = valid_body();
  if (value) json_object_set_new(body, key, value);
  else json_object_del(body, key);
  fb_search_params p;
  fb_validation_error e;
  if (fb_search_validate(body, &cfg, "IDN", NULL, &p, &e) == 0) fail_msg("%s: accepted", key);
  assert_string_equal(e.code, "invalid_request");
  assert_string_equal(e.field, want_field);
  assert_string_equal(e.message, want_message);
  json_decref(body);
}

static void test_exact_messages(void **state) {
  (void)state;
  const char *purposes = "investigation, prosecution, victim_protection, intelligence, border_screening";
  char want[256];
  snprintf(want, sizeof want, "purpose is required: one of %s.", purposes);
  expect_message("purpose", NULL, "purpose", want);
  snprintf(want, sizeof want, "purpose must be one of %s.", purposes);
  expect_message("purpose", json_string("fishing"), "purpose", want);
  expect_message("purpose", json_integer(1), "purpose", want);
  /* A word of the vocabulary with a byte more, a byte less or another case is no word. */
  expect_message("purpose", json_string("prosecutions"), "purpose", want);
  expect_message("purpose", json_string("prosecutio"), "purpose", want);
  expect_message("purpose", json_string("Prosecution"), "purpose", want);
  expect_message("purpose", json_string(""), "purpose", want);
  expect_message("priority", json_string("urgen"), "priority", "priority must be one of routine, urgent, immediate.");
  expect_message("legal_basis", NULL, "legal_basis",
                 "legal_basis is required: one of mla_treaty, bilateral_mou, interpol_channel, domestic_law, consent, "
                 "informal.");
  expect_message("subject", json_pack("{s:s, s:s}", "name", "X", "eye_colour", "blue"), "subject.eye_colour",
                 "Unknown subject field eye_colour (use name, dob, document, nationality, phone, vessel).");
  expect_message("subject", json_pack("{s:s, s:s}", "name", "X", "nam", "Y"), "subject.nam",
                 "Unknown subject field nam (use name, dob, document, nationality, phone, vessel).");
  expect_message("subject", json_pack("{s:s, s:s}", "name", "X", "names", "Y"), "subject.names",
                 "Unknown subject field names (use name, dob, document, nationality, phone, vessel).");
  const char *key60 = "k23456789_123456789_123456789_123456789_123456789_123456789_";
  expect_message("subject", json_pack("{s:s, s:s}", "name", "X", key60, "Y"),
                 "subject.k23456789_123456789_123456789_123456789_123456789_",
                 "Unknown subject field k23456789_123456789_123456789_123456789_123456789_ (use name, dob, document, "
                 "nationality, phone, vessel).");
  expect_message("subject", json_pack("{s:i}", "name", 5), "subject.name", "subject.name must be a string.");
  expect_message("subject", json_pack("{s:s}", "document", ""), "subject.document",
                 "subject.document must be 1 to 200 characters.");
  expect_message("subject", json_pack("{s:s, s:s}", "name", "X", "dob", "1985-13-01"), "subject.dob",
                 "subject.dob must be YYYY-MM-DD or YYYY.");
  expect_message("subject", json_pack("{s:s}", "dob", "1985"), "subject",
                 "subject needs at least one of name, document, phone, vessel.");
  expect_message("subject", json_string("x"), "subject", "subject must be an object.");
  expect_message("states", json_pack("[s, s]", "MYS", "MYS"), "states[1]", "states[1] names a state twice.");
  expect_message("states", json_pack("[s, s]", "THA", "MY"), "states[1]", "states[1] is not a state of this hub.");
  expect_message("states", json_pack("[s, s, s]", "MYS", "THA", "IDN"), "states", "states names more than 2 states.");
  expect_message("purposes", json_string("x"), "purposes", "Unknown field purposes.");
  expect_message("subjec", json_string("x"), "subjec", "Unknown field subjec.");
  expect_message(key60, json_string("x"), key60, "Unknown field k23456789_123456789_123456789_123456789_123456789_123456789_.");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_justification_bounds), cmocka_unit_test(test_case_ref_bounds),
      cmocka_unit_test(test_subject), cmocka_unit_test(test_enums_and_unknown_fields),
      cmocka_unit_test(test_states), cmocka_unit_test(test_exact_messages),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
