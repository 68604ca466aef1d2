/* GET /healthz, /readyz and /metrics: no authentication (bind /metrics to an internal
 * address in production). */
#include "core/metrics.h"
#include "core/util.h"
#include "hub/hub.h"

static void healthz(fb_request *req, void *ctx) {
  (void)ctx;
  static const char body[] = "{\"status\":\"ok\"}\n";
  fb_respond(req, 200, "application/json; charset=utf-8", body, sizeof body - 1);
}

static void readyz(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  if (!fb_hub_ready(hub)) {
    fb_response_header(req, "retry-after", "1");
    fb_respond_error(req, 503, "not_ready", "The hub is not ready: its audit log or policies are not available.", NULL);
    return;
  }
  static const char body[] = "{\"status\":\"ready\"}\n";
  fb_respond(req, 200, "application/json; charset=utf-8", body, sizeof body - 1);
}

static void metrics(fb_request *req, void *ctx) {
  (void)ctx;
  fb_buf out = {0};
  fb_metrics_render(&out);
  fb_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "", out.len);
  fb_buf_free(&out);
}

void fb_hub_routes_health(fb_hub *hub) {
  fb_router_add(hub->router, "GET", "/healthz", healthz, hub);
  fb_router_add(hub->router, "GET", "/readyz", readyz, hub);
  fb_router_add(hub->router, "GET", "/metrics", metrics, hub);
}
