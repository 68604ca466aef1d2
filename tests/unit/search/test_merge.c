/* fb_merge: linking records across states into entities (broker/search/merge.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "search/merge.h"

static json_t *load(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (!j) fail_msg("bad test JSON: %s", e.text);
  return j;
}

static json_t *merge(const char *per_state) {
  json_t *in = load(per_state);
  char *before = json_dumps(in, JSON_SORT_KEYS);
  json_t *out = fb_merge(in);
  char *after = json_dumps(in, JSON_SORT_KEYS);
  assert_string_equal(before, after); /* input untouched */
  free(before);
  free(after);
  json_decref(in);
  assert_true(json_is_array(out));
  return out;
}

/* The entity holding record `id`, or NULL. */
static json_t *entity_of(json_t *results, const char *id) {
  size_t i, j;
  json_t *e, *r;
  json_array_foreach(results, i, e) {
    json_array_foreach(json_object_get(e, "records"), j, r) {
      if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0) return e;
    }
  }
  return NULL;
}

static bool linked(json_t *results, const char *a, const char *b) {
  json_t *ea = entity_of(results, a), *eb = entity_of(results, b);
  assert_non_null(ea);
  assert_non_null(eb);
  return ea == eb;
}

static bool has_match(json_t *entity, const char *ev) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(entity, "match"), i, m) {
    if (strcmp(json_string_value(m), ev) == 0) return true;
  }
  return false;
}

static void test_document_links_across_states(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\","
      "  \"documents\":[{\"kind\":\"passport\",\"number\":\"A12345678\",\"country\":\"MYS\"}]}],"
      " \"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"Ahmad Ismail\",\"dob\":\"1985-03-12\","
      "  \"documents\":[{\"kind\":\"passport\",\"number\":\"A 1234-5678\",\"country\":\"MYS\"}]},"
      "  {\"id\":\"I2\",\"type\":\"person\",\"name\":\"Budi Santoso\",\"dob\":\"1990\"}]}");
  assert_int_equal(json_array_size(res), 2);
  json_t *e1 = json_array_get(res, 0);
  assert_string_equal(json_string_value(json_object_get(e1, "entity")), "e1");
  assert_true(linked(res, "M1", "I1"));
  assert_false(linked(res, "M1", "I2"));
  assert_true(has_match(e1, "document") && has_match(e1, "name") && has_match(e1, "dob"));
  assert_true(json_real_value(json_object_get(e1, "score")) == 0.97); /* the API.md example */
  /* each record gains its state; records ordered by state then id */
  json_t *recs = json_object_get(e1, "records");
  assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "state")), "IDN");
  assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "state")), "MYS");
  /* a single record is its own entity, score 0.5, no evidence */
  json_t *e2 = json_array_get(res, 1);
  assert_string_equal(json_string_value(json_object_get(e2, "entity")), "e2");
  assert_true(json_real_value(json_object_get(e2, "score")) == 0.5);
  assert_int_equal(json_array_size(json_object_get(e2, "match")), 0);
  json_decref(res);
}

static void test_document_country_conflict_does_not_link(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"documents\":[{\"number\":\"A1234567\",\"country\":\"MYS\"}]}],"
      " \"THA\":[{\"id\":\"T1\",\"type\":\"person\",\"documents\":[{\"number\":\"A1234567\",\"country\":\"THA\"}]}]}");
  assert_false(linked(res, "M1", "T1"));
  json_decref(res);
  res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"documents\":[{\"number\":\"A1234567\",\"country\":\"MYS\"}]}],"
      " \"THA\":[{\"id\":\"T2\",\"type\":\"person\",\"documents\":[{\"number\":\"A1234567\"}]}]}");
  assert_true(linked(res, "M1", "T2")); /* no country on one side: the number decides */
  json_decref(res);
}

static void test_name_variants_and_word_order_link_with_dob(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"BGD\":[{\"id\":\"B1\",\"type\":\"person\",\"name\":\"Mohammad Rafiqul Islam\",\"dob\":\"1979-11-02\"}],"
      " \"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Muhammad Rafikul Islam\",\"dob\":\"1979\"}],"
      " \"THA\":[{\"id\":\"T1\",\"type\":\"person\",\"name\":\"Islam, Md. Rafiqul\",\"dob\":\"1979-11-02\"}],"
      " \"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"Rafiqul Islam\",\"dob\":\"1990-01-01\"}]}");
  assert_true(linked(res, "B1", "M1"));  /* transliteration, year only */
  assert_true(linked(res, "B1", "T1"));  /* word order, abbreviation, punctuation */
  assert_false(linked(res, "B1", "I1")); /* dob years differ */
  json_t *e = entity_of(res, "B1");
  assert_true(has_match(e, "name") && has_match(e, "dob"));
  assert_false(has_match(e, "document"));
  json_decref(res);
}

static void test_name_alone_does_not_link(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\"}],"
      " \"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985\"}]}");
  assert_false(linked(res, "M1", "I1"));
  json_decref(res);
}

/* Two full dates of birth must agree to the day; the same year is not enough. */
static void test_full_dates_agree_to_the_day(void **state) {
  (void)state;
  json_t *res = merge("{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\"}],"
                      " \"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-07-01\"}]}");
  assert_false(linked(res, "M1", "I1"));
  json_decref(res);
}

static void test_redacted_fields_do_not_link(void **state) {
  (void)state;
  /* masked, hashed or year-reduced values listed in "redacted" never link */
  json_t *res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Nur Aisyah binti Rahman\",\"dob\":\"2010-07-21\","
      "  \"documents\":[{\"number\":\"B7654321\"}],\"phones\":[\"+6281234567890\"]}],"
      " \"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"[REDACTED]\",\"dob\":\"2010\","
      "  \"documents\":[{\"number\":\"B7654321\"}],\"phones\":[\"+6281234567890\"],"
      "  \"redacted\":[\"name\",\"dob\",\"documents\",\"phones\"]},"
      "  {\"id\":\"I2\",\"type\":\"person\",\"name\":\"Nur Aisyah Rahman\",\"dob\":\"2010-07-21\","
      "  \"documents\":[{\"number\":\"[REDACTED]\"}],\"redacted\":[\"dob\"]}],"
      " \"THA\":[{\"id\":\"T1\",\"type\":\"person\",\"documents\":[{\"number\":\"B7654321\"}],"
      "  \"redacted\":[\"documents[0].number\"]}]}");
  assert_false(linked(res, "M1", "I1"));
  assert_false(linked(res, "M1", "I2")); /* name equal, but the dob is redacted on I2 */
  assert_false(linked(res, "M1", "T1"));
  json_decref(res);

  /* control: the same records unredacted do link */
  res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"documents\":[{\"number\":\"B7654321\"}]}],"
      " \"THA\":[{\"id\":\"T1\",\"type\":\"person\",\"documents\":[{\"number\":\"B7654321\"}]}]}");
  assert_true(linked(res, "M1", "T1"));
  json_decref(res);
}

#define FP_A "9f2c0a7d4e1b3c5a6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
#define FP_B "0000000000000000000000000000000000000000000000000000000000000001"

static void test_equal_fingerprints_link(void **state) {
  (void)state;
  /* documents hashed by both states' policies (same deployment key): equal hashes
   * link; a different hash, a plain number and a masked value do not */
  json_t *res = merge(
      "{\"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"[REDACTED]\",\"documents\":[\"" FP_A "\"],"
      "  \"redacted\":[\"name\",\"documents\"]}],"
      " \"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"[REDACTED]\",\"documents\":[\"" FP_B "\",\"" FP_A "\"],"
      "  \"redacted\":[\"name\",\"documents\"]},"
      "  {\"id\":\"M2\",\"type\":\"person\",\"documents\":[\"" FP_B "\"],\"redacted\":[\"documents\"]},"
      "  {\"id\":\"M3\",\"type\":\"person\",\"documents\":[{\"number\":\"" FP_A "\"}]}],"
      " \"THA\":[{\"id\":\"T1\",\"type\":\"person\",\"phones\":[\"" FP_A "\"],\"redacted\":[\"phones\"]},"
      "  {\"id\":\"T2\",\"type\":\"person\",\"phones\":[\"" FP_A "\"],\"redacted\":[\"phones\"]},"
      "  {\"id\":\"T3\",\"type\":\"person\",\"documents\":[\"" FP_A "\"]}]}");
  assert_true(linked(res, "I1", "M1"));
  json_t *e = entity_of(res, "I1");
  assert_true(has_match(e, "document_fingerprint"));
  assert_false(has_match(e, "document"));
  assert_true(json_real_value(json_object_get(e, "score")) == 0.9);
  assert_true(linked(res, "M1", "M2")); /* M1's other document */
  assert_false(linked(res, "I1", "M3")); /* hashed on one side only: no link */
  assert_false(linked(res, "I1", "T3")); /* not listed as redacted: not a fingerprint */
  assert_false(linked(res, "I1", "T1")); /* a phone's hash is not a document's */
  assert_true(linked(res, "T1", "T2"));
  assert_true(has_match(entity_of(res, "T1"), "phone_fingerprint"));
  json_decref(res);
}

static void test_near_explains_namesakes_kept_apart(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\"},"
      "  {\"id\":\"M2\",\"type\":\"person\",\"name\":\"Budi Santoso\",\"dob\":\"1970-01-01\"}],"
      " \"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"Ahmad Ismail\",\"dob\":\"1990-01-01\"},"
      "  {\"id\":\"I2\",\"type\":\"person\",\"name\":\"Ahmed bin Ismail\"}]}");
  json_t *m1 = entity_of(res, "M1"), *i1 = entity_of(res, "I1"), *i2 = entity_of(res, "I2");
  assert_true(m1 != i1 && m1 != i2 && i1 != i2);
  json_t *near = json_object_get(m1, "near");
  assert_int_equal(json_array_size(near), 2);
  bool saw_dob = false, saw_nodob = false;
  size_t i;
  json_t *n;
  json_array_foreach(near, i, n) {
    const char *other = json_string_value(json_object_get(n, "entity"));
    const char *why = json_string_value(json_object_get(n, "why"));
    if (strcmp(other, json_string_value(json_object_get(i1, "entity"))) == 0) {
      assert_string_equal(why, "same name, different dob");
      saw_dob = true;
    } else {
      assert_string_equal(other, json_string_value(json_object_get(i2, "entity")));
      assert_string_equal(why, "same name, no dob to compare");
      saw_nodob = true;
    }
  }
  assert_true(saw_dob && saw_nodob);
  assert_int_equal(json_array_size(json_object_get(i1, "near")), 2); /* both directions */
  assert_null(json_object_get(entity_of(res, "M2"), "near"));       /* nobody close: no key */
  json_decref(res);
}

static void test_names_link_across_scripts(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\"}],"
      " \"THA\":[{\"id\":\"T1\",\"type\":\"person\",\"name\":\"\u0e2d\u0e32\u0e2b\u0e21\u0e31\u0e14 \u0e1a\u0e34\u0e19 "
      "\u0e2d\u0e34\u0e2a\u0e21\u0e32\u0e2d\u0e34\u0e25\",\"dob\":\"1985-03-12\"}],"
      " \"BGD\":[{\"id\":\"B1\",\"type\":\"person\",\"name\":\"\u0986\u09b9\u09ae\u09a6 \u09ac\u09bf\u09a8 "
      "\u0987\u09b8\u09ae\u09be\u0987\u09b2\",\"dob\":\"1985\"},"
      "  {\"id\":\"B2\",\"type\":\"person\",\"name\":\"\u0986\u09b9\u09ae\u09a6 \u09ac\u09bf\u09a8 "
      "\u0987\u09b8\u09ae\u09be\u0987\u09b2\",\"dob\":\"1960\"}]}");
  assert_true(linked(res, "M1", "T1"));
  assert_true(linked(res, "M1", "B1"));
  assert_false(linked(res, "M1", "B2")); /* same name, other year */
  json_t *e = entity_of(res, "M1");
  assert_true(has_match(e, "name") && has_match(e, "dob"));
  json_decref(res);
}

static void test_name_links_never_join_contradicting_people(void **state) {
  (void)state;
  /* T is known by name and birth year only; B and C share the name and year but not
   * the day: T may join one of them, never both (the chain would merge strangers) */
  json_t *res = merge(
      "{\"THA\":[{\"id\":\"T\",\"type\":\"person\",\"name\":\"Taslima Akter\",\"dob\":\"1998\"}],"
      " \"IDN\":[{\"id\":\"B\",\"type\":\"person\",\"name\":\"Taslima Akter\",\"dob\":\"1998-03-06\"}],"
      " \"MYS\":[{\"id\":\"C\",\"type\":\"person\",\"name\":\"Taslima Akter\",\"dob\":\"1998-08-25\"}]}");
  assert_false(linked(res, "B", "C"));
  assert_true(linked(res, "T", "B") || linked(res, "T", "C"));
  json_decref(res);
  /* two passports of one country with different numbers: not one person by name */
  res = merge(
      "{\"THA\":[{\"id\":\"T\",\"type\":\"person\",\"name\":\"Kamal bin Salleh\",\"dob\":\"1983\"}],"
      " \"IDN\":[{\"id\":\"B\",\"type\":\"person\",\"name\":\"Kamal b. Salleh\",\"dob\":\"1983\","
      "  \"documents\":[{\"kind\":\"passport\",\"number\":\"A18642059\",\"country\":\"MYS\"}]}],"
      " \"MYS\":[{\"id\":\"C\",\"type\":\"person\",\"name\":\"Kamal bin Salleh\",\"dob\":\"1983\","
      "  \"documents\":[{\"kind\":\"passport\",\"number\":\"A33721104\",\"country\":\"MYS\"}]}]}");
  assert_false(linked(res, "B", "C"));
  /* and the answer says why they were kept apart */
  json_t *near = json_array_get(json_object_get(entity_of(res, "B"), "near"), 0);
  assert_string_equal(json_string_value(json_object_get(near, "entity")),
                      json_string_value(json_object_get(entity_of(res, "C"), "entity")));
  assert_string_equal(json_string_value(json_object_get(near, "why")), "same name, different documents");
  json_decref(res);
  /* an exact key still joins despite a contradiction (a typo in a date) */
  res = merge(
      "{\"IDN\":[{\"id\":\"B\",\"type\":\"person\",\"name\":\"Kamal bin Salleh\",\"dob\":\"1983-05-02\","
      "  \"documents\":[{\"kind\":\"passport\",\"number\":\"A18642059\",\"country\":\"MYS\"}]}],"
      " \"MYS\":[{\"id\":\"C\",\"type\":\"person\",\"name\":\"Kamal bin Salleh\",\"dob\":\"1983-02-05\","
      "  \"documents\":[{\"kind\":\"passport\",\"number\":\"A18642059\",\"country\":\"MYS\"}]}]}");
  assert_true(linked(res, "B", "C"));
  json_decref(res);
}

static void test_every_word_of_a_linking_name_agrees(void **state) {
  (void)state;
  /* similar as wholes (one family name), different given names */
  json_t *res = merge(
      "{\"IDN\":[{\"id\":\"W1\",\"type\":\"person\",\"name\":\"Wati Gunawan\",\"dob\":\"1969-06-11\"}],"
      " \"MYS\":[{\"id\":\"W2\",\"type\":\"person\",\"name\":\"Wahyu Gunawan\",\"dob\":\"1969-06-11\"},"
      "  {\"id\":\"W3\",\"type\":\"person\",\"name\":\"Vichai Jaidee\",\"dob\":\"1971-01-01\"}],"
      " \"THA\":[{\"id\":\"W4\",\"type\":\"person\",\"name\":\"Wichai Jaidee\",\"dob\":\"1971-01-01\"}]}");
  assert_false(linked(res, "W1", "W2"));
  assert_true(linked(res, "W3", "W4")); /* a transliteration variant still links */
  json_decref(res);
}

static void test_vessels_and_persons_stay_apart(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"IDN\":[{\"id\":\"IV\",\"type\":\"vessel\",\"name\":\"KM Sinar Laut\",\"vessel\":{\"imo\":\"9123453\"}},"
      "          {\"id\":\"IP\",\"type\":\"person\",\"name\":\"Ahmad\",\"vessel\":{\"name\":\"KM Sinar Laut\",\"imo\":\"9123453\"}}],"
      " \"MYS\":[{\"id\":\"MV\",\"type\":\"vessel\",\"name\":\"Sinar Laut\",\"vessel\":{\"imo\":\"IMO 9123453\"}},"
      "          {\"id\":\"MV2\",\"type\":\"vessel\",\"name\":\"Sinar Laut\",\"vessel\":{\"imo\":\"9999995\"}}]}");
  assert_true(linked(res, "IV", "MV"));   /* IMO (and name) */
  assert_false(linked(res, "IV", "IP"));  /* a person on board is not the vessel */
  assert_false(linked(res, "MV", "MV2")); /* same name, different IMO */
  json_t *e = entity_of(res, "IV");
  assert_true(has_match(e, "imo") && has_match(e, "name"));
  json_decref(res);
  res = merge(
      "{\"IDN\":[{\"id\":\"IV\",\"type\":\"vessel\",\"name\":\"KM Sinar Laut\",\"vessel\":{\"imo\":\"9123453\"}}],"
      " \"THA\":[{\"id\":\"TV\",\"type\":\"vessel\",\"name\":\"K.M. Sinar Laut\"}]}");
  assert_true(linked(res, "IV", "TV"));   /* vessel name, no conflicting IMO */
  json_decref(res);
  /* a vessel known only by name must not join two ships with different IMOs */
  res = merge(
      "{\"IDN\":[{\"id\":\"IV\",\"type\":\"vessel\",\"name\":\"KM Sinar Laut\",\"vessel\":{\"imo\":\"9123453\"}}],"
      " \"MYS\":[{\"id\":\"MV\",\"type\":\"vessel\",\"name\":\"Sinar Laut\",\"vessel\":{\"imo\":\"IMO 9123453\"}},"
      "          {\"id\":\"MV2\",\"type\":\"vessel\",\"name\":\"Sinar Laut\",\"vessel\":{\"imo\":\"9999995\"}}],"
      " \"THA\":[{\"id\":\"TV\",\"type\":\"vessel\",\"name\":\"K.M. Sinar Laut\"}]}");
  assert_true(linked(res, "IV", "MV"));
  assert_false(linked(res, "MV", "MV2"));
  assert_false(linked(res, "IV", "MV2"));
  json_decref(res);
}

static void test_ordering_by_score(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"MYS\":[{\"id\":\"M1\",\"type\":\"person\",\"name\":\"Siti Rahayu\",\"dob\":\"1992\"},"
      "          {\"id\":\"M2\",\"type\":\"person\",\"phones\":[\"+66812345678\"]},"
      "          {\"id\":\"M3\",\"type\":\"person\",\"name\":\"Somchai Jaidee\",\"dob\":\"1971-05-30\","
      "           \"documents\":[{\"number\":\"AA1234567\",\"country\":\"THA\"}]},"
      "          {\"id\":\"M4\",\"type\":\"person\",\"name\":\"Lone Record\"}],"
      " \"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"name\":\"Siti Rahayu\",\"dob\":\"1992-04-01\"}],"
      " \"THA\":[{\"id\":\"T2\",\"type\":\"person\",\"phones\":[\"+66 81 234 5678\"]},"
      "          {\"id\":\"T3\",\"type\":\"person\",\"name\":\"Somchai Jaidee\",\"dob\":\"1971-05-30\","
      "           \"documents\":[{\"number\":\"AA1234567\",\"country\":\"THA\"}]}]}");
  assert_int_equal(json_array_size(res), 4);
  double prev = 2.0;
  size_t i;
  json_t *e;
  json_array_foreach(res, i, e) {
    double s = json_real_value(json_object_get(e, "score"));
    assert_true(s <= prev);
    assert_true(s >= 0.0 && s <= 1.0);
    prev = s;
    char want[32];
    snprintf(want, sizeof want, "e%zu", i + 1);
    assert_string_equal(json_string_value(json_object_get(e, "entity")), want);
  }
  assert_true(entity_of(res, "M3") == json_array_get(res, 0)); /* document+name+dob */
  assert_true(entity_of(res, "M2") == json_array_get(res, 1)); /* phone 0.75 */
  assert_true(entity_of(res, "M1") == json_array_get(res, 2)); /* name+year */
  assert_true(entity_of(res, "M4") == json_array_get(res, 3)); /* alone */
  json_decref(res);
}

static void test_transitive_entity_scores_weakest_link(void **state) {
  (void)state;
  json_t *res = merge(
      "{\"A\":[{\"id\":\"a\",\"type\":\"person\",\"documents\":[{\"number\":\"X1\"}],\"phones\":[\"+600000001\"]}],"
      " \"B\":[{\"id\":\"b\",\"type\":\"person\",\"documents\":[{\"number\":\"X1\"}]}],"
      " \"C\":[{\"id\":\"c\",\"type\":\"person\",\"phones\":[\"+600000001\"]}]}");
  assert_int_equal(json_array_size(res), 1);
  json_t *e = json_array_get(res, 0);
  assert_int_equal(json_array_size(json_object_get(e, "records")), 3);
  assert_true(json_real_value(json_object_get(e, "score")) == 0.75);
  json_decref(res);
}

static void test_bad_input(void **state) {
  (void)state;
  json_t *res = fb_merge(NULL);
  assert_int_equal(json_array_size(res), 0);
  json_decref(res);
  res = merge("{\"MYS\":[1, \"x\", null, {\"id\":\"M1\",\"type\":\"person\",\"name\":5,\"documents\":\"no\"}],"
              " \"IDN\":{\"not\":\"an array\"}}");
  assert_int_equal(json_array_size(res), 1);
  json_decref(res);
  res = merge("{}");
  assert_int_equal(json_array_size(res), 0);
  json_decref(res);
}

/* A merged record is the state first, then the node's fields in the node's order; a
 * `state` the node sent itself is replaced by the answering state, not repeated. */
static void test_record_copy_puts_state_first(void **state) {
  (void)state;
  json_t *res = merge("{\"IDN\":[{\"id\":\"I1\",\"type\":\"person\",\"zeta\":[1,{\"a\":null}],\"state\":\"XXX\","
                      "\"name\":\"Budi\",\"alpha\":2.5}],"
                      " \"MYS\":[{\"type\":\"vessel\",\"id\":\"M1\",\"vessel\":{\"imo\":\"IMO 9074729\"}}]}");
  char *text = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
  assert_non_null(strstr(text, "{\"state\":\"IDN\",\"id\":\"I1\",\"type\":\"person\",\"zeta\":[1,{\"a\":null}],"
                               "\"name\":\"Budi\",\"alpha\":2.5}"));
  assert_non_null(strstr(text, "{\"state\":\"MYS\",\"type\":\"vessel\",\"id\":\"M1\",\"vessel\":{\"imo\":\"IMO 9074729\"}}"));
  assert_null(strstr(text, "XXX"));
  free(text);
  json_decref(res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_document_links_across_states),
      cmocka_unit_test(test_document_country_conflict_does_not_link),
      cmocka_unit_test(test_name_variants_and_word_order_link_with_dob),
      cmocka_unit_test(test_name_alone_does_not_link),
      cmocka_unit_test(test_full_dates_agree_to_the_day),
      cmocka_unit_test(test_redacted_fields_do_not_link),
      cmocka_unit_test(test_equal_fingerprints_link),
      cmocka_unit_test(test_near_explains_namesakes_kept_apart),
      cmocka_unit_test(test_names_link_across_scripts),
      cmocka_unit_test(test_name_links_never_join_contradicting_people),
      cmocka_unit_test(test_every_word_of_a_linking_name_agrees),
      cmocka_unit_test(test_vessels_and_persons_stay_apart),
      cmocka_unit_test(test_ordering_by_score),
      cmocka_unit_test(test_transitive_entity_scores_weakest_link),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_record_copy_puts_state_first),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
