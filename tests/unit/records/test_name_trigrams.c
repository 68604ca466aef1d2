/* Name candidates in memory (records/name_trigrams.h) against FTS5 itself: for rows of
 * random text (Latin letters of both cases, digits, spaces, '^', punctuation, the two
 * code points FTS5 folds into ASCII, other UTF-8 and invalid UTF-8) in an FTS5 trigram
 * table like the records database's, and random name keys, the rows the index gives
 * are the rowids FTS5's MATCH gives for the query sqlite_db.c sends, in order, up to
 * the cap; a query the index refuses is one FTS5 must read itself. */
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
#include "match/names.h"
#include "records/name_trigrams.h"
#include "records/sqlite_db.h"
#include "unit_common.h"

enum { ROWS = 1500, QUERIES = 3000 };

/* Pieces rows are made of: mostly letters (so that trigrams are shared), then the rest. */
static const char *const pieces[] = {
    "a", "e", "i", "o", "u", "m", "d", "h", "s", "k", "r", "n", "t", "b", "l",
    "A", "M", "D", "K", "S", "0", "7", " ", "^", "-", "'",
    "\xe2\x84\xaa",             /* U+212A KELVIN SIGN: FTS5 folds it to k */
    "\xc5\xbf",                 /* U+017F LONG S: to s */
    "\xc3\xa9",                 /* é: no fold into ASCII */
    "\xe1\x9f\xa0",             /* a Khmer digit */
    "\x80",                     /* a lone continuation byte */
    "\xc1\x81",                 /* overlong 'A' */
    "\xe2\x84",                 /* a truncated sequence */
};
enum { NPIECES = sizeof pieces / sizeof pieces[0], LETTERS = 15 };

static void random_row(uint64_t *rng, char *out, size_t cap) {
  size_t len = 0, n = 2 + fb_test_rand(rng) % 14;
  for (size_t i = 0; i < n; i++) {
    uint64_t r = fb_test_rand(rng) % 100;
    const char *p = r < 80 ? pieces[fb_test_rand(rng) % LETTERS] : pieces[fb_test_rand(rng) % NPIECES];
    size_t pl = strlen(p);
    if (len + pl + 1 > cap) break;
    memcpy(out + len, p, pl);
    len += pl;
  }
  out[len] = '\0';
}

/* A query key: tokens of letters (a few with a capital, a digit, a byte of another
 * script or a '-', which the index must refuse or mirror). */
static void random_key(uint64_t *rng, fb_name_key *k) {
  memset(k, 0, sizeof *k);
  size_t used = 0;
  int n = 1 + (int)(fb_test_rand(rng) % 4);
  for (int t = 0; t < n; t++) {
    size_t len = 1 + fb_test_rand(rng) % 7;
    if (used + len + 2 > sizeof k->buf) break;
    if (t) k->buf[used++] = ' ';
    k->off[t] = (uint8_t)used;
    for (size_t i = 0; i < len; i++) {
      uint64_t r = fb_test_rand(rng) % 100;
      k->buf[used + i] = r < 2 ? 'K' : r < 4 ? '5' : r < 5 ? '-' : r < 6 ? (char)0xe9 : pieces[fb_test_rand(rng) % 14][0];
    }
    k->len[t] = (uint8_t)len;
    used += len;
    k->n++;
  }
  k->buf[used] = '\0';
}

static void test_rows_as_fts5_matches_them(void **state) {
  (void)state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE VIRTUAL TABLE f USING fts5(keys, tokenize='trigram')", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_stmt *ins, *sel;
  assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO f(rowid, keys) VALUES(?1, ?2)", -1, &ins, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT rowid FROM f WHERE f MATCH ?1 ORDER BY rowid LIMIT ?2", -1, &sel,
                                      NULL),
                   SQLITE_OK);
  uint64_t rng = 20261201;
  static char text[ROWS * 64];
  static uint32_t off[ROWS], len[ROWS];
  size_t used = 0;
  for (size_t i = 0; i < ROWS; i++) {
    random_row(&rng, text + used, 60);
    off[i] = (uint32_t)used;
    len[i] = (uint32_t)strlen(text + used);
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
    sqlite3_bind_text(ins, 2, text + used, (int)len[i], SQLITE_STATIC);
    assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
    sqlite3_reset(ins);
    used += len[i] + 1;
  }
  fb_name_trigrams *ix = fb_name_trigrams_build(text, off, len, ROWS);
  assert_non_null(ix);
  size_t answered = 0, refused = 0, nonempty = 0, capped = 0;
  for (size_t qn = 0; qn < QUERIES; qn++) {
    fb_name_key k;
    random_key(&rng, &k);
    size_t cap = qn % 7 == 0 ? 5 : 4000;
    const uint32_t *rows;
    long got = fb_name_trigrams_match(ix, &k, cap, &rows);
    fb_buf q = {0};
    bool any = fb_sqlite_fts_query(&k, &q);
    if (got < 0) {
      /* refused: only a query FTS5 reads as more than [A-Za-z0-9] trigrams */
      bool odd = false;
      for (size_t i = 0; i < k.n; i++)
        for (size_t j = 0; j < k.len[i]; j++) {
          char c = k.buf[k.off[i] + j];
          odd = odd || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
        }
      assert_true(odd);
      refused++;
      fb_buf_free(&q);
      continue;
    }
    answered++;
    size_t n = 0;
    if (any) {
      sqlite3_bind_text(sel, 1, q.data, (int)q.len, SQLITE_STATIC);
      sqlite3_bind_int64(sel, 2, (sqlite3_int64)cap);
      int rc;
      while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        if (n >= (size_t)got) fail_msg("query %s: FTS5 finds more than %ld rows", q.data, got);
        assert_int_equal(sqlite3_column_int64(sel, 0), (sqlite3_int64)rows[n] + 1);
        n++;
      }
      assert_int_equal(rc, SQLITE_DONE);
      sqlite3_reset(sel);
    }
    if (n != (size_t)got) fail_msg("query %s: FTS5 finds %zu rows, the index %ld", q.data ? q.data : "", n, got);
    nonempty += n > 0;
    capped += n == cap;
    fb_buf_free(&q);
  }
  /* the comparison meant something: most queries answered, many finding rows, some
   * cut at the cap, and some refused */
  assert_true(answered > QUERIES / 2);
  assert_true(nonempty > QUERIES / 4);
  assert_true(capped > 50);
  assert_true(refused > 50);
  fb_name_trigrams_free(ix);
  sqlite3_finalize(ins);
  sqlite3_finalize(sel);
  sqlite3_close(db);
}

static void test_refuses_what_it_cannot_hold(void **state) {
  (void)state;
  static const char text[] = "a";
  uint32_t off = 0, len = 1;
  assert_null(fb_name_trigrams_build(text, &off, &len, 0));
  fb_name_trigrams *ix = fb_name_trigrams_build(text, &off, &len, 1);
  assert_non_null(ix);
  fb_name_key k;
  fb_name_key_make("Jo Li", &k); /* no token of three bytes: no term, no row */
  const uint32_t *rows;
  assert_int_equal(fb_name_trigrams_match(ix, &k, 10, &rows), 0);
  fb_name_trigrams_free(ix);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows_as_fts5_matches_them),
      cmocka_unit_test(test_refuses_what_it_cannot_hold),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
