/* Property test over hostile input: mutated search bodies go through JSON parsing and
 * validation, mutated national-node answers through the record schema and the merge.
 * Nothing may crash or leak (ASan+UBSan run this too); whatever validation accepts must
 * satisfy the contract's rules; the merge never invents or loses a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"
#include "records/record.h"
#include "search/merge.h"
#include "search/validate.h"
#include "unit_common.h"

#define MUTATIONS 20000

static uint64_t rng = 0x2545f4914f6cdd1dull;
static size_t mutate(const char *in, char *out, size_t cap) {
  size_t n = strlen(in);
  memcpy(out, in, n + 1);
  static const char pool[] = "{}[]\",:0123456789-.eE tfnul\\\x01\xc3\xa9\xff";
  int edits = 1 + (int)(fb_test_rand(&rng) % 4);
  for (int e = 0; e < edits && n > 0; e++) {
    size_t pos = fb_test_rand(&rng) % n;
    switch (fb_test_rand(&rng) % 4) {
    case 0: out[pos] = pool[fb_test_rand(&rng) % (sizeof pool - 1)]; break;
    case 1: if (n + 1 < cap) { memmove(out + pos + 1, out + pos, n - pos + 1); out[pos] = pool[fb_test_rand(&rng) % (sizeof pool - 1)]; n++; } break;
    case 2: memmove(out + pos, out + pos + 1, n - pos); n--; break;
    default: { /* duplicate a slice */
      size_t len = 1 + fb_test_rand(&rng) % 16;
      if (pos + len <= n && n + len < cap) { memmove(out + pos + len, out + pos, n - pos + 1); n += len; }
    }
    }
  }
  return n;
}

static void test_search_bodies(void **state) {
  (void)state;
  fb_config cfg;
  char *err = NULL;
  const char *src = "states = { MYS = { adapter = \"sqlite\", path = \"m.db\" }, IDN = { adapter = \"sqlite\", path = \"i.db\" } }";
  assert_int_equal(fb_config_load_string(src, strlen(src), "t.lua", &cfg, &err), 0);
  const char *valid =
      "{\"subject\":{\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\",\"document\":\"A12345678\"},"
      "\"purpose\":\"prosecution\",\"priority\":\"urgent\",\"legal_basis\":\"mla_treaty\","
      "\"justification\":\"Suspected facilitator in case MY-2026-0042\",\"case_ref\":\"MY-2026-0042\",\"states\":[\"MYS\"]}";
  int parsed = 0, accepted = 0;
  for (int i = 0; i < MUTATIONS; i++) {
    char m[2048];
    size_t n = mutate(valid, m, sizeof m);
    json_t *doc = json_loadb(m, n, JSON_REJECT_DUPLICATES, NULL);
    if (!doc) continue;
    parsed++;
    if (json_is_object(doc)) {
      fb_search_params p;
      fb_validation_error e;
      if (fb_search_validate(doc, &cfg, "IDN", NULL, &p, &e) == 0) {
        accepted++;
        assert_true(fb_is_purpose(p.purpose) && fb_is_priority(p.priority) && fb_is_legal_basis(p.legal_basis));
        assert_true(strlen(p.justification) >= 10);
        assert_true(json_is_object(p.subject));
        for (size_t k = 0; k < p.nstates; k++) assert_non_null(fb_config_state(&cfg, p.states[k]));
        fb_search_params_free(&p);
      } else {
        assert_string_equal(e.code, "invalid_request");
        assert_true(e.message[0] != '\0');
      }
    }
    json_decref(doc);
  }
  print_message("search bodies: %d parsed, %d accepted of %d mutations\n", parsed, accepted, MUTATIONS);
  assert_true(parsed > 100 && accepted > 10); /* the mutations reach validation */
  fb_config_free(&cfg);
}

static size_t count_records(json_t *results) {
  size_t n = 0, i;
  json_t *r;
  json_array_foreach(results, i, r) n += json_array_size(json_object_get(r, "records"));
  return n;
}

static void test_node_answers_and_merge(void **state) {
  (void)state;
  const char *valid =
      "{\"IDN\":[{\"id\":\"IDN-P-1\",\"type\":\"person\",\"name\":\"Ahmad Ismail\",\"dob\":\"1985-03-12\","
      "\"documents\":[{\"kind\":\"passport\",\"number\":\"A12345678\",\"country\":\"MYS\"}],\"phones\":[\"+60123456789\"]},"
      "{\"id\":\"IDN-V-1\",\"type\":\"vessel\",\"name\":\"KM Sinar Laut\",\"vessel\":{\"name\":\"KM Sinar Laut\",\"imo\":\"9123453\"}}],"
      "\"MYS\":[{\"id\":\"MYS-P-1\",\"type\":\"person\",\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985\",\"redacted\":[\"dob\"],"
      "\"documents\":[{\"kind\":\"passport\",\"number\":\"A 1234-5678\"}],\"tags\":[\"suspect\"]}]}";
  int merged = 0;
  for (int i = 0; i < MUTATIONS; i++) {
    char m[4096];
    size_t n = mutate(valid, m, sizeof m);
    json_t *doc = json_loadb(m, n, 0, NULL);
    if (!doc) continue;
    /* Keep what the schema accepts, as the adapters do. */
    json_t *clean = json_object();
    const char *state_code;
    json_t *recs;
    size_t kept = 0;
    if (json_is_object(doc)) {
      json_object_foreach(doc, state_code, recs) {
        if (!json_is_array(recs)) continue;
        json_t *ok = json_array();
        size_t k;
        json_t *rec;
        json_array_foreach(recs, k, rec) {
          char *why = NULL;
          if (fb_record_validate(rec, &why) == 0) json_array_append(ok, rec);
          else assert_true(why && why[0] != '\0');
          free(why);
        }
        kept += json_array_size(ok);
        json_object_set_new(clean, state_code, ok);
      }
    }
    json_t *results = fb_merge(clean);
    assert_non_null(results);
    assert_int_equal(count_records(results), kept); /* nothing invented, nothing lost */
    merged++;
    json_decref(results);
    json_decref(clean);
    json_decref(doc);
  }
  print_message("node answers: %d merged of %d mutations\n", merged, MUTATIONS);
  assert_true(merged > 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_search_bodies),
      cmocka_unit_test(test_node_answers_and_merge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
