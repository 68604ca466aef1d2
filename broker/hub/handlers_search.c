/* POST /v1/search (analyst) and GET /v1/stats (auditor, admin). */
#include "auth/identity.h"
#include "hub/hub.h"
#include "search/engine.h"

static void search(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_ANALYST, &id) != 0) return;
  if (!fb_hub_ready(hub)) {
    fb_response_header(req, "retry-after", "1");
    fb_respond_error(req, 503, "not_ready", "The hub cannot audit searches right now.", NULL);
    return;
  }
  json_t *body = fb_hub_json_body(req);
  if (!body) return;
  fb_search_start(hub->search, req, &id, body);
}

static void stats(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_AUDITOR | FB_ROLE_ADMIN, &id) != 0) return;
  if (fb_hub_stats_over_period(hub, req)) return;
  fb_respond_json(req, 200, fb_search_stats_json(hub->search));
}

void fb_hub_routes_search(fb_hub *hub) {
  fb_router_add(hub->router, "POST", "/v1/search", search, hub);
  fb_router_add(hub->router, "GET", "/v1/stats", stats, hub);
}
