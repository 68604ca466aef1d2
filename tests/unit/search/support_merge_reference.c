/* The merge as it was before its linking was made faster (session of 2026-12-01):
 * search/merge.c's code of that day, its jansson form only, kept as the oracle of
 * test_merge_random.c, which requires the merge's answer to stay byte for byte this
 * one's on random records. Change both when the merge's rules change on purpose. */
#include "tests/unit/search/merge_reference.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/normalize.h"
#include "match/names.h"
#include "core/crec.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "core/vocab.h"

#define NAME_LINK 0.85
#define TOKEN_LINK 0.86   /* every aligned word of a linking name: Wati/Wahyu 0.83, Wichai/Vichai 0.87 */
#define MAX_NAMES 4       /* name + first aliases compared per record */
#define BLOCK_CAP 500     /* a name block larger than this is not compared pairwise */
#define SINGLE_SCORE 0.5
#define NEAR_BLOCK 64     /* blocks up to this size also look for namesakes kept apart */
#define NEAR_MAX 3        /* near entries per entity */

enum { EV_DOCUMENT = 1, EV_PHONE = 2, EV_IMO = 4, EV_NAME = 8, EV_DOB = 16, EV_DOCFP = 32, EV_PHONEFP = 64 };
static const char *const ev_names[] = {"document", "phone", "imo", "name", "dob", "document_fingerprint",
                                       "phone_fingerprint"};
#define EV_EXACT (EV_DOCUMENT | EV_PHONE | EV_IMO | EV_DOCFP | EV_PHONEFP)

enum { R_NAME = 1, R_ALIASES = 2, R_DOB = 4, R_DOCUMENTS = 8, R_PHONES = 16, R_VESSEL = 32 };

/* A value of an input record: a jansson value, or a value of a compact set (its
 * text's offset and type). The record's reading below is written once over these. */
typedef struct {
  json_t *json;
  const fb_crecs *set;
  uint32_t off;
  int type; /* compact: json_type; 0 with no set and no json: absent */
} val;

/* A record's document, for conflicts: kind and country equal, numbers different.
 * Kind and country are the record's own strings, the number its normalised text. */
typedef struct {
  const char *kind, *country, *number;
  uint32_t number_at; /* in the merge's text pool, until `number` is set */
} rec_doc;

/* A record as the merge reads it: small (a few cache lines), its name keys and
 * normalised texts kept in the merge's pools (below), which grow while the
 * records are prepared; the `*_at` offsets become pointers once they stop. */
typedef struct {
  json_t *json;        /* borrowed input record (jansson form) */
  const fb_crecs *set; /* or record `ci` of a compact set */
  uint32_t ci;
  const char *state, *id;
  uint32_t si;    /* index of state in the sorted states */
  uint32_t srank; /* the state's rank in that order (equal states, equal ranks) */
  bool vessel;
  bool native; /* a name token came from another script */
  uint8_t nnames, ndocs;
  const fb_name_key *names; /* nnames keys */
  uint32_t names_at;
  int dob_year;
  char dob[11]; /* full date when known, else "" */
  char imo[8];
  const char *vname; /* normalised vessel name, "" when none */
  uint32_t vname_at;
  rec_doc docs[2];
} rec;

/* An exact key: document (with country), phone, IMO or vessel name. */
enum { K_DOCUMENT, K_PHONE, K_IMO, K_VNAME, K_DOCFP, K_PHONEFP };
typedef struct {
  const char *key;     /* set from key_at once the text pool stops growing */
  const char *country; /* the record's own string, or NULL when absent or empty */
  uint32_t key_at, r;
  uint8_t kind;
} xkey;

typedef struct {
  uint64_t key; /* token prefix, 8 bytes zero-padded, read big-endian: integer order is memcmp's */
  uint32_t r;
} block;

typedef struct {
  uint32_t a, b; /* a < b */
  unsigned ev;
  double name_sim;
  double score;
} edge;

/* Two records with the same name kept in different entities, and why. */
typedef struct {
  uint32_t a, b;
  const char *why;
} near_pair;

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

/* What prepare computes beside the records: exact keys (xkey), name keys
 * (fb_name_key), and the text of normalised values, NUL-terminated one after the
 * other (it starts with one NUL: offset 0 is ""). */
typedef struct {
  vec keys, names;
  fb_buf text;
} pools;

static void pools_init(pools *p) {
  *p = (pools){.keys = {.size = sizeof(xkey)}, .names = {.size = sizeof(fb_name_key)}};
  fb_buf_append(&p->text, "", 1);
}

static void pools_free(pools *p) {
  free(p->keys.v);
  free(p->names.v);
  fb_buf_free(&p->text);
  *p = (pools){0};
}

/* Copies s[0..n) and a NUL into the text pool; returns its offset. */
static uint32_t text_add(pools *p, const char *s, size_t n) {
  uint32_t at = (uint32_t)p->text.len;
  fb_buf_append(&p->text, s, n);
  fb_buf_append(&p->text, "", 1);
  return at;
}

static val field(const rec *x, const char *name, int key) {
  if (x->json) return (val){.json = json_object_get(x->json, name)};
  const fb_cmember *m = fb_crec_get(x->set, &x->set->recs[x->ci], key);
  return m ? (val){.set = x->set, .off = m->val, .type = m->type} : (val){0};
}

static const char *str(val v) {
  if (!v.set) return json_string_value(v.json);
  return v.type == JSON_STRING ? fb_crec_str_at(v.set, v.off) : NULL;
}

/* Member `name` of an object value. */
static val member(val v, const char *name) {
  if (!v.set) return (val){.json = json_object_get(v.json, name)};
  uint32_t off, len;
  int type;
  if (v.type != JSON_OBJECT || !fb_crec_object_get(v.set, v.off, name, &off, &len, &type)) return (val){0};
  return (val){.set = v.set, .off = off, .type = type};
}

/* Array iteration: *pos = 0 first; the next element in *e, or false at the end. */
static bool next(val v, size_t *pos, val *e) {
  if (!v.set) {
    if (*pos >= json_array_size(v.json)) return false;
    *e = (val){.json = json_array_get(v.json, (*pos)++)};
    return true;
  }
  if (v.type != JSON_ARRAY) return false;
  uint32_t p = (uint32_t)*pos, off, len;
  int type;
  if (!fb_crec_array_next(v.set, v.off, &p, &off, &len, &type)) return false;
  *pos = p;
  *e = (val){.set = v.set, .off = off, .type = type};
  return true;
}

static bool masked(const char *s) { return !s || (s[0] == '[' && strcmp(s, "[REDACTED]") == 0); }

/* What the `hash` redaction leaves: HMAC-SHA-256 in lowercase hex. */
static bool fingerprint(const char *s) {
  if (!s || strlen(s) != 64) return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return false;
  return true;
}

static unsigned redaction_mask(const rec *x) {
  /* The record fields (core/vocab.h) that linking reads. */
  static const struct { int field; unsigned bit; } fields[] = {
      {FB_RECORD_FIELD_NAME, R_NAME}, {FB_RECORD_FIELD_ALIASES, R_ALIASES}, {FB_RECORD_FIELD_DOB, R_DOB},
      {FB_RECORD_FIELD_DOCUMENTS, R_DOCUMENTS}, {FB_RECORD_FIELD_PHONES, R_PHONES},
      {FB_RECORD_FIELD_VESSEL, R_VESSEL}};
  unsigned m = 0;
  size_t pos = 0;
  val e, list = field(x, "redacted", FB_CKEY_REDACTED);
  while (next(list, &pos, &e)) {
    const char *s = str(e);
    if (!s) continue;
    size_t n = 0; /* the top-level field: up to '.' or '[' */
    while (s[n] && s[n] != '.' && s[n] != '[') n++;
    for (size_t f = 0; f < FB_ARRAY_LEN(fields); f++) {
      const char *name = fb_record_fields[fields[f].field];
      if (name[0] == s[0] && strncmp(name, s, n) == 0 && name[n] == '\0') m |= fields[f].bit;
    }
  }
  return m;
}

static void add_key(pools *p, int kind, uint32_t key_at, const char *country, uint32_t r) {
  *(xkey *)vec_push(&p->keys) =
      (xkey){.key_at = key_at, .country = country && country[0] ? country : NULL, .r = r, .kind = (uint8_t)kind};
}

/* A name key of record x, kept when it has a token. */
static void add_name(rec *x, pools *p, const char *name) {
  fb_name_key *k = vec_push(&p->names);
  fb_name_key_make(name, k);
  if (!k->n) {
    p->names.n--;
    return;
  }
  if (!x->nnames) x->names_at = (uint32_t)(p->names.n - 1);
  x->nnames++;
  x->native |= k->native != 0;
}

/* The members number, country and kind of a document, in one pass over a compact
 * object (each the first member whose decoded key equals the name, as member() finds
 * it). */
static void document_fields(val e, const char **num, const char **country, const char **kind) {
  if (!e.set) {
    *num = str(member(e, "number"));
    *country = str(member(e, "country"));
    *kind = str(member(e, "kind"));
    return;
  }
  *num = *country = *kind = NULL;
  if (e.type != JSON_OBJECT) return;
  bool seen_num = false, seen_country = false, seen_kind = false;
  uint32_t pos = 0, koff, klen, off, len;
  int type;
  while (fb_crec_object_next(e.set, e.off, &pos, &koff, &klen, &off, &len, &type)) {
    const char *k = fb_crec_str_at(e.set, koff);
    const char **slot = NULL;
    bool *seen = NULL;
    if (!seen_num && strcmp(k, "number") == 0) slot = num, seen = &seen_num;
    else if (!seen_country && strcmp(k, "country") == 0) slot = country, seen = &seen_country;
    else if (!seen_kind && strcmp(k, "kind") == 0) slot = kind, seen = &seen_kind;
    if (!slot) continue;
    *seen = true;
    *slot = type == JSON_STRING ? fb_crec_str_at(e.set, off) : NULL;
    if (seen_num && seen_country && seen_kind) return;
  }
}

/* Computes every key of record `r` once: exact keys, name keys and normalised texts
 * go to the pools. */
static void prepare(rec *x, uint32_t r, pools *p) {
  unsigned red = redaction_mask(x);
  const char *type = str(field(x, "type", FB_CKEY_TYPE));
  x->vessel = type && strcmp(type, "vessel") == 0;
  char buf[128];
  const char *name = str(field(x, "name", FB_RECORD_FIELD_NAME));
  if (!(red & R_NAME) && !masked(name)) {
    if (x->vessel) {
      size_t n = fb_norm_vessel(name, buf, sizeof buf);
      if (n && n < 64) {
        x->vname_at = text_add(p, buf, n);
        add_key(p, K_VNAME, x->vname_at, NULL, r);
      }
    } else {
      add_name(x, p, name);
    }
  }
  size_t pos;
  val e;
  if (!(red & R_ALIASES) && !x->vessel) {
    val aliases = field(x, "aliases", FB_RECORD_FIELD_ALIASES);
    for (pos = 0; next(aliases, &pos, &e);) {
      if (x->nnames == MAX_NAMES) break;
      if (masked(str(e))) continue;
      add_name(x, p, str(e));
    }
  }
  const char *dob = str(field(x, "dob", FB_RECORD_FIELD_DOB));
  if (!(red & R_DOB) && !masked(dob)) {
    x->dob_year = fb_dob_year(dob);
    if (x->dob_year && strlen(dob) == 10) memcpy(x->dob, dob, 11);
  }
  val documents = field(x, "documents", FB_RECORD_FIELD_DOCUMENTS), phones = field(x, "phones", FB_RECORD_FIELD_PHONES);
  /* Hashed documents and phones: equal fingerprints link (the same value under the
   * same deployment key); a fingerprint never equals a plain value. */
  if (red & R_DOCUMENTS)
    for (pos = 0; next(documents, &pos, &e);)
      if (fingerprint(str(e))) add_key(p, K_DOCFP, text_add(p, str(e), 64), NULL, r);
  if (red & R_PHONES)
    for (pos = 0; next(phones, &pos, &e);)
      if (fingerprint(str(e))) add_key(p, K_PHONEFP, text_add(p, str(e), 64), NULL, r);
  if (!(red & R_DOCUMENTS)) {
    for (pos = 0; next(documents, &pos, &e);) {
      const char *num, *country, *kind;
      document_fields(e, &num, &country, &kind);
      if (masked(num)) continue; /* neither a key nor a document for conflicts */
      size_t n = fb_norm_document(num, buf, sizeof buf);
      if (!n) continue; /* nothing left: no key, and an empty number is no document */
      /* the number's text, shared by its key and the conflicts' copy */
      uint32_t at = n < 65 ? text_add(p, buf, n) : 0;
      if (n < 65) add_key(p, K_DOCUMENT, at, masked(country) ? NULL : country, r);
      if (x->ndocs < 2 && !masked(country) && !masked(kind) && strlen(kind) < 16 && strlen(country) < 4 && n < 24)
        x->docs[x->ndocs++] = (rec_doc){.kind = kind, .country = country, .number_at = at};
    }
  }
  if (!(red & R_PHONES)) {
    for (pos = 0; next(phones, &pos, &e);) {
      size_t n;
      if (!masked(str(e)) && (n = fb_norm_phone(str(e), buf, 40)) != 0) add_key(p, K_PHONE, text_add(p, buf, n), NULL, r);
    }
  }
  if (!(red & R_VESSEL) && x->vessel) {
    val vessel = field(x, "vessel", FB_RECORD_FIELD_VESSEL);
    const char *imo = str(member(vessel, "imo"));
    if (!masked(imo) && fb_norm_imo(imo, x->imo)) add_key(p, K_IMO, text_add(p, x->imo, 7), NULL, r);
    const char *vn = str(member(vessel, "name"));
    size_t n;
    if (!x->vname_at && !masked(vn) && (n = fb_norm_vessel(vn, buf, sizeof buf)) != 0 && n < 64) {
      x->vname_at = text_add(p, buf, n);
      add_key(p, K_VNAME, x->vname_at, NULL, r);
    }
  }
}

/* Once the pools stop growing: offsets become pointers. */
static void resolve(rec *recs, uint32_t n, pools *p) {
  const char *text = p->text.data;
  const fb_name_key *names = p->names.v;
  for (uint32_t i = 0; i < n; i++) {
    rec *x = &recs[i];
    x->names = x->nnames ? names + x->names_at : NULL;
    x->vname = text + x->vname_at;
    for (int d = 0; d < x->ndocs; d++) x->docs[d].number = text + x->docs[d].number_at;
  }
  xkey *k = p->keys.v;
  for (size_t i = 0; i < p->keys.n; i++) k[i].key = text + k[i].key_at;
}

/* Name blocks of record `r`: the first 3 bytes of each token of each name (6 for
 * other scripts, whose characters are multi-byte). Duplicates within one record are
 * harmless. */
/* The 8 bytes of a block key as a big-endian integer. */
static uint64_t block_key(const char *s, size_t n) {
  uint64_t k = 0;
  for (size_t i = 0; i < 8; i++) k = k << 8 | (i < n ? (unsigned char)s[i] : 0u);
  return k;
}

static void add_blocks(const rec *x, uint32_t r, vec *blocks, bool skeletons) {
  for (int n = 0; n < x->nnames; n++) {
    const fb_name_key *k = &x->names[n];
    for (int t = 0; t < k->n; t++) {
      size_t len = k->len[t];
      const char *s = k->buf + k->off[t];
      size_t take = (unsigned char)s[0] >= 0x80 ? 6 : 3;
      if (len < take) take = len;
      *(block *)vec_push(blocks) = (block){block_key(s, take), r};
      /* Across scripts, vowels differ but consonants agree: a second block by the
       * token's skeleton ('#' + up to 7 bytes), used only when some record's name
       * came from another script. */
      if (skeletons && (unsigned char)s[0] < 0x80) {
        char sk[64];
        sk[0] = '#';
        size_t sn = fb_name_skeleton(s, len, sk + 1, sizeof sk - 1);
        if (sn < 2) continue;
        *(block *)vec_push(blocks) = (block){block_key(sk, 1 + (sn < 7 ? sn : 7)), r};
      }
    }
  }
}

static bool block_less(const block *a, const block *b) { return a->key < b->key || (a->key == b->key && a->r < b->r); }

/* Blocks in (key, record) order: a merge sort with the comparison inlined (qsort's
 * call per comparison was most of the linking). Equal entries cannot be told apart,
 * so any correct sort gives qsort's order. */
static void sort_blocks(block *v, size_t n) {
  if (n < 2) return;
  for (size_t i = 1; i < n && n <= 16; i++) { /* small: insertion */
    block x = v[i];
    size_t j = i;
    for (; j > 0 && block_less(&x, &v[j - 1]); j--) v[j] = v[j - 1];
    v[j] = x;
  }
  if (n <= 16) return;
  block *tmp = fb_xmalloc(n * sizeof *tmp), *from = v, *to = tmp;
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, o = lo;
      while (i < mid && j < hi) to[o++] = block_less(&from[j], &from[i]) ? from[j++] : from[i++];
      while (i < mid) to[o++] = from[i++];
      while (j < hi) to[o++] = from[j++];
    }
    block *t = from;
    from = to;
    to = t;
  }
  if (from != v) memcpy(v, from, n * sizeof *v);
  free(tmp);
}

static int xkey_cmp(const void *pa, const void *pb) {
  const xkey *a = pa, *b = pb;
  if (a->kind != b->kind) return a->kind - b->kind;
  int c = strcmp(a->key, b->key);
  if (c) return c;
  return a->r < b->r ? -1 : a->r > b->r;
}

/* The best similarity among the pair's names whose every aligned word agrees well
 * enough (TOKEN_LINK): different given names sharing a family name are not one name. */
static double best_name_sim(const rec *a, const rec *b) {
  double best = 0.0;
  for (int i = 0; i < a->nnames; i++)
    for (int j = 0; j < b->nnames; j++) {
      double weakest, s = fb_name_match(&a->names[i], &b->names[j], &weakest);
      if (s > best && weakest >= TOKEN_LINK) best = s;
    }
  return best;
}

/* Whether any of the pair's names agree as a name link needs (stops at the first). */
static bool names_agree(const rec *a, const rec *b) {
  for (int i = 0; i < a->nnames; i++)
    for (int j = 0; j < b->nnames; j++) {
      double weakest;
      if (strcmp(a->names[i].buf, b->names[j].buf) == 0) return true; /* namesakes: the same key */
      if (fb_name_match(&a->names[i], &b->names[j], &weakest) >= NAME_LINK && weakest >= TOKEN_LINK) return true;
    }
  return false;
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
      else if (!(e->ev & (EV_DOCUMENT | EV_PHONE | EV_DOCFP | EV_PHONEFP))) return false;
    }
  }
  /* A name (and dob) alone must come together; exact keys stand on their own. */
  if (!(e->ev & EV_EXACT)) {
    if (a->vessel) return (e->ev & EV_NAME) != 0;
    return (e->ev & EV_NAME) && (e->ev & EV_DOB);
  }
  return true;
}

static double edge_score(const rec *a, const rec *b, const edge *e) {
  double miss = 1.0;
  if (e->ev & EV_DOCUMENT) miss *= 1.0 - 0.90;
  if (e->ev & EV_DOCFP) miss *= 1.0 - 0.90;
  if (e->ev & EV_PHONEFP) miss *= 1.0 - 0.75;
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

static const char why_dob[] = "same name, different dob", why_nodob[] = "same name, no dob to compare",
                  why_docs[] = "same name, different documents";

/* Why two persons' identities contradict, or NULL: different dates of birth (years,
 * or two full dates), or two documents of the same kind and country with different
 * numbers. */
static const char *person_conflict(const rec *a, const rec *b) {
  if (a->dob_year && b->dob_year &&
      (a->dob_year != b->dob_year || (a->dob[0] && b->dob[0] && strcmp(a->dob, b->dob) != 0)))
    return why_dob;
  for (int i = 0; i < a->ndocs; i++)
    for (int j = 0; j < b->ndocs; j++)
      if (strcmp(a->docs[i].kind, b->docs[j].kind) == 0 && strcmp(a->docs[i].country, b->docs[j].country) == 0 &&
          strcmp(a->docs[i].number, b->docs[j].number) != 0)
        return why_docs;
  return NULL;
}

/* Why joining the components rooted at ra and rb by a name link would put two
 * contradicting persons into one entity, or NULL (bounded like imo_conflict). */
static const char *identity_conflict(const rec *recs, const uint32_t *next, uint32_t ra, uint32_t rb) {
  size_t work = 0;
  for (uint32_t x = ra; x != UINT32_MAX; x = next[x]) {
    if (recs[x].vessel) continue;
    for (uint32_t y = rb; y != UINT32_MAX; y = next[y]) {
      if (++work > 100000) return why_dob; /* too large to check: do not join by name */
      const char *why = recs[y].vessel ? NULL : person_conflict(&recs[x], &recs[y]);
      if (why) return why;
    }
  }
  return NULL;
}

typedef struct {
  uint32_t *members;
  size_t n;
  double score;
  unsigned ev;
} group;

static int rec_order(const rec *recs, uint32_t a, uint32_t b) {
  if (recs[a].srank != recs[b].srank) return recs[a].srank < recs[b].srank ? -1 : 1; /* strcmp's order of states */
  int c = strcmp(recs[a].id, recs[b].id);
  if (c) return c;
  return a < b ? -1 : a > b;
}

static int member_cmp(const void *pa, const void *pb, void *recs) {
  return rec_order(recs, *(const uint32_t *)pa, *(const uint32_t *)pb);
}

static bool group_before(const group *a, const group *b, const rec *recs) {
  if (a->score != b->score) return a->score > b->score;
  if (a->n != b->n) return a->n > b->n;
  return rec_order(recs, a->members[0], b->members[0]) < 0;
}

/* Entities in output order: score desc, more records first, then the first record's
 * state and id. A total order (records differ), so any sort gives qsort's result; a
 * merge sort with the comparison inlined, insertion below 16. */
static void sort_groups(group *v, size_t n, const rec *recs) {
  if (n <= 16) {
    for (size_t i = 1; i < n; i++) {
      group x = v[i];
      size_t j = i;
      for (; j > 0 && group_before(&x, &v[j - 1], recs); j--) v[j] = v[j - 1];
      v[j] = x;
    }
    return;
  }
  group *tmp = fb_xmalloc(n * sizeof *tmp), *from = v, *to = tmp;
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, o = lo;
      while (i < mid && j < hi) to[o++] = group_before(&from[j], &from[i], recs) ? from[j++] : from[i++];
      while (i < mid) to[o++] = from[i++];
      while (j < hi) to[o++] = from[j++];
    }
    group *t = from;
    from = to;
    to = t;
  }
  if (from != v) memcpy(v, from, n * sizeof *v);
  free(tmp);
}

/* An entity's records by state, then id (a total order too). */
static void sort_members(uint32_t *m, size_t n, rec *recs) {
  if (n > 16) {
    qsort_r(m, n, sizeof *m, member_cmp, recs);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    uint32_t x = m[i];
    size_t j = i;
    for (; j > 0 && rec_order(recs, x, m[j - 1]) < 0; j--) m[j] = m[j - 1];
    m[j] = x;
  }
}

/* An entity's near list: other entities (output order) and why. */
typedef struct {
  uint32_t other[NEAR_MAX];
  const char *why[NEAR_MAX];
  uint8_t n;
} near_list;

static bool near_has(const near_list *l, uint32_t other) {
  for (int i = 0; i < l->n; i++)
    if (l->other[i] == other) return true;
  return false;
}

/* Fills each entity's near list from the candidate pairs, in the order they were
 * found (block order: deterministic). A pair is compared by name only when it ended
 * in two entities and one of them still has room, so a crowd of namesakes costs a
 * few comparisons per entity, not one per pair. */
static near_list *near_lists(const rec *recs, const vec *nears, const uint32_t *entity_of, size_t ng) {
  near_list *l = fb_xcalloc(ng ? ng : 1, sizeof *l);
  const near_pair *np = nears->v;
  for (size_t i = 0; i < nears->n; i++) {
    uint32_t ga = entity_of[np[i].a], gb = entity_of[np[i].b];
    if (ga == gb || (l[ga].n == NEAR_MAX && l[gb].n == NEAR_MAX) || near_has(&l[ga], gb) || near_has(&l[gb], ga))
      continue;
    if (!names_agree(&recs[np[i].a], &recs[np[i].b])) continue;
    if (l[ga].n < NEAR_MAX) l[ga].other[l[ga].n] = gb, l[ga].why[l[ga].n++] = np[i].why;
    if (l[gb].n < NEAR_MAX) l[gb].other[l[gb].n] = ga, l[gb].why[l[gb].n++] = np[i].why;
  }
  for (size_t g = 0; g < ng; g++) /* listed in entity order */
    for (int i = 1; i < l[g].n; i++)
      for (int j = i; j > 0 && l[g].other[j - 1] > l[g].other[j]; j--) {
        uint32_t o = l[g].other[j];
        const char *w = l[g].why[j];
        l[g].other[j] = l[g].other[j - 1], l[g].why[j] = l[g].why[j - 1];
        l[g].other[j - 1] = o, l[g].why[j - 1] = w;
      }
  return l;
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What the merge found: entities in output order, each with its records and near
 * list. Shared by the two outputs (jansson values, or text written from compact
 * records). */
typedef struct {
  rec *recs;
  uint32_t n;
  group *groups;
  size_t ng;
  near_list *nl;
  uint32_t *order, *slot;
} merged;

static void merged_free(merged *mg) {
  free(mg->nl);
  free(mg->groups);
  free(mg->order);
  free(mg->slot);
  free(mg->recs);
}

/* Links the prepared records (keys already in `keys`, which is freed here) into
 * entities. */
static void link_records(merged *mg, pools *pl, bool any_native) {
  rec *recs = mg->recs;
  uint32_t n = mg->n;
  resolve(recs, n, pl);
  vec keys = pl->keys;
  vec blocks = {.size = sizeof(block)}, edges = {.size = sizeof(edge)};
  vec nears = {.size = sizeof(near_pair)};
  for (uint32_t r = 0; r < n; r++) add_blocks(&recs[r], r, &blocks, any_native);

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
        /* countries compared on their first 3 bytes (ISO 3166-1 alpha-3) */
        if (x->kind == K_DOCUMENT && x->country && y->country && strncmp(x->country, y->country, 3) != 0)
          continue;
        edge *e = vec_push(&edges);
        *e = (edge){x->r, y->r, 0, 0.0, 0.0};
        e->ev = x->kind == K_DOCUMENT ? EV_DOCUMENT : x->kind == K_PHONE ? EV_PHONE
              : x->kind == K_IMO ? EV_IMO : x->kind == K_DOCFP ? EV_DOCFP
              : x->kind == K_PHONEFP ? EV_PHONEFP : 0; /* K_VNAME: name evidence, decided below */
      }
    i = j;
  }

  /* Names: compare only within blocks (records sharing a token prefix); a pair that
   * shares several blocks is compared in each and folded below. */
  block *bl = blocks.v;
  sort_blocks(bl, blocks.n);
  for (size_t i = 0; i < blocks.n;) {
    size_t j = i + 1;
    while (j < blocks.n && bl[j].key == bl[i].key) j++;
    if (j - i <= BLOCK_CAP) {
      bool skeleton = bl[i].key >> 56 == '#', look_near = j - i <= NEAR_BLOCK;
      for (size_t p = i; p < j; p++)
        for (size_t q = p + 1; q < j; q++) {
          const rec *a = &recs[bl[p].r], *b = &recs[bl[q].r];
          if (bl[p].r == bl[q].r || (skeleton && !a->native && !b->native)) continue;
          /* a name links only with an equal dob year: test that first, it is cheap */
          if (!a->dob_year || a->dob_year != b->dob_year || (a->dob[0] && b->dob[0] && strcmp(a->dob, b->dob) != 0)) {
            /* a namesake kept apart? Decided once groups are known (small blocks only) */
            if (look_near) {
              near_pair *np = vec_push(&nears);
              np->a = bl[p].r < bl[q].r ? bl[p].r : bl[q].r;
              np->b = bl[p].r < bl[q].r ? bl[q].r : bl[p].r;
              np->why = a->dob_year && b->dob_year ? why_dob : why_nodob;
            }
            continue;
          }
          /* the names are compared once per pair, when edges are folded below */
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
    /* a link by name and dob alone must not join contradicting identities through a
     * third record (chains of namesakes); exact keys still join despite them */
    if (!(ed[i].ev & EV_EXACT)) {
      const char *why = identity_conflict(recs, next, ra, rb);
      if (why) { /* kept apart: say so in `near` */
        *(near_pair *)vec_push(&nears) = (near_pair){ed[i].a, ed[i].b, why};
        continue;
      }
    }
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
    sort_members(groups[g].members, groups[g].n, recs);
  }
  sort_groups(groups, ng, recs);
  uint32_t *entity_of = slot; /* reused: record -> entity index in output order */
  for (size_t g = 0; g < ng; g++)
    for (size_t m = 0; m < groups[g].n; m++) entity_of[groups[g].members[m]] = (uint32_t)g;
  mg->nl = near_lists(recs, &nears, entity_of, ng);
  mg->groups = groups;
  mg->ng = ng;
  mg->order = order;
  mg->slot = slot;
  free(nears.v);
  free(next);
  free(tail);
  free(count);
  free(gev);
  free(gscore);
  free(parent);
  free(edges.v);
  free(blocks.v);
  pools_free(pl);
}

json_t *fb_merge_reference(json_t *per_state) {
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
  merged mg = {.recs = fb_xcalloc(nrec ? nrec : 1, sizeof(rec))};
  rec *recs = mg.recs;
  pools pl;
  pools_init(&pl);
  uint32_t n = 0, srank = 0;
  bool any_native = false;
  for (si = 0; si < nstates; si++) {
    size_t i;
    json_t *r;
    if (si && strcmp(states[si], states[si - 1]) != 0) srank = (uint32_t)si;
    json_array_foreach(json_object_get(per_state, states[si]), i, r) {
      if (!json_is_object(r)) continue;
      recs[n].json = r;
      recs[n].state = states[si];
      recs[n].si = (uint32_t)si;
      recs[n].srank = srank;
      recs[n].id = json_string_value(json_object_get(r, "id"));
      if (!recs[n].id) recs[n].id = "";
      prepare(&recs[n], n, &pl);
      any_native |= recs[n].native;
      n++;
    }
  }
  mg.n = n;
  link_records(&mg, &pl, any_native);
  group *groups = mg.groups;
  size_t ng = mg.ng;
  near_list *nl = mg.nl;
  json_t **state_str = fb_xcalloc(nstates ? nstates : 1, sizeof *state_str);
  json_t *why_dob_json = NULL, *why_nodob_json = NULL, *why_docs_json = NULL; /* shared */

  for (size_t g = 0; g < ng; g++) {
    char name[24];
    snprintf(name, sizeof name, "e%zu", g + 1);
    json_t *match = json_array();
    for (size_t b = 0; b < FB_ARRAY_LEN(ev_names); b++)
      if (groups[g].ev & (1u << b)) json_array_append_new(match, json_string_nocheck(ev_names[b]));
    json_t *records = json_array();
    for (size_t m = 0; m < groups[g].n; m++) {
      const rec *r = &recs[groups[g].members[m]];
      /* one string per state, shared by its records (values are never modified) */
      if (!state_str[r->si]) state_str[r->si] = json_string(r->state);
      json_t *copy = json_object(); /* "state" first, then the record's own fields */
      json_object_set_nocheck(copy, "state", state_str[r->si]);
      const char *key;
      size_t klen;
      json_t *value;
      /* shallow: values are shared, never modified; key lengths known, no strlen */
      json_object_keylen_foreach(r->json, key, klen, value) {
        if (klen == 5 && memcmp(key, "state", 5) == 0) continue; /* a node's own: the merge's stays */
        json_object_setn_nocheck(copy, key, klen, value);
      }
      json_array_append_new(records, copy);
    }
    json_t *entity = json_object();
    json_object_set_new_nocheck(entity, "entity", json_string_nocheck(name));
    json_object_set_new_nocheck(entity, "score", json_real(groups[g].score));
    json_object_set_new_nocheck(entity, "match", match);
    json_object_set_new_nocheck(entity, "records", records);
    /* Close candidates kept apart, once per other entity. */
    if (nl[g].n) {
      json_t *near = json_array();
      for (int i = 0; i < nl[g].n; i++) {
        char other[24];
        snprintf(other, sizeof other, "e%u", nl[g].other[i] + 1);
        json_t *o = json_object();
        json_object_set_new_nocheck(o, "entity", json_string_nocheck(other));
        json_t **why = nl[g].why[i] == why_dob ? &why_dob_json : nl[g].why[i] == why_docs ? &why_docs_json
                                                                                             : &why_nodob_json;
        if (!*why) *why = json_string_nocheck(nl[g].why[i]);
        json_object_set_nocheck(o, "why", *why);
        json_array_append_new(near, o);
      }
      json_object_set_new_nocheck(entity, "near", near);
    }
    json_array_append_new(out, entity);
  }
  for (si = 0; si < nstates; si++) json_decref(state_str[si]);
  json_decref(why_dob_json);
  json_decref(why_nodob_json);
  json_decref(why_docs_json);
  free(state_str);
  merged_free(&mg);
  free(states);
  return out;
}
