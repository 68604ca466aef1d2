/* A search by name finds its trigram candidates three ways (records/sqlite_db.h,
 * fb_sqlite_names_mode): in the kept keys' trigram index, by FTS5 rowids read against
 * the kept keys, by FTS5 with the keys from its content table (a database over the
 * kept-key limit). On the demo's four databases, for every person of truth.json by
 * name and by each name in another script, and for variants of those names (a letter
 * dropped, words swapped, a capital, a digit, a word in a script not transliterated),
 * the three give the same ids in the same order. And a database over the limit (the
 * demo's BGD with 16,000 more name rows) answers as the demo's does, and finds a name
 * held only past the limit. */
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

#include "core/util.h"
#include "demo/demo_data.h"
#include "records/sqlite_db.h"
#include "unit_common.h"

static char dir[] = "/tmp/fb_sqlite_names_test_XXXXXX";
static char **names;
static size_t nnames;

static void add_name(size_t *cap, const char *name) {
  if (nnames == *cap) names = fb_xrealloc(names, (*cap = *cap ? *cap * 2 : 256) * sizeof *names);
  names[nnames++] = fb_xstrdup(name);
}

/* Variants the index must answer like FTS5, or refuse. */
static void add_variants(size_t *cap, const char *name, size_t k) {
  size_t n = strlen(name);
  char v[512];
  if (n < 8 || n >= sizeof v - 16) return;
  switch (k % 5) {
  case 0: /* a letter dropped */
    memcpy(v, name, n / 2);
    memcpy(v + n / 2, name + n / 2 + 1, n - n / 2);
    break;
  case 1: { /* the first word last */
    const char *sp = strchr(name, ' ');
    if (!sp) return;
    snprintf(v, sizeof v, "%s %.*s", sp + 1, (int)(sp - name), name);
    break;
  }
  case 2: /* shouted */
    for (size_t i = 0; i <= n; i++) v[i] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 32) : name[i];
    break;
  case 3: /* a digit in a word */
    memcpy(v, name, n + 1);
    v[3] = '7';
    break;
  default: /* a word kept in its own script (Khmer digits) */
    snprintf(v, sizeof v, "%s \xe1\x9f\xa0\xe1\x9f\xa1\xe1\x9f\xa2", name);
    break;
  }
  add_name(cap, v);
}

static int setup(void **state) {
  (void)state;
  if (!fb_test_demo_data_dir(dir)) return -1;
  char path[256];
  snprintf(path, sizeof path, "%s/truth.json", dir);
  json_t *truth = json_load_file(path, 0, NULL);
  if (!truth) return -1;
  size_t cap = 0, i, j;
  json_t *p, *q;
  add_name(&cap, "Ahmad bin Ismail");
  json_array_foreach(json_object_get(truth, "people"), i, p) {
    const char *name = json_string_value(json_object_get(p, "name"));
    add_name(&cap, name);
    add_variants(&cap, name, i);
    json_array_foreach(json_object_get(p, "native_queries"), j, q) add_name(&cap, json_string_value(q));
  }
  json_decref(truth);
  return nnames > 700 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < nnames; i++) free(names[i]);
  free(names);
  return fb_test_rm_rf(dir) ? 0 : -1;
}

/* The ids a search by `name` answers, in order, appended to `out` with a separator. */
static void answer_ids(fb_sqlite_db *db, const char *name, fb_buf *out) {
  char *err = NULL;
  json_t *subject = json_pack("{s:s}", "name", name);
  json_t *res = fb_sqlite_db_search(db, subject, 0, &err);
  if (!res) fail_msg("search for %s failed: %s", name, err);
  size_t i;
  json_t *r;
  json_array_foreach(res, i, r) fb_buf_printf(out, "%s ", json_string_value(json_object_get(r, "id")));
  fb_buf_append(out, "|", 1);
  json_decref(res);
  json_decref(subject);
}

static char *all_answers(fb_sqlite_db *db, size_t *found) {
  fb_buf b = {0};
  fb_buf_append(&b, "", 0);
  for (size_t i = 0; i < nnames; i++) {
    size_t len = b.len;
    answer_ids(db, names[i], &b);
    *found += b.len - len > 1;
  }
  return fb_buf_steal(&b);
}

static void test_three_ways_alike(void **state) {
  (void)state;
  for (int d = 0; d < 4; d++) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.db", dir, fb_demo_states[d]);
    fb_sqlite_db *db;
    char *err = NULL;
    assert_int_equal(fb_sqlite_db_open(path, &db, &err), 0);
    size_t found[3] = {0};
    char *in_memory = all_answers(db, &found[0]);
    fb_sqlite_db_set_names_mode(db, FB_SQLITE_NAMES_FTS_KEPT);
    char *fts_kept = all_answers(db, &found[1]);
    fb_sqlite_db_set_names_mode(db, FB_SQLITE_NAMES_FTS);
    char *fts = all_answers(db, &found[2]);
    assert_true(found[0] > nnames / 4); /* the names are found: the comparison means something */
    assert_string_equal(in_memory, fts_kept);
    assert_string_equal(in_memory, fts);
    free(in_memory);
    free(fts_kept);
    free(fts);
    fb_sqlite_db_close(db);
  }
}

static void exec_ok(sqlite3 *w, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(w, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
}

static void test_over_the_kept_key_limit(void **state) {
  (void)state;
  char small[256], big[256];
  snprintf(small, sizeof small, "%s/BGD.db", dir);
  snprintf(big, sizeof big, "%s/BIG.db", dir);
  assert_int_equal(fb_test_sh("cp '%s' '%s'", small, big), 0);
  sqlite3 *w;
  assert_int_equal(sqlite3_open_v2(big, &w, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  /* names of digits only: no trigram of a name in letters, so no candidate of theirs */
  exec_ok(w, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 16000)"
             " INSERT INTO name_fts(keys, rid) SELECT printf('%07d', x), (SELECT min(rid) FROM records) FROM c");
  sqlite3_close(w);
  fb_sqlite_db *s, *b;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open(small, &s, &err), 0);
  assert_int_equal(fb_sqlite_db_open(big, &b, &err), 0);
  size_t found_s = 0, found_b = 0;
  char *as = all_answers(s, &found_s), *ab = all_answers(b, &found_b);
  assert_string_equal(as, ab);
  free(as);
  free(ab);
  fb_buf one = {0};
  answer_ids(b, "0015999", &one); /* a row past the 16,384th */
  assert_string_equal(one.data, "BGD-P-000001 |");
  fb_buf_free(&one);
  fb_sqlite_db_close(s);
  fb_sqlite_db_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_three_ways_alike),
      cmocka_unit_test(test_over_the_kept_key_limit),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
