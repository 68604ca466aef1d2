/* The dry run behind POST /v1/policy/evaluate and `fedbroker policy eval`: decides
 * every requested state with a trace and redacts the sample records, contacting no
 * national system. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "policy/tools.h"

static int set_err(char **err, const char *msg) {
  if (err) *err = fb_xstrdup(msg);
  return -1;
}

int fb_query_from_json(json_t *body, fb_query *q) {
  json_t *cr = json_object_get(body, "case_ref");
  q->purpose = json_string_value(json_object_get(body, "purpose"));
  q->priority = json_string_value(json_object_get(body, "priority"));
  q->legal_basis = json_string_value(json_object_get(body, "legal_basis"));
  q->justification = json_string_value(json_object_get(body, "justification"));
  q->case_ref = json_is_string(cr) ? json_string_value(cr) : NULL;
  q->subject = json_object_get(body, "subject");
  q->query_id = json_string_value(json_object_get(body, "query_id"));
  q->formal = json_is_true(json_object_get(body, "formal")); /* policy test cases: a follow-up's release */
  return 0;
}

json_t *fb_policy_evaluate(fb_policy_store *store, json_t *body, const char *req_state,
                           const char *req_agency, const char *const *roles, size_t nroles,
                           char **err) {
  if (!json_is_object(body)) return set_err(err, "the request must be a JSON object"), NULL;
  fb_query q = {0};
  fb_query_from_json(body, &q);
  q.from_state = req_state;
  q.agency = req_agency;
  q.roles = roles;
  q.nroles = nroles;
  const char **as_roles = NULL;
  json_t *as = json_object_get(body, "as");
  if (as) {
    json_t *st = json_object_get(as, "state"), *ag = json_object_get(as, "agency"),
           *rl = json_object_get(as, "roles");
    if (!json_is_object(as) || !json_is_string(st) || (ag && !json_is_string(ag)) ||
        (rl && !json_is_array(rl)))
      return set_err(err, "as must be {\"state\": \"XXX\", \"agency\": \"...\", \"roles\": [...]}"), NULL;
    q.from_state = json_string_value(st);
    q.agency = ag ? json_string_value(ag) : NULL;
    if (rl) {
      as_roles = fb_xcalloc(json_array_size(rl) + 1, sizeof(char *));
      size_t i;
      json_t *r;
      json_array_foreach(rl, i, r) {
        if (!json_is_string(r)) {
          free(as_roles);
          return set_err(err, "as.roles must be a list of strings"), NULL;
        }
        as_roles[i] = json_string_value(r);
      }
      q.roles = as_roles;
      q.nroles = json_array_size(rl);
    }
  }
  if (!q.from_state) return free(as_roles), set_err(err, "the requester's state is unknown"), NULL;
  json_t *records = json_object_get(body, "records");
  if (records && !json_is_object(records)) {
    free(as_roles);
    return set_err(err, "records must be an object: {\"MYS\": [record, ...]}"), NULL;
  }
  json_t *states = json_object_get(body, "states");
  if (states && !json_is_array(states)) {
    free(as_roles);
    return set_err(err, "states must be a list of state codes"), NULL;
  }
  json_t *codes = json_array();
  if (states) {
    size_t i;
    json_t *s;
    json_array_foreach(states, i, s) {
      if (!json_is_string(s)) {
        free(as_roles);
        json_decref(codes);
        return set_err(err, "states must be a list of state codes"), NULL;
      }
      json_array_append(codes, s);
    }
  } else {
    for (size_t i = 0; i < fb_policy_store_nstates(store); i++)
      if (strcmp(fb_policy_store_state(store, i), q.from_state) != 0)
        json_array_append_new(codes, json_string(fb_policy_store_state(store, i)));
  }

  fb_policy *common = fb_policy_store_common(store);
  json_t *out_states = json_array();
  size_t i;
  json_t *code;
  json_array_foreach(codes, i, code) {
    const char *c = json_string_value(code);
    fb_policy *p = fb_policy_store_get(store, c);
    json_t *trace = json_array();
    fb_decision d;
    fb_policy_decide_named(common, p, c, &q, &d, trace);
    json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O, s:o}", "state", c, "effect",
                              fb_effect_name(d.effect), "rule", d.rule, "reason", d.reason,
                              "review", d.review, "contact", p ? fb_policy_contact(p) : json_null(),
                              "trace", trace);
    if (d.error) json_object_set_new(entry, "error", json_string(d.error));
    json_t *sample = json_object_get(records, c);
    json_t *recs = json_is_array(sample) ? json_deep_copy(sample) : json_array();
    if (d.effect == FB_EFFECT_ALLOW) {
      fb_plan *plan = fb_plan_new(common, p, &q);
      size_t redacted = 0;
      fb_plan_apply(plan, recs, &redacted);
      json_object_set_new(entry, "redactions", fb_plan_describe(plan));
      json_object_set_new(entry, "redacted", json_integer((json_int_t)redacted));
      if (fb_plan_error(plan)) json_object_set_new(entry, "error", json_string(fb_plan_error(plan)));
      fb_plan_free(plan);
    } else {
      /* Nothing is shared: hit_only reports how many records matched. */
      if (d.effect == FB_EFFECT_HIT_ONLY)
        json_object_set_new(entry, "hits", json_integer((json_int_t)json_array_size(recs)));
      json_array_clear(recs);
      json_object_set_new(entry, "redactions", json_array());
    }
    json_object_set_new(entry, "records", recs);
    json_array_append_new(out_states, entry);
    fb_decision_clear(&d);
    fb_policy_unref(p);
  }
  fb_policy_unref(common);
  json_decref(codes);
  free(as_roles);
  return json_pack("{s:o}", "states", out_states);
}
