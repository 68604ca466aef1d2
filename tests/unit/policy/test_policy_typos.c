/* Property test: a legal officer's one-token typo never widens sharing (POLICY.md
 * "Mistakes fail closed, loudly").
 *
 * Every demo policy in policies/ is edited at random, one token at a time, the way a
 * person slips: delete a quote, change a letter, drop a comma, swap two keys of one
 * table, or leave the quotes off a word (`from = BGD`, the typo that once loaded as
 * "any state"). Each edited file either fails to load with a message naming file and line,
 * or loads and provably admits no more than the original: on a fixed grid of requests
 * (purposes x priorities x legal bases x requesting states x roles x subject kinds x
 * case_ref) no decision moves up (deny -> hit_only -> allow), and where both allow,
 * the redacted sample records reveal nothing the original hid. Fixed seed. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/policy.h"
#include "policy/rules.h"
#include "unit_common.h"

#define PER_OPERATOR 8 /* edits per operator per file: 5 x 8 x 5 files = 200 (~11 s CPU under ASan) */

static const uint8_t KEY[] = "unit-test-redaction-key";
static const char *const STATES[] = {"BGD", "IDN", "MYS", "THA"};
#define NSTATES 4
static const char *const FILES[] = {"common", "BGD", "IDN", "MYS", "THA"};
#define NFILES 5

static uint64_t rng = 0x9e3779b97f4a7c15ull;
/* ---- the request grid and the sample records -------------------------------- */

static json_t *subjects[3];
static json_t *records;

static void fixtures(void) {
  subjects[0] = json_pack("{s:s}", "name", "Siti Aminah");
  subjects[1] = json_pack("{s:s}", "document", "A12345678");
  subjects[2] = json_pack("{s:s}", "vessel", "KM Harapan");
  /* Fewer records than the smallest `limit`, so that a cap never hides the difference. */
  records = json_pack(
      "[{s:s, s:s, s:[s], s:s, s:[s], s:s, s:s, s:[{s:s, s:s}], s:[s], s:s, s:s},"
      " {s:s, s:s, s:[s], s:s, s:s, s:s, s:[s], s:s},"
      " {s:s, s:s, s:[s, s], s:s, s:s, s:s, s:s},"
      " {s:s, s:s, s:[s], s:{s:s, s:s}, s:s}]",
      "id", "R-1", "type", "person", "tags", "victim", "name", "Rahima Begum", "aliases", "Rahima",
      "dob", "1990-01-02", "nationality", "BGD", "documents", "type", "passport", "number", "BD1234567",
      "phones", "+8801711111111", "address", "Cox's Bazar", "notes", "met at the border",
      "id", "R-2", "type", "person", "tags", "minor", "name", "Nur Ali", "dob", "2012-05-06",
      "nationality", "MMR", "phones", "+60123456789", "address", "Teknaf",
      "id", "R-3", "type", "person", "tags", "sensitive", "suspect", "name", "Abdul Karim",
      "nationality", "IDN", "address", "Kupang", "notes", "informant",
      "id", "R-4", "type", "vessel", "tags", "facilitator", "vessel", "name", "KM Harapan", "imo",
      "9123456", "notes", "seized");
}

/* "[REDACTED]" or a list of only that reveals nothing of the value. */
static bool hidden(json_t *v) {
  if (json_is_string(v)) return strcmp(json_string_value(v), "[REDACTED]") == 0;
  if (!json_is_array(v) || json_array_size(v) == 0) return false;
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) if (!hidden(e)) return false;
  return true;
}

/* True when `mut` (records after the mutant's rules) shows nothing `orig` did not. */
static bool reveals_no_more(json_t *orig, json_t *mut, char *why, size_t n) {
  size_t i;
  json_t *m;
  json_array_foreach(mut, i, m) {
    const char *id = json_string_value(json_object_get(m, "id"));
    json_t *o = NULL;
    size_t j;
    json_t *c;
    json_array_foreach(orig, j, c) if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0) o = c;
    if (!o) {
      snprintf(why, n, "record %s is shared, the original withheld it", id);
      return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
      if (strcmp(k, "redacted") == 0 || strcmp(k, "redacted_by") == 0 || hidden(v)) continue;
      json_t *ov = json_object_get(o, k);
      if (!ov || !json_equal(ov, v)) {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(why, n, "record %s shows %s = %s, the original %s it", id, k, s ? s : "?",
                 ov ? "changed" : "removed");
        free(s);
        return false;
      }
    }
  }
  return true;
}

static const char *const REQUESTERS[] = {"BGD", "IDN", "MYS", "THA", "SGP"};
static const char *const ROLES[] = {"analyst", "legal_officer"};

/* One grid point: the request for index `pt` (0 .. GRID_POINTS-1). */
#define GRID_POINTS (FB_PURPOSE_COUNT * FB_PRIORITY_COUNT * FB_LEGAL_BASIS_COUNT * 5 * 2 * 3 * 2)
static void grid_query(long pt, fb_query *q, const char **role) {
  long r = pt;
  int cr = (int)(r % 2); r /= 2;
  int su = (int)(r % 3); r /= 3;
  int ro = (int)(r % 2); r /= 2;
  int rq = (int)(r % 5); r /= 5;
  int lb = (int)(r % FB_LEGAL_BASIS_COUNT); r /= FB_LEGAL_BASIS_COUNT;
  int pr = (int)(r % FB_PRIORITY_COUNT); r /= FB_PRIORITY_COUNT;
  int pu = (int)r;
  *role = ROLES[ro];
  *q = (fb_query){.purpose = fb_purposes[pu], .priority = fb_priorities[pr], .legal_basis = fb_legal_bases[lb],
                  .justification = "Cross-border investigation of a smuggling network",
                  .case_ref = cr ? "CASE-2026-1" : NULL, .from_state = REQUESTERS[rq], .agency = "Police",
                  .roles = role, .nroles = 1, .subject = subjects[su], .query_id = "q-grid"};
}

/* What the original policies decide and share at every grid point, per state: computed
 * once, compared with every mutant. */
typedef struct {
  fb_effect effect[GRID_POINTS];
  json_t *records[GRID_POINTS]; /* the redacted sample where the effect is allow */
} baseline;

static void baseline_init(baseline *b, fb_policy *oc, fb_policy *os, const char *state) {
  for (long pt = 0; pt < GRID_POINTS; pt++) {
    fb_query q;
    const char *role;
    grid_query(pt, &q, &role);
    fb_decision d;
    fb_policy_decide_named(oc, os, state, &q, &d, NULL);
    b->effect[pt] = d.effect;
    b->records[pt] = NULL;
    if (d.effect == FB_EFFECT_ALLOW) {
      b->records[pt] = json_deep_copy(records);
      fb_plan *plan = fb_plan_new(oc, os, &q);
      fb_plan_apply(plan, b->records[pt], NULL);
      fb_plan_free(plan);
    }
    fb_decision_clear(&d);
  }
}

static void baseline_free(baseline *b) {
  for (long pt = 0; pt < GRID_POINTS; pt++) json_decref(b->records[pt]);
}

/* Compares the mutant (mc, ms) with the baseline for responding state `state` over
 * the whole grid. Returns the number of grid points compared, or -1 with `why`
 * describing the first point where the mutant admits more. */
static long compare(const baseline *b, fb_policy *mc, fb_policy *ms, const char *state, char *why, size_t n) {
  for (long pt = 0; pt < GRID_POINTS; pt++) {
    fb_query q;
    const char *role;
    grid_query(pt, &q, &role);
    fb_decision md;
    fb_policy_decide_named(mc, ms, state, &q, &md, NULL);
    bool wider = md.effect > b->effect[pt];
    if (wider)
      snprintf(why, n, "%s for %s/%s/%s from %s (%s, subject %s, case_ref %s): %s by \"%s\", originally %s",
               state, q.purpose, q.priority, q.legal_basis, q.from_state, role,
               json_object_iter_key(json_object_iter(q.subject)), q.case_ref ? "yes" : "no",
               fb_effect_name(md.effect), md.rule, fb_effect_name(b->effect[pt]));
    if (!wider && md.effect == FB_EFFECT_ALLOW) { /* the original allowed too */
      json_t *rm = json_deep_copy(records);
      fb_plan *mp = fb_plan_new(mc, ms, &q);
      fb_plan_apply(mp, rm, NULL);
      char rwhy[300];
      if (!reveals_no_more(b->records[pt], rm, rwhy, sizeof rwhy)) {
        wider = true;
        snprintf(why, n, "%s for %s/%s/%s from %s: %s", state, q.purpose, q.priority, q.legal_basis,
                 q.from_state, rwhy);
      }
      fb_plan_free(mp);
      json_decref(rm);
    }
    fb_decision_clear(&md);
    if (wider) return -1;
  }
  return GRID_POINTS;
}

/* ---- the edits -------------------------------------------------------------- */

enum { DELETE_QUOTE, CHANGE_LETTER, DROP_COMMA, SWAP_KEYS, UNQUOTE, NOPS };
static const char *const OP_NAMES[] = {"delete a quote", "change a letter", "drop a comma", "swap two keys",
                                       "unquote a word"};

static int line_of(const char *s, size_t pos) {
  int line = 1;
  for (size_t i = 0; i < pos; i++) line += s[i] == '\n';
  return line;
}

/* A random position whose byte satisfies `pred`, or -1. */
static long pick(const char *s, size_t len, int (*pred)(int)) {
  size_t count = 0;
  for (size_t i = 0; i < len; i++) count += pred((unsigned char)s[i]) != 0;
  if (!count) return -1;
  size_t k = fb_test_rand(&rng) % count;
  for (size_t i = 0; i < len; i++)
    if (pred((unsigned char)s[i]) && k-- == 0) return (long)i;
  return -1;
}
static int is_quote(int c) { return c == '"'; }
static int is_comma(int c) { return c == ','; }

/* Keys: an identifier followed by `=` (not `==`), with its table depth. */
typedef struct {
  size_t pos, len;
  int depth;
} key_at;

static size_t find_keys(const char *s, size_t len, key_at *out, size_t cap) {
  size_t n = 0;
  int depth = 0;
  bool in_str = false, in_comment = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (in_comment) {
      if (c == '\n') in_comment = false;
      continue;
    }
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '-' && i + 1 < len && s[i + 1] == '-') in_comment = true;
    else if (c == '"') in_str = true;
    else if (c == '{') depth++;
    else if (c == '}') depth--;
    else if ((isalpha((unsigned char)c) || c == '_') && (i == 0 || !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))) {
      size_t j = i;
      while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
      size_t k = j;
      while (k < len && (s[k] == ' ' || s[k] == '\t')) k++;
      if (k < len && s[k] == '=' && (k + 1 >= len || s[k + 1] != '=') && n < cap)
        out[n++] = (key_at){i, j - i, depth};
      i = j - 1;
    }
  }
  return n;
}

/* Applies one edit of kind `op` to a copy of src; NULL when the file offers none.
 * `what` describes it. */
static char *mutate(const char *src, size_t len, int op, size_t *outlen, char *what, size_t wn) {
  char *m = fb_xmalloc(len + 64);
  memcpy(m, src, len + 1);
  *outlen = len;
  long pos;
  switch (op) {
  case DELETE_QUOTE:
  case DROP_COMMA:
    pos = pick(m, len, op == DELETE_QUOTE ? is_quote : is_comma);
    if (pos < 0) break;
    snprintf(what, wn, "%s at line %d", OP_NAMES[op], line_of(m, (size_t)pos));
    memmove(m + pos, m + pos + 1, len - (size_t)pos);
    (*outlen)--;
    return m;
  case CHANGE_LETTER: {
    pos = pick(m, len, isalpha);
    if (pos < 0) break;
    char old = m[pos], c;
    do c = (char)((isupper((unsigned char)old) ? 'A' : 'a') + fb_test_rand(&rng) % 26);
    while (c == old);
    m[pos] = c;
    snprintf(what, wn, "%s at line %d: '%c' -> '%c'", OP_NAMES[op], line_of(m, (size_t)pos), old, c);
    return m;
  }
  case SWAP_KEYS: {
    key_at keys[512];
    size_t n = find_keys(m, len, keys, 512);
    for (int tries = 0; tries < 20 && n > 1; tries++) {
      size_t a = fb_test_rand(&rng) % n, b = a + 1;
      /* the next key of the same table: same depth, no closing brace in between */
      while (b < n && keys[b].depth > keys[a].depth) b++;
      if (b >= n || keys[b].depth != keys[a].depth || memchr(m + keys[a].pos, '}', keys[b].pos - keys[a].pos))
        continue;
      char ka[64], kb[64];
      snprintf(ka, sizeof ka, "%.*s", (int)keys[a].len, m + keys[a].pos);
      snprintf(kb, sizeof kb, "%.*s", (int)keys[b].len, m + keys[b].pos);
      if (strcmp(ka, kb) == 0) continue;
      fb_buf out = {0};
      fb_buf_append(&out, m, keys[a].pos);
      fb_buf_puts(&out, kb);
      fb_buf_append(&out, m + keys[a].pos + keys[a].len, keys[b].pos - keys[a].pos - keys[a].len);
      fb_buf_puts(&out, ka);
      fb_buf_append(&out, m + keys[b].pos + keys[b].len, len - keys[b].pos - keys[b].len);
      snprintf(what, wn, "%s at line %d: %s <-> %s", OP_NAMES[op], line_of(m, keys[a].pos), ka, kb);
      free(m);
      *outlen = out.len;
      return fb_buf_steal(&out);
    }
    break;
  }
  case UNQUOTE: {
    /* "word" -> word, for a quoted identifier-like word outside comments */
    key_at words[512];
    size_t n = 0;
    bool in_comment = false;
    for (size_t i = 0; i < len && n < 512; i++) {
      if (in_comment) {
        in_comment = m[i] != '\n';
        continue;
      }
      if (m[i] == '-' && i + 1 < len && m[i + 1] == '-') {
        in_comment = true;
        continue;
      }
      if (m[i] != '"') continue;
      size_t j = i + 1;
      while (j < len && (isalnum((unsigned char)m[j]) || m[j] == '_')) j++;
      if (j < len && m[j] == '"' && j > i + 1 && !isdigit((unsigned char)m[i + 1])) words[n++] = (key_at){i, j - i + 1, 0};
      else while (j < len && m[j] != '"' && m[j] != '\n') j++; /* skip a sentence */
      i = j;
    }
    if (!n) break;
    key_at w = words[fb_test_rand(&rng) % n];
    snprintf(what, wn, "%s at line %d: %.*s", OP_NAMES[op], line_of(m, w.pos), (int)w.len, m + w.pos);
    memmove(m + w.pos + w.len - 1, m + w.pos + w.len, len - w.pos - w.len + 1); /* closing quote */
    memmove(m + w.pos, m + w.pos + 1, len - w.pos);                          /* opening quote */
    *outlen = len - 2;
    return m;
  }
  default: break;
  }
  free(m);
  return NULL;
}

/* "policies/MYS.lua:12: message": the error names the file and a line. */
static bool names_file_and_line(const char *err, const char *path) {
  size_t pl = strlen(path);
  if (strncmp(err, path, pl) != 0 || err[pl] != ':' || !isdigit((unsigned char)err[pl + 1])) return false;
  const char *p = err + pl + 1;
  while (isdigit((unsigned char)*p)) p++;
  return p[0] == ':' && p[1] == ' ' && p[2];
}

static void test_typos_never_widen(void **state) {
  (void)state;
  fb_log_set_level(FB_LOG_ERROR + 1); /* when-errors of mutants are expected */
  fixtures();
  char *src[NFILES];
  size_t len[NFILES];
  char path[NFILES][64];
  fb_policy *orig[NFILES];
  for (int f = 0; f < NFILES; f++) {
    char file[4096];
    snprintf(file, sizeof file, "%s/policies/%s.lua", FB_SOURCE_DIR, FILES[f]);
    src[f] = fb_read_file(file, 1 << 20, &len[f]);
    assert_non_null(src[f]);
    snprintf(path[f], sizeof path[f], "policies/%s.lua", FILES[f]);
    char *err = NULL;
    orig[f] = fb_policy_compile_ex(FILES[f], path[f], src[f], len[f], KEY, sizeof KEY - 1, STATES, NSTATES,
                                   false, NULL, &err);
    if (!orig[f]) fail_msg("the demo policy %s does not load: %s", path[f], err);
  }
  static baseline base[NSTATES];
  for (int st = 0; st < NSTATES; st++) baseline_init(&base[st], orig[0], orig[1 + st], STATES[st]);
  int refused[NOPS] = {0}, loaded[NOPS] = {0};
  long points = 0;
  for (int f = 0; f < NFILES; f++) {
    for (int op = 0; op < NOPS; op++) {
      for (int i = 0; i < PER_OPERATOR; i++) {
        char what[200];
        size_t mlen;
        char *m = mutate(src[f], len[f], op, &mlen, what, sizeof what);
        if (!m) continue;
        char *err = NULL;
        fb_policy *mp = fb_policy_compile_ex(FILES[f], path[f], m, mlen, KEY, sizeof KEY - 1, STATES, NSTATES,
                                             false, NULL, &err);
        if (!mp) {
          if (!err || !names_file_and_line(err, path[f]))
            fail_msg("%s, %s: refused without naming file and line: %s", path[f], what, err ? err : "(none)");
          refused[op]++;
          free(err);
          free(m);
          continue;
        }
        loaded[op]++;
        /* common.lua applies to every state; a state's file only to itself. */
        for (int s = 0; s < NSTATES; s++) {
          bool is_common = f == 0;
          if (!is_common && strcmp(STATES[s], FILES[f]) != 0) continue;
          fb_policy *mc = is_common ? mp : orig[0], *ms = is_common ? orig[1 + s] : mp;
          char why[600];
          long n = compare(&base[s], mc, ms, STATES[s], why, sizeof why);
          if (n < 0) fail_msg("%s, %s loads and widens sharing: %s", path[f], what, why);
          points += n;
        }
        fb_policy_unref(mp);
        free(m);
      }
    }
  }
  int total_refused = 0, total_loaded = 0;
  for (int op = 0; op < NOPS; op++) {
    print_message("%-16s refused %3d, loaded and admit no more %3d\n", OP_NAMES[op], refused[op], loaded[op]);
    total_refused += refused[op];
    total_loaded += loaded[op];
    /* Every kind of edit was exercised, and most of them are refused. */
    assert_true(refused[op] + loaded[op] > 0);
  }
  print_message("%d edits refused, %d loaded; %ld grid decisions compared\n", total_refused, total_loaded, points);
  assert_true(total_refused > total_loaded);
  assert_true(points > 0);
  for (int st = 0; st < NSTATES; st++) baseline_free(&base[st]);
  for (int f = 0; f < NFILES; f++) {
    fb_policy_unref(orig[f]);
    free(src[f]);
  }
  for (int i = 0; i < 3; i++) json_decref(subjects[i]);
  json_decref(records);
}

/* The typos the issue found, one by one: each is refused with file, line and the
 * nearest word. */
static void expect_refused(const char *code, const char *src, const char *want) {
  char path[32], *err = NULL;
  snprintf(path, sizeof path, "%s.lua", code);
  fb_policy *p = fb_policy_compile_ex(code, path, src, strlen(src), KEY, sizeof KEY - 1, STATES, NSTATES, false,
                                      NULL, &err);
  if (p) fail_msg("loaded: %s", src);
  if (!strstr(err, want)) fail_msg("error '%s' lacks '%s'", err, want);
  free(err);
}

static void test_known_typos(void **state) {
  (void)state;
  expect_refused("IDN", "state \"IDN\" { name = \"Indonesia\" }\nallow \"x\" {\n  from = BGD,\n}\n",
                 "IDN.lua:3: BGD is not defined; did you mean \"BGD\"?");
  expect_refused("IDN", "deny \"x\" {\n  from = \"BGN\",\n}\n",
                 "IDN.lua:2: from 'BGN' is not a state this hub knows; did you mean \"BGD\"? "
                 "(expected one of: BGD, IDN, MYS, THA)");
  expect_refused("IDN", "allow \"x\" { from = \"Bgd\" }\n", "IDN.lua:1: from 'Bgd' is not a state code");
  expect_refused("IDN", "\nalow \"x\" {}\n",
                 "IDN.lua:2: unknown rule kind 'alow'; did you mean \"allow\"? (expected one of: allow, "
                 "hit_only, deny, redact, drop, limit, outbound_deny, outbound_require, state)");
  expect_refused("IDN", "allow \"x\" {\n  purpose = \"prosecution\"\n  legal_basis = \"mla_treaty\",\n}\n",
                 "IDN.lua:2: missing comma or closing brace at the end of this line (line 3 goes on with "
                 "'legal_basis')");
  expect_refused("IDN", "allow \"x\" { priority = \"urgnt\" }\n",
                 "IDN.lua:1: unknown priority 'urgnt'; did you mean \"urgent\"? (expected one of: routine, "
                 "urgent, immediate)");
  /* No suggestion close enough: the allowed values are still listed. */
  expect_refused("IDN", "allow \"x\" { legal_basis = \"zzz\" }\n",
                 "unknown legal_basis 'zzz' (expected one of: mla_treaty, bilateral_mou, interpol_channel, "
                 "domestic_law, consent, informal)");
  expect_refused("IDN", "allow \"x\" {\n  purpose \"prosecution\",\n}\n",
                 "IDN.lua:2: purpose is missing its =: write purpose = \"...\"");
  expect_refused("IDN", "allow \"x\" { purpose = prosecution }\n",
                 "IDN.lua:1: prosecution is not defined; did you mean \"prosecution\"?");
  expect_refused("IDN", "allow \"x\" { review = ture }\n",
                 "IDN.lua:1: ture is not defined; did you mean true (without quotes)?");
  expect_refused("IDN", "allow \"x\" { agency = Polri }\n",
                 "IDN.lua:1: Polri is not defined (write words in quotes, like \"Polri\")");
  expect_refused("IDN", "allow \"x\" { reason = \"unclosed }\n",
                 "IDN.lua:1: a text in quotes is not closed on this line");
  expect_refused("IDN", "allow \"x\" {\n  purpose = \"prosecution\",\n\n", "IDN.lua:1: the { opened on this line "
                 "is never closed");
  expect_refused("IDN", "redact \"x\" { records = { nationality = \"XYZ\" }, fields = \"name\", action = \"mask\" }\n",
                 "nationality 'XYZ' is not an ISO 3166-1 alpha-3 country code");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_typos),
      cmocka_unit_test(test_typos_never_widen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
