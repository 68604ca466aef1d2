/* `fedbroker policy test DIR` and `policy check FILE`: policy tests written as
 *   case "name" { request = {...}, records = {...}, expect = {...}, expect_records = {...} }
 * run in their own sandbox (they are Lua too), each case decided against the policies
 * in DIR exactly as the hub would decide it. */
#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/error.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/draft.h"
#include "policy/rules.h"
#include "policy/tools.h"

/* In expect_records, `name = REMOVED` means the field must be absent. */
#define REMOVED_MARK "\x01removed"
#define DEFAULT_JUSTIFICATION "Justification supplied by the policy test runner."

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The codes of DIR/<STATE>.lua, sorted; NULL (and *n = 0) when DIR cannot be read. */
static char **dir_states(const char *dir, size_t *nout) {
  *nout = 0;
  DIR *d = opendir(dir);
  if (!d) return NULL;
  char **states = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *s = e->d_name;
    if (strlen(s) == 7 && strcmp(s + 3, ".lua") == 0 && isupper((unsigned char)s[0]) &&
        isupper((unsigned char)s[1]) && isupper((unsigned char)s[2])) {
      states = fb_xrealloc(states, (n + 1) * sizeof(char *));
      states[n++] = fb_xstrndup(s, 3);
    }
  }
  closedir(d);
  if (n) qsort(states, n, sizeof(char *), cmp_str);
  *nout = n;
  return states ? states : fb_xcalloc(1, sizeof(char *));
}

static void free_states(char **states, size_t n) {
  for (size_t i = 0; i < n; i++) free(states[i]);
  free(states);
}

fb_policy_store *fb_policy_store_open_dir(const char *dir, char **err) {
  size_t n;
  char **states = dir_states(dir, &n);
  if (!states) {
    fb_set_error(err, "%s: cannot open the policy directory", dir);
    return NULL;
  }
  fb_policy_store *st = fb_policy_store_open_ex(dir, (const char *const *)states, n, fb_policy_test_key,
                                                sizeof fb_policy_test_key, NULL, NULL, 0, true, err);
  free_states(states, n);
  return st;
}

/* ---- collecting cases ------------------------------------------------------ */

typedef struct {
  json_t *cases; /* [{"name","line","case"}] */
  fb_buf errs;
  const char *file;
} collect;

static int case_body(lua_State *L) {
  collect *c = lua_touserdata(L, lua_upvalueindex(1));
  const char *name = lua_tostring(L, lua_upvalueindex(2));
  int line = (int)lua_tointeger(L, lua_upvalueindex(3));
  json_t *t = lua_type(L, 1) == LUA_TTABLE ? fb_lua_to_json(L, 1, 0) : NULL;
  if (!json_is_object(t)) {
    fb_buf_printf(&c->errs, "%s:%d: case \"%s\" must be followed by a table of request, expect, ...\n",
                  c->file, line, name);
    json_decref(t);
    return 0;
  }
  json_array_append_new(c->cases, json_pack("{s:s, s:i, s:o}", "name", name, "line", line, "case", t));
  return 0;
}

static int case_head(lua_State *L) {
  lua_Debug ar;
  int line = lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) ? ar.currentline : 0;
  luaL_checktype(L, 1, LUA_TSTRING);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushinteger(L, line);
  lua_pushcclosure(L, case_body, 3);
  return 1;
}

/* ---- running one case ------------------------------------------------------ */

static const char *str_or(json_t *o, const char *k, const char *dflt) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

static void header(FILE *out, bool *printed, const char *file, json_t *c) {
  if (*printed) return;
  *printed = true;
  fprintf(out, "FAIL %s:%d: %s\n", file, (int)json_integer_value(json_object_get(c, "line")),
          json_string_value(json_object_get(c, "name")));
}

static char *dump(json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  return s ? s : fb_xstrdup("?");
}

static bool compare_records(FILE *out, bool *printed, const char *file, json_t *c,
                            const char *state, json_t *want, json_t *got) {
  bool ok = true;
  if (!json_is_array(want)) want = NULL;
  size_t nw = want ? json_array_size(want) : 0;
  if (nw != json_array_size(got)) {
    header(out, printed, file, c);
    char *g = dump(got);
    fprintf(out, "  %s: expected %zu record(s), got %zu: %s\n", state, nw, json_array_size(got), g);
    free(g);
    return false;
  }
  for (size_t i = 0; i < nw; i++) {
    json_t *w = json_array_get(want, i), *g = json_array_get(got, i);
    const char *k;
    json_t *wv;
    json_object_foreach(w, k, wv) {
      json_t *gv = json_object_get(g, k);
      bool removed = json_is_string(wv) && strcmp(json_string_value(wv), REMOVED_MARK) == 0;
      if (removed ? gv == NULL : (gv && json_equal(gv, wv))) continue;
      header(out, printed, file, c);
      char *ws = removed ? fb_xstrdup("absent") : dump(wv);
      char *gs = gv ? dump(gv) : fb_xstrdup("absent");
      fprintf(out, "  %s record %zu (%s): %s is %s, expected %s\n", state, i + 1,
              str_or(g, "id", "?"), k, gs, ws);
      free(ws);
      free(gs);
      ok = false;
    }
  }
  return ok;
}

static bool check_vocab(FILE *out, bool *printed, const char *file, json_t *c, json_t *req,
                        const char *key, vocab v, bool required) {
  json_t *val = json_object_get(req, key);
  if (!val && !required) return true;
  if (json_is_string(val) && fb_vocab_index(v, json_string_value(val)) >= 0) return true;
  header(out, printed, file, c);
  char *s = val ? dump(val) : fb_xstrdup("missing");
  char allowed[200];
  fprintf(out, "  request.%s %s is not a valid %s (expected one of: %s)\n", key, s, key,
          fb_list_text(fb_vocab[v], allowed, sizeof allowed));
  free(s);
  return false;
}

static bool run_case(const fb_policy_set *set, const char *file, json_t *c, FILE *out) {
  fb_policy *common = fb_policy_set_common(set);
  json_t *tc = json_object_get(c, "case");
  json_t *req = json_object_get(tc, "request");
  bool printed = false, ok = true;
  if (!json_is_object(req)) {
    header(out, &printed, file, c);
    fprintf(out, "  the case has no request = { ... }\n");
    return false;
  }
  static const char *const known[] = {"request", "records", "expect", "expect_records", NULL};
  const char *key;
  json_t *val;
  json_object_foreach(tc, key, val) {
    bool k = false;
    for (size_t i = 0; known[i]; i++) k |= strcmp(known[i], key) == 0;
    if (!k) {
      header(out, &printed, file, c);
      fprintf(out, "  unknown key '%s' in the case (expected request, records, expect, expect_records)\n", key);
      ok = false;
    }
  }
  ok &= check_vocab(out, &printed, file, c, req, "purpose", V_PURPOSE, true);
  ok &= check_vocab(out, &printed, file, c, req, "priority", V_PRIORITY, true);
  ok &= check_vocab(out, &printed, file, c, req, "legal_basis", V_LEGAL_BASIS, true);
  json_t *expect = json_object_get(tc, "expect"), *expect_rec = json_object_get(tc, "expect_records");
  if (!json_is_object(expect) && !json_is_object(expect_rec)) {
    header(out, &printed, file, c);
    fprintf(out, "  the case expects nothing: add expect = { MYS = \"allow\" }\n");
    ok = false;
  }
  if (!ok) return false;

  fb_query q = {0};
  fb_query_from_json(req, &q);
  if (!q.justification) q.justification = DEFAULT_JUSTIFICATION;
  json_t *requester = json_object_get(req, "requester");
  q.from_state = str_or(req, "from", str_or(requester, "state", NULL));
  q.agency = str_or(req, "agency", str_or(requester, "agency", NULL));
  const char *roles[16] = {"analyst"};
  q.roles = roles;
  q.nroles = 1;
  json_t *rl = json_object_get(req, "roles");
  if (json_is_string(json_object_get(req, "role"))) roles[0] = str_or(req, "role", "analyst");
  else if (json_is_array(rl)) {
    q.nroles = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rl, i, r) if (json_is_string(r) && q.nroles < 16) roles[q.nroles++] = json_string_value(r);
  }
  json_t *records = json_object_get(tc, "records");

  /* Every state named in expect or expect_records. */
  json_t *names = json_object();
  json_object_foreach(expect, key, val) json_object_set_new(names, key, json_true());
  json_object_foreach(expect_rec, key, val) json_object_set_new(names, key, json_true());
  json_object_foreach(names, key, val) {
    fb_policy *p = fb_policy_set_get(set, key);
    fb_decision d;
    json_t *trace = json_array();
    fb_policy_set_decide(set, &q, key, &d, trace);
    json_t *want = json_object_get(expect, key);
    if (want) {
      const char *weff = json_is_string(want) ? json_string_value(want) : str_or(want, "effect", NULL);
      const char *wrule = str_or(want, "rule", NULL), *wreason = str_or(want, "reason", NULL);
      const char *wby = str_or(want, "by", NULL);
      json_t *wreview = json_object_get(want, "review");
      bool good = (!weff || strcmp(weff, fb_effect_name(d.effect)) == 0) &&
                  (!wrule || strcmp(wrule, d.rule) == 0) && (!wreason || strcmp(wreason, d.reason) == 0) &&
                  (!wby || (d.by && strcmp(wby, d.by) == 0)) &&
                  (!json_is_boolean(wreview) || json_is_true(wreview) == d.review);
      if (weff && fb_list_index(fb_effects, weff) < 0) {
        header(out, &printed, file, c);
        char allowed[64];
        fprintf(out, "  %s: expect \"%s\" is not one of: %s\n", key, weff,
                fb_list_text(fb_effects, allowed, sizeof allowed));
        ok = false;
      } else if (!good) {
        header(out, &printed, file, c);
        json_t *last = json_array_get(trace, json_array_size(trace) - 1);
        fprintf(out, "  %s: expected %s%s%s%s%s, got %s by rule \"%s\"%s%s%s (%s)\n", key,
                weff ? weff : "", wrule ? " by rule " : "", wrule ? wrule : "",
                wby ? ", held back by " : "", wby ? wby : "",
                fb_effect_name(d.effect), d.rule, d.review ? " with review" : "",
                d.by ? ", held back by " : "", d.by ? d.by : "",
                d.error ? d.error : str_or(last, "why", d.reason));
        ok = false;
      }
    }
    json_t *wrec = json_object_get(expect_rec, key);
    if (wrec) {
      json_t *sample = json_object_get(records, key);
      json_t *got = json_is_array(sample) ? json_deep_copy(sample) : json_array();
      if (d.effect == FB_EFFECT_ALLOW) {
        fb_plan *plan = fb_plan_new(common, p, &q);
        fb_plan_apply(plan, got, NULL);
        fb_plan_free(plan);
      } else {
        json_array_clear(got); /* nothing is shared */
      }
      ok &= compare_records(out, &printed, file, c, key, wrec, got);
      json_decref(got);
    }
    json_decref(trace);
    fb_decision_clear(&d);
  }
  json_decref(names);
  return ok;
}

/* ---- results: the console, -v, JUnit and the draft API's failures ----------- */

typedef struct {
  FILE *out;                       /* may be NULL (the API) */
  const fb_policy_test_opts *opts;
  json_t *results;  /* [{"file","name","line","ok","text"}] for the JUnit report, or NULL */
  json_t *failures; /* [{"file","line","case","message"}] for /v1/policy/evaluate, or NULL */
  int passed, failed;
} report;

/* One result. `text` is what the case printed (its FAIL header and what differed);
 * `msg`, for a failure, what went wrong without the header (NULL: text's lines after
 * its first). `name` is the case, or for a file that could not run, what failed. */
static void record(report *r, const char *file, const char *name, int line, bool ok, const char *text,
                   const char *msg) {
  if (ok) r->passed++;
  else r->failed++;
  if (r->out) {
    if (!ok) fputs(text, r->out);
    else if (r->opts->verbose) fprintf(r->out, "PASS %s:%d: %s\n", file, line, name);
  }
  if (r->results)
    json_array_append_new(r->results, json_pack("{s:s, s:s, s:i, s:b, s:s}", "file", file, "name", name,
                                                 "line", line, "ok", ok, "text", text));
  if (r->failures && !ok) {
    const char *case_name = msg ? "" : name; /* a file that could not run names no case */
    size_t ml;
    if (msg) {
      ml = strlen(msg);
    } else { /* the first line repeats file, line and name; the message is what follows */
      const char *nl = strchr(text, '\n');
      msg = nl ? nl + 1 : text;
      while (*msg == ' ') msg++;
      ml = strlen(msg);
    }
    while (ml && msg[ml - 1] == '\n') ml--;
    json_array_append_new(r->failures, json_pack("{s:s, s:i, s:s, s:s%}", "file", file, "line", line, "case",
                                                 case_name, "message", msg, ml));
  }
}

/* Runs one test file against `set`, recording each case (or the file's own failure). */
static void run_file(const fb_policy_set *set, const char *file, report *rep) {
  size_t len;
  char *src = fb_read_file(file, 4u << 20, &len);
  if (!src) {
    char msg[4200];
    snprintf(msg, sizeof msg, "FAIL %s: cannot read\n", file);
    record(rep, file, "the test file can be read", 0, false, msg, "cannot read the test file");
    return;
  }
  collect c = {.cases = json_array(), .file = file};
  fb_sandbox *sb = fb_sandbox_new(64u << 20);
  lua_State *L = fb_sandbox_state(sb);
  lua_pushlightuserdata(L, &c);
  lua_pushcclosure(L, case_head, 1);
  lua_setglobal(L, "case");
  lua_pushliteral(L, REMOVED_MARK);
  lua_setglobal(L, "REMOVED");
  char chunk[4200];
  snprintf(chunk, sizeof chunk, "@%s", file);
  char *lerr = NULL;
  if (fb_sandbox_run(sb, src, len, chunk, FB_POLICY_LOAD_BUDGET, &lerr) != 0) {
    char *msg = fb_xmalloc(strlen(lerr) + 8);
    sprintf(msg, "FAIL %s\n", lerr);
    record(rep, file, "the test file loads", 0, false, msg, lerr);
    free(msg);
    free(lerr);
  } else if (c.errs.len) {
    char *msg = fb_xmalloc(c.errs.len + 8);
    sprintf(msg, "FAIL %s", c.errs.data);
    record(rep, file, "the test file loads", 0, false, msg, c.errs.data);
    free(msg);
  } else {
    size_t i;
    json_t *tc;
    json_array_foreach(c.cases, i, tc) {
      /* What a case prints is kept so that -v, JUnit and the API can say what differed. */
      char *text = NULL;
      size_t textlen = 0;
      FILE *mem = open_memstream(&text, &textlen);
      bool ok = run_case(set, file, tc, mem ? mem : rep->out ? rep->out : stderr);
      if (mem) fclose(mem);
      record(rep, file, json_string_value(json_object_get(tc, "name")),
             (int)json_integer_value(json_object_get(tc, "line")), ok, text ? text : "", NULL);
      free(text);
    }
  }
  fb_buf_free(&c.errs);
  json_decref(c.cases);
  fb_sandbox_free(sb);
  free(src);
}

void fb_policy_set_run_tests(const fb_policy_set *set, const char *const *files, size_t nfiles,
                             FILE *out, int *passed, int *failed, json_t *failures) {
  static const fb_policy_test_opts no_opts = {0};
  report rep = {.out = out, .opts = &no_opts, .failures = failures};
  for (size_t f = 0; f < nfiles; f++) run_file(set, files[f], &rep);
  *passed += rep.passed;
  *failed += rep.failed;
}
static void xml_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '&') fputs("&amp;", f);
    else if (ch == '<') fputs("&lt;", f);
    else if (ch == '>') fputs("&gt;", f);
    else if (ch == '"') fputs("&quot;", f);
    else if (ch < 0x20 && ch != '\n' && ch != '\t') fputc('?', f); /* not allowed in XML 1.0 */
    else fputc(ch, f);
  }
}

/* JUnit XML as CI systems read it: one <testsuite> per test file, one <testcase> per
 * case, a <failure> with what differed. */
static int write_junit(const char *path, json_t *results, int passed, int failed) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"fedbroker policy test\" "
             "tests=\"%d\" failures=\"%d\">\n", passed + failed, failed);
  size_t i = 0, n = json_array_size(results);
  while (i < n) {
    const char *file = json_string_value(json_object_get(json_array_get(results, i), "file"));
    size_t j = i;
    int fails = 0;
    for (; j < n && strcmp(file, json_string_value(json_object_get(json_array_get(results, j), "file"))) == 0; j++)
      fails += !json_is_true(json_object_get(json_array_get(results, j), "ok"));
    fputs("  <testsuite name=\"", f);
    xml_escape(f, file);
    fprintf(f, "\" tests=\"%zu\" failures=\"%d\">\n", j - i, fails);
    for (; i < j; i++) {
      json_t *r = json_array_get(results, i);
      fputs("    <testcase classname=\"", f);
      xml_escape(f, file);
      fputs("\" name=\"", f);
      xml_escape(f, json_string_value(json_object_get(r, "name")));
      fprintf(f, "\" file=\"");
      xml_escape(f, file);
      fprintf(f, "\" line=\"%d\"", (int)json_integer_value(json_object_get(r, "line")));
      if (json_is_true(json_object_get(r, "ok"))) {
        fputs("/>\n", f);
      } else {
        fputs(">\n      <failure message=\"the case failed\">", f);
        xml_escape(f, json_string_value(json_object_get(r, "text")));
        fputs("</failure>\n    </testcase>\n", f);
      }
    }
    fputs("  </testsuite>\n", f);
  }
  fputs("</testsuites>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

int fb_policy_run_tests(const char *dir, FILE *out, int *passed_out, int *failed_out) {
  return fb_policy_run_tests_ex(dir, out, NULL, passed_out, failed_out);
}

int fb_policy_run_tests_ex(const char *dir, FILE *out, const fb_policy_test_opts *opts,
                           int *passed_out, int *failed_out) {
  static const fb_policy_test_opts no_opts = {0};
  report rep = {.out = out, .opts = opts ? opts : &no_opts};
  if (rep.opts->junit) rep.results = json_array();
  char *err = NULL;
  fb_policy_store *store = fb_policy_store_open_dir(dir, &err);
  if (!store) {
    char *msg = fb_xmalloc(strlen(err) + 64);
    sprintf(msg, "FAIL the policies do not load:\n%s\n", err);
    record(&rep, dir, "the policies load", 0, false, msg, NULL);
    free(msg);
    free(err);
    goto done;
  }
  char pattern[4096];
  snprintf(pattern, sizeof pattern, "%s/tests/*_test.lua", dir);
  glob_t g;
  int grc = glob(pattern, 0, NULL, &g);
  if (grc != 0) {
    char msg[4200];
    snprintf(msg, sizeof msg, "FAIL no test files match %s\n", pattern);
    record(&rep, dir, "test files exist", 0, false, msg, NULL);
    fb_policy_store_free(store);
    goto done;
  }
  fb_policy_set *set = fb_policy_set_from_store(store);
  for (size_t f = 0; f < g.gl_pathc; f++) run_file(set, g.gl_pathv[f], &rep);
  fb_policy_set_free(set);
  globfree(&g);
  fb_policy_store_free(store);
done:
  fprintf(out, "%d passed, %d failed\n", rep.passed, rep.failed);
  int rc = rep.failed ? 1 : 0;
  if (rep.opts->junit && write_junit(rep.opts->junit, rep.results, rep.passed, rep.failed) != 0) {
    fprintf(stderr, "fedbroker: cannot write the JUnit report %s\n", rep.opts->junit);
    rc = 1;
  }
  json_decref(rep.results);
  if (passed_out) *passed_out = rep.passed;
  if (failed_out) *failed_out = rep.failed;
  return rc;
}

int fb_policy_check_file(const char *path, FILE *out) {
  json_t *warnings = json_array();
  char *err = NULL;
  /* Without a config the states a rule may name are those with a file next to this
   * one, and any ISO 3166-1 code. */
  char *dir = fb_xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  size_t n = 0;
  char **states = dir_states(slash ? dir : ".", &n);
  free(dir);
  fb_policy *p = fb_policy_load_file_ex(path, fb_policy_test_key, sizeof fb_policy_test_key,
                                        (const char *const *)states, n, true, warnings, &err);
  free_states(states, n);
  int problems = 0;
  if (!p) {
    fprintf(out, "%s\n", err);
    for (const char *s = err; *s; s++) problems += *s == '\n';
    problems++;
    free(err);
  }
  size_t i;
  json_t *w;
  json_array_foreach(warnings, i, w) {
    fprintf(out, "%s\n", json_string_value(w));
    /* A missing state declaration is advice; an unreachable rule is a problem. */
    if (strstr(json_string_value(w), "can never match")) problems++;
  }
  if (p) {
    if (problems == 0) fprintf(out, "%s: ok (%zu rules)\n", path, p->nrules);
    fb_policy_unref(p);
  }
  json_decref(warnings);
  return problems;
}
