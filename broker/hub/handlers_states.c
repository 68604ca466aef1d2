/* GET /v1/states (any authenticated identity). Adds the search deadline per priority,
 * so a client can show how long each state has to answer. */
#include "hub/hub.h"
#include "search/engine.h"

static void states(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, 0, &id) != 0) return;
  json_t *body = fb_search_states_json(hub->search);
  static const char *const priorities[] = {"immediate", "urgent", "routine"};
  json_t *deadlines = json_object();
  for (size_t i = 0; i < 3; i++)
    json_object_set_new(deadlines, priorities[i], json_integer(fb_config_deadline_ms(&hub->cfg, priorities[i])));
  json_object_set_new(body, "deadlines_ms", deadlines);
  fb_respond_json(req, 200, body);
}

void fb_hub_routes_states(fb_hub *hub) { fb_router_add(hub->router, "GET", "/v1/states", states, hub); }
