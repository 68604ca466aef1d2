/* Roles, identity JSON and the client-certificate subject mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/x509.h>

#include "auth/identity.h"

static void test_roles(void **s) {
  (void)s;
  assert_int_equal(fb_roles_parse("analyst"), FB_ROLE_ANALYST);
  assert_int_equal(fb_roles_parse("legal_officer"), FB_ROLE_LEGAL_OFFICER);
  assert_int_equal(fb_roles_parse("auditor"), FB_ROLE_AUDITOR);
  assert_int_equal(fb_roles_parse("admin"), FB_ROLE_ADMIN);
  /* FOLLOWUP.md's roles, from the one vocabulary (core/vocab.h) */
  assert_int_equal(fb_roles_parse("focal_point"), FB_ROLE_FOCAL_POINT);
  assert_int_equal(fb_roles_parse("focal_point_admin"), FB_ROLE_FOCAL_POINT_ADMIN);
  assert_int_equal(FB_ROLE_FOCAL_POINT, 16);
  assert_int_equal(FB_ROLE_FOCAL_POINT_ADMIN, 32);
  assert_int_equal(fb_roles_parse_list("analyst,focal_point", NULL), FB_ROLE_ANALYST | FB_ROLE_FOCAL_POINT);
  for (int i = 0; i < FB_ROLE_COUNT; i++) {
    assert_int_equal(fb_roles_parse(fb_role_names[i]), 1 << i);
    assert_string_equal(fb_role_name(1u << i), fb_role_names[i]);
  }
  assert_int_equal(fb_roles_parse("Admin"), 0);
  assert_int_equal(fb_roles_parse(""), 0);
  assert_int_equal(fb_roles_parse(NULL), 0);
  assert_string_equal(fb_role_name(FB_ROLE_AUDITOR), "auditor");
  assert_null(fb_role_name(3));

  const char *bad = NULL;
  assert_int_equal(fb_roles_parse_list("admin,analyst", &bad), FB_ROLE_ADMIN | FB_ROLE_ANALYST);
  assert_int_equal(fb_roles_parse_list("auditor", &bad), FB_ROLE_AUDITOR);
  assert_int_equal(fb_roles_parse_list("analyst,boss", &bad), -1);
  assert_string_equal(bad, "boss");
  assert_int_equal(fb_roles_parse_list("analyst,,admin", &bad), -1);
  assert_int_equal(fb_roles_parse_list("", &bad), -1);
  assert_int_equal(fb_roles_parse_list("analystx", &bad), -1);

  json_t *j = fb_roles_to_json(FB_ROLE_ADMIN | FB_ROLE_ANALYST | FB_ROLE_LEGAL_OFFICER);
  char *txt = json_dumps(j, JSON_COMPACT);
  assert_string_equal(txt, "[\"analyst\",\"legal_officer\",\"admin\"]");
  free(txt);
  json_decref(j);
  j = fb_roles_to_json(0);
  assert_int_equal(json_array_size(j), 0);
  json_decref(j);
}

static void test_identity_json(void **s) {
  (void)s;
  fb_identity id = {.sub = "u1", .state = "MYS", .agency = "PDRM",
                    .roles = FB_ROLE_AUDITOR, .exp = 1800000000, .issuer = "https://i"};
  json_t *j = fb_identity_to_json(&id);
  char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(txt, "{\"agency\":\"PDRM\",\"exp\":1800000000,\"issuer\":\"https://i\","
                           "\"roles\":[\"auditor\"],\"state\":\"MYS\",\"sub\":\"u1\"}");
  free(txt);
  json_decref(j);
  id.exp = 0;
  j = fb_identity_to_json(&id);
  assert_null(json_object_get(j, "exp"));
  json_decref(j);
}

static void test_state_and_text(void **s) {
  (void)s;
  assert_true(fb_state_code_valid("MYS"));
  assert_false(fb_state_code_valid("MY"));
  assert_false(fb_state_code_valid("MYSS"));
  assert_false(fb_state_code_valid("mys"));
  assert_false(fb_state_code_valid("M1S"));
  assert_false(fb_state_code_valid(NULL));
  char dst[4] = "zzz";
  assert_true(fb_identity_copy_text("abc", 3, dst, sizeof dst));
  assert_string_equal(dst, "abc");
  assert_false(fb_identity_copy_text("abcd", 4, dst, sizeof dst)); /* no room for NUL */
  assert_false(fb_identity_copy_text("a\tb", 3, dst, sizeof dst));
  assert_false(fb_identity_copy_text("a\0b", 3, dst, sizeof dst));
  assert_false(fb_identity_copy_text("", 0, dst, sizeof dst));
  assert_string_equal(dst, "abc"); /* untouched on failure */
}

/* An X509 with the given subject entries ("CN", value, ...; NULL-terminated). The
 * mapping reads only the subject, so the certificate need not be signed. */
static X509 *cert_with(const char *first, ...) {
  X509 *x = X509_new();
  assert_non_null(x);
  X509_NAME *name = X509_get_subject_name(x);
  va_list ap;
  va_start(ap, first);
  for (const char *field = first; field; field = va_arg(ap, const char *)) {
    const char *value = va_arg(ap, const char *);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                                (const unsigned char *)value, -1, -1, 0),
                     1);
  }
  va_end(ap);
  return x;
}

static void test_cert_mapping(void **s) {
  (void)s;
  fb_identity id;
  const char *why = "unset";
  X509 *x = cert_with("C", "MY", "ST", "MYS", "O", "Polis Diraja Malaysia", "OU", "analyst",
                      "OU", "Sabah Branch", "OU", "legal_officer", "CN", "siti.aminah", NULL);
  assert_int_equal(fb_identity_from_cert(x, &id, &why), 0);
  assert_null(why);
  assert_string_equal(id.sub, "siti.aminah");
  assert_string_equal(id.state, "MYS");
  assert_string_equal(id.agency, "Polis Diraja Malaysia");
  assert_int_equal(id.roles, FB_ROLE_ANALYST | FB_ROLE_LEGAL_OFFICER);
  assert_int_equal(id.exp, 0);
  assert_string_equal(id.issuer, FB_IDENTITY_CERT_ISSUER);
  X509_free(x);

  /* O is optional. */
  x = cert_with("ST", "IDN", "OU", "auditor", "CN", "budi", NULL);
  assert_int_equal(fb_identity_from_cert(x, &id, &why), 0);
  assert_string_equal(id.agency, "");
  assert_int_equal(id.roles, FB_ROLE_AUDITOR);
  X509_free(x);
}

static void expect_cert_rejected(X509 *x, const char *expect) {
  fb_identity id;
  const char *why = NULL;
  assert_int_equal(fb_identity_from_cert(x, &id, &why), -1);
  assert_non_null(why);
  if (!strstr(why, expect)) fail_msg("reason '%s' lacks '%s'", why, expect);
  assert_string_equal(id.sub, ""); /* nothing half-filled */
  assert_int_equal(id.roles, 0);
  X509_free(x);
}

static void test_cert_rejections(void **s) {
  (void)s;
  expect_cert_rejected(cert_with("OU", "analyst", "CN", "a", NULL), "ST");
  expect_cert_rejected(cert_with("ST", "Sabah", "OU", "analyst", "CN", "a", NULL), "alpha-3");
  expect_cert_rejected(cert_with("ST", "mys", "OU", "analyst", "CN", "a", NULL), "alpha-3");
  expect_cert_rejected(cert_with("ST", "MYS", "ST", "IDN", "OU", "analyst", "CN", "a", NULL),
                       "ST");
  expect_cert_rejected(cert_with("ST", "MYS", "OU", "analyst", NULL), "CN");
  expect_cert_rejected(cert_with("ST", "MYS", "OU", "analyst", "CN", "a", "CN", "b", NULL), "CN");
  expect_cert_rejected(cert_with("ST", "MYS", "OU", "analyst", "CN", "a\nb", NULL), "CN");
  expect_cert_rejected(cert_with("ST", "MYS", "CN", "a", NULL), "role");
  expect_cert_rejected(cert_with("ST", "MYS", "OU", "Analyst", "OU", "ops", "CN", "a", NULL),
                       "role");
  expect_cert_rejected(cert_with("ST", "MYS", "O", "x", "O", "y", "OU", "admin", "CN", "a", NULL),
                       "O");
  fb_identity id;
  const char *why = NULL;
  assert_int_equal(fb_identity_from_cert(NULL, &id, &why), -1);
  assert_non_null(why);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roles),
      cmocka_unit_test(test_identity_json),
      cmocka_unit_test(test_state_and_text),
      cmocka_unit_test(test_cert_mapping),
      cmocka_unit_test(test_cert_rejections),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
