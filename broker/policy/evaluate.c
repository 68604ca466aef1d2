/* The dry run behind POST /v1/policy/evaluate and `fedbroker policy eval`: decides
 * every requested state with a trace and redacts the sample records, contacting no
 * national system. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glob.h>

#include "core/error.h"
#include "core/util.h"
#include "policy/draft.h"
#include "policy/outbound.h"
#include "policy/tools.h"


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

json_t *fb_policy_evaluate_set(const fb_policy_set *set, json_t *body, const char *req_state,
                               const char *req_agency, const char *const *roles, size_t nroles,
                               char **err) {
  if (!json_is_object(body)) return fb_set_error(err, "the request must be a JSON object"), NULL;
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
      return fb_set_error(err, "as must be {\"state\": \"XXX\", \"agency\": \"...\", \"roles\": [...]}"), NULL;
    q.from_state = json_string_value(st);
    q.agency = ag ? json_string_value(ag) : NULL;
    if (rl) {
      as_roles = fb_xcalloc(json_array_size(rl) + 1, sizeof(char *));
      size_t i;
      json_t *r;
      json_array_foreach(rl, i, r) {
        if (!json_is_string(r)) {
          free(as_roles);
          return fb_set_error(err, "as.roles must be a list of strings"), NULL;
        }
        as_roles[i] = json_string_value(r);
      }
      q.roles = as_roles;
      q.nroles = json_array_size(rl);
    }
  }
  if (!q.from_state) return free(as_roles), fb_set_error(err, "the requester's state is unknown"), NULL;
  json_t *records = json_object_get(body, "records");
  if (records && !json_is_object(records)) {
    free(as_roles);
    return fb_set_error(err, "records must be an object: {\"MYS\": [record, ...]}"), NULL;
  }
  json_t *states = json_object_get(body, "states");
  if (states && !json_is_array(states)) {
    free(as_roles);
    return fb_set_error(err, "states must be a list of state codes"), NULL;
  }
  json_t *codes = json_array();
  if (states) {
    size_t i;
    json_t *s;
    json_array_foreach(states, i, s) {
      if (!json_is_string(s)) {
        free(as_roles);
        json_decref(codes);
        return fb_set_error(err, "states must be a list of state codes"), NULL;
      }
      json_array_append(codes, s);
    }
  } else {
    for (size_t i = 0; i < fb_policy_set_nstates(set); i++)
      if (strcmp(fb_policy_set_state(set, i), q.from_state) != 0)
        json_array_append_new(codes, json_string(fb_policy_set_state(set, i)));
  }

  fb_policy *common = fb_policy_set_common(set);
  json_t *out_states = json_array();
  size_t i;
  json_t *code;
  json_array_foreach(codes, i, code) {
    const char *c = json_string_value(code);
    fb_policy *p = fb_policy_set_get(set, c);
    json_t *trace = json_array();
    fb_decision d;
    fb_policy_set_decide(set, &q, c, &d, trace);
    json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O, s:o}", "state", c, "effect",
                              fb_effect_name(d.effect), "rule", d.rule, "reason", d.reason,
                              "review", d.review, "contact", p ? fb_policy_contact(p) : json_null(),
                              "trace", trace);
    if (d.by) json_object_set_new(entry, "by", json_string(d.by));
    if (d.error) json_object_set_new(entry, "error", json_string(d.error));
    json_t *sample = json_object_get(records, c);
    json_t *recs = json_is_array(sample) ? json_deep_copy(sample) : json_array();
    if (d.effect == FB_EFFECT_ALLOW) {
      fb_plan *plan = fb_plan_new(common, p, &q);
      size_t redacted = 0;
      json_t *changes = json_array();
      fb_plan_apply_traced(plan, recs, &redacted, changes);
      /* Per sample record, which rule changed or removed which field; and the record
       * rules that applied to this request at all. */
      json_object_set_new(entry, "redactions", changes);
      json_object_set_new(entry, "record_rules", fb_plan_describe(plan));
      json_object_set_new(entry, "redacted", json_integer((json_int_t)redacted));
      if (fb_plan_error(plan)) json_object_set_new(entry, "error", json_string(fb_plan_error(plan)));
      fb_plan_free(plan);
    } else {
      /* Nothing is shared: hit_only reports how many records matched. */
      if (d.effect == FB_EFFECT_HIT_ONLY)
        json_object_set_new(entry, "hits", json_integer((json_int_t)json_array_size(recs)));
      json_array_clear(recs);
      json_object_set_new(entry, "redactions", json_array());
      json_object_set_new(entry, "record_rules", json_array());
    }
    json_object_set_new(entry, "records", recs);
    json_array_append_new(out_states, entry);
    fb_decision_clear(&d);
  }
  json_decref(codes);
  free(as_roles);
  json_t *out = json_pack("{s:o}", "states", out_states);
  /* The requesting state's outbound_require rules: a search would be refused (400)
   * before any state is asked; the states above show what each would decide. */
  fb_outbound_missing miss;
  char *oerr = NULL;
  int orc = fb_outbound_require(fb_policy_set_get(set, q.from_state), &q, &miss, &oerr);
  if (orc > 0)
    json_object_set_new(out, "refused", json_pack("{s:s, s:s, s:s, s:s}", "field", miss.field, "rule", miss.rule,
                                                  "reason", miss.reason, "by", q.from_state));
  else if (orc < 0)
    json_object_set_new(out, "refused", json_pack("{s:s, s:s, s:s}", "rule", "policy_error", "error",
                                                  oerr ? oerr : "outbound_require failed", "by", q.from_state));
  free(oerr);
  return out;
}

json_t *fb_policy_evaluate(fb_policy_store *store, json_t *body, const char *req_state,
                           const char *req_agency, const char *const *roles, size_t nroles,
                           char **err) {
  fb_policy_set *set = fb_policy_set_from_store(store);
  json_t *out = fb_policy_evaluate_set(set, body, req_state, req_agency, roles, nroles, err);
  fb_policy_set_free(set);
  return out;
}

/* The test files of the drafted states: DIR/tests/<STATE>_test.lua, every test file
 * when common.lua is drafted. */
static void drafted_test_files(const fb_policy_set *set, const char *dir, json_t *files) {
  char pattern[4200];
  bool all = fb_policy_set_is_draft(set, "common");
  for (size_t i = 0; i < fb_policy_set_nstates(set); i++) {
    const char *code = fb_policy_set_state(set, i);
    if (!all && !fb_policy_set_is_draft(set, code)) continue;
    snprintf(pattern, sizeof pattern, "%s/tests/%s_test.lua", dir, code);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0)
      for (size_t k = 0; k < g.gl_pathc; k++) json_array_append_new(files, json_string(g.gl_pathv[k]));
    globfree(&g);
  }
}

json_t *fb_policy_evaluate_draft(fb_policy_store *store, json_t *body, const char *req_state,
                                 const char *req_agency, const char *const *roles, size_t nroles,
                                 json_t *problems, char **err) {
  json_t *draft = json_object_get(body, "draft"), *tests = json_object_get(body, "tests");
  if (tests && !json_is_boolean(tests)) return fb_set_error(err, "tests must be true or false"), NULL;
  fb_policy_set *set = fb_policy_set_from_store(store);
  if (draft && (fb_policy_set_put_draft(set, draft, problems) || fb_policy_set_compile(set, problems))) {
    fb_policy_set_free(set);
    return NULL;
  }
  json_t *out = fb_policy_evaluate_set(set, body, req_state, req_agency, roles, nroles, err);
  if (out && json_is_true(tests)) {
    json_t *files = json_array(), *failures = json_array();
    drafted_test_files(set, fb_policy_store_dir(store), files);
    size_t n = json_array_size(files);
    const char **paths = fb_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) paths[i] = json_string_value(json_array_get(files, i));
    int passed = 0, failed = 0;
    fb_policy_set_run_tests(set, paths, n, NULL, &passed, &failed, failures);
    free(paths);
    json_object_set_new(out, "tests", json_pack("{s:i, s:i, s:o, s:o}", "passed", passed, "failed", failed,
                                                "failures", failures, "files", files));
  }
  if (out && draft) {
    json_t *names = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(draft, k, v) json_array_append_new(names, json_string(k));
    json_object_set_new(out, "draft", names);
  }
  fb_policy_set_free(set);
  return out;
}
