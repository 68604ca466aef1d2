/* GET / and GET /assets/... — the browser workspace (web/), embedded in the binary.
 * index.html is revalidated on every load (ETag); the bundles are named by their
 * content hash and cached as immutable. A strict CSP: nothing inline, nothing from
 * another origin. */
#include <string.h>

#include "hub/hub.h"
#include "hub/web_assets.h"

static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

static const fb_web_asset *find_asset(const char *path) {
  for (const fb_web_asset *a = fb_web_assets; a->path; a++)
    if (strcmp(a->path, path) == 0) return a;
  return NULL;
}

/* If-None-Match may list several tags, or be "*". */
static bool etag_matches(const char *if_none_match, const char *etag) {
  if (!if_none_match) return false;
  if (strcmp(if_none_match, "*") == 0) return true;
  return strstr(if_none_match, etag) != NULL;
}

static void serve(fb_request *req, void *ctx) {
  (void)ctx;
  const fb_web_asset *a = find_asset(fb_request_path(req));
  if (!a) {
    fb_respond_error(req, 404, "not_found", "No such file.", NULL);
    return;
  }
  fb_response_header(req, "etag", a->etag);
  fb_response_header(req, "cache-control", a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  fb_response_header(req, "x-content-type-options", "nosniff");
  fb_response_header(req, "referrer-policy", "no-referrer");
  if (!a->immutable) {
    fb_response_header(req, "content-security-policy", csp);
    fb_response_header(req, "x-frame-options", "DENY");
  }
  if (etag_matches(fb_request_header(req, "if-none-match"), a->etag)) {
    fb_respond(req, 304, a->content_type, "", 0);
    return;
  }
  fb_respond(req, 200, a->content_type, (const char *)a->data, a->len);
}

void fb_hub_routes_console(fb_hub *hub) {
  fb_router_add(hub->router, "GET", "/", serve, hub);
  fb_router_add(hub->router, "GET", "/assets/*", serve, hub);
}
