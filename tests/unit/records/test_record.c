/* The API.md record schema (fb_record_validate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "records/record.h"

/* The check's result; *why is its message (NULL for a valid record), freed by the caller. */
static int check(const char *text, char **why) {
  json_error_t e;
  json_t *r = json_loads(text, 0, &e);
  assert_non_null(r);
  *why = NULL;
  int rc = fb_record_validate(r, why);
  json_decref(r);
  return rc;
}

static void test_valid_records(void **state) {
  (void)state;
  char *why = NULL;
  assert_int_equal(check("{\"id\":\"MYS-P-1\",\"type\":\"person\"}", &why), 0);
  assert_null(why);
  assert_int_equal(check("{\"id\":\"MYS-P-000123\",\"type\":\"person\",\"tags\":[\"suspect\"],"
                         "\"name\":\"Ahmad bin Ismail\",\"aliases\":[\"Mat Sinar\"],\"dob\":\"1985-03-12\","
                         "\"sex\":\"M\",\"nationality\":\"MYS\",\"documents\":[{\"kind\":\"passport\","
                         "\"number\":\"A12345678\",\"country\":\"MYS\"}],\"phones\":[\"+60123456789\"],"
                         "\"address\":\"x\",\"vessel\":{\"name\":\"KM Sinar Laut\",\"imo\":\"9123453\","
                         "\"flag\":\"IDN\"},\"cases\":[{\"ref\":\"MY-2025-0042\",\"offence\":"
                         "\"people_smuggling\",\"status\":\"open\"}],\"notes\":\"n\",\"updated\":\"2026-01-05\","
                         "\"future_field\":{\"x\":1}}", &why), 0);
  assert_null(why);
  assert_int_equal(check("{\"id\":\"V1\",\"type\":\"vessel\",\"redacted\":[\"name\"]}", &why), 0);
  assert_null(why);
  /* No message wanted: the check still answers. */
  json_t *bad = json_pack("{s:s}", "type", "person");
  assert_int_equal(fb_record_validate(bad, NULL), -1);
  json_decref(bad);
}

static void test_invalid_records_name_the_field(void **state) {
  (void)state;
  static const struct { const char *text, *why; } cases[] = {
      {"[]", "not an object"},
      {"{\"type\":\"person\"}", "missing id"},
      {"{\"id\":\"\",\"type\":\"person\"}", "id must be a non-empty string"},
      {"{\"id\":7,\"type\":\"person\"}", "id must be a non-empty string"},
      {"{\"id\":\"x\"}", "missing type"},
      {"{\"id\":\"x\",\"type\":\"car\"}", "type must be \"person\" or \"vessel\""},
      {"{\"id\":\"x\",\"type\":\"person\",\"name\":5}", "name must be a string"},
      {"{\"id\":\"x\",\"type\":\"person\",\"dob\":null}", "dob must be a string"},
      {"{\"id\":\"x\",\"type\":\"person\",\"tags\":\"suspect\"}", "tags must be an array of strings"},
      {"{\"id\":\"x\",\"type\":\"person\",\"phones\":[\"1\",2]}", "phones[1] must be a string"},
      {"{\"id\":\"x\",\"type\":\"person\",\"documents\":[{\"number\":\"A\"},{\"number\":1}]}",
       "documents[1].number must be a string"},
      {"{\"id\":\"x\",\"type\":\"person\",\"documents\":[\"A1\"]}", "documents[0] must be an object"},
      {"{\"id\":\"x\",\"type\":\"person\",\"cases\":{}}", "cases must be an array of objects"},
      {"{\"id\":\"x\",\"type\":\"person\",\"vessel\":\"KM\"}", "vessel must be an object"},
      {"{\"id\":\"x\",\"type\":\"person\",\"vessel\":{\"imo\":9123453}}", "vessel.imo must be a string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *why = NULL;
    assert_int_equal(check(cases[i].text, &why), -1);
    assert_non_null(why);
    assert_string_equal(why, cases[i].why);
    free(why);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_records),
      cmocka_unit_test(test_invalid_records_name_the_field),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
