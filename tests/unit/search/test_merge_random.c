/* The merge against its reference (support_merge_reference.c: the merge before its
 * linking was made faster), on random records: every byte of the answer must be the
 * same, in both forms (fb_merge's value, and fb_merge_sources written from compact
 * sets, where redaction lists are remembered by their text). The records are drawn
 * from small pools so that they collide: names with spelling variants, word orders,
 * connectors, other scripts (some met only through their consonant skeleton) and
 * redaction; dates of birth full, year-only, clashing or masked; documents with and
 * without country, formatted, hashed or redacted; phones; vessels with and without
 * IMO; ids repeated, short, and long ones equal in their first 16 bytes; states of up
 * to 90 records (entity sorts past 16). A shortcut that changes a link, a score, an
 * order or a near list fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crec.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "search/merge.h"
#include "tests/unit/search/merge_reference.h"

static uint32_t next_random(uint32_t *seed) {
  *seed = *seed * 1103515245u + 12345u;
  return *seed >> 8;
}

static const char *pick(uint32_t *seed, const char *const *pool, size_t n) { return pool[next_random(seed) % n]; }
#define PICK(seed, pool) pick((seed), (pool), sizeof(pool) / sizeof(pool)[0])

static const char *const names[] = {
    "Ahmad bin Ismail", "Ahmed bin Ismail", "Ismail Ahmad", "Ahmad Ismail", "AHMAD ISMAIL", "Mohd Ismail",
    "Muhammad Ismail", "Md Ismail", "Siti Aminah", "Siti Aminah binti Abdullah", "Wati Gunawan", "Wahyu Gunawan",
    "Budi Santoso", "Budi Santosa", "Nur Aziz", "Abd Rahman", "Abdul Rahman", "Rahim", "Chaiwat Yodsuwan",
    "Chaiwat Yodsuan", "Aminul Hossain", "Aminul Hussain", "Farzana Akter", "Farzana Akhter", "Hein Lin",
    "Moe Tun", "Salmah Omar", "Salma Umar", "D'Souza Rahul", "José Nguyễn", "Jose Nguyen",
    "\u0e2d\u0e32\u0e2b\u0e21\u0e31\u0e14 \u0e1a\u0e34\u0e19 \u0e2d\u0e34\u0e2a\u0e21\u0e32\u0e2d\u0e34\u0e25",
    "\u0986\u09b9\u09ae\u09a6 \u09ac\u09bf\u09a8 \u0987\u09b8\u09ae\u09be\u0987\u09b2",
    "\u1019\u1004\u103a\u1038 \u1021\u1031\u102c\u1004\u103a", "Min Aung",
    "\u0e2d\u0e34\u0e2a\u0e21\u0e32\u0e2d\u0e34\u0e25", "Esmail", "Asmail", /* met through their skeleton only */
    "[REDACTED]", "A. R.", "", "x"};
static const char *const dobs[] = {"1985-03-12", "1985-03-13", "1985", "1990-07-01", "1990", "1960", "[REDACTED]",
                                   "not a date", "2001-12-31"};
static const char *const numbers[] = {"A12345678", "a1234-5678", "A 1234 5678", "B7654321", "B765-4321",
                                      "C1111111", "[REDACTED]", "--", "X9"};
static const char *const countries[] = {"MYS", "IDN", "THA", "BGD", "[REDACTED]", "", "MYSX"};
static const char *const kinds[] = {"passport", "national_id", "passport", "[REDACTED]"};
static const char *const phones[] = {"+60123456789", "0060123456789", "60 12-345 6789", "+6281234567",
                                     "+66812345678", "12345", "[REDACTED]"};
static const char *const vessels[] = {"KM Sinar Laut", "Sinar Laut", "MV Sinar-Laut", "Bintang Timur",
                                      "KMP Bintang Timur", "[REDACTED]"};
static const char *const imos[] = {"IMO 9123453", "9123453", "9876543", "IMO 1234567", "[REDACTED]", "12345"};
static const char *const redactable[] = {"name",      "aliases", "dob",   "documents", "documents[0].number",
                                         "phones",    "vessel",  "notes", "address",   "vessel.imo"};
static const char *const fingerprints[] = {
    "9f2c6e3b1a0d4c5e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"};

static json_t *random_record(uint32_t *seed, const char *state, int i) {
  json_t *r = json_object();
  char id[64];
  uint32_t shape = next_random(seed) % 8;
  if (shape == 0) snprintf(id, sizeof id, "%s-P-%06u", state, next_random(seed) % 4); /* repeated */
  else if (shape == 1) snprintf(id, sizeof id, "%s-PERSON-RECORD-%u", state, next_random(seed) % 50); /* long */
  else if (shape == 2) snprintf(id, sizeof id, "%u", next_random(seed) % 10); /* short */
  else snprintf(id, sizeof id, "%s-P-%06d", state, i * 7 % 101);
  if (next_random(seed) % 20) json_object_set_new(r, "id", json_string(id));
  bool vessel = next_random(seed) % 6 == 0;
  json_object_set_new(r, "type", json_string(vessel ? "vessel" : "person"));
  if (vessel) {
    json_object_set_new(r, "name", json_string(PICK(seed, vessels)));
    if (next_random(seed) % 3)
      json_object_set_new(r, "vessel", json_pack("{s:s, s:s}", "name", PICK(seed, vessels), "imo", PICK(seed, imos)));
  } else {
    json_object_set_new(r, "name", json_string(PICK(seed, names)));
    if (next_random(seed) % 3 == 0) {
      json_t *aliases = json_array();
      for (uint32_t k = next_random(seed) % 6; k > 0; k--)
        json_array_append_new(aliases, json_string(PICK(seed, names)));
      json_object_set_new(r, "aliases", aliases);
    }
    if (next_random(seed) % 5) json_object_set_new(r, "dob", json_string(PICK(seed, dobs)));
    if (next_random(seed) % 8 == 0) json_object_set_new(r, "vessel", json_pack("{s:s}", "imo", PICK(seed, imos)));
  }
  json_t *redacted = json_array();
  for (size_t k = 0; k < sizeof redactable / sizeof redactable[0]; k++)
    if (next_random(seed) % 7 == 0) json_array_append_new(redacted, json_string(redactable[k]));
  bool docs_hashed = next_random(seed) % 6 == 0, phones_hashed = next_random(seed) % 6 == 0;
  if (next_random(seed) % 2) {
    json_t *docs = json_array();
    for (uint32_t k = 1 + next_random(seed) % 3; k > 0; k--) {
      if (docs_hashed) {
        json_array_append_new(docs, json_string(PICK(seed, fingerprints)));
        continue;
      }
      json_t *d = json_pack("{s:s}", "number", PICK(seed, numbers));
      if (next_random(seed) % 4) json_object_set_new(d, "country", json_string(PICK(seed, countries)));
      if (next_random(seed) % 4) json_object_set_new(d, "kind", json_string(PICK(seed, kinds)));
      json_array_append_new(docs, d);
    }
    json_object_set_new(r, "documents", docs);
    if (docs_hashed) json_array_append_new(redacted, json_string("documents"));
  }
  if (next_random(seed) % 3 == 0) {
    json_t *ph = json_array();
    for (uint32_t k = 1 + next_random(seed) % 2; k > 0; k--)
      json_array_append_new(ph, json_string(phones_hashed ? PICK(seed, fingerprints) : PICK(seed, phones)));
    json_object_set_new(r, "phones", ph);
    if (phones_hashed) json_array_append_new(redacted, json_string("phones"));
  }
  if (json_array_size(redacted) || next_random(seed) % 2) json_object_set_new(r, "redacted", redacted);
  else json_decref(redacted);
  return r;
}

/* The reference's answer as the hub writes it. */
static char *written(json_t *value) {
  fb_buf b = {0};
  assert_int_equal(fb_jsonw_dump(&b, value, FB_JSONW_PRECISION), 0);
  return fb_buf_steal(&b);
}

static void test_merge_is_its_reference_on_random_records(void **state) {
  (void)state;
  static const char *const states[] = {"IDN", "THA", "BGD", "MYS"};
  uint32_t seed = 20261201;
  size_t linked = 0, nears = 0, sorted_past_16 = 0;
  for (int round = 0; round < 600; round++) {
    size_t nstates = 1 + next_random(&seed) % 4;
    size_t most = round % 10 == 0 ? 90 : 14; /* now and then a crowd */
    json_t *in = json_object();
    for (size_t s = 0; s < nstates; s++) {
      json_t *recs = json_array();
      for (size_t i = next_random(&seed) % (most + 1); i > 0; i--)
        json_array_append_new(recs, random_record(&seed, states[s], (int)i));
      json_object_set_new(in, states[s], recs);
    }
    json_t *want_value = fb_merge_reference(in), *got_value = fb_merge(in);
    char *want = written(want_value), *got = written(got_value);
    if (strcmp(want, got) != 0) {
      char *input = json_dumps(in, JSON_COMPACT);
      fail_msg("round %d: input %s\nreference %s\nmerge     %s", round, input, want, got);
    }
    /* the written form, from compact sets of the same records */
    fb_merge_source src[4];
    fb_crecs *sets[4];
    for (size_t s = 0; s < nstates; s++) {
      json_t *body = json_pack("{s:O}", "records", json_object_get(in, states[s]));
      char *text = json_dumps(body, JSON_COMPACT);
      json_decref(body);
      sets[s] = fb_crecs_load(text, strlen(text), NULL);
      assert_non_null(sets[s]);
      src[s] = (fb_merge_source){.state = states[s], .set = sets[s]};
    }
    fb_merged *m = fb_merge_sources(src, nstates);
    fb_buf b = {0};
    assert_int_equal(fb_merged_write(&b, m, FB_JSONW_PRECISION), 0);
    if (strcmp(want, b.data) != 0) fail_msg("round %d (compact): reference %s\nmerge     %s", round, want, b.data);
    fb_buf_free(&b);
    fb_merged_free(m);
    for (size_t s = 0; s < nstates; s++) fb_crecs_free(sets[s]);
    /* what the rounds covered */
    size_t i;
    json_t *e;
    json_array_foreach(want_value, i, e) {
      linked += json_array_size(json_object_get(e, "records")) > 1;
      nears += json_object_get(e, "near") != NULL;
    }
    sorted_past_16 += json_array_size(want_value) > 16;
    free(want);
    free(got);
    json_decref(want_value);
    json_decref(got_value);
    json_decref(in);
  }
  /* links, near lists and long entity lists were all met */
  if (linked < 500 || nears < 100 || sorted_past_16 < 30)
    fail_msg("too little covered: %zu linked entities, %zu with near, %zu answers past 16", linked, nears,
             sorted_past_16);
}

/* Sources of both kinds in one merge: a jansson array's non-object record, skipped,
 * leaves nothing behind for the compact record read next (which must still link by
 * its document). */
static void test_mixed_sources_skip_cleanly(void **state) {
  (void)state;
  json_t *jrecs = json_loads("[1]", 0, NULL);
  static const char b_text[] =
      "{\"records\":[{\"id\":\"B1\",\"type\":\"person\",\"documents\":[{\"number\":\"A12345678\"}]}]}";
  static const char c_text[] =
      "{\"records\":[{\"id\":\"C1\",\"type\":\"person\",\"documents\":[{\"number\":\"A12345678\"}]}]}";
  char *bt = strdup(b_text), *ct = strdup(c_text);
  fb_crecs *b = fb_crecs_load(bt, strlen(b_text), NULL), *c = fb_crecs_load(ct, strlen(c_text), NULL);
  assert_non_null(b);
  assert_non_null(c);
  fb_merge_source src[3] = {{.state = "AAA", .records = jrecs}, {.state = "BBB", .set = b}, {.state = "CCC", .set = c}};
  fb_merged *m = fb_merge_sources(src, 3);
  assert_int_equal(fb_merged_count(m), 1); /* B1 and C1: one entity */
  fb_buf out = {0};
  assert_int_equal(fb_merged_write(&out, m, FB_JSONW_PRECISION), 0);
  assert_non_null(strstr(out.data, "\"match\":[\"document\"]"));
  fb_buf_free(&out);
  fb_merged_free(m);
  fb_crecs_free(b);
  fb_crecs_free(c);
  json_decref(jrecs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_merge_is_its_reference_on_random_records),
      cmocka_unit_test(test_mixed_sources_skip_cleanly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
