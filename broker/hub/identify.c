/* Authentication and role checks for every protected endpoint, and the audit of
 * authentication failures (rate-limited by the audit log so a flood cannot fill it). */
#include <string.h>

#include "audit/audit.h"
#include "auth/jwt.h"
#include "core/hublock.h"
#include "core/jsonr.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/hub.h"

json_t *fb_hub_requester_json(const fb_identity *id) { return fb_identity_requester_json(id); }

int fb_hub_identify(fb_hub *hub, fb_request *req, unsigned roles, fb_identity *id) {
  const char *why = NULL;
  memset(id, 0, sizeof *id);
  int rc = hub->authn ? fb_authn_request(hub->authn, fb_request_header(req, "authorization"),
                                         fb_request_peer_cert(req), fb_wall_s(), id, &why)
                      : -1;
  if (rc != 0) {
    if (!why) why = "No identity provider is configured.";
    if (hub->audit && fb_audit_admit_auth_failure(hub->audit)) {
      fb_hub_audit_event(hub, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "auth_failure", "method",
                                        fb_request_method(req), "path", fb_request_path(req), "peer",
                                        fb_request_peer_addr(req), "reason", why));
    }
    fb_response_header(req, "www-authenticate", "Bearer realm=\"fedbroker\"");
    fb_respond_error(req, 401, "unauthenticated", why, NULL);
    return -1;
  }
  if (roles && !(id->roles & roles)) {
    fb_buf msg = {0};
    fb_buf_puts(&msg, "This endpoint needs the role ");
    bool first = true;
    for (unsigned r = 1; r <= FB_ROLE_LAST; r <<= 1) {
      if (!(roles & r)) continue;
      if (!first) fb_buf_puts(&msg, " or ");
      fb_buf_puts(&msg, fb_role_name(r));
      first = false;
    }
    fb_buf_puts(&msg, ".");
    fb_respond_error(req, 403, "forbidden", msg.data, NULL);
    fb_buf_free(&msg);
    return -1;
  }
  return 0;
}

json_t *fb_hub_json_body(fb_request *req) {
  const char *ct = fb_request_header(req, "content-type");
  if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
    fb_respond_error(req, 415, "unsupported_media_type", "Send the body as application/json.", NULL);
    return NULL;
  }
  size_t len;
  const char *body = fb_request_body(req, &len);
  json_error_t jerr;
  bool yielded = fb_hublock_yield(); /* the request's own bytes: other workers run meanwhile */
  json_t *doc = fb_jsonr_loadb_flags(body, len, JSON_REJECT_DUPLICATES, &jerr);
  fb_hublock_resume(yielded);
  if (!doc) {
    fb_buf msg = {0};
    fb_buf_printf(&msg, "The body is not valid JSON: %s (line %d, column %d).", jerr.text, jerr.line, jerr.column);
    fb_respond_error(req, 400, "invalid_json", msg.data, NULL);
    fb_buf_free(&msg);
    return NULL;
  }
  if (!json_is_object(doc)) {
    json_decref(doc);
    fb_respond_error(req, 400, "invalid_request", "The body must be a JSON object.", NULL);
    return NULL;
  }
  return doc;
}

static void audit_logged(void *data, int status, uint64_t seq, const char *hash) {
  (void)data;
  (void)hash;
  if (status != 0) fb_error("audit_failed", "audit entry %llu was not written: %s", (unsigned long long)seq, strerror(-status));
}

void fb_hub_audit_event(fb_hub *hub, json_t *entry) {
  if (!hub->audit) {
    json_decref(entry);
    return;
  }
  if (fb_audit_append(hub->audit, entry, audit_logged, NULL) != 0)
    fb_error("audit_failed", "the audit log refused an entry (log failed or closing)");
}
