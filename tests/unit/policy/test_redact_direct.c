/* Redaction of compact records writes the common actions (mask, remove, year,
 * initials, hash of strings and flat objects, alone or in lists) and the "redacted" /
 * "redacted_by" marks as text, without jansson values (policy/redact.c, redact_compact and mark_changed_compact).
 * Each action, on values of every type and on records that already carry marks, must
 * leave exactly the bytes the jansson path (fb_plan_apply) writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/crec.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/policy.h"
#include "policy/rules.h"

/* Records with each field's value of each kind, hostile strings, and the marks a node
 * may already have set (a list, a list holding a real, an object naming a field the
 * rules change, values of the wrong type). */
static const char *const records[] = {
    "{\"id\":\"a\",\"type\":\"person\",\"name\":\"Ahmad bin Ali\",\"aliases\":[\"Abu X\",\"\xc3\xa9mile y\",7],"
    "\"dob\":\"1980-01-02\",\"sex\":\"M\",\"nationality\":\"IDN\",\"documents\":[{\"kind\":\"passport\","
    "\"number\":\"A1\",\"country\":\"IDN\"}],\"phones\":[\"+62 1\"],\"address\":\"Jl. \\\"Merdeka\\\" 5\\n\","
    "\"vessel\":{\"name\":\"KM Jaya\",\"imo\":\"123\"},\"cases\":[\"C-1\",\"C-2\"],\"notes\":\"x\","
    "\"updated\":\"2020-05-06T00:00:00Z\"}",
    "{\"id\":\"b\",\"type\":\"person\",\"name\":\"  \\u0001lower  \xd8\xa3\xd8\xad\xd9\x85\xd8\xaf \\\"q\\\\ \","
    "\"dob\":\"19x0\",\"sex\":null,\"nationality\":12,\"address\":true,\"notes\":12.5,\"phones\":[],"
    "\"redacted\":[\"name\",false],\"redacted_by\":{\"notes\":\"node rule\"}}",
    "{\"id\":\"c\",\"type\":\"vessel\",\"name\":\"\",\"dob\":\"198\",\"vessel\":\"Sea \\t Star\",\"cases\":{},"
    "\"redacted\":\"odd\",\"redacted_by\":[1]}",
    "{\"id\":\"d\",\"type\":\"person\",\"name\":\"N\",\"dob\":\"2001\",\"notes\":[1.5,\"y\"],"
    "\"redacted\":[\"dob\"],\"redacted_by\":{\"name\":\"earlier\"}}",
    "{\"id\":\"e\",\"type\":\"person\",\"name\":\"Z\",\"redacted\":[1.5],\"redacted_by\":{}}",
    "{\"id\":\"f\",\"type\":\"person\",\"address\":\"A\",\"redacted\":[],\"redacted_by\":{\"x\":0.25}}",
    "{\"id\":\"h\",\"type\":\"person\",\"documents\":[{},{\"b\":\"2\",\"a\":\"1\"},{\"k\":1}],"
    "\"phones\":[[\"+1\"],\"+2\"],\"aliases\":[],\"vessel\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\","
    "\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\",\"i\":\"9\"},\"cases\":[{\"z\":\"\\u0001\","
    "\"y\":\"\xc3\xa9\"}]}",
    "{\"id\":\"g\",\"type\":\"person\",\"tags\":[\"suspect\"],\"dob\":\"1999-01-01\"}",
    /* records marked alike (the marks of one shared by the next: mark_changed_compact) */
    "{\"id\":\"i\",\"type\":\"person\",\"tags\":[\"suspect\"],\"name\":\"S One\",\"dob\":\"1970\"}",
    "{\"id\":\"j\",\"type\":\"person\",\"name\":\"P Two\",\"redacted\":\"odd\"}",
    "{\"id\":\"k\",\"type\":\"person\",\"tags\":[\"suspect\"],\"name\":\"S Three\",\"redacted_by\":7}",
    "{\"id\":\"l\",\"type\":\"person\",\"name\":\"P Four\",\"dob\":\"1980\"}",
    "{\"id\":\"m\",\"type\":\"person\",\"dob\":\"1981\",\"name\":\"P Five\"}",
};

static fb_policy *compile(const char *src) {
  char *err = NULL;
  fb_policy *p = fb_policy_compile("common", "common.lua", src, strlen(src), fb_policy_test_key,
                                   sizeof fb_policy_test_key, NULL, &err);
  if (!p) fprintf(stderr, "%s\n", err ? err : "?");
  free(err);
  return p;
}

/* The answer text holding every record. */
static char *answer_text(size_t *len) {
  fb_buf b = {0};
  fb_buf_puts(&b, "{\"records\":[");
  for (size_t i = 0; i < sizeof records / sizeof *records; i++) {
    if (i) fb_buf_putc(&b, ',');
    fb_buf_puts(&b, records[i]);
  }
  fb_buf_puts(&b, "]}");
  *len = b.len;
  return fb_buf_steal(&b);
}

/* Applies `src`'s rules both ways; asserts the same bytes and counts. Returns the
 * compact path's text (free it) for the caller's own checks. */
static char *both_ways(const char *src) {
  fb_policy *p = compile(src);
  assert_non_null(p);
  json_t *subject = json_pack("{s:s}", "name", "x");
  fb_query q = {.purpose = "investigation", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "long enough justification", .from_state = "IDN", .subject = subject};
  size_t len;
  char *text = answer_text(&len);
  json_t *doc = json_loadb(text, len, 0, NULL);
  assert_non_null(doc);
  json_t *recs = json_object_get(doc, "records");
  fb_plan *plan = fb_plan_new(p, NULL, &q);
  size_t n_json = 0, n_crec = 0;
  assert_int_equal(fb_plan_apply(plan, recs, &n_json), 0);
  fb_crecs *set = fb_crecs_load(text, len, NULL);
  assert_non_null(set);
  assert_int_equal(fb_plan_apply_crecs(plan, set, &n_crec), 0);
  assert_int_equal(n_json, n_crec);
  assert_int_equal(json_array_size(recs), set->nrecs);
  fb_buf a = {0}, c = {0};
  for (size_t i = 0; i < set->nrecs; i++) {
    assert_int_equal(fb_jsonw_dump(&a, json_array_get(recs, i), FB_JSONW_PRECISION), 0);
    fb_buf_putc(&a, '\n');
    fb_crec_write(&c, set, i, FB_JSONW_PRECISION);
    fb_buf_putc(&c, '\n');
  }
  assert_string_equal(c.data, a.data);
  fb_buf_free(&a);
  fb_crecs_free(set);
  fb_plan_free(plan);
  json_decref(doc);
  json_decref(subject);
  fb_policy_unref(p);
  return fb_buf_steal(&c);
}

#define ALL_FIELDS                                                                                             \
  "\"name\", \"aliases\", \"dob\", \"sex\", \"nationality\", \"documents\", \"phones\", \"address\", \"vessel\", " \
  "\"cases\", \"notes\", \"updated\""

static char *one_action(const char *action, const char *fields) {
  char src[1024];
  snprintf(src, sizeof src, "redact \"%s rule\" { fields = { %s }, action = \"%s\" }\n", action, fields, action);
  return both_ways(src);
}

static void test_mask(void **st) {
  (void)st;
  char *out = one_action("mask", ALL_FIELDS);
  assert_non_null(strstr(out, "\"name\":\"[REDACTED]\""));
  assert_non_null(strstr(out, "\"aliases\":[\"[REDACTED]\"]"));
  free(out);
}

static void test_remove(void **st) {
  (void)st;
  char *out = one_action("remove", ALL_FIELDS);
  assert_null(strstr(out, "Ahmad"));
  assert_non_null(strstr(out, "\"redacted_by\":{\"name\":\"remove rule\""));
  free(out);
}

static void test_year(void **st) {
  (void)st;
  char *out = one_action("year", "\"dob\", \"updated\"");
  assert_non_null(strstr(out, "\"dob\":\"1980\""));
  assert_non_null(strstr(out, "\"dob\":\"[REDACTED]\""));
  free(out);
}

static void test_initials(void **st) {
  (void)st;
  char *out = one_action("initials", "\"name\", \"aliases\"");
  assert_non_null(strstr(out, "\"name\":\"A. B. A.\""));
  free(out);
}

static void test_hash(void **st) {
  (void)st;
  char *out = one_action("hash", ALL_FIELDS);
  assert_null(strstr(out, "Ahmad"));
  assert_null(strstr(out, "Merdeka"));
  free(out);
}

/* Several rules on one record: later rules change what earlier ones wrote, marks
 * name the last rule, a rule name that needs escapes. */
static void test_rules_in_sequence(void **st) {
  (void)st;
  char *out = both_ways("redact \"first\" { fields = { \"name\", \"aliases\" }, action = \"initials\" }\n"
                        "redact \"second \\\"q\\\" \xc3\xa9\" { fields = { \"name\", \"notes\" }, action = \"hash\" }\n"
                        "redact \"third\" { fields = { \"dob\", \"phones\" }, action = \"mask\" }\n"
                        "redact \"fourth\" { fields = { \"address\", \"vessel\" }, action = \"remove\" }\n"
                        "redact \"fifth\" { records = { tags = { \"suspect\" } }, fields = { \"dob\" }, "
                        "action = \"year\" }\n");
  assert_non_null(strstr(out, "\"name\":\"second \\\"q\\\" \xc3\xa9\""));
  free(out);
}

/* Records whose marks depend only on the fields changed and the rules that changed
 * them share their "redacted" and "redacted_by" values: the same fields changed by
 * another rule, or other fields by the same rule, are marked apart. */
static void test_records_marked_alike(void **st) {
  (void)st;
  char *out = both_ways("redact \"everyone\" { fields = { \"name\" }, action = \"mask\" }\n"
                        "redact \"suspects\" { records = { tags = { \"suspect\" } }, fields = { \"name\" }, "
                        "action = \"remove\" }\n"
                        "redact \"dates\" { records = { tags = { \"suspect\" } }, fields = { \"dob\" }, "
                        "action = \"year\" }\n");
  assert_non_null(strstr(out, "\"id\":\"i\",\"type\":\"person\",\"tags\":[\"suspect\"],\"dob\":\"1970\","
                              "\"redacted\":[\"name\",\"dob\"],\"redacted_by\":{\"name\":\"suspects\",\"dob\":\"dates\"}"));
  assert_non_null(strstr(out, "\"id\":\"k\",\"type\":\"person\",\"tags\":[\"suspect\"],\"redacted_by\":{\"name\":"
                              "\"suspects\"},\"redacted\":[\"name\"]}"));
  assert_non_null(strstr(out, "\"id\":\"l\",\"type\":\"person\",\"name\":\"[REDACTED]\",\"dob\":\"1980\","
                              "\"redacted\":[\"name\"],\"redacted_by\":{\"name\":\"everyone\"}"));
  free(out);
}

int main(void) {
  fb_log_set_level(FB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mask),     cmocka_unit_test(test_remove), cmocka_unit_test(test_year),
      cmocka_unit_test(test_initials), cmocka_unit_test(test_hash),   cmocka_unit_test(test_rules_in_sequence),
      cmocka_unit_test(test_records_marked_alike),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
