/* A search without a name takes the file's read lock once (records/sqlite_db.c): one
 * statement when the subject has one exact key, one read transaction (read_begin)
 * when it has more. Either must end with the search, found or not, so that another
 * process can write the file right after it and the next search sees what was
 * written; and the one-statement search finds what the general one finds. */
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

#include "records/sqlite_db.h"
#include "unit_common.h"

static char dir[] = "/tmp/fb_sqlite_txn_XXXXXX";
static char path[128];

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  snprintf(path, sizeof path, "%s/T.db", dir);
  fb_sqlite_db *w;
  char *err = NULL;
  if (fb_sqlite_db_create(path, &w, &err) != 0) return -1;
  static const char *const records[] = {
      "{\"id\":\"T-P-1\",\"type\":\"person\",\"name\":\"Ahmad Ismail\",\"dob\":\"1985-03-12\","
      "\"documents\":[{\"kind\":\"passport\",\"number\":\"A12345678\",\"country\":\"MYS\"}],"
      "\"phones\":[\"+60123456789\"]}",
      "{\"id\":\"T-P-2\",\"type\":\"person\",\"name\":\"Siti Rahman\",\"phones\":[\"+60123456789\"]}",
      "{\"id\":\"T-V-1\",\"type\":\"vessel\",\"name\":\"KM Sinar Laut\","
      "\"vessel\":{\"name\":\"KM Sinar Laut\",\"imo\":\"9123453\",\"flag\":\"IDN\"}}",
  };
  for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
    json_t *r = json_loads(records[i], 0, NULL);
    if (!r || fb_sqlite_db_add(w, r, &err) != 0) return -1;
    json_decref(r);
  }
  int rc = fb_sqlite_db_commit(w, &err);
  fb_sqlite_db_close(w);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  return fb_test_rm_rf(dir) ? 0 : -1;
}

static json_t *search(fb_sqlite_db *db, json_t *subject, size_t limit) {
  char *err = NULL;
  json_t *res = fb_sqlite_db_search(db, subject, limit, &err);
  if (!res) fail_msg("search: %s", err);
  return res;
}

static size_t found(fb_sqlite_db *db, const char *field, const char *value) {
  json_t *subject = json_pack("{s:s}", field, value);
  json_t *res = search(db, subject, 0);
  size_t n = json_array_size(res);
  json_decref(res);
  json_decref(subject);
  return n;
}

/* `field` and an exact key of another kind that matches nothing. */
static json_t *with_another_key(const char *field, const char *value) {
  bool doc = strcmp(field, "document") == 0;
  return json_pack("{s:s, s:s}", field, value, doc ? "phone" : "document", doc ? "+1 555 0100" : "NOSUCHDOC1");
}

/* Two exact keys (the second matching nothing): the transaction's path. */
static size_t found_two(fb_sqlite_db *db, const char *field, const char *value) {
  json_t *subject = with_another_key(field, value);
  json_t *res = search(db, subject, 0);
  size_t n = json_array_size(res);
  json_decref(res);
  json_decref(subject);
  return n;
}

/* One key alone (one statement) gives what it gives beside a key matching nothing
 * (the lookups, then the records), limit included. */
static void same_both_ways(fb_sqlite_db *db, const char *field, const char *value, size_t limit) {
  json_t *one = json_pack("{s:s}", field, value);
  json_t *two = with_another_key(field, value);
  json_t *a = search(db, one, limit), *b = search(db, two, limit);
  assert_true(json_array_size(a) > 0);
  if (!json_equal(a, b)) fail_msg("%s %s: the two paths differ", field, value);
  json_decref(a);
  json_decref(b);
  json_decref(one);
  json_decref(two);
}

/* Another connection writes the file at once (no busy wait): it gets the exclusive
 * lock its commit needs only when no read lock is held. */
static void write_now(const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("writer: %s", msg);
  sqlite3_close(db);
}

static void test_searches_leave_no_lock_and_see_writes(void **state) {
  (void)state;
  fb_sqlite_db *db;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open(path, &db, &err), 0);
  assert_int_equal(found(db, "document", "A12345678"), 1);
  assert_int_equal(found(db, "phone", "+60 12-345 6789"), 2);
  assert_int_equal(found(db, "vessel", "9123453"), 1);
  assert_int_equal(found(db, "document", "Z99999999"), 0);
  assert_int_equal(found_two(db, "phone", "+60123456789"), 2);
  assert_int_equal(found_two(db, "vessel", "KM Sinar Laut"), 1);
  assert_int_equal(found_two(db, "phone", "+1 555 0100"), 0);
  same_both_ways(db, "phone", "+60123456789", 0);
  same_both_ways(db, "phone", "+60123456789", 1);
  same_both_ways(db, "vessel", "9123453", 0);
  same_both_ways(db, "vessel", "KM Sinar Laut", 0);
  same_both_ways(db, "document", "A12345678", 0);
  /* after each kind of search, found or not: the writer is not locked out ... */
  write_now("BEGIN IMMEDIATE; INSERT INTO keys(kind, key, rid) SELECT 1, 'Z99999999', rid FROM records "
            "WHERE id = 'T-P-2'; COMMIT;");
  /* ... and the next search reads the file as it is now */
  assert_int_equal(found(db, "document", "Z99999999"), 1);
  assert_int_equal(found_two(db, "phone", "+60123456789"), 2);
  write_now("BEGIN IMMEDIATE; INSERT INTO keys(kind, key, rid) SELECT 2, '60199999999', rid FROM records "
            "WHERE id = 'T-V-1'; COMMIT;");
  assert_int_equal(found_two(db, "phone", "+60199999999"), 1);
  assert_int_equal(found(db, "vessel", "9123453"), 1);
  write_now("BEGIN IMMEDIATE; DELETE FROM keys WHERE key = 'Z99999999'; COMMIT;");
  assert_int_equal(found(db, "document", "Z99999999"), 0);
  /* a search by name (in a transaction of its own) still finds, and leaves no lock */
  assert_int_equal(found(db, "name", "Ahmad Ismail"), 1);
  write_now("BEGIN IMMEDIATE; UPDATE meta SET value = '1' WHERE key = 'version'; COMMIT;");
  fb_sqlite_db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_searches_leave_no_lock_and_see_writes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
