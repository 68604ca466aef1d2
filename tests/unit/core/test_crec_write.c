/* The compact record writer on edited records (core/crec.h: fb_crec_write and
 * fb_crec_write_state, which copy runs of unchanged members as one span) against
 * jansson's path: the same edits made on jansson's value, written by jsonw, at the
 * answer's precision and at one that rewrites every real; a set frozen and thawed
 * (fb_crecs_freeze) after them writes and reads the same. */
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
#include "records/record.h"
#include "unit_common.h"

static const char *const extra_names[] = {"id", "type", "redacted", "redacted_by", "state"};

static const char *key_name(int k) {
  return k < FB_RECORD_FIELD_COUNT ? fb_record_fields[k] : extra_names[k - FB_RECORD_FIELD_COUNT];
}

static void same_text(const fb_buf *got, json_t *want_value, int precision, const char *what) {
  fb_buf want = {0};
  assert_int_equal(fb_jsonw_value(&want, want_value, precision), 0);
  if (got->len != want.len || memcmp(got->data, want.data, want.len) != 0)
    fail_msg("%s, precision %d\nwant: %.1500s\ngot:  %.1500s", what, precision, want.data, got->data);
  fb_buf_free(&want);
}

/* The merged answer's record: "state" first, then the record's members but its own "state". */
static json_t *with_state(json_t *rec, json_t *state) {
  json_t *o = json_object();
  json_object_set(o, "state", state);
  const char *k;
  json_t *v;
  json_object_foreach(rec, k, v) if (strcmp(k, "state") != 0) json_object_set(o, k, v);
  return o;
}

static void test_edited_records_write_as_jansson(void **state) {
  (void)state;
  char text[1024];
  snprintf(text, sizeof text,
           "{\"records\":["
           "{\"id\":\"a\",\"type\":\"person\",\"%s\":\"Ahmad\",\"%s\":[\"x\",2.25,{\"k\":0.123456789}],\"n\":1.5},"
           "{\"state\":\"IDN\",\"id\":\"b\",\"type\":\"person\",\"%s\":\"q\\\"\\n\",\"m\":-2.5e-3,\"z\":[[1,2],{}]},"
           "{\"id\":\"c\",\"n\":7,\"state\":{\"r\":0.1},\"type\":\"vessel\",\"%s\":null},"
           "{},{\"%s\":3.14159}]}",
           key_name(0), key_name(1), key_name(0), key_name(FB_RECORD_FIELD_COUNT - 1), key_name(1));
  static const char *const values[] = {"\"REDACTED\"", "12", "0.30000000000000004", "[1.5,\"s\",[2.125]]",
                                       "{\"a\":1e-7,\"b\":\"c\"}", "null", "[\"name\",\"aliases\"]"};
  static const int precisions[] = {FB_JSONW_PRECISION, 3};
  uint64_t rng = 0x5eed;
  size_t edits = 0;
  for (int round = 0; round < 4000; round++) {
    size_t len = strlen(text);
    char *copy = fb_xmalloc(len + 1);
    memcpy(copy, text, len + 1);
    fb_crecs *s = fb_crecs_load(copy, len, NULL);
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(s);
    assert_non_null(v);
    json_t *recs = json_object_get(v, "records");
    assert_int_equal(s->nrecs, json_array_size(recs));
    for (size_t i = 0; i < s->nrecs; i++) {
      json_t *r = json_array_get(recs, i);
      size_t n = fb_test_rand(&rng) % 6;
      for (size_t e = 0; e < n; e++, edits++) {
        int k = (int)(fb_test_rand(&rng) % FB_CKEY_COUNT);
        if (fb_test_rand(&rng) % 3 == 0) {
          fb_crec_remove(s, i, k);
          json_object_del(r, key_name(k));
        } else {
          json_t *x = json_loads(values[fb_test_rand(&rng) % FB_ARRAY_LEN(values)], JSON_DECODE_ANY, NULL);
          assert_non_null(x);
          fb_crec_set(s, i, k, x);
          json_object_set_new(r, key_name(k), x);
        }
      }
      json_t *st = json_loads("{\"state\":\"THA\",\"w\":0.5}", 0, NULL);
      fb_buf state_text = {0};
      assert_int_equal(fb_jsonw_value(&state_text, st, FB_JSONW_PRECISION), 0);
      json_t *merged = with_state(r, st);
      for (size_t p = 0; p < FB_ARRAY_LEN(precisions); p++) {
        fb_buf one = {0};
        fb_crec_write(&one, s, i, precisions[p]);
        same_text(&one, r, precisions[p], "fb_crec_write");
        one.len = 0;
        fb_buf_puts(&one, "x"); /* after other text, as in the answer */
        fb_crec_write_state(&one, s, i, state_text.data, state_text.len, precisions[p]);
        fb_buf rest = {.data = one.data + 1, .len = one.len - 1};
        same_text(&rest, merged, precisions[p], "fb_crec_write_state");
        fb_buf_free(&one);
      }
      json_decref(merged);
      json_decref(st);
      fb_buf_free(&state_text);
    }
    /* Frozen, as a leg's records held long: their text only, exactly its bytes; thawed,
     * the same records. */
    size_t nrecs = s->nrecs;
    assert_int_equal(fb_crecs_freeze(s), 0);
    assert_true(s->frozen);
    assert_int_equal(s->nrecs, 0);
    assert_null(s->plain);
    assert_null(s->members);
    assert_null(s->scratch.data);
    assert_null(s->xtext); /* the edits live in the records' text now */
    assert_null(s->xmembers);
    assert_int_equal(s->xused, 0);
    assert_int_equal(strlen(s->text), s->len);
    assert_int_equal(fb_crecs_freeze(s), -1);
    assert_int_equal(fb_crecs_thaw(s), 0);
    assert_false(s->frozen);
    assert_int_equal(s->nrecs, nrecs);
    for (size_t i = 0; i < s->nrecs; i++) {
      json_t *r = json_array_get(recs, i);
      for (size_t p = 0; p < FB_ARRAY_LEN(precisions); p++) {
        fb_buf one = {0};
        fb_crec_write(&one, s, i, precisions[p]);
        same_text(&one, r, precisions[p], "fb_crec_write after fb_crecs_freeze and fb_crecs_thaw");
        fb_buf_free(&one);
      }
      json_t *name = json_object_get(r, key_name(0));
      const char *got = fb_crec_string(s, &s->recs[i], 0);
      if (json_is_string(name)) assert_string_equal(got, json_string_value(name));
      else assert_null(got);
    }
    assert_int_equal(fb_crecs_thaw(s), 0); /* not frozen: nothing to do */
    fb_crecs_free(s);
    json_decref(v);
  }
  assert_true(edits > 10000);
}

/* Edits spread over the records in any order (a record gaining members after another
 * did moves its added members together), each value read back through the set (its
 * jansson value, its array elements and object members, which lie in the edits'
 * text), and the answer's own text never moved or changed by them. */
static void test_interleaved_edits_read_back(void **state) {
  (void)state;
  static const char text[] = "{\"records\":[{\"id\":\"a\",\"type\":\"person\"},{\"id\":\"b\"},{},{\"type\":\"vessel\"}]}";
  static const char *const values[] = {"\"[REDACTED]\"", "[\"name\",\"aliases\"]", "{\"name\":\"rule one\",\"dob\":\"r2\"}",
                                       "[{\"kind\":\"passport\",\"number\":\"X1\"}]", "7", "\"\\u0001\\n\""};
  uint64_t rng = 0xed175;
  for (int round = 0; round < 2000; round++) {
    size_t len = sizeof text - 1;
    char *copy = fb_xmalloc(len + 1);
    memcpy(copy, text, len + 1);
    fb_crecs *s = fb_crecs_load(copy, len, NULL);
    assert_non_null(s);
    const char *answer = s->text;
    json_t *v = json_loads(text, 0, NULL);
    json_t *recs = json_object_get(v, "records");
    for (int e = 0; e < 24; e++) {
      size_t i = fb_test_rand(&rng) % s->nrecs;
      int k = (int)(fb_test_rand(&rng) % FB_CKEY_COUNT);
      json_t *r = json_array_get(recs, i);
      if (fb_test_rand(&rng) % 4 == 0) {
        fb_crec_remove(s, i, k);
        json_object_del(r, key_name(k));
        assert_null(fb_crec_get(s, &s->recs[i], k));
        continue;
      }
      const char *t = values[fb_test_rand(&rng) % FB_ARRAY_LEN(values)];
      json_t *x = json_loads(t, JSON_DECODE_ANY, NULL);
      assert_non_null(x);
      fb_buf w = {0};
      assert_int_equal(fb_jsonw_value(&w, x, FB_JSONW_PRECISION), 0);
      assert_int_equal(fb_crec_set_text(s, i, k, w.data, w.len), 0);
      fb_buf_free(&w);
      json_object_set_new(r, key_name(k), x);
      /* the schema check reads what the edit's scan noted of the value: jansson's sentence */
      char *wa = NULL, *wb = NULL;
      int ra = fb_record_validate(r, &wa), rb = fb_crec_validate(s, i, &wb);
      assert_int_equal(ra, rb);
      if (ra) assert_string_equal(wa, wb);
      free(wa);
      free(wb);
      /* every edited record reads back as jansson's: members, arrays, objects, strings */
      for (size_t j = 0; j < s->nrecs; j++)
        for (int q = 0; q < FB_CKEY_COUNT; q++) {
          const fb_cmember *m = fb_crec_get(s, &s->recs[j], q);
          json_t *want = json_object_get(json_array_get(recs, j), key_name(q));
          if (!m) {
            assert_null(want);
            continue;
          }
          json_t *got = fb_crec_json(s, m);
          assert_true(json_equal(got, want));
          json_decref(got);
          if (m->type == JSON_STRING) assert_string_equal(fb_crec_str_at(s, m->val), json_string_value(want));
          uint32_t pos = 0, off, n, koff, klen;
          int type;
          size_t count = 0;
          if (m->type == JSON_ARRAY)
            while (fb_crec_array_next(s, m->val, &pos, &off, &n, &type)) count++;
          if (m->type == JSON_OBJECT)
            while (fb_crec_object_next(s, m->val, &pos, &koff, &klen, &off, &n, &type)) {
              assert_non_null(json_object_get(want, fb_crec_str_at(s, koff)));
              assert_int_equal(fb_crec_object_get(s, m->val, fb_crec_str_at(s, koff), &off, &n, &type), 1);
              count++;
            }
          if (m->type == JSON_ARRAY || m->type == JSON_OBJECT) assert_int_equal(count, json_is_array(want) ? json_array_size(want) : json_object_size(want));
        }
    }
    for (size_t j = 0; j < s->nrecs; j++) {
      fb_buf one = {0};
      fb_crec_write(&one, s, j, FB_JSONW_PRECISION);
      same_text(&one, json_array_get(recs, j), FB_JSONW_PRECISION, "fb_crec_write after interleaved edits");
      fb_buf_free(&one);
    }
    assert_ptr_equal(s->text, answer); /* edits never copy the answer's text */
    assert_memory_equal(s->text, text, len);
    fb_crecs_free(s);
    json_decref(v);
  }
}

/* A value given again is shared, not appended again: by fb_crec_set_shared (a member
 * already in the set) and by fb_crec_set_text of the same bytes. The records write and
 * read as copies would, frozen and thawed too; a member outside the set is refused. */
static void test_shared_values_write_as_copies(void **state) {
  (void)state;
  static const char text[] = "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":\"x\"},"
                             "{\"id\":\"b\",\"type\":\"person\"},{\"id\":\"c\",\"redacted\":1,\"type\":\"person\"}]}";
  static const char list[] = "[\"name\",\"dob\"]", masked[] = "\"[REDACTED]\"";
  char *copy = fb_xstrdup(text);
  fb_crecs *s = fb_crecs_load(copy, sizeof text - 1, NULL);
  assert_non_null(s);
  assert_true(s->fast);
  json_t *v = json_loads(text, 0, NULL);
  json_t *recs = json_object_get(v, "records");
  assert_int_equal(fb_crec_set_text(s, 0, FB_CKEY_REDACTED, list, sizeof list - 1), 0);
  assert_int_equal(fb_crec_set_text(s, 0, FB_RECORD_FIELD_NAME, masked, sizeof masked - 1), 0);
  size_t used = s->xused;
  fb_cmember shared = *fb_crec_get(s, &s->recs[0], FB_CKEY_REDACTED);
  assert_int_equal(fb_crec_set_shared(s, 1, FB_CKEY_REDACTED, &shared), 0); /* added */
  assert_int_equal(fb_crec_set_shared(s, 2, FB_CKEY_REDACTED, &shared), 0); /* in place */
  assert_int_equal(fb_crec_set_text(s, 1, FB_RECORD_FIELD_DOB, masked, sizeof masked - 1), 0);
  assert_int_equal(fb_crec_set_text(s, 2, FB_RECORD_FIELD_ALIASES, list, sizeof list - 1), 0);
  assert_int_equal(s->xused, used + sizeof "\"dob\"" - 1 + sizeof "\"aliases\"" - 1); /* the new keys only */
  json_t *l = json_loads(list, 0, NULL), *m = json_string("[REDACTED]");
  json_object_set(json_array_get(recs, 0), "redacted", l);
  json_object_set(json_array_get(recs, 0), "name", m);
  json_object_set(json_array_get(recs, 1), "redacted", l);
  json_object_set(json_array_get(recs, 2), "redacted", l);
  json_object_set(json_array_get(recs, 1), "dob", m);
  json_object_set(json_array_get(recs, 2), "aliases", l);
  /* outside the set's text: refused, the record unchanged */
  fb_cmember outside = shared;
  outside.val = (uint32_t)(s->len + s->xused);
  assert_int_equal(fb_crec_set_shared(s, 1, FB_RECORD_FIELD_SEX, &outside), -1);
  outside = shared;
  outside.val = (uint32_t)s->len - 2; /* across the answer's end */
  assert_int_equal(fb_crec_set_shared(s, 1, FB_RECORD_FIELD_SEX, &outside), -1);
  assert_null(fb_crec_get(s, &s->recs[1], FB_RECORD_FIELD_SEX));
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < s->nrecs; i++) {
      fb_buf one = {0};
      fb_crec_write(&one, s, i, FB_JSONW_PRECISION);
      same_text(&one, json_array_get(recs, i), FB_JSONW_PRECISION, round ? "shared, thawed" : "shared");
      fb_buf_free(&one);
      char *wa = NULL, *wb = NULL;
      assert_int_equal(fb_record_validate(json_array_get(recs, i), &wa), fb_crec_validate(s, i, &wb));
      if (wa) assert_string_equal(wa, wb);
      free(wa);
      free(wb);
      assert_string_equal(fb_crec_str_at(s, fb_crec_get(s, &s->recs[i], FB_CKEY_ID)->val),
                          json_string_value(json_object_get(json_array_get(recs, i), "id")));
    }
    assert_int_equal(fb_crecs_freeze(s), 0);
    assert_int_equal(fb_crecs_thaw(s), 0);
  }
  /* texts of one length that differ (they meet in the memo's 16 slots): each its own */
  for (int k = 0; k < 64; k++) {
    char t[16], want[16];
    snprintf(t, sizeof t, "\"v%03d\"", k % 40);
    snprintf(want, sizeof want, "v%03d", k % 40);
    assert_int_equal(fb_crec_set_text(s, (size_t)k % 3, FB_RECORD_FIELD_NOTES, t, strlen(t)), 0);
    assert_string_equal(fb_crec_string(s, &s->recs[k % 3], FB_RECORD_FIELD_NOTES), want);
    fb_buf one = {0};
    fb_crec_write(&one, s, (size_t)k % 3, FB_JSONW_PRECISION);
    assert_non_null(strstr(one.data, t));
    fb_buf_free(&one);
  }
  /* after the freeze, the same text is appended once again (no stale offset) */
  assert_int_equal(fb_crec_set_text(s, 1, FB_RECORD_FIELD_SEX, masked, sizeof masked - 1), 0);
  assert_string_equal(fb_crec_string(s, &s->recs[1], FB_RECORD_FIELD_SEX), "[REDACTED]");
  json_decref(l);
  json_decref(m);
  json_decref(v);
  fb_crecs_free(s);
}

int main(void) {
  fb_json_use_xalloc();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_edited_records_write_as_jansson),
      cmocka_unit_test(test_interleaved_edits_read_back),
      cmocka_unit_test(test_shared_values_write_as_copies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
