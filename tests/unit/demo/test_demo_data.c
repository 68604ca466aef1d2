/* Demo data: deterministic from the seed, and with real cross-state overlaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "demo/demo_data.h"
#include "records/sqlite_db.h"
#include "core/util.h"
#include "unit_common.h"

static char a_dir[] = "/tmp/fb_demo_a_XXXXXX", b_dir[] = "/tmp/fb_demo_b_XXXXXX",
            c_dir[] = "/tmp/fb_demo_c_XXXXXX";

static void cleanup(const char *dir) {
  assert_true(fb_test_rm_rf(dir));
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(a_dir) || !mkdtemp(b_dir) || !mkdtemp(c_dir)) return -1;
  char *err = NULL;
  double t0 = fb_now_ms();
  int rc = fb_demo_data_generate(a_dir, 42, &err);
  double ms = fb_now_ms() - t0;
  rc |= fb_demo_data_generate(b_dir, 42, &err);
  rc |= fb_demo_data_generate(c_dir, 43, &err);
  if (rc) fprintf(stderr, "%s\n", err);
  fprintf(stderr, "generated four databases in %.0f ms\n", ms);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  cleanup(a_dir);
  cleanup(b_dir);
  cleanup(c_dir);
  return 0;
}

static char *slurp(const char *dir, const char *st, size_t *len) {
  char p[160];
  snprintf(p, sizeof p, "%s/%s.db", dir, st);
  char *data = fb_read_file(p, 64u << 20, len);
  assert_non_null(data);
  return data;
}

static void test_same_seed_same_bytes(void **state) {
  (void)state;
  bool any_differs = false;
  for (int i = 0; i < 4; i++) {
    size_t la, lb, lc;
    char *a = slurp(a_dir, fb_demo_states[i], &la), *b = slurp(b_dir, fb_demo_states[i], &lb),
         *c = slurp(c_dir, fb_demo_states[i], &lc);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    if (la != lc || memcmp(a, c, la) != 0) any_differs = true;
    free(a);
    free(b);
    free(c);
  }
  assert_true(any_differs); /* another seed, other data */
}

static sqlite3_int64 scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  sqlite3_int64 v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void test_volumes_and_overlaps(void **state) {
  (void)state;
  char p[160];
  snprintf(p, sizeof p, "%s/MYS.db", a_dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  /* 3000 people of its own and shared, then its part of the cross-script people */
  assert_int_equal(scalar(db, "SELECT count(*) FROM records WHERE type = 'person' AND id <= 'MYS-P-003000'"), 3000);
  assert_true(scalar(db, "SELECT count(*) FROM records WHERE type = 'person' AND id > 'MYS-P-003000'") >= 50);
  assert_int_equal(scalar(db, "SELECT count(*) FROM records WHERE type = 'vessel'"), 200);
  assert_true(scalar(db, "SELECT count(*) FROM records WHERE json LIKE '%\"minor\"%'") > 50);
  assert_true(scalar(db, "SELECT count(*) FROM records WHERE json LIKE '%\"+60%'") > 500);
  /* passports and IMOs that MYS shares with each other state */
  for (int i = 0; i < 4; i++) {
    if (strcmp(fb_demo_states[i], "MYS") == 0) continue;
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH '%s/%s.db' AS o", a_dir, fb_demo_states[i]);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_int64 docs = scalar(db, "SELECT count(DISTINCT k.key) FROM keys k JOIN o.keys x ON x.kind = 1 "
                                    "AND x.key = k.key WHERE k.kind = 1");
    sqlite3_int64 imos = scalar(db, "SELECT count(DISTINCT k.key) FROM keys k JOIN o.keys x ON x.kind = 4 "
                                    "AND x.key = k.key WHERE k.kind = 4");
    assert_true(docs >= 50);
    assert_true(imos >= 10);
    assert_int_equal(sqlite3_exec(db, "DETACH o", NULL, NULL, NULL), SQLITE_OK);
  }
  sqlite3_close(db);
}

static void test_known_subjects_everywhere(void **state) {
  (void)state;
  for (int i = 0; i < 4; i++) {
    char p[160], *err = NULL;
    snprintf(p, sizeof p, "%s/%s.db", a_dir, fb_demo_states[i]);
    fb_sqlite_db *db;
    assert_int_equal(fb_sqlite_db_open(p, &db, &err), 0);
    static const char *const subjects[] = {"{\"name\":\"Ahmad bin Ismail\"}", "{\"document\":\"A12345678\"}",
                                           "{\"vessel\":\"KM Sinar Laut\"}"};
    for (size_t s = 0; s < 3; s++) {
      json_t *subject = json_loads(subjects[s], 0, NULL);
      json_t *res = fb_sqlite_db_search(db, subject, 10, &err);
      assert_non_null(res);
      if (json_array_size(res) == 0) fail_msg("%s: nothing for %s", fb_demo_states[i], subjects[s]);
      json_decref(res);
      json_decref(subject);
    }
    fb_sqlite_db_close(db);
  }
}

/* truth.json: every listed record exists; native_records are written in another
 * script; the same seed gives the same truth. */
static void test_truth_file(void **state) {
  (void)state;
  char p[200];
  snprintf(p, sizeof p, "%s/truth.json", a_dir);
  json_t *truth = json_load_file(p, 0, NULL);
  assert_non_null(truth);
  snprintf(p, sizeof p, "%s/truth.json", b_dir);
  json_t *again = json_load_file(p, 0, NULL);
  assert_true(json_equal(truth, again));
  json_decref(again);
  sqlite3 *dbs[4];
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s.db", a_dir, fb_demo_states[i]);
    assert_int_equal(sqlite3_open_v2(p, &dbs[i], SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  }
  size_t i, j, with_native = 0;
  json_t *person, *id;
  json_array_foreach(json_object_get(truth, "people"), i, person) {
    json_t *records = json_object_get(person, "records");
    assert_true(json_array_size(records) >= 2);
    json_array_foreach(records, j, id) {
      const char *s = json_string_value(id);
      int st = 0;
      while (st < 4 && strncmp(s, fb_demo_states[st], 3) != 0) st++;
      assert_true(st < 4);
      char sql[160];
      snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE id = '%s'", s);
      assert_int_equal(scalar(dbs[st], sql), 1);
    }
    json_array_foreach(json_object_get(person, "native_records"), j, id) {
      const char *s = json_string_value(id);
      int st = 0;
      while (st < 4 && strncmp(s, fb_demo_states[st], 3) != 0) st++;
      char sql[200];
      /* the name's first byte is not ASCII */
      snprintf(sql, sizeof sql,
               "SELECT count(*) FROM records WHERE id = '%s' AND unicode(json_extract(json, '$.name')) > 127", s);
      assert_int_equal(scalar(dbs[st], sql), 1);
      with_native++;
    }
  }
  assert_true(json_array_size(json_object_get(truth, "people")) > 500);
  assert_true(with_native >= 80);
  for (int k = 0; k < 4; k++) sqlite3_close(dbs[k]);
  json_decref(truth);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_seed_same_bytes),
      cmocka_unit_test(test_volumes_and_overlaps),
      cmocka_unit_test(test_known_subjects_everywhere),
      cmocka_unit_test(test_truth_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
