/* The http adapter's request body (http_request_body) is written straight into a
 * buffer; it must be byte for byte what the jansson object it replaced dumped
 * (json_pack, then json_dumps(JSON_COMPACT)), and fail where that failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapters/adapter_impl.h"

/* The body as ht_start built it before: the reference. */
static char *jansson_body(const fb_leg_request *req) {
  if (!json_is_object(req->subject)) return NULL;
  json_t *body = json_pack("{s:s?, s:O, s:s?, s:s?, s:s?, s:s?, s:{s:s?, s:s?}, s:I}", "query_id", req->query_id,
                           "subject", req->subject, "purpose", req->purpose, "priority", req->priority,
                           "legal_basis", req->legal_basis, "case_ref", req->case_ref, "requester", "state",
                           req->requester_state, "agency", req->requester_agency, "limit",
                           (json_int_t)(req->limit ? req->limit : 100));
  if (!body) return NULL;
  if (!req->case_ref) json_object_set_new(body, "case_ref", json_null());
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  return text;
}

static void same(const fb_leg_request *req) {
  char *want = jansson_body(req), *got = http_request_body(req);
  if (!want) {
    if (got) fail_msg("jansson refused the request, the writer gave %s", got);
    return;
  }
  if (!got) fail_msg("the writer refused what jansson wrote: %s", want);
  assert_string_equal(got, want);
  free(want);
  free(got);
}

static fb_leg_request base(json_t *subject) {
  return (fb_leg_request){.query_id = "q-42", .subject = subject, .purpose = "prosecution", .priority = "urgent",
                          .legal_basis = "mla_treaty", .case_ref = "MY-2026-0042", .requester_state = "MYS",
                          .requester_agency = "PDRM", .limit = 25};
}

static void test_realistic_and_nulls(void **state) {
  (void)state;
  json_t *subject = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "Ahmad bin Ismail", "dob", "1985-03-12",
                              "document", "A12345678", "nationality", "MYS", "phone", "+60123456789");
  fb_leg_request r = base(subject);
  same(&r);
  r.limit = 0; /* the default, 100 */
  same(&r);
  r.limit = 1u << 20;
  same(&r);
  r.case_ref = NULL;
  same(&r);
  r.query_id = r.purpose = r.priority = r.legal_basis = r.requester_state = r.requester_agency = NULL;
  same(&r);
  json_decref(subject);
}

static void test_strings_that_need_escaping(void **state) {
  (void)state;
  static const char *const texts[] = {
      "", "plain", "quote \" and backslash \\", "slash / stays", "tab\tnewline\nreturn\r",
      "\x01\x02\x1f\x7f controls", "\b\f", "Nguy\xe1\xbb\x85n V\xc4\x83n A",
      "\xe0\xb8\xaa\xe0\xb8\xa1\xe0\xb8\x8a\xe0\xb8\xb2\xe0\xb8\xa2",
      "\xf0\x9f\x98\x80 emoji", "\xef\xbb\xbf BOM", "a\xe2\x80\xa8" "b", "</script>",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    json_t *subject = json_pack("{s:s, s:s}", "name", texts[i], texts[i], "x");
    assert_non_null(subject);
    fb_leg_request r = base(subject);
    r.query_id = r.purpose = r.priority = r.legal_basis = r.case_ref = r.requester_state = r.requester_agency =
        texts[i];
    same(&r);
    json_decref(subject);
  }
}

static void test_invalid_utf8_is_refused(void **state) {
  (void)state;
  static const char *const bad[] = {"\xff", "abc\xc3", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong",
                                    "\xf4\x90\x80\x80 past U+10FFFF"};
  json_t *subject = json_pack("{s:s}", "document", "A12345678");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (int field = 0; field < 3; field++) {
      fb_leg_request r = base(subject);
      if (field == 0) r.query_id = bad[i];
      else if (field == 1) r.case_ref = bad[i];
      else r.requester_agency = bad[i];
      assert_null(jansson_body(&r));
      assert_null(http_request_body(&r));
    }
  }
  json_decref(subject);
}

static void test_subjects_of_every_shape(void **state) {
  (void)state;
  json_t *subjects[] = {
      json_object(),
      json_pack("{s:i, s:f, s:f, s:b, s:n}", "int", 42, "real", 0.1, "big", 1e300, "flag", 1, "none"),
      json_pack("{s:[s, s], s:{s:s, s:[]}}", "aliases", "A", "B", "nested", "k", "v", "empty"),
      json_pack("{s:I, s:f}", "min", (json_int_t)INT64_MIN, "third", 1.0 / 3.0),
  };
  for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
    fb_leg_request r = base(subjects[i]);
    same(&r);
    json_decref(subjects[i]);
  }
  json_t *array = json_array();
  fb_leg_request r = base(array);
  assert_null(http_request_body(&r)); /* not an object: the leg does not start */
  r.subject = NULL;
  assert_null(http_request_body(&r));
  json_decref(array);
}

/* A search's legs share the text: the second leg of the same request gets the same
 * bytes (a copy of its own), a request that differs in any field gets its own text,
 * and a text another writer kept is not taken. */
static void test_shared_text(void **state) {
  (void)state;
  json_t *subject = json_pack("{s:s, s:s}", "name", "Ahmad bin Ismail", "document", "A12345678");
  json_t *other_subject = json_pack("{s:s}", "name", "Siti");
  fb_leg_text shared = {0};
  fb_leg_request r = base(subject);
  r.shared_text = &shared;
  char *want = jansson_body(&r);
  char *first = http_request_body_shared(&r);
  assert_string_equal(first, want);
  assert_non_null(shared.text);
  assert_string_equal(shared.text, want);
  char *second = http_request_body_shared(&r);
  assert_string_equal(second, want);
  assert_ptr_not_equal(second, first);
  assert_ptr_not_equal(second, shared.text); /* each leg owns its body */
  free(second);
  /* ... copied from the kept text, not written again */
  char *kept = shared.text;
  shared.text = strdup("{\"kept\":1}");
  shared.len = strlen(shared.text);
  second = http_request_body_shared(&r);
  assert_string_equal(second, "{\"kept\":1}");
  free(second);
  free(shared.text);
  shared.text = kept;
  shared.len = strlen(kept);
  fb_leg_request changed[8];
  for (int i = 0; i < 8; i++) changed[i] = r;
  changed[0].query_id = "q-43";
  changed[1].subject = other_subject;
  changed[2].purpose = "investigation";
  changed[3].priority = "routine";
  changed[4].legal_basis = "consent";
  changed[5].case_ref = NULL;
  changed[6].requester_agency = "RTP";
  changed[7].limit = 26;
  for (int i = 0; i < 8; i++) {
    char *w = jansson_body(&changed[i]), *g = http_request_body_shared(&changed[i]);
    assert_string_not_equal(g, want);
    assert_string_equal(g, w);
    assert_string_equal(shared.text, want); /* the first request's text stays */
    free(w);
    free(g);
  }
  /* limit 0 is the default, 100: the same body as limit 100 */
  fb_leg_request d0 = r, d100 = r;
  d0.limit = 0;
  d100.limit = 100;
  fb_leg_text_clear(&shared);
  char *a = http_request_body_shared(&d0), *b = http_request_body_shared(&d100);
  assert_string_equal(a, b);
  free(a);
  free(b);
  /* Another writer's text is not a node request. */
  fb_leg_text_clear(&shared);
  static const int other_writer;
  shared.writer = &other_writer;
  shared.of = r;
  shared.of.shared_text = NULL;
  shared.text = strdup("{\"not\":\"this\"}");
  shared.len = strlen(shared.text);
  char *c = http_request_body_shared(&r);
  assert_string_equal(c, want);
  free(c);
  fb_leg_text_clear(&shared);
  assert_null(shared.text);
  free(first);
  free(want);
  json_decref(subject);
  json_decref(other_subject);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_realistic_and_nulls),
      cmocka_unit_test(test_strings_that_need_escaping),
      cmocka_unit_test(test_invalid_utf8_is_refused),
      cmocka_unit_test(test_subjects_of_every_shape),
      cmocka_unit_test(test_shared_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
