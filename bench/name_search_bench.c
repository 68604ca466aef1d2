/* The sqlite records database's search by name (records/sqlite_db.c), alone: what each
 * sqlite leg of a by-name search costs the hub's thread pool.
 *
 *   name_search_bench [ROUNDS] [DIR] [one|all]
 *       ROUNDS: default 300; DIR: the demo data is made there (or reused), else in a temp
 *       dir that is removed; one / all: only that workload (for a profile).
 *
 * The demo's four databases (the demo's seed), and two workloads: the name every load
 * benchmark searches ("Ahmad bin Ismail", bench/lib.sh search_body), and every person
 * of the demo's truth.json that two or more states hold, by the canonical name and by
 * each name in another script (native_queries): some 700 names, Latin and not. Each
 * round searches every name in every database. Prints µs per search of one database
 * (one leg), and a fingerprint of what was found (the ids of every answer, in order):
 * an optimisation must leave the fingerprint as it was.
 *
 *   env RECORDS=set: the records as the sqlite adapter hands them to the search engine
 *       (fb_sqlite_db_search_set: a compact set of the stored texts) instead of
 *       fb_sqlite_db_search's jansson array; NAMES=fts_kept|fts: the name candidates
 *       from FTS5 (fb_sqlite_names_mode) instead of the kept keys' trigram index. The
 *       fingerprint is the same in every mode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "demo/demo_data.h"
#include "records/sqlite_db.h"

#define DEMO_SEED 20261127u /* broker/cli/cmd_demo.c: the data `fedbroker demo` serves */

/* CPU time of this thread, not wall time: the machines these run on are shared. */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull; /* a separator, so "ab","c" != "a","bc" */
}

static int as_set; /* RECORDS=set */

/* Searches every subject in every database once; returns the searches run and adds
 * the ids found to *fp and their number to *found. */
static size_t run(fb_sqlite_db **dbs, json_t *const *subjects, size_t n, uint64_t *fp, size_t *found) {
  size_t done = 0;
  for (size_t s = 0; s < n; s++) {
    for (int d = 0; d < 4; d++) {
      char *err = NULL;
      fb_crecs *set = NULL;
      json_t *res = NULL;
      int rc = as_set ? fb_sqlite_db_search_set(dbs[d], subjects[s], 100, &set, &res, &err)
                      : ((res = fb_sqlite_db_search(dbs[d], subjects[s], 100, &err)) ? 0 : -1);
      if (rc != 0) {
        fprintf(stderr, "name_search_bench: %s\n", err);
        exit(1);
      }
      size_t i;
      json_t *r;
      json_array_foreach(res, i, r) *fp = fnv(*fp, json_string_value(json_object_get(r, "id")));
      for (i = 0; set && i < set->nrecs; i++) *fp = fnv(*fp, fb_crec_string(set, &set->recs[i], FB_CKEY_ID));
      *fp = fnv(*fp, "|");
      *found += set ? set->nrecs : json_array_size(res);
      json_decref(res);
      fb_crecs_free(set);
      done++;
    }
  }
  return done;
}

static json_t *name_subject(const char *name) { return json_pack("{s:s}", "name", name); }

int main(int argc, char **argv) {
  long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 300;
  if (rounds <= 0) rounds = 300;
  char tmpl[] = "/tmp/name_search_bench.XXXXXX";
  const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
  if (!dir) return 1;
  char *err = NULL;
  char path[4096];
  snprintf(path, sizeof path, "%s/truth.json", dir);
  if (access(path, R_OK) != 0 && fb_demo_data_generate(dir, DEMO_SEED, &err) != 0) {
    fprintf(stderr, "name_search_bench: %s\n", err);
    return 1;
  }
  const char *records = getenv("RECORDS"), *mode = getenv("NAMES");
  as_set = records && strcmp(records, "set") == 0;
  fb_sqlite_names_mode names = mode && strcmp(mode, "fts") == 0        ? FB_SQLITE_NAMES_FTS
                               : mode && strcmp(mode, "fts_kept") == 0 ? FB_SQLITE_NAMES_FTS_KEPT
                                                                       : FB_SQLITE_NAMES_AUTO;
  fb_sqlite_db *dbs[4];
  for (int d = 0; d < 4; d++) {
    snprintf(path, sizeof path, "%s/%s.db", dir, fb_demo_states[d]);
    if (fb_sqlite_db_open(path, &dbs[d], &err) != 0) {
      fprintf(stderr, "name_search_bench: %s\n", err);
      return 1;
    }
    fb_sqlite_db_set_names_mode(dbs[d], names);
  }
  snprintf(path, sizeof path, "%s/truth.json", dir);
  json_t *truth = json_load_file(path, 0, NULL);
  json_t *people = json_object_get(truth, "people");
  size_t cap = 1 + 4 * json_array_size(people), n = 0;
  json_t **all = calloc(cap, sizeof *all);
  all[n++] = name_subject("Ahmad bin Ismail");
  size_t i;
  json_t *p;
  json_array_foreach(people, i, p) {
    if (n < cap) all[n++] = name_subject(json_string_value(json_object_get(p, "name")));
    size_t j;
    json_t *q;
    json_array_foreach(json_object_get(p, "native_queries"), j, q) if (n < cap) all[n++] = name_subject(json_string_value(q));
  }

  /* The two workloads, alternating round by round (warm caches for both). */
  double t_one = 0, t_all = 0;
  size_t s_one = 0, s_all = 0, f_one = 0, f_all = 0;
  uint64_t fp_one = 0xcbf29ce484222325ull, fp_all = 0xcbf29ce484222325ull;
  long all_rounds = rounds / 20 > 0 ? rounds / 20 : 1; /* ~700 names: a twentieth of the rounds */
  const char *only = argc > 3 ? argv[3] : "";
  if (strcmp(only, "one") == 0) all_rounds = 0;
  for (long r = 0; r < rounds; r++) {
    if (strcmp(only, "all") == 0 && r >= all_rounds) break;
    uint64_t fp = 0xcbf29ce484222325ull;
    size_t f = 0;
    double t0 = now_s();
    s_one += run(dbs, all, 1, &fp, &f);
    t_one += now_s() - t0;
    if (r == 0) fp_one = fp, f_one = f;
    if (r < all_rounds) {
      fp = 0xcbf29ce484222325ull;
      f = 0;
      t0 = now_s();
      s_all += run(dbs, all, n, &fp, &f);
      t_all += now_s() - t0;
      if (r == 0) fp_all = fp, f_all = f;
    }
  }
  printf("name_search_bench: the demo's four databases (seed %u), %s, names %s, limit 100\n", DEMO_SEED,
         as_set ? "fb_sqlite_db_search_set" : "fb_sqlite_db_search", mode ? mode : "auto");
  printf("%-34s %9s %9s %9s  %s\n", "workload", "searches", "CPU µs", "records", "fingerprint");
  printf("%-34s %9zu %9.1f %9zu  %016llx\n", "\"Ahmad bin Ismail\"", s_one, t_one * 1e6 / (double)s_one, f_one,
         (unsigned long long)fp_one);
  char label[64];
  snprintf(label, sizeof label, "%zu names of truth.json", n);
  if (s_all)
    printf("%-34s %9zu %9.1f %9zu  %016llx\n", label, s_all, t_all * 1e6 / (double)s_all, f_all,
           (unsigned long long)fp_all);
  printf("(CPU µs: per search of one database, i.e. one sqlite leg; records: found in one round)\n");

  for (size_t k = 0; k < n; k++) json_decref(all[k]);
  free(all);
  json_decref(truth);
  for (int d = 0; d < 4; d++) fb_sqlite_db_close(dbs[d]);
  if (argc <= 2) {
    for (int d = 0; d < 4; d++) {
      snprintf(path, sizeof path, "%s/%s.db", dir, fb_demo_states[d]);
      unlink(path);
    }
    snprintf(path, sizeof path, "%s/truth.json", dir);
    unlink(path);
    rmdir(dir);
  }
  return 0;
}
