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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_realistic_and_nulls),
      cmocka_unit_test(test_strings_that_need_escaping),
      cmocka_unit_test(test_invalid_utf8_is_refused),
      cmocka_unit_test(test_subjects_of_every_shape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
