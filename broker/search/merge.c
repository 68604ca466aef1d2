#include "search/merge.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/normalize.h"
#include "core/util.h"
#include "core/vocab.h"

#define NAME_LINK 0.85
#define MAX_NAMES 4       /* name + first aliases compared per record */
#define BLOCK_CAP 500     /* a name block larger than this is not compared pairwise */
#define SINGLE_SCORE 0.5

enum { EV_DOCUMENT = 1, EV_PHONE = 2, EV_IMO = 4, EV_NAME = 8, EV_DOB = 16 };
static const char *const ev_names[] = {"document", "phone", "imo", "name", "dob"};

enum { R_NAME = 1, R_ALIASES = 2, R_DOB = 4, R_DOCUMENTS = 8, R_PHONES = 16, R_VESSEL = 32 };

typedef struct {
  json_t *json; /* borrowed input record */
  const char *state, *id;
  bool vessel;
  fb_name_key names[MAX_NAMES];
  int nnames;
  int dob_year;
  char dob[11]; /* full date when known, else "" */
  char imo[8];
  char vname[64];
} rec;

/* An exact key: document (with country), phone, IMO or vessel name. */
enum { K_DOCUMENT, K_PHONE, K_IMO, K_VNAME };
typedef struct {
  uint8_t kind;
  char key[47];
  char country[4];
  uint32_t r;
} xkey;

typedef struct {
  char key[8]; /* token prefix */
  uint32_t r;
} block;

typedef struct {
  uint32_t a, b; /* a < b */
  unsigned ev;
  double name_sim;
  double score;
} edge;

typedef struct {
  void *v;
  size_t n, cap, size;
} vec;

static void *vec_push(vec *v) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->v = fb_xrealloc(v->v, v->cap * v->size);
  }
  return (char *)v->v + v->size * v->n++;
}

static bool masked(const char *s) { return !s || strcmp(s, "[REDACTED]") == 0; }

static unsigned redaction_mask(json_t *record) {
  /* The record fields (core/vocab.h) that linking reads. */
  static const struct { int field; unsigned bit; } fields[] = {
      {FB_RECORD_FIELD_NAME, R_NAME}, {FB_RECORD_FIELD_ALIASES, R_ALIASES}, {FB_RECORD_FIELD_DOB, R_DOB},
      {FB_RECORD_FIELD_DOCUMENTS, R_DOCUMENTS}, {FB_RECORD_FIELD_PHONES, R_PHONES},
      {FB_RECORD_FIELD_VESSEL, R_VESSEL}};
  unsigned m = 0;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(record, "redacted"), i, e) {
    const char *s = json_string_value(e);
    if (!s) continue;
    size_t n = strcspn(s, ".[");
    for (size_t f = 0; f < FB_ARRAY_LEN(fields); f++) {
      const char *name = fb_record_fields[fields[f].field];
      if (strlen(name) == n && strncmp(name, s, n) == 0) m |= fields[f].bit;
    }
  }
  return m;
}

static void add_key(vec *keys, int kind, const char *key, const char *country, uint32_t r) {
  xkey *k = vec_push(keys);
  memset(k, 0, sizeof *k);
  k->kind = (uint8_t)kind;
  snprintf(k->key, sizeof k->key, "%s", key);
  if (country) snprintf(k->country, sizeof k->country, "%s", country);
  k->r = r;
}

/* Computes every key of record `r` once; exact keys go to `keys`, name blocks to
 * `blocks`. */
static void prepare(rec *x, uint32_t r, vec *keys, vec *blocks) {
  json_t *j = x->json;
  unsigned red = redaction_mask(j);
  const char *type = json_string_value(json_object_get(j, "type"));
  x->vessel = type && strcmp(type, "vessel") == 0;
  char buf[128];
  const char *name = json_string_value(json_object_get(j, "name"));
  if (!(red & R_NAME) && !masked(name)) {
    if (x->vessel) {
      if (fb_norm_vessel(name, buf, sizeof buf) && strlen(buf) < sizeof x->vname) {
        snprintf(x->vname, sizeof x->vname, "%s", buf);
        add_key(keys, K_VNAME, buf, NULL, r);
      }
    } else {
      fb_name_key_make(name, &x->names[x->nnames]);
      if (x->names[x->nnames].n) x->nnames++;
    }
  }
  size_t i;
  json_t *e;
  if (!(red & R_ALIASES) && !x->vessel) {
    json_array_foreach(json_object_get(j, "aliases"), i, e) {
      if (x->nnames == MAX_NAMES) break;
      if (masked(json_string_value(e))) continue;
      fb_name_key_make(json_string_value(e), &x->names[x->nnames]);
      if (x->names[x->nnames].n) x->nnames++;
    }
  }
  const char *dob = json_string_value(json_object_get(j, "dob"));
  if (!(red & R_DOB) && !masked(dob)) {
    x->dob_year = fb_dob_year(dob);
    if (x->dob_year && strlen(dob) == 10) memcpy(x->dob, dob, 11);
  }
  if (!(red & R_DOCUMENTS)) {
    json_array_foreach(json_object_get(j, "documents"), i, e) {
      const char *num = json_string_value(json_object_get(e, "number"));
      const char *country = json_string_value(json_object_get(e, "country"));
      if (!masked(num) && fb_norm_document(num, buf, sizeof buf) && strlen(buf) < sizeof ((xkey *)0)->key)
        add_key(keys, K_DOCUMENT, buf, masked(country) ? NULL : country, r);
    }
  }
  if (!(red & R_PHONES)) {
    json_array_foreach(json_object_get(j, "phones"), i, e) {
      if (!masked(json_string_value(e)) && fb_norm_phone(json_string_value(e), buf, 40))
        add_key(keys, K_PHONE, buf, NULL, r);
    }
  }
  if (!(red & R_VESSEL) && x->vessel) {
    const char *imo = json_string_value(json_object_get(json_object_get(j, "vessel"), "imo"));
    if (!masked(imo) && fb_norm_imo(imo, x->imo)) add_key(keys, K_IMO, x->imo, NULL, r);
    const char *vn = json_string_value(json_object_get(json_object_get(j, "vessel"), "name"));
    if (!x->vname[0] && !masked(vn) && fb_norm_vessel(vn, buf, sizeof buf) && strlen(buf) < sizeof x->vname) {
      snprintf(x->vname, sizeof x->vname, "%s", buf);
      add_key(keys, K_VNAME, buf, NULL, r);
    }
  }
  /* Name blocks: the first 3 bytes of each token of each name (6 for other scripts,
   * whose characters are multi-byte). Duplicates within one record are harmless. */
  for (int n = 0; n < x->nnames; n++) {
    const fb_name_key *k = &x->names[n];
    for (int t = 0; t < k->n; t++) {
      size_t len = k->len[t];
      const char *s = k->buf + k->off[t];
      size_t take = (unsigned char)s[0] >= 0x80 ? 6 : 3;
      if (len < take) take = len;
      block *b = vec_push(blocks);
      memset(b, 0, sizeof *b);
      memcpy(b->key, s, take);
      b->r = r;
    }
  }
}

static int xkey_cmp(const void *pa, const void *pb) {
  const xkey *a = pa, *b = pb;
  if (a->kind != b->kind) return a->kind - b->kind;
  int c = strcmp(a->key, b->key);
  if (c) return c;
  return a->r < b->r ? -1 : a->r > b->r;
}

static int block_cmp(const void *pa, const void *pb) {
  const block *a = pa, *b = pb;
  int c = memcmp(a->key, b->key, sizeof a->key);
  if (c) return c;
  return a->r < b->r ? -1 : a->r > b->r;
}

static double best_name_sim(const rec *a, const rec *b) {
  double best = 0.0;
  for (int i = 0; i < a->nnames; i++)
    for (int j = 0; j < b->nnames; j++) {
      double s = fb_name_similarity(&a->names[i], &b->names[j]);
      if (s > best) best = s;
    }
  return best;
}

/* Adds the corroborating evidence (name, dob) of a pair and decides whether it
 * links. Returns false when the pair must not link. */
static bool corroborate(const rec *a, const rec *b, edge *e) {
  if (a->vessel != b->vessel) return false;
  if (a->vessel) {
    if (a->imo[0] && b->imo[0] && strcmp(a->imo, b->imo) != 0) return false; /* two ships, one name */
    if (a->vname[0] && strcmp(a->vname, b->vname) == 0) {
      e->ev |= EV_NAME;
      e->name_sim = 1.0;
    }
  } else {
    double s = best_name_sim(a, b);
    if (s >= NAME_LINK) {
      e->ev |= EV_NAME;
      e->name_sim = s;
    }
    if (a->dob_year && b->dob_year) {
      /* two full dates must agree to the day; a year-only date agrees on the year */
      bool agree = a->dob_year == b->dob_year && (!a->dob[0] || !b->dob[0] || strcmp(a->dob, b->dob) == 0);
      if (agree) e->ev |= EV_DOB;
      else if (!(e->ev & (EV_DOCUMENT | EV_PHONE))) return false;
    }
  }
  /* A name (and dob) alone must come together; exact keys stand on their own. */
  if (!(e->ev & (EV_DOCUMENT | EV_PHONE | EV_IMO))) {
    if (a->vessel) return (e->ev & EV_NAME) != 0;
    return (e->ev & EV_NAME) && (e->ev & EV_DOB);
  }
  return true;
}

static double edge_score(const rec *a, const rec *b, const edge *e) {
  double miss = 1.0;
  if (e->ev & EV_DOCUMENT) miss *= 1.0 - 0.90;
  if (e->ev & EV_IMO) miss *= 1.0 - 0.90;
  if (e->ev & EV_PHONE) miss *= 1.0 - 0.75;
  if (e->ev & EV_NAME) miss *= 1.0 - 0.5 * e->name_sim;
  if (e->ev & EV_DOB) miss *= 1.0 - (a->dob[0] && strcmp(a->dob, b->dob) == 0 ? 0.4 : 0.2);
  return 1.0 - miss;
}

static uint32_t find(uint32_t *parent, uint32_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

static int edge_pair_cmp(const void *pa, const void *pb) {
  const edge *a = pa, *b = pb;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  return a->b < b->b ? -1 : a->b > b->b;
}

static int edge_score_cmp(const void *pa, const void *pb) {
  const edge *a = pa, *b = pb;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  return edge_pair_cmp(pa, pb);
}

/* Whether joining the components rooted at ra and rb would hold two vessels with
 * different IMO numbers. Components are small (a few records per state), and the
 * check is bounded for pathological ones. */
static bool imo_conflict(const rec *recs, const uint32_t *next, uint32_t ra, uint32_t rb) {
  size_t work = 0;
  for (uint32_t x = ra; x != UINT32_MAX; x = next[x]) {
    if (!recs[x].vessel || !recs[x].imo[0]) continue;
    for (uint32_t y = rb; y != UINT32_MAX; y = next[y]) {
      if (++work > 100000) return false;
      if (recs[y].vessel && recs[y].imo[0] && strcmp(recs[x].imo, recs[y].imo) != 0) return true;
    }
  }
  return false;
}

typedef struct {
  uint32_t *members;
  size_t n;
  double score;
  unsigned ev;
} group;

static int rec_order(const rec *recs, uint32_t a, uint32_t b) {
  int c = strcmp(recs[a].state, recs[b].state);
  if (c) return c;
  c = strcmp(recs[a].id, recs[b].id);
  if (c) return c;
  return a < b ? -1 : a > b;
}

static int member_cmp(const void *pa, const void *pb, void *recs) {
  return rec_order(recs, *(const uint32_t *)pa, *(const uint32_t *)pb);
}

static int group_cmp(const void *pa, const void *pb, void *recs) {
  const group *a = pa, *b = pb;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  if (a->n != b->n) return a->n > b->n ? -1 : 1;
  return rec_order(recs, a->members[0], b->members[0]);
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *fb_merge(json_t *per_state) {
  json_t *out = json_array();
  if (!json_is_object(per_state)) return out;

  /* States in sorted order so the result does not depend on object order. */
  size_t nstates = json_object_size(per_state), si = 0;
  const char **states = fb_xcalloc(nstates ? nstates : 1, sizeof *states);
  const char *k;
  json_t *arr;
  json_object_foreach(per_state, k, arr) states[si++] = k;
  qsort(states, nstates, sizeof *states, str_cmp);

  size_t nrec = 0;
  for (si = 0; si < nstates; si++) nrec += json_array_size(json_object_get(per_state, states[si]));
  rec *recs = fb_xcalloc(nrec ? nrec : 1, sizeof *recs);
  vec keys = {.size = sizeof(xkey)}, blocks = {.size = sizeof(block)}, edges = {.size = sizeof(edge)};
  uint32_t n = 0;
  for (si = 0; si < nstates; si++) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(per_state, states[si]), i, r) {
      if (!json_is_object(r)) continue;
      recs[n].json = r;
      recs[n].state = states[si];
      recs[n].id = json_string_value(json_object_get(r, "id"));
      if (!recs[n].id) recs[n].id = "";
      prepare(&recs[n], n, &keys, &blocks);
      n++;
    }
  }

  /* Exact keys: equal keys sit next to each other once sorted. */
  xkey *xk = keys.v;
  if (keys.n > 1) qsort(xk, keys.n, sizeof *xk, xkey_cmp);
  for (size_t i = 0; i < keys.n;) {
    size_t j = i + 1;
    while (j < keys.n && xk[j].kind == xk[i].kind && strcmp(xk[j].key, xk[i].key) == 0) j++;
    for (size_t p = i; p < j; p++)
      for (size_t q = p + 1; q < j && q < p + 64; q++) { /* bounded fan-out per key */
        const xkey *x = &xk[p], *y = &xk[q];
        if (x->r == y->r) continue;
        if (x->kind == K_DOCUMENT && x->country[0] && y->country[0] && strcmp(x->country, y->country) != 0)
          continue;
        edge *e = vec_push(&edges);
        *e = (edge){x->r, y->r, 0, 0.0, 0.0};
        e->ev = x->kind == K_DOCUMENT ? EV_DOCUMENT : x->kind == K_PHONE ? EV_PHONE
              : x->kind == K_IMO ? EV_IMO : 0; /* K_VNAME: name evidence, decided below */
      }
    i = j;
  }

  /* Names: compare only within blocks (records sharing a token prefix); a pair that
   * shares several blocks is compared in each and folded below. */
  block *bl = blocks.v;
  if (blocks.n > 1) qsort(bl, blocks.n, sizeof *bl, block_cmp);
  for (size_t i = 0; i < blocks.n;) {
    size_t j = i + 1;
    while (j < blocks.n && memcmp(bl[j].key, bl[i].key, sizeof bl[i].key) == 0) j++;
    if (j - i <= BLOCK_CAP) {
      for (size_t p = i; p < j; p++)
        for (size_t q = p + 1; q < j; q++) {
          const rec *a = &recs[bl[p].r], *b = &recs[bl[q].r];
          /* a name links only with an equal dob year: test that first, it is cheap */
          if (bl[p].r == bl[q].r || !a->dob_year || a->dob_year != b->dob_year ||
              (a->dob[0] && b->dob[0] && strcmp(a->dob, b->dob) != 0))
            continue;
          if (best_name_sim(a, b) < NAME_LINK) continue;
          edge *e = vec_push(&edges);
          *e = (edge){bl[p].r, bl[q].r, 0, 0.0, 0.0};
        }
    }
    i = j;
  }

  /* One edge per pair: sort by pair, fold duplicates, then corroborate and score. */
  edge *ed = edges.v;
  for (size_t i = 0; i < edges.n; i++)
    if (ed[i].a > ed[i].b) { uint32_t t = ed[i].a; ed[i].a = ed[i].b; ed[i].b = t; }
  if (edges.n > 1) qsort(ed, edges.n, sizeof *ed, edge_pair_cmp);
  size_t ne = 0;
  for (size_t i = 0; i < edges.n;) {
    edge e = ed[i];
    size_t j = i + 1;
    while (j < edges.n && ed[j].a == e.a && ed[j].b == e.b) e.ev |= ed[j++].ev;
    i = j;
    if (!corroborate(&recs[e.a], &recs[e.b], &e)) continue;
    e.score = edge_score(&recs[e.a], &recs[e.b], &e);
    ed[ne++] = e;
  }

  /* Kruskal: strongest links first; an entity's score is the weakest link used. */
  if (ne > 1) qsort(ed, ne, sizeof *ed, edge_score_cmp);
  uint32_t *parent = fb_xmalloc((n ? n : 1) * sizeof *parent);
  double *gscore = fb_xmalloc((n ? n : 1) * sizeof *gscore);
  unsigned *gev = fb_xcalloc(n ? n : 1, sizeof *gev);
  /* Member lists per root (next/tail), to refuse unions that would put two vessels
   * with different IMO numbers into one entity through a third record. */
  uint32_t *next = fb_xmalloc((n ? n : 1) * sizeof *next), *tail = fb_xmalloc((n ? n : 1) * sizeof *tail);
  for (uint32_t i = 0; i < n; i++) { parent[i] = i; gscore[i] = 2.0; next[i] = UINT32_MAX; tail[i] = i; }
  for (size_t i = 0; i < ne; i++) {
    uint32_t ra = find(parent, ed[i].a), rb = find(parent, ed[i].b);
    if (ra == rb) continue;
    if (imo_conflict(recs, next, ra, rb)) continue;
    parent[rb] = ra;
    next[tail[ra]] = rb;
    tail[ra] = tail[rb];
    double s = gscore[ra] < gscore[rb] ? gscore[ra] : gscore[rb];
    gscore[ra] = s < ed[i].score ? s : ed[i].score;
  }
  for (size_t i = 0; i < ne; i++) gev[find(parent, ed[i].a)] |= ed[i].ev;

  /* Groups: members listed per root. */
  uint32_t *order = fb_xmalloc((n ? n : 1) * sizeof *order);
  size_t *count = fb_xcalloc(n ? n : 1, sizeof *count);
  for (uint32_t i = 0; i < n; i++) count[find(parent, i)]++;
  group *groups = fb_xcalloc(n ? n : 1, sizeof *groups);
  size_t ng = 0, used = 0;
  uint32_t *slot = fb_xmalloc((n ? n : 1) * sizeof *slot);
  for (uint32_t i = 0; i < n; i++) {
    if (parent[i] != i) continue;
    groups[ng].members = order + used;
    groups[ng].score = count[i] > 1 ? gscore[i] : SINGLE_SCORE;
    groups[ng].ev = count[i] > 1 ? gev[i] : 0;
    slot[i] = (uint32_t)ng++;
    used += count[i];
  }
  for (uint32_t i = 0; i < n; i++) {
    group *g = &groups[slot[find(parent, i)]];
    g->members[g->n++] = i;
  }
  for (size_t g = 0; g < ng; g++) {
    groups[g].score = round(groups[g].score * 100.0) / 100.0; /* what the analyst sees */
    qsort_r(groups[g].members, groups[g].n, sizeof *groups[g].members, member_cmp, recs);
  }
  if (ng > 1) qsort_r(groups, ng, sizeof *groups, group_cmp, recs);

  for (size_t g = 0; g < ng; g++) {
    char name[24];
    snprintf(name, sizeof name, "e%zu", g + 1);
    json_t *match = json_array();
    for (size_t b = 0; b < FB_ARRAY_LEN(ev_names); b++)
      if (groups[g].ev & (1u << b)) json_array_append_new(match, json_string(ev_names[b]));
    json_t *records = json_array();
    for (size_t m = 0; m < groups[g].n; m++) {
      const rec *r = &recs[groups[g].members[m]];
      json_t *copy = json_object(); /* "state" first, then the record's own fields */
      json_object_set_new(copy, "state", json_string(r->state));
      json_object_update(copy, r->json); /* shallow: values are shared, never modified */
      json_object_set_new(copy, "state", json_string(r->state));
      json_array_append_new(records, copy);
    }
    json_array_append_new(out, json_pack("{s:s, s:f, s:o, s:o}", "entity", name, "score",
                                         groups[g].score, "match", match, "records", records));
  }
  free(next);
  free(tail);
  free(slot);
  free(groups);
  free(count);
  free(order);
  free(gev);
  free(gscore);
  free(parent);
  free(edges.v);
  free(blocks.v);
  free(keys.v);
  free(recs);
  free(states);
  return out;
}
