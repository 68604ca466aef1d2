/* GET /v1/me (any authenticated identity): who the hub takes the caller to be — from
 * the bearer token or the TLS client certificate — so that a client (the workspace)
 * shows the identity the hub checked, not one it decoded itself. */
#include <string.h>

#include "hub/hub.h"

static void me(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, 0, &id) != 0) return;
  json_t *body = fb_identity_to_json(&id);
  bool cert = strcmp(id.issuer, FB_IDENTITY_CERT_ISSUER) == 0;
  json_object_set_new(body, "via", json_string(cert ? "certificate" : "token"));
  fb_respond_json(req, 200, body);
}

void fb_hub_routes_me(fb_hub *hub) { fb_router_add(hub->router, "GET", "/v1/me", me, hub); }
