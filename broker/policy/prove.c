/* The prover's core: builds one state's closed request space from what the two
 * versions name, decides every point under both (common's deny rules first, then the
 * state's rules top to bottom, as decide.c does), compares the record rules each
 * version selects over every kind of record, merges the points that differ into
 * regions (prove_boxes.c) and grows them to read like rules (prove_grow.c).
 *
 * The decisions are made on the compiled rules (rules.h) with the request as value
 * indices: the same conditions as fb_cond_match, without strings or JSON, so a point
 * costs a few mask tests. The property test (tests/unit/policy/test_prove_property.c)
 * checks this against the real engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/error.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/prove_space.h"

/* A role's bit: its place in the one vocabulary (core/vocab.h), which compile.c
 * checks `role` against. A name outside it (none loads) gets a bit no requester has,
 * so the condition can never be taken for "any role". */
#define ROLE_UNKNOWN_BIT 31
static int role_bit(const char *r) {
  int i = fb_list_index(fb_role_names, r);
  return i >= 0 && i < ROLE_UNKNOWN_BIT ? i : ROLE_UNKNOWN_BIT;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- what the versions name ----------------------------------------------- */

typedef struct {
  fb_policy *common, *state; /* state NULL: no file */
} version;

typedef struct {
  char **v;
  size_t n;
} names;

static void names_add(names *s, const char *x) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], x) == 0) return;
  s->v = fb_xrealloc(s->v, (s->n + 1) * sizeof(char *));
  s->v[s->n++] = fb_xstrdup(x);
}

static void names_free(names *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
}

/* The distinct "any of" masks that conditions use (subject fields, roles). */
typedef struct {
  uint32_t v[64];
  size_t n;
  bool overflow; /* more than 64: every bit is its own atom */
  uint32_t all;
} masks;

static void masks_add(masks *m, uint32_t x) {
  if (!x) return;
  m->all |= x;
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i] == x) return;
  if (m->n == 64) m->overflow = true;
  else m->v[m->n++] = x;
}

/* Bits that every mask either contains all of or none of can only matter together:
 * "searches by document or vessel" is one yes/no, not two. Returns the atoms. */
static size_t atoms(const masks *m, uint32_t *out) {
  size_t n = 0;
  uint64_t sig[32];
  for (int b = 0; b < 32; b++) {
    if (!(m->all >> b & 1)) continue;
    uint64_t g = 0;
    for (size_t j = 0; j < m->n && !m->overflow; j++) g |= (uint64_t)(m->v[j] >> b & 1) << j;
    size_t a = 0;
    while (a < n && !(sig[a] == g && !m->overflow)) a++;
    if (a == n) sig[n] = g, out[n++] = 0;
    out[a] |= 1u << b;
  }
  return n;
}

typedef struct {
  names from, agency, nat;
  long thresholds[PV_MAX_VALUES];
  size_t nthr;
  masks subject, roles;
  uint32_t tags, types;
} named;

static void collect_cond(named *nm, const cond *k) {
  for (size_t i = 0; i < k->from.n; i++) names_add(&nm->from, k->from.v[i]);
  for (size_t i = 0; i < k->agency.n; i++) names_add(&nm->agency, k->agency.v[i]);
  uint32_t roles = 0;
  for (size_t i = 0; i < k->role.n; i++)
    if (role_bit(k->role.v[i]) != ROLE_UNKNOWN_BIT) roles |= 1u << role_bit(k->role.v[i]);
  masks_add(&nm->roles, roles);
  masks_add(&nm->subject, k->subject);
  if (k->just_lt) {
    bool seen = false;
    for (size_t i = 0; i < nm->nthr; i++) seen |= nm->thresholds[i] == k->just_lt;
    if (!seen && nm->nthr < PV_MAX_VALUES - 1) nm->thresholds[nm->nthr++] = k->just_lt;
  }
  if (k->unless) collect_cond(nm, k->unless);
}

static void collect_policy(named *nm, const fb_policy *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nrules; i++) {
    const rule *r = &p->rules[i];
    collect_cond(nm, &r->c);
    nm->tags |= r->filter.tags;
    nm->types |= r->filter.type;
    for (size_t j = 0; j < r->filter.nationality.n; j++) names_add(&nm->nat, r->filter.nationality.v[j]);
  }
}

/* ---- axes ----------------------------------------------------------------- */

static pv_axis *add_axis(pv_space *s, axis_kind kind, int ref) {
  if (s->naxes == PV_MAX_AXES) return NULL;
  pv_axis *a = &s->axes[s->naxes++];
  memset(a, 0, sizeof *a);
  a->kind = kind;
  a->ref = ref;
  return a;
}

static void axis_value(pv_axis *a, const char *v) {
  if (a->n < PV_MAX_VALUES) a->values[a->n++] = fb_xstrdup(v);
}

static void axis_values_sorted(pv_axis *a, names *nm, const char *other) {
  if (nm->n) qsort(nm->v, nm->n, sizeof(char *), cmp_str);
  for (size_t i = 0; i < nm->n; i++) axis_value(a, nm->v[i]);
  axis_value(a, other);
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

/* Values and constraints of the single-valued request dimensions. */
typedef struct {
  void (*values)(pv_space *s, pv_axis *a, named *nm);
  uint64_t (*mask)(const pv_space *s, const pv_axis *a, const cond *k);
} enum_axis_def;

static void vocab_values(pv_axis *a, vocab v) {
  for (int i = 0; fb_vocab[v][i]; i++) axis_value(a, fb_vocab[v][i]);
}
static void purpose_values(pv_space *s, pv_axis *a, named *nm) { (void)s, (void)nm, vocab_values(a, V_PURPOSE); }
static void priority_values(pv_space *s, pv_axis *a, named *nm) { (void)s, (void)nm, vocab_values(a, V_PRIORITY); }
static void basis_values(pv_space *s, pv_axis *a, named *nm) { (void)s, (void)nm, vocab_values(a, V_LEGAL_BASIS); }
static void from_values(pv_space *s, pv_axis *a, named *nm) { (void)s, axis_values_sorted(a, &nm->from, "other"); }
static void agency_values(pv_space *s, pv_axis *a, named *nm) { (void)s, axis_values_sorted(a, &nm->agency, "other"); }
static void case_values(pv_space *s, pv_axis *a, named *nm) {
  (void)s, (void)nm;
  axis_value(a, "absent");
  axis_value(a, "present");
}
static void formal_values(pv_space *s, pv_axis *a, named *nm) {
  (void)s, (void)nm;
  axis_value(a, "search");
  axis_value(a, "follow-up");
}
static void just_values(pv_space *s, pv_axis *a, named *nm) {
  qsort(nm->thresholds, nm->nthr, sizeof(long), cmp_long);
  s->just_lo[0] = 0;
  char buf[64];
  for (size_t i = 0; i <= nm->nthr; i++) {
    long lo = i ? nm->thresholds[i - 1] : 0;
    s->just_lo[i] = lo;
    if (nm->nthr == 0) snprintf(buf, sizeof buf, "any length");
    else if (i == 0) snprintf(buf, sizeof buf, "shorter than %ld characters", nm->thresholds[0]);
    else if (i == nm->nthr) snprintf(buf, sizeof buf, "of at least %ld characters", lo);
    else snprintf(buf, sizeof buf, "of %ld to %ld characters", lo, nm->thresholds[i] - 1);
    axis_value(a, buf);
  }
}

static uint64_t purpose_mask(const pv_space *s, const pv_axis *a, const cond *k) { (void)s, (void)a; return k->purpose; }
static uint64_t priority_mask(const pv_space *s, const pv_axis *a, const cond *k) { (void)s, (void)a; return k->priority; }
static uint64_t basis_mask(const pv_space *s, const pv_axis *a, const cond *k) { (void)s, (void)a; return k->legal_basis; }
static uint64_t set_mask(const pv_axis *a, const strset *set) {
  uint64_t m = 0;
  for (size_t i = 0; i < set->n; i++)
    for (size_t v = 0; v + 1 < a->n; v++) /* the last value, "other", is never named */
      if (strcmp(a->values[v], set->v[i]) == 0) m |= 1ull << v;
  return m;
}
static uint64_t from_mask(const pv_space *s, const pv_axis *a, const cond *k) {
  (void)s;
  if (!k->from.n) return 0;
  uint64_t m = set_mask(a, &k->from);
  return m ? m : 1ull << 63; /* named but not a value: matches nothing (cannot happen) */
}
static uint64_t agency_mask(const pv_space *s, const pv_axis *a, const cond *k) {
  (void)s;
  if (!k->agency.n) return 0;
  uint64_t m = set_mask(a, &k->agency);
  return m ? m : 1ull << 63;
}
static uint64_t case_mask(const pv_space *s, const pv_axis *a, const cond *k) {
  (void)s, (void)a;
  return k->case_ref < 0 ? 0 : 1ull << k->case_ref;
}
static uint64_t formal_mask(const pv_space *s, const pv_axis *a, const cond *k) {
  (void)s, (void)a;
  return k->formal < 0 ? 0 : 1ull << k->formal;
}
static uint64_t just_mask(const pv_space *s, const pv_axis *a, const cond *k) {
  if (!k->just_lt) return 0;
  uint64_t m = 0;
  for (size_t i = 0; i < a->n; i++)
    if (s->just_lo[i] < k->just_lt) m |= 1ull << i;
  return m;
}

/* One entry per condition on a closed vocabulary: how it is enumerated and how a
 * rule constrains it (here), how it is named and described (pv_enum_info_of). */
static const enum_axis_def enum_axes[AX_NENUM] = {
    [AX_PURPOSE] = {purpose_values, purpose_mask},
    [AX_PRIORITY] = {priority_values, priority_mask},
    [AX_BASIS] = {basis_values, basis_mask},
    [AX_FROM] = {from_values, from_mask},
    [AX_AGENCY] = {agency_values, agency_mask},
    [AX_CASE_REF] = {case_values, case_mask},
    [AX_FORMAL] = {formal_values, formal_mask},
    [AX_JUST] = {just_values, just_mask},
};
static const char *const case_phrases[] = {"without a case reference", "with a case reference"};
static const char *const formal_phrases[] = {"as a search", "as a formal follow-up request"};
const pv_enum_info pv_enum_info_of[AX_NENUM] = {
    [AX_PURPOSE] = {"purpose", "purpose", true, NULL},
    [AX_PRIORITY] = {"priority", "priority", true, NULL},
    [AX_BASIS] = {"legal_basis", "legal basis", true, NULL},
    [AX_FROM] = {"from", "from", true, NULL},
    [AX_AGENCY] = {"agency", "agency", false, NULL},
    [AX_CASE_REF] = {"case_ref", "case reference", false, case_phrases},
    [AX_FORMAL] = {"formal", "kind of request", false, formal_phrases},
    [AX_JUST] = {"justification", "justification", false, NULL},
};

/* ---- `when` ------------------------------------------------------------------ */

/* The `when` function's fingerprint (prove_fingerprint.c); NULL when it cannot be
 * written down (then it is never taken to be the same as another). */
static char *when_print(fb_policy *p, int ref, size_t *len) {
  lua_State *L = fb_sandbox_state(p->sb);
  pthread_mutex_lock(p->lua_mu); /* a live policy's state: decisions use it meanwhile */
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  char *fp = lua_type(L, -1) == LUA_TFUNCTION ? pv_fingerprint(L, -1, len) : NULL;
  lua_settop(L, top);
  pthread_mutex_unlock(p->lua_mu);
  return fp;
}

typedef struct {
  const fb_policy *p;
  const rule *r;
  const char *in;
  int ref;
  char *print; /* binary: compare with plen */
  size_t plen;
  int var;
} when_use;

typedef struct {
  when_use *v;
  size_t n;
} when_uses;

static void collect_whens(when_uses *w, fb_policy *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nrules; i++) {
    const rule *r = &p->rules[i];
    for (int u = 0; u < 2; u++) {
      const cond *k = u ? r->c.unless : &r->c;
      if (!k || k->when_ref == LUA_NOREF) continue;
      w->v = fb_xrealloc(w->v, (w->n + 1) * sizeof(when_use));
      when_use *x = &w->v[w->n++];
      *x = (when_use){p, r, u ? "unless" : "when", k->when_ref, NULL, 0, -1};
      x->print = when_print(p, k->when_ref, &x->plen);
    }
  }
}

static void when_uses_free(when_uses *w) {
  for (size_t i = 0; i < w->n; i++) free(w->v[i].print);
  free(w->v);
}

/* Gives every `when` of both versions a variable: a rule of the same policy and name
 * whose function is the same in both versions shares one. */
static int assign_whens(pv_space *s, when_uses *old, when_uses *new, char **err) {
  for (int side = 0; side < 2; side++) {
    when_uses *w = side ? new : old;
    for (size_t i = 0; i < w->n; i++) {
      when_use *u = &w->v[i];
      if (side == 1)
        for (size_t j = 0; j < old->n && u->var < 0; j++) {
          when_use *o = &old->v[j];
          if (o->print && u->print && o->plen == u->plen && memcmp(o->print, u->print, o->plen) == 0 &&
              strcmp(o->p->code, u->p->code) == 0 && strcmp(o->r->name, u->r->name) == 0 &&
              strcmp(o->in, u->in) == 0) {
            u->var = o->var;
            s->whens[o->var].versions = 3;
          }
        }
      if (u->var >= 0) continue;
      if (s->nwhen == FB_PROVE_MAX_WHEN) {
        return fb_set_error(err, "more than %d rules with `when` in the two versions: the space is too "
                            "large to enumerate", FB_PROVE_MAX_WHEN);
      }
      u->var = (int)s->nwhen;
      s->whens[s->nwhen++] = (pv_when){fb_xstrdup(u->p->code), fb_xstrdup(u->r->name), u->in, side ? 2 : 1};
    }
  }
  return 0;
}

/* ---- the versions, compiled against the space ------------------------------ */

typedef struct pcond {
  uint64_t m[AX_NENUM]; /* allowed values; 0: no condition */
  uint32_t subject, roles;
  int when;             /* variable, -1 none */
  struct pcond *unless;
} pcond;

typedef struct {
  const rule *r;
  const fb_policy *p;
  pcond c;
  uint64_t nat; /* record filter nationalities as values of the nationality axis */
} prule;

typedef struct {
  prule *adm, *rec;
  size_t nadm, nrec;
} pver;

typedef struct {
  const pv_space *s;
  const size_t *enum_at;    /* axis index of each enum axis */
  int nat_axis;
  const when_uses *whens;
} compile_ctx;

static int when_var(const compile_ctx *cc, const rule *r, int ref) {
  for (size_t i = 0; i < cc->whens->n; i++)
    if (cc->whens->v[i].r == r && cc->whens->v[i].ref == ref) return cc->whens->v[i].var;
  return -1;
}

static void compile_cond(const compile_ctx *cc, const rule *r, const cond *k, pcond *out) {
  memset(out, 0, sizeof *out);
  for (int d = 0; d < AX_NENUM; d++)
    out->m[d] = enum_axes[d].mask(cc->s, &cc->s->axes[cc->enum_at[d]], k);
  out->subject = k->subject;
  for (size_t i = 0; i < k->role.n; i++)
    out->roles |= 1u << role_bit(k->role.v[i]);
  out->when = k->when_ref == LUA_NOREF ? -1 : when_var(cc, r, k->when_ref);
  if (k->unless) {
    out->unless = fb_xmalloc(sizeof *out->unless);
    compile_cond(cc, r, k->unless, out->unless);
  }
}

static void add_prule(const compile_ctx *cc, prule **v, size_t *n, const fb_policy *p, const rule *r) {
  *v = fb_xrealloc(*v, (*n + 1) * sizeof(prule));
  prule *pr = &(*v)[(*n)++];
  pr->r = r;
  pr->p = p;
  compile_cond(cc, r, &r->c, &pr->c);
  pr->nat = 0;
  if (r->filter.nationality.n && cc->nat_axis >= 0)
    pr->nat = set_mask(&cc->s->axes[cc->nat_axis], &r->filter.nationality);
}

static void compile_version(const compile_ctx *cc, const version *v, pver *out) {
  memset(out, 0, sizeof *out);
  const fb_policy *ps[2] = {v->common, v->state};
  for (int i = 0; i < 2; i++) {
    const fb_policy *p = ps[i];
    if (!p) continue;
    for (size_t j = 0; j < p->nrules; j++) {
      const rule *r = &p->rules[j];
      if (rule_is_admission(r->kind)) {
        if (i == 0 && r->kind != RK_DENY) continue; /* common decides by deny only */
        add_prule(cc, &out->adm, &out->nadm, p, r);
      } else if (rule_is_record(r->kind)) {
        add_prule(cc, &out->rec, &out->nrec, p, r);
      } /* outbound rules act on the requesting state's searches: see outbound_unknown */
    }
  }
}

static void pcond_free(pcond *c) {
  if (c->unless) {
    pcond_free(c->unless);
    free(c->unless);
  }
}

static void pver_free(pver *v) {
  for (size_t i = 0; i < v->nadm; i++) pcond_free(&v->adm[i].c);
  for (size_t i = 0; i < v->nrec; i++) pcond_free(&v->rec[i].c);
  free(v->adm);
  free(v->rec);
}

/* ---- deciding a point --------------------------------------------------------- */

typedef struct {
  uint8_t e[AX_NENUM];
  uint32_t subject, roles, when;
} qpt;

static bool pmatch(const pcond *c, const qpt *q) {
  for (int d = 0; d < AX_NENUM; d++)
    if (c->m[d] && !(c->m[d] >> q->e[d] & 1)) return false;
  if (c->subject && !(c->subject & q->subject)) return false;
  if (c->roles && !(c->roles & q->roles)) return false;
  if (c->unless && pmatch(c->unless, q)) return false;
  if (c->when >= 0 && !(q->when >> c->when & 1)) return false;
  return true;
}

typedef struct {
  int effect;
  bool review;
  const prule *by; /* NULL: default_deny */
} adm_out;

static adm_out decide(const pver *v, const qpt *q) {
  for (size_t i = 0; i < v->nadm; i++) {
    const prule *pr = &v->adm[i];
    if (!pmatch(&pr->c, q)) continue;
    int e = pr->r->kind == RK_ALLOW ? FB_EFFECT_ALLOW : pr->r->kind == RK_HIT_ONLY ? FB_EFFECT_HIT_ONLY
                                                                                 : FB_EFFECT_DENY;
    return (adm_out){e, pr->r->review, pr};
  }
  return (adm_out){FB_EFFECT_DENY, false, NULL};
}

static uint64_t plan(const pver *v, const qpt *q) {
  uint64_t m = 0;
  for (size_t i = 0; i < v->nrec; i++)
    if (pmatch(&v->rec[i].c, q)) m |= 1ull << i;
  return m;
}

/* ---- records ---------------------------------------------------------------- */

#define NFIELDS PV_NFIELDS

typedef struct {
  uint32_t tags, type; /* V_TAGS bits; V_TYPE bit or 0 when no rule names a type */
  int nat;             /* value of the nationality axis, -1 when there is none */
} rec_class;

typedef struct {
  const prule *drop_by;
  int act[NFIELDS];    /* -1 shown, else the least revealing action applied */
  const prule *by[NFIELDS];
} rec_out;

/* How much of a value an action leaves readable; composing actions keeps the least. */
static int reveal_level(int act) {
  switch (act) {
  case -1: return 4;
  case A_YEAR:
  case A_INITIALS: return 3;
  case A_HASH: return 2;
  case A_MASK: return 1;
  default: return 0; /* remove */
  }
}

static bool filter_hits(const prule *pr, const rec_class *rc) {
  const record_filter *f = &pr->r->filter;
  return (f->tags == 0 || (f->tags & rc->tags)) && (f->type == 0 || (f->type & rc->type)) &&
         (f->nationality.n == 0 || (rc->nat >= 0 && (pr->nat >> rc->nat & 1)));
}

static void record_outcome(const pver *v, uint64_t pl, const rec_class *rc, rec_out *o) {
  o->drop_by = NULL;
  for (int f = 0; f < NFIELDS; f++) o->act[f] = -1, o->by[f] = NULL;
  for (size_t i = 0; i < v->nrec; i++) {
    if (!(pl >> i & 1)) continue;
    const prule *pr = &v->rec[i];
    if (pr->r->kind == RK_DROP && !o->drop_by && filter_hits(pr, rc)) o->drop_by = pr;
  }
  if (o->drop_by) return;
  for (size_t i = 0; i < v->nrec; i++) {
    const prule *pr = &v->rec[i];
    if (!(pl >> i & 1) || pr->r->kind != RK_REDACT || !filter_hits(pr, rc)) continue;
    for (int f = 0; f < NFIELDS; f++)
      if ((pr->r->field_mask >> f & 1) && reveal_level((int)pr->r->action) < reveal_level(o->act[f])) {
        o->act[f] = (int)pr->r->action;
        o->by[f] = pr;
      }
  }
}

static long plan_limit(const pver *v, uint64_t pl, const prule **by) {
  long lim = -1;
  *by = NULL;
  for (size_t i = 0; i < v->nrec; i++) {
    const prule *pr = &v->rec[i];
    if ((pl >> i & 1) && pr->r->kind == RK_LIMIT && (lim < 0 || pr->r->max_records < lim)) {
      lim = pr->r->max_records;
      *by = pr;
    }
  }
  return lim;
}

/* ---- labels ------------------------------------------------------------------- */

static const char *rule_name(const prule *pr) { return pr ? pr->r->name : NULL; }
static const char *rule_policy(const prule *pr) { return pr ? pr->p->code : NULL; }

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static uint32_t label_id(pv_space *s, const pv_label *l) {
  for (size_t i = s->nlabels; i-- > 0;) {
    const pv_label *x = &s->labels[i];
    if (x->kind == l->kind && x->old_v == l->old_v && x->new_v == l->new_v &&
        x->old_review == l->old_review && x->new_review == l->new_review &&
        str_eq(x->old_rule, l->old_rule) && str_eq(x->new_rule, l->new_rule) &&
        str_eq(x->old_policy, l->old_policy) && str_eq(x->new_policy, l->new_policy))
      return (uint32_t)i;
  }
  s->labels = fb_xrealloc(s->labels, (s->nlabels + 1) * sizeof(pv_label));
  s->labels[s->nlabels] = *l;
  return (uint32_t)s->nlabels++;
}

static pv_label make_label(label_kind kind, long ov, long nv, const prule *ob, const prule *nb) {
  return (pv_label){.kind = kind, .old_v = ov, .new_v = nv, .old_rule = rule_name(ob),
                    .new_rule = rule_name(nb), .old_policy = rule_policy(ob), .new_policy = rule_policy(nb)};
}

/* ---- record differences of one pair of plans ------------------------------------ */

#define NO_PAIR PV_NONE
#define NO_LABEL PV_NONE
#define CELL_NONE PV_CELL_NONE
#define CELL_DC PV_CELL_DC

typedef struct {
  uint64_t po, pn;
  bool used;
  uint32_t id;
  int32_t limit_label;  /* CELL_NONE or a label */
  int32_t *cells;       /* per record class: NFIELDS field cells, then the drop cell */
  fb_boxes rec;         /* record-side differences (request axes full) */
  fb_boxes req;         /* request points with this pair, both allowed */
} plan_pair;

typedef struct {
  pv_space *s;
  const pver *old, *new;
  uint64_t full[PV_MAX_AXES];
  int tag_axis0, ntag_axes, type_axis, nat_axis, field_axis;
  size_t nclasses;
} rec_ctx;

static size_t class_index(const rec_ctx *rc, uint32_t tagbits, size_t ty, size_t na) {
  size_t ntype = rc->type_axis >= 0 ? 2 : 1;
  return tagbits + ((size_t)1 << rc->ntag_axes) * (ty + ntype * na);
}

static void record_diffs(rec_ctx *rc, plan_pair *pp) {
  pv_space *s = rc->s;
  fb_boxes_init(&pp->rec, s->naxes);
  fb_boxes_init(&pp->req, s->naxes);
  pp->cells = fb_xmalloc(rc->nclasses * (NFIELDS + 1) * sizeof(int32_t));
  uint64_t box[PV_MAX_AXES];
  const prule *ob, *nb;
  long ol = plan_limit(rc->old, pp->po, &ob), nl = plan_limit(rc->new, pp->pn, &nb);
  pp->limit_label = CELL_NONE;
  if (ol != nl) {
    pv_label l = make_label(L_LIMIT, ol, nl, ob, nb);
    l.change = (nl < 0 || (ol >= 0 && nl > ol)) ? 1 : -1;
    pp->limit_label = (int32_t)label_id(s, &l);
    fb_boxes_add(&pp->rec, rc->full, (uint32_t)pp->limit_label);
  }
  size_t ntype = rc->type_axis >= 0 ? 2 : 1;
  size_t nnat = rc->nat_axis >= 0 ? s->axes[rc->nat_axis].n : 1;
  for (uint32_t tagbits = 0; tagbits < (1u << rc->ntag_axes); tagbits++)
    for (size_t ty = 0; ty < ntype; ty++)
      for (size_t na = 0; na < nnat; na++) {
        int32_t *cell = pp->cells + class_index(rc, tagbits, ty, na) * (NFIELDS + 1);
        rec_class cls = {0, rc->type_axis >= 0 ? 1u << ty : 0, rc->nat_axis >= 0 ? (int)na : -1};
        for (int t = 0; t < rc->ntag_axes; t++)
          if (tagbits >> t & 1) cls.tags |= 1u << s->axes[rc->tag_axis0 + t].ref;
        rec_out o, n;
        record_outcome(rc->old, pp->po, &cls, &o);
        record_outcome(rc->new, pp->pn, &cls, &n);
        memcpy(box, rc->full, sizeof box);
        for (int t = 0; t < rc->ntag_axes; t++) box[rc->tag_axis0 + t] = 1ull << (tagbits >> t & 1);
        if (rc->type_axis >= 0) box[rc->type_axis] = 1ull << ty;
        if (rc->nat_axis >= 0) box[rc->nat_axis] = 1ull << na;
        cell[NFIELDS] = CELL_NONE;
        for (int f = 0; f < NFIELDS; f++) cell[f] = o.drop_by || n.drop_by ? CELL_DC : CELL_NONE;
        if (!o.drop_by != !n.drop_by) {
          pv_label l = make_label(L_DROP, !o.drop_by, !n.drop_by, o.drop_by, n.drop_by);
          l.change = n.drop_by ? -1 : 1;
          cell[NFIELDS] = (int32_t)label_id(s, &l);
          fb_boxes_add(&pp->rec, box, (uint32_t)cell[NFIELDS]);
          continue;
        }
        if (o.drop_by) continue;
        for (int f = 0; f < NFIELDS; f++) {
          int lo = reveal_level(o.act[f]), ln = reveal_level(n.act[f]);
          if (lo == ln) continue;
          pv_label l = make_label(L_FIELD, o.act[f], n.act[f], o.by[f], n.by[f]);
          l.change = ln > lo ? 1 : -1;
          cell[f] = (int32_t)label_id(s, &l);
          box[rc->field_axis] = 1ull << f;
          fb_boxes_add(&pp->rec, box, (uint32_t)cell[f]);
        }
      }
  fb_boxes_merge(&pp->rec);
}

/* A small open-addressing table of plan pairs. */
typedef struct {
  plan_pair *v;
  size_t cap, n;
} pair_table;

static plan_pair *pair_get(pair_table *t, rec_ctx *rc, uint64_t po, uint64_t pn) {
  if (t->n * 2 >= t->cap) {
    pair_table nt = {fb_xcalloc(t->cap ? t->cap * 2 : 64, sizeof(plan_pair)), t->cap ? t->cap * 2 : 64, t->n};
    for (size_t i = 0; i < t->cap; i++)
      if (t->v[i].used) {
        size_t h = (size_t)((t->v[i].po * 0x9E3779B97F4A7C15ull) ^ (t->v[i].pn * 0xC2B2AE3D27D4EB4Full)) & (nt.cap - 1);
        while (nt.v[h].used) h = (h + 1) & (nt.cap - 1);
        nt.v[h] = t->v[i];
      }
    free(t->v);
    *t = nt;
  }
  size_t h = (size_t)((po * 0x9E3779B97F4A7C15ull) ^ (pn * 0xC2B2AE3D27D4EB4Full)) & (t->cap - 1);
  while (t->v[h].used && !(t->v[h].po == po && t->v[h].pn == pn)) h = (h + 1) & (t->cap - 1);
  if (!t->v[h].used) {
    t->v[h] = (plan_pair){.po = po, .pn = pn, .used = true, .id = (uint32_t)t->n};
    record_diffs(rc, &t->v[h]);
    t->n++;
  }
  return &t->v[h];
}

static void pair_table_free(pair_table *t) {
  for (size_t i = 0; i < t->cap; i++)
    if (t->v[i].used) {
      fb_boxes_free(&t->v[i].rec);
      fb_boxes_free(&t->v[i].req);
      free(t->v[i].cells);
    }
  free(t->v);
}

/* ---- the proof of one state -------------------------------------------------- */

static void space_free(pv_space *s) {
  for (size_t i = 0; i < s->naxes; i++)
    for (size_t v = 0; v < s->axes[i].n; v++) free(s->axes[i].values[v]);
  for (size_t i = 0; i < s->nwhen; i++) {
    free(s->whens[i].policy);
    free(s->whens[i].rule);
  }
  free(s->labels);
  fb_boxes_free(&s->regions);
}

static void bool_axis(pv_space *s, axis_kind k, int ref, const char *no, const char *yes) {
  pv_axis *a = add_axis(s, k, ref);
  if (!a) return;
  axis_value(a, no);
  axis_value(a, yes);
}

/* Builds the axes from what the versions name; `known` are the states of both
 * directories. */
static int build_space(pv_space *s, const version *ov, const version *nv, const char *const *known,
                       size_t nknown, when_uses *wo, when_uses *wn, size_t *enum_at, rec_ctx *rc,
                       char **err) {
  named nm = {0};
  collect_policy(&nm, ov->common);
  collect_policy(&nm, ov->state);
  collect_policy(&nm, nv->common);
  collect_policy(&nm, nv->state);
  for (size_t i = 0; i < nknown; i++) names_add(&nm.from, known[i]);
  int rcode = 0;
  if (nm.from.n + 1 > PV_MAX_VALUES || nm.agency.n + 1 > PV_MAX_VALUES || nm.nat.n + 1 > PV_MAX_VALUES) {
    rcode = fb_set_error(err, "more than 63 states, agencies or nationalities are named: too many to enumerate");
    goto done;
  }
  for (int d = 0; d < AX_NENUM; d++) {
    enum_at[d] = s->naxes;
    enum_axes[d].values(s, add_axis(s, AXK_ENUM, d), &nm);
  }
  uint32_t atom[32];
  for (size_t i = 0, n = atoms(&nm.subject, atom); i < n; i++) bool_axis(s, AXK_SUBJECT, (int)atom[i], "no", "yes");
  for (size_t i = 0, n = atoms(&nm.roles, atom); i < n; i++) bool_axis(s, AXK_ROLE, (int)atom[i], "no", "yes");
  collect_whens(wo, ov->common);
  collect_whens(wo, ov->state);
  collect_whens(wn, nv->common);
  collect_whens(wn, nv->state);
  if (assign_whens(s, wo, wn, err) != 0) {
    rcode = -1;
    goto done;
  }
  for (size_t i = 0; i < s->nwhen; i++) bool_axis(s, AXK_WHEN, (int)i, "false", "true");
  s->nreq = s->naxes;
  rc->tag_axis0 = (int)s->naxes;
  rc->ntag_axes = 0;
  for (int i = 0; fb_vocab[V_TAGS][i]; i++)
    if (nm.tags >> i & 1) {
      bool_axis(s, AXK_TAG, i, "no", "yes");
      rc->ntag_axes++;
    }
  rc->type_axis = -1;
  if (nm.types) {
    rc->type_axis = (int)s->naxes;
    pv_axis *a = add_axis(s, AXK_TYPE, 0);
    vocab_values(a, V_TYPE);
  }
  rc->nat_axis = -1;
  if (nm.nat.n) {
    rc->nat_axis = (int)s->naxes;
    axis_values_sorted(add_axis(s, AXK_NAT, 0), &nm.nat, "other");
  }
  rc->nclasses = ((size_t)1 << rc->ntag_axes) * (rc->type_axis >= 0 ? 2 : 1) *
                 (rc->nat_axis >= 0 ? s->axes[rc->nat_axis].n : 1);
  rc->field_axis = (int)s->naxes;
  vocab_values(add_axis(s, AXK_FIELD, 0), V_FIELD);
  if (s->naxes >= PV_MAX_AXES) {
    rcode = fb_set_error(err, "the policies name too many conditions to enumerate");
    goto done;
  }
  /* Requests covered: subject fields and roles as their non-empty subsets. */
  s->space = 63.0 * (double)((1u << FB_ROLE_COUNT) - 1);
  for (int d = 0; d < AX_NENUM; d++) s->space *= (double)s->axes[enum_at[d]].n;
  s->record_classes = 64.0 * 2.0 * (rc->nat_axis >= 0 ? (double)s->axes[rc->nat_axis].n : 1.0);
  s->evaluated = 1;
  for (size_t i = 0; i < s->nreq; i++) s->evaluated *= (double)s->axes[i].n;
  if (s->evaluated > (double)FB_PROVE_MAX_POINTS)
    rcode = fb_set_error(err, "the request space is too large to enumerate (too many `when` rules or named values)");
done:
  names_free(&nm.from);
  names_free(&nm.agency);
  names_free(&nm.nat);
  return rcode;
}

static void point_to_qpt(const pv_space *s, const uint8_t *pt, const size_t *enum_at, qpt *q) {
  for (int d = 0; d < AX_NENUM; d++) q->e[d] = pt[enum_at[d]];
  q->subject = q->roles = q->when = 0;
  for (size_t i = 0; i < s->nreq; i++) {
    if (!pt[i]) continue;
    switch (s->axes[i].kind) {
    case AXK_SUBJECT: q->subject |= (uint32_t)s->axes[i].ref; break; /* any one bit would do */
    case AXK_ROLE: q->roles |= (uint32_t)s->axes[i].ref; break;
    case AXK_WHEN: q->when |= 1u << s->axes[i].ref; break;
    default: break;
    }
  }
}

static int effect_rank(int e) { return e == FB_EFFECT_ALLOW ? 2 : e == FB_EFFECT_HIT_ONLY ? 1 : 0; }

/* Adds a point, merging now and then so that memory follows the regions, not the
 * points (a change that flips the whole space is one region, not millions of boxes). */
static void add_compacting(fb_boxes *b, const uint64_t *box, uint32_t label) {
  fb_boxes_add(b, box, label);
  if (b->n >= 65536 && (b->n & (b->n - 1)) == 0) fb_boxes_merge(b);
}

static void enumerate(pv_space *s, const pver *old, const pver *new, const size_t *enum_at,
                      rec_ctx *rc) {
  uint8_t pt[PV_MAX_AXES] = {0};
  uint64_t box[PV_MAX_AXES];
  pair_table pairs = {0};
  bool records = old->nrec || new->nrec;
  bool grow = s->evaluated <= (double)PV_GROW_MAX_POINTS;
  uint32_t *req_pair = grow ? fb_xmalloc((size_t)s->evaluated * sizeof(uint32_t)) : NULL;
  uint32_t *adm_label = grow ? fb_xmalloc((size_t)s->evaluated * sizeof(uint32_t)) : NULL;
  size_t r = 0;
  for (;; r++) {
    qpt q;
    point_to_qpt(s, pt, enum_at, &q);
    adm_out o = decide(old, &q), n = decide(new, &q);
    memcpy(box, rc->full, sizeof box);
    for (size_t i = 0; i < s->nreq; i++) box[i] = 1ull << pt[i];
    if (grow) req_pair[r] = NO_PAIR, adm_label[r] = NO_LABEL;
    if (o.effect != n.effect || o.review != n.review) {
      pv_label l = make_label(L_ADMISSION, o.effect, n.effect, o.by, n.by);
      l.old_review = o.review;
      l.new_review = n.review;
      int d = effect_rank(n.effect) - effect_rank(o.effect);
      l.change = d ? (d > 0 ? 1 : -1) : (o.review ? 1 : -1); /* a review dropped widens */
      uint32_t id = label_id(s, &l);
      add_compacting(&s->regions, box, id);
      if (grow) adm_label[r] = id;
    } else if (records && o.effect == FB_EFFECT_ALLOW) {
      plan_pair *pp = pair_get(&pairs, rc, plan(old, &q), plan(new, &q));
      if (pp->rec.n) add_compacting(&pp->req, box, 0);
      if (grow) req_pair[r] = pp->id;
    }
    size_t i = 0;
    for (; i < s->nreq; i++) {
      if (++pt[i] < s->axes[i].n) break;
      pt[i] = 0;
    }
    if (i == s->nreq) break;
  }
  /* Each pair's request region times its record differences, then one last merge
   * over every axis. */
  for (size_t p = 0; p < pairs.cap; p++) {
    plan_pair *pp = &pairs.v[p];
    if (!pp->used || !pp->req.n) continue;
    fb_boxes_merge(&pp->req);
    for (size_t a = 0; a < pp->req.n; a++)
      for (size_t b = 0; b < pp->rec.n; b++) {
        memcpy(box, fb_box(&pp->rec, b), s->naxes * sizeof(uint64_t));
        memcpy(box, fb_box(&pp->req, a), s->nreq * sizeof(uint64_t));
        add_compacting(&s->regions, box, pp->rec.label[b]);
      }
  }
  fb_boxes_merge(&s->regions);
  if (grow) {
    pv_points pts = {.s = s, .adm_label = adm_label, .req_pair = req_pair, .field_axis = rc->field_axis};
    pv_pair_cells *cells = fb_xcalloc(pairs.n ? pairs.n : 1, sizeof *cells);
    for (size_t p = 0; p < pairs.cap; p++)
      if (pairs.v[p].used) cells[pairs.v[p].id] = (pv_pair_cells){pairs.v[p].cells, pairs.v[p].limit_label};
    pts.pairs = cells;
    size_t stride = 1;
    for (size_t i = 0; i < s->nreq; i++) {
      pts.stride[i] = stride;
      stride *= s->axes[i].n;
    }
    /* the record class index of class_index(): tags, then type, then nationality */
    for (int t = 0; t < rc->ntag_axes; t++) pts.cstride[rc->tag_axis0 + t] = (size_t)1 << t;
    if (rc->type_axis >= 0) pts.cstride[rc->type_axis] = (size_t)1 << rc->ntag_axes;
    if (rc->nat_axis >= 0) pts.cstride[rc->nat_axis] = ((size_t)1 << rc->ntag_axes) * (rc->type_axis >= 0 ? 2 : 1);
    pv_grow_regions(&pts, &s->regions);
    free(cells);
  }
  free(req_pair);
  free(adm_label);
  pair_table_free(&pairs);
}

/* The state's outbound rules decide what its own officers may send to others, not what
 * it answers: the proof does not cover them, and says so for each one either version
 * has. */
static void outbound_unknown(json_t *unknown, const char *code, const fb_policy *old, const fb_policy *new) {
  const fb_policy *side[2] = {old, new};
  for (int v = 0; v < 2; v++) {
    if (!side[v]) continue;
    for (size_t i = 0; i < side[v]->nrules; i++) {
      const rule *r = &side[v]->rules[i];
      if (!rule_is_outbound(r->kind)) continue;
      bool both = false;
      const fb_policy *other = side[1 - v];
      for (size_t j = 0; other && j < other->nrules; j++)
        both |= other->rules[j].kind == r->kind && strcmp(other->rules[j].name, r->name) == 0;
      if (both && v == 1) continue; /* listed once, from the old side */
      json_array_append_new(unknown, json_pack("{s:s, s:s, s:s, s:s, s:s}", "state", code, "policy",
                                               side[v]->code, "rule", r->name, "in", "outbound", "version",
                                               both ? "both" : v ? "new" : "old"));
    }
  }
}

json_t *fb_prove_state(fb_policy *old_common, fb_policy *old_state, fb_policy *new_common,
                       fb_policy *new_state, const char *code, const char *const *known,
                       size_t nknown, char **err) {
  pv_space *s = fb_xcalloc(1, sizeof *s);
  s->state = code;
  version ov = {old_common, old_state}, nv = {new_common, new_state};
  when_uses wo = {0}, wn = {0};
  size_t enum_at[AX_NENUM];
  rec_ctx rc = {.s = s};
  json_t *out = NULL;
  if (build_space(s, &ov, &nv, known, nknown, &wo, &wn, enum_at, &rc, err) == 0) {
    fb_boxes_init(&s->regions, s->naxes);
    for (size_t i = 0; i < s->naxes; i++)
      rc.full[i] = s->axes[i].n == 64 ? ~0ull : (1ull << s->axes[i].n) - 1;
    compile_ctx oc = {s, enum_at, rc.nat_axis, &wo}, ncx = {s, enum_at, rc.nat_axis, &wn};
    pver old, new;
    compile_version(&oc, &ov, &old);
    compile_version(&ncx, &nv, &new);
    if (old.nrec > 64 || new.nrec > 64) { /* a plan is a 64-bit set of record rules */
      fb_set_error(err, "more than 64 record rules in common.lua and one state's file: too many to compare");
    } else {
      rc.old = &old;
      rc.new = &new;
      enumerate(s, &old, &new, enum_at, &rc);
      out = pv_report(s);
      outbound_unknown(json_object_get(out, "unknown"), code, old_state, new_state);
    }
    pver_free(&old);
    pver_free(&new);
  }
  when_uses_free(&wo);
  when_uses_free(&wn);
  space_free(s);
  free(s);
  return out;
}
