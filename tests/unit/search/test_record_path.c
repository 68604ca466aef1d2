/* The record path, old against new, byte for byte: node answers (as text) parsed,
 * judged, redacted by the demo policies, merged, and written as the search answer and
 * its NDJSON lines. The old path is jansson's (json_loadb, json_dump_callback with
 * the answer's flags); the second is core/jsonr.h and core/jsonw.h on jansson values;
 * the third is compact records (core/crec.h: fb_crecs_judge, fb_plan_apply_crecs,
 * fb_merge_sources and search/answer.h's writer), with no jansson value per record. Inputs: the demo
 * data's known subjects, then node answers mutated at random (fields dropped, hostile
 * and long strings, unknown fields, wrong types, duplicate keys and records, numbers,
 * escapes, invalid UTF-8, truncation, nesting): every byte of the answer, every error
 * sentence of a failed leg, must be the same. */
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
#include "records/record.h"
#include "demo/demo_data.h"
#include "records/sqlite_db.h"
#include "core/crec.h"
#include "core/jsonr.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "search/answer.h"
#include "search/merge.h"
#include "tests/unit/search/demo_policies.h"
#include "unit_common.h"

#define NSTATES 4

static char dir[] = "/tmp/fb_record_path_XXXXXX";
static fb_policy *common, *policies[NSTATES];
static const uint8_t KEY[] = "record-path-test-key";
static const char *const roles[] = {"analyst"};

static int setup(void **state) {
  (void)state;
  if (!fb_test_demo_data_dir(dir)) return -1;
  if (demo_policies_load(KEY, sizeof KEY - 1, &common, policies, NSTATES) != 0) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fb_policy_unref(common);
  for (int i = 0; i < NSTATES; i++) fb_policy_unref(policies[i]);
  return fb_test_rm_rf(dir) ? 0 : -1;
}

/* Each demo state's answer to `subject`, as the node's text {"records": [...]}. */
static void node_answers(const char *subject_json, char *texts[NSTATES]) {
  json_t *subject = json_loads(subject_json, 0, NULL);
  assert_non_null(subject);
  for (int i = 0; i < NSTATES; i++) {
    char p[160], *err = NULL;
    snprintf(p, sizeof p, "%s/%s.db", dir, fb_demo_states[i]);
    fb_sqlite_db *db;
    assert_int_equal(fb_sqlite_db_open(p, &db, &err), 0);
    json_t *res = fb_sqlite_db_search(db, subject, 50, &err);
    assert_non_null(res);
    json_t *body = json_pack("{s:o}", "records", res);
    texts[i] = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    fb_sqlite_db_close(db);
  }
  json_decref(subject);
}

/* What the http adapter accepts (adapters/http.c): {"records": [valid records]}. */
static json_t *judge(json_t *body, char **err) {
  json_t *recs = json_object_get(body, "records");
  if (!json_is_object(body) || !json_is_array(recs)) {
    fb_set_error(err, "answer from node has no \"records\" array");
    return NULL;
  }
  size_t i;
  json_t *r;
  json_array_foreach(recs, i, r) {
    if (fb_record_validate(r, err) != 0) {
      fb_prefix_error(err, "record %zu: ", i);
      return NULL;
    }
  }
  return json_incref(recs);
}

static int dump_cb(const char *data, size_t len, void *b) {
  fb_buf_append(b, data, len);
  return 0;
}

typedef struct {
  fb_buf answer;  /* the search answer */
  fb_buf ndjson;  /* its "result" lines */
  fb_buf audit;   /* the answer at the audit writer's precision */
  size_t fast;    /* answers the new parser took itself */
} path_out;

#define AUDIT_HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static fb_query query(json_t *subject) {
  return (fb_query){.purpose = "victim_protection", .priority = "urgent", .legal_basis = "mla_treaty",
                    .justification = "record path test", .from_state = "MYS", .agency = "PDRM",
                    .roles = roles, .nroles = 1, .subject = subject, .query_id = "q-record-path"};
}

/* The same search on compact records: the answer written around the merge's text. */
static void run_compact(char *const texts[NSTATES], const size_t lens[NSTATES], path_out *out) {
  json_t *subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  fb_query q = query(subject);
  json_t *states = json_array();
  fb_crecs *sets[NSTATES] = {0};
  fb_merge_source src[NSTATES];
  size_t nsrc = 0;
  for (int i = 0; i < NSTATES; i++) {
    json_error_t jerr;
    char *text = fb_xmalloc(lens[i] + 1);
    memcpy(text, texts[i], lens[i]);
    text[lens[i]] = '\0';
    fb_crecs *set = fb_crecs_load(text, lens[i], &jerr);
    char *why = NULL;
    if (!set) fb_set_error(&why, "invalid JSON from node: %s", jerr.text);
    else if (fb_crecs_judge(set, &why) != 0) {
      fb_crecs_free(set);
      set = NULL;
    }
    json_t *line = json_pack("{s:s}", "state", fb_demo_states[i]);
    if (set) {
      out->fast += set->fast;
      fb_plan *plan = fb_plan_new(common, policies[i], &q);
      size_t redacted = 0;
      int rc = fb_plan_apply_crecs(plan, set, &redacted);
      fb_plan_free(plan);
      json_object_set_new(line, "outcome", json_string(rc == 0 ? "shared" : "denied"));
      json_object_set_new(line, "records", json_integer((json_int_t)set->nrecs));
      json_object_set_new(line, "redacted", json_integer((json_int_t)redacted));
      json_object_set_new(line, "latency_ms", json_real(12.3 + i));
      sets[i] = set;
      if (rc == 0) src[nsrc++] = (fb_merge_source){.state = fb_demo_states[i], .set = set};
    } else {
      json_object_set_new(line, "outcome", json_string("error"));
      json_object_set_new(line, "error", json_string(why));
      free(why);
    }
    json_array_append_new(states, line);
  }
  fb_merged *m = fb_merge_sources(src, nsrc);
  fb_search_answer a = {.query_id = "q-record-path", .complete = true, .states = states, .results = m,
                        .audit_seq = 7, .audit_hash = AUDIT_HASH};
  assert_int_equal(fb_search_answer_write(&out->answer, &a, FB_JSONW_PRECISION), 0);
  assert_int_equal(fb_search_answer_write(&out->audit, &a, 0), 0);
  for (size_t e = 0; e < fb_merged_count(m); e++) assert_int_equal(fb_search_result_line(&out->ndjson, &a, e), 0);
  fb_merged_free(m);
  for (int i = 0; i < NSTATES; i++) fb_crecs_free(sets[i]);
  json_decref(states);
  json_decref(subject);
}

/* One search over the four answers, the old path (`fresh` false) or the new one. */
static void run_path(bool fresh, char *const texts[NSTATES], const size_t lens[NSTATES], path_out *out) {
  json_t *subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  fb_query q = query(subject);
  json_t *per_state = json_object(), *states = json_array();
  for (int i = 0; i < NSTATES; i++) {
    json_error_t jerr;
    json_t *body;
    if (fresh) {
      json_t *fast = fb_jsonr_fast(texts[i], lens[i]);
      if (fast) out->fast++;
      json_decref(fast);
      body = fb_jsonr_loadb(texts[i], lens[i], &jerr);
    } else {
      body = json_loadb(texts[i], lens[i], 0, &jerr);
    }
    char *why = NULL;
    json_t *recs = NULL;
    if (!body) fb_set_error(&why, "invalid JSON from node: %s", jerr.text);
    else recs = judge(body, &why);
    json_decref(body);
    json_t *line = json_pack("{s:s}", "state", fb_demo_states[i]);
    if (recs) {
      fb_plan *plan = fb_plan_new(common, policies[i], &q);
      size_t redacted = 0;
      int rc = fb_plan_apply(plan, recs, &redacted);
      fb_plan_free(plan);
      json_object_set_new(line, "outcome", json_string(rc == 0 ? "shared" : "denied"));
      json_object_set_new(line, "records", json_integer((json_int_t)json_array_size(recs)));
      json_object_set_new(line, "redacted", json_integer((json_int_t)redacted));
      json_object_set_new(line, "latency_ms", json_real(12.3 + i));
      if (rc == 0) json_object_set(per_state, fb_demo_states[i], recs);
      json_decref(recs);
    } else {
      json_object_set_new(line, "outcome", json_string("error"));
      json_object_set_new(line, "error", json_string(why));
      free(why);
    }
    json_array_append_new(states, line);
  }
  json_t *results = fb_merge(per_state);
  json_decref(per_state);
  json_t *resp = json_pack("{s:s, s:b, s:o, s:O, s:{s:I, s:s}}", "query_id", "q-record-path", "complete", 1,
                           "states", states, "results", results, "audit", "seq", (json_int_t)7, "hash", AUDIT_HASH);
  const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(FB_JSONW_PRECISION);
  if (fresh) {
    assert_int_equal(fb_jsonw_dump(&out->answer, resp, FB_JSONW_PRECISION), 0);
    assert_int_equal(fb_jsonw_value(&out->audit, resp, 0), 0);
  } else {
    assert_int_equal(json_dump_callback(resp, dump_cb, &out->answer, flags), 0);
    assert_int_equal(json_dump_callback(resp, dump_cb, &out->audit, JSON_COMPACT | JSON_ENCODE_ANY), 0);
  }
  size_t i;
  json_t *e;
  json_array_foreach(results, i, e) {
    json_t *wrap = json_pack("{s:O}", "result", e);
    if (fresh) assert_int_equal(fb_jsonw_dump(&out->ndjson, wrap, FB_JSONW_PRECISION), 0);
    else assert_int_equal(json_dump_callback(wrap, dump_cb, &out->ndjson, flags), 0);
    fb_buf_putc(&out->ndjson, '\n');
    json_decref(wrap);
  }
  json_decref(results);
  json_decref(resp);
  json_decref(subject);
}

static void path_out_free(path_out *o) {
  fb_buf_free(&o->answer);
  fb_buf_free(&o->ndjson);
  fb_buf_free(&o->audit);
}

static bool same_buf(const fb_buf *a, const fb_buf *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void same_out(const path_out *a, const path_out *b, const char *what, const char *which) {
  if (!same_buf(&a->answer, &b->answer))
    fail_msg("%s (%s): the answers differ\nold: %.3000s\nnew: %.3000s", what, which, a->answer.data, b->answer.data);
  if (!same_buf(&a->ndjson, &b->ndjson))
    fail_msg("%s (%s): the NDJSON lines differ\nold: %.3000s\nnew: %.3000s", what, which, a->ndjson.data, b->ndjson.data);
  if (!same_buf(&a->audit, &b->audit))
    fail_msg("%s (%s): the audit-precision texts differ", what, which);
}

/* Old and both new paths on the same texts: equal bytes. Returns how many answers the
 * new parser took itself; *compact_fast, how many the compact records took in place. */
static size_t compare_paths(char *const texts[NSTATES], const size_t lens[NSTATES], const char *what,
                            size_t *compact_fast) {
  path_out a = {0}, b = {0}, c = {0};
  run_path(false, texts, lens, &a);
  run_path(true, texts, lens, &b);
  run_compact(texts, lens, &c);
  same_out(&a, &b, what, "jsonr/jsonw");
  same_out(&a, &c, what, "compact records");
  size_t fast = b.fast;
  *compact_fast += c.fast;
  path_out_free(&a);
  path_out_free(&b);
  path_out_free(&c);
  return fast;
}

static const char *const subjects[] = {
    "{\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\"}",
    "{\"document\":\"A12345678\"}",
    "{\"name\":\"Siti Rahayu\"}",
    "{\"vessel\":{\"name\":\"KM Sinar Laut\"}}",
    "{\"phone\":\"+60 12-345 6789\"}",
    "{\"name\":\"Nguyen Van Minh\"}",
};

static void test_known_subjects_old_and_new_agree(void **state) {
  (void)state;
  size_t records = 0;
  for (size_t s = 0; s < FB_ARRAY_LEN(subjects); s++) {
    char *texts[NSTATES];
    size_t lens[NSTATES];
    node_answers(subjects[s], texts);
    for (int i = 0; i < NSTATES; i++) {
      lens[i] = strlen(texts[i]);
      records += lens[i] > 20;
    }
    /* the new parsers must have taken the demo's answers themselves, not handed them back */
    size_t compact_fast = 0;
    assert_int_equal(compare_paths(texts, lens, subjects[s], &compact_fast), NSTATES);
    assert_int_equal(compact_fast, NSTATES);
    for (int i = 0; i < NSTATES; i++) free(texts[i]);
  }
  assert_true(records >= 10); /* the subjects find records: the comparison saw some */
}

/* ---- mutations ------------------------------------------------------------ */

static const char *const hostile[] = {
    "quote \" backslash \\ slash / end", "tab\there\nnewline\r\x01\x1f\x7f", "\xc3\xa9t\xc3\xa9 \xe0\xb8\xaa\xe0\xb8\xa1",
    "\xf0\x9f\x98\x80 emoji", "\xe2\x80\xa8 line separator", "</script><b>", "\\u0000 as text", "",
    "\xd8\xa3\xd8\xad\xd9\x85\xd8\xaf", "[REDACTED]"};

static json_t *random_value(uint64_t *rng, int depth) {
  switch (fb_test_rand(rng) % (depth > 2 ? 6u : 8u)) {
  case 0: return json_integer((json_int_t)fb_test_rand(rng));
  case 1: {
    double d;
    uint64_t bits = fb_test_rand(rng);
    memcpy(&d, &bits, sizeof d);
    if (d != d || d - d != 0) d = 1.5e300; /* NaN or infinite: jansson refuses them */
    return json_real(d);
  }
  case 2: return json_string(hostile[fb_test_rand(rng) % FB_ARRAY_LEN(hostile)]);
  case 3: return json_null();
  case 4: return json_true();
  case 5: return json_real((double)(fb_test_rand(rng) % 100000) / 100.0);
  case 6: return json_pack("[o, o]", random_value(rng, depth + 1), random_value(rng, depth + 1));
  default: return json_pack("{s:o, s:o}", "x", random_value(rng, depth + 1), "y\"\\", random_value(rng, depth + 1));
  }
}

static void mutate_dom(json_t *recs, uint64_t *rng) {
  size_t n = json_array_size(recs);
  if (!n) {
    json_array_append_new(recs, json_pack("{s:s, s:s, s:s}", "id", "X-1", "type", "person", "name", "Nobody"));
    return;
  }
  json_t *r = json_array_get(recs, fb_test_rand(rng) % n);
  const char *keys[32];
  size_t nk = 0;
  const char *k;
  json_t *v;
  json_object_foreach(r, k, v) if (nk < 32) keys[nk++] = k;
  const char *key = nk ? keys[fb_test_rand(rng) % nk] : "name";
  char *kcopy = fb_xstrdup(key);
  switch (fb_test_rand(rng) % 8) {
  case 0: json_object_del(r, kcopy); break; /* a field dropped */
  case 1: json_object_set_new(r, kcopy, json_string(hostile[fb_test_rand(rng) % FB_ARRAY_LEN(hostile)])); break;
  case 2: { /* a long string full of escapes */
    fb_buf b = {0};
    while (b.len < 70000) fb_buf_puts(&b, "long \"text\" \\ with\tescapes \xc3\xa9 ");
    json_object_set_new(r, kcopy, json_string(b.data));
    fb_buf_free(&b);
    break;
  }
  case 3: json_object_set_new(r, "unknown_field", random_value(rng, 0)); break;
  case 4: json_object_set_new(r, kcopy, random_value(rng, 0)); break; /* a wrong type, often */
  case 5: json_array_append(recs, r); break;                          /* a duplicate record */
  case 6: json_object_set_new(r, "state", json_string("XYZ")); break; /* a node's own "state" (the merge's wins) */
  default: json_object_set_new(r, "score_hint", json_real((double)(fb_test_rand(rng) % 1000000) * 1e-7)); break;
  }
  free(kcopy);
}

/* Replaces text[at, at+cut) with `ins`; returns the new malloc'd text. */
static char *text_splice(const char *text, size_t len, size_t at, size_t cut, const char *ins, size_t inslen, size_t *outlen) {
  if (at > len) at = len;
  if (cut > len - at) cut = len - at;
  *outlen = len - cut + inslen;
  char *o = fb_xmalloc(*outlen + 1);
  memcpy(o, text, at);
  memcpy(o + at, ins, inslen);
  memcpy(o + at + inslen, text + at + cut, len - at - cut);
  o[*outlen] = '\0';
  return o;
}

static char *mutate_text(char *text, size_t *len, uint64_t *rng) {
  static const char *const inserts[] = {
      "\"id\":\"dup\",\"id\":\"second\",", "\"name\":1e400,", "\"name\":-0,", "\"n\":0123,", "\"n\":1.,",
      "\"n\":99999999999999999999,", "\"n\":-9223372036854775808,", "\"n\":1E+2,", "\"n\":2.5e-3,",
      "\"name\":\"\\u00e9\\ud83d\\ude00\\/\",", "\"name\":\"\\udc00\",", "\"name\":\"\\u0000\",",
      "\"name\":\"\\ud800x\",", "\"name\":\"\\q\",", "\"name\":\"\xc0\x80\",", "\"name\":\"\xed\xa0\x80\",",
      "\"name\":\"\xf4\x90\x80\x80\",", "\"name\":\"ok\xe0\xb8\",", "\"t\":truex,", "\"t\":nul,",
      "\"a\":[1,],", "\"o\":{\"k\":1,},", "\"k\" : [ true , false , null ] ,", "\"x\":\"raw\x01ctl\","};
  size_t n = *len, olen;
  char *o;
  switch (fb_test_rand(rng) % 6) {
  case 0: { /* a field inserted after some record's '{' */
    const char *ins = inserts[fb_test_rand(rng) % FB_ARRAY_LEN(inserts)];
    const char *brace = strchr(text + 1, '{');
    size_t at = brace ? (size_t)(brace - text) + 1 : n / 2;
    o = text_splice(text, n, at, 0, ins, strlen(ins), &olen);
    break;
  }
  case 1: o = text_splice(text, n, fb_test_rand(rng) % (n + 1), n, "", 0, &olen); break; /* truncated */
  case 2: {                                                                          /* a byte changed */
    char c = (char)(fb_test_rand(rng) & 0xff);
    o = text_splice(text, n, fb_test_rand(rng) % (n ? n : 1), 1, &c, 1, &olen);
    break;
  }
  case 3: { /* trailing whitespace (accepted) or trailing garbage (refused) */
    const char *tail = fb_test_rand(rng) % 2 ? " \n\t" : " garbage";
    o = text_splice(text, n, n, 0, tail, strlen(tail), &olen);
    break;
  }
  case 4: { /* nested arrays around the records: past the fast path's depth, or jansson's */
    size_t depth = fb_test_rand(rng) % 2 ? 300 : 2100;
    fb_buf b = {0};
    fb_buf_puts(&b, "{\"records\":");
    for (size_t i = 0; i < depth; i++) fb_buf_putc(&b, '[');
    for (size_t i = 0; i < depth; i++) fb_buf_putc(&b, ']');
    fb_buf_putc(&b, '}');
    olen = b.len;
    o = fb_buf_steal(&b);
    break;
  }
  default: { /* whitespace everywhere: the same answer pretty-printed */
    json_t *v = json_loadb(text, n, 0, NULL);
    char *pretty = v ? json_dumps(v, JSON_INDENT(3) | JSON_ENSURE_ASCII) : fb_xstrdup("{");
    json_decref(v);
    olen = strlen(pretty);
    o = fb_xstrndup(pretty, olen);
    free(pretty);
  }
  }
  free(text);
  *len = olen;
  return o;
}

static void test_mutated_answers_old_and_new_agree(void **state) {
  (void)state;
  uint64_t rng = 0x5eed10c0ffee;
  char *base[NSTATES];
  node_answers(subjects[0], base);
  size_t fast = 0, total = 0, compact_fast = 0;
  for (int iter = 0; iter < 400; iter++) {
    char *texts[NSTATES];
    size_t lens[NSTATES];
    for (int i = 0; i < NSTATES; i++) {
      json_t *body = json_loads(base[i], 0, NULL);
      int rounds = (int)(fb_test_rand(&rng) % 4);
      for (int m = 0; m < rounds; m++) mutate_dom(json_object_get(body, "records"), &rng);
      /* ASCII-only text puts \u escapes (and surrogate pairs) in the parser's way */
      texts[i] = json_dumps(body, JSON_COMPACT | (fb_test_rand(&rng) % 3 == 0 ? JSON_ENSURE_ASCII : 0));
      json_decref(body);
      lens[i] = strlen(texts[i]);
      if (fb_test_rand(&rng) % 3 == 0) texts[i] = mutate_text(texts[i], &lens[i], &rng);
    }
    char what[64];
    snprintf(what, sizeof what, "mutation round %d", iter);
    fast += compare_paths(texts, lens, what, &compact_fast);
    total += NSTATES;
    for (int i = 0; i < NSTATES; i++) free(texts[i]);
  }
  for (int i = 0; i < NSTATES; i++) free(base[i]);
  /* both ways were exercised: most answers parsed fast, some handed to jansson */
  assert_true(fast > total / 2);
  assert_true(fast < total);
  /* compact records take only canonical text in place: not the ASCII-only third (\u
   * escapes) nor most text mutations; about 44 % here */
  assert_true(compact_fast > total / 3);
  assert_true(compact_fast < total);
}

int main(void) {
  fb_json_use_xalloc();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_subjects_old_and_new_agree),
      cmocka_unit_test(test_mutated_answers_old_and_new_agree),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
