#include "search/merge.h"

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
  uint64_t idk[2]; /* the id's first 16 bytes, NUL-padded, big-endian: see rec_order */
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

/* The redaction masks of the "redacted" lists seen so far, by their text: the
 * records of one state are redacted by one policy, so a merge meets few distinct
 * lists, and equal text reads as the same list. */
#define MASK_MEMO 4
typedef struct {
  const char *text;
  uint32_t len;
  unsigned mask;
} mask_memo;

/* What prepare computes beside the records: exact keys (xkey), name keys
 * (fb_name_key), the text of normalised values, NUL-terminated one after the other
 * (it starts with one NUL: offset 0 is ""), and the redaction masks met. */
typedef struct {
  vec keys, names;
  fb_buf text;
  mask_memo masks[MASK_MEMO];
  unsigned nmasks;
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

/* 8 bytes as a big-endian integer: integer order is memcmp's. */
static uint64_t load_be64(const unsigned char b[8]) {
  uint64_t k;
  memcpy(&k, b, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  k = __builtin_bswap64(k);
#endif
  return k;
}

/* The id's first 16 bytes as two integers, for rec_order: sorting entities compares
 * ids, and most differ there (NUL padding keeps strcmp's order: NUL is below any
 * byte, and strcmp compares bytes unsigned). */
static void set_id_key(rec *x) {
  unsigned char b[16] = {0};
  memcpy(b, x->id, strnlen(x->id, sizeof b));
  x->idk[0] = load_be64(b);
  x->idk[1] = load_be64(b + 8);
}

static bool masked(const char *s) { return !s || (s[0] == '[' && strcmp(s, "[REDACTED]") == 0); }

/* What the `hash` redaction leaves: HMAC-SHA-256 in lowercase hex. */
static bool fingerprint(const char *s) {
  if (!s || strlen(s) != 64) return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return false;
  return true;
}

/* The linking fields a "redacted" list names (by their top-level name). */
static unsigned redaction_mask_of(val list) {
  /* The record fields (core/vocab.h) that linking reads. */
  static const struct { int field; unsigned bit; } fields[] = {
      {FB_RECORD_FIELD_NAME, R_NAME}, {FB_RECORD_FIELD_ALIASES, R_ALIASES}, {FB_RECORD_FIELD_DOB, R_DOB},
      {FB_RECORD_FIELD_DOCUMENTS, R_DOCUMENTS}, {FB_RECORD_FIELD_PHONES, R_PHONES},
      {FB_RECORD_FIELD_VESSEL, R_VESSEL}};
  unsigned m = 0;
  size_t pos = 0;
  val e;
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

/* The linking fields record x's "redacted" list names. */
static unsigned redaction_mask(const rec *x, pools *p) {
  if (!x->set) return redaction_mask_of(field(x, "redacted", FB_CKEY_REDACTED));
  const fb_cmember *m = fb_crec_get(x->set, &x->set->recs[x->ci], FB_CKEY_REDACTED);
  if (!m || m->type != JSON_ARRAY) return 0; /* no list: nothing named */
  const char *text = fb_crec_text_at(x->set, m->val);
  for (unsigned i = 0; i < p->nmasks; i++)
    if (p->masks[i].len == m->vlen && memcmp(p->masks[i].text, text, m->vlen) == 0) return p->masks[i].mask;
  unsigned mask = redaction_mask_of((val){.set = x->set, .off = m->val, .type = m->type});
  if (p->nmasks < MASK_MEMO) p->masks[p->nmasks++] = (mask_memo){.text = text, .len = m->vlen, .mask = mask};
  return mask;
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
  set_id_key(x);
  unsigned red = redaction_mask(x, p);
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
  unsigned char b[8] = {0};
  memcpy(b, s, n < 8 ? n : 8);
  return load_be64(b);
}

/* The first byte of a token's skeleton (a leading vowel is 'a', j and z are 'c'). */
static unsigned char skeleton_first(const char *tok) {
  char f[2];
  fb_name_skeleton(tok, 1, f, sizeof f);
  return (unsigned char)f[0];
}

/* `firsts`: NULL, or the set (256 bits) of skeleton first bytes that records from
 * another script have; a skeleton starting otherwise is not blocked (see below). */
static void add_blocks(const rec *x, uint32_t r, vec *blocks, bool skeletons, const uint64_t *firsts) {
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
        /* A skeleton block pairs only a record from another script with another
         * record: a skeleton no such record's can equal (first byte) joins nothing. */
        unsigned char f = firsts ? skeleton_first(s) : 0;
        if (firsts && !(firsts[f >> 6] >> (f & 63) & 1)) continue;
        char sk[9];
        sk[0] = '#';
        /* the key holds 7 bytes of it: a longer skeleton is cut there (its length
         * then still >= 2) */
        size_t sn = fb_name_skeleton(s, len, sk + 1, sizeof sk - 1);
        if (sn < 2) continue;
        *(block *)vec_push(blocks) = (block){block_key(sk, 1 + (sn < 7 ? sn : 7)), r};
      }
    }
  }
}

/* Keeps only the blocks whose key more than one entry holds (in their order): a key
 * held once pairs nothing, and most are (a token prefix shared by no other name).
 * Counted in an open-addressing table (a key is never 0: tokens are not empty), so
 * that only the shared few are sorted. Returns the new count. */
static size_t shared_blocks(block *v, size_t n) {
  if (n < 2) return 0;
  size_t cap = 16;
  while (cap < n + n / 2) cap *= 2; /* at most two thirds full */
  int bits = 0;
  while ((size_t)1 << bits < cap) bits++;
  typedef struct { uint64_t key; uint32_t count; } slot;
  slot small[256]; /* the usual merge's table: no allocation */
  slot *t = cap <= 256 ? small : fb_xmalloc(cap * sizeof *t);
  memset(t, 0, cap * sizeof *t);
  for (size_t pass = 0; pass < 2; pass++) { /* count, then keep */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t k = v[i].key ^ v[i].key >> 29; /* a prefix key's low bytes are 0: fold them in */
      size_t h = (size_t)((k * 0x9E3779B97F4A7C15ull) >> (64 - bits));
      while (t[h].key && t[h].key != v[i].key) h = (h + 1) & (cap - 1);
      if (pass == 0) {
        t[h].key = v[i].key;
        t[h].count++;
      } else if (t[h].count > 1) {
        v[kept++] = v[i];
      }
    }
    if (pass == 1) n = kept;
  }
  if (t != small) free(t);
  return n;
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
 * enough (TOKEN_LINK): different given names sharing a family name are not one name.
 * Exact when it reaches NAME_LINK; below it, some value below it. */
static double best_name_sim(const rec *a, const rec *b) {
  double best = 0.0;
  for (int i = 0; i < a->nnames; i++)
    for (int j = 0; j < b->nnames; j++) {
      /* a similarity under NAME_LINK never links: no need to know it exactly */
      double weakest, s = fb_name_match_min(&a->names[i], &b->names[j], NAME_LINK, &weakest);
      if (s > best && weakest >= TOKEN_LINK) best = s;
      if (best >= 1.0) return best; /* nothing is more similar */
    }
  return best;
}

/* Whether any of the pair's names agree as a name link needs (stops at the first). */
static bool names_agree(const rec *a, const rec *b) {
  for (int i = 0; i < a->nnames; i++)
    for (int j = 0; j < b->nnames; j++) {
      double weakest;
      if (strcmp(a->names[i].buf, b->names[j].buf) == 0) return true; /* namesakes: the same key */
      if (fb_name_match_min(&a->names[i], &b->names[j], NAME_LINK, &weakest) >= NAME_LINK && weakest >= TOKEN_LINK)
        return true;
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

/* Edges sorted by `cmp`: a search's few by insertion (no call through qsort per
 * comparison), more by qsort. Both orders are total on what is sorted (pairs, and
 * after folding, scores then pairs), so the two sorts agree, and equal pairs before
 * folding differ only in what folding merges. */
static void sort_edges(edge *v, size_t n, int (*cmp)(const void *, const void *)) {
  if (n > 16) {
    qsort(v, n, sizeof *v, cmp);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    edge x = v[i];
    size_t j = i;
    for (; j > 0 && cmp(&x, &v[j - 1]) < 0; j--) v[j] = v[j - 1];
    v[j] = x;
  }
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
  for (int k = 0; k < 2; k++) /* the ids' first 16 bytes decide most pairs */
    if (recs[a].idk[k] != recs[b].idk[k]) return recs[a].idk[k] < recs[b].idk[k] ? -1 : 1;
  int c = strcmp(recs[a].id, recs[b].id); /* equal so far: the rest, if any */
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

/* What orders an entity, copied out of the group and its first record so that the
 * sort reads no record: score, size, the first record's state rank and id key;
 * group_before settles the rest (ids equal in their first 16 bytes). */
typedef struct {
  double score;
  uint32_t n, srank;
  uint64_t idk[2];
  uint32_t g; /* the group */
} group_key;

static bool key_before(const group_key *a, const group_key *b, const group *v, const rec *recs) {
  if (a->score != b->score) return a->score > b->score;
  if (a->n != b->n) return a->n > b->n;
  if (a->srank != b->srank) return a->srank < b->srank;
  if (a->idk[0] != b->idk[0]) return a->idk[0] < b->idk[0];
  if (a->idk[1] != b->idk[1]) return a->idk[1] < b->idk[1];
  return group_before(&v[a->g], &v[b->g], recs);
}

/* Entities in output order: score desc, more records first, then the first record's
 * state and id. A total order (records differ), so any sort gives qsort's result; a
 * merge sort of the groups' keys with the comparison inlined, insertion below 16,
 * then the groups put in that order. */
static void sort_groups(group *v, size_t n, const rec *recs) {
  if (n < 2) return;
  group_key small[2 * 64]; /* the usual answer's entities: no allocation */
  group_key *keys = n <= 64 ? small : fb_xmalloc(2 * n * sizeof *keys), *from = keys, *to = keys + n;
  for (size_t g = 0; g < n; g++) {
    const rec *first = &recs[v[g].members[0]];
    keys[g] = (group_key){.score = v[g].score, .n = (uint32_t)v[g].n, .srank = first->srank,
                          .idk = {first->idk[0], first->idk[1]}, .g = (uint32_t)g};
  }
  if (n <= 16) {
    for (size_t i = 1; i < n; i++) {
      group_key x = keys[i];
      size_t j = i;
      for (; j > 0 && key_before(&x, &keys[j - 1], v, recs); j--) keys[j] = keys[j - 1];
      keys[j] = x;
    }
  } else {
    for (size_t w = 1; w < n; w *= 2) {
      for (size_t lo = 0; lo < n; lo += 2 * w) {
        size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, o = lo;
        while (i < mid && j < hi) to[o++] = key_before(&from[j], &from[i], v, recs) ? from[j++] : from[i++];
        while (i < mid) to[o++] = from[i++];
        while (j < hi) to[o++] = from[j++];
      }
      group_key *t = from;
      from = to;
      to = t;
    }
  }
  group small_sorted[64];
  group *sorted = n <= 64 ? small_sorted : fb_xmalloc(n * sizeof *sorted);
  for (size_t i = 0; i < n; i++) sorted[i] = v[from[i].g];
  memcpy(v, sorted, n * sizeof *v);
  if (keys != small) {
    free(sorted);
    free(keys);
  }
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
static void near_lists(near_list *l, const rec *recs, const vec *nears, const uint32_t *entity_of, size_t ng) {
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
  free(mg->groups); /* and nl, order, slot: one allocation */
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
  size_t tokens = 0; /* blocks are at most one or two per token: allocated once */
  for (uint32_t r = 0; r < n; r++)
    for (int k = 0; k < recs[r].nnames; k++) tokens += recs[r].names[k].n;
  if (tokens) {
    blocks.cap = tokens * (any_native ? 2 : 1);
    blocks.v = fb_xmalloc(blocks.cap * blocks.size);
  }
  /* Skeleton first bytes of the records with a word from another script: the other
   * records' skeleton blocks are kept only where they can meet one of theirs (a block
   * without such a record pairs nothing, and its size decides nothing). */
  uint64_t firsts[4] = {0};
  for (uint32_t r = 0; any_native && r < n; r++)
    for (int k = 0; recs[r].native && k < recs[r].nnames; k++)
      for (int t = 0; t < recs[r].names[k].n; t++) {
        const char *s = recs[r].names[k].buf + recs[r].names[k].off[t];
        if ((unsigned char)s[0] >= 0x80) continue; /* no skeleton block */
        unsigned char f = skeleton_first(s);
        firsts[f >> 6] |= 1ull << (f & 63);
      }
  for (uint32_t r = 0; r < n; r++) add_blocks(&recs[r], r, &blocks, any_native, recs[r].native ? NULL : firsts);

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
  blocks.n = shared_blocks(bl, blocks.n);
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
  sort_edges(ed, edges.n, edge_pair_cmp);
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
  sort_edges(ed, ne, edge_score_cmp);
  /* Per record, in one allocation: union-find parent, the root's score and evidence,
   * and member lists per root (next/tail), to refuse unions that would put two
   * vessels with different IMO numbers into one entity through a third record. */
  size_t nn = n ? n : 1;
  double *gscore = fb_xmalloc(nn * (sizeof(double) + sizeof(size_t) + 3 * sizeof(uint32_t) + sizeof(unsigned)));
  size_t *count = (size_t *)(gscore + nn);
  uint32_t *parent = (uint32_t *)(count + nn), *next = parent + nn, *tail = next + nn;
  unsigned *gev = (unsigned *)(tail + nn);
  for (uint32_t i = 0; i < n; i++) {
    parent[i] = i; gscore[i] = 2.0; next[i] = UINT32_MAX; tail[i] = i; gev[i] = 0; count[i] = 0;
  }
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

  /* Groups: members listed per root. The result's arrays (groups, near lists,
   * members, record -> group) in one allocation, which merged_free frees. */
  for (uint32_t i = 0; i < n; i++) count[find(parent, i)]++;
  group *groups = fb_xcalloc(1, nn * (sizeof(group) + sizeof(near_list) + 2 * sizeof(uint32_t)));
  near_list *nl = (near_list *)(groups + nn);
  uint32_t *order = (uint32_t *)(nl + nn), *slot = order + nn;
  size_t ng = 0, used = 0;
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
    if (groups[g].n == 1) continue; /* SINGLE_SCORE is already what rounding gives */
    groups[g].score = round(groups[g].score * 100.0) / 100.0; /* what the analyst sees */
    sort_members(groups[g].members, groups[g].n, recs);
  }
  sort_groups(groups, ng, recs);
  uint32_t *entity_of = slot; /* reused: record -> entity index in output order */
  for (size_t g = 0; g < ng; g++)
    for (size_t m = 0; m < groups[g].n; m++) entity_of[groups[g].members[m]] = (uint32_t)g;
  near_lists(nl, recs, &nears, entity_of, ng);
  mg->nl = nl;
  mg->groups = groups;
  mg->ng = ng;
  mg->order = order;
  mg->slot = slot;
  free(nears.v);
  free(gscore); /* and the other per-record arrays */
  free(edges.v);
  free(blocks.v);
  pools_free(pl);
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

/* ---- the written form: compact records or jansson records, without copies ----------------------------------------------------- */

/* The text of a score at a precision, remembered for the answer being written: most
 * entities share a few scores (every unlinked record's is 0.5), and printf's %g of a
 * double costs more than the rest of an entity's frame. Never shared between answers. */
#define SCORE_TEXTS 4
typedef struct {
  double score;
  int precision;
  uint8_t len;
  char text[40];
} score_text;

typedef struct {
  score_text slot[SCORE_TEXTS];
  unsigned n, next; /* slots filled; the one replaced next when all are */
} score_texts;

struct fb_merged {
  merged m;
  char **state_text; /* per source (sorted): the state's JSON string */
  size_t *state_len;
  size_t nsrc;
  score_texts *scores; /* written through a const fb_merged: the memo is not the result */
};

static int source_cmp(const void *a, const void *b) {
  return strcmp(((const fb_merge_source *)a)->state, ((const fb_merge_source *)b)->state);
}

fb_merged *fb_merge_sources(const fb_merge_source *src, size_t nsrc) {
  /* The result with its per-source arrays and score memo: one allocation. */
  size_t ns = nsrc ? nsrc : 1;
  fb_merged *out = fb_xcalloc(1, sizeof *out + sizeof *out->scores + ns * (sizeof(char *) + sizeof(size_t)));
  out->scores = (score_texts *)(out + 1);
  out->state_text = (char **)(out->scores + 1);
  out->state_len = (size_t *)(out->state_text + ns);
  /* States in sorted order, as fb_merge takes them. */
  fb_merge_source *sorted = fb_xcalloc(ns, sizeof *sorted);
  if (nsrc) memcpy(sorted, src, nsrc * sizeof *sorted);
  qsort(sorted, nsrc, sizeof *sorted, source_cmp);
  out->nsrc = nsrc;
  size_t nrec = 0;
  for (size_t si = 0; si < nsrc; si++) {
    nrec += sorted[si].set ? sorted[si].set->nrecs : json_array_size(sorted[si].records);
    fb_buf b = {0}; /* jsonw refuses what json_string refuses: not UTF-8 */
    if (fb_jsonw_string(&b, sorted[si].state, strlen(sorted[si].state)) != 0) fb_buf_puts(&b, "\"\"");
    out->state_len[si] = b.len;
    out->state_text[si] = fb_buf_steal(&b);
  }
  merged *mg = &out->m;
  mg->recs = fb_xcalloc(nrec ? nrec : 1, sizeof(rec));
  pools pl;
  pools_init(&pl);
  uint32_t n = 0, srank = 0;
  bool any_native = false;
  for (size_t si = 0; si < nsrc; si++) {
    const fb_crecs *set = sorted[si].set;
    if (si && strcmp(sorted[si].state, sorted[si - 1].state) != 0) srank = (uint32_t)si;
    size_t count = set ? set->nrecs : json_array_size(sorted[si].records);
    for (size_t i = 0; i < count; i++) {
      rec *x = &mg->recs[n];
      if (set) {
        if (set->recs[i].type != JSON_OBJECT) continue;
        x->set = set;
        x->ci = (uint32_t)i;
        x->id = fb_crec_string(set, &set->recs[i], FB_CKEY_ID);
      } else {
        json_t *r = json_array_get(sorted[si].records, i);
        if (!json_is_object(r)) continue; /* the slot stays clean for the next record */
        x->json = r;
        x->id = json_string_value(json_object_get(x->json, "id"));
      }
      x->state = sorted[si].state;
      x->si = (uint32_t)si;
      x->srank = srank;
      if (!x->id) x->id = "";
      prepare(x, n, &pl);
      any_native |= x->native;
      n++;
    }
  }
  mg->n = n;
  link_records(mg, &pl, any_native);
  /* the records keep pointing at the callers' state strings: sorted copy goes */
  free(sorted);
  return out;
}

size_t fb_merged_count(const fb_merged *m) { return m->m.ng; }

/* A jansson record as fb_merge copies it: "state" first, its own "state" left out. */
static int put_json_record(fb_buf *b, json_t *r, const char *state_text, size_t state_len, int precision) {
  fb_buf_append(b, "{\"state\":", 9);
  fb_buf_append(b, state_text, state_len);
  const char *key;
  size_t klen;
  json_t *value;
  json_object_keylen_foreach(r, key, klen, value) {
    if (klen == 5 && memcmp(key, "state", 5) == 0) continue;
    fb_buf_putc(b, ',');
    if (fb_jsonw_string(b, key, klen) != 0) return -1;
    fb_buf_putc(b, ':');
    if (fb_jsonw_value(b, value, precision) != 0) return -1;
  }
  fb_buf_putc(b, '}');
  return 0;
}

/* `prefix`, then "e<n>" with its quotes: an entity's name without printf. */
static void put_entity_name(fb_buf *b, const char *prefix, size_t plen, size_t n) {
  char t[64];
  memcpy(t, prefix, plen);
  char digits[24];
  size_t d = 0;
  do digits[d++] = (char)('0' + n % 10); while ((n /= 10) != 0);
  size_t o = plen;
  t[o++] = '"';
  t[o++] = 'e';
  while (d) t[o++] = digits[--d];
  t[o++] = '"';
  fb_buf_append(b, t, o);
}

/* fb_jsonw_real's text of `score`, formatted once per answer and precision. */
static void put_score(fb_buf *b, score_texts *memo, double score, int precision) {
  for (unsigned i = 0; i < memo->n; i++) {
    const score_text *t = &memo->slot[i];
    /* the same bits: printf would write the same text (0.0 and -0.0 differ) */
    if (t->precision == precision && memcmp(&t->score, &score, sizeof score) == 0) {
      fb_buf_append(b, t->text, t->len);
      return;
    }
  }
  size_t mark = b->len;
  fb_jsonw_real(b, score, precision);
  size_t len = b->len - mark;
  if (len >= sizeof memo->slot[0].text) return; /* not remembered */
  unsigned i = memo->n < SCORE_TEXTS ? memo->n++ : memo->next++ % SCORE_TEXTS;
  memo->slot[i] = (score_text){.score = score, .precision = precision, .len = (uint8_t)len};
  memcpy(memo->slot[i].text, b->data + mark, len);
}

#define PUT_LITERAL(b, s) fb_buf_append((b), (s), sizeof(s) - 1)

int fb_merged_write_entity(fb_buf *b, const fb_merged *out, size_t g, int precision) {
  const merged *mg = &out->m;
  const group *gr = &mg->groups[g];
  static const char entity_key[] = "{\"entity\":";
  put_entity_name(b, entity_key, sizeof entity_key - 1, g + 1);
  PUT_LITERAL(b, ",\"score\":");
  put_score(b, out->scores, gr->score, precision);
  PUT_LITERAL(b, ",\"match\":[");
  bool first = true;
  for (size_t k = 0; k < FB_ARRAY_LEN(ev_names); k++)
    if (gr->ev & (1u << k)) {
      if (!first) fb_buf_putc(b, ',');
      first = false;
      fb_buf_putc(b, '"');
      fb_buf_puts(b, ev_names[k]);
      fb_buf_putc(b, '"');
    }
  PUT_LITERAL(b, "],\"records\":[");
  for (size_t k = 0; k < gr->n; k++) {
    const rec *r = &mg->recs[gr->members[k]];
    if (k) fb_buf_putc(b, ',');
    if (r->set) fb_crec_write_state(b, r->set, r->ci, out->state_text[r->si], out->state_len[r->si], precision);
    else if (put_json_record(b, r->json, out->state_text[r->si], out->state_len[r->si], precision) != 0) return -1;
  }
  fb_buf_putc(b, ']');
  const near_list *nl = &mg->nl[g];
  if (nl->n) {
    PUT_LITERAL(b, ",\"near\":[");
    static const char first_key[] = "{\"entity\":", next_key[] = ",{\"entity\":";
    for (int i = 0; i < nl->n; i++) {
      if (i) put_entity_name(b, next_key, sizeof next_key - 1, (size_t)nl->other[i] + 1);
      else put_entity_name(b, first_key, sizeof first_key - 1, (size_t)nl->other[i] + 1);
      PUT_LITERAL(b, ",\"why\":\"");
      fb_buf_puts(b, nl->why[i]); /* our own sentences: nothing to escape */
      PUT_LITERAL(b, "\"}");
    }
    fb_buf_putc(b, ']');
  }
  fb_buf_putc(b, '}');
  return 0;
}

int fb_merged_write(fb_buf *b, const fb_merged *out, int precision) {
  size_t mark = b->len;
  fb_buf_putc(b, '[');
  for (size_t g = 0; g < out->m.ng; g++) {
    if (g) fb_buf_putc(b, ',');
    if (fb_merged_write_entity(b, out, g, precision) != 0) {
      b->len = mark;
      b->data[mark] = '\0';
      return -1;
    }
  }
  fb_buf_putc(b, ']');
  return 0;
}

void fb_merged_free(fb_merged *out) {
  if (!out) return;
  merged_free(&out->m);
  for (size_t i = 0; i < out->nsrc; i++) free(out->state_text[i]);
  free(out); /* and its arrays */
}
