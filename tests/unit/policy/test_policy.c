/* The policy engine: every condition and rule kind, first-match order, default deny,
 * common denies, redaction actions, traces, and policies that misbehave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "core/util.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "unit_common.h"

static const uint8_t KEY[] = "unit-test-redaction-key";

static fb_policy *compile_as(const char *code, const char *src) {
  char *err = NULL;
  char path[64];
  snprintf(path, sizeof path, "%s.lua", code);
  fb_policy *p = fb_policy_compile(code, path, src, strlen(src), KEY, sizeof KEY - 1, NULL, &err);
  if (!p) fail_msg("unexpected load failure: %s", err);
  return p;
}

/* Returns the malloc'd load error; fails the test if the file loaded. */
static char *load_error(const char *code, const char *src) {
  char *err = NULL;
  char path[64];
  snprintf(path, sizeof path, "%s.lua", code);
  fb_policy *p = fb_policy_compile(code, path, src, strlen(src), KEY, sizeof KEY - 1, NULL, &err);
  if (p) {
    fb_policy_unref(p);
    fail_msg("expected a load failure for: %s", src);
  }
  assert_non_null(err);
  return err;
}

static const char *const analyst[] = {"analyst"};

static fb_query base_query(json_t *subject) {
  fb_query q = {.purpose = "prosecution", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "Suspected facilitator of boat arrivals in Sabah",
                .case_ref = NULL, .from_state = "IDN", .agency = "POLRI",
                .roles = analyst, .nroles = 1, .subject = subject, .query_id = "q-1"};
  return q;
}

typedef struct {
  json_t *subject;
  fb_query q;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  f->q = base_query(f->subject);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  json_decref(f->subject);
  free(f);
  return 0;
}

/* Decides with an empty common and returns the effect; *rule_name gets a copy. */
static fb_effect decide(fb_policy *p, const fb_query *q, char *rule_name, size_t n) {
  fb_decision d;
  fb_policy_decide(NULL, p, q, &d, NULL);
  if (rule_name) snprintf(rule_name, n, "%s", d.rule);
  fb_effect e = d.effect;
  fb_decision_clear(&d);
  return e;
}

static void test_conditions(void **state) {
  fixture *f = *state;
  fb_policy *p = compile_as("MYS",
      "state 'MYS' { name = 'Malaysia' }\n"
      "allow 'p' { purpose = 'victim_protection' }\n"
      "allow 'pr' { priority = { 'immediate' } }\n"
      "allow 'lb' { legal_basis = 'consent' }\n"
      "allow 'from' { from = 'THA' }\n"
      "allow 'agency' { agency = { 'RTP', 'DSI' } }\n"
      "allow 'role' { role = 'legal_officer' }\n"
      "allow 'subject' { subject = 'vessel' }\n"
      "allow 'case' { case_ref = true, purpose = 'investigation' }\n"
      "allow 'nocase' { case_ref = false, purpose = 'intelligence' }\n");
  char rule_name[64];
  fb_query q = f->q;
  assert_int_equal(decide(p, &q, rule_name, sizeof rule_name), FB_EFFECT_DENY);
  assert_string_equal(rule_name, "default_deny");
  q = f->q, q.purpose = "victim_protection";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "p");
  q = f->q, q.priority = "immediate";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "pr");
  q = f->q, q.legal_basis = "consent";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "lb");
  q = f->q, q.from_state = "THA";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "from");
  q = f->q, q.agency = "DSI";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "agency");
  static const char *const roles[] = {"analyst", "legal_officer"};
  q = f->q, q.roles = roles, q.nroles = 2;
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "role");
  json_t *vs = json_pack("{s:s}", "vessel", "KM Sinar Laut");
  q = f->q, q.subject = vs;
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "subject");
  json_decref(vs);
  q = f->q, q.purpose = "investigation";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "default_deny");
  q.case_ref = "ID-2026-1";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "case");
  q = f->q, q.purpose = "intelligence";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "nocase");
  q.case_ref = "X-1";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "default_deny");
  fb_policy_unref(p);
}

static void test_all_keys_must_match_and_first_match(void **state) {
  fixture *f = *state;
  fb_policy *p = compile_as("MYS",
      "deny 'informal' { legal_basis = 'informal', priority = { 'routine', 'urgent' },\n"
      "                  reason = 'Informal only for risk to life.' }\n"
      "hit_only 'asean' { from = { 'IDN', 'THA' }, purpose = 'investigation' }\n"
      "allow 'life' { priority = 'immediate', review = true }\n"
      "allow 'prosecution' { purpose = 'prosecution', legal_basis = { 'mla_treaty', 'bilateral_mou' } }\n");
  fb_decision d;
  fb_query q = f->q;
  q.legal_basis = "informal";
  fb_policy_decide(NULL, p, &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_DENY);
  assert_string_equal(d.rule, "informal");
  assert_string_equal(d.reason, "Informal only for risk to life.");
  fb_decision_clear(&d);
  q.priority = "immediate"; /* the deny needs both keys: now `life` decides */
  fb_policy_decide(NULL, p, &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_ALLOW);
  assert_string_equal(d.rule, "life");
  assert_true(d.review);
  assert_string_equal(d.reason, "life"); /* no reason: the name */
  fb_decision_clear(&d);
  q = f->q, q.purpose = "investigation", q.priority = "immediate";
  fb_policy_decide(NULL, p, &q, &d, NULL); /* hit_only comes first */
  assert_int_equal(d.effect, FB_EFFECT_HIT_ONLY);
  assert_string_equal(d.rule, "asean");
  assert_false(d.review);
  fb_decision_clear(&d);
  q = f->q;
  fb_policy_decide(NULL, p, &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_ALLOW);
  assert_string_equal(d.rule, "prosecution");
  fb_decision_clear(&d);
  q.legal_basis = "consent";
  fb_policy_decide(NULL, p, &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_DENY);
  assert_string_equal(d.rule, "default_deny");
  assert_string_equal(d.reason, "No rule of MYS allows this request.");
  fb_decision_clear(&d);
  fb_policy_unref(p);
}

static void test_common_deny_wins_and_missing_state(void **state) {
  fixture *f = *state;
  fb_policy *common = compile_as("common",
      "deny 'short justification' { when = function(q) return #q.justification < 20 end,\n"
      "  reason = 'Explain the request in at least 20 characters.' }\n");
  fb_policy *p = compile_as("MYS", "allow 'all' { }\n");
  fb_decision d;
  fb_query q = f->q;
  fb_policy_decide(common, p, &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_ALLOW);
  fb_decision_clear(&d);
  q.justification = "too short";
  fb_policy_decide(common, p, &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_DENY);
  assert_string_equal(d.rule, "short justification");
  fb_decision_clear(&d);
  q = f->q;
  fb_policy_decide_named(common, NULL, "BGD", &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_DENY);
  assert_string_equal(d.rule, "default_deny");
  assert_string_equal(d.reason, "No rule of BGD allows this request.");
  fb_decision_clear(&d);
  /* common may not allow */
  char *err = load_error("common", "allow 'x' { }\n");
  assert_non_null(strstr(err, "common.lua:1:"));
  free(err);
  fb_policy_unref(common);
  fb_policy_unref(p);
}

static void test_unless_and_when(void **state) {
  fixture *f = *state;
  fb_policy *p = compile_as("MYS",
      "allow 'not for intelligence' { unless = { purpose = 'intelligence' } }\n");
  fb_query q = f->q;
  assert_int_equal(decide(p, &q, NULL, 0), FB_EFFECT_ALLOW);
  q.purpose = "intelligence";
  assert_int_equal(decide(p, &q, NULL, 0), FB_EFFECT_DENY);
  fb_policy_unref(p);

  p = compile_as("MYS",
      "allow 'names starting with A from POLRI' {\n"
      "  when = function(q) return q.requester.agency == 'POLRI' and\n"
      "    q.subject.name:sub(1, 1) == 'A' and q.requester.roles[1] == 'analyst' end }\n");
  q = f->q;
  assert_int_equal(decide(p, &q, NULL, 0), FB_EFFECT_ALLOW);
  q.agency = "OTHER";
  assert_int_equal(decide(p, &q, NULL, 0), FB_EFFECT_DENY);
  fb_policy_unref(p);

  /* The view is read-only: a write is a policy error, not a changed request. */
  p = compile_as("MYS", "allow 'x' { when = function(q) q.purpose = 'x' return true end }\n");
  fb_decision d;
  q = f->q;
  fb_policy_decide(NULL, p, &q, &d, NULL);
  assert_string_equal(d.rule, "policy_error");
  assert_non_null(strstr(d.error, "read-only"));
  fb_decision_clear(&d);
  fb_policy_unref(p);
}

static void test_trace(void **state) {
  fixture *f = *state;
  fb_policy *p = compile_as("MYS",
      "deny 'informal' { legal_basis = 'informal' }\n"
      "allow 'treaty' { purpose = 'prosecution', legal_basis = { 'mla_treaty', 'bilateral_mou' } }\n");
  fb_query q = f->q;
  json_t *trace = json_array();
  fb_decision d;
  fb_policy_decide(NULL, p, &q, &d, trace);
  assert_int_equal(json_array_size(trace), 2);
  json_t *t0 = json_array_get(trace, 0), *t1 = json_array_get(trace, 1);
  assert_string_equal(json_string_value(json_object_get(t0, "rule")), "informal");
  assert_string_equal(json_string_value(json_object_get(t0, "kind")), "deny");
  assert_false(json_is_true(json_object_get(t0, "matched")));
  assert_string_equal(json_string_value(json_object_get(t0, "why")),
                      "legal_basis is mla_treaty, not informal");
  assert_true(json_is_true(json_object_get(t1, "matched")));
  assert_string_equal(json_string_value(json_object_get(t1, "why")),
                      "purpose is prosecution; legal_basis mla_treaty is in [mla_treaty, bilateral_mou]");
  fb_decision_clear(&d);
  json_array_clear(trace);
  q.legal_basis = "consent";
  fb_policy_decide(NULL, p, &q, &d, trace);
  assert_int_equal(json_array_size(trace), 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 1), "why")),
                      "purpose is prosecution; legal_basis consent is not in [mla_treaty, bilateral_mou]");
  assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 2), "rule")), "default_deny");
  fb_decision_clear(&d);
  json_decref(trace);
  fb_policy_unref(p);
}

static json_t *sample_records(void) {
  return json_loads(
      "[{\"id\":\"R1\",\"type\":\"person\",\"tags\":[\"victim\"],\"name\":\"Siti Aminah binti Yusof\","
      "\"aliases\":[\"Siti\",\"Amy\"],\"dob\":\"1999-04-02\",\"nationality\":\"IDN\",\"phones\":[\"+62811\"],"
      "\"address\":\"Jl. Merdeka 1\",\"documents\":[{\"kind\":\"passport\",\"number\":\"B1\",\"country\":\"IDN\"}]},"
      " {\"id\":\"R2\",\"type\":\"person\",\"tags\":[\"suspect\"],\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\","
      "\"nationality\":\"MYS\"},"
      " {\"id\":\"R3\",\"type\":\"vessel\",\"tags\":[\"sensitive\"],\"vessel\":{\"name\":\"KM Sinar\",\"imo\":\"1\"}},"
      " {\"id\":\"R4\",\"type\":\"person\",\"tags\":[\"minor\",\"victim\"],\"name\":\"Budi\",\"nationality\":\"IDN\"}]",
      0, NULL);
}

static json_t *rec(json_t *records, const char *id) {
  size_t i;
  json_t *r;
  json_array_foreach(records, i, r) if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0) return r;
  return NULL;
}

static const char *sfield(json_t *r, const char *k) { return json_string_value(json_object_get(r, k)); }

static void test_redaction_actions(void **state) {
  fixture *f = *state;
  fb_policy *p = compile_as("MYS",
      "redact 'mask victims' { records = { tags = { 'victim' } }, fields = { 'name', 'aliases' }, action = 'mask' }\n"
      "redact 'remove address' { fields = 'address', action = 'remove' }\n"
      "redact 'year of birth' { records = { type = 'person' }, fields = 'dob', action = 'year' }\n"
      "redact 'initials' { records = { nationality = 'MYS' }, fields = 'name', action = 'initials' }\n"
      "redact 'hash phones' { fields = { 'phones', 'documents' }, action = 'hash' }\n");
  fb_query q = f->q;
  fb_plan *plan = fb_plan_new(NULL, p, &q);
  assert_null(fb_plan_error(plan));
  json_t *rs = sample_records();
  size_t red = 0;
  assert_int_equal(fb_plan_apply(plan, rs, &red), 0);
  json_t *r1 = rec(rs, "R1"), *r2 = rec(rs, "R2");
  assert_string_equal(sfield(r1, "name"), "[REDACTED]");
  json_t *al = json_object_get(r1, "aliases");
  assert_int_equal(json_array_size(al), 1);
  assert_string_equal(json_string_value(json_array_get(al, 0)), "[REDACTED]");
  assert_null(json_object_get(r1, "address"));
  assert_string_equal(sfield(r1, "dob"), "1999");
  assert_string_equal(sfield(r2, "dob"), "1985");
  assert_string_equal(sfield(r2, "name"), "A. B. I.");
  /* hash = HMAC-SHA-256 hex with the deployment key */
  unsigned char md[32];
  unsigned int mdlen;
  char hex[65];
  HMAC(EVP_sha256(), KEY, sizeof KEY - 1, (const unsigned char *)"+62811", 6, md, &mdlen);
  fb_hex_encode(md, 32, hex);
  assert_string_equal(json_string_value(json_array_get(json_object_get(r1, "phones"), 0)), hex);
  /* a document object: "key\0value\0" in key order, so equal documents link */
  static const char doc[] = "country\0IDN\0kind\0passport\0number\0B1";
  HMAC(EVP_sha256(), KEY, sizeof KEY - 1, (const unsigned char *)doc, sizeof doc, md, &mdlen);
  fb_hex_encode(md, 32, hex);
  assert_string_equal(json_string_value(json_array_get(json_object_get(r1, "documents"), 0)), hex);
  /* R1: name, aliases, address, dob, phones, documents; R2: dob, name; R4: name, aliases? no (absent) */
  json_t *list = json_object_get(r1, "redacted");
  assert_int_equal(json_array_size(list), 6);
  assert_int_equal(json_array_size(json_object_get(r2, "redacted")), 2);
  assert_null(json_object_get(rec(rs, "R3"), "redacted"));
  /* redacted_by: the rule that last changed each field */
  json_t *by1 = json_object_get(r1, "redacted_by"), *by2 = json_object_get(r2, "redacted_by");
  assert_int_equal(json_object_size(by1), 6);
  assert_string_equal(sfield(by1, "name"), "mask victims");
  assert_string_equal(sfield(by1, "address"), "remove address");
  assert_string_equal(sfield(by1, "phones"), "hash phones");
  assert_string_equal(sfield(by2, "name"), "initials");
  assert_string_equal(sfield(by2, "dob"), "year of birth");
  assert_null(json_object_get(rec(rs, "R3"), "redacted_by"));
  assert_int_equal(red, 6 + 2 + 1);
  json_t *desc = fb_plan_describe(plan);
  assert_int_equal(json_array_size(desc), 5);
  json_decref(desc);
  json_decref(rs);
  fb_plan_free(plan);
  fb_policy_unref(p);
}

static void test_drop_limit_unless_when_records(void **state) {
  fixture *f = *state;
  fb_policy *common = compile_as("common",
      "drop 'sensitive' { records = { tags = 'sensitive' }, unless = { purpose = 'prosecution' } }\n");
  fb_policy *p = compile_as("MYS",
      "drop 'minors' { records = { tags = { 'minor' } }, unless = { purpose = 'victim_protection' } }\n"
      "limit 'routine' { priority = 'routine', max_records = 1 }\n"
      "redact 'when' { when = function(q) return q.case_ref == nil end, fields = 'name', action = 'mask' }\n");
  fb_query q = f->q;
  q.purpose = "investigation";
  fb_plan *plan = fb_plan_new(common, p, &q);
  json_t *rs = sample_records();
  fb_plan_apply(plan, rs, NULL);
  assert_int_equal(json_array_size(rs), 2); /* R3 sensitive and R4 minor dropped */
  assert_null(rec(rs, "R3"));
  assert_null(rec(rs, "R4"));
  assert_string_equal(sfield(rec(rs, "R2"), "name"), "[REDACTED]");
  json_decref(rs);
  fb_plan_free(plan);

  q = f->q, q.purpose = "victim_protection", q.priority = "routine", q.case_ref = "C-1";
  plan = fb_plan_new(common, p, &q);
  rs = sample_records();
  fb_plan_apply(plan, rs, NULL);
  assert_int_equal(json_array_size(rs), 1); /* limit */
  assert_string_equal(sfield(json_array_get(rs, 0), "name"), "Siti Aminah binti Yusof");
  json_decref(rs);
  fb_plan_free(plan);

  q = f->q; /* prosecution: sensitive kept */
  plan = fb_plan_new(common, p, &q);
  rs = sample_records();
  fb_plan_apply(plan, rs, NULL);
  assert_non_null(rec(rs, "R3"));
  assert_null(rec(rs, "R4"));
  json_decref(rs);
  fb_plan_free(plan);
  fb_policy_unref(common);
  fb_policy_unref(p);
}

static void expect_policy_error(fixture *f, const char *src, const char *needle) {
  fb_policy *p = compile_as("MYS", src);
  fb_decision d;
  fb_query q = f->q;
  fb_policy_decide(NULL, p, &q, &d, NULL);
  assert_int_equal(d.effect, FB_EFFECT_DENY);
  assert_string_equal(d.rule, "policy_error");
  assert_non_null(d.error);
  if (needle && !strstr(d.error, needle)) fail_msg("error '%s' lacks '%s'", d.error, needle);
  fb_decision_clear(&d);
  /* A record plan with the same `when` fails closed. */
  fb_policy_unref(p);
}

static void test_when_faults(void **state) {
  fixture *f = *state;
  expect_policy_error(f, "allow 'x' { when = function(q) return q.nothing.here end }\n", "MYS.lua:1:");
  expect_policy_error(f, "allow 'x' { when = function(q) while true do pcall(function() while true do end end) end end }\n",
                      "instruction budget");
  expect_policy_error(f, "allow 'x' { when = function(q) local t = {} for i = 1, 100 do pcall(function() t[i] = string.rep('x', 1 << 24) end) end return true end }\n",
                      "memory budget");
  expect_policy_error(f, "allow 'x' { when = function(q) error({}) end }\n", NULL);
  /* Backtracking patterns run in C, out of the budget's reach: refused up front. */
  expect_policy_error(f, "allow 'x' { when = function(q) return (string.rep('a', 2000)):find('.-.-.-b') end }\n",
                      "pattern is too costly");
  {
    fb_policy *p = compile_as("MYS", "allow 'x' { when = function(q) return q.subject.name:match('^(%a+)') == 'Ahmad'\n"
                                     "  and q.justification:find('Sabah', 1, true) ~= nil\n"
                                     "  and select(2, q.justification:gsub('a', 'a')) > 0 end }\n");
    fb_query q = f->q;
    assert_int_equal(decide(p, &q, NULL, 0), FB_EFFECT_ALLOW);
    fb_policy_unref(p);
  }
  const char *names[] = {"io", "os", "debug", "require", "load", "loadstring", "dofile", "loadfile",
                         "collectgarbage", "package"};
  for (size_t i = 0; i < FB_ARRAY_LEN(names); i++) {
    char src[256];
    snprintf(src, sizeof src, "allow 'x' { when = function(q) return %s ~= nil and %s.x ~= nil end }\n",
             names[i], names[i]);
    fb_policy *p = compile_as("MYS", src);
    fb_decision d;
    fb_query q = f->q;
    fb_policy_decide(NULL, p, &q, &d, NULL);
    assert_int_equal(d.effect, FB_EFFECT_DENY); /* nil: the rule does not match */
    fb_decision_clear(&d);
    fb_policy_unref(p);
    snprintf(src, sizeof src, "allow 'x' { when = function(q) %s('x') return true end }\n", names[i]);
    expect_policy_error(f, src, "is not available in policies");
    /* and at load time */
    snprintf(src, sizeof src, "local x = %s('x')\n", names[i]);
    char *err = load_error("MYS", src);
    assert_non_null(strstr(err, "MYS.lua:1:"));
    free(err);
  }
  expect_policy_error(f, "allow 'x' { when = function(q) return string.dump(print) end }\n", NULL);
  /* A plan with a failing `when` withholds every record. */
  fb_policy *p = compile_as("MYS", "drop 'x' { when = function(q) error('boom') end }\n");
  fb_query q = f->q;
  fb_plan *plan = fb_plan_new(NULL, p, &q);
  assert_non_null(fb_plan_error(plan));
  json_t *rs = sample_records();
  assert_int_equal(fb_plan_apply(plan, rs, NULL), -1);
  assert_int_equal(json_array_size(rs), 0);
  json_decref(rs);
  fb_plan_free(plan);
  fb_policy_unref(p);
}

static void test_load_faults(void **state) {
  (void)state;
  char *err = load_error("MYS", "\x1bLua\x54\x00");
  assert_non_null(strstr(err, "binary"));
  free(err);
  err = load_error("MYS", "while true do end\n");
  assert_non_null(strstr(err, "budget")); /* instructions or wall clock, whichever ends first */
  free(err);
  err = load_error("MYS", "local s = string.rep('x', 1 << 30)\n");
  assert_non_null(strstr(err, "memory"));
  free(err);
  err = load_error("MYS", "getmetatable('').__index = {}\n");
  free(err);
  err = load_error("MYS", "setmetatable({}, { __gc = function() while true do end end })\n");
  assert_non_null(strstr(err, "__gc"));
  free(err);
  /* unknown keys and values name the line and suggest */
  err = load_error("MYS", "state 'MYS' { name = 'M' }\n\nallow 'x' {\n  purpse = 'prosecution',\n}\n");
  assert_non_null(strstr(err, "MYS.lua:4: unknown key 'purpse'"));
  assert_non_null(strstr(err, "did you mean \"purpose\"?"));
  free(err);
  err = load_error("MYS", "allow 'x' { purpose = 'prosecuton' }\n");
  assert_non_null(strstr(err, "MYS.lua:1: unknown purpose 'prosecuton'; did you mean \"prosecution\"? "
                              "(expected one of: investigation, prosecution, victim_protection, intelligence, "
                              "border_screening)"));
  free(err);
  err = load_error("MYS", "redact 'x' { fields = { 'nmae' }, action = 'mask' }\n");
  assert_non_null(strstr(err, "did you mean \"name\"?"));
  free(err);
  err = load_error("MYS", "redact 'x' { fields = 'name', action = 'blur' }\n");
  assert_non_null(strstr(err, "unknown action 'blur'"));
  free(err);
  err = load_error("MYS", "drop 'x' { records = { tags = 'vicitm' } }\n");
  assert_non_null(strstr(err, "did you mean \"victim\"?"));
  free(err);
  err = load_error("MYS", "allow 'x' { }\nallow 'x' { }\n");
  assert_non_null(strstr(err, "MYS.lua:2:"));
  free(err);
  err = load_error("MYS", "state 'THA' { }\n");
  assert_non_null(strstr(err, "declares state"));
  free(err);
  err = load_error("MYS", "allow 'x'\n");
  assert_non_null(strstr(err, "missing its table"));
  free(err);
  err = load_error("MYS", "allow 'x' { purpose = }\n");
  assert_non_null(strstr(err, "MYS.lua:1:"));
  free(err);
}

static void test_isolation(void **state) {
  fixture *f = *state;
  /* A global written by one state's file is invisible to another's. */
  fb_policy *a = compile_as("MYS", "shared = true\nstring.upper = function() return 'x' end\n"
                                   "allow 'a' { when = function(q) shared_in_when = 1 return true end }\n");
  fb_policy *b = compile_as("THA", "allow 'b' { when = function(q) return shared == true or shared_in_when == 1 or ('a'):upper() == 'x' end }\n");
  fb_query q = f->q;
  assert_int_equal(decide(a, &q, NULL, 0), FB_EFFECT_ALLOW);
  assert_int_equal(decide(b, &q, NULL, 0), FB_EFFECT_DENY);
  /* A rule function kept for later is refused at decision time. */
  fb_policy *c = compile_as("BGD", "local a = allow\nallow 'x' { when = function(q) a 'y' { } return true end }\n");
  fb_decision d;
  fb_policy_decide(NULL, c, &q, &d, NULL);
  assert_string_equal(d.rule, "policy_error");
  fb_decision_clear(&d);
  fb_policy_unref(a);
  fb_policy_unref(b);
  fb_policy_unref(c);
}

static void test_store_reload(void **state) {
  fixture *f = *state;
  char dir[] = "/tmp/fbpolicyXXXXXX";
  assert_non_null(mkdtemp(dir));
  fb_test_write_file_in(dir, "common.lua", "deny 'nothing' { purpose = 'border_screening' }\n");
  fb_test_write_file_in(dir, "MYS.lua", "state 'MYS' { name = 'Malaysia', contact = { unit = 'U', email = 'e@example.my', channel = 'c' } }\n"
                             "allow 'v1' { }\n");
  const char *states[] = {"MYS", "THA"};
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open(dir, states, 2, KEY, sizeof KEY - 1, &err);
  assert_non_null(s);
  assert_null(fb_policy_store_get(s, "THA")); /* no file: denied everything */
  fb_policy *old = fb_policy_store_get(s, "MYS");
  json_t *info = fb_policy_info(old);
  assert_string_equal(json_string_value(json_object_get(json_object_get(info, "contact"), "unit")), "U");
  assert_int_equal(strlen(json_string_value(json_object_get(info, "sha256"))), 64);
  json_decref(info);

  /* A bad file keeps the old version. */
  fb_test_write_file_in(dir, "MYS.lua", "allow 'v2' { purpose = 'nope' }\n");
  json_t *report = NULL;
  assert_int_equal(fb_policy_store_reload(s, &report), -1);
  json_t *files = json_object_get(report, "files");
  assert_string_equal(json_string_value(json_object_get(json_array_get(files, 1), "status")), "error");
  json_decref(report);
  fb_policy *cur = fb_policy_store_get(s, "MYS");
  assert_ptr_equal(cur, old);
  fb_policy_unref(cur);

  /* A good file replaces it; the in-flight reference still decides under v1. */
  fb_test_write_file_in(dir, "MYS.lua", "allow 'v2' { }\n");
  assert_int_equal(fb_policy_store_reload_file(s, "MYS", &err), 0);
  cur = fb_policy_store_get(s, "MYS");
  fb_query q = f->q;
  char rule_name[32];
  decide(old, &q, rule_name, sizeof rule_name);
  assert_string_equal(rule_name, "v1");
  decide(cur, &q, rule_name, sizeof rule_name);
  assert_string_equal(rule_name, "v2");
  fb_policy_unref(old);
  fb_policy_unref(cur);

  /* Start-up fails on a bad file, naming it. */
  fb_test_write_file_in(dir, "THA.lua", "allow 'x' { purpose = 'nope' }\n");
  fb_policy_store *s2 = fb_policy_store_open(dir, states, 2, KEY, sizeof KEY - 1, &err);
  assert_null(s2);
  assert_non_null(strstr(err, "THA.lua:1:"));
  free(err);
  fb_policy_store_free(s);
  assert_true(fb_test_rm_rf(dir));
}

static void sign_file(EVP_PKEY *k, const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t len;
  char *src = fb_read_file(path, 1 << 20, &len);
  assert_non_null(src);
  unsigned char sig[64];
  size_t siglen = sizeof sig;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, k), 1);
  assert_int_equal(EVP_DigestSign(md, sig, &siglen, (unsigned char *)src, len), 1);
  EVP_MD_CTX_free(md);
  unsigned char b64[128];
  EVP_EncodeBlock(b64, sig, 64);
  char signame[64];
  snprintf(signame, sizeof signame, "%s.sig", name);
  strcat((char *)b64, "\n");
  fb_test_write_file_in(dir, signame, (char *)b64);
  free(src);
}

static void test_signed_policies(void **state) {
  (void)state;
  char dir[] = "/tmp/fbpolsigXXXXXX";
  assert_non_null(mkdtemp(dir));
  EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  assert_non_null(k);
  char pub[512];
  snprintf(pub, sizeof pub, "%s/mys.pub.pem", dir);
  FILE *fp = fopen(pub, "w");
  assert_non_null(fp);
  PEM_write_PUBKEY(fp, k);
  fclose(fp);
  fb_test_write_file_in(dir, "MYS.lua", "allow 'v1' { }\n");
  fb_test_write_file_in(dir, "THA.lua", "allow 'unsigned' { }\n");
  sign_file(k, dir, "MYS.lua");
  const char *states[] = {"MYS", "THA"};
  const char *ks[] = {"MYS"};
  const char *kp[] = {pub};
  char *err = NULL;
  fb_policy_store *s = fb_policy_store_open_signed(dir, states, 2, NULL, 0, ks, kp, 1, &err);
  if (!s) fail_msg("%s", err);
  fb_policy *p = fb_policy_store_get(s, "MYS");
  json_t *info = fb_policy_info(p);
  assert_true(json_is_true(json_object_get(info, "signed")));
  json_decref(info);
  fb_policy_unref(p);
  p = fb_policy_store_get(s, "THA");
  info = fb_policy_info(p);
  assert_true(json_is_false(json_object_get(info, "signed")));
  json_decref(info);
  fb_policy_unref(p);
  /* A changed file without a new signature does not replace the signed one. */
  fb_test_write_file_in(dir, "MYS.lua", "allow 'v2' { }\n");
  assert_int_equal(fb_policy_store_reload_file(s, "MYS", &err), -1);
  assert_non_null(strstr(err, "signature"));
  free(err);
  p = fb_policy_store_get(s, "MYS");
  assert_string_equal(p->rules[0].name, "v1");
  fb_policy_unref(p);
  sign_file(k, dir, "MYS.lua");
  assert_int_equal(fb_policy_store_reload_file(s, "MYS", &err), 0);
  fb_policy_store_free(s);
  /* At start-up a bad signature stops loading. */
  fb_test_write_file_in(dir, "MYS.lua.sig", "AAAA\n");
  assert_null(fb_policy_store_open_signed(dir, states, 2, NULL, 0, ks, kp, 1, &err));
  assert_non_null(strstr(err, "MYS.lua"));
  free(err);
  EVP_PKEY_free(k);
  assert_true(fb_test_rm_rf(dir));
}

/* Bits computed once for a query (fb_query_bits_init, q.bits) decide as the query does,
 * and are not taken for a query whose purpose, priority, legal basis or subject is not
 * the one they were read from. */
static void test_query_bits(void **state) {
  fixture *f = *state;
  fb_policy *p = compile_as("MYS",
      "state 'MYS' { name = 'Malaysia' }\n"
      "allow 'p' { purpose = 'victim_protection' }\n"
      "allow 'pr' { priority = 'immediate' }\n"
      "allow 'lb' { legal_basis = 'consent' }\n"
      "allow 'subject' { subject = 'vessel' }\n");
  char rule_name[64];
  fb_query_bits bits;
  fb_query q = f->q;
  q.purpose = "victim_protection";
  fb_query_bits_init(&bits, &q);
  q.bits = &bits;
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "p");
  q.purpose = "prosecution"; /* stale bits: not taken */
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "default_deny");
  q.priority = "immediate";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "pr");
  q = f->q, q.bits = &bits;
  q.legal_basis = "consent";
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "lb");
  json_t *vs = json_pack("{s:s}", "vessel", "KM Sinar Laut");
  q = f->q, q.subject = vs;
  fb_query_bits_init(&bits, &q);
  q.bits = &bits;
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "subject");
  q.subject = f->subject;
  decide(p, &q, rule_name, sizeof rule_name), assert_string_equal(rule_name, "default_deny");
  json_decref(vs);
  /* The same bits as a decision computes: a word a byte off the vocabulary sets none. */
  q = f->q, q.purpose = "victim_protectio", q.priority = "immediatE";
  fb_query_bits_init(&bits, &q);
  assert_int_equal(bits.purpose, 0);
  assert_int_equal(bits.priority, 0);
  assert_int_equal(bits.legal_basis, 1u << FB_LEGAL_BASIS_MLA_TREATY);
  assert_int_equal(bits.subject, 1u << FB_SUBJECT_NAME);
  fb_policy_unref(p);
}

/* Every test here runs between setup and teardown. */
#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_conditions),
      T(test_all_keys_must_match_and_first_match),
      T(test_common_deny_wins_and_missing_state),
      T(test_unless_and_when),
      T(test_trace),
      T(test_redaction_actions),
      T(test_drop_limit_unless_when_records),
      T(test_when_faults),
      T(test_load_faults),
      T(test_isolation),
      T(test_store_reload),
      T(test_query_bits),
      cmocka_unit_test(test_signed_policies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
