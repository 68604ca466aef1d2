/* A search's audit entry, text against object, byte for byte: fb_search_audit_text
 * must give what the audit writer dumps of fb_search_audit_json's object without its
 * "event" (core/jsonw.h at precision 0, and jansson's own json_dumps), on entries of
 * every outcome and on random ones whose strings are hostile (quotes, backslashes,
 * control characters, multi-byte UTF-8, "</script>", empty, long); a string that is
 * not UTF-8 makes the text refuse, leaving its buffer as it was. Through the log
 * itself, a text entry and an object entry give the same line after "prev". */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "audit/audit.h"
#include "core/crec.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "records/record.h"
#include "search/audit_entry.h"
#include "unit_common.h"

/* The fields as the writer dumps them: the object without "event". */
static char *object_fields(json_t *entry, bool jansson) {
  json_t *copy = json_copy(entry);
  json_object_del(copy, "event");
  char *out;
  if (jansson) {
    out = json_dumps(copy, JSON_COMPACT);
  } else {
    fb_buf b = {0};
    assert_int_equal(fb_jsonw_dump(&b, copy, 0), 0);
    out = fb_buf_steal(&b);
  }
  json_decref(copy);
  return out;
}

/* Returns false when there is no object (json_pack refused a string): then the text
 * must refuse too. */
static bool same_text(const fb_search_audit *e, const char *what) {
  json_t *entry = fb_search_audit_json(e);
  if (!entry) {
    fb_buf t = {0};
    fb_buf_puts(&t, "kept");
    if (fb_search_audit_text(&t, e) != -1 || strcmp(t.data, "kept") != 0)
      fail_msg("%s: no object, but the text: %s", what, t.data);
    fb_buf_free(&t);
    return false;
  }
  fb_buf text = {0};
  fb_buf_puts(&text, "prefix");
  assert_int_equal(fb_search_audit_text(&text, e), 0);
  for (int j = 0; j < 2; j++) {
    char *want = object_fields(entry, j == 1);
    if (strcmp(text.data + 6, want) != 0)
      fail_msg("%s: the text differs from the object's %s dump:\n text   %s\n object %s", what,
               j ? "jansson" : "jsonw", text.data + 6, want);
    free(want);
  }
  json_decref(entry);
  fb_buf_free(&text);
  return true;
}

static fb_crecs *crecs_of(const char *answer) {
  size_t len = strlen(answer);
  fb_crecs *set = fb_crecs_load(fb_xstrdup(answer), len, NULL);
  assert_non_null(set);
  assert_int_equal(fb_crecs_judge(set, NULL), 0);
  return set;
}

static fb_identity requester(const char *sub, const char *agency, unsigned roles) {
  fb_identity id = {.roles = roles};
  snprintf(id.sub, sizeof id.sub, "%s", sub);
  snprintf(id.state, sizeof id.state, "MYS");
  snprintf(id.agency, sizeof id.agency, "%s", agency);
  return id;
}

#define SAME_TEXT(e, what) assert_true(same_text(e, what))

static void test_every_outcome(void **state) {
  (void)state;
  fb_crecs *set = crecs_of("{\"records\":[{\"id\":\"IDN-1\",\"type\":\"person\",\"name\":\"A\"},"
                           "{\"id\":\"IDN-\\u00e9\\\"2\",\"type\":\"person\",\"name\":\"B\"}]}");
  json_t *recs = json_pack("[{s:s}, {s:i}, {s:s}]", "id", "THA-1", "id", 5, "id", "THA-<\\/script>");
  json_t *subject = json_pack("{s:s, s:s, s:{s:s, s:s}, s:f, s:[i, b, n]}", "name", "Siti \"Nur\" Aminah", "dob",
                              "1990-01-02", "document", "type", "passport", "number", "A12345678", "score", 0.1,
                              "list", 1, 1);
  fb_search_params p = {.subject = subject, .purpose = "trafficking_victim_id", .priority = "urgent",
                        .legal_basis = "MLA art. 5", .justification = "Line\nbreak\ttab \\ back\x01slash \xc3\xa9",
                        .case_ref = NULL};
  fb_identity id = requester("analyst.mys \"x\"", "", FB_ROLE_ANALYST | FB_ROLE_LAST);
  fb_audit_leg legs[] = {
      {.state = "IDN", .outcome = "shared", .rule = "share_all", .records = 2, .redacted = 1, .review = true,
       .latency_ms = 12.3, .shared = true, .crecs = set},
      {.state = "THA", .outcome = "shared", .rule = "r", .records = 3, .latency_ms = 1e-7, .shared = true, .recs = recs},
      {.state = "BGD", .outcome = "hit_only", .rule = "hits", .records = 4, .latency_ms = 123456.7,
       .hit_ref = "ref-\xe2\x82\xac"},
      {.state = "PHL", .outcome = "withheld", .rule = "w", .by = "PHL officer"},
      {.state = "VNM", .outcome = "error", .error = "HTTP 500: \"boom\"\r\n", .latency_ms = 30000},
      {.state = "KHM", .outcome = "denied", .rule = NULL, .error = "policy failed"},
      {.state = "LAO", .outcome = "shared", .rule = "none", .shared = true, .recs = NULL},
  };
  fb_search_audit e = {.query_id = "q-0123456789abcdef", .requester = &id, .p = &p, .legs = legs,
                       .nlegs = FB_ARRAY_LEN(legs)};
  SAME_TEXT(&e, "every outcome");
  p.case_ref = "CASE/2026/\xf0\x9f\x98\x80";
  SAME_TEXT(&e, "with case_ref");
  e.client_aborted = true;
  SAME_TEXT(&e, "client aborted");
  e.client_aborted = false;
  e.nlegs = 0;
  SAME_TEXT(&e, "no state");
  id.roles = 0;
  SAME_TEXT(&e, "no role");
  json_decref(recs);
  json_decref(subject);
  fb_crecs_free(set);
}

/* Strings jansson refuses: the text refuses them too, and leaves its buffer as it was. */
static void test_not_utf8_refused(void **state) {
  (void)state;
  json_t *subject = json_pack("{s:s}", "name", "x");
  fb_search_params p = {.subject = subject, .purpose = "a", .priority = "b", .legal_basis = "c",
                        .justification = "d"};
  fb_identity id = requester("s", "ag", FB_ROLE_ANALYST);
  fb_audit_leg leg = {.state = "IDN", .outcome = "error", .error = "bad \xff byte"};
  fb_search_audit e = {.query_id = "q", .requester = &id, .p = &p, .legs = &leg, .nlegs = 1};
  fb_buf b = {0};
  fb_buf_puts(&b, "kept");
  assert_int_equal(fb_search_audit_text(&b, &e), -1);
  assert_string_equal(b.data, "kept");
  json_t *o = fb_search_audit_json(&e); /* the object leaves the key out */
  assert_null(json_object_get(json_array_get(json_object_get(o, "states"), 0), "error"));
  json_decref(o);
  leg.error = NULL;
  p.justification = "\xc0\xaf"; /* overlong */
  assert_int_equal(fb_search_audit_text(&b, &e), -1);
  assert_string_equal(b.data, "kept");
  assert_null(fb_search_audit_json(&e)); /* json_pack refuses the whole entry */
  p.justification = NULL; /* a required string missing */
  assert_int_equal(fb_search_audit_text(&b, &e), -1);
  assert_string_equal(b.data, "kept");
  fb_buf_free(&b);
  json_decref(subject);
}

/* ---- random entries */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
                                     "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "</script>", "\\u0000",
                                     "{\"k\":1}", "null", "\u00a0", "0", "-", "."};

/* A random UTF-8 string (up to 40 pieces; sometimes long) in one of 8 slots. */
static char slots[16][4096];
static const char *random_string(int slot) {
  char *o = slots[slot];
  size_t n = next_rand() % 8 == 0 ? 200 : next_rand() % 12;
  o[0] = '\0';
  for (size_t i = 0; i < n; i++) strcat(o, pieces[next_rand() % FB_ARRAY_LEN(pieces)]);
  return o;
}

static void test_random_entries(void **state) {
  (void)state;
  static const char *const outcomes[] = {"shared", "hit_only", "denied", "withheld", "timeout", "error", "unavailable",
                                         "cancelled"};
  static const char *const codes[] = {"IDN", "THA", "BGD", "PHL", "VNM", "KHM", "LAO", "MMR"};
  int objects = 0;
  for (int round = 0; round < 400; round++) {
    int si = 2;
    json_t *subject = json_pack("{s:s, s:s}", "name", random_string(0), "nationality", random_string(1));
    if (next_rand() % 2) json_object_set_new(subject, "height", json_real((double)next_rand() / 7.0));
    fb_search_params p = {.subject = subject, .purpose = random_string(si++), .priority = "routine",
                          .legal_basis = random_string(si++), .justification = random_string(si++),
                          .case_ref = next_rand() % 2 ? random_string(si++) : NULL};
    const char *sub = random_string(si++);
    fb_identity id = requester(sub, random_string(si++), next_rand() & ((FB_ROLE_LAST << 1) - 1));
    fb_audit_leg legs[8];
    json_t *arrays[8] = {0};
    size_t n = next_rand() % 9;
    for (size_t i = 0; i < n; i++) {
      fb_audit_leg *l = &legs[i];
      *l = (fb_audit_leg){.state = codes[i], .outcome = outcomes[next_rand() % FB_ARRAY_LEN(outcomes)]};
      if (next_rand() % 4) l->rule = i % 2 ? "share" : random_string(si < 15 ? si++ : 15);
      l->records = next_rand() % 50;
      l->redacted = next_rand() % 3;
      l->review = next_rand() % 3 == 0;
      if (next_rand() % 5 == 0) l->by = "officer \"x\"";
      if (next_rand() % 4 == 0) l->error = i % 2 ? "timeout\n" : "\xe2\x82\xac failed";
      if (next_rand() % 3) l->latency_ms = (double)(next_rand() % 100000) / 10.0;
      if (next_rand() % 4 == 0) l->hit_ref = "hr-1";
      l->shared = next_rand() % 2;
      if (l->shared && next_rand() % 3) {
        arrays[i] = json_array();
        size_t k = next_rand() % 4;
        for (size_t r = 0; r < k; r++)
          json_array_append_new(arrays[i], json_pack("{s:s}", "id", r % 2 ? "x\"\\y" : "\xf0\x9f\x98\x80-id"));
        l->recs = arrays[i];
      }
    }
    fb_search_audit e = {.query_id = "q-77", .requester = &id, .p = &p, .legs = legs, .nlegs = n,
                         .client_aborted = next_rand() % 5 == 0};
    char what[32];
    snprintf(what, sizeof what, "random entry %d", round);
    objects += same_text(&e, what); /* a sub cut inside a character (fb_identity holds 127 bytes) is not UTF-8 */
    for (size_t i = 0; i < n; i++) json_decref(arrays[i]);
    json_decref(subject);
  }
  assert_true(objects >= 300);
}

/* ---- through the log */

static void on_done(void *data, int status, uint64_t seq, const char *hash) {
  (void)seq, (void)hash;
  assert_int_equal(status, 0);
  (*(int *)data)++;
}

static void on_closed(void *data) { *(int *)data = 1; }

/* The line after "prev":"<64 hex>", where the two entries' bytes must agree. */
static const char *after_prev(const char *line) {
  const char *p = strstr(line, ",\"prev\":\"");
  assert_non_null(p);
  return p + 9 + 64 + 1;
}

static void test_same_line_in_the_log(void **state) {
  (void)state;
  char dir[] = "/tmp/fb_audit_entry_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/audit.jsonl", dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_audit_config cfg = {.path = path};
  char *err = NULL;
  fb_audit *a = fb_audit_open(&loop, &cfg, &err);
  if (!a) fail_msg("open: %s", err);

  json_t *subject = json_pack("{s:s, s:f}", "name", "N\u00fcr \"q\"\n", "x", 2.5);
  fb_search_params p = {.subject = subject, .purpose = "p", .priority = "urgent", .legal_basis = "lb",
                        .justification = "j\\", .case_ref = "c"};
  fb_identity id = requester("sub", "agency", FB_ROLE_ANALYST);
  json_t *recs = json_pack("[{s:s}]", "id", "r-1");
  fb_audit_leg legs[] = {{.state = "IDN", .outcome = "shared", .rule = "r", .records = 1, .latency_ms = 3.4,
                          .shared = true, .recs = recs},
                         {.state = "THA", .outcome = "timeout", .latency_ms = 5000}};
  fb_search_audit e = {.query_id = "q-1", .requester = &id, .p = &p, .legs = legs, .nlegs = 2};
  int done = 0;
  assert_int_equal(fb_audit_append(a, fb_search_audit_json(&e), on_done, &done), 0);
  fb_buf text = {0};
  assert_int_equal(fb_search_audit_text(&text, &e), 0);
  assert_int_equal(fb_audit_append_text(a, "search", text.data, text.len, on_done, &done), 0);
  /* What the log refuses of a text entry: a reserved event, text that is no object. */
  assert_int_equal(fb_audit_append_text(a, "checkpoint", fb_xstrdup("{}"), 2, on_done, &done), -1);
  assert_int_equal(fb_audit_append_text(a, "search", fb_xstrdup("[]"), 2, on_done, &done), -1);
  assert_int_equal(fb_audit_append_text(a, "empty", fb_xstrdup("{}"), 2, on_done, &done), 0);
  while (done < 3) uv_run(&loop, UV_RUN_ONCE);
  int closed = 0;
  fb_audit_close(a, on_closed, &closed);
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(uv_loop_close(&loop), 0);

  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char l1[8192], l2[8192], l3[256];
  assert_non_null(fgets(l1, sizeof l1, f));
  assert_non_null(fgets(l2, sizeof l2, f));
  assert_non_null(fgets(l3, sizeof l3, f));
  fclose(f);
  assert_string_equal(after_prev(l1), after_prev(l2));
  assert_non_null(strstr(l2, "\"event\":\"search\""));
  assert_string_equal(after_prev(l3), "}\n");
  assert_int_equal(fb_audit_verify_file(path, NULL, &err), 0);

  json_decref(recs);
  json_decref(subject);
  fb_test_rm_rf(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_outcome),
      cmocka_unit_test(test_not_utf8_refused),
      cmocka_unit_test(test_random_entries),
      cmocka_unit_test(test_same_line_in_the_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
