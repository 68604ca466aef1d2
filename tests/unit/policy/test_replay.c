/* The replay core: decisions under two sets, the change table (counts, examples
 * capped, sorted), requests fed directly (as a request grid would), the audit-log
 * reader (non-search and torn lines skipped, since/until/limit, cancel), time parsing,
 * and outbound rules counted as withheld / invalid_request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/util.h"
#include "policy/draft.h"
#include "policy/replay.h"
#include "policy/tools.h"

#define DEMO FB_SOURCE_DIR "/policies"

static fb_policy_set *demo_set(void) {
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);
  fb_policy_set *set = fb_policy_set_from_store(s);
  fb_policy_store_free(s);
  return set;
}

/* The demo set with MYS.lua replaced by `prefix` + the demo MYS.lua, compiled. */
static fb_policy_set *drafted_set(const fb_policy_set *live, const char *prefix) {
  char path[512];
  snprintf(path, sizeof path, "%s/MYS.lua", DEMO);
  size_t n;
  char *src = fb_read_file(path, 1u << 20, &n);
  assert_non_null(src);
  fb_buf b = {0};
  fb_buf_printf(&b, "%s\n%s", prefix, src);
  fb_policy_set *d = fb_policy_set_detach(live);
  json_t *problems = json_array();
  json_t *text = json_pack("{s:s}", "MYS.lua", b.data);
  assert_int_equal(fb_policy_set_put_draft(d, text, problems), 0);
  json_decref(text);
  assert_int_equal(fb_policy_set_compile(d, problems), 0);
  json_decref(problems);
  fb_buf_free(&b);
  free(src);
  return d;
}

static void test_parse_time(void **state) {
  (void)state;
  int64_t ms;
  assert_int_equal(fb_replay_parse_time("1970-01-01T00:00:01.5Z", &ms), 0);
  assert_int_equal(ms, 1500);
  assert_int_equal(fb_replay_parse_time("2026-11-30T16:53:16.123Z", &ms), 0);
  assert_int_equal(ms, 1796057596123LL);
  assert_int_equal(fb_replay_parse_time("2026-11-30T18:53:16.123+02:00", &ms), 0);
  assert_int_equal(ms, 1796057596123LL);
  assert_int_equal(fb_replay_parse_time("2026-11-30", &ms), 0);
  assert_int_equal(ms, 1795996800000LL);
  assert_int_equal(fb_replay_parse_time("yesterday", &ms), -1);
  assert_int_equal(fb_replay_parse_time("2026-13-01", &ms), -1);
  assert_int_equal(fb_replay_parse_time("2026-11-30T16:53:16", &ms), -1); /* no zone */
  assert_int_equal(fb_replay_parse_time(NULL, &ms), -1);
}

static void test_direct_requests(void **state) {
  (void)state;
  fb_policy_set *live = demo_set();
  fb_policy_set *draft = drafted_set(live, "deny \"no IDN\" { from = \"IDN\" }");
  fb_replay *r = fb_replay_new(live, draft);
  json_t *subj = json_pack("{s:s}", "document", "A12345678");
  const char *roles[] = {"analyst"};
  fb_query q = {.purpose = "prosecution", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "Suspected facilitator in a case", .case_ref = "X-1",
                .from_state = "IDN", .roles = roles, .nroles = 1, .subject = subj};
  char ids[8][16];
  for (int i = 0; i < 8; i++) {
    snprintf(ids[i], sizeof ids[i], "q-%d", i);
    q.query_id = ids[i];
    assert_true(fb_replay_add(r, &q, "MYS"));
    assert_false(fb_replay_add(r, &q, "THA")); /* THA not drafted */
    fb_replay_end_request(r);
  }
  q.from_state = "THA"; /* not affected by the draft */
  q.query_id = "q-tha";
  assert_false(fb_replay_add(r, &q, "MYS"));
  fb_replay_end_request(r);
  json_t *res = fb_replay_result(r);
  assert_int_equal(json_integer_value(json_object_get(res, "replayed")), 9);
  assert_int_equal(json_integer_value(json_object_get(res, "changed")), 8);
  json_t *changes = json_object_get(res, "changes");
  assert_int_equal(json_array_size(changes), 1);
  json_t *c = json_array_get(changes, 0);
  assert_string_equal(json_string_value(json_object_get(c, "state")), "MYS");
  assert_int_equal(json_integer_value(json_object_get(c, "count")), 8);
  assert_string_equal(json_string_value(json_object_get(json_object_get(c, "from"), "effect")), "allow");
  assert_string_equal(json_string_value(json_object_get(json_object_get(c, "to"), "rule")), "no IDN");
  json_t *ex = json_object_get(c, "examples");
  assert_int_equal(json_array_size(ex), FB_REPLAY_EXAMPLES); /* capped */
  assert_string_equal(json_string_value(json_array_get(ex, 0)), "q-0");
  json_decref(res);
  json_decref(subj);
  fb_replay_free(r);
  fb_policy_set_free(draft);
  fb_policy_set_free(live);
}

static void write_log(const char *path) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  const char *search =
      "{\"seq\":%d,\"ts\":\"2026-11-%02dT10:00:00.000Z\",\"event\":\"search\",\"prev\":\"x\",\"query_id\":\"q-%d\","
      "\"requester\":{\"sub\":\"a\",\"state\":\"%s\",\"agency\":\"P\",\"roles\":[\"analyst\"]},\"purpose\":\"%s\","
      "\"priority\":\"urgent\",\"legal_basis\":\"%s\",\"justification\":\"Suspected facilitator in a case\","
      "%s\"subject\":{\"document\":\"A1\"},\"states\":[{\"state\":\"MYS\"},{\"state\":\"THA\"}],\"review\":false}\n";
  /* 1-3: IDN prosecution with case_ref, days 1..3 */
  for (int i = 1; i <= 3; i++) fprintf(fp, search, i, i, i, "IDN", "prosecution", "mla_treaty", "\"case_ref\":\"C\",");
  fputs("{\"seq\":4,\"event\":\"checkpoint\",\"sig\":\"x\"}\n", fp);
  fputs("not json but mentions \"event\":\"search\"\n", fp);
  /* 6: MYS prosecution without case_ref: outbound_require in the draft */
  fprintf(fp, search, 6, 6, 6, "MYS", "prosecution", "mla_treaty", "");
  /* 7: MYS informal to THA: outbound_deny in the draft */
  fprintf(fp, search, 7, 7, 7, "MYS", "investigation", "informal", "\"case_ref\":\"C\",");
  /* a torn last line (no newline) */
  fputs("{\"seq\":8,\"ts\":\"2026-11-08T10:00:00.000Z\",\"event\":\"search\"", fp);
  fclose(fp);
}

static json_t *replay_log(const fb_policy_set *a, const fb_policy_set *b, const char *path,
                          const fb_replay_opts *o) {
  fb_replay *r = fb_replay_new(a, b);
  char *err = NULL;
  assert_int_equal(fb_replay_audit_file(r, path, o, &err), 0);
  json_t *res = fb_replay_result(r);
  fb_replay_free(r);
  return res;
}

static json_t *find_change(json_t *res, const char *state, const char *to_effect) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(res, "changes"), i, c)
    if (strcmp(json_string_value(json_object_get(c, "state")), state) == 0 &&
        strcmp(json_string_value(json_object_get(json_object_get(c, "to"), "effect")), to_effect) == 0)
      return c;
  return NULL;
}

static void test_audit_log(void **state) {
  (void)state;
  char path[] = "/tmp/fbreplayXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  write_log(path);
  fb_policy_set *live = demo_set();
  /* The demo MYS.lua without its outbound rules as "old": they are the change. */
  char mys[512];
  snprintf(mys, sizeof mys, "%s/MYS.lua", DEMO);
  size_t n;
  char *src = fb_read_file(mys, 1u << 20, &n);
  char *from = strstr(src, "outbound_require"), *to = strstr(src, "-- Admission");
  assert_true(from && to && from < to);
  memmove(from, to, strlen(to) + 1);
  fb_policy_set *old = fb_policy_set_detach(live);
  json_t *problems = json_array();
  json_t *draft = json_pack("{s:s}", "MYS.lua", src);
  assert_int_equal(fb_policy_set_put_draft(old, draft, problems), 0);
  json_decref(draft);
  assert_int_equal(fb_policy_set_compile(old, problems), 0);
  free(src);

  json_t *res = replay_log(old, live, path, NULL);
  assert_int_equal(json_integer_value(json_object_get(res, "replayed")), 5); /* not the checkpoint, junk, torn */
  json_t *c = find_change(res, "THA", "withheld");
  assert_non_null(c);
  assert_int_equal(json_integer_value(json_object_get(c, "count")), 1);
  assert_string_equal(json_string_value(json_object_get(json_object_get(c, "to"), "rule")),
                      "no informal requests to Thailand");
  assert_string_equal(json_string_value(json_array_get(json_object_get(c, "examples"), 0)), "q-7");
  c = find_change(res, "THA", "invalid_request");
  assert_non_null(c);
  assert_string_equal(json_string_value(json_object_get(json_object_get(c, "to"), "rule")),
                      "prosecution requests carry a case reference");
  assert_string_equal(json_string_value(json_array_get(json_object_get(c, "examples"), 0)), "q-6");
  json_decref(res);

  /* since / until / limit / cancel */
  fb_replay_opts o = {0};
  assert_int_equal(fb_replay_parse_time("2026-11-02T00:00:00Z", &o.since_ms), 0);
  assert_int_equal(fb_replay_parse_time("2026-11-07T00:00:00Z", &o.until_ms), 0);
  res = replay_log(old, live, path, &o);
  assert_int_equal(json_integer_value(json_object_get(res, "replayed")), 3); /* days 2, 3, 6 */
  json_decref(res);
  o = (fb_replay_opts){.limit = 2};
  res = replay_log(old, live, path, &o);
  assert_int_equal(json_integer_value(json_object_get(res, "replayed")), 2);
  json_decref(res);
  volatile int cancel = 1;
  o = (fb_replay_opts){.cancel = &cancel};
  res = replay_log(old, live, path, &o);
  assert_int_equal(json_integer_value(json_object_get(res, "replayed")), 0);
  json_decref(res);

  /* The text form carries the same content. */
  fb_replay *r = fb_replay_new(old, live);
  char *err = NULL;
  assert_int_equal(fb_replay_audit_file(r, path, NULL, &err), 0);
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  fb_replay_print(r, mem);
  fclose(mem);
  assert_non_null(strstr(text, "5 searches replayed, 2 changed"));
  assert_non_null(strstr(text, "to   withheld (rule \"no informal requests to Thailand\")"));
  assert_non_null(strstr(text, "for example: q-7"));
  free(text);
  fb_replay_free(r);

  /* A missing file is an error, not an empty result. */
  r = fb_replay_new(old, live);
  assert_int_equal(fb_replay_audit_file(r, "/nonexistent/audit.jsonl", NULL, &err), -1);
  assert_non_null(strstr(err, "cannot open"));
  free(err);
  fb_replay_free(r);

  json_decref(problems);
  fb_policy_set_free(old);
  fb_policy_set_free(live);
  unlink(path);
}

int main(void) {
  fb_log_set_level(FB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_direct_requests),
      cmocka_unit_test(test_audit_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
