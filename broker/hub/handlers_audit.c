/* GET /v1/audit?after=SEQ&limit=N (auditor): parsed audit entries, oldest first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "hub/hub.h"

#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_PAGE_MAX 1000

static bool parse_u64(const char *s, uint64_t *out) {
  if (!*s) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno || s[0] == '-') return false;
  *out = v;
  return true;
}

static void audit_list(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_AUDITOR, &id) != 0) return;
  char v[32];
  uint64_t after = 0, limit = AUDIT_PAGE_DEFAULT;
  if (fb_request_query_param(req, "after", v, sizeof v) && !parse_u64(v, &after)) {
    fb_respond_error(req, 400, "invalid_request", "after must be a non-negative integer.", "after");
    return;
  }
  if (fb_request_query_param(req, "limit", v, sizeof v) && (!parse_u64(v, &limit) || limit == 0)) {
    fb_respond_error(req, 400, "invalid_request", "limit must be a positive integer.", "limit");
    return;
  }
  if (limit > AUDIT_PAGE_MAX) limit = AUDIT_PAGE_MAX;
  json_t *entries = NULL;
  uint64_t next = after;
  if (!hub->audit || fb_audit_read(hub->audit, after, (size_t)limit, &entries, &next) != 0) {
    fb_respond_error(req, 500, "internal", "The audit log could not be read.", NULL);
    return;
  }
  fb_respond_json(req, 200, json_pack("{s:o, s:I}", "entries", entries, "next", (json_int_t)next));
}

void fb_hub_routes_audit(fb_hub *hub) { fb_router_add(hub->router, "GET", "/v1/audit", audit_list, hub); }
