/* Property test of the prover: for random policies and random edits of them, the
 * regions must agree with brute force through the real engine. For thousands of
 * concrete requests (any roles, any subject fields, any justification, any state)
 * and records, fb_policy_decide and fb_plan_apply under the old and the new version
 * differ exactly where a region of the proof says so, and the region says how. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/prove.h"
#include "policy/rules.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}
static uint32_t rnd_mask(int bits) { return rnd(1u << bits); } /* may be 0: no condition */

/* ---- random policies ------------------------------------------------------------ */

static const char *const states3[] = {"IDN", "THA", "BGD"};
static const char *const nats2[] = {"BGD", "IDN"};
#define NROLES FB_ROLE_COUNT
#define roles4 fb_role_names

typedef struct {
  int kind; /* rule_kind */
  uint32_t purpose, priority, basis, subject, from, roles, tags, type, nat, fields;
  int case_ref, formal;
  bool agency;
  long just_lt, max;
  uint32_t unless_priority, unless_purpose;
} grule;

typedef struct {
  grule r[12];
  int n;
} gpolicy;

static int field_action[13]; /* per case: the one action each field gets */
/* per case: the subject-field and role sets conditions draw from (two each, so that the
 * space stays within FB_PROVE_MAX_POINTS whatever the draw) */
static uint32_t subject_pool[2], role_pool[2];

static grule random_rule(bool common) {
  grule g;
  memset(&g, 0, sizeof g);
  g.case_ref = -1;
  g.formal = -1;
  g.kind = common ? (rnd(3) == 0 ? RK_DENY : RK_REDACT + (int)rnd(3)) : (int)rnd(RK_LIMIT + 1);
  /* each condition present with some probability */
  if (rnd(2)) g.purpose = rnd_mask(5);
  if (rnd(2)) g.priority = rnd_mask(3);
  if (rnd(2)) g.basis = rnd_mask(6);
  if (rnd(4) == 0) g.subject = subject_pool[rnd(2)];
  if (rnd(3) == 0) g.from = rnd_mask(3);
  if (rnd(5) == 0) g.roles = role_pool[rnd(2)];
  if (rnd(5) == 0) g.case_ref = (int)rnd(2);
  if (rnd(6) == 0) g.formal = (int)rnd(2);
  if (rnd(6) == 0) g.agency = true;
  if (rnd(5) == 0) g.just_lt = rnd(2) ? 20 : 10;
  if (rnd(4) == 0) g.unless_priority = rnd_mask(3);
  if (rnd(5) == 0) g.unless_purpose = rnd_mask(5);
  if (g.kind == RK_REDACT || g.kind == RK_DROP) {
    if (rnd(2)) g.tags = rnd_mask(6);
    if (rnd(4) == 0) g.type = rnd_mask(2);
    if (rnd(4) == 0) g.nat = rnd_mask(2);
  }
  if (g.kind == RK_REDACT) {
    g.fields = rnd_mask(13);
    if (!g.fields) g.fields = 1u << rnd(13);
  }
  if (g.kind == RK_LIMIT) g.max = rnd(30);
  return g;
}

static void put_vocab(fb_buf *b, const char *key, vocab v, uint32_t m) {
  if (!m) return;
  fb_buf_printf(b, "  %s = {", key);
  for (int i = 0; fb_vocab[v][i]; i++)
    if (m >> i & 1) fb_buf_printf(b, " \"%s\",", fb_vocab[v][i]);
  fb_buf_puts(b, " },\n");
}

static void put_list(fb_buf *b, const char *key, const char *const *names, uint32_t m) {
  if (!m) return;
  fb_buf_printf(b, "  %s = {", key);
  for (int i = 0; i < 32; i++)
    if (m >> i & 1) fb_buf_printf(b, " \"%s\",", names[i]);
  fb_buf_puts(b, " },\n");
}

static void render(fb_buf *b, const gpolicy *p, const char *code) {
  if (code) fb_buf_printf(b, "state \"%s\" { name = \"x\" }\n", code);
  for (int i = 0; i < p->n; i++) {
    const grule *g = &p->r[i];
    fb_buf_printf(b, "%s \"r%d\" {\n", fb_rule_kind_names[g->kind], i);
    put_vocab(b, "purpose", V_PURPOSE, g->purpose);
    put_vocab(b, "priority", V_PRIORITY, g->priority);
    put_vocab(b, "legal_basis", V_LEGAL_BASIS, g->basis);
    put_vocab(b, "subject", V_SUBJECT, g->subject);
    put_list(b, "from", states3, g->from);
    put_list(b, "role", roles4, g->roles);
    if (g->case_ref >= 0) fb_buf_printf(b, "  case_ref = %s,\n", g->case_ref ? "true" : "false");
    if (g->formal >= 0) fb_buf_printf(b, "  formal = %s,\n", g->formal ? "true" : "false");
    if (g->agency) fb_buf_puts(b, "  agency = \"POLRI\",\n");
    if (g->just_lt) fb_buf_printf(b, "  justification_shorter_than = %ld,\n", g->just_lt);
    if (g->unless_priority || g->unless_purpose) {
      fb_buf_puts(b, "  unless = {\n");
      put_vocab(b, "  priority", V_PRIORITY, g->unless_priority);
      put_vocab(b, "  purpose", V_PURPOSE, g->unless_purpose);
      fb_buf_puts(b, "  },\n");
    }
    if (g->kind == RK_REDACT || g->kind == RK_DROP) {
      fb_buf_puts(b, "  records = {\n");
      put_vocab(b, "  tags", V_TAGS, g->tags);
      put_vocab(b, "  type", V_TYPE, g->type);
      put_list(b, "  nationality", nats2, g->nat);
      fb_buf_puts(b, "  },\n");
    }
    if (g->kind == RK_REDACT) {
      put_vocab(b, "fields", V_FIELD, g->fields);
      /* one action per rule: the action of its first field, every field of the rule
       * restricted to those that take it */
      int a = -1;
      for (int f = 0; f < 13; f++)
        if (g->fields >> f & 1) {
          if (a < 0) a = field_action[f];
        }
      fb_buf_printf(b, "  action = \"%s\",\n", fb_action_names[a]);
    }
    if (g->kind == RK_LIMIT) fb_buf_printf(b, "  max_records = %ld,\n", g->max);
    fb_buf_puts(b, "}\n");
  }
}

/* Keeps every field of a redact rule to the action of its first field. */
static void fix_fields(gpolicy *p) {
  for (int i = 0; i < p->n; i++) {
    grule *g = &p->r[i];
    if (g->kind != RK_REDACT) continue;
    int a = -1;
    for (int f = 0; f < 13; f++)
      if (g->fields >> f & 1) {
        if (a < 0) a = field_action[f];
        else if (field_action[f] != a) g->fields &= ~(1u << f);
      }
  }
}

static void mutate(gpolicy *p, bool common) {
  int op = p->n ? (int)rnd(5) : 3;
  int i = p->n ? (int)rnd((uint32_t)p->n) : 0;
  switch (op) {
  case 0: p->r[i] = random_rule(common); break;
  case 1: {
    int j = (int)rnd((uint32_t)p->n);
    grule t = p->r[i];
    p->r[i] = p->r[j];
    p->r[j] = t;
    break;
  }
  case 2:
    memmove(&p->r[i], &p->r[i + 1], (size_t)(p->n - i - 1) * sizeof(grule));
    p->n--;
    break;
  case 3:
    if (p->n < 12) {
      memmove(&p->r[i + 1], &p->r[i], (size_t)(p->n - i) * sizeof(grule));
      p->r[i] = random_rule(common);
      p->n++;
    }
    break;
  default: { /* one value of one condition */
    grule *g = &p->r[i];
    switch (rnd(4)) {
    case 0: g->purpose ^= 1u << rnd(5); break;
    case 1: g->priority ^= 1u << rnd(3); break;
    case 2: g->basis ^= 1u << rnd(6); break;
    default: g->from ^= 1u << rnd(3); break;
    }
  }
  }
  fix_fields(p);
}

/* ---- what the proof says about a point ------------------------------------------- */

typedef struct {
  int purpose, priority, basis, from, case_ref, just_len, formal;
  bool polri;
  uint32_t roles, subject;
  /* record */
  uint32_t tags;
  int type, nat;
} point;

typedef struct {
  uint32_t from, nat;
  bool agency;
  long thr[4];
  int nthr;
} named_vals;

static void name_rules(named_vals *nv, const gpolicy *p) {
  for (int i = 0; i < p->n; i++) {
    nv->from |= p->r[i].from;
    nv->nat |= p->r[i].nat;
    nv->agency |= p->r[i].agency;
    if (p->r[i].just_lt) {
      bool seen = false;
      for (int k = 0; k < nv->nthr; k++) seen |= nv->thr[k] == p->r[i].just_lt;
      if (!seen) nv->thr[nv->nthr++] = p->r[i].just_lt;
    }
  }
}

static bool in_list(json_t *a, const char *v) {
  size_t i;
  json_t *e;
  json_array_foreach(a, i, e) if (strcmp(json_string_value(e), v) == 0) return true;
  return false;
}

static const char *const from_pool[] = {"IDN", "THA", "BGD", "MYS", "VNM"};
static const char *const nat_pool[] = {"BGD", "IDN", "VNM"};

static bool contains(json_t *region, const point *pt, const named_vals *nv, bool record, int field) {
  json_t *w = json_object_get(region, "where"), *v;
  char buf[64];
  if ((v = json_object_get(w, "purpose")) && !in_list(v, fb_vocab[V_PURPOSE][pt->purpose])) return false;
  if ((v = json_object_get(w, "priority")) && !in_list(v, fb_vocab[V_PRIORITY][pt->priority])) return false;
  if ((v = json_object_get(w, "legal_basis")) && !in_list(v, fb_vocab[V_LEGAL_BASIS][pt->basis])) return false;
  if ((v = json_object_get(w, "case_ref")) && !in_list(v, pt->case_ref ? "present" : "absent")) return false;
  if ((v = json_object_get(w, "formal")) && !in_list(v, pt->formal ? "follow-up" : "search")) return false;
  if ((v = json_object_get(w, "from"))) {
    const char *f = from_pool[pt->from];
    bool is_value = strcmp(f, "MYS") == 0 || (pt->from < 3 && (nv->from >> pt->from & 1));
    if (!in_list(v, is_value ? f : "other")) return false;
  }
  if ((v = json_object_get(w, "agency")) && !in_list(v, pt->polri && nv->agency ? "POLRI" : "other")) return false;
  if ((v = json_object_get(w, "justification"))) {
    long t[4];
    int n = nv->nthr;
    memcpy(t, nv->thr, sizeof t);
    for (int i = 0; i < n; i++) /* sort */
      for (int j = i + 1; j < n; j++)
        if (t[j] < t[i]) {
          long x = t[i];
          t[i] = t[j];
          t[j] = x;
        }
    int c = 0;
    while (c < n && pt->just_len >= t[c]) c++;
    if (c == 0) snprintf(buf, sizeof buf, "shorter than %ld characters", t[0]);
    else if (c == n) snprintf(buf, sizeof buf, "of at least %ld characters", t[n - 1]);
    else snprintf(buf, sizeof buf, "of %ld to %ld characters", t[c - 1], t[c] - 1);
    if (!in_list(v, buf)) return false;
  }
  /* subject and roles: [{"any_of": [...], "used"/"held": bool}] */
  size_t gi;
  json_t *g;
  json_array_foreach(json_object_get(w, "subject"), gi, g) {
    bool any = false;
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(g, "any_of"), k, f) any |= (pt->subject >> fb_vocab_index(V_SUBJECT, json_string_value(f))) & 1;
    if (json_is_true(json_object_get(g, "used")) != any) return false;
  }
  json_array_foreach(json_object_get(w, "roles"), gi, g) {
    bool any = false;
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(g, "any_of"), k, f) any |= (pt->roles >> fb_list_index(fb_role_names, json_string_value(f))) & 1;
    if (json_is_true(json_object_get(g, "held")) != any) return false;
  }
  const char *key;
  if (!record) return true;
  json_t *rec = json_object_get(region, "records");
  json_object_foreach(json_object_get(rec, "tags"), key, v)
    if (json_is_true(v) != ((pt->tags >> fb_vocab_index(V_TAGS, key)) & 1)) return false;
  if ((v = json_object_get(rec, "type")) && !in_list(v, fb_vocab[V_TYPE][pt->type])) return false;
  if ((v = json_object_get(rec, "nationality"))) {
    bool is_value = pt->nat < 2 && (nv->nat >> pt->nat & 1);
    if (!in_list(v, is_value ? nat_pool[pt->nat] : "other")) return false;
  }
  if (field >= 0 && (v = json_object_get(region, "fields")) && !in_list(v, fb_vocab[V_FIELD][field])) return false;
  return true;
}

/* ---- brute force through the real engine ------------------------------------------ */

static json_t *record_for(const point *pt) {
  json_t *tags = json_array();
  for (int t = 0; t < 6; t++)
    if (pt->tags >> t & 1) json_array_append_new(tags, json_string(fb_vocab[V_TAGS][t]));
  return json_pack("{s:s, s:s, s:o, s:s, s:s, s:[s], s:s, s:s, s:[{s:s, s:s}], s:[s], s:s, s:s, s:[s], s:s, s:s}",
                   "id", "MYS-P-1", "type", fb_vocab[V_TYPE][pt->type], "tags", tags, "nationality",
                   nat_pool[pt->nat], "name", "Ahmad bin Ismail", "aliases", "Abu Ahmad", "dob", "1985-03-12",
                   "sex", "M", "documents", "kind", "passport", "number", "A1234567", "phones", "+60123456789",
                   "address", "Jalan Merdeka 1", "vessel", "KM Bahari", "cases", "C-2024-1", "notes",
                   "internal note", "updated", "2024-01-02T03:04:05Z");
}

static const char *field_state(json_t *orig, json_t *rec, const char *f) {
  json_t *o = json_object_get(orig, f), *v = json_object_get(rec, f);
  if (!v) return "removed";
  if (json_equal(o, v)) return "shown";
  json_t *s = json_is_array(v) ? json_array_get(v, 0) : v;
  const char *t = json_string_value(s);
  if (t && strcmp(t, "[REDACTED]") == 0) return "masked";
  if (t && strlen(t) == 64) return "hashed";
  if (t && strlen(t) == 4) return "year only";
  return "initials";
}

typedef struct {
  bool dropped;
  json_t *rec;
  long limit;
} rec_result;

static rec_result apply_plan(fb_policy *common, fb_policy *state, const fb_query *q, json_t *rec) {
  fb_plan *plan = fb_plan_new(common, state, q);
  json_t *arr = json_array();
  json_array_append_new(arr, json_deep_copy(rec));
  assert_int_equal(fb_plan_apply(plan, arr, NULL), 0);
  rec_result r = {json_array_size(arr) == 0, json_incref(json_array_get(arr, 0)), -1};
  json_t *d = fb_plan_describe(plan);
  size_t i;
  json_t *s;
  json_array_foreach(d, i, s) {
    json_t *m = json_object_get(s, "max_records");
    if (m && (r.limit < 0 || json_integer_value(m) < r.limit)) r.limit = (long)json_integer_value(m);
  }
  json_decref(d);
  json_decref(arr);
  fb_plan_free(plan);
  return r;
}

/* The region of `kind` ("admission", or the key of "old" for records: "record",
 * "field", "max_records") containing the point. Regions may overlap (they grow as far
 * as their difference goes, records also over points where it cannot show), but two
 * that contain one point must say the same. */
static json_t *region_at(json_t *regions, const char *kind, const point *pt, const named_vals *nv, int field) {
  json_t *found = NULL, *r;
  size_t i;
  bool admission = strcmp(kind, "admission") == 0;
  json_array_foreach(regions, i, r) {
    if (admission != (strcmp(json_string_value(json_object_get(r, "kind")), "admission") == 0)) continue;
    if (!admission && !json_object_get(json_object_get(r, "old"), kind)) continue;
    if (!contains(r, pt, nv, !admission, field)) continue;
    if (found && (!json_equal(json_object_get(found, "old"), json_object_get(r, "old")) ||
                  !json_equal(json_object_get(found, "new"), json_object_get(r, "new"))))
      fail_msg("two %s regions that disagree contain one point", kind);
    found = r;
  }
  return found;
}

static const char *side(json_t *r, const char *s, const char *k) {
  return json_string_value(json_object_get(json_object_get(r, s), k));
}

static void check_point(json_t *regions, const named_vals *nv, fb_policy *oc, fb_policy *os, fb_policy *nc,
                        fb_policy *ns, const point *pt, int *record_checks) {
  const char *roles[NROLES];
  size_t nroles = 0;
  for (int r = 0; r < NROLES; r++)
    if (pt->roles >> r & 1) roles[nroles++] = roles4[r];
  json_t *subject = json_object();
  for (int f = 0; f < 6; f++)
    if (pt->subject >> f & 1) json_object_set_new(subject, fb_vocab[V_SUBJECT][f], json_string("x"));
  char just[64];
  memset(just, 'j', sizeof just);
  just[pt->just_len] = '\0';
  fb_query q = {.purpose = fb_vocab[V_PURPOSE][pt->purpose], .priority = fb_vocab[V_PRIORITY][pt->priority],
                .legal_basis = fb_vocab[V_LEGAL_BASIS][pt->basis], .justification = just,
                .case_ref = pt->case_ref ? "C-1" : NULL, .formal = pt->formal, .from_state = from_pool[pt->from],
                .agency = pt->polri ? "POLRI" : "Other Police", .roles = roles, .nroles = nroles,
                .subject = subject, .query_id = "q"};
  fb_decision o, n;
  fb_policy_decide_named(oc, os, "MYS", &q, &o, NULL);
  fb_policy_decide_named(nc, ns, "MYS", &q, &n, NULL);
  json_t *r = region_at(regions, "admission", pt, nv, -1);
  if (o.effect != n.effect || o.review != n.review) {
    if (!r) fail_msg("the engine differs (%s -> %s) where no region says so", fb_effect_name(o.effect),
                     fb_effect_name(n.effect));
    assert_string_equal(side(r, "old", "effect"), fb_effect_name(o.effect));
    assert_string_equal(side(r, "new", "effect"), fb_effect_name(n.effect));
    assert_string_equal(side(r, "new", "rule"), n.rule);
  } else if (r) {
    fail_msg("region '%s' where the engine decides the same", json_string_value(json_object_get(r, "text")));
  }
  if (o.effect == FB_EFFECT_ALLOW && n.effect == FB_EFFECT_ALLOW) {
    (*record_checks)++;
    json_t *rec = record_for(pt);
    rec_result ro = apply_plan(oc, os, &q, rec), rn = apply_plan(nc, ns, &q, rec);
    json_t *lr = region_at(regions, "max_records", pt, nv, -1);
    assert_int_equal(ro.limit != rn.limit, lr != NULL);
    if (ro.limit == 0 || rn.limit == 0) { /* max_records = 0: no record shows, dropped or not */
      json_decref(ro.rec);
      json_decref(rn.rec);
      json_decref(rec);
      goto done;
    }
    json_t *dr = region_at(regions, "record", pt, nv, -1);
    assert_int_equal(ro.dropped != rn.dropped, dr != NULL);
    if (dr) assert_string_equal(side(dr, "new", "record"), rn.dropped ? "dropped" : "shared");
    for (int f = 0; f < 13; f++) {
      json_t *fr = region_at(regions, "field", pt, nv, f);
      if (ro.dropped || rn.dropped) continue; /* fields of a dropped record cannot show */
      json_t *orig = json_object_get(rec, fb_vocab[V_FIELD][f]);
      if (json_is_array(orig) && json_array_size(orig) == 0) continue; /* an empty list hashes to itself */
      const char *so = field_state(rec, ro.rec, fb_vocab[V_FIELD][f]);
      const char *sn = field_state(rec, rn.rec, fb_vocab[V_FIELD][f]);
      if (strcmp(so, sn) != 0) {
        if (!fr) fail_msg("field %s: %s -> %s where no region says so", fb_vocab[V_FIELD][f], so, sn);
        assert_string_equal(side(fr, "old", "field"), so);
        assert_string_equal(side(fr, "new", "field"), sn);
      } else if (fr) {
        fail_msg("region '%s' where field %s is %s in both", json_string_value(json_object_get(fr, "text")),
                 fb_vocab[V_FIELD][f], so);
      }
    }
    json_decref(ro.rec);
    json_decref(rn.rec);
    json_decref(rec);
  }
done:
  fb_decision_clear(&o);
  fb_decision_clear(&n);
  json_decref(subject);
}

static fb_policy *compile(const char *code, const char *src) {
  char *err = NULL;
  fb_policy *p = fb_policy_compile(code, code, src, strlen(src), fb_policy_test_key, sizeof fb_policy_test_key,
                                   NULL, &err);
  if (!p) fail_msg("generated policy does not load: %s\n%s", err, src);
  return p;
}

static void test_random_edits(void **st) {
  (void)st;
  char dir[] = "/tmp/fb_prove_prop_XXXXXX";
  assert_non_null(mkdtemp(dir));
  int cases = 0, points = 0, record_checks = 0, widen_or_narrow = 0;
  for (int c = 0; c < 250; c++) {
    for (int f = 0; f < 13; f++) {
      const char *name = fb_vocab[V_FIELD][f];
      int choices[5] = {A_MASK, A_REMOVE, A_HASH}, n = 3;
      if (strcmp(name, "dob") == 0 || strcmp(name, "updated") == 0) choices[n++] = A_YEAR;
      if (strcmp(name, "name") == 0 || strcmp(name, "aliases") == 0) choices[n++] = A_INITIALS;
      field_action[f] = choices[rnd((uint32_t)n)];
    }
    for (int i = 0; i < 2; i++) {
      subject_pool[i] = 1 + rnd(63);
      role_pool[i] = 1 + rnd((1u << NROLES) - 1);
    }
    gpolicy oc = {.n = (int)rnd(3)}, os = {.n = 2 + (int)rnd(6)};
    for (int i = 0; i < oc.n; i++) oc.r[i] = random_rule(true);
    for (int i = 0; i < os.n; i++) os.r[i] = random_rule(false);
    fix_fields(&oc);
    fix_fields(&os);
    gpolicy nc = oc, ns = os;
    if (rnd(4) == 0) mutate(&nc, true);
    else mutate(&ns, false);
    fb_buf b[4] = {{0}};
    render(&b[0], &oc, NULL);
    render(&b[1], &os, "MYS");
    render(&b[2], &nc, NULL);
    render(&b[3], &ns, "MYS");
    const char *empty = "";
    fb_policy *p[4];
    for (int i = 0; i < 4; i++) p[i] = compile(i % 2 ? "MYS" : "common", b[i].data ? b[i].data : empty);
    char *err = NULL;
    fb_prove_set *old = fb_prove_set_from_dir(dir, &err), *new = fb_prove_set_from_dir(dir, &err);
    assert_non_null(old);
    for (int i = 0; i < 4; i++) {
      const char *src = b[i].data ? b[i].data : empty;
      assert_int_equal(fb_prove_set_put_source(i < 2 ? old : new, i % 2 ? "MYS" : "common", src, strlen(src), &err), 0);
    }
    json_t *proof = fb_policy_prove_json(old, new, "MYS", &err);
    if (!proof) fail_msg("prove: %s", err);
    json_t *regions = json_object_get(proof, "regions");
    widen_or_narrow += json_array_size(regions) > 0;
    named_vals nv = {0};
    name_rules(&nv, &oc);
    name_rules(&nv, &os);
    name_rules(&nv, &nc);
    name_rules(&nv, &ns);
    for (int k = 0; k < 1500; k++) {
      point pt = {(int)rnd(5), (int)rnd(3), (int)rnd(6), (int)rnd(5), (int)rnd(2), (int)rnd(40), (int)rnd(2), rnd(2) == 0,
                  1 + rnd((1u << NROLES) - 1), 1 + rnd(63), rnd(64), (int)rnd(2), (int)rnd(3)};
      check_point(regions, &nv, p[0], p[1], p[2], p[3], &pt, &record_checks);
      points++;
    }
    json_decref(proof);
    fb_prove_set_free(old);
    fb_prove_set_free(new);
    for (int i = 0; i < 4; i++) {
      fb_policy_unref(p[i]);
      fb_buf_free(&b[i]);
    }
    cases++;
  }
  rmdir(dir);
  print_message("%d random edits, %d requests and %d records checked against the engine; %d edits changed something\n",
                cases, points, record_checks, widen_or_narrow);
  assert_true(widen_or_narrow > 60); /* the edits are not all no-ops */
  assert_true(record_checks > 15000);
}

int main(void) {
  fb_log_set_level(FB_LOG_ERROR);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_edits)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
