/* The sqlite records database's search (records/sqlite_db.h): what it reads and how it
 * holds the file, on generated demo data. The outcomes of name matching are checked in
 * tests/unit/adapters/test_sqlite.c and the demo's known subjects in
 * tests/unit/demo/test_demo_data.c. */
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

#include "demo/demo_data.h"
#include "match/names.h"
#include "records/sqlite_db.h"
#include "unit_common.h"

static char dir[] = "/tmp/fb_sqlite_db_test_XXXXXX";
static char path_mys[128], path_bgd[128];

static int setup(void **state) {
  (void)state;
  if (!fb_test_demo_data_dir(dir)) return -1;
  snprintf(path_mys, sizeof path_mys, "%s/MYS.db", dir);
  snprintf(path_bgd, sizeof path_bgd, "%s/BGD.db", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return fb_test_rm_rf(dir) ? 0 : -1;
}

static size_t count_found(fb_sqlite_db *db, const char *subject_json, const char *id) {
  char *err = NULL;
  json_t *subject = json_loads(subject_json, 0, NULL);
  assert_non_null(subject);
  json_t *res = fb_sqlite_db_search(db, subject, 0, &err);
  if (!res) fail_msg("search failed: %s", err);
  size_t n = 0, i;
  json_t *r;
  json_array_foreach(res, i, r) n += strcmp(json_string_value(json_object_get(r, "id")), id) == 0;
  json_decref(res);
  json_decref(subject);
  return n;
}

/* Name candidates are read from FTS5's content table (name_fts_content: c0 the keys,
 * c1 the rid; sqlite.org/fts5.html, "shadow tables") joined to the index, not through
 * name_fts's columns: the two must agree on every row of a database the writer made. */
static void test_content_table_holds_the_columns(void **state) {
  (void)state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path_mys, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT count(*), sum(f.rid IS c.c1 AND f.keys IS c.c0) FROM name_fts f "
                                      "JOIN name_fts_content c ON c.id = f.rowid",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  sqlite3_int64 rows = sqlite3_column_int64(st, 0), same = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  assert_true(rows > 1000);
  assert_int_equal(same, rows);
}

/* A search reads in one transaction and ends it: afterwards another connection can take
 * the write lock at once, and the next search sees what it wrote. */
static void test_search_leaves_no_lock_and_sees_later_writes(void **state) {
  (void)state;
  fb_sqlite_db *db;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open(path_mys, &db, &err), 0);
  assert_int_equal(count_found(db, "{\"name\":\"Ahmad bin Ismail\"}", "MYS-P-000001"), 1);
  assert_int_equal(count_found(db, "{\"document\":\"Q55555555\"}", "MYS-P-000002"), 0);

  sqlite3 *w;
  assert_int_equal(sqlite3_open_v2(path_mys, &w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(w, 0); /* a lock still held by the reader fails at once */
  assert_int_equal(sqlite3_exec(w, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(w,
                                "INSERT INTO keys(kind, key, rid) SELECT 1, 'Q55555555', rid FROM records "
                                "WHERE id = 'MYS-P-000002'",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);

  assert_int_equal(count_found(db, "{\"document\":\"Q55555555\"}", "MYS-P-000002"), 1);
  assert_int_equal(count_found(db, "{\"name\":\"Ahmad bin Ismail\"}", "MYS-P-000001"), 1);
  /* and again after a search that found nothing searchable */
  assert_int_equal(count_found(db, "{\"dob\":\"1985\"}", "MYS-P-000001"), 0);
  assert_int_equal(sqlite3_exec(w, "BEGIN EXCLUSIVE; DELETE FROM keys WHERE key = 'Q55555555'; COMMIT", NULL, NULL,
                                NULL),
                   SQLITE_OK);
  assert_int_equal(count_found(db, "{\"document\":\"Q55555555\"}", "MYS-P-000002"), 0);
  sqlite3_close(w);
  fb_sqlite_db_close(db);
}

/* The ids a search answers, in order, as one string. */
static char *answer_ids(fb_sqlite_db *db, const char *name) {
  char *err = NULL;
  json_t *subject = json_pack("{s:s}", "name", name);
  json_t *res = fb_sqlite_db_search(db, subject, 0, &err);
  if (!res) fail_msg("search failed: %s", err);
  size_t cap = 16, len = 0, i;
  char *out = calloc(1, cap);
  json_t *r;
  json_array_foreach(res, i, r) {
    const char *id = json_string_value(json_object_get(r, "id"));
    size_t n = strlen(id);
    while (len + n + 2 > cap) out = realloc(out, cap *= 2);
    memcpy(out + len, id, n);
    len += n;
    out[len++] = ' ';
    out[len] = '\0';
  }
  json_decref(res);
  json_decref(subject);
  return out;
}

static void exec_ok(sqlite3 *w, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(w, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
}

/* A connection keeps the name index's keys in memory and reads them again when another
 * connection changes the file (PRAGMA data_version): a name added after the first
 * search is found, and found no more once removed. */
static void test_names_added_later_are_found(void **state) {
  (void)state;
  fb_sqlite_db *db;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open(path_bgd, &db, &err), 0);
  char *before = answer_ids(db, "Quentin Zybrowski");
  assert_string_equal(before, "");
  free(before);
  free(answer_ids(db, "Mohammad Islam")); /* the keys are in memory now */

  fb_name_key k;
  fb_name_key_make("Quentin Zybrowski", &k);
  sqlite3 *w;
  assert_int_equal(sqlite3_open_v2(path_bgd, &w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  char sql[512];
  snprintf(sql, sizeof sql,
           "INSERT INTO name_fts(keys, rid) SELECT '%s', rid FROM records WHERE id = 'BGD-P-000002'", k.buf);
  exec_ok(w, sql);
  char *after = answer_ids(db, "Quentin Zybrowski");
  assert_string_equal(after, "BGD-P-000002 ");
  free(after);
  snprintf(sql, sizeof sql, "DELETE FROM name_fts WHERE keys = '%s'", k.buf);
  exec_ok(w, sql);
  after = answer_ids(db, "Quentin Zybrowski");
  assert_string_equal(after, "");
  free(after);
  /* a key kept as bytes of another script (no transliteration for Khmer digits) */
  const char *khmer = "Quentin \xe1\x9e\x9f\xe1\x9f\xa0\xe1\x9f\xa1\xe1\x9f\xa2";
  fb_name_key_make(khmer, &k);
  assert_true((unsigned char)k.buf[k.off[1]] >= 0x80);
  snprintf(sql, sizeof sql,
           "INSERT INTO name_fts(keys, rid) SELECT '%s', rid FROM records WHERE id = 'BGD-P-000003'", k.buf);
  exec_ok(w, sql);
  after = answer_ids(db, khmer);
  assert_string_equal(after, "BGD-P-000003 ");
  free(after);
  snprintf(sql, sizeof sql, "DELETE FROM name_fts WHERE keys = '%s'", k.buf);
  exec_ok(w, sql);
  sqlite3_close(w);
  fb_sqlite_db_close(db);
}

/* Where the name index's rowids are not dense (rows deleted), the keys are read per
 * candidate from the content table instead: the same answers (names of one to four
 * words, common ones held by many records, one in Bengali script). A row moved to a
 * new rowid (deleted, inserted again) leaves a hole. */
static void test_answers_alike_without_the_kept_keys(void **state) {
  (void)state;
  static const char *const names[] = {"Ahmad bin Ismail", "Mohammad Islam", "Abdul Karim", "Nur Hossain", "Karim",
                                      "Mohammad Abdul Karim Hossain",
                                      "\xe0\xa6\x86\xe0\xa6\xb9\xe0\xa6\xae\xe0\xa6\xa6 "
                                      "\xe0\xa6\x87\xe0\xa6\xb8\xe0\xa6\xae\xe0\xa6\xbe\xe0\xa6\x87\xe0\xa6\xb2"};
  enum { N = sizeof names / sizeof names[0] };
  fb_sqlite_db *db;
  char *err = NULL, *kept[N];
  assert_int_equal(fb_sqlite_db_open(path_bgd, &db, &err), 0);
  size_t found = 0;
  for (size_t i = 0; i < N; i++) {
    kept[i] = answer_ids(db, names[i]);
    found += strlen(kept[i]) > 0;
  }
  assert_true(found >= 4);
  sqlite3 *w;
  assert_int_equal(sqlite3_open_v2(path_bgd, &w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  exec_ok(w, "INSERT INTO name_fts(keys, rid) SELECT keys, rid FROM name_fts WHERE rowid = 100;"
             "DELETE FROM name_fts WHERE rowid = 100");
  sqlite3_close(w);
  for (size_t i = 0; i < N; i++) {
    char *now = answer_ids(db, names[i]);
    assert_string_equal(now, kept[i]);
    free(now);
    free(kept[i]);
  }
  fb_sqlite_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_content_table_holds_the_columns),
      cmocka_unit_test(test_search_leaves_no_lock_and_sees_later_writes),
      cmocka_unit_test(test_names_added_later_are_found),
      cmocka_unit_test(test_answers_alike_without_the_kept_keys),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
