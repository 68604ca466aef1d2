/* Replay: decide requests under two policy sets and aggregate what changed. The
 * change table is an open-addressing hash of at most FB_REPLAY_CHANGES_MAX entries;
 * the audit log is read one line at a time with getline, so memory stays flat
 * whatever the size of the log. */
#include "policy/replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/outbound.h"

typedef struct {
  char *state, *from_effect, *from_rule, *to_effect, *to_rule; /* NULL state: empty slot */
  uint64_t hash;
  uint64_t count;
  char *examples[FB_REPLAY_EXAMPLES];
  size_t nexamples;
} change;

#define TABLE_SLOTS 16384 /* a power of two above FB_REPLAY_CHANGES_MAX */

struct fb_replay {
  const fb_policy_set *old_set, *new_set;
  change *table; /* TABLE_SLOTS */
  size_t nchanges;
  uint64_t other;       /* changes beyond the table */
  uint64_t replayed, changed;
  uint64_t errors_old, errors_new; /* decisions that ended in policy_error */
  bool request_changed;
};

fb_replay *fb_replay_new(const fb_policy_set *old_set, const fb_policy_set *new_set) {
  fb_replay *r = fb_xcalloc(1, sizeof *r);
  r->old_set = old_set;
  r->new_set = new_set;
  r->table = fb_xcalloc(TABLE_SLOTS, sizeof(change));
  return r;
}

void fb_replay_free(fb_replay *r) {
  if (!r) return;
  for (size_t i = 0; i < TABLE_SLOTS; i++) {
    change *c = &r->table[i];
    if (!c->state) continue;
    free(c->state);
    free(c->from_effect);
    free(c->from_rule);
    free(c->to_effect);
    free(c->to_rule);
    for (size_t k = 0; k < c->nexamples; k++) free(c->examples[k]);
  }
  free(r->table);
  free(r);
}

uint64_t fb_replay_replayed(const fb_replay *r) { return r->replayed; }
uint64_t fb_replay_changed(const fb_replay *r) { return r->changed; }

/* ---- deciding ---------------------------------------------------------------- */

void fb_replay_decide(const fb_policy_set *set, const fb_query *q, const char *state,
                      fb_replay_outcome *out) {
  fb_outbound_missing miss;
  char *err = NULL;
  int rc = fb_outbound_require(fb_policy_set_get(set, q->from_state), q, &miss, &err);
  if (rc != 0) {
    free(err);
    out->effect = "invalid_request";
    out->rule = rc > 0 ? miss.rule : "policy_error";
    return;
  }
  fb_decision d;
  fb_policy_set_decide(set, q, state, &d, NULL);
  out->effect = fb_effect_name(d.effect);
  out->rule = d.rule; /* a rule name of the set, or a static name */
  fb_decision_clear(&d);
}

/* ---- the change table ---------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (h ^ 0xff) * 1099511628211ull; /* a separator, so ("ab","c") != ("a","bc") */
}

static bool same(const change *c, const char *state, const fb_replay_outcome *a, const fb_replay_outcome *b) {
  return strcmp(c->state, state) == 0 && strcmp(c->from_effect, a->effect) == 0 &&
         strcmp(c->from_rule, a->rule) == 0 && strcmp(c->to_effect, b->effect) == 0 &&
         strcmp(c->to_rule, b->rule) == 0;
}

static void count_change(fb_replay *r, const char *state, const fb_replay_outcome *a,
                         const fb_replay_outcome *b, const char *query_id) {
  uint64_t h = fnv(fnv(fnv(fnv(fnv(14695981039346656037ull, state), a->effect), a->rule), b->effect), b->rule);
  size_t i = (size_t)h & (TABLE_SLOTS - 1);
  while (r->table[i].state && !(r->table[i].hash == h && same(&r->table[i], state, a, b)))
    i = (i + 1) & (TABLE_SLOTS - 1);
  change *c = &r->table[i];
  if (!c->state) {
    if (r->nchanges >= FB_REPLAY_CHANGES_MAX) {
      r->other++;
      return;
    }
    r->nchanges++;
    *c = (change){.state = fb_xstrdup(state), .from_effect = fb_xstrdup(a->effect),
                  .from_rule = fb_xstrdup(a->rule), .to_effect = fb_xstrdup(b->effect),
                  .to_rule = fb_xstrdup(b->rule), .hash = h};
  }
  c->count++;
  if (query_id && c->nexamples < FB_REPLAY_EXAMPLES) c->examples[c->nexamples++] = fb_xstrdup(query_id);
}

bool fb_replay_add(fb_replay *r, const fb_query *q, const char *state) {
  fb_replay_outcome a, b;
  fb_replay_decide(r->old_set, q, state, &a);
  fb_replay_decide(r->new_set, q, state, &b);
  r->errors_old += strcmp(a.rule, "policy_error") == 0;
  r->errors_new += strcmp(b.rule, "policy_error") == 0;
  if (strcmp(a.effect, b.effect) == 0 && strcmp(a.rule, b.rule) == 0) return false;
  count_change(r, state, &a, &b, q->query_id);
  r->request_changed = true;
  return true;
}

void fb_replay_end_request(fb_replay *r) {
  r->replayed++;
  if (r->request_changed) r->changed++;
  r->request_changed = false;
}

/* ---- the audit log ------------------------------------------------------------- */

int fb_replay_parse_time(const char *s, int64_t *ms) {
  if (!s) return -1;
  int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return -1;
  const char *p = s + 10;
  int64_t frac = 0, offset_s = 0;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8) return -1;
    p += 9;
    if (*p == '.') {
      int digits = 0;
      for (p++; *p >= '0' && *p <= '9'; p++, digits++)
        if (digits < 3) frac = frac * 10 + (*p - '0');
      if (digits == 0) return -1;
      for (; digits < 3; digits++) frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') p++;
    else if (*p == '+' || *p == '-') {
      int oh, om;
      if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5) return -1;
      offset_s = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
      p += 6;
    } else {
      return -1;
    }
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  time_t t = timegm(&tm);
  *ms = ((int64_t)t - offset_s) * 1000 + frac;
  return 0;
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* Replays one parsed search entry; false when it is out of range or malformed. */
static bool replay_entry(fb_replay *r, json_t *e, const fb_replay_opts *o) {
  if (o && (o->since_ms || o->until_ms)) {
    int64_t ts;
    if (fb_replay_parse_time(str(e, "ts"), &ts) != 0) return false;
    if ((o->since_ms && ts < o->since_ms) || (o->until_ms && ts >= o->until_ms)) return false;
  }
  json_t *req = json_object_get(e, "requester"), *states = json_object_get(e, "states");
  const char *roles[16];
  fb_query q = {.purpose = str(e, "purpose"), .priority = str(e, "priority"),
                .legal_basis = str(e, "legal_basis"), .justification = str(e, "justification"),
                .case_ref = str(e, "case_ref"), .from_state = str(req, "state"), .agency = str(req, "agency"),
                .roles = roles, .subject = json_object_get(e, "subject"), .query_id = str(e, "query_id")};
  if (!q.purpose || !q.priority || !q.legal_basis || !q.from_state || !json_is_array(states)) return false;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(req, "roles"), i, v)
    if (json_is_string(v) && q.nroles < 16) roles[q.nroles++] = json_string_value(v);
  json_array_foreach(states, i, v) {
    const char *code = str(v, "state");
    if (code) fb_replay_add(r, &q, code);
  }
  fb_replay_end_request(r);
  return true;
}

#define LINE_MAX_BYTES (8u << 20) /* longer lines are not the hub's search entries */

int fb_replay_audit_file(fb_replay *r, const char *path, const fb_replay_opts *o, char **err) {
  FILE *fp = fopen(path, "r");
  if (!fp) {
    fb_set_error(err, "%s: cannot open the audit log: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = 0;
  /* Policy errors are counted in the result, not logged once per decision. */
  bool was_muted = fb_log_mute_thread(true);
  while ((n = getline(&line, &cap, fp)) > 0) {
    if (o && o->cancel && *o->cancel) break;
    if (o && o->limit && r->replayed >= o->limit) break;
    if (line[n - 1] != '\n' || (size_t)n > LINE_MAX_BYTES) continue; /* torn or absurd */
    /* Cheap filter before parsing: most lines of a busy log are searches, but not all. */
    if (!strstr(line, "\"event\":\"search\"")) continue;
    json_t *e = json_loadb(line, (size_t)n, JSON_DISABLE_EOF_CHECK, NULL);
    if (json_is_object(e) && json_is_string(json_object_get(e, "event")) &&
        strcmp(json_string_value(json_object_get(e, "event")), "search") == 0)
      replay_entry(r, e, o);
    json_decref(e);
    if (cap > LINE_MAX_BYTES) { /* do not keep a huge buffer for the rest of the file */
      free(line);
      line = NULL;
      cap = 0;
    }
  }
  if (ferror(fp)) {
    fb_set_error(err, "%s: read error: %s", path, strerror(errno));
    rc = -1;
  }
  fb_log_mute_thread(was_muted);
  free(line);
  fclose(fp);
  return rc;
}

/* ---- results -------------------------------------------------------------------- */

static int by_count(const void *a, const void *b) {
  const change *x = *(const change *const *)a, *y = *(const change *const *)b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  int c = strcmp(x->state, y->state);
  if (c) return c;
  c = strcmp(x->from_rule, y->from_rule);
  return c ? c : strcmp(x->to_rule, y->to_rule);
}

static const change **sorted(const fb_replay *r) {
  const change **v = fb_xcalloc(r->nchanges ? r->nchanges : 1, sizeof(change *));
  size_t n = 0;
  for (size_t i = 0; i < TABLE_SLOTS; i++)
    if (r->table[i].state) v[n++] = &r->table[i];
  qsort(v, n, sizeof *v, by_count);
  return v;
}

json_t *fb_replay_result(const fb_replay *r) {
  json_t *changes = json_array();
  const change **v = sorted(r);
  for (size_t i = 0; i < r->nchanges; i++) {
    const change *c = v[i];
    json_t *ex = json_array();
    for (size_t k = 0; k < c->nexamples; k++) json_array_append_new(ex, json_string(c->examples[k]));
    json_array_append_new(changes, json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:I, s:o}", "state", c->state,
                                             "from", "effect", c->from_effect, "rule", c->from_rule, "to",
                                             "effect", c->to_effect, "rule", c->to_rule, "count",
                                             (json_int_t)c->count, "examples", ex));
  }
  free(v);
  json_t *out = json_pack("{s:I, s:I, s:o}", "replayed", (json_int_t)r->replayed, "changed",
                          (json_int_t)r->changed, "changes", changes);
  if (r->other) json_object_set_new(out, "other_changes", json_integer((json_int_t)r->other));
  if (r->errors_old || r->errors_new)
    json_object_set_new(out, "policy_errors", json_pack("{s:I, s:I}", "live", (json_int_t)r->errors_old, "draft",
                                                        (json_int_t)r->errors_new));
  return out;
}

void fb_replay_print(const fb_replay *r, FILE *out) {
  fprintf(out, "%llu searches replayed, %llu changed\n", (unsigned long long)r->replayed,
          (unsigned long long)r->changed);
  const change **v = sorted(r);
  for (size_t i = 0; i < r->nchanges; i++) {
    const change *c = v[i];
    fprintf(out, "\n%s: %llu request%s\n  from %s (rule \"%s\")\n  to   %s (rule \"%s\")\n", c->state,
            (unsigned long long)c->count, c->count == 1 ? "" : "s", c->from_effect, c->from_rule, c->to_effect,
            c->to_rule);
    if (c->nexamples) {
      fputs("  for example:", out);
      for (size_t k = 0; k < c->nexamples; k++) fprintf(out, " %s", c->examples[k]);
      fputc('\n', out);
    }
  }
  free(v);
  if (r->other) fprintf(out, "\n%llu more changes of kinds not listed\n", (unsigned long long)r->other);
  if (r->errors_old || r->errors_new)
    fprintf(out, "\npolicy errors (a `when` failed; the state is denied): %llu decisions under --old, %llu under --new\n",
            (unsigned long long)r->errors_old, (unsigned long long)r->errors_new);
}
