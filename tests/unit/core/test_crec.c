/* Compact records (records/crec.h) against jansson's path on the same text: the parse
 * (value or error sentence and position), the canonical text (jsonw's bytes of
 * jansson's value, at the answer's precision and the audit's), each record's text, its
 * known fields as strings, and the schema check's sentences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "demo/demo_data.h"
#include "core/crec.h"
#include "records/record.h"
#include "records/sqlite_db.h"
#include "unit_common.h"

static const char *const extra_names[] = {"id", "type", "redacted", "redacted_by", "state"};

static const char *key_name(int k) {
  return k < FB_RECORD_FIELD_COUNT ? fb_record_fields[k] : extra_names[k - FB_RECORD_FIELD_COUNT];
}

/* The http adapter's judgement (adapters/http.c) on jansson's value. */
static int judge(json_t *body, char **err) {
  json_t *recs = json_object_get(body, "records");
  if (!json_is_object(body) || !json_is_array(recs))
    return fb_set_error(err, "answer from node has no \"records\" array");
  size_t i;
  json_t *r;
  json_array_foreach(recs, i, r) if (fb_record_validate(r, err) != 0) {
    fb_prefix_error(err, "record %zu: ", i);
    return -1;
  }
  return 0;
}

static void same_buf_as_jsonw(const fb_buf *got, json_t *v, int precision) {
  fb_buf want = {0};
  assert_int_equal(fb_jsonw_value(&want, v, precision), 0);
  if (got->len != want.len || memcmp(got->data, want.data, want.len) != 0)
    fail_msg("precision %d\nwant: %.1500s\ngot:  %.1500s", precision, want.data, got->data);
  fb_buf_free(&want);
}

static void same_error(int ra, const char *ea, int rb, const char *eb) {
  assert_int_equal(ra, rb);
  if (ra) assert_string_equal(ea, eb);
  else assert_true(!ea && !eb); /* a valid answer allocates no sentence */
}

/* Everything the set says about `text` is what jansson's path says. Returns whether
 * the text was taken without the jansson round trip. */
static bool same_as_jansson(const char *text, size_t len) {
  json_error_t ea, eb;
  json_t *v = json_loadb(text, len, 0, &ea);
  char *copy = fb_xmalloc(len + 1);
  memcpy(copy, text, len);
  copy[len] = '\0';
  fb_crecs *s = fb_crecs_load(copy, len, &eb);
  if ((v == NULL) != (s == NULL)) fail_msg("load differs on %.200s: %s", text, v ? eb.text : ea.text);
  if (!v) {
    assert_string_equal(ea.text, eb.text);
    assert_int_equal(ea.position, eb.position);
    return false;
  }
  static const int precisions[] = {FB_JSONW_PRECISION, 0};
  for (size_t p = 0; p < FB_ARRAY_LEN(precisions); p++) {
    fb_buf whole = {0};
    fb_crec_put_span(&whole, s, 0, (uint32_t)s->len, true, precisions[p]);
    same_buf_as_jsonw(&whole, v, precisions[p]);
    fb_buf_free(&whole);
  }
  json_t *recs = json_object_get(v, "records");
  assert_int_equal(s->has_records, json_is_object(v) && json_is_array(recs));
  if (s->has_records) {
    assert_int_equal(s->nrecs, json_array_size(recs));
    for (size_t i = 0; i < s->nrecs; i++) {
      json_t *r = json_array_get(recs, i);
      for (size_t p = 0; p < FB_ARRAY_LEN(precisions); p++) {
        fb_buf one = {0};
        fb_crec_write(&one, s, i, precisions[p]);
        same_buf_as_jsonw(&one, r, precisions[p]);
        fb_buf_free(&one);
      }
      for (int k = 0; k < FB_CKEY_COUNT; k++) {
        json_t *f = json_object_get(r, key_name(k));
        const char *got = fb_crec_string(s, &s->recs[i], k);
        assert_int_equal(json_is_string(f), got != NULL);
        if (got) assert_memory_equal(got, json_string_value(f), json_string_length(f) + 1);
        assert_int_equal(f != NULL, fb_crec_get(s, &s->recs[i], k) != NULL);
      }
      char *wa = NULL, *wb = NULL;
      int ra = fb_record_validate(r, &wa), rb = fb_crec_validate(s, i, &wb);
      same_error(ra, wa, rb, wb);
      free(wa);
      free(wb);
    }
  }
  char *wa = NULL, *wb = NULL;
  int ra = judge(v, &wa), rb = fb_crecs_judge(s, &wb);
  same_error(ra, wa, rb, wb);
  free(wa);
  free(wb);
  bool fast = s->fast;
  fb_crecs_free(s);
  json_decref(v);
  return fast;
}

static void test_edge_cases_agree_with_jansson(void **state) {
  (void)state;
  static const char *const cases[] = {
      "{}", "[]", "{\"records\":[]}", "{\"records\":{}}", "{\"records\":[1,\"x\",null,[]]}",
      "{\"records\":[{}]}", "{\"records\":[{\"id\":\"\"}]}", "{\"records\":[{\"id\":1}]}",
      "{\"records\":[{\"id\":\"a\"}]}", "{\"records\":[{\"id\":\"a\",\"type\":\"ship\"}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":null}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"tags\":\"victim\"}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"aliases\":[\"x\",2]}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"documents\":[{\"number\":\"1\"},3]}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"documents\":[{\"kind\":\"p\",\"number\":7}]}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"cases\":[{\"ref\":[]}]}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"vessel\",\"vessel\":[]}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"vessel\",\"vessel\":{\"name\":\"x\",\"imo\":9}}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"redacted\":[\"name\",false]}]}",
      "{\"x\":1,\"records\":[{\"id\":\"a\",\"type\":\"person\",\"n\":[1.5,-0.0,1e300,2.5E-3,{\"k\":0.1}]}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"id\":\"b\"}]}", /* repeated key: jansson keeps one */
      "{\"records\":[],\"records\":[{\"id\":\"a\",\"type\":\"person\"}]}",
      "{\"records\":[{\"type\":\"person\",\"id\":\"a\",\"name\":\"q\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001F\"}]}",
      "{\"records\":[{\"type\":\"person\",\"id\":\"a\",\"name\":\"\\/\\u00e9\\u001f\\u0000\"}]}",
      "{\"records\":[{\"type\":\"person\",\"id\":\"a\",\"name\":\"\\ud83d\\ude00\\u007f\x7f\"}]}",
      "{\"records\":[{\"type\":\"person\",\"id\":\"a\",\"name\":\"\\u001f\\u000b\"}]}", /* lowercase: not jsonw's */
      "{\"records\":[{\"type\":\"person\",\"id\":\"a\",\"name\":\"\\u001F\\u000B\"}]}",
      "{\"records\":[{\"type\":\"person\",\"id\":\"a\",\"n\":-0,\"m\":9223372036854775807,\"o\":-9223372036854775808}]}",
      "{\"records\":[{\"type\":\"person\",\"id\":\"a\",\"n\":9223372036854775808}]}",
      " {\"records\" : [ {\"type\":\"person\", \"id\":\"a\"} ] } ", "{\"records\":[]} \r\n\t", "{\"records\":[]}\n x", "{\"records\":[{\"id\":\"a\",\"type\":\"person\"}]} x",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":\"\xc3\xa9\xe0\xb8\xaa\xf0\x9f\x98\x80\"}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":\"\xed\xa0\x80\"}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":\"\xc0\x80\"}]}", "{\"records\":[{\"id\":\"a\",",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":1e400}]}", "[{\"records\":[]}]", "1", "",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"k\":{\"a\":1,\"b\":{\"a\":2,\"a\":3}}}]}"};
  for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) same_as_jansson(cases[i], strlen(cases[i]));
  static const size_t depths[] = {300, 2046, 2047, 2048, 2049, 2100};
  for (size_t d = 0; d < FB_ARRAY_LEN(depths); d++) {
    fb_buf b = {0};
    fb_buf_puts(&b, "{\"records\":");
    for (size_t i = 0; i < depths[d]; i++) fb_buf_putc(&b, '[');
    fb_buf_putc(&b, '1');
    for (size_t i = 0; i < depths[d]; i++) fb_buf_putc(&b, ']');
    fb_buf_putc(&b, '}');
    same_as_jansson(b.data, b.len);
    fb_buf_free(&b);
  }
  /* an object with many keys (repeated keys found by sorting) */
  fb_buf b = {0};
  fb_buf_puts(&b, "{\"records\":[{\"id\":\"a\",\"type\":\"person\"");
  for (int i = 0; i < 200; i++) fb_buf_printf(&b, ",\"k%d\":%d", i, i);
  fb_buf_puts(&b, "}]}");
  assert_true(same_as_jansson(b.data, b.len));
  b.len -= 3;
  fb_buf_puts(&b, ",\"k7\":0}]}");
  assert_false(same_as_jansson(b.data, b.len));
  fb_buf_free(&b);
}

/* The demo nodes' answers (as the node writes them) are canonical: no round trip. */
static void test_demo_answers_are_taken_in_place(void **state) {
  (void)state;
  char dir[] = "/tmp/fb_crec_XXXXXX";
  char *err = NULL;
  assert_true(fb_test_demo_data_dir(dir));
  static const char *const subjects[] = {"{\"name\":\"Ahmad bin Ismail\"}", "{\"document\":\"A12345678\"}",
                                         "{\"vessel\":{\"name\":\"KM Sinar Laut\"}}", "{\"name\":\"Siti Rahayu\"}"};
  size_t records = 0;
  for (size_t k = 0; k < FB_ARRAY_LEN(subjects); k++) {
    json_t *subject = json_loads(subjects[k], 0, NULL);
    for (int i = 0; i < 4; i++) {
      char p[160];
      snprintf(p, sizeof p, "%s/%s.db", dir, fb_demo_states[i]);
      fb_sqlite_db *db;
      assert_int_equal(fb_sqlite_db_open(p, &db, &err), 0);
      json_t *res = fb_sqlite_db_search(db, subject, 50, &err);
      assert_non_null(res);
      records += json_array_size(res);
      json_t *body = json_pack("{s:o}", "records", res);
      fb_buf text = {0};
      assert_int_equal(fb_jsonw_dump(&text, body, FB_JSONW_PRECISION), 0);
      assert_true(same_as_jansson(text.data, text.len));
      fb_buf_putc(&text, '\n'); /* as fb_respond_json ends a node's answer */
      assert_true(same_as_jansson(text.data, text.len));
      fb_buf_free(&text);
      json_decref(body);
      fb_sqlite_db_close(db);
    }
    json_decref(subject);
  }
  assert_true(records >= 10);
  assert_true(fb_test_rm_rf(dir));
}

/* The scanner reads strings eight bytes at a time (core/crec.c, skip_plain and
 * skip_string_bytes) and finds repeated keys and known keys by a tag of a key's
 * length and three of its characters: every kind of byte a string's run stops at, at
 * every offset within a word after plain runs of every length; keys that share a tag
 * but differ, with and without a known key's tag; a key repeated at every pair of
 * places in objects of up to 17 keys. Whatever jansson says, so does the set. */
static void test_word_scan_and_key_tags_agree_with_jansson(void **state) {
  (void)state;
  static const char *const stops[] = {"\"", "\\\"", "\\\\", "\\n", "\\u001F", "\\u00e9", "\x01", "\x1f",
                                      "\xc3\xa9", "\xe0\xb8\xaa", "\xf0\x9f\x98\x80", "\xc0\x80", "\xff", "\x7f", "/"};
  size_t fast = 0;
  for (size_t lead = 0; lead < 20; lead++)
    for (size_t k = 0; k < FB_ARRAY_LEN(stops); k++)
      for (size_t tail = 0; tail < 10; tail += 3) {
        fb_buf b = {0};
        fb_buf_puts(&b, "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":\"");
        for (size_t i = 0; i < lead; i++) fb_buf_putc(&b, (char)('a' + i % 26));
        fb_buf_puts(&b, stops[k]);
        for (size_t i = 0; i < tail; i++) fb_buf_putc(&b, 'z');
        fb_buf_puts(&b, "\",\"aliases\":[\"");
        for (size_t i = 0; i < tail + lead; i++) fb_buf_putc(&b, 'y');
        fb_buf_puts(&b, stops[k]);
        fb_buf_puts(&b, "\",\"b\"]}]}");
        fast += same_as_jansson(b.data, b.len);
        fb_buf_free(&b);
      }
  assert_true(fast > 100);
  /* keys with one tag: "name" and "naXe", "tags" and "taXs", "abcx" and "abdx" */
  static const char *const tagged[] = {
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"naXe\":\"n\",\"taXs\":[],\"abcx\":1,\"abdx\":2}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"name\":\"n\",\"naXe\":\"m\",\"tags\":[\"victim\"],\"taXs\":1}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"abcx\":1,\"abdx\":2,\"abcx\":3}]}",
      "{\"records\":[{\"i\\u0064\":\"a\",\"type\":\"person\",\"name\":\"n\"}]}",
      "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"nationalitx\":\"MYS\",\"redacted_bx\":\"y\"}]}"};
  for (size_t i = 0; i < FB_ARRAY_LEN(tagged); i++) {
    bool canonical = i != 2 && i != 3; /* a repeated key; an escape jsonw would not write */
    assert_int_equal(same_as_jansson(tagged[i], strlen(tagged[i])), canonical);
  }
  for (int n = 2; n <= 17; n++)
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) {
        fb_buf b = {0};
        fb_buf_puts(&b, "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"o\":{");
        for (int k = 0; k < n; k++) fb_buf_printf(&b, "%s\"key%02d\":%d", k ? "," : "", k == j ? i : k, k);
        fb_buf_puts(&b, "}}]}");
        assert_false(same_as_jansson(b.data, b.len)); /* repeated: jansson's round trip */
        fb_buf_free(&b);
      }
}

/* A plain string is taken from the block (16 bytes with SSE2, else 8) that holds its
 * closing quote when no other stop byte comes first (core/crec.c, scan_string): a quote, a backslash, a control
 * byte, a multi-byte character at every place within a word, in keys (known ones
 * too) and values; strings within 8 bytes of the text's end (the word loop stops
 * there); every prefix of an answer, so a string runs into the end at every place. */
static void test_string_words_agree_with_jansson(void **state) {
  (void)state;
  static const char *const stops[] = {"\"", "\\\"", "\\\\", "\\t", "\\u0001", "\x01", "\x1f", "\xc3\xa9",
                                      "\xe2\x82", "\xff", "\\u00e9"};
  size_t fast = 0;
  for (size_t lead = 0; lead < 40; lead++) /* blocks of 16 bytes, then words of 8 */
    for (size_t k = 0; k < FB_ARRAY_LEN(stops); k++) {
      fb_buf b = {0};
      /* a key with the stop at `lead`, then a known key whose value has it there too */
      fb_buf_puts(&b, "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"");
      for (size_t i = 0; i < lead; i++) fb_buf_putc(&b, (char)('a' + i % 26));
      fb_buf_puts(&b, stops[k]);
      fb_buf_puts(&b, "k\":1,\"nationality\":\"");
      for (size_t i = 0; i < lead; i++) fb_buf_putc(&b, 'M');
      fb_buf_puts(&b, stops[k]);
      fb_buf_puts(&b, "\"}]}");
      fast += same_as_jansson(b.data, b.len);
      /* the same string last, up to the text's end */
      for (size_t end = 0; end < 10; end++) {
        fb_buf c = {0};
        fb_buf_puts(&c, "{\"records\":[],\"s\":\"");
        for (size_t i = 0; i < lead; i++) fb_buf_putc(&c, 'x');
        fb_buf_puts(&c, stops[k]);
        for (size_t i = 0; i < end; i++) fb_buf_putc(&c, 'y');
        fb_buf_puts(&c, "\"}");
        fast += same_as_jansson(c.data, c.len);
        fb_buf_free(&c);
      }
      fb_buf_free(&b);
    }
  assert_true(fast > 300);
  static const char answer[] = "{\"records\":[{\"id\":\"IDN-P-000001\",\"type\":\"person\",\"name\":\"Ahmad "
                               "Ismail\",\"nationality\":\"MYS\",\"notes\":\"a \\\"b\\\" \xc3\xa9 long enough\"}]}";
  for (size_t n = 0; n <= sizeof answer - 1; n++) same_as_jansson(answer, n);
  /* known keys are compared by their first and last 8 bytes (4 and 4 below 8): keys
   * with a known key's tag that differ from it in one half only */
  static const char near[] = "{\"records\":[{\"id\":\"a\",\"type\":\"person\",\"nationaliXy\":\"A\",\"naXionality\":"
                             "\"B\",\"redaXted_by\":{},\"tyXe\":\"C\",\"nXme\":\"D\"}]}";
  assert_true(same_as_jansson(near, sizeof near - 1));
}

/* The schema check passes a value the scan saw hold only what the schema allows
 * (fb_cmember.kinds) without walking it, and walks anything else: the same sentence
 * as jansson's check for every mix of elements in every checked field. */
static void test_value_kinds_check_as_the_walk_does(void **state) {
  (void)state;
  static const char *const elems[] = {"\"s\"", "1", "null", "[]", "{}", "[\"s\"]", "{\"kind\":\"p\",\"number\":\"1\"}",
                                      "{\"kind\":1}", "{\"other\":2.5}", "{\"ref\":\"r\",\"status\":[]}",
                                      "{\"kind\":\"p\",\"x\":{\"y\":1}}", "{\"name\":\"n\",\"imo\":{}}", "{\"flag\":null}"};
  static const char *const fields[] = {"tags", "aliases", "phones", "redacted", "documents", "cases"};
  size_t n = FB_ARRAY_LEN(elems), valid = 0, refused = 0;
  for (size_t f = 0; f < FB_ARRAY_LEN(fields) + 1; f++)
    for (size_t a = 0; a <= n; a++)
      for (size_t b = 0; b <= n; b++) {
        fb_buf t = {0};
        fb_buf_puts(&t, "{\"records\":[{\"id\":\"a\",\"type\":\"vessel\",\"");
        if (f < FB_ARRAY_LEN(fields)) { /* an array of 0, 1 or 2 elements */
          fb_buf_printf(&t, "%s\":[", fields[f]);
          if (a < n) fb_buf_puts(&t, elems[a]);
          if (a < n && b < n) fb_buf_printf(&t, ",%s", elems[b]);
          fb_buf_puts(&t, "]");
        } else { /* vessel: an object with up to two members, or any other value */
          fb_buf_puts(&t, "vessel\":");
          if (a == n) fb_buf_puts(&t, elems[b < n ? b : 0]);
          else fb_buf_printf(&t, "{\"%s\":%s%s%s}", a % 2 ? "imo" : "name", elems[a], b < n ? ",\"flag\":" : "",
                             b < n ? elems[b] : "");
        }
        fb_buf_puts(&t, "}]}");
        json_t *v = json_loadb(t.data, t.len, 0, NULL);
        if (judge(v, NULL) == 0) valid++;
        else refused++;
        json_decref(v);
        assert_true(same_as_jansson(t.data, t.len));
        fb_buf_free(&t);
      }
  assert_true(valid > 50 && refused > 500);
}

/* Random text near a node answer: whatever jansson says, so does the set. */
static void test_random_text_agrees_with_jansson(void **state) {
  (void)state;
  static const char *const pieces[] = {"{", "}", "[", "]", ",", ":", "\"records\"", "\"id\"", "\"type\"", "\"person\"",
                                       "\"vessel\"", "\"name\"", "\"documents\"", "\"number\"", "\"tags\"", "\"a\"",
                                       "1", "-0", "2.5", "1e2", "true", "null", " ", "\"\\u00e9\"", "\"\\n\"",
                                       "\"\\u001F\"", "\"\\u001f\"", "\"\xc3\xa9\"", "\"\x01\"", "\"\\/\""};
  uint64_t rng = 0xc0ffee;
  size_t fast = 0, parsed = 0;
  for (int i = 0; i < 30000; i++) {
    fb_buf b = {0};
    fb_buf_puts(&b, i % 2 ? "{\"records\":[{" : "{\"records\":[");
    size_t n = fb_test_rand(&rng) % 24;
    for (size_t k = 0; k < n; k++) fb_buf_puts(&b, pieces[fb_test_rand(&rng) % FB_ARRAY_LEN(pieces)]);
    if (fb_test_rand(&rng) % 2) fb_buf_puts(&b, i % 2 ? "}]}" : "]}");
    json_t *v = json_loadb(b.data, b.len, 0, NULL);
    parsed += v != NULL;
    json_decref(v);
    fast += same_as_jansson(b.data, b.len);
    fb_buf_free(&b);
  }
  assert_true(parsed > 100); /* the comparison saw valid answers too */
  assert_true(fast > 50);
}

int main(void) {
  fb_json_use_xalloc();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_edge_cases_agree_with_jansson),
      cmocka_unit_test(test_demo_answers_are_taken_in_place),
      cmocka_unit_test(test_random_text_agrees_with_jansson),
      cmocka_unit_test(test_word_scan_and_key_tags_agree_with_jansson),
      cmocka_unit_test(test_string_words_agree_with_jansson),
      cmocka_unit_test(test_value_kinds_check_as_the_walk_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
