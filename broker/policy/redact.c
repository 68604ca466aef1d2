/* Record rules: selected once per query and state (fb_plan_new), then applied to each
 * record in C (fb_plan_apply). Record filters and field sets are bitmasks compiled at
 * load, so a record costs a few comparisons plus the changes themselves. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/crec.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/match.h"

typedef struct {
  const rule *r;
  const fb_policy *p;
  const char *name_text; /* redact steps: the rule's name as JSON text (r->name_json),
                            NULL if not UTF-8 */
  size_t name_len;       /* its length */
} step;

struct fb_plan {
  fb_policy *common, *state;
  step *drops, *redacts;
  size_t ndrops, nredacts;
  long limit;            /* -1: none */
  const step *limit_step;
  step *limits;
  size_t nlimits;
  char *error;
};

/* Shared immutable strings of the jansson form, made once per process instead of once
 * per value (or per plan: a plan is made per leg, and the compact form needs none of
 * them). Never modified, so any thread may share them (jansson's counts are atomic). */
static json_t *masked_json;                /* "[REDACTED]" */
static json_t *field_json[32];             /* entries of the "redacted" lists */
/* A record field's name as JSON text: the vocabulary's names are lowercase letters
 * (core/vocab.h), which JSON writes as they are: '"', the name, '"'. */
static char field_text[FB_RECORD_FIELD_COUNT][24];
static uint8_t field_text_len[FB_RECORD_FIELD_COUNT];

static void make_shared_strings(void) {
  masked_json = json_string("[REDACTED]");
  for (int f = 0; fb_vocab[V_FIELD][f]; f++) {
    field_json[f] = json_string(fb_vocab[V_FIELD][f]);
    int n = snprintf(field_text[f], sizeof field_text[f], "\"%s\"", fb_vocab[V_FIELD][f]);
    field_text_len[f] = (uint8_t)(n > 0 && (size_t)n < sizeof field_text[f] ? n : 0);
  }
}

static void put_field_name(fb_buf *b, int f) {
  if (field_text_len[f]) {
    fb_buf_append(b, field_text[f], field_text_len[f]);
    return;
  }
  fb_buf_putc(b, '"'); /* a name too long for the table */
  fb_buf_puts(b, fb_vocab[V_FIELD][f]);
  fb_buf_putc(b, '"');
}

/* The record fields of a mask (bit f: field f), lowest first: the order of the
 * vocabulary, without a test per field that is not there. */
#define FIELD_MASK ((1u << FB_RECORD_FIELD_COUNT) - 1u)
/* (`continue` in the body goes to the next field; the bodies have no `break`.) */
#define FOR_FIELDS(f, mask)                                            \
  for (uint32_t m_ = (mask) & FIELD_MASK; m_; m_ &= m_ - 1)            \
    for (int f = __builtin_ctz(m_), once_ = 1; once_; once_ = 0)

static void shared_strings(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, make_shared_strings);
}

/* Steps grow by doubling from 4: a plan is made per leg, and a policy selects a few
 * record rules of each kind (one realloc per step was a tenth of the plan's cost). */
static void add_step(step **v, size_t *n, const rule *r, const fb_policy *p) {
  if (*n >= 4 && (*n & (*n - 1)) == 0) *v = fb_xrealloc(*v, 2 * *n * sizeof(step));
  else if (*n == 0) *v = fb_xmalloc(4 * sizeof(step));
  (*v)[(*n)++] = (step){r, p, NULL, 0};
}

static int select_rules(fb_plan *plan, fb_policy *p, const fb_query *q, const qbits *b) {
  when_ctx w = {.q = q};
  int rc = 0;
  for (size_t i = 0; i < p->nrules; i++) {
    const rule *r = &p->rules[i];
    if (!rule_is_record(r->kind)) continue;
    char *err = NULL;
    int m = fb_cond_match(p, r, &r->c, b, &w, NULL, &err);
    if (m < 0) {
      plan->error = err;
      fb_error("policy_error", "%s", err);
      rc = -1;
      break;
    }
    if (!m) continue;
    if (r->kind == RK_DROP) add_step(&plan->drops, &plan->ndrops, r, p);
    else if (r->kind == RK_REDACT) add_step(&plan->redacts, &plan->nredacts, r, p);
    else {
      add_step(&plan->limits, &plan->nlimits, r, p);
      if (plan->limit < 0 || r->max_records < plan->limit) plan->limit = r->max_records;
    }
  }
  fb_when_ctx_end(p, &w);
  return rc;
}

fb_plan *fb_plan_new(fb_policy *common, fb_policy *state, const fb_query *q) {
  fb_plan *plan = fb_xcalloc(1, sizeof *plan);
  plan->common = fb_policy_ref(common);
  plan->state = fb_policy_ref(state);
  plan->limit = -1;
  shared_strings();
  qbits b;
  fb_qbits_init(&b, q);
  if (common && select_rules(plan, common, q, &b) != 0) return plan;
  if (state) select_rules(plan, state, q, &b);
  /* Each name as JSON text, written when its policy was compiled. */
  for (size_t i = 0; i < plan->nredacts; i++) {
    plan->redacts[i].name_text = plan->redacts[i].r->name_json;
    plan->redacts[i].name_len = plan->redacts[i].r->name_json_len;
  }
  return plan;
}

const char *fb_plan_error(const fb_plan *plan) { return plan->error; }

void fb_plan_free(fb_plan *plan) {
  if (!plan) return;
  free(plan->drops);
  free(plan->redacts);
  free(plan->limits);
  free(plan->error);
  fb_policy_unref(plan->common);
  fb_policy_unref(plan->state);
  free(plan);
}

/* ---- per record ----------------------------------------------------------- */

/* The record being judged, in either form: a jansson object, or record `i` of a
 * compact set (core/crec.h). The rules below read and write its fields as jansson
 * values through view_get / view_put, so the logic exists once; on a compact record
 * the common actions are written as text instead (redact_compact,
 * mark_changed_compact) and only the rarer cases pay a conversion. */
typedef struct {
  json_t *json;
  fb_crecs *set;
  size_t i;
  json_t *last; /* the compact form's value last read (view_get's borrowed answer) */
} rec_view;

static const char *key_name(int key) {
  static const char *const extra[] = {"id", "type", "redacted", "redacted_by", "state"};
  return key < FB_RECORD_FIELD_COUNT ? fb_vocab[V_FIELD][key] : extra[key - FB_RECORD_FIELD_COUNT];
}

/* Field `key` (FB_CKEY_* / FB_RECORD_FIELD_*), borrowed until the next view_get. */
static json_t *view_get(rec_view *v, int key) {
  if (v->json) return json_object_get(v->json, key_name(key));
  const fb_cmember *m = fb_crec_get(v->set, &v->set->recs[v->i], key);
  json_decref(v->last);
  v->last = m ? fb_crec_json(v->set, m) : NULL;
  return v->last;
}

/* Sets field `key` to `nv` (stolen), or removes it when `nv` is NULL. */
static void view_put(rec_view *v, int key, json_t *nv) {
  if (v->json) {
    if (nv) json_object_set_new(v->json, key_name(key), nv);
    else json_object_del(v->json, key_name(key));
    return;
  }
  if (nv) fb_crec_set(v->set, v->i, key, nv);
  else fb_crec_remove(v->set, v->i, key);
  json_decref(nv);
}

static void view_end(rec_view *v) { json_decref(v->last); }

typedef struct {
  uint32_t tags, type;
  const char *nationality;
  json_t *hold;      /* jansson form: the nationality string, alive while rules replace it */
  char *copy;        /* compact form: a copy (edits may move the set's strings), in */
  char small[16];    /* `small` when it fits */
} rec_info;

static void rec_info_init(rec_info *ri, rec_view *v) {
  ri->tags = 0;
  ri->hold = NULL;
  ri->copy = NULL;
  if (v->json) {
    json_t *tags = json_object_get(v->json, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
      int k = fb_vocab_index(V_TAGS, json_string_value(t));
      if (k >= 0) ri->tags |= 1u << k;
    }
    int k = fb_vocab_index(V_TYPE, json_string_value(json_object_get(v->json, "type")));
    ri->type = k >= 0 ? 1u << k : 0;
    json_t *nat = json_object_get(v->json, "nationality");
    ri->hold = json_incref(nat);
    ri->nationality = json_string_value(nat);
    return;
  }
  const fb_crecs *s = v->set;
  const fb_crec *r = &s->recs[v->i];
  const fb_cmember *tags = fb_crec_get(s, r, FB_RECORD_FIELD_TAGS);
  if (tags && tags->type == JSON_ARRAY) {
    uint32_t pos = 0, off, len;
    int type;
    while (fb_crec_array_next(s, tags->val, &pos, &off, &len, &type)) {
      int k = type == JSON_STRING ? fb_vocab_index(V_TAGS, fb_crec_str_at(s, off)) : -1;
      if (k >= 0) ri->tags |= 1u << k;
    }
  }
  int k = fb_vocab_index(V_TYPE, fb_crec_string(s, r, FB_CKEY_TYPE));
  ri->type = k >= 0 ? 1u << k : 0;
  const char *nat = fb_crec_string(s, r, FB_RECORD_FIELD_NATIONALITY);
  size_t n = nat ? strlen(nat) : 0;
  if (!nat) ri->nationality = NULL;
  else if (n < sizeof ri->small) ri->nationality = memcpy(ri->small, nat, n + 1);
  else ri->nationality = ri->copy = fb_xstrdup(nat);
}

static void rec_info_end(rec_info *ri) {
  json_decref(ri->hold);
  free(ri->copy);
}

static bool filter_match(const record_filter *f, const rec_info *ri) {
  return (f->tags == 0 || (f->tags & ri->tags)) && (f->type == 0 || (f->type & ri->type)) &&
         (f->nationality.n == 0 || strset_has(&f->nationality, ri->nationality));
}

/* Ends the MAC begun by mac_begin: true with the digest's hex in `hex`, or false. */
static bool mac_end_hex(const fb_policy *p, bool ok, char hex[65]) {
  unsigned char md[32];
  size_t mdlen = 0;
  bool final = ok && EVP_MAC_final(p->hmac, md, &mdlen, sizeof md) && mdlen == 32;
  if (p->hmac) pthread_mutex_unlock(p->hmac_mu); /* taken by mac_begin */
  if (final) fb_hex_encode(md, 32, hex);
  return final;
}

static json_t *mac_done(const fb_policy *p, bool ok) {
  char hex[65];
  return json_string(mac_end_hex(p, ok, hex) ? hex : "[REDACTED]"); /* fail closed */
}

/* Re-initialising with no key keeps the key set at load. */
static bool mac_begin(const fb_policy *p) {
  if (!p->hmac) return false;
  pthread_mutex_lock(p->hmac_mu); /* until mac_done: the context is the policy's */
  return EVP_MAC_init(p->hmac, NULL, 0, NULL);
}

static json_t *hmac_hex(const fb_policy *p, const char *s, size_t n) {
  bool ok = mac_begin(p) && EVP_MAC_update(p->hmac, (const unsigned char *)s, n);
  return mac_done(p, ok);
}

/* A small object of strings (a document: kind, number, country) is hashed as
 * "key\0value\0" in key order, without building its JSON text. */
static json_t *hash_flat_object(const fb_policy *p, json_t *o) {
  const char *keys[8];
  size_t n = 0;
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    if (n == 8 || !json_is_string(v)) return NULL;
    size_t i = n++;
    while (i > 0 && strcmp(keys[i - 1], k) > 0) keys[i] = keys[i - 1], i--;
    keys[i] = k;
  }
  bool ok = mac_begin(p);
  for (size_t i = 0; ok && i < n; i++) {
    json_t *val = json_object_get(o, keys[i]);
    ok = EVP_MAC_update(p->hmac, (const unsigned char *)keys[i], strlen(keys[i]) + 1) &&
         EVP_MAC_update(p->hmac, (const unsigned char *)json_string_value(val), json_string_length(val) + 1);
  }
  return mac_done(p, ok);
}

static json_t *hash_value(const fb_policy *p, json_t *v) {
  if (json_is_string(v)) return hmac_hex(p, json_string_value(v), json_string_length(v));
  if (json_is_object(v)) {
    json_t *h = hash_flat_object(p, v);
    if (h) return h;
  }
  /* Anything else: its canonical JSON text, so equal values hash equal. */
  char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_t *h = s ? hmac_hex(p, s, strlen(s)) : json_string("[REDACTED]");
  free(s);
  return h;
}

/* The initials of `s` into `b` ("Ahmad bin Ali" -> "A. B. A."). */
static void initials_text(fb_buf *b, const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  while (*u) {
    while (*u && isspace(*u)) u++;
    if (!*u) break;
    /* First character of the word: one ASCII byte (upper-cased) or one UTF-8 sequence. */
    if (b->len) fb_buf_putc(b, ' ');
    if (*u < 0x80) fb_buf_putc(b, (char)toupper(*u++));
    else {
      size_t n = 1;
      while (u[n] && (u[n] & 0xC0) == 0x80 && n < 4) n++;
      fb_buf_append(b, u, n);
      u += n;
    }
    fb_buf_putc(b, '.');
    while (*u && !isspace(*u)) u++;
  }
}

static json_t *initials(const char *s) {
  fb_buf b = {0};
  initials_text(&b, s);
  json_t *out = json_string(b.data ? b.data : "");
  fb_buf_free(&b);
  return out ? out : json_string("[REDACTED]");
}

/* Returns the replacement (new ref), or NULL to remove the field. */
static json_t *redact_value(const fb_policy *p, redact_action a, json_t *v) {
  switch (a) {
  case A_MASK:
    if (json_is_array(v)) {
      json_t *l = json_array();
      json_array_append(l, masked_json);
      return l;
    }
    return json_incref(masked_json);
  case A_REMOVE: return NULL;
  case A_YEAR: {
    const char *s = json_string_value(v);
    if (s && strlen(s) >= 4 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
        isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]))
      return json_stringn(s, 4);
    return json_string("[REDACTED]"); /* not a date: fail closed */
  }
  case A_INITIALS:
    if (json_is_string(v)) return initials(json_string_value(v));
    if (json_is_array(v)) {
      json_t *out = json_array();
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e)
        json_array_append_new(out, json_is_string(e) ? initials(json_string_value(e))
                                                     : json_string("[REDACTED]"));
      return out;
    }
    return json_string("[REDACTED]");
  case A_HASH:
    if (json_is_array(v)) {
      json_t *out = json_array();
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e) json_array_append_new(out, hash_value(p, e));
      return out;
    }
    return hash_value(p, v);
  default: return json_string("[REDACTED]");
  }
}

/* ---- compact records: the common cases written as text ------------------- */

/* The replacement texts below are byte for byte what jsonw writes for redact_value's
 * answer, so the set keeps the text the jansson path would have stored;
 * tests/unit/policy/test_redact_direct.c compares the two. */
static const char masked_text[] = "\"[REDACTED]\"";
#define PUT_MASKED(b) fb_buf_append((b), masked_text, sizeof masked_text - 1)

static bool year_ok(const char *s) {
  return s && strlen(s) >= 4 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
         isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]);
}

/* The hash of the string or flat object (as hash_flat_object) whose text is at `off`,
 * as JSON text into `b`: false for any other value (left to hash_value). */
static bool hash_compact(const fb_policy *p, const fb_crecs *set, uint32_t off, int type, fb_buf *b) {
  const char *keys[8], *vals[8];
  size_t n = 0;
  if (type == JSON_OBJECT) {
    uint32_t pos = 0, koff, klen, voff, vlen;
    int vt;
    while (fb_crec_object_next(set, off, &pos, &koff, &klen, &voff, &vlen, &vt)) {
      if (n == 8 || vt != JSON_STRING) return false;
      const char *k = fb_crec_str_at(set, koff);
      size_t i = n++;
      while (i > 0 && strcmp(keys[i - 1], k) > 0) keys[i] = keys[i - 1], vals[i] = vals[i - 1], i--;
      keys[i] = k;
      vals[i] = fb_crec_str_at(set, voff);
    }
  } else if (type != JSON_STRING) {
    return false;
  }
  bool ok = mac_begin(p);
  if (type == JSON_STRING) {
    const char *s = fb_crec_str_at(set, off);
    ok = ok && EVP_MAC_update(p->hmac, (const unsigned char *)s, strlen(s));
  }
  for (size_t i = 0; ok && i < n; i++)
    ok = EVP_MAC_update(p->hmac, (const unsigned char *)keys[i], strlen(keys[i]) + 1) &&
         EVP_MAC_update(p->hmac, (const unsigned char *)vals[i], strlen(vals[i]) + 1);
  char hex[65];
  if (mac_end_hex(p, ok, hex)) {
    fb_buf_putc(b, '"');
    fb_buf_append(b, hex, 64);
    fb_buf_putc(b, '"');
  } else {
    PUT_MASKED(b); /* fail closed */
  }
  return true;
}

/* The initials of the string `s` (NULL: not a string) as JSON text into `b`. */
static void initials_compact(const char *s, fb_buf *b) {
  if (!s) {
    PUT_MASKED(b);
    return;
  }
  fb_buf t = {0};
  initials_text(&t, s);
  if (fb_jsonw_string(b, t.data ? t.data : "", t.len) != 0) PUT_MASKED(b);
  fb_buf_free(&t);
}

/* Applies action `a` to member `m` (present, not null) of compact record `i` without
 * a jansson value: true when done. A hash of anything but strings and flat objects
 * (alone or in a list) is left to redact_value. */
static bool redact_compact(const fb_policy *p, redact_action a, fb_crecs *set, size_t i, int f, const fb_cmember *m) {
  const char *s = m->type == JSON_STRING ? fb_crec_str_at(set, m->val) : NULL;
  fb_buf *b = &set->scratch;
  b->len = 0;
  switch (a) {
  case A_REMOVE: fb_crec_remove(set, i, f); return true;
  case A_MASK:
    if (m->type == JSON_ARRAY) fb_buf_append(b, "[\"[REDACTED]\"]", 14);
    else PUT_MASKED(b);
    break;
  case A_YEAR:
    if (year_ok(s)) fb_jsonw_string(b, s, 4);
    else PUT_MASKED(b); /* not a date: fail closed */
    break;
  case A_INITIALS:
  case A_HASH:
    if (m->type == JSON_ARRAY) { /* each element, as redact_value does */
      uint32_t pos = 0, off, len;
      int type;
      fb_buf_putc(b, '[');
      for (bool first = true; fb_crec_array_next(set, m->val, &pos, &off, &len, &type); first = false) {
        if (!first) fb_buf_putc(b, ',');
        if (a == A_INITIALS) initials_compact(type == JSON_STRING ? fb_crec_str_at(set, off) : NULL, b);
        else if (!hash_compact(p, set, off, type, b)) return false;
      }
      fb_buf_putc(b, ']');
    } else if (a == A_INITIALS) {
      initials_compact(s, b);
    } else if (!hash_compact(p, set, m->val, m->type, b)) {
      return false;
    }
    break;
  default: PUT_MASKED(b);
  }
  return fb_crec_set_text(set, i, f, b->data, b->len) == 0;
}

/* One {"record","field","rule","kind","policy","action"} entry of a traced apply. */
static void note_change(json_t *changes, rec_view *v, const step *st, const char *field) {
  if (!changes) return;
  json_t *o = json_pack("{s:O?, s:s, s:s, s:s}", "record", view_get(v, FB_CKEY_ID), "rule", st->r->name, "kind",
                        fb_rule_kind_names[st->r->kind], "policy", st->p->code);
  if (field) json_object_set_new(o, "field", json_string(field));
  if (st->r->kind == RK_REDACT) json_object_set_new(o, "action", json_string(fb_action_names[st->r->action]));
  json_array_append_new(changes, o);
}

/* Applies the redact steps to one record; returns the mask of fields changed, and in
 * by[f] the step that last changed field f (its value is that rule's doing). */
static uint32_t redact_record(const fb_plan *plan, rec_view *rec, const rec_info *ri, json_t *changes,
                              const step **by) {
  uint32_t changed = 0;
  for (size_t s = 0; s < plan->nredacts; s++) {
    const rule *r = plan->redacts[s].r;
    if (!filter_match(&r->filter, ri)) continue;
    FOR_FIELDS(f, r->field_mask) {
      if (rec->json) {
        json_t *v = view_get(rec, f);
        if (!v || json_is_null(v)) continue;
        view_put(rec, f, redact_value(plan->redacts[s].p, r->action, v));
      } else {
        const fb_cmember *m = fb_crec_get(rec->set, &rec->set->recs[rec->i], f);
        if (!m || m->type == JSON_NULL) continue;
        if (!redact_compact(plan->redacts[s].p, r->action, rec->set, rec->i, f, m))
          view_put(rec, f, redact_value(plan->redacts[s].p, r->action, view_get(rec, f)));
      }
      changed |= 1u << f;
      by[f] = &plan->redacts[s];
      note_change(changes, rec, &plan->redacts[s], fb_vocab[V_FIELD][f]);
    }
  }
  return changed;
}

/* Says on the record which fields changed ("redacted", kept with what the node
 * listed) and which rule changed each ("redacted_by": an extension of API.md's record,
 * so an analyst can be told why a value is hidden). Returns the fields counted. */
static size_t mark_changed_json(rec_view *rec, uint32_t changed, const step *const *by) {
  size_t count = 0;
  json_t *old = view_get(rec, FB_CKEY_REDACTED);
  bool fresh = !json_is_array(old);
  json_t *list = fresh ? json_array() : json_copy(old);
  for (int f = 0; fb_vocab[V_FIELD][f]; f++) {
    if (!(changed & (1u << f))) continue;
    count++;
    const char *name = fb_vocab[V_FIELD][f];
    bool present = false;
    size_t j;
    json_t *e;
    if (!fresh) json_array_foreach(list, j, e) present |= json_is_string(e) && strcmp(json_string_value(e), name) == 0;
    if (!present) json_array_append(list, field_json[f]);
  }
  view_put(rec, FB_CKEY_REDACTED, list);
  old = view_get(rec, FB_CKEY_REDACTED_BY);
  json_t *why = json_is_object(old) ? json_copy(old) : json_object();
  for (int f = 0; fb_vocab[V_FIELD][f]; f++)
    if ((changed & (1u << f)) && by[f]) json_object_set_new(why, fb_vocab[V_FIELD][f], json_string(by[f]->r->name));
  view_put(rec, FB_CKEY_REDACTED_BY, why);
  return count;
}

/* A record without a "redacted" list or "redacted_by" object of its own is marked
 * with values that depend only on the fields changed and the steps that changed them:
 * the records of one apply marked alike (most: one rule masks the same fields of
 * every victim record) share those values' text in the set (fb_crec_set_shared). */
typedef struct {
  uint32_t changed;
  const step *by[FB_RECORD_FIELD_COUNT]; /* those of `changed` */
  fb_cmember redacted, redacted_by;      /* the values the first such record got */
} mark_memo;

typedef struct {
  mark_memo m[4];
  size_t n;
} mark_memos;

static mark_memo *memo_find(mark_memos *mm, uint32_t changed, const step *const *by) {
  for (size_t k = 0; k < mm->n; k++) {
    mark_memo *e = &mm->m[k];
    bool same = e->changed == changed;
    FOR_FIELDS(f, changed) same = same && e->by[f] == by[f];
    if (same) return e;
  }
  return NULL;
}

static void memo_add(mark_memos *mm, const fb_crecs *set, size_t i, uint32_t changed, const step *const *by) {
  const fb_cmember *list = fb_crec_get(set, &set->recs[i], FB_CKEY_REDACTED);
  const fb_cmember *why = fb_crec_get(set, &set->recs[i], FB_CKEY_REDACTED_BY);
  if (!list || !why || mm->n == FB_ARRAY_LEN(mm->m)) return;
  mark_memo *e = &mm->m[mm->n++];
  memset(e, 0, sizeof *e);
  e->changed = changed;
  FOR_FIELDS(f, changed) e->by[f] = by[f];
  e->redacted = *list;
  e->redacted_by = *why;
}

/* mark_changed on a compact record, its text written directly: false (nothing
 * changed) in the rarer cases left to the jansson form: reals in the node's
 * "redacted" or "redacted_by", a "redacted_by" that already names a changed field
 * (replaced in place there), a rule name that is not UTF-8. */
static bool mark_changed_compact(fb_crecs *set, size_t i, uint32_t changed, const step *const *by,
                                 mark_memos *mm) {
  const fb_crec *r = &set->recs[i];
  const fb_cmember *old = fb_crec_get(set, r, FB_CKEY_REDACTED);
  const fb_cmember *why = fb_crec_get(set, r, FB_CKEY_REDACTED_BY);
  bool old_list = old && old->type == JSON_ARRAY, old_why = why && why->type == JSON_OBJECT;
  if ((old_list && old->reals) || (old_why && why->reals)) return false;
  bool alike = !old_list && !old_why;
  mark_memo *e = alike ? memo_find(mm, changed, by) : NULL;
  if (e) {
    /* copies: the first append may move the record's members */
    fb_cmember list = e->redacted, reasons = e->redacted_by;
    if (fb_crec_set_shared(set, i, FB_CKEY_REDACTED, &list) != 0) return false; /* never: they lie in the set */
    if (fb_crec_set_shared(set, i, FB_CKEY_REDACTED_BY, &reasons) != 0)
      fb_crec_remove(set, i, FB_CKEY_REDACTED_BY); /* never; fail closed */
    return true;
  }
  FOR_FIELDS(f, changed) {
    uint32_t off, len;
    int type;
    if (!by[f] || !by[f]->name_text) return false;
    if (old_why && fb_crec_object_get(set, why->val, fb_vocab[V_FIELD][f], &off, &len, &type)) return false;
  }
  fb_buf *b = &set->scratch;
  b->len = 0;
  bool more = false;
  if (old_list) { /* the node's list, then the fields it does not name yet */
    fb_buf_append(b, fb_crec_text_at(set, old->val), old->vlen - 1);
    more = old->vlen > 2;
  } else {
    fb_buf_putc(b, '[');
  }
  FOR_FIELDS(f, changed) {
    bool present = false;
    uint32_t pos = 0, off, len;
    int type;
    while (old_list && !present && fb_crec_array_next(set, old->val, &pos, &off, &len, &type))
      present = type == JSON_STRING && strcmp(fb_crec_str_at(set, off), fb_vocab[V_FIELD][f]) == 0;
    if (present) continue;
    if (more) fb_buf_putc(b, ',');
    put_field_name(b, f);
    more = true;
  }
  fb_buf_putc(b, ']');
  /* `why` is read before appending (which may move the edits' text and members) */
  uint32_t why_val = old_why ? why->val : 0, why_len = old_why ? why->vlen : 0;
  if (fb_crec_set_text(set, i, FB_CKEY_REDACTED, b->data, b->len) != 0) return false;
  b->len = 0;
  if (old_why) {
    fb_buf_append(b, fb_crec_text_at(set, why_val), why_len - 1);
    more = why_len > 2;
  } else {
    fb_buf_putc(b, '{');
    more = false;
  }
  FOR_FIELDS(f, changed) {
    if (more) fb_buf_putc(b, ',');
    put_field_name(b, f);
    fb_buf_putc(b, ':');
    fb_buf_append(b, by[f]->name_text, by[f]->name_len);
    more = true;
  }
  fb_buf_putc(b, '}');
  if (fb_crec_set_text(set, i, FB_CKEY_REDACTED_BY, b->data, b->len) != 0) {
    fb_crec_remove(set, i, FB_CKEY_REDACTED_BY); /* never for this text; fail closed */
    return true;
  }
  if (alike) memo_add(mm, set, i, changed, by);
  return true;
}

static size_t mark_changed(rec_view *rec, uint32_t changed, const step *const *by, mark_memos *mm) {
  if (!rec->json && mark_changed_compact(rec->set, rec->i, changed, by, mm))
    return (size_t)__builtin_popcount(changed);
  return mark_changed_json(rec, changed, by);
}

/* The records under the plan: a jansson array, or a compact set. */
typedef struct {
  json_t *array;
  fb_crecs *set;
} recs_view;

static size_t recs_count(const recs_view *rv) { return rv->array ? json_array_size(rv->array) : rv->set->nrecs; }

/* Record i's view, or false when it is not an object (not a record: withheld). */
static bool recs_at(const recs_view *rv, size_t i, rec_view *v) {
  *v = (rec_view){.json = rv->array ? json_array_get(rv->array, i) : NULL, .set = rv->set, .i = i};
  return rv->array ? json_is_object(v->json) : rv->set->recs[i].type == JSON_OBJECT;
}

/* Record i goes to place `kept` (kept <= i); at the end, the first `kept` remain. */
static void recs_keep(const recs_view *rv, size_t i, size_t kept) {
  if (kept == i) return;
  if (rv->array) json_array_set(rv->array, kept, json_array_get(rv->array, i));
  else rv->set->recs[kept] = rv->set->recs[i];
}

static void recs_cut(const recs_view *rv, size_t kept) {
  if (!rv->array) {
    rv->set->nrecs = kept;
    return;
  }
  /* from the end: removing from the middle of a large array one by one is quadratic */
  while (json_array_size(rv->array) > kept) json_array_remove(rv->array, json_array_size(rv->array) - 1);
}

static int apply(const fb_plan *plan, const recs_view *rv, size_t *redacted_out, json_t *changes) {
  size_t count = 0;
  if (redacted_out) *redacted_out = 0;
  if (plan->error) {
    recs_cut(rv, 0);
    return -1;
  }
  /* Kept records are compacted towards the front in one pass; the tail is cut at the end. */
  size_t kept = 0;
  mark_memos memos = {.n = 0};
  size_t n = recs_count(rv);
  for (size_t i = 0; i < n; i++) {
    rec_view rec;
    if (!recs_at(rv, i, &rec)) continue; /* not a record: withhold it */
    rec_info ri;
    rec_info_init(&ri, &rec);
    bool dropped = false;
    for (size_t s = 0; s < plan->ndrops && !dropped; s++)
      if ((dropped = filter_match(&plan->drops[s].r->filter, &ri))) note_change(changes, &rec, &plan->drops[s], NULL);
    if (dropped || (plan->limit >= 0 && kept >= (size_t)plan->limit)) {
      rec_info_end(&ri);
      view_end(&rec);
      if (dropped) continue;
      /* The strictest limit removes this record and every later one a drop spares. */
      for (size_t j = i; changes && j < n; j++) {
        rec_view later;
        if (!recs_at(rv, j, &later)) continue;
        rec_info rj;
        rec_info_init(&rj, &later);
        bool gone = false;
        for (size_t s = 0; s < plan->ndrops && !gone; s++)
          if ((gone = filter_match(&plan->drops[s].r->filter, &rj))) note_change(changes, &later, &plan->drops[s], NULL);
        for (size_t s = 0; s < plan->nlimits && !gone; s++)
          if ((gone = plan->limits[s].r->max_records == plan->limit)) note_change(changes, &later, &plan->limits[s], NULL);
        rec_info_end(&rj);
        view_end(&later);
      }
      break;
    }
    const step *by[FB_RECORD_FIELD_COUNT] = {0};
    /* `ri` keeps the nationality that later rules' filters read, even once a rule has
     * replaced or removed it */
    uint32_t changed = plan->nredacts ? redact_record(plan, &rec, &ri, changes, by) : 0;
    if (changed) count += mark_changed(&rec, changed, by, &memos);
    rec_info_end(&ri);
    view_end(&rec);
    recs_keep(rv, i, kept++);
  }
  recs_cut(rv, kept);
  if (redacted_out) *redacted_out = count;
  return 0;
}

int fb_plan_apply(const fb_plan *plan, json_t *records, size_t *redacted_out) {
  return fb_plan_apply_traced(plan, records, redacted_out, NULL);
}

int fb_plan_apply_traced(const fb_plan *plan, json_t *records, size_t *redacted_out, json_t *changes) {
  if (redacted_out) *redacted_out = 0;
  if (!json_is_array(records)) return -1;
  return apply(plan, &(recs_view){.array = records}, redacted_out, changes);
}

int fb_plan_apply_crecs(const fb_plan *plan, fb_crecs *set, size_t *redacted_out) {
  return apply(plan, &(recs_view){.set = set}, redacted_out, NULL);
}

/* ---- description ---------------------------------------------------------- */

static json_t *filter_json(const record_filter *f) {
  json_t *o = json_object();
  for (int v = V_TAGS; v <= V_TYPE; v++) {
    uint32_t m = v == V_TAGS ? f->tags : f->type;
    if (!m) continue;
    json_t *a = json_array();
    for (int i = 0; fb_vocab[v][i]; i++)
      if (m & (1u << i)) json_array_append_new(a, json_string(fb_vocab[v][i]));
    json_object_set_new(o, fb_vocab_key[v], a);
  }
  if (f->nationality.n) {
    json_t *a = json_array();
    for (size_t i = 0; i < f->nationality.n; i++) json_array_append_new(a, json_string(f->nationality.v[i]));
    json_object_set_new(o, "nationality", a);
  }
  return o;
}

static json_t *step_json(const step *s) {
  const rule *r = s->r;
  json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "rule", r->name, "kind",
                        fb_rule_kind_names[r->kind], "policy", s->p->code, "reason",
                        r->reason ? r->reason : r->name);
  if (r->kind == RK_LIMIT) {
    json_object_set_new(o, "max_records", json_integer(r->max_records));
    return o;
  }
  json_object_set_new(o, "records", filter_json(&r->filter));
  if (r->kind == RK_REDACT) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->nfields; i++) json_array_append_new(a, json_string(r->fields[i]));
    json_object_set_new(o, "fields", a);
    json_object_set_new(o, "action", json_string(fb_action_names[r->action]));
  }
  return o;
}

json_t *fb_plan_describe(const fb_plan *plan) {
  json_t *a = json_array();
  if (plan->error) {
    json_array_append_new(a, json_pack("{s:s, s:s}", "kind", "policy_error", "error", plan->error));
    return a;
  }
  for (size_t i = 0; i < plan->ndrops; i++) json_array_append_new(a, step_json(&plan->drops[i]));
  for (size_t i = 0; i < plan->nredacts; i++) json_array_append_new(a, step_json(&plan->redacts[i]));
  for (size_t i = 0; i < plan->nlimits; i++) json_array_append_new(a, step_json(&plan->limits[i]));
  return a;
}
