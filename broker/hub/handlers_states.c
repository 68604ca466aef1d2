/* GET /v1/states (any authenticated identity). */
#include "hub/hub.h"
#include "search/engine.h"

static void states(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, 0, &id) != 0) return;
  fb_respond_json(req, 200, fb_search_states_json(hub->search));
}

void fb_hub_routes_states(fb_hub *hub) { fb_router_add(hub->router, "GET", "/v1/states", states, hub); }
