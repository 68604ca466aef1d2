/* The formal re-query of a follow-up's release (search/formal.h). */
#include "search/formal.h"

#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/hublock.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/policy.h"

typedef struct fb_formal {
  fb_formal_cb cb;
  void *data;
  fb_policy *common, *policy;
  fb_decision decision;
  fb_plan *plan;
  char *state;
  fb_leg *leg;
} formal;

static void formal_free(formal *f) {
  fb_decision_clear(&f->decision);
  if (f->plan) fb_plan_free(f->plan);
  if (f->policy) fb_policy_unref(f->policy);
  if (f->common) fb_policy_unref(f->common);
  free(f->state);
  free(f);
}

/* The adapter calls back without the hub lock when its transport let go of it: the
 * release's completion (the follow-up store) is shared. */
static void on_records(void *data, int status, json_t *records, const char *error) {
  bool entered = fb_hublock_enter();
  formal *f = data;
  f->leg = NULL;
  if (status != 0) {
    f->cb(f->data, -1, NULL, NULL, NULL, error ? error : "the state's system did not answer");
  } else if (fb_plan_apply(f->plan, records, NULL) != 0) {
    /* fail closed: a record rule failed, nothing leaves */
    json_t *none = json_array();
    fb_error("policy_error", "%s: record rules failed on a formal release", f->state);
    f->cb(f->data, 0, "deny", "policy_error", none, NULL);
    json_decref(none);
  } else {
    f->cb(f->data, 0, "allow", f->decision.rule, records, NULL);
  }
  json_decref(records);
  formal_free(f);
  fb_hublock_leave(entered);
}

void fb_formal_cancel(fb_formal *f) {
  if (f->leg) fb_adapter_cancel(f->leg);
  f->cb(f->data, -1, NULL, NULL, NULL, "the hub is stopping");
  formal_free(f);
}

fb_formal *fb_formal_query(fb_search_engine *e, fb_policy_store *policies, const fb_formal_request *r,
                     uint32_t timeout_ms, fb_formal_cb cb, void *data) {
  formal *f = fb_xcalloc(1, sizeof *f);
  f->cb = cb;
  f->data = data;
  f->state = fb_xstrdup(r->state);
  f->common = fb_policy_store_common(policies);
  f->policy = fb_policy_store_get(policies, r->state);
  const char *roles[] = {"analyst"};
  fb_query q = {.purpose = r->purpose, .priority = r->priority, .legal_basis = r->legal_basis,
                .justification = r->justification, .case_ref = r->case_ref, .from_state = r->from_state,
                .agency = r->agency, .roles = roles, .nroles = 1, .subject = r->subject, .query_id = r->query_id,
                .formal = true};
  fb_policy_decide_named(f->common, f->policy, r->state, &q, &f->decision, NULL);
  if (f->decision.effect != FB_EFFECT_ALLOW) {
    json_t *none = json_array();
    cb(data, 0, fb_effect_name(f->decision.effect), f->decision.rule, none, NULL);
    json_decref(none);
    formal_free(f);
    return NULL;
  }
  f->plan = fb_plan_new(f->common, f->policy, &q);
  fb_adapter *a = fb_search_engine_adapter(e, r->state);
  fb_leg_request lr = {.query_id = r->query_id, .subject = r->subject, .purpose = r->purpose,
                       .priority = r->priority, .legal_basis = r->legal_basis, .case_ref = r->case_ref,
                       .justification = r->justification, .requester_state = r->from_state,
                       .requester_agency = r->agency, .limit = 100, .timeout_ms = timeout_ms};
  if (!a || fb_adapter_start(a, &lr, on_records, f, &f->leg) != 0) {
    cb(data, -1, NULL, NULL, NULL, "the state's system could not be asked");
    formal_free(f);
    return NULL;
  }
  return f;
}
