/* The prover's report: each region as JSON (what it covers, value by value) and as a
 * sentence a legal officer can check ("requests from BGD, purpose intelligence, any
 * priority, legal basis informal: deny -> allow (rule 'x')"), and the verdict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/vocab.h"
#include "policy/prove_space.h"

static int popcount(uint64_t m) { return __builtin_popcountll(m); }

static uint64_t full_mask(const pv_axis *a) { return a->n == 64 ? ~0ull : (1ull << a->n) - 1; }

/* "a", "a or b", "a, b or c" */
static void list_values_sep(fb_buf *b, const pv_axis *a, uint64_t m, const char *last) {
  int left = popcount(m);
  bool first = true;
  for (size_t v = 0; v < a->n; v++) {
    if (!(m >> v & 1)) continue;
    left--;
    fb_buf_printf(b, "%s%s", first ? "" : left == 0 ? last : ", ", a->values[v]);
    first = false;
  }
}

static void list_values(fb_buf *b, const pv_axis *a, uint64_t m) { list_values_sep(b, a, m, " or "); }

static void sep(fb_buf *b) {
  if (b->len) fb_buf_puts(b, ", ");
}

/* A single-valued request dimension in words; nothing for "any" unless `core`. */
static void describe_enum(fb_buf *b, const pv_axis *a, uint64_t m) {
  const pv_enum_info *info = &pv_enum_info_of[a->ref];
  const char *what = info->label;
  uint64_t full = full_mask(a);
  if (m == full) {
    if (!info->core) return;
    sep(b);
    if (a->ref == AX_FROM) fb_buf_puts(b, "from any state");
    else fb_buf_printf(b, "any %s", what);
    return;
  }
  sep(b);
  if (info->phrases && popcount(m) == 1) {
    fb_buf_puts(b, info->phrases[__builtin_ctzll(m)]);
    return;
  }
  /* With "other" (every value no rule names) in the set, name what is left out. */
  bool except = (a->ref == AX_FROM || a->ref == AX_AGENCY) && (m >> (a->n - 1) & 1);
  if (a->ref == AX_FROM) fb_buf_puts(b, except ? "from any state except " : "from ");
  else fb_buf_printf(b, except ? "any %s except " : "%s ", what);
  if (except) list_values_sep(b, a, full & ~m, " and ");
  else list_values(b, a, m);
}

static void describe_bool(fb_buf *b, const pv_axis *a, uint64_t m, const pv_space *s) {
  if (m == 3) return;
  bool yes = m == 2;
  sep(b);
  switch (a->kind) {
  case AXK_SUBJECT:
  case AXK_ROLE: {
    bool subj = a->kind == AXK_SUBJECT;
    const char *const *names = subj ? fb_vocab[V_SUBJECT] : fb_role_names;
    if (subj) fb_buf_puts(b, yes ? "searching by " : "not searching by ");
    else fb_buf_puts(b, yes ? "requester with role " : "requester without role ");
    int left = popcount((uint64_t)(uint32_t)a->ref);
    for (int i = 0; names[i]; i++)
      if ((uint32_t)a->ref >> i & 1) {
        left--;
        fb_buf_printf(b, "%s%s", names[i], left > 1 ? ", " : left == 1 ? " or " : "");
      }
    break;
  }
  case AXK_WHEN: {
    const pv_when *w = &s->whens[a->ref];
    fb_buf_printf(b, "if %s in rule '%s' (%s%s) returns %s", w->in, w->rule, w->policy,
                  w->versions == 1 ? ", old" : w->versions == 2 ? ", new" : "", yes ? "true" : "false");
    break;
  }
  case AXK_TAG: fb_buf_printf(b, "%s %s", yes ? "tagged" : "not tagged", fb_vocab[V_TAGS][a->ref]); break;
  default: break;
  }
}

/* The requesting state first, as a legal officer would say it. */
static void describe_request(fb_buf *b, const pv_space *s, const uint64_t *m) {
  for (size_t i = 0; i < s->nreq; i++)
    if (s->axes[i].kind == AXK_ENUM && s->axes[i].ref == AX_FROM) describe_enum(b, &s->axes[i], m[i]);
  for (size_t i = 0; i < s->nreq; i++) {
    if (s->axes[i].kind == AXK_ENUM && s->axes[i].ref == AX_FROM) continue;
    if (s->axes[i].kind == AXK_ENUM) describe_enum(b, &s->axes[i], m[i]);
    else describe_bool(b, &s->axes[i], m[i], s);
  }
}

static void describe_records(fb_buf *out, const pv_space *s, const uint64_t *m) {
  fb_buf rb = {0}, *b = &rb;
  for (size_t i = s->nreq; i < s->naxes; i++) {
    const pv_axis *a = &s->axes[i];
    if (a->kind == AXK_FIELD || m[i] == full_mask(a)) continue;
    if (a->kind == AXK_TAG) describe_bool(b, a, m[i], s);
    else if (a->kind == AXK_NAT && (m[i] >> (a->n - 1) & 1)) {
      sep(b);
      fb_buf_puts(b, "of any nationality except ");
      list_values_sep(b, a, full_mask(a) & ~m[i], " and ");
    } else {
      sep(b);
      fb_buf_puts(b, a->kind == AXK_TYPE ? "of type " : "of nationality ");
      list_values(b, a, m[i]);
    }
  }
  if (rb.len) fb_buf_printf(out, "records %s", rb.data);
  else fb_buf_puts(out, "any record");
  fb_buf_free(&rb);
}

static const char *field_state(long act) {
  switch (act) {
  case -1: return "shown";
  case A_MASK: return "masked";
  case A_REMOVE: return "removed";
  case A_YEAR: return "year only";
  case A_INITIALS: return "initials";
  case A_HASH: return "hashed";
  default: return "changed";
  }
}

static json_t *side_json(const pv_label *l, bool old) {
  long v = old ? l->old_v : l->new_v;
  const char *rule_name = old ? l->old_rule : l->new_rule, *policy = old ? l->old_policy : l->new_policy;
  json_t *o = json_object();
  switch (l->kind) {
  case L_ADMISSION:
    json_object_set_new(o, "effect", json_string(fb_effect_name((fb_effect)v)));
    json_object_set_new(o, "review", json_boolean(old ? l->old_review : l->new_review));
    if (!rule_name) rule_name = "default_deny";
    break;
  case L_DROP: json_object_set_new(o, "record", json_string(v ? "shared" : "dropped")); break;
  case L_FIELD: json_object_set_new(o, "field", json_string(field_state(v))); break;
  case L_LIMIT: json_object_set_new(o, "max_records", v < 0 ? json_null() : json_integer(v)); break;
  }
  json_object_set_new(o, "rule", rule_name ? json_string(rule_name) : json_null());
  if (policy) json_object_set_new(o, "policy", json_string(policy));
  return o;
}

static void side_text(fb_buf *b, const pv_label *l, bool old) {
  long v = old ? l->old_v : l->new_v;
  switch (l->kind) {
  case L_ADMISSION:
    fb_buf_puts(b, fb_effect_name((fb_effect)v));
    if (old ? l->old_review : l->new_review) fb_buf_puts(b, " (reviewed)");
    break;
  case L_DROP: fb_buf_puts(b, v ? "shared" : "dropped"); break;
  case L_FIELD: fb_buf_puts(b, field_state(v)); break;
  case L_LIMIT:
    if (v < 0) fb_buf_puts(b, "no limit");
    else fb_buf_printf(b, "at most %ld records", v);
    break;
  }
}

static json_t *where_json(const pv_space *s, const uint64_t *m, json_t **records, json_t **fields) {
  json_t *w = json_object(), *rec = json_object(), *when = json_array();
  for (size_t i = 0; i < s->naxes; i++) {
    const pv_axis *a = &s->axes[i];
    if (a->kind == AXK_FIELD) {
      if (m[i] != full_mask(a)) {
        *fields = json_array();
        for (size_t v = 0; v < a->n; v++)
          if (m[i] >> v & 1) json_array_append_new(*fields, json_string(a->values[v]));
      }
      continue;
    }
    if (m[i] == full_mask(a)) continue;
    json_t *dst = i < s->nreq ? w : rec;
    if (a->kind == AXK_ENUM || a->kind == AXK_TYPE || a->kind == AXK_NAT) {
      json_t *vals = json_array();
      for (size_t v = 0; v < a->n; v++)
        if (m[i] >> v & 1) json_array_append_new(vals, json_string(a->values[v]));
      json_object_set_new(dst, a->kind == AXK_ENUM ? pv_enum_info_of[a->ref].key : a->kind == AXK_TYPE ? "type" : "nationality", vals);
    } else if (a->kind == AXK_WHEN) {
      const pv_when *x = &s->whens[a->ref];
      json_array_append_new(when, json_pack("{s:s, s:s, s:s, s:b}", "policy", x->policy, "rule", x->rule,
                                            "in", x->in, "returns", m[i] == 2));
    } else if (a->kind == AXK_TAG) {
      json_t *g = json_object_get(dst, "tags");
      if (!g) json_object_set_new(dst, "tags", g = json_object());
      json_object_set_new(g, fb_vocab[V_TAGS][a->ref], json_boolean(m[i] == 2));
    } else { /* subject fields or roles that only matter together: one of them, or none */
      bool subj = a->kind == AXK_SUBJECT;
      const char *const *names = subj ? fb_vocab[V_SUBJECT] : fb_role_names;
      json_t *g = json_object_get(dst, subj ? "subject" : "roles");
      if (!g) json_object_set_new(dst, subj ? "subject" : "roles", g = json_array());
      json_t *list = json_array();
      for (int k = 0; names[k]; k++)
        if ((uint32_t)a->ref >> k & 1) json_array_append_new(list, json_string(names[k]));
      json_array_append_new(g, json_pack("{s:o, s:b}", "any_of", list,
                                         subj ? "used" : "held", m[i] == 2));
    }
  }
  if (json_array_size(when)) json_object_set_new(w, "when", when);
  else json_decref(when);
  *records = rec;
  return w;
}

static json_t *region_json(const pv_space *s, const uint64_t *m, const pv_label *l) {
  json_t *records = NULL, *fields = NULL;
  json_t *where = where_json(s, m, &records, &fields);
  fb_buf t = {0}, req = {0};
  describe_request(&req, s, m);
  fb_buf_printf(&t, "%s: ", s->state);
  if (l->kind == L_ADMISSION) {
    fb_buf_printf(&t, "requests %s: ", req.data ? req.data : "of every kind");
  } else {
    if (l->kind == L_FIELD) {
      fb_buf_puts(&t, "field ");
      size_t fa = s->naxes - 1;
      list_values(&t, &s->axes[fa], m[fa]);
      fb_buf_puts(&t, " of ");
    } else if (l->kind == L_LIMIT) {
      fb_buf_puts(&t, "the number of records, ");
    }
    if (l->kind != L_LIMIT) {
      describe_records(&t, s, m);
      fb_buf_puts(&t, ", ");
    }
    fb_buf_printf(&t, "for allowed requests %s: ", req.data ? req.data : "of every kind");
  }
  side_text(&t, l, true);
  fb_buf_puts(&t, " -> ");
  side_text(&t, l, false);
  const char *nr = l->new_rule, *orl = l->old_rule;
  if (l->kind == L_ADMISSION) {
    if (!nr) nr = "default_deny";
    if (!orl) orl = "default_deny";
  }
  const char *np = l->new_policy, *op = l->old_policy;
  if (nr && orl && strcmp(nr, orl) == 0 && np && op && strcmp(np, op) != 0)
    fb_buf_printf(&t, " (rule '%s' of %s, was '%s' of %s)", nr, np, orl, op);
  else if (nr && orl && strcmp(nr, orl) == 0) fb_buf_printf(&t, " (rule '%s')", nr);
  else if (nr && orl) fb_buf_printf(&t, " (rule '%s', was '%s')", nr, orl);
  else if (nr) fb_buf_printf(&t, " (rule '%s')", nr);
  else if (orl) fb_buf_printf(&t, " (rule '%s' no longer applies)", orl);
  json_t *when = json_object_get(where, "when");
  if (when) {
    fb_buf_puts(&t, "; depends on ");
    size_t i;
    json_t *w;
    json_array_foreach(when, i, w) fb_buf_printf(&t, "%s%s in rule '%s'", i ? " and " : "",
                                                 json_string_value(json_object_get(w, "in")),
                                                 json_string_value(json_object_get(w, "rule")));
  }
  json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "state", s->state, "kind",
                        l->kind == L_ADMISSION ? "admission" : "record", "change",
                        l->change > 0 ? "widens" : "narrows", "where", where, "old", side_json(l, true),
                        "new", side_json(l, false), "text", t.data);
  if (l->kind != L_ADMISSION) json_object_set_new(o, "records", records);
  else json_decref(records);
  if (fields) json_object_set_new(o, "fields", fields);
  if (when) {
    json_t *dep = json_array();
    size_t i;
    json_t *w;
    json_array_foreach(when, i, w) json_array_append(dep, json_object_get(w, "rule"));
    json_object_set_new(o, "depends_on_when", dep);
  }
  fb_buf_free(&t);
  fb_buf_free(&req);
  return o;
}

json_t *pv_report(const pv_space *s) {
  json_t *regions = json_array(), *unknown = json_array();
  bool widens = false, narrows = false;
  for (size_t i = 0; i < s->regions.n; i++) {
    const pv_label *l = &s->labels[s->regions.label[i]];
    widens |= l->change > 0;
    narrows |= l->change < 0;
    json_array_append_new(regions, region_json(s, fb_box(&s->regions, i), l));
  }
  for (size_t i = 0; i < s->nwhen; i++) {
    const pv_when *w = &s->whens[i];
    json_array_append_new(unknown, json_pack("{s:s, s:s, s:s, s:s, s:s}", "state", s->state, "policy",
                                             w->policy, "rule", w->rule, "in", w->in, "version",
                                             w->versions == 1 ? "old" : w->versions == 2 ? "new" : "both"));
  }
  const char *verdict = widens && narrows ? "both" : widens ? "widens" : narrows ? "narrows" : "equivalent";
  return json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:o}", "state", s->state, "verdict", verdict,
                   "regions", regions, "space", (json_int_t)s->space,
                   "record_classes", (json_int_t)s->record_classes, "evaluated", (json_int_t)s->evaluated, "unknown", unknown);
}
