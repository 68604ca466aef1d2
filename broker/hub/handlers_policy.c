/* POST /v1/policy/evaluate (legal_officer, admin): the dry run with trace; and
 * POST /v1/admin/reload (admin). Both are audited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "hub/hub.h"
#include "policy/draft.h"
#include "policy/policy.h"
#include "search/validate.h"

static void evaluate(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_LEGAL_OFFICER | FB_ROLE_ADMIN, &id) != 0) return;
  json_t *body = fb_hub_json_body(req);
  if (!body) return;
  /* Validate the search fields as a search would; "as" may name another requester. */
  const char *as_state = id.state;
  json_t *as = json_object_get(body, "as");
  if (as) {
    json_t *st = json_object_get(as, "state");
    if (!json_is_object(as) || !json_is_string(st) || !fb_state_code_valid(json_string_value(st))) {
      json_decref(body);
      fb_respond_error(req, 400, "invalid_request", "as.state must be an ISO 3166-1 alpha-3 code such as IDN.", "as.state");
      return;
    }
    as_state = json_string_value(st);
  }
  static const char *const extra[] = {"as", "records", "draft", "tests", NULL};
  fb_search_params p;
  fb_validation_error verr;
  if (fb_search_validate(body, &hub->cfg, as_state, extra, &p, &verr) != 0) {
    json_decref(body);
    fb_respond_error(req, 400, verr.code, verr.message, verr.field[0] ? verr.field : NULL);
    return;
  }
  /* The dry run sees the same default state list as a search would. */
  if (!json_object_get(body, "states")) {
    json_t *states = json_array();
    for (size_t i = 0; i < p.nstates; i++) json_array_append_new(states, json_string(p.states[i]));
    json_object_set_new(body, "states", states);
  }
  fb_search_params_free(&p);
  const char *roles[4];
  size_t nroles = 0;
  for (unsigned r = 1; r <= FB_ROLE_ADMIN; r <<= 1)
    if (id.roles & r) roles[nroles++] = fb_role_name(r);
  char *err = NULL;
  /* A draft is compiled in its own sandbox with the live limits and deployed nowhere. */
  json_t *problems = json_array();
  json_t *result = fb_policy_evaluate_draft(hub->policies, body, id.state, id.agency, roles, nroles, problems, &err);
  if (!result && json_array_size(problems)) {
    json_t *first = json_array_get(problems, 0);
    char msg[700];
    snprintf(msg, sizeof msg, "The draft does not load: %s:%d: %s", json_string_value(json_object_get(first, "file")),
             (int)json_integer_value(json_object_get(first, "line")), json_string_value(json_object_get(first, "message")));
    json_decref(body);
    free(err);
    fb_respond_json(req, 422, json_pack("{s:{s:s, s:s, s:s}, s:o}", "error", "code", "invalid_policy", "message", msg,
                                        "field", "draft", "problems", problems));
    return;
  }
  json_decref(problems);
  if (!result) {
    fb_respond_error(req, 400, "invalid_request", err ? err : "The request cannot be evaluated.", NULL);
    free(err);
    json_decref(body);
    return;
  }
  json_t *summary = json_array();
  json_t *st;
  size_t i;
  json_array_foreach(json_object_get(result, "states"), i, st)
    json_array_append_new(summary, json_pack("{s:O?, s:O?, s:O?}", "state", json_object_get(st, "state"), "effect",
                                             json_object_get(st, "effect"), "rule", json_object_get(st, "rule")));
  json_t *event = json_pack("{s:s, s:o, s:O?, s:O?, s:O?, s:O?, s:o}", "event", "evaluate", "requester",
                            fb_hub_requester_json(&id), "as", json_object_get(body, "as"), "purpose",
                            json_object_get(body, "purpose"), "priority", json_object_get(body, "priority"),
                            "legal_basis", json_object_get(body, "legal_basis"), "states", summary);
  json_t *draft = json_object_get(body, "draft");
  if (json_is_object(draft)) json_object_set_new(event, "draft", fb_policy_draft_hashes(draft));
  fb_hub_audit_event(hub, event);
  json_decref(body);
  fb_respond_json(req, 200, result);
}

/* The reload runs off the loop; the request waits for it unless the client leaves. */
typedef struct {
  fb_request *req; /* NULL once the client went away */
} reload_wait;

static void on_reload_client_gone(fb_request *req, void *data) {
  (void)req;
  reload_wait *w = data;
  w->req = NULL;
}

static void on_reloaded(fb_hub *hub, int rc, json_t *report, void *data) {
  (void)hub;
  reload_wait *w = data;
  fb_request *req = w->req;
  free(w);
  if (!req) return;
  fb_request_set_abort(req, NULL, NULL);
  if (!report) {
    fb_respond_error(req, 503, "not_ready", "The hub is shutting down; the policies were not reloaded.", NULL);
    return;
  }
  json_t *body = json_deep_copy(report);
  json_object_set_new(body, "ok", json_boolean(rc == 0));
  fb_respond_json(req, rc == 0 ? 200 : 422, body);
}

static void reload(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_ADMIN, &id) != 0) return;
  reload_wait *w = fb_xcalloc(1, sizeof *w);
  w->req = req;
  fb_request_set_abort(req, on_reload_client_gone, w);
  fb_hub_reload_policies(hub, "api", &id, on_reloaded, w);
}

void fb_hub_routes_policy(fb_hub *hub) {
  fb_router_add(hub->router, "POST", "/v1/policy/evaluate", evaluate, hub);
  fb_router_add(hub->router, "POST", "/v1/admin/reload", reload, hub);
  fb_hub_routes_policy_diff(hub); /* handlers_policy_diff.c */
}
