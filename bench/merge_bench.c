/* Merge and search cost on the demo data.
 *
 *   merge_bench [N]      N records per state fed to fb_merge (default 300)
 *
 * Generates the demo databases in a temporary directory, then measures:
 *   - fb_sqlite_db_search by name / document (queries per second, one thread);
 *   - fb_merge over the first N records of each of the four states (the per-query
 *     work of a broad search), and over every record (12,800) as a stress case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "demo/demo_data.h"
#include "records/sqlite_db.h"
#include "core/util.h"
#include "search/merge.h"

static json_t *load_state(const char *dir, const char *st, int limit) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.db", dir, st);
  sqlite3 *db;
  sqlite3_stmt *q;
  json_t *arr = json_array();
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return arr;
  sqlite3_prepare_v2(db, "SELECT json FROM records ORDER BY rid LIMIT ?1", -1, &q, NULL);
  sqlite3_bind_int(q, 1, limit);
  while (sqlite3_step(q) == SQLITE_ROW)
    json_array_append_new(arr, json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return arr;
}

static void bench_merge(const char *dir, int per_state, int rounds) {
  json_t *in = json_object();
  for (int i = 0; i < 4; i++) json_object_set_new(in, fb_demo_states[i], load_state(dir, fb_demo_states[i], per_state));
  size_t entities = 0, linked = 0;
  double t0 = fb_now_ms();
  for (int r = 0; r < rounds; r++) {
    json_t *out = fb_merge(in);
    entities = json_array_size(out);
    linked = 0;
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e) if (json_array_size(json_object_get(e, "records")) > 1) linked++;
    json_decref(out);
  }
  double ms = (fb_now_ms() - t0) / rounds;
  printf("merge %5d records: %8.2f ms/merge, %zu entities, %zu linked across records\n", per_state * 4, ms,
         entities, linked);
  json_decref(in);
}

static void bench_search(const char *dir) {
  char path[4096], *err = NULL;
  snprintf(path, sizeof path, "%s/MYS.db", dir);
  fb_sqlite_db *db;
  if (fb_sqlite_db_open(path, &db, &err) != 0) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  static const char *const subjects[] = {"{\"name\":\"Ahmad bin Ismail\"}", "{\"name\":\"Nur Aisyah Rahman\"}",
                                         "{\"document\":\"A12345678\"}", "{\"vessel\":\"KM Sinar Laut\"}"};
  for (size_t s = 0; s < 4; s++) {
    json_t *subject = json_loads(subjects[s], 0, NULL);
    int n = 300;
    size_t hits = 0;
    double t0 = fb_now_ms();
    for (int i = 0; i < n; i++) {
      json_t *res = fb_sqlite_db_search(db, subject, 100, &err);
      hits = json_array_size(res);
      json_decref(res);
    }
    double ms = fb_now_ms() - t0;
    printf("search %-32s %8.3f ms/query (%zu hits)\n", subjects[s], ms / n, hits);
    json_decref(subject);
  }
  fb_sqlite_db_close(db);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 300;
  if (n <= 0) n = 300;
  char dir[] = "/tmp/fb_merge_bench_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char *err = NULL;
  double t0 = fb_now_ms();
  if (fb_demo_data_generate(dir, 1, &err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  printf("demo data: %.0f ms for four states\n", fb_now_ms() - t0);
  bench_search(dir);
  bench_merge(dir, n, 20);
  bench_merge(dir, 3200, 1);
  for (int i = 0; i < 4; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.db", dir, fb_demo_states[i]);
    unlink(p);
  }
  char truth[160];
  snprintf(truth, sizeof truth, "%s/truth.json", dir);
  unlink(truth);
  rmdir(dir);
  return 0;
}
