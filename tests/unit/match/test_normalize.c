/* Name, document, phone, vessel and IMO keys (match/normalize.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "match/normalize.h"

static double sim(const char *a, const char *b) {
  fb_name_key ka, kb;
  fb_name_key_make(a, &ka);
  fb_name_key_make(b, &kb);
  return fb_name_similarity(&ka, &kb);
}

static void test_name_key_folds_and_drops_connectors(void **state) {
  (void)state;
  fb_name_key k;
  fb_name_key_make("  AHMAD bin Ismail ", &k);
  assert_string_equal(k.buf, "ahmad ismail");
  assert_int_equal(k.n, 2);
  fb_name_key_make("Nur Aisyah b. Rahman", &k);
  assert_int_equal(k.n, 3); /* "b." is a connector, dropped */
  fb_name_key_make("Siti Nurhaliza bte Ismail", &k);
  assert_int_equal(k.n, 3);
  fb_name_key_make("José Ñúñez-Çelik", &k); /* diacritics stripped, hyphen splits */
  assert_string_equal(k.buf, "jusa nunaz calik");
  fb_name_key_make(NULL, &k);
  assert_int_equal(k.n, 0);
  fb_name_key_make("!!! ---", &k);
  assert_int_equal(k.n, 0);
}

static void test_transliteration_variants_share_keys(void **state) {
  (void)state;
  fb_name_key a, b, c, d;
  fb_name_key_make("Mohammad", &a);
  fb_name_key_make("Muhammad", &b);
  fb_name_key_make("Mohamed", &c);
  fb_name_key_make("Md.", &d);
  assert_string_equal(a.buf, b.buf);
  assert_string_equal(a.buf, c.buf);
  assert_string_equal(a.buf, d.buf);
  fb_name_key_make("Aisyah", &a);
  fb_name_key_make("Aishah", &b);
  assert_string_equal(a.buf, b.buf);
  fb_name_key_make("Soekarno", &a);
  fb_name_key_make("Sukarno", &b);
  assert_string_equal(a.buf, b.buf);
}

static void test_similarity(void **state) {
  (void)state;
  assert_true(sim("Ahmad bin Ismail", "Ahmad bin Ismail") == 1.0);
  assert_true(sim("Ahmad bin Ismail", "Ismail Ahmad") == 1.0);           /* word order */
  assert_true(sim("Ahmad bin Ismail", "AHMED BIN ISMAEL") > 0.9);        /* spelling */
  assert_true(sim("Mohammad Rafiqul Islam", "Md. Rafiqul Islam") == 1.0);
  assert_true(sim("Hossain", "Hussain") > 0.9);
  assert_true(sim("Ahmad bin Ismail", "Budi Santoso") < 0.3);
  assert_true(sim("Budi Santoso", "Budi Wijaya") < 0.8);                 /* one shared token */
  assert_true(sim("Budi", "Budi Santoso") < 0.8);
  assert_true(sim("", "Budi") == 0.0);
  /* other scripts compare byte for byte */
  assert_true(sim("สมชาย ใจดี", "ใจดี สมชาย") == 1.0);
}

static void test_exact_keys(void **state) {
  (void)state;
  char out[64], imo[8];
  assert_int_equal(fb_norm_document("a 1234-5678", out, sizeof out), 9);
  assert_string_equal(out, "A12345678");
  assert_int_equal(fb_norm_document("--", out, sizeof out), 0);
  assert_int_equal(fb_norm_phone("+60 12-345 6789", out, sizeof out), 11);
  assert_string_equal(out, "60123456789");
  fb_norm_phone("0060123456789", out, sizeof out);
  assert_string_equal(out, "60123456789");
  assert_int_equal(fb_norm_phone("12-34", out, sizeof out), 0);
  assert_int_equal(fb_norm_vessel("K.M. Sinar-Laut", out, sizeof out), 10);
  assert_string_equal(out, "sinar laut");
  fb_norm_vessel("KM SINAR LAUT", out, sizeof out);
  assert_string_equal(out, "sinar laut");
  fb_norm_vessel("Chokchai 8", out, sizeof out);
  assert_string_equal(out, "chokchai 8");
  assert_int_equal(fb_norm_imo("IMO 9123453", imo), 7);
  assert_string_equal(imo, "9123453");
  assert_int_equal(fb_norm_imo("9123453", imo), 7);
  assert_int_equal(fb_norm_imo("91234530", imo), 0);
  assert_int_equal(fb_norm_imo("KM Sinar Laut", imo), 0);
  assert_int_equal(fb_dob_year("1985-03-12"), 1985);
  assert_int_equal(fb_dob_year("1985"), 1985);
  assert_int_equal(fb_dob_year("85-03-12"), 0);
  assert_int_equal(fb_dob_year("[REDACTED]"), 0);
  assert_int_equal(fb_dob_year(NULL), 0);
}

static void test_long_and_hostile_input(void **state) {
  (void)state;
  char big[4096];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (size_t i = 7; i < sizeof big - 1; i += 9) big[i] = ' ';
  fb_name_key k;
  fb_name_key_make(big, &k);
  assert_true(k.n <= FB_NAME_MAX_TOKENS);
  assert_true(strlen(k.buf) < FB_NAME_KEY_BYTES);
  fb_name_key_make("\xff\xfe\xc3", &k); /* invalid UTF-8: dropped, no crash */
  assert_int_equal(k.n, 0);
  char out[8];
  fb_norm_document(big, out, sizeof out);
  assert_int_equal(strlen(out), 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_name_key_folds_and_drops_connectors),
      cmocka_unit_test(test_transliteration_variants_share_keys),
      cmocka_unit_test(test_similarity),
      cmocka_unit_test(test_exact_keys),
      cmocka_unit_test(test_long_and_hostile_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
