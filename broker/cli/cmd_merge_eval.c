/* `fedbroker merge-eval`: measures the merge against the demo data's ground truth.
 *
 * Every person of DIR/truth.json (held by two or more states) is searched for by
 * name and date of birth through the same steps a search takes, in process: each
 * state's sqlite adapter, that state's policy decision and redaction plan (the
 * embedded demo policies unless --policies), then fb_merge. Reports
 *   - grouping: pairwise over the person records of each answer, a pair is
 *     predicted "same" when merged into one entity and truly "same" when truth.json
 *     lists both under one person -> precision, recall, F1;
 *   - search recall: the share of a person's records (in states that shared) that
 *     the answer holds, for Latin-script queries, for queries in another script
 *     (native_queries) and for records written in another script found by a Latin
 *     query; the last two are the cross-script recall.
 * See docs/merge.md ("Measured quality"). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "demo/demo_data.h"
#include "records/sqlite_db.h"
#include "cli/command.h"
#include "cli/options.h"
#include "core/util.h"
#include "policy/policy.h"
#include "search/merge.h"

typedef struct {
  const char *name;
  const unsigned char *data;
  size_t len;
} fb_embedded_file;
extern const fb_embedded_file fb_embedded_policies[];

#define NSTATES 4
#define ANSWER_LIMIT 50

static const char usage[] =
    "usage: fedbroker merge-eval --data DIR [--policies DIR] [--people N] [--check] [--explain]\n"
    "                            [--purpose P] [--legal-basis B] [--priority P] [--from XXX]\n"
    "                            [--case REF]\n"
    "  Searches every person of DIR/truth.json (fedbroker demo-data) by name and date of\n"
    "  birth through adapters, policies and merge, and prints the precision, recall and\n"
    "  F1 of entity grouping and the recall of cross-script search.\n"
    "  --data DIR        the demo databases and truth.json\n"
    "  --policies DIR    policy directory (default: the embedded demo policies)\n"
    "  --people N        evaluate N people spread evenly over truth.json (default: all)\n"
    "  --check           exit 1 unless precision >= 0.99, recall >= 0.95 and\n"
    "                    cross-script recall >= 0.90\n"
    "  --explain         print the two records of every false merge and missed pair\n"
    "  --purpose P, --legal-basis B, --priority P, --from XXX, --case REF\n"
    "                    the request as policies see it (default prosecution,\n"
    "                    mla_treaty, urgent, from IDN, case ID-2026-0042)\n";

typedef struct {
  double tp, fp, fn;
} pairs;

typedef struct {
  size_t found, total;
} recall;

typedef struct {
  fb_policy_store *store;
  fb_sqlite_db *db[NSTATES];
  bool shared[NSTATES]; /* the policy allowed this state's records */
  fb_plan *plan[NSTATES];
  json_t *who; /* record id -> person id */
  fb_query q;
  bool explain; /* print every false merge and missed pair */
} eval;

static double ratio(double a, double b) { return b > 0 ? a / b : 1.0; }

static int state_of(const char *id) {
  if (!id) return -1;
  for (int s = 0; s < NSTATES; s++)
    if (strncmp(id, fb_demo_states[s], 3) == 0) return s;
  return -1;
}

/* One search: per state, the adapter's answer redacted by that state's plan; then
 * the merge. Returns the merged results (new reference). */
static json_t *run_search(eval *ev, json_t *subject) {
  json_t *per_state = json_object();
  for (int s = 0; s < NSTATES; s++) {
    if (!ev->shared[s]) continue;
    char *err = NULL;
    json_t *records = fb_sqlite_db_search(ev->db[s], subject, ANSWER_LIMIT, &err);
    if (!records) {
      fprintf(stderr, "fedbroker: merge-eval: %s\n", err);
      free(err);
      continue;
    }
    fb_plan_apply(ev->plan[s], records, NULL);
    json_object_set_new(per_state, fb_demo_states[s], records);
  }
  json_t *results = fb_merge(per_state);
  json_decref(per_state);
  return results;
}

/* Whether the owning state masked or removed the record's name. */
static bool name_hidden(json_t *r) {
  const char *name = json_string_value(json_object_get(r, "name"));
  return !name || strcmp(name, "[REDACTED]") == 0;
}

/* Adds the answer's record pairs to *p (both names shown) or *hidden (a name the
 * policy masked: such records can link only by fingerprints). */
static void count_pairs(eval *ev, json_t *results, pairs *named, pairs *hidden) {
  size_t n = 0, cap = 64;
  const char **label = fb_xmalloc(cap * sizeof *label);
  size_t *entity = fb_xmalloc(cap * sizeof *entity);
  json_t **rec = fb_xmalloc(cap * sizeof *rec);
  size_t i, j;
  json_t *e, *r;
  json_array_foreach(results, i, e) {
    json_array_foreach(json_object_get(e, "records"), j, r) {
      const char *type = json_string_value(json_object_get(r, "type"));
      const char *id = json_string_value(json_object_get(r, "id"));
      if (!type || !id || strcmp(type, "person") != 0) continue;
      const char *pid = json_string_value(json_object_get(ev->who, id));
      if (n == cap) {
        cap *= 2;
        label = fb_xrealloc(label, cap * sizeof *label);
        entity = fb_xrealloc(entity, cap * sizeof *entity);
        rec = fb_xrealloc(rec, cap * sizeof *rec);
      }
      rec[n] = r;
      label[n] = pid ? pid : id; /* not in truth.json: a person of its own */
      entity[n++] = i;
    }
  }
  for (size_t a = 0; a < n; a++)
    for (size_t b = a + 1; b < n; b++) {
      bool same = strcmp(label[a], label[b]) == 0, merged = entity[a] == entity[b];
      pairs *p = name_hidden(rec[a]) || name_hidden(rec[b]) ? hidden : named;
      if (same && merged) p->tp++;
      else if (merged) p->fp++;
      else if (same) p->fn++;
      if (ev->explain && same != merged) {
        char *x = json_dumps(rec[a], JSON_COMPACT | JSON_SORT_KEYS), *y = json_dumps(rec[b], JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n  %s\n  %s\n", merged ? "false merge" : "missed", x, y);
        free(x);
        free(y);
      }
    }
  free(rec);
  free(label);
  free(entity);
}

/* Whether record `id` is in the answer. */
static bool answer_has(json_t *results, const char *id) {
  size_t i, j;
  json_t *e, *r;
  json_array_foreach(results, i, e) {
    json_array_foreach(json_object_get(e, "records"), j, r) {
      const char *rid = json_string_value(json_object_get(r, "id"));
      if (rid && strcmp(rid, id) == 0) return true;
    }
  }
  return false;
}

/* Counts the records of `ids` (those of states that shared) found in the answer. */
static void count_found(eval *ev, json_t *results, json_t *ids, recall *rc) {
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    int s = state_of(json_string_value(id));
    if (s < 0 || !ev->shared[s]) continue;
    rc->total++;
    if (answer_has(results, json_string_value(id))) rc->found++;
  }
}

static void print_pairs(const char *what, const pairs *p) {
  double pr = ratio(p->tp, p->tp + p->fp), re = ratio(p->tp, p->tp + p->fn);
  double f1 = pr + re > 0 ? 2 * pr * re / (pr + re) : 0.0;
  printf("| %-26s | %8.0f | %6.0f | %5.0f | %5.0f | %9.4f | %6.4f | %6.4f |\n", what, p->tp + p->fp + p->fn,
         p->tp, p->fp, p->fn, pr, re, f1);
}

static void print_recall(const char *what, const recall *r) {
  printf("| %-56s | %6zu | %6zu | %6.4f |\n", what, r->found, r->total, ratio((double)r->found, (double)r->total));
}

/* Writes the embedded demo policies into a fresh temporary directory. */
static char *write_embedded_policies(void) {
  char *dir = fb_xstrdup("/tmp/fb_merge_eval_XXXXXX");
  if (!mkdtemp(dir)) {
    free(dir);
    return NULL;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/tests", dir);
  mkdir(path, 0700);
  for (const fb_embedded_file *f = fb_embedded_policies; f->name; f++) {
    snprintf(path, sizeof path, "%s/%s", dir, f->name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(f->data, 1, f->len, fp) != f->len) {
      if (fp) fclose(fp);
      free(dir);
      return NULL;
    }
    fclose(fp);
  }
  return dir;
}

static void remove_embedded_policies(char *dir) {
  if (!dir) return;
  char path[4096];
  for (const fb_embedded_file *f = fb_embedded_policies; f->name; f++) {
    snprintf(path, sizeof path, "%s/%s", dir, f->name);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/tests", dir);
  rmdir(path);
  rmdir(dir);
  free(dir);
}

static int run(int argc, char **argv) {
  const char *data = NULL, *policies = NULL, *purpose = "prosecution", *basis = "mla_treaty",
             *priority = "urgent", *from = "IDN", *case_ref = "ID-2026-0042";
  long people_max = 0;
  bool check = false;
  eval ev = {0};
  enum { CHECK = 256, EXPLAIN, DATA, POLICIES, PURPOSE, BASIS, PRIORITY, FROM, CASE, PEOPLE };
  static const struct option opts[] = {
      {"check", no_argument, 0, CHECK},           {"explain", no_argument, 0, EXPLAIN},
      {"data", required_argument, 0, DATA},       {"policies", required_argument, 0, POLICIES},
      {"purpose", required_argument, 0, PURPOSE}, {"legal-basis", required_argument, 0, BASIS},
      {"priority", required_argument, 0, PRIORITY}, {"from", required_argument, 0, FROM},
      {"case", required_argument, 0, CASE},       {"people", required_argument, 0, PEOPLE},
      {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case CHECK: check = true; break;
    case EXPLAIN: ev.explain = true; break;
    case DATA: data = optarg; break;
    case POLICIES: policies = optarg; break;
    case PURPOSE: purpose = optarg; break;
    case BASIS: basis = optarg; break;
    case PRIORITY: priority = optarg; break;
    case FROM: from = optarg; break;
    case CASE: case_ref = optarg; break;
    case PEOPLE: {
      char *end;
      errno = 0;
      people_max = strtol(optarg, &end, 10);
      if (errno || !*optarg || *end || people_max <= 0)
        return fb_usage_error(usage, "merge-eval: --people must be a positive integer, not '%s'", optarg);
      break;
    }
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "merge-eval", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(usage, "merge-eval: unexpected argument '%s'", argv[optind]);
  if (!data) return fb_usage_error(usage, "merge-eval: --data DIR is required");
  int rc = 1;

  char path[4096], *tmp_policies = NULL, *err = NULL;
  snprintf(path, sizeof path, "%s/truth.json", data);
  json_error_t jerr;
  json_t *truth = json_load_file(path, 0, &jerr);
  json_t *people = json_object_get(truth, "people");
  if (!json_is_array(people)) {
    fprintf(stderr, "fedbroker: merge-eval: %s: %s\n", path, truth ? "no \"people\" array" : jerr.text);
    goto done;
  }
  ev.who = json_object();
  size_t i, j;
  json_t *person, *id;
  json_array_foreach(people, i, person) {
    json_array_foreach(json_object_get(person, "records"), j, id) {
      if (json_is_string(id)) json_object_set(ev.who, json_string_value(id), json_object_get(person, "person"));
    }
  }
  for (int s = 0; s < NSTATES; s++) {
    snprintf(path, sizeof path, "%s/%s.db", data, fb_demo_states[s]);
    if (fb_sqlite_db_open(path, &ev.db[s], &err) != 0) {
      fprintf(stderr, "fedbroker: merge-eval: %s\n", err);
      goto done;
    }
  }
  if (!policies && !(policies = tmp_policies = write_embedded_policies())) {
    fprintf(stderr, "fedbroker: merge-eval: cannot write the embedded policies to /tmp\n");
    goto done;
  }
  unsigned char key[32]; /* a key for this run: fingerprints only need to agree within it */
  if (RAND_bytes(key, sizeof key) != 1) goto done;
  ev.store = fb_policy_store_open(policies, fb_demo_states, NSTATES, key, sizeof key, &err);
  if (!ev.store) {
    fprintf(stderr, "fedbroker: merge-eval: %s\n", err);
    goto done;
  }
  static const char *const roles[] = {"analyst"};
  ev.q = (fb_query){.purpose = purpose, .priority = priority, .legal_basis = basis,
                    .justification = "merge-eval: measuring entity grouping against the demo ground truth",
                    .case_ref = case_ref, .from_state = from, .agency = "merge-eval", .roles = roles, .nroles = 1,
                    .query_id = "merge-eval"};
  fb_policy *common = fb_policy_store_common(ev.store);
  printf("merge-eval: %s, request %s / %s / %s from %s\n", data, purpose, basis, priority, from);
  for (int s = 0; s < NSTATES; s++) {
    fb_policy *sp = fb_policy_store_get(ev.store, fb_demo_states[s]);
    fb_decision d = {0};
    json_t *subject = json_object(); /* decisions here do not look at the subject */
    ev.q.subject = subject;
    fb_policy_decide_named(common, sp, fb_demo_states[s], &ev.q, &d, NULL);
    ev.shared[s] = d.effect == FB_EFFECT_ALLOW;
    printf("  %s: %s (%s)\n", fb_demo_states[s], fb_effect_name(d.effect), d.rule);
    if (ev.shared[s]) ev.plan[s] = fb_plan_new(common, sp, &ev.q);
    fb_decision_clear(&d);
    json_decref(subject);
    ev.q.subject = NULL;
    if (sp) fb_policy_unref(sp);
  }
  fb_policy_unref(common);

  pairs latin_pairs = {0}, native_pairs = {0}, all_pairs = {0}, hidden = {0}, every = {0};
  recall latin_found = {0}, native_found = {0}, script_records = {0};
  size_t total = json_array_size(people), stride = 1, evaluated = 0, native_searches = 0;
  if (people_max > 0 && (size_t)people_max < total) stride = (total + (size_t)people_max - 1) / (size_t)people_max;
  double t0 = fb_now_ms();
  for (i = 0; i < total; i += stride) {
    person = json_array_get(people, i);
    const char *name = json_string_value(json_object_get(person, "name"));
    const char *dob = json_string_value(json_object_get(person, "dob"));
    json_t *records = json_object_get(person, "records");
    if (!name || !dob || !json_is_array(records)) continue;
    evaluated++;
    json_t *subject = json_pack("{s:s, s:s}", "name", name, "dob", dob);
    json_t *results = run_search(&ev, subject);
    count_pairs(&ev, results, &latin_pairs, &hidden);
    count_found(&ev, results, records, &latin_found);
    count_found(&ev, results, json_object_get(person, "native_records"), &script_records);
    json_decref(results);
    json_decref(subject);
    json_t *q;
    json_array_foreach(json_object_get(person, "native_queries"), j, q) {
      if (!json_is_string(q)) continue;
      native_searches++;
      subject = json_pack("{s:O, s:s}", "name", q, "dob", dob);
      results = run_search(&ev, subject);
      count_pairs(&ev, results, &native_pairs, &hidden);
      count_found(&ev, results, records, &native_found);
      json_decref(results);
      json_decref(subject);
    }
  }
  double ms = fb_now_ms() - t0;
  all_pairs = (pairs){latin_pairs.tp + native_pairs.tp, latin_pairs.fp + native_pairs.fp,
                      latin_pairs.fn + native_pairs.fn};
  every = (pairs){all_pairs.tp + hidden.tp, all_pairs.fp + hidden.fp, all_pairs.fn + hidden.fn};
  recall cross = {native_found.found + script_records.found, native_found.total + script_records.total};

  printf("\n%zu of %zu people, %zu Latin-script and %zu other-script searches in %.0f ms\n\n", evaluated, total,
         evaluated, native_searches, ms);
  printf("| grouping (record pairs; the first three: both names shown) | pairs | same+merged | false merges | missed | precision | recall | F1 |\n");
  printf("|---|---|---|---|---|---|---|---|\n");
  print_pairs("Latin-script searches", &latin_pairs);
  print_pairs("other-script searches", &native_pairs);
  print_pairs("all searches", &all_pairs);
  print_pairs("a name masked by policy", &hidden);
  print_pairs("every pair", &every);
  printf("\n| search recall | found | of | recall |\n|---|---|---|---|\n");
  print_recall("Latin-script queries: the person's records", &latin_found);
  print_recall("other-script queries: the person's records", &native_found);
  print_recall("Latin-script queries: records written in another script", &script_records);
  print_recall("cross-script (the two above)", &cross);

  double precision = ratio(all_pairs.tp, all_pairs.tp + all_pairs.fp);
  double rec = ratio(all_pairs.tp, all_pairs.tp + all_pairs.fn);
  double xr = ratio((double)cross.found, (double)cross.total);
  rc = 0;
  if (check) {
    bool ok = precision >= 0.99 && rec >= 0.95 && xr >= 0.90;
    printf("\ncheck: precision %.4f (>= 0.99), recall %.4f (>= 0.95), cross-script recall %.4f (>= 0.90): %s\n",
           precision, rec, xr, ok ? "pass" : "FAIL");
    rc = ok ? 0 : 1;
  }
done:
  for (int s = 0; s < NSTATES; s++) {
    fb_plan_free(ev.plan[s]);
    fb_sqlite_db_close(ev.db[s]);
  }
  fb_policy_store_free(ev.store);
  remove_embedded_policies(tmp_policies);
  json_decref(ev.who);
  json_decref(truth);
  free(err);
  return rc;
}

FB_COMMAND(merge_eval_cmd, "merge-eval", "measure entity grouping against the demo data's ground truth", run)
