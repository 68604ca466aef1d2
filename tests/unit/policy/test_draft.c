/* Drafts (evaluate with "draft" and "tests"), the per-record redaction trace, and the
 * outbound rules (compile errors, require, withheld). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/util.h"
#include "policy/draft.h"
#include "policy/outbound.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "policy/tools.h"

#define DEMO FB_SOURCE_DIR "/policies"

static const char *const roles[] = {"legal_officer"};

static char *demo_text(const char *file) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", DEMO, file);
  size_t n;
  char *s = fb_read_file(path, 1u << 20, &n);
  assert_non_null(s);
  return s;
}

static json_t *state_entry(json_t *result, const char *code) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(result, "states"), i, e)
    if (strcmp(json_string_value(json_object_get(e, "state")), code) == 0) return e;
  fail_msg("no entry for %s", code);
  return NULL;
}

static const char *effect_of(json_t *result, const char *code) {
  return json_string_value(json_object_get(state_entry(result, code), "effect"));
}

/* A prosecution request from IDN under a treaty: MYS allows it live. */
static json_t *request_body(void) {
  return json_loads("{\"subject\":{\"name\":\"Siti\"},\"purpose\":\"prosecution\",\"priority\":\"urgent\","
                    "\"legal_basis\":\"mla_treaty\",\"case_ref\":\"ID-2026-0117\","
                    "\"justification\":\"Victim identified in case ID-2026-0117\",\"states\":[\"MYS\",\"THA\"]}",
                    0, NULL);
}

static void test_draft_changes_nothing_live(void **state) {
  (void)state;
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);
  fb_policy *live = fb_policy_store_get(s, "MYS");
  json_t *info = fb_policy_info(live);
  char sha[65];
  snprintf(sha, sizeof sha, "%s", json_string_value(json_object_get(info, "sha256")));
  json_decref(info);
  fb_policy_unref(live);

  json_t *body = request_body();
  json_t *before = fb_policy_evaluate(s, body, "IDN", NULL, roles, 1, &err);
  assert_string_equal(effect_of(before, "MYS"), "allow");

  /* The draft denies everything from IDN first. */
  char *text = demo_text("MYS.lua");
  fb_buf b = {0};
  fb_buf_printf(&b, "deny \"nothing for Indonesia while the MOU is renegotiated\" { from = \"IDN\" }\n%s", text);
  json_object_set_new(body, "draft", json_pack("{s:s}", "MYS.lua", b.data));
  json_t *problems = json_array();
  json_t *drafted = fb_policy_evaluate_draft(s, body, "IDN", NULL, roles, 1, problems, &err);
  assert_non_null(drafted);
  assert_int_equal(json_array_size(problems), 0);
  assert_string_equal(effect_of(drafted, "MYS"), "deny");
  assert_string_equal(json_string_value(json_object_get(state_entry(drafted, "MYS"), "rule")),
                      "nothing for Indonesia while the MOU is renegotiated");
  assert_string_equal(effect_of(drafted, "THA"), effect_of(before, "THA")); /* not drafted */

  /* Live: same file hash, same decision. */
  live = fb_policy_store_get(s, "MYS");
  info = fb_policy_info(live);
  assert_string_equal(json_string_value(json_object_get(info, "sha256")), sha);
  json_decref(info);
  fb_policy_unref(live);
  json_object_del(body, "draft");
  json_t *after = fb_policy_evaluate(s, body, "IDN", NULL, roles, 1, &err);
  assert_true(json_equal(json_object_get(before, "states"), json_object_get(after, "states")));

  json_decref(before);
  json_decref(after);
  json_decref(drafted);
  json_decref(problems);
  json_decref(body);
  fb_buf_free(&b);
  free(text);
  fb_policy_store_free(s);
}

static json_t *draft_problems(fb_policy_store *s, json_t *draft) {
  json_t *body = request_body();
  json_object_set_new(body, "draft", draft);
  json_t *problems = json_array();
  char *err = NULL;
  json_t *r = fb_policy_evaluate_draft(s, body, "IDN", NULL, roles, 1, problems, &err);
  assert_null(r);
  assert_true(json_array_size(problems) > 0);
  free(err);
  json_decref(body);
  return problems;
}

static void test_draft_problems(void **state) {
  (void)state;
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);

  /* A misspelt purpose on line 3: file, line and message. */
  json_t *p = draft_problems(s, json_pack("{s:s}", "MYS.lua",
                                           "state \"MYS\" { name = \"Malaysia\" }\n\nallow \"x\" { purpose = \"prosecuton\" }\n"));
  json_t *first = json_array_get(p, 0);
  assert_string_equal(json_string_value(json_object_get(first, "file")), "MYS.lua");
  assert_int_equal(json_integer_value(json_object_get(first, "line")), 3);
  assert_non_null(strstr(json_string_value(json_object_get(first, "message")), "prosecution"));
  json_decref(p);

  /* A syntax error. */
  p = draft_problems(s, json_pack("{s:s}", "common.lua", "deny \"x\" {\n  reason = \"a\"\n  purpose = \"prosecution\"\n}\n"));
  first = json_array_get(p, 0);
  assert_string_equal(json_string_value(json_object_get(first, "file")), "common.lua");
  assert_true(json_integer_value(json_object_get(first, "line")) >= 2);
  json_decref(p);

  /* The same instruction budget as the live store. */
  p = draft_problems(s, json_pack("{s:s}", "THA.lua", "while true do end\n"));
  assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "file")), "THA.lua");
  json_decref(p);

  /* Not a file of this hub; not a string; too large. */
  p = draft_problems(s, json_pack("{s:s}", "XYZ.lua", "deny \"x\" {}"));
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(p, 0), "message")), "not a policy file"));
  json_decref(p);
  p = draft_problems(s, json_pack("{s:i}", "MYS.lua", 3));
  json_decref(p);
  char *big = malloc(FB_POLICY_FILE_MAX + 2);
  memset(big, '-', FB_POLICY_FILE_MAX + 1);
  big[FB_POLICY_FILE_MAX + 1] = '\0';
  p = draft_problems(s, json_pack("{s:s}", "MYS.lua", big));
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(p, 0), "message")), "1 MiB"));
  json_decref(p);
  free(big);
  fb_policy_store_free(s);
}

static void test_draft_tests(void **state) {
  (void)state;
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);
  char *text = demo_text("MYS.lua");

  /* The live text as a draft passes MYS's tests. */
  json_t *body = request_body();
  json_object_set_new(body, "draft", json_pack("{s:s}", "MYS.lua", text));
  json_object_set_new(body, "tests", json_true());
  json_t *problems = json_array();
  json_t *r = fb_policy_evaluate_draft(s, body, "IDN", NULL, roles, 1, problems, &err);
  assert_non_null(r);
  json_t *t = json_object_get(r, "tests");
  assert_true(json_integer_value(json_object_get(t, "passed")) >= 5);
  assert_int_equal(json_integer_value(json_object_get(t, "failed")), 0);
  assert_int_equal(json_array_size(json_object_get(t, "files")), 1);
  json_decref(r);

  /* With its treaty rule narrowed to Bangladesh, a MYS test fails and says which. */
  static const char head[] = "allow \"prosecution under a treaty or MOU\" {";
  char *cut = strstr(text, head);
  assert_non_null(cut);
  cut += strlen(head);
  fb_buf b = {0};
  fb_buf_append(&b, text, (size_t)(cut - text));
  fb_buf_puts(&b, " from = \"BGD\",");
  fb_buf_puts(&b, cut);
  json_object_set_new(body, "draft", json_pack("{s:s}", "MYS.lua", b.data));
  r = fb_policy_evaluate_draft(s, body, "IDN", NULL, roles, 1, problems, &err);
  assert_non_null(r);
  t = json_object_get(r, "tests");
  assert_true(json_integer_value(json_object_get(t, "failed")) >= 1);
  json_t *f = json_array_get(json_object_get(t, "failures"), 0);
  assert_non_null(strstr(json_string_value(json_object_get(f, "file")), "MYS_test.lua"));
  assert_true(json_string_length(json_object_get(f, "case")) > 0);
  assert_non_null(strstr(json_string_value(json_object_get(f, "message")), "MYS: expected allow"));
  assert_int_equal(json_array_size(problems), 0);
  json_decref(r);
  json_decref(problems);
  json_decref(body);
  fb_buf_free(&b);
  free(text);
  fb_policy_store_free(s);
}

static void test_redaction_trace(void **state) {
  (void)state;
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);
  /* Immediate, from IDN, investigation: MYS allows; dob keeps the year; a witness is dropped. */
  json_t *body = json_loads(
      "{\"subject\":{\"name\":\"X\"},\"purpose\":\"investigation\",\"priority\":\"immediate\","
      "\"legal_basis\":\"mla_treaty\",\"justification\":\"Passengers at sea, life at risk\",\"states\":[\"MYS\"],"
      "\"records\":{\"MYS\":[{\"id\":\"MYS-P-1\",\"type\":\"person\",\"dob\":\"1985-03-12\",\"name\":\"A\"},"
      "{\"id\":\"MYS-P-2\",\"type\":\"person\",\"tags\":[\"witness\"],\"name\":\"B\"},"
      "{\"id\":\"MYS-P-3\",\"type\":\"person\",\"tags\":[\"victim\"],\"name\":\"Siti\"}]}}",
      0, NULL);
  json_t *r = fb_policy_evaluate(s, body, "IDN", NULL, roles, 1, &err);
  json_t *e = state_entry(r, "MYS");
  assert_string_equal(json_string_value(json_object_get(e, "effect")), "allow");
  json_t *red = json_object_get(e, "redactions");
  bool dob = false, drop = false, victim = false;
  size_t i;
  json_t *x;
  json_array_foreach(red, i, x) {
    const char *rec = json_string_value(json_object_get(x, "record"));
    const char *field = json_string_value(json_object_get(x, "field"));
    const char *rule_name = json_string_value(json_object_get(x, "rule"));
    const char *kind = json_string_value(json_object_get(x, "kind"));
    if (strcmp(rec, "MYS-P-1") == 0 && field && strcmp(field, "dob") == 0) {
      assert_string_equal(rule_name, "dates of birth show the year only outside prosecution");
      assert_string_equal(json_string_value(json_object_get(x, "action")), "year");
      dob = true;
    }
    if (strcmp(rec, "MYS-P-2") == 0 && strcmp(kind, "drop") == 0) {
      assert_string_equal(rule_name, "witness records stay with the prosecutor");
      drop = true;
    }
    if (strcmp(rec, "MYS-P-3") == 0 && field && strcmp(field, "name") == 0) {
      assert_string_equal(json_string_value(json_object_get(x, "policy")), "common");
      assert_string_equal(json_string_value(json_object_get(x, "action")), "mask");
      victim = true;
    }
    assert_false(strcmp(rec, "MYS-P-1") == 0 && field && strcmp(field, "name") == 0); /* untouched */
  }
  assert_true(dob && drop && victim);
  assert_true(json_array_size(json_object_get(e, "record_rules")) >= 2);
  json_decref(r);
  json_decref(body);
  fb_policy_store_free(s);
}

/* The dry run says when the requester's own outbound_require would refuse a search. */
static void test_evaluate_refused(void **state) {
  (void)state;
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);
  json_t *body = request_body();
  json_object_del(body, "case_ref");
  json_t *r = fb_policy_evaluate(s, body, "MYS", NULL, roles, 1, &err);
  json_t *refused = json_object_get(r, "refused");
  assert_non_null(refused);
  assert_string_equal(json_string_value(json_object_get(refused, "field")), "case_ref");
  assert_string_equal(json_string_value(json_object_get(refused, "rule")), "prosecution requests carry a case reference");
  assert_string_equal(json_string_value(json_object_get(refused, "by")), "MYS");
  json_decref(r);
  /* From IDN (no outbound rules), or with a case reference: not refused. */
  r = fb_policy_evaluate(s, body, "IDN", NULL, roles, 1, &err);
  assert_null(json_object_get(r, "refused"));
  json_decref(r);
  json_object_set_new(body, "case_ref", json_string("MY-1"));
  r = fb_policy_evaluate(s, body, "MYS", NULL, roles, 1, &err);
  assert_null(json_object_get(r, "refused"));
  json_decref(r);
  json_decref(body);
  fb_policy_store_free(s);
}

/* A draft is loaded as strictly as a live file, against the states the hub serves. */
static void test_draft_strict(void **state) {
  (void)state;
  static const char *const hub_states[] = {"BGD", "IDN", "MYS", "THA"};
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_ex(DEMO, hub_states, 4, fb_policy_test_key, sizeof fb_policy_test_key,
                                               NULL, NULL, 0, false, &err);
  assert_non_null(s);

  /* `from = BGD` without quotes would read nil and match every state: refused, with the line. */
  json_t *p = draft_problems(s, json_pack("{s:s}", "MYS.lua", "state \"MYS\" { name = \"Malaysia\" }\n\n"
                                                               "deny \"x\" { from = BGD }\n"));
  json_t *first = json_array_get(p, 0);
  assert_string_equal(json_string_value(json_object_get(first, "file")), "MYS.lua");
  assert_int_equal(json_integer_value(json_object_get(first, "line")), 3);
  assert_non_null(strstr(json_string_value(json_object_get(first, "message")), "BGD is not defined"));
  json_decref(p);

  /* `to` and `from` may name only the hub's states (VNM is a country, not one of them). */
  const char *vnm[] = {"outbound_deny \"x\" { to = \"VNM\" }\n", "allow \"x\" { from = \"VNM\" }\n"};
  for (size_t i = 0; i < 2; i++) {
    p = draft_problems(s, json_pack("{s:s}", "MYS.lua", vnm[i]));
    first = json_array_get(p, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "line")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(first, "message")), "'VNM' is not a state this hub knows"));
    json_decref(p);
  }

  /* A detached set (the replay's, compiled off the loop thread) keeps the same checks. */
  fb_policy_set *live = fb_policy_set_from_store(s);
  fb_policy_set *d = fb_policy_set_detach(live);
  json_t *draft = json_pack("{s:s}", "MYS.lua", vnm[0]), *problems = json_array();
  assert_int_equal(fb_policy_set_put_draft(d, draft, problems), 0);
  assert_int_equal(fb_policy_set_compile(d, problems), 1);
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(problems, 0), "message")), "VNM"));
  json_decref(problems);
  json_decref(draft);
  fb_policy_set_free(d);
  fb_policy_set_free(live);
  fb_policy_store_free(s);

  /* The tools (no config) accept any ISO 3166-1 code, drafts included. */
  s = fb_policy_store_open_dir(DEMO, &err);
  assert_non_null(s);
  json_t *body = request_body();
  json_object_set_new(body, "draft", json_pack("{s:s}", "MYS.lua", vnm[0]));
  problems = json_array();
  json_t *r = fb_policy_evaluate_draft(s, body, "IDN", NULL, roles, 1, problems, &err);
  assert_non_null(r);
  assert_int_equal(json_array_size(problems), 0);
  json_decref(r);
  json_decref(problems);
  json_decref(body);
  fb_policy_store_free(s);
}

static fb_policy *compile(const char *code, const char *src, char **err) {
  return fb_policy_compile(code, code, src, strlen(src), NULL, 0, NULL, err);
}

static void expect_error(const char *code, const char *src, const char *needle) {
  char *err = NULL;
  fb_policy *p = compile(code, src, &err);
  assert_null(p);
  if (!strstr(err, needle)) fail_msg("'%s' not in: %s", needle, err);
  free(err);
}

static void test_outbound_compile_errors(void **state) {
  (void)state;
  expect_error("common", "outbound_deny \"x\" { to = \"THA\" }", "not in common.lua");
  expect_error("MYS", "allow \"x\" { to = \"THA\" }", "outbound rules only");
  expect_error("MYS", "outbound_require \"x\" { purpose = \"prosecution\" }", "needs fields");
  expect_error("MYS", "outbound_require \"x\" { fields = { \"case_rf\" } }", "did you mean \"case_ref\"?");
  expect_error("MYS", "outbound_deny \"x\" { to = \"tha\" }", "not a state code");
  expect_error("MYS", "allow \"x\" { formal = \"yes\" }", "formal must be true");
  /* formal and to are condition keys of the strict loader; to only for outbound rules. */
  expect_error("MYS", "outbound_deny \"x\" { formul = true }", "did you mean \"formal\"?");
  expect_error("MYS", "outbound_deny \"x\" { to = \"XYZ\" }", "to 'XYZ' is not an ISO 3166-1 alpha-3 country code");
  expect_error("MYS", "outbound_deny \"x\" { to = THA }", "THA is not defined");
  char *err = NULL;
  assert_null(compile("MYS", "allow \"x\" { tu = \"THA\" }", &err));
  assert_null(strstr(err, ", to,")); /* not offered where it is refused */
  free(err);
}

static void test_outbound_unreachable(void **state) {
  (void)state;
  char *err = NULL;
  json_t *w = json_array();
  fb_policy *p = fb_policy_compile("MYS", "MYS.lua",
                                   "outbound_deny \"all informal\" { legal_basis = \"informal\" }\n"
                                   "outbound_deny \"informal to THA\" { to = \"THA\", legal_basis = \"informal\" }\n"
                                   "outbound_deny \"THA only\" { to = \"THA\" }\n"
                                   "outbound_deny \"THA prosecution\" { to = \"THA\", purpose = \"prosecution\" }\n",
                                   strlen("outbound_deny \"all informal\" { legal_basis = \"informal\" }\n"
                                          "outbound_deny \"informal to THA\" { to = \"THA\", legal_basis = \"informal\" }\n"
                                          "outbound_deny \"THA only\" { to = \"THA\" }\n"
                                          "outbound_deny \"THA prosecution\" { to = \"THA\", purpose = \"prosecution\" }\n"),
                                   NULL, 0, w, &err);
  assert_non_null(p);
  /* Besides the advice about the missing state declaration: exactly these two. */
  int never = 0;
  bool two = false, four = false;
  size_t i;
  json_t *x;
  json_array_foreach(w, i, x) {
    const char *m = json_string_value(x);
    never += strstr(m, "can never match") != NULL;
    two |= strstr(m, "MYS.lua:2: outbound_deny \"informal to THA\" can never match: outbound_deny \"all informal\"") != NULL;
    four |= strstr(m, "MYS.lua:4: outbound_deny \"THA prosecution\" can never match: outbound_deny \"THA only\"") != NULL;
  }
  assert_int_equal(never, 2);
  assert_true(two && four);
  json_decref(w);
  fb_policy_unref(p);
}

static void test_outbound_decisions(void **state) {
  (void)state;
  char *err = NULL;
  fb_policy *mys = compile("MYS",
                           "outbound_require \"prosecution needs a case\" { purpose = \"prosecution\", fields = { \"case_ref\" } }\n"
                           "outbound_require \"border checks name a document\" { purpose = \"border_screening\", fields = { \"subject.document\" } }\n"
                           "outbound_deny \"no informal to THA\" { to = { \"THA\", \"BGD\" }, legal_basis = \"informal\", reason = \"Formal only.\" }\n"
                           "outbound_deny \"intelligence to IDN only formally\" { to = \"IDN\", formal = false, purpose = \"intelligence\" }\n"
                           "allow \"all\" {}\n",
                           &err);
  assert_non_null(mys);
  fb_policy *tha = compile("THA", "allow \"all\" {}", &err);
  assert_non_null(tha);
  json_t *subj = json_pack("{s:s}", "name", "X");
  fb_query q = {.purpose = "prosecution", .priority = "urgent", .legal_basis = "informal",
                .justification = "long enough justification", .from_state = "MYS", .subject = subj};
  fb_outbound_missing miss;
  assert_int_equal(fb_outbound_require(mys, &q, &miss, &err), 1);
  assert_string_equal(miss.field, "case_ref");
  assert_string_equal(miss.rule, "prosecution needs a case");
  q.case_ref = "MY-1";
  assert_int_equal(fb_outbound_require(mys, &q, &miss, &err), 0);
  q.purpose = "border_screening";
  assert_int_equal(fb_outbound_require(mys, &q, &miss, &err), 1);
  assert_string_equal(miss.field, "subject.document");
  assert_int_equal(fb_outbound_require(NULL, &q, &miss, &err), 0); /* no file: sends everything */

  fb_decision d;
  json_t *trace = json_array();
  fb_policy_decide_outbound(NULL, mys, tha, "THA", &q, &d, trace);
  assert_int_equal(d.effect, FB_EFFECT_WITHHELD);
  assert_string_equal(fb_effect_name(d.effect), "withheld");
  assert_string_equal(d.rule, "no informal to THA");
  assert_string_equal(d.reason, "Formal only.");
  assert_string_equal(d.by, "MYS");
  assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 0), "kind")), "outbound_deny");
  fb_decision_clear(&d);
  /* Another responding state, another basis: the responding state's rules decide. */
  fb_policy_decide_outbound(NULL, mys, tha, "IDN", &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_ALLOW);
  q.legal_basis = "mla_treaty";
  fb_policy_decide_outbound(NULL, mys, tha, "THA", &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_ALLOW);
  /* formal: a search is formal = false; a released follow-up request formal = true. */
  q.purpose = "intelligence";
  fb_policy_decide_outbound(NULL, mys, tha, "IDN", &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_WITHHELD);
  q.formal = true;
  fb_policy_decide_outbound(NULL, mys, tha, "IDN", &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_ALLOW);
  /* Outbound rules are not inbound rules: MYS as the responding state allows. */
  q.from_state = "THA";
  q.legal_basis = "informal";
  q.formal = false;
  fb_policy_decide_outbound(NULL, tha, mys, "MYS", &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_ALLOW);
  json_decref(trace);
  json_decref(subj);
  fb_policy_unref(mys);
  fb_policy_unref(tha);
}

int main(void) {
  fb_log_set_level(FB_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_draft_changes_nothing_live),
      cmocka_unit_test(test_draft_problems),
      cmocka_unit_test(test_draft_strict),
      cmocka_unit_test(test_draft_tests),
      cmocka_unit_test(test_redaction_trace),
      cmocka_unit_test(test_evaluate_refused),
      cmocka_unit_test(test_outbound_compile_errors),
      cmocka_unit_test(test_outbound_decisions),
      cmocka_unit_test(test_outbound_unreachable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
