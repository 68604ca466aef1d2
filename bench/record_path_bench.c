/* The hub's record path on the realistic workload's node answers, stage by stage:
 * parse each node answer, judge it (schema), redact it (the demo policies), merge,
 * write the answer, free. Three paths, alternating in one process: jansson's as before
 * the "every core" issue (json_loadb, fb_merge's value, json_dump_callback); jansson
 * values by core/jsonr.h, redacted, merged by reference (fb_merge_sources) and written
 * by search/answer.h (the hub's path for the sqlite, postgres and broker adapters'
 * records); compact records (core/crec.h: no jansson value per record; the hub's path
 * for the http adapter's answers).
 *
 *   record_path_bench [ROUNDS]     (default 3000 searches per path; µs of the thread's CPU
 *                                   time per stage, steadier than the wall clock on a
 *                                   loaded machine)
 *   record_path_bench ROUNDS merge (the merge and the answer's write alone, ROUNDS times
 *                                   on the same redacted compact sets and jsonr values:
 *                                   µs per merge and per write, and a hash of the answer
 *                                   text, to compare two builds' output byte for byte)
 *   record_path_bench ROUNDS compact (the compact path alone, µs per stage: for a profile)
 *   record_path_bench 0 answers DIR (writes the three node answers to DIR/<state>.json,
 *                                   the input of crec_scan_bench)
 *
 * The answers are built as bench/realistic_bench.sh builds them: in each of IDN, THA
 * and BGD (MYS asks), the records holding document A12345678 plus the shortest person
 * records (three victims) up to ten, written as the node writes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <time.h>

#include <sqlite3.h>

#include "records/record.h"
#include "demo/demo_data.h"
#include "core/crec.h"
#include "core/jsonr.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "search/answer.h"
#include "search/merge.h"

#define NANSWER 3
static const char *const answering[NANSWER] = {"IDN", "THA", "BGD"};
static const uint8_t KEY[] = "record-path-bench-key";

static void add_rows(sqlite3 *db, const char *sql, json_t *out, size_t want) {
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) return;
  while (json_array_size(out) < want && sqlite3_step(q) == SQLITE_ROW) {
    json_t *r = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
    const char *id = json_string_value(json_object_get(r, "id"));
    bool seen = false;
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e) seen |= id && strcmp(json_string_value(json_object_get(e, "id")), id) == 0;
    if (r && !seen) json_array_append_new(out, r);
    else json_decref(r);
  }
  sqlite3_finalize(q);
}

/* One state's node answer text. */
static char *node_answer(const char *dir, const char *st) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.db", dir, st);
  sqlite3 *db;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return NULL;
  json_t *recs = json_array();
  add_rows(db, "SELECT json FROM records WHERE json LIKE '%A12345678%'", recs, 10);
  size_t held = json_array_size(recs);
  add_rows(db, "SELECT json FROM records WHERE type = 'person' AND json NOT LIKE '%\"sensitive\"%' AND json LIKE "
               "'%\"victim\"%' ORDER BY length(json), rid", recs, held + 3);
  add_rows(db, "SELECT json FROM records WHERE type = 'person' AND json NOT LIKE '%\"sensitive\"%' AND json NOT LIKE "
               "'%\"victim\"%' ORDER BY length(json), rid", recs, 10);
  sqlite3_close(db);
  json_t *body = json_pack("{s:o}", "records", recs);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  return text;
}

static fb_policy *compile_file(const char *code, const char *file) {
  char path[512];
  snprintf(path, sizeof path, "%s/policies/%s", FB_SOURCE_DIR, file);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char src[1 << 16];
  size_t n = fread(src, 1, sizeof src - 1, f);
  fclose(f);
  char *err = NULL;
  fb_policy *p = fb_policy_compile(code, path, src, n, KEY, sizeof KEY - 1, NULL, &err);
  if (!p) fprintf(stderr, "%s: %s\n", path, err ? err : "?");
  free(err);
  return p;
}

/* This thread's CPU time in ms: on a loaded machine, steadier than the wall clock
 * (time spent waiting for a core is not counted). */
static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

enum { S_PARSE, S_JUDGE, S_REDACT, S_MERGE, S_WRITE, S_FREE, S_COUNT };
static const char *const stage_names[S_COUNT] = {"parse", "judge", "redact", "merge", "write", "free"};

typedef struct {
  double ms[S_COUNT];
  size_t bytes, entities;
} totals;

static int dump_cb(const char *data, size_t len, void *b) {
  fb_buf_append(b, data, len);
  return 0;
}

/* The compact path: each answer's text is copied first (the hub takes over curl's
 * buffer instead; the copy is counted in the parse). */
static void one_compact(char *const texts[NANSWER], const size_t lens[NANSWER], fb_policy *common,
                        fb_policy *const pol[NANSWER], const fb_query *q, totals *t) {
  fb_crecs *sets[NANSWER];
  double t0 = cpu_ms();
  for (int i = 0; i < NANSWER; i++) {
    char *text = malloc(lens[i] + 1);
    memcpy(text, texts[i], lens[i] + 1);
    sets[i] = fb_crecs_load(text, lens[i], NULL);
  }
  double t1 = cpu_ms();
  for (int i = 0; i < NANSWER; i++)
    if (!sets[i] || fb_crecs_judge(sets[i], NULL) != 0) abort();
  double t2 = cpu_ms();
  fb_merge_source src[NANSWER];
  for (int i = 0; i < NANSWER; i++) {
    fb_plan *plan = fb_plan_new(common, pol[i], q);
    size_t red;
    if (fb_plan_apply_crecs(plan, sets[i], &red) != 0) abort();
    fb_plan_free(plan);
    src[i] = (fb_merge_source){.state = answering[i], .set = sets[i]};
  }
  double t3 = cpu_ms();
  fb_merged *m = fb_merge_sources(src, NANSWER);
  double t4 = cpu_ms();
  fb_buf b = {0};
  fb_buf_reserve(&b, 4096);
  json_t *states = json_array();
  fb_search_answer a = {.query_id = "q-bench", .complete = true, .states = states, .results = m, .audit_seq = 1,
                        .audit_hash = "00"};
  if (fb_search_answer_write(&b, &a, FB_JSONW_PRECISION) != 0) abort();
  json_decref(states);
  double t5 = cpu_ms();
  t->bytes = b.len;
  t->entities = fb_merged_count(m);
  fb_buf_free(&b);
  fb_merged_free(m);
  for (int i = 0; i < NANSWER; i++) fb_crecs_free(sets[i]);
  double t6 = cpu_ms();
  t->ms[S_PARSE] += t1 - t0;
  t->ms[S_JUDGE] += t2 - t1;
  t->ms[S_REDACT] += t3 - t2;
  t->ms[S_MERGE] += t4 - t3;
  t->ms[S_WRITE] += t5 - t4;
  t->ms[S_FREE] += t6 - t5;
}

static void one_search(bool fresh, char *const texts[NANSWER], const size_t lens[NANSWER], fb_policy *common,
                       fb_policy *const pol[NANSWER], const fb_query *q, totals *t) {
  json_t *bodies[NANSWER];
  double t0 = cpu_ms();
  for (int i = 0; i < NANSWER; i++)
    bodies[i] = fresh ? fb_jsonr_loadb(texts[i], lens[i], NULL) : json_loadb(texts[i], lens[i], 0, NULL);
  double t1 = cpu_ms();
  json_t *per_state = json_object();
  for (int i = 0; i < NANSWER; i++) {
    json_t *recs = json_object_get(bodies[i], "records");
    size_t k;
    json_t *r;
    json_array_foreach(recs, k, r) if (fb_record_validate(r, NULL) != 0) abort();
    json_object_set(per_state, answering[i], recs);
  }
  double t2 = cpu_ms();
  for (int i = 0; i < NANSWER; i++) {
    fb_plan *plan = fb_plan_new(common, pol[i], q);
    size_t red;
    if (fb_plan_apply(plan, json_object_get(per_state, answering[i]), &red) != 0) abort();
    fb_plan_free(plan);
  }
  double t3 = cpu_ms();
  fb_buf b = {0};
  fb_buf_reserve(&b, 4096);
  double t4, t5;
  if (fresh) { /* jsonr values: the merge refers to the records, the answer is written from them */
    fb_merge_source src[NANSWER];
    for (int i = 0; i < NANSWER; i++)
      src[i] = (fb_merge_source){.state = answering[i], .records = json_object_get(per_state, answering[i])};
    fb_merged *m = fb_merge_sources(src, NANSWER);
    t4 = cpu_ms();
    json_t *states = json_array();
    fb_search_answer a = {.query_id = "q-bench", .complete = true, .states = states, .results = m, .audit_seq = 1,
                          .audit_hash = "00"};
    if (fb_search_answer_write(&b, &a, FB_JSONW_PRECISION) != 0) abort();
    t5 = cpu_ms();
    t->entities = fb_merged_count(m);
    fb_merged_free(m);
    json_decref(states);
  } else { /* before the issue: the merged value built, then dumped by jansson */
    json_t *results = fb_merge(per_state);
    t4 = cpu_ms();
    json_t *resp = json_pack("{s:s, s:b, s:[], s:o, s:{s:I, s:s}}", "query_id", "q-bench", "complete", 1, "states",
                             "results", results, "audit", "seq", (json_int_t)1, "hash", "00");
    json_dump_callback(resp, dump_cb, &b, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    t5 = cpu_ms();
    t->entities = json_array_size(results);
    json_decref(resp);
  }
  t->bytes = b.len;
  fb_buf_free(&b);
  json_decref(per_state);
  for (int i = 0; i < NANSWER; i++) json_decref(bodies[i]);
  double t6 = cpu_ms();
  t->ms[S_PARSE] += t1 - t0;
  t->ms[S_JUDGE] += t2 - t1;
  t->ms[S_REDACT] += t3 - t2;
  t->ms[S_MERGE] += t4 - t3;
  t->ms[S_WRITE] += t5 - t4;
  t->ms[S_FREE] += t6 - t5;
}

/* FNV-1a of the answer text: two builds that print the same hash wrote the same bytes. */
static uint64_t text_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

/* The merge and the write alone, on inputs parsed, judged and redacted once: the
 * merge reads its sources and never changes them. */
static void merge_only(int rounds, char *const texts[NANSWER], const size_t lens[NANSWER], fb_policy *common,
                       fb_policy *const pol[NANSWER], const fb_query *q) {
  fb_crecs *sets[NANSWER];
  json_t *bodies[NANSWER];
  fb_merge_source csrc[NANSWER], jsrc[NANSWER];
  for (int i = 0; i < NANSWER; i++) {
    char *text = malloc(lens[i] + 1);
    memcpy(text, texts[i], lens[i] + 1);
    sets[i] = fb_crecs_load(text, lens[i], NULL);
    bodies[i] = fb_jsonr_loadb(texts[i], lens[i], NULL);
    json_t *recs = json_object_get(bodies[i], "records");
    if (!sets[i] || fb_crecs_judge(sets[i], NULL) != 0 || !recs) abort();
    fb_plan *plan = fb_plan_new(common, pol[i], q);
    size_t red;
    if (fb_plan_apply_crecs(plan, sets[i], &red) != 0 || fb_plan_apply(plan, recs, &red) != 0) abort();
    fb_plan_free(plan);
    csrc[i] = (fb_merge_source){.state = answering[i], .set = sets[i]};
    jsrc[i] = (fb_merge_source){.state = answering[i], .records = recs};
  }
  const fb_merge_source *paths[2] = {csrc, jsrc};
  static const char *const path_names[2] = {"compact", "jsonr"};
  double ms[2][2] = {{0}};
  uint64_t hash[2] = {0};
  double cpu[2][2] = {{0}};
  size_t bytes[2] = {0}, entities[2] = {0};
  fb_buf b = {0};
  for (int r = -200; r < rounds; r++) /* 200 rounds of warm-up */
    for (int p = 0; p < 2; p++) {
      b.len = 0;
      double c0 = cpu_ms();
      double t0 = fb_now_ms();
      fb_merged *m = fb_merge_sources(paths[p], NANSWER);
      double t1 = fb_now_ms();
      double c1 = cpu_ms();
      if (fb_merged_write(&b, m, FB_JSONW_PRECISION) != 0) abort();
      double t2 = fb_now_ms();
      double c2 = cpu_ms();
      entities[p] = fb_merged_count(m);
      fb_merged_free(m);
      if (r < 0) continue;
      ms[p][0] += t1 - t0;
      ms[p][1] += t2 - t1;
      cpu[p][0] += c1 - c0;
      cpu[p][1] += c2 - c1;
      if (r == 0) hash[p] = text_hash(b.data, b.len), bytes[p] = b.len;
    }
  for (int p = 0; p < 2; p++)
    printf("%-8s merge %6.2f us (cpu %6.2f)  write %6.2f us (cpu %6.2f)  %zu entities, %zu bytes, fnv %016llx\n",
           path_names[p], ms[p][0] * 1000.0 / rounds, cpu[p][0] * 1000.0 / rounds, ms[p][1] * 1000.0 / rounds,
           cpu[p][1] * 1000.0 / rounds, entities[p], bytes[p], (unsigned long long)hash[p]);
  fb_buf_free(&b);
  for (int i = 0; i < NANSWER; i++) {
    fb_crecs_free(sets[i]);
    json_decref(bodies[i]);
  }
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 3000;
  if (rounds < 1) rounds = 1;
  fb_json_use_xalloc();
  char dir[] = "/tmp/fb_record_path_bench_XXXXXX";
  char *err = NULL;
  if (!mkdtemp(dir) || fb_demo_data_generate(dir, 1, &err) != 0) {
    fprintf(stderr, "demo data: %s\n", err ? err : "mkdtemp failed");
    return 1;
  }
  char *texts[NANSWER];
  size_t lens[NANSWER];
  fb_policy *pol[NANSWER];
  fb_policy *common = compile_file("common", "common.lua");
  for (int i = 0; i < NANSWER; i++) {
    char file[16];
    snprintf(file, sizeof file, "%s.lua", answering[i]);
    texts[i] = node_answer(dir, answering[i]);
    lens[i] = texts[i] ? strlen(texts[i]) : 0;
    pol[i] = compile_file(answering[i], file);
    if (!texts[i] || !pol[i] || !common) return 1;
  }
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);

  json_t *subject = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "Ahmad bin Ismail", "dob", "1985-03-12", "document",
                              "A12345678", "nationality", "MYS", "phone", "+60123456789");
  static const char *const roles[] = {"analyst"};
  fb_query q = {.purpose = "prosecution", .priority = "urgent", .legal_basis = "mla_treaty",
                .justification = "Suspected facilitator in case MY-2026-0042", .case_ref = "MY-2026-0042",
                .from_state = "MYS", .agency = "PDRM", .roles = roles, .nroles = 1, .subject = subject,
                .query_id = "q-bench"};
  if (argc > 3 && strcmp(argv[2], "answers") == 0) { /* the node answers, for crec_scan_bench */
    for (int i = 0; i < NANSWER; i++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s.json", argv[3], answering[i]);
      FILE *f = fopen(path, "wb");
      if (!f || fwrite(texts[i], 1, lens[i], f) != lens[i] || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
      }
      printf("%s\n", path);
    }
    return 0;
  }
  if (argc > 2 && strcmp(argv[2], "merge") == 0) {
    merge_only(rounds, texts, lens, common, pol, &q);
    json_decref(subject);
    for (int i = 0; i < NANSWER; i++) {
      free(texts[i]);
      fb_policy_unref(pol[i]);
    }
    fb_policy_unref(common);
    return 0;
  }
  totals old = {0}, fresh = {0}, compact = {0};
  if (argc > 2 && strcmp(argv[2], "compact") == 0) { /* the compact path alone (for a profile) */
    for (int r = 0; r < rounds; r++) one_compact(texts, lens, common, pol, &q, &compact);
    printf("compact path, %d searches:", rounds);
    for (int s = 0; s < S_COUNT; s++) printf(" %s %.1f us", stage_names[s], compact.ms[s] * 1000.0 / rounds);
    printf("\n");
    json_decref(subject);
    for (int i = 0; i < NANSWER; i++) {
      free(texts[i]);
      fb_policy_unref(pol[i]);
    }
    fb_policy_unref(common);
    return 0;
  }
  for (int r = 0; r < 200; r++) { /* warm-up */
    totals w = {0};
    one_search(false, texts, lens, common, pol, &q, &w);
    one_search(true, texts, lens, common, pol, &q, &w);
    one_compact(texts, lens, common, pol, &q, &w);
  }
  for (int r = 0; r < rounds; r++) { /* alternating, so drift hits all three */
    one_search(false, texts, lens, common, pol, &q, &old);
    one_search(true, texts, lens, common, pol, &q, &fresh);
    one_compact(texts, lens, common, pol, &q, &compact);
  }
  printf("record path, %d searches per path: node answers %zu / %zu / %zu bytes, answer %zu bytes, %zu entities\n",
         rounds, lens[0], lens[1], lens[2], fresh.bytes, fresh.entities);
  if (old.bytes != fresh.bytes || old.bytes != compact.bytes)
    printf("WARNING: the paths wrote answers of different sizes (%zu, %zu, %zu)\n", old.bytes, fresh.bytes, compact.bytes);
  printf("%-8s %12s %12s %12s %9s %9s\n", "stage", "jansson us", "jsonr us", "compact us", "jans/cmp", "jsonr/cmp");
  double to = 0, tn = 0, tc = 0;
  for (int s = 0; s < S_COUNT; s++) {
    double a = old.ms[s] * 1000.0 / rounds, b = fresh.ms[s] * 1000.0 / rounds, c = compact.ms[s] * 1000.0 / rounds;
    to += a;
    tn += b;
    tc += c;
    printf("%-8s %12.1f %12.1f %12.1f %9.2f %9.2f\n", stage_names[s], a, b, c, c > 0 ? a / c : 0.0, c > 0 ? b / c : 0.0);
  }
  printf("%-8s %12.1f %12.1f %12.1f %9.2f %9.2f\n", "total", to, tn, tc, tc > 0 ? to / tc : 0.0, tc > 0 ? tn / tc : 0.0);
  json_decref(subject);
  for (int i = 0; i < NANSWER; i++) {
    free(texts[i]);
    fb_policy_unref(pol[i]);
  }
  fb_policy_unref(common);
  return 0;
}
