/* A state's summary (search/leg_summary.c): the text written straight into the answer
 * is byte for byte what core/jsonw.h writes for the jansson object the stream sends,
 * for every outcome, with and without each optional member; and each outcome shows
 * the members API.md gives it. The answer written with the summaries as text equals
 * the answer written with them as a jansson array. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/jsonw.h"
#include "search/answer.h"
#include "search/leg_summary.h"
#include "search/merge.h"

/* The two forms of `s` at `precision`; returns the text (malloc'd). */
static char *assert_same_text(const fb_leg_summary *s, int precision) {
  json_t *o = fb_leg_summary_json(s);
  assert_non_null(o);
  fb_buf want = {0}, got = {0};
  assert_int_equal(fb_jsonw_value(&want, o, precision), 0);
  assert_int_equal(fb_leg_summary_write(&got, s, precision), 0);
  assert_string_equal(got.data, want.data);
  json_decref(o);
  fb_buf_free(&want);
  return fb_buf_steal(&got);
}

static const char *const rules[] = {"allow_mla", NULL};
static const char *const reasons[] = {"Shared under the MLA treaty \xc3\xa9 \"quoted\"\n", NULL};
static const char *const hit_refs[] = {"", "h-123"};
static const double latencies[] = {12.3, 0, 1234.5, 0.1, NAN};

static void test_every_outcome_both_forms_agree(void **st) {
  (void)st;
  json_t *contact = json_pack("{s:s, s:s, s:[s]}", "name", "Desk \xe2\x80\x94 MLA", "phone", "+60 3 1234",
                              "hours", "24/7\x01");
  size_t n = 0;
  for (int o = FB_LEG_OUT_PENDING; o < FB_LEG_OUT_COUNT; o++)
    for (size_t r = 0; r < 2; r++)
      for (size_t why = 0; why < 2; why++)
        for (size_t h = 0; h < 2; h++)
          for (size_t lat = 0; lat < sizeof latencies / sizeof *latencies; lat++)
            for (int review = 0; review < 2; review++)
              for (int c = 0; c < 2; c++) {
                fb_leg_summary s = {.state = "MYS", .outcome = (fb_leg_outcome)o, .records = 30 + (size_t)o,
                                    .redacted = (size_t)o, .latency_ms = latencies[lat], .rule = rules[r],
                                    .reason = reasons[why], .by = why ? NULL : "IDN", .hit_ref = hit_refs[h],
                                    .review = review, .contact = c ? contact : NULL};
                for (int precision = 0; precision <= 17; precision += 12) free(assert_same_text(&s, precision));
                n++;
              }
  assert_true(n > 1000);
  json_decref(contact);
}

/* The members of each outcome (API.md "states"). */
static void test_members_per_outcome(void **st) {
  (void)st;
  json_t *contact = json_pack("{s:s}", "name", "Desk");
  fb_leg_summary s = {.state = "THA", .records = 3, .redacted = 1, .latency_ms = 20.5, .rule = "r",
                      .reason = "why", .by = "IDN", .hit_ref = "h-1", .review = true, .contact = contact};
  static const struct {
    fb_leg_outcome o;
    const char *text;
  } want[] = {
      {FB_LEG_OUT_SHARED, "{\"state\":\"THA\",\"outcome\":\"shared\",\"records\":3,\"redacted\":1,\"latency_ms\":20.5,"
                      "\"rule\":\"r\",\"review\":true}"},
      {FB_LEG_OUT_HIT_ONLY, "{\"state\":\"THA\",\"outcome\":\"hit_only\",\"records\":3,\"latency_ms\":20.5,\"rule\":\"r\","
                        "\"reason\":\"why\",\"contact\":{\"name\":\"Desk\"},\"hit_ref\":\"h-1\",\"review\":true}"},
      {FB_LEG_OUT_DENIED, "{\"state\":\"THA\",\"outcome\":\"denied\",\"rule\":\"r\",\"reason\":\"why\","
                      "\"contact\":{\"name\":\"Desk\"}}"},
      {FB_LEG_OUT_WITHHELD, "{\"state\":\"THA\",\"outcome\":\"withheld\",\"rule\":\"r\",\"reason\":\"why\",\"by\":\"IDN\"}"},
      {FB_LEG_OUT_TIMEOUT, "{\"state\":\"THA\",\"outcome\":\"timeout\",\"latency_ms\":20.5,\"reason\":\"why\","
                       "\"contact\":{\"name\":\"Desk\"}}"},
      {FB_LEG_OUT_ERROR, "{\"state\":\"THA\",\"outcome\":\"error\",\"latency_ms\":20.5,\"reason\":\"why\","
                     "\"contact\":{\"name\":\"Desk\"}}"},
      {FB_LEG_OUT_UNAVAILABLE, "{\"state\":\"THA\",\"outcome\":\"unavailable\",\"reason\":\"why\","
                           "\"contact\":{\"name\":\"Desk\"}}"},
      {FB_LEG_OUT_CANCELLED, "{\"state\":\"THA\",\"outcome\":\"cancelled\"}"},
      {FB_LEG_OUT_PENDING, "{\"state\":\"THA\",\"outcome\":\"pending\"}"},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    s.outcome = want[i].o;
    char *text = assert_same_text(&s, FB_JSONW_PRECISION);
    assert_string_equal(text, want[i].text);
    free(text);
  }
  json_decref(contact);
}

/* A string that is not UTF-8 is left out, as json_string's NULL is; a contact that
 * cannot be written fails the summary and leaves the buffer as it was. */
static void test_bad_strings(void **st) {
  (void)st;
  fb_leg_summary s = {.state = "MYS", .outcome = FB_LEG_OUT_DENIED, .rule = "bad \xff rule", .reason = "ok"};
  char *text = assert_same_text(&s, FB_JSONW_PRECISION);
  assert_string_equal(text, "{\"state\":\"MYS\",\"outcome\":\"denied\",\"reason\":\"ok\",\"contact\":null}");
  free(text);
  json_t *bad = json_object();
  json_t *arr = json_array();
  json_object_set(bad, "self", arr);
  json_array_append(arr, bad); /* a container holding itself: jsonw refuses it */
  s.contact = bad;
  fb_buf b = {0};
  fb_buf_puts(&b, "[");
  assert_int_equal(fb_leg_summary_write(&b, &s, FB_JSONW_PRECISION), -1);
  assert_string_equal(b.data, "[");
  fb_buf_free(&b);
  json_array_clear(arr); /* breaks the cycle */
  json_decref(arr);
  json_decref(bad);
}

/* The whole answer: `states` as text (the engine's) or as a jansson array, same bytes. */
static void test_answer_states_text_equals_array(void **st) {
  (void)st;
  json_t *contact = json_pack("{s:s}", "name", "Desk");
  fb_leg_summary legs[] = {
      {.state = "MYS", .outcome = FB_LEG_OUT_SHARED, .records = 10, .latency_ms = 7.25, .rule = "allow_all"},
      {.state = "IDN", .outcome = FB_LEG_OUT_DENIED, .rule = "deny_x", .reason = "No.", .contact = contact},
      {.state = "THA", .outcome = FB_LEG_OUT_TIMEOUT, .latency_ms = 5000, .reason = "Late.", .contact = contact},
  };
  json_t *arr = json_array();
  fb_buf text = {0};
  fb_buf_putc(&text, '[');
  for (size_t i = 0; i < 3; i++) {
    json_array_append_new(arr, fb_leg_summary_json(&legs[i]));
    if (i) fb_buf_putc(&text, ',');
    assert_int_equal(fb_leg_summary_write(&text, &legs[i], FB_JSONW_PRECISION), 0);
  }
  fb_buf_putc(&text, ']');
  fb_merged *m = fb_merge_sources(NULL, 0);
  fb_search_answer as_array = {.query_id = "q-1", .complete = false, .states = arr, .results = m,
                               .audit_seq = 9, .audit_hash = "ab"};
  fb_search_answer as_text = as_array;
  as_text.states = NULL;
  as_text.states_text = text.data;
  as_text.states_len = text.len;
  fb_buf a = {0}, b = {0};
  assert_int_equal(fb_search_answer_write(&a, &as_array, FB_JSONW_PRECISION), 0);
  assert_int_equal(fb_search_answer_write(&b, &as_text, FB_JSONW_PRECISION), 0);
  assert_string_equal(b.data, a.data);
  assert_non_null(strstr(b.data, "\"states\":[{\"state\":\"MYS\""));
  fb_buf_free(&a);
  fb_buf_free(&b);
  fb_buf_free(&text);
  fb_merged_free(m);
  json_decref(arr);
  json_decref(contact);
}

/* The audit's sequence number is written as printf's PRIu64 writes it, at its ends. */
static void test_answer_audit_seq(void **st) {
  (void)st;
  static const uint64_t seqs[] = {0, 1, 9, 10, 99, 100, 4294967296ull, 9223372036854775807ull, UINT64_MAX};
  fb_merged *m = fb_merge_sources(NULL, 0);
  json_t *states = json_array();
  for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
    fb_search_answer a = {.query_id = "q-1", .complete = true, .states = states, .results = m,
                          .audit_seq = seqs[i], .audit_hash = "ab"};
    fb_buf b = {0};
    assert_int_equal(fb_search_answer_write(&b, &a, FB_JSONW_PRECISION), 0);
    char want[128];
    snprintf(want, sizeof want, "{\"query_id\":\"q-1\",\"complete\":true,\"states\":[],\"results\":[],"
             "\"audit\":{\"seq\":%" PRIu64 ",\"hash\":\"ab\"}}", seqs[i]);
    assert_string_equal(b.data, want);
    fb_buf_free(&b);
  }
  json_decref(states);
  fb_merged_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_outcome_both_forms_agree),
      cmocka_unit_test(test_members_per_outcome),
      cmocka_unit_test(test_bad_strings),
      cmocka_unit_test(test_answer_states_text_equals_array),
      cmocka_unit_test(test_answer_audit_seq),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
