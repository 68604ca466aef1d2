/* GET /v1/states (any authenticated identity). The contact comes from the focal point
 * directory when the state has an entry there (FOLLOWUP.md), with focal_point_stale;
 * the search deadline per priority is added so a client can show how long each state
 * has to answer. */
#include "core/vocab.h"
#include "hub/followup.h"
#include "hub/hub.h"
#include "search/engine.h"

static void states(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, 0, &id) != 0) return;
  json_t *body = fb_search_states_json(hub->search);
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(body, "states"), i, st) {
    const char *code = json_string_value(json_object_get(st, "state"));
    json_t *contact = hub->followup && code ? json_object_get(hub->followup->contacts, code) : NULL;
    if (contact) json_object_set(st, "contact", contact);
    json_object_set_new(st, "focal_point_stale",
                        json_boolean(hub->followup && code && fb_focal_points_stale(hub->followup, code)));
  }
  json_t *deadlines = json_object();
  for (i = 0; i < FB_PRIORITY_COUNT; i++)
    json_object_set_new(deadlines, fb_priorities[i], json_integer(fb_config_deadline_ms(&hub->cfg, fb_priorities[i])));
  json_object_set_new(body, "deadlines_ms", deadlines);
  fb_respond_json(req, 200, body);
}

void fb_hub_routes_states(fb_hub *hub) { fb_router_add(hub->router, "GET", "/v1/states", states, hub); }
