/* POST /v1/policy/diff with "exhaustive": true (legal_officer, admin): proves what a
 * draft would change against the policies in force, over every possible request
 * (policy/prove.h). Body: {"exhaustive": true, "draft": {"MYS.lua": "<Lua source>",
 * "common.lua": "..."}, "state"?: "MYS"} (draft keys may also be "MYS", "common").
 *
 * The path belongs to the replay comparison (handlers_policy_diff.c), which identifies
 * the requester, parses the body and hands exhaustive requests to
 * fb_hub_policy_diff_exhaustive: this file sets that to fb_hub_policy_prove. Audited
 * as a policy_prove event.
 *
 * The proof runs on the loop thread: it reads compiled rules only (no Lua but the
 * fingerprint of `when` functions) and is bounded by FB_PROVE_MAX_POINTS (about 0.5 s
 * at worst; a few ms to 0.1 s for the demo policies). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "hub/hub.h"
#include "policy/draft.h"
#include "policy/prove.h"

void fb_hub_policy_prove(fb_hub *hub, fb_request *req, const fb_identity *id, json_t *body) {
  json_t *draft = json_object_get(body, "draft"), *state = json_object_get(body, "state");
  if (!json_is_object(draft) || json_object_size(draft) == 0) {
    json_decref(body);
    fb_respond_error(req, 400, "invalid_request",
                     "draft must be an object of policy sources: {\"MYS.lua\": \"<Lua source>\"}.", "draft");
    return;
  }
  if (json_object_size(draft) > 64) { /* common + states: more is not a draft */
    json_decref(body);
    fb_respond_error(req, 400, "invalid_request", "draft names more than 64 files.", "draft");
    return;
  }
  if (state && !json_is_string(state)) {
    json_decref(body);
    fb_respond_error(req, 400, "invalid_request", "state must be a state code such as MYS.", "state");
    return;
  }
  fb_prove_set *old = fb_prove_set_from_store(hub->policies), *new = fb_prove_set_from_store(hub->policies);
  char *err = NULL;
  const char *key;
  json_t *src;
  json_t *problems = json_array();
  json_object_foreach(draft, key, src) {
    char code[16], file[24];
    size_t kl = strlen(key);
    if (kl > 4 && strcmp(key + kl - 4, ".lua") == 0) kl -= 4; /* "MYS.lua" or "MYS" */
    snprintf(code, sizeof code, "%.*s", (int)(kl < sizeof code - 1 ? kl : sizeof code - 1), key);
    snprintf(file, sizeof file, "%s.lua", code);
    char *e = NULL;
    if (!json_is_string(src)) e = fb_xstrdup("the draft must be the policy's Lua source as a string");
    else if (fb_prove_set_put_source(new, code, json_string_value(src), json_string_length(src), &e) == 0) continue;
    fb_policy_problems_from_error(e, file, problems);
    free(e);
  }
  if (json_array_size(problems)) {
    /* The same answer as the replay and the dry run give for a draft that does not load. */
    json_t *first = json_array_get(problems, 0);
    char msg[600];
    snprintf(msg, sizeof msg, "%s:%d: %s", json_string_value(json_object_get(first, "file")),
             (int)json_integer_value(json_object_get(first, "line")),
             json_string_value(json_object_get(first, "message")));
    fb_prove_set_free(old);
    fb_prove_set_free(new);
    json_decref(body);
    fb_respond_json(req, 422, json_pack("{s:{s:s, s:s, s:s}, s:o}", "error", "code", "invalid_policy", "message",
                                        msg, "field", "draft", "problems", problems));
    return;
  }
  json_decref(problems);
  json_t *proof = fb_policy_prove_json(old, new, json_string_value(state), &err);
  fb_prove_set_free(old);
  fb_prove_set_free(new);
  if (!proof) {
    fb_respond_error(req, 422, "invalid_request", err ? err : "The draft cannot be compared.", NULL);
    free(err);
    json_decref(body);
    return;
  }
  json_t *files = json_array();
  json_object_foreach(draft, key, src) json_array_append_new(files, json_string(key));
  fb_hub_audit_event(hub, json_pack("{s:s, s:o, s:o, s:O, s:I}", "event", "policy_prove", "requester",
                                    fb_hub_requester_json(id), "draft", files, "verdict",
                                    json_object_get(proof, "verdict"), "regions",
                                    (json_int_t)json_array_size(json_object_get(proof, "regions"))));
  json_decref(body);
  fb_respond_json(req, 200, proof);
}

void fb_hub_routes_policy_prove(fb_hub *hub) {
  (void)hub;
  fb_hub_policy_diff_exhaustive = fb_hub_policy_prove;
}
