/* Candidates for the parse of node answers on the record path (the "every core" issue,
 * item 3: measure them before choosing), on the same answer texts, alternating in one
 * process:
 *   jansson      json_loadb, the DOM the hub used to build;
 *   jsonr        core/jsonr.c, the project's in-place scanner (builds the same jansson DOM);
 *   cJSON        cJSON_ParseWithLength (Debian libcjson-dev), its own DOM;
 *   simdjson     simdjson's On-Demand API (Debian libsimdjson-dev) behind the C ABI of
 *                bench/json_simdjson.cpp; the input padded once, as a receive buffer
 *                could be.
 * cJSON and simdjson are built in only when bench/bench.cmake found them.
 *
 * Each parser, per answer: parse, walk every value (On-Demand parses only what is read;
 * the DOM parsers' walk is cheap) and free. The walk's counts (values, string bytes,
 * records) must agree across parsers, or the run fails. Also timed for the DOM parsers:
 * parse and free without the walk. Figures are CPU ns per answer and per record.
 *
 *   json_parse_bench [ROUNDS] FILE...   (node answers {"records": [...]}; ROUNDS 20000)
 *   bench/json_bench.sh captures the realistic workload's answers and runs it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/jsonr.h"
#include "json_walk.h"
#ifdef FB_HAVE_CJSON
#include <cjson/cJSON.h>
#endif

#define MAX_FILES 16

typedef struct {
  char *text;
  size_t len, cap; /* cap: readable bytes, with the padding simdjson wants */
} answer;

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void walk_jansson(const json_t *v, fb_json_walk *w) {
  w->values++;
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      const char *k;
      size_t klen;
      json_t *x;
      void *tmp;
      json_object_keylen_foreach_safe((json_t *)(uintptr_t)v, tmp, k, klen, x) {
        w->string_bytes += klen;
        walk_jansson(x, w);
      }
      break;
    }
    case JSON_ARRAY: {
      size_t i;
      json_t *x;
      json_array_foreach(v, i, x) walk_jansson(x, w);
      break;
    }
    case JSON_STRING: w->string_bytes += json_string_length(v); break;
    default: break;
  }
}

static void walk_answer_jansson(const json_t *v, fb_json_walk *w) {
  walk_jansson(v, w);
  w->records += json_array_size(json_object_get(v, "records"));
}

#ifdef FB_HAVE_CJSON
static void walk_cjson(const cJSON *v, fb_json_walk *w) {
  w->values++;
  if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
    for (const cJSON *c = v->child; c; c = c->next) {
      if (cJSON_IsObject(v)) w->string_bytes += strlen(c->string);
      walk_cjson(c, w);
    }
  } else if (cJSON_IsString(v)) {
    w->string_bytes += strlen(v->valuestring);
  }
}
#endif

typedef enum { P_JANSSON, P_JSONR, P_CJSON, P_SIMDJSON, NPARSERS } parser_id;
static const char *const parser_name[NPARSERS] = {"jansson (json_loadb)", "jsonr (core/jsonr.c)",
                                                  "cJSON 1.7", "simdjson On-Demand"};

static bool available(parser_id p) {
#ifndef FB_HAVE_CJSON
  if (p == P_CJSON) return false;
#endif
#ifndef FB_HAVE_SIMDJSON
  if (p == P_SIMDJSON) return false;
#endif
  (void)p;
  return true;
}

/* One answer through parser p; with `walk` false, parse and free only (DOM parsers). */
static int run_one(parser_id p, const answer *a, bool walk, fb_json_walk *w) {
  switch (p) {
    case P_JANSSON:
    case P_JSONR: {
      json_t *v = p == P_JANSSON ? json_loadb(a->text, a->len, 0, NULL) : fb_jsonr_loadb(a->text, a->len, NULL);
      if (!v) return -1;
      if (walk) walk_answer_jansson(v, w);
      json_decref(v);
      return 0;
    }
    case P_CJSON: {
#ifdef FB_HAVE_CJSON
      cJSON *v = cJSON_ParseWithLength(a->text, a->len);
      if (!v) return -1;
      if (walk) {
        walk_cjson(v, w);
        w->records += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "records"));
      }
      cJSON_Delete(v);
      return 0;
#else
      return -1;
#endif
    }
    case P_SIMDJSON:
#ifdef FB_HAVE_SIMDJSON
      return walk ? fb_simdjson_walk(a->text, a->len, a->cap, w) : -1;
#else
      return -1;
#endif
    case NPARSERS: break;
  }
  return -1;
}

static int load(const char *path, answer *a, size_t padding) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n <= 0) {
    fclose(f);
    return -1;
  }
  a->len = (size_t)n;
  a->cap = a->len + padding;
  a->text = calloc(1, a->cap);
  size_t got = a->text ? fread(a->text, 1, a->len, f) : 0;
  fclose(f);
  return got == a->len ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: json_parse_bench ROUNDS FILE...\n");
    return 2;
  }
  long rounds = strtol(argv[1], NULL, 10);
  if (rounds <= 0) rounds = 20000;
  size_t padding = 64;
#ifdef FB_HAVE_SIMDJSON
  if (fb_simdjson_padding() > padding) padding = fb_simdjson_padding();
#endif
  answer ans[MAX_FILES];
  size_t nans = 0, bytes = 0;
  for (int i = 2; i < argc && nans < MAX_FILES; i++, nans++) {
    if (load(argv[i], &ans[nans], padding) != 0) {
      fprintf(stderr, "json_parse_bench: cannot read %s\n", argv[i]);
      return 1;
    }
    bytes += ans[nans].len;
  }

  /* The counts every parser must agree on. */
  fb_json_walk ref = {0};
  for (size_t i = 0; i < nans; i++)
    if (run_one(P_JANSSON, &ans[i], true, &ref) != 0) {
      fprintf(stderr, "json_parse_bench: %s is not valid JSON\n", argv[2 + i]);
      return 1;
    }
  for (int p = 0; p < NPARSERS; p++) {
    if (!available((parser_id)p)) continue;
    fb_json_walk w = {0};
    for (size_t i = 0; i < nans; i++) run_one((parser_id)p, &ans[i], true, &w);
    if (w.values != ref.values || w.string_bytes != ref.string_bytes || w.records != ref.records) {
      fprintf(stderr, "json_parse_bench: %s read %zu values, %zu string bytes, %zu records; jansson %zu, %zu, %zu\n",
              parser_name[p], w.values, w.string_bytes, w.records, ref.values, ref.string_bytes, ref.records);
      return 1;
    }
  }

  /* Rounds alternate the parsers (each round: every parser over every answer, walked,
   * then the DOM parsers unwalked), so that the machine's noise falls on all alike. */
  double walked[NPARSERS] = {0}, bare[NPARSERS] = {0};
  for (long r = 0; r < rounds; r++) {
    for (int p = 0; p < NPARSERS; p++) {
      if (!available((parser_id)p)) continue;
      fb_json_walk w = {0};
      double t0 = cpu_ns();
      for (size_t i = 0; i < nans; i++) run_one((parser_id)p, &ans[i], true, &w);
      walked[p] += cpu_ns() - t0;
      if (p == P_SIMDJSON) continue;
      t0 = cpu_ns();
      for (size_t i = 0; i < nans; i++) run_one((parser_id)p, &ans[i], false, &w);
      bare[p] += cpu_ns() - t0;
    }
  }

  double per = (double)rounds * (double)nans, recs_per_answer = (double)ref.records / (double)nans;
  printf("json_parse_bench: %zu node answers, %zu bytes, %zu records, %zu values; %ld rounds, CPU time\n", nans, bytes,
         ref.records, ref.values, rounds);
  printf("%-22s %12s %12s %10s %8s %14s\n", "parser", "ns/answer", "ns/record", "MB/s", "÷ jansson",
         "parse+free ns");
  for (int p = 0; p < NPARSERS; p++) {
    if (!available((parser_id)p)) {
      printf("%-22s %12s   (not built: package not found by bench/bench.cmake)\n", parser_name[p], "-");
      continue;
    }
    double ns = walked[p] / per;
    char b[32] = "-";
    if (p != P_SIMDJSON) snprintf(b, sizeof b, "%.0f", bare[p] / per);
    printf("%-22s %12.0f %12.0f %10.0f %8.2f %14s\n", parser_name[p], ns, ns / recs_per_answer,
           (double)bytes / (double)nans / ns * 1e3, ns / (walked[P_JANSSON] / per), b);
  }
#ifdef FB_HAVE_SIMDJSON
  printf("simdjson: On-Demand compiled for '%s' (bench/bench.cmake: -march=native)\n", fb_simdjson_kernel());
#endif
  printf("(ns/answer: parse, walk every value, free; ÷ jansson: the ratio of those, same run; parse+free: without "
         "the walk, DOM parsers only)\n");
  for (size_t i = 0; i < nans; i++) free(ans[i].text);
  return 0;
}
