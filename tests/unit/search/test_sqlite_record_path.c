/* sqlite states both ways, byte for byte: a search's records as the jansson array
 * fb_sqlite_db_search gives (the sqlite adapter's old path), and as the compact set
 * fb_sqlite_db_search_set makes from the stored record texts (its path for the search
 * engine), each redacted by the demo policies, merged, and written as the search
 * answer, its NDJSON lines and its audit-precision text, as the engine does: every
 * byte the same. On the demo's databases (known subjects and names of truth.json: the
 * compact set must be taken every time) and on a copy of one whose stored texts were
 * edited (whitespace, \u escapes, reals, fields of the wrong type, texts that are not
 * JSON, values that are not objects): the set must be refused where a stored text is
 * not what the writer stores, and the answers still the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/crec.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "demo/demo_data.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "records/sqlite_db.h"
#include "search/answer.h"
#include "search/merge.h"
#include "tests/unit/search/demo_policies.h"
#include "unit_common.h"

#define NSTATES 4

static char dir[] = "/tmp/fb_sqlite_record_path_XXXXXX";
static fb_policy *common, *policies[NSTATES];
static const uint8_t KEY[] = "sqlite-record-path-test-key";
static const char *const roles[] = {"analyst"};
static char **names;
static size_t nnames;

static int setup(void **state) {
  (void)state;
  if (!fb_test_demo_data_dir(dir)) return -1;
  if (demo_policies_load(KEY, sizeof KEY - 1, &common, policies, NSTATES) != 0) return -1;
  char path[256];
  snprintf(path, sizeof path, "%s/truth.json", dir);
  json_t *truth = json_load_file(path, 0, NULL);
  size_t i, j;
  json_t *p, *q;
  size_t cap = 1 + 3 * json_array_size(json_object_get(truth, "people"));
  names = fb_xcalloc(cap, sizeof *names);
  json_array_foreach(json_object_get(truth, "people"), i, p) {
    if (i % 4) continue; /* a quarter of them: the policies and merge are the slow part */
    names[nnames++] = fb_xstrdup(json_string_value(json_object_get(p, "name")));
    json_array_foreach(json_object_get(p, "native_queries"), j, q) if (nnames < cap) names[nnames++] =
        fb_xstrdup(json_string_value(q));
  }
  json_decref(truth);
  return nnames > 100 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  fb_policy_unref(common);
  for (int i = 0; i < NSTATES; i++) fb_policy_unref(policies[i]);
  for (size_t i = 0; i < nnames; i++) free(names[i]);
  free(names);
  return fb_test_rm_rf(dir) ? 0 : -1;
}

typedef struct {
  fb_buf answer, ndjson, audit;
} path_out;

static void path_out_free(path_out *o) {
  fb_buf_free(&o->answer);
  fb_buf_free(&o->ndjson);
  fb_buf_free(&o->audit);
}

/* What the compact way took: sets, and legs that found records. */
typedef struct {
  size_t sets, found;
} taken;

/* One search of the four databases, redacted, merged and written as the engine does;
 * `compact`: through fb_sqlite_db_search_set, counted in *t. */
static void run(fb_sqlite_db *const dbs[NSTATES], json_t *subject, bool compact, path_out *out, taken *t) {
  fb_query q = {.purpose = "victim_protection", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "sqlite record path test", .from_state = "MYS", .agency = "PDRM",
                .roles = roles, .nroles = 1, .subject = subject, .query_id = "q-sqlite-path"};
  json_t *states = json_array();
  json_t *arrays[NSTATES] = {0};
  fb_crecs *crecs[NSTATES] = {0};
  fb_merge_source src[NSTATES];
  size_t nsrc = 0;
  for (int i = 0; i < NSTATES; i++) {
    char *err = NULL;
    if (compact) {
      assert_int_equal(fb_sqlite_db_search_set(dbs[i], subject, 50, &crecs[i], &arrays[i], &err), 0);
      assert_true((crecs[i] != NULL) != (arrays[i] != NULL));
      t->sets += crecs[i] != NULL;
      t->found += crecs[i] ? crecs[i]->nrecs > 0 : json_array_size(arrays[i]) > 0;
      if (crecs[i]) assert_true(crecs[i]->nrecs > 0); /* none found: an empty array */
    } else {
      arrays[i] = fb_sqlite_db_search(dbs[i], subject, 50, &err);
      assert_non_null(arrays[i]);
    }
    fb_plan *plan = fb_plan_new(common, policies[i], &q);
    size_t redacted = 0;
    int rc = crecs[i] ? fb_plan_apply_crecs(plan, crecs[i], &redacted) : fb_plan_apply(plan, arrays[i], &redacted);
    fb_plan_free(plan);
    size_t n = crecs[i] ? crecs[i]->nrecs : json_array_size(arrays[i]);
    json_array_append_new(states, json_pack("{s:s, s:s, s:I, s:I}", "state", fb_demo_states[i], "outcome",
                                            rc == 0 ? "shared" : "denied", "records", (json_int_t)n, "redacted",
                                            (json_int_t)redacted));
    if (rc == 0) src[nsrc++] = (fb_merge_source){.state = fb_demo_states[i], .set = crecs[i], .records = arrays[i]};
  }
  fb_merged *m = fb_merge_sources(src, nsrc);
  fb_search_answer a = {.query_id = "q-sqlite-path", .complete = true, .states = states, .results = m,
                        .audit_seq = 3, .audit_hash = "00"};
  assert_int_equal(fb_search_answer_write(&out->answer, &a, FB_JSONW_PRECISION), 0);
  assert_int_equal(fb_search_answer_write(&out->audit, &a, 0), 0);
  for (size_t e = 0; e < fb_merged_count(m); e++) assert_int_equal(fb_search_result_line(&out->ndjson, &a, e), 0);
  fb_merged_free(m);
  for (int i = 0; i < NSTATES; i++) {
    fb_crecs_free(crecs[i]);
    json_decref(arrays[i]);
  }
  json_decref(states);
}

static bool same_buf(const fb_buf *a, const fb_buf *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Both ways for `subject`; returns whether the answer had records. */
static bool compare(fb_sqlite_db *const dbs[NSTATES], json_t *subject, taken *t) {
  path_out a = {0}, b = {0};
  run(dbs, subject, false, &a, t);
  run(dbs, subject, true, &b, t);
  char *what = json_dumps(subject, JSON_COMPACT);
  if (!same_buf(&a.answer, &b.answer))
    fail_msg("%s: the answers differ\nold: %.3000s\nnew: %.3000s", what, a.answer.data, b.answer.data);
  if (!same_buf(&a.ndjson, &b.ndjson)) fail_msg("%s: the NDJSON lines differ", what);
  if (!same_buf(&a.audit, &b.audit)) fail_msg("%s: the audit-precision texts differ", what);
  free(what);
  bool found = a.ndjson.len > 0;
  path_out_free(&a);
  path_out_free(&b);
  return found;
}

static void open_all(fb_sqlite_db *dbs[NSTATES], const char *replace_code, const char *replace_path) {
  for (int i = 0; i < NSTATES; i++) {
    char p[256], *err = NULL;
    snprintf(p, sizeof p, "%s/%s.db", dir, fb_demo_states[i]);
    const char *path = replace_code && strcmp(fb_demo_states[i], replace_code) == 0 ? replace_path : p;
    assert_int_equal(fb_sqlite_db_open(path, &dbs[i], &err), 0);
  }
}

static const char *const subjects[] = {
    "{\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\"}",
    "{\"name\":\"Ahmad bin Ismail\"}",
    "{\"document\":\"A12345678\"}",
    "{\"name\":\"Siti Rahayu\",\"phone\":\"+60 12-345 6789\"}",
    "{\"vessel\":{\"name\":\"KM Sinar Laut\"}}",
    "{\"phone\":\"+60 12-345 6789\"}",
    "{\"name\":\"Nguyen Van Minh\"}",
    "{\"name\":\"Nobody Whatsoever\"}",
};

/* Every subject and name on the given databases; returns the answers with records. */
static size_t compare_all(fb_sqlite_db *const dbs[NSTATES], taken *t) {
  size_t found = 0;
  for (size_t s = 0; s < FB_ARRAY_LEN(subjects); s++) {
    json_t *subject = json_loads(subjects[s], 0, NULL);
    found += compare(dbs, subject, t);
    json_decref(subject);
  }
  for (size_t i = 0; i < nnames; i++) {
    json_t *subject = json_pack("{s:s}", "name", names[i]);
    found += compare(dbs, subject, t);
    json_decref(subject);
  }
  return found;
}

static void test_demo_states_both_ways(void **state) {
  (void)state;
  fb_sqlite_db *dbs[NSTATES];
  open_all(dbs, NULL, NULL);
  taken t = {0};
  size_t found = compare_all(dbs, &t);
  size_t searches = FB_ARRAY_LEN(subjects) + nnames;
  assert_true(found > searches / 2);
  assert_int_equal(t.sets, t.found); /* the writer's texts are taken as they are */
  for (int i = 0; i < NSTATES; i++) fb_sqlite_db_close(dbs[i]);
}

static void exec_ok(sqlite3 *w, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(w, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
}

static void test_edited_texts_both_ways(void **state) {
  (void)state;
  char src[256], path[256];
  snprintf(src, sizeof src, "%s/MYS.db", dir);
  snprintf(path, sizeof path, "%s/EDITED.db", dir);
  assert_int_equal(fb_test_sh("cp '%s' '%s'", src, path), 0);
  sqlite3 *w;
  assert_int_equal(sqlite3_open_v2(path, &w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  /* most records edited, one way each; the rest as the writer stored them */
  exec_ok(w, "UPDATE records SET json = CASE rid % 20"
             " WHEN 0 THEN replace(json, '\":', '\" : ')"                          /* whitespace */
             " WHEN 1 THEN replace(json, 'a', '\\u0061')"                          /* escapes */
             " WHEN 2 THEN '{\"hint\":2.5,\"weight\":1e3,' || substr(json, 2)"    /* reals */
             " WHEN 3 THEN '{\"hint\":2.5,' || substr(json, 2)"                    /* a real, as jsonw writes it */
             " WHEN 4 THEN replace(json, '\"name\":\"', '\"name\":7,\"x\":\"')"  /* fields of the wrong type */
             " WHEN 5 THEN replace(json, '\"dob\":\"', '\"dob\":1,\"y\":\"')"
             " WHEN 6 THEN replace(json, '\"documents\":[{', '\"documents\":[5,{')"
             " WHEN 7 THEN replace(json, '\"tags\":[\"', '\"tags\":[1,\"')"
             " WHEN 8 THEN replace(json, '\"id\":\"', '\"id\":2,\"z\":\"')"
             " WHEN 9 THEN substr(json, 1, length(json) - 1)"                    /* not JSON */
             " WHEN 10 THEN '[' || json || ']'"                                  /* not an object */
             " WHEN 11 THEN json || ',' || json"                                 /* two values */
             " WHEN 12 THEN replace(json, '\"name\":', '\"name\":1,\"name\":')"  /* a repeated key */
             " WHEN 13 THEN json || '],\"x\":[' || json"                      /* the answer's array closed */
             " ELSE json END");
  sqlite3_close(w);
  fb_sqlite_db *dbs[NSTATES];
  open_all(dbs, "MYS", path);
  taken t = {0};
  size_t found = compare_all(dbs, &t);
  size_t searches = FB_ARRAY_LEN(subjects) + nnames;
  assert_true(found > searches / 2);
  /* both ways were taken: sets where MYS's answer held no edited text, the jansson
   * array where it did */
  assert_true(t.sets < t.found);
  assert_true(t.sets > t.found / 2);
  for (int i = 0; i < NSTATES; i++) fb_sqlite_db_close(dbs[i]);
}

int main(void) {
  fb_json_use_xalloc();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demo_states_both_ways),
      cmocka_unit_test(test_edited_texts_both_ways),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
