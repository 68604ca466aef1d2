#include "search/audit_entry.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/jsonw.h"

/* ---- the object */

static json_t *leg_json(const fb_audit_leg *l) {
  json_t *o = json_pack("{s:s, s:s, s:s?, s:I, s:I, s:b}", "state", l->state, "outcome", l->outcome, "rule", l->rule,
                        "records", (json_int_t)l->records, "redacted", (json_int_t)l->redacted, "review", l->review);
  if (l->by) json_object_set_new(o, "by", json_string(l->by));
  if (l->error) json_object_set_new(o, "error", json_string(l->error));
  if (l->latency_ms > 0) json_object_set_new(o, "latency_ms", json_real(l->latency_ms));
  if (l->hit_ref && l->hit_ref[0]) json_object_set_new(o, "hit_ref", json_string(l->hit_ref));
  return o;
}

static bool discloses(const fb_audit_leg *l) {
  return l->shared && (l->crecs ? l->crecs->nrecs : json_array_size(l->recs)) > 0;
}

static json_t *disclosed_json(const fb_search_audit *e) {
  json_t *d = json_object();
  for (size_t i = 0; i < e->nlegs; i++) {
    const fb_audit_leg *l = &e->legs[i];
    if (!discloses(l)) continue;
    json_t *ids = json_array();
    if (l->crecs) {
      for (size_t k = 0; k < l->crecs->nrecs; k++) {
        const char *id = fb_crec_string(l->crecs, &l->crecs->recs[k], FB_CKEY_ID);
        if (id) json_array_append_new(ids, json_string(id));
      }
    } else {
      size_t k;
      json_t *r;
      json_array_foreach(l->recs, k, r) {
        json_t *id = json_object_get(r, "id");
        if (json_is_string(id)) json_array_append(ids, id);
      }
    }
    json_object_set_new(d, l->state, ids);
  }
  return d;
}

json_t *fb_search_audit_json(const fb_search_audit *e) {
  const fb_search_params *p = e->p;
  bool review = false;
  json_t *states = json_array();
  for (size_t i = 0; i < e->nlegs; i++) {
    const fb_audit_leg *l = &e->legs[i];
    if (e->client_aborted) {
      json_array_append_new(states, json_pack("{s:s, s:s}", "state", l->state, "outcome", l->outcome));
      continue;
    }
    json_t *st = leg_json(l);
    review |= json_is_true(json_object_get(st, "review"));
    json_array_append_new(states, st);
  }
  json_t *entry = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s?, s:O, s:o, s:b}", "event", "search", "query_id",
                            e->query_id, "requester", fb_identity_requester_json(e->requester), "purpose", p->purpose,
                            "priority", p->priority, "legal_basis", p->legal_basis, "justification", p->justification,
                            "case_ref", p->case_ref, "subject", p->subject, "states", states, "review", review);
  if (e->client_aborted) json_object_set_new(entry, "client_aborted", json_true());
  json_object_set_new(entry, "disclosed", disclosed_json(e));
  return entry;
}

/* ---- the text */

#define PUT_LITERAL(b, lit) fb_buf_append((b), (lit), sizeof(lit) - 1)

/* A key (plain ASCII, written as is) and a string value; -1 for NULL or not UTF-8. */
static int put_key_str(fb_buf *b, const char *key, size_t klen, const char *v) {
  fb_buf_append(b, key, klen);
  return v ? fb_jsonw_string(b, v, strlen(v)) : -1;
}
/* The key is a string literal: its length is known. */
#define put_str(b, key, v) put_key_str((b), (key), sizeof(key) - 1, (v))

static int put_leg(fb_buf *b, const fb_audit_leg *l, bool brief) {
  if (put_str(b, "{\"state\":", l->state) != 0 || put_str(b, ",\"outcome\":", l->outcome) != 0) return -1;
  if (brief) {
    fb_buf_putc(b, '}');
    return 0;
  }
  if (l->rule) {
    if (put_str(b, ",\"rule\":", l->rule) != 0) return -1;
  } else {
    PUT_LITERAL(b, ",\"rule\":null");
  }
  PUT_LITERAL(b, ",\"records\":");
  fb_buf_put_uint(b, l->records);
  PUT_LITERAL(b, ",\"redacted\":");
  fb_buf_put_uint(b, l->redacted);
  fb_buf_puts(b, l->review ? ",\"review\":true" : ",\"review\":false");
  if (l->by && put_str(b, ",\"by\":", l->by) != 0) return -1;
  if (l->error && put_str(b, ",\"error\":", l->error) != 0) return -1;
  if (l->latency_ms > 0) {
    if (!isfinite(l->latency_ms)) return -1; /* json_real refuses it: the key would be left out */
    PUT_LITERAL(b, ",\"latency_ms\":");
    fb_jsonw_real(b, l->latency_ms, 0);
  }
  if (l->hit_ref && l->hit_ref[0] && put_str(b, ",\"hit_ref\":", l->hit_ref) != 0) return -1;
  fb_buf_putc(b, '}');
  return 0;
}

static int put_disclosed(fb_buf *b, const fb_search_audit *e) {
  PUT_LITERAL(b, ",\"disclosed\":{");
  bool first = true;
  for (size_t i = 0; i < e->nlegs; i++) {
    const fb_audit_leg *l = &e->legs[i];
    if (!discloses(l)) continue;
    for (size_t j = 0; j < i; j++) /* the object would keep one key: let it decide */
      if (discloses(&e->legs[j]) && strcmp(e->legs[j].state, l->state) == 0) return -1;
    if (!first) fb_buf_putc(b, ',');
    first = false;
    if (put_str(b, "", l->state) != 0) return -1;
    PUT_LITERAL(b, ":[");
    bool first_id = true;
    if (l->crecs) {
      for (size_t k = 0; k < l->crecs->nrecs; k++) {
        const char *id = fb_crec_string(l->crecs, &l->crecs->recs[k], FB_CKEY_ID);
        if (!id) continue;
        if (!first_id) fb_buf_putc(b, ',');
        first_id = false;
        if (fb_jsonw_string(b, id, strlen(id)) != 0) return -1;
      }
    } else {
      size_t k;
      json_t *r;
      json_array_foreach(l->recs, k, r) {
        json_t *id = json_object_get(r, "id");
        if (!json_is_string(id)) continue;
        if (!first_id) fb_buf_putc(b, ',');
        first_id = false;
        if (fb_jsonw_string(b, json_string_value(id), json_string_length(id)) != 0) return -1;
      }
    }
    fb_buf_putc(b, ']');
  }
  fb_buf_putc(b, '}');
  return 0;
}

static int put_entry(fb_buf *b, const fb_search_audit *e) {
  const fb_search_params *p = e->p;
  const fb_identity *id = e->requester;
  if (put_str(b, "{\"query_id\":", e->query_id) != 0 || put_str(b, ",\"requester\":{\"sub\":", id->sub) != 0 ||
      put_str(b, ",\"state\":", id->state) != 0 || put_str(b, ",\"agency\":", id->agency) != 0)
    return -1;
  PUT_LITERAL(b, ",\"roles\":[");
  bool first = true;
  for (unsigned r = 1; r && r <= FB_ROLE_LAST; r <<= 1) {
    if (!(id->roles & r)) continue;
    if (!first) fb_buf_putc(b, ',');
    first = false;
    if (put_str(b, "", fb_role_name(r)) != 0) return -1;
  }
  PUT_LITERAL(b, "]}");
  if (put_str(b, ",\"purpose\":", p->purpose) != 0 || put_str(b, ",\"priority\":", p->priority) != 0 ||
      put_str(b, ",\"legal_basis\":", p->legal_basis) != 0 ||
      put_str(b, ",\"justification\":", p->justification) != 0)
    return -1;
  if (p->case_ref) {
    if (put_str(b, ",\"case_ref\":", p->case_ref) != 0) return -1;
  } else {
    PUT_LITERAL(b, ",\"case_ref\":null");
  }
  PUT_LITERAL(b, ",\"subject\":");
  if (fb_jsonw_value(b, p->subject, 0) != 0) return -1;
  PUT_LITERAL(b, ",\"states\":[");
  bool review = false;
  for (size_t i = 0; i < e->nlegs; i++) {
    if (i) fb_buf_putc(b, ',');
    if (put_leg(b, &e->legs[i], e->client_aborted) != 0) return -1;
    review |= !e->client_aborted && e->legs[i].review;
  }
  fb_buf_puts(b, review ? "],\"review\":true" : "],\"review\":false");
  if (e->client_aborted) PUT_LITERAL(b, ",\"client_aborted\":true");
  if (put_disclosed(b, e) != 0) return -1;
  fb_buf_putc(b, '}');
  return 0;
}

int fb_search_audit_text(fb_buf *b, const fb_search_audit *e) {
  size_t mark = b->len;
  /* Room for a usual entry at once (the fields, a line per state, the disclosed ids),
   * rather than growing from empty three or four times. */
  size_t ids = 0;
  for (size_t i = 0; i < e->nlegs; i++)
    if (discloses(&e->legs[i])) ids += e->legs[i].crecs ? e->legs[i].crecs->nrecs : json_array_size(e->legs[i].recs);
  fb_buf_reserve(b, 1024 + 256 * e->nlegs + 32 * ids);
  if (put_entry(b, e) == 0) return 0;
  b->len = mark;
  if (b->data) b->data[mark] = '\0';
  return -1;
}
