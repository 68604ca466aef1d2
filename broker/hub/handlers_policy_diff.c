/* POST /v1/policy/diff (legal_officer, admin): replays the audited searches under the
 * live policies and a draft (policy/replay.h) and answers what would change.
 *
 * The replay reads the whole audit log, so it runs on the libuv thread pool
 * (uv_queue_work), never on the loop. The loop thread only copies the texts of the
 * live policies and the draft (fb_policy_set_detach); the worker compiles its own
 * copies in fresh sandboxes, so no Lua state is shared with the live store. One replay
 * runs at a time; a second is answered 429. A client that goes away cancels it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "hub/hub.h"
#include "policy/draft.h"
#include "policy/replay.h"

typedef struct {
  uv_work_t work;
  fb_hub *hub;
  fb_request *req;        /* NULL once the client went away */
  fb_identity id;
  fb_policy_set *old_set, *new_set; /* detached: compiled and used by the worker only */
  json_t *draft_hashes;
  char *audit_path;
  fb_replay_opts opts;
  volatile int cancel;
  /* results, written by the worker, read after it */
  json_t *problems;
  json_t *result;
  char *err;
  double ms;
} diff_job;

static diff_job *running; /* one replay at a time */

fb_policy_diff_handler fb_hub_policy_diff_exhaustive;

static void job_free(diff_job *j) {
  fb_policy_set_free(j->old_set);
  fb_policy_set_free(j->new_set);
  json_decref(j->draft_hashes);
  json_decref(j->problems);
  json_decref(j->result);
  free(j->audit_path);
  free(j->err);
  free(j);
}

static void on_abort(fb_request *req, void *data) {
  (void)req;
  diff_job *j = data;
  j->req = NULL;
  j->cancel = 1;
}

/* Worker thread: compile both sets, stream the log. */
static void do_replay(uv_work_t *w) {
  diff_job *j = w->data;
  double t0 = fb_now_ms();
  json_t *ignored = json_array();
  /* The live texts loaded in the store already; a failure here is not the draft's. */
  if (fb_policy_set_compile(j->old_set, ignored) != 0) {
    j->err = fb_xstrdup("The live policies could not be recompiled for the replay.");
    json_decref(ignored);
    return;
  }
  json_decref(ignored);
  if (fb_policy_set_compile(j->new_set, j->problems) != 0) return;
  fb_replay *r = fb_replay_new(j->old_set, j->new_set);
  char *err = NULL;
  if (fb_replay_audit_file(r, j->audit_path, &j->opts, &err) != 0) j->err = err;
  else j->result = fb_replay_result(r);
  fb_replay_free(r);
  j->ms = fb_now_ms() - t0;
}

static void after_replay(uv_work_t *w, int status) {
  diff_job *j = w->data;
  running = NULL;
  fb_request *req = j->req;
  if (req) fb_request_set_abort(req, NULL, NULL);
  if (status != 0 || j->cancel) {
    if (req) fb_respond_error(req, 503, "not_ready", "The replay was cancelled.", NULL);
  } else if (json_array_size(j->problems)) {
    json_t *first = json_array_get(j->problems, 0);
    char msg[700];
    snprintf(msg, sizeof msg, "The draft does not load: %s:%d: %s", json_string_value(json_object_get(first, "file")),
             (int)json_integer_value(json_object_get(first, "line")),
             json_string_value(json_object_get(first, "message")));
    if (req)
      fb_respond_json(req, 422, json_pack("{s:{s:s, s:s, s:s}, s:O}", "error", "code", "invalid_policy", "message",
                                          msg, "field", "draft", "problems", j->problems));
  } else if (!j->result) {
    fb_error("policy_diff", "%s", j->err ? j->err : "replay failed");
    if (req) fb_respond_error(req, 500, "internal", "The audit log could not be replayed.", NULL);
  } else {
    fb_info("policy_diff", "replayed %lld searches in %.0f ms, %lld changed",
            (long long)json_integer_value(json_object_get(j->result, "replayed")), j->ms,
            (long long)json_integer_value(json_object_get(j->result, "changed")));
    if (!j->hub->stopping)
      fb_hub_audit_event(j->hub, json_pack("{s:s, s:o, s:O, s:O, s:O}", "event", "policy_diff", "requester",
                                           fb_hub_requester_json(&j->id), "draft", j->draft_hashes, "replayed",
                                           json_object_get(j->result, "replayed"), "changed",
                                           json_object_get(j->result, "changed")));
    if (req) fb_respond_json(req, 200, json_incref(j->result));
  }
  job_free(j);
}

static bool time_param(json_t *body, const char *key, int64_t *out, fb_request *req) {
  json_t *v = json_object_get(body, key);
  if (!v) return true;
  if (json_is_string(v) && fb_replay_parse_time(json_string_value(v), out) == 0) return true;
  char msg[128];
  snprintf(msg, sizeof msg, "%s must be an RFC 3339 time such as 2026-11-30T00:00:00Z.", key);
  fb_respond_error(req, 400, "invalid_request", msg, key);
  return false;
}

static void policy_diff(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_LEGAL_OFFICER | FB_ROLE_ADMIN, &id) != 0) return;
  json_t *body = fb_hub_json_body(req);
  if (!body) return;
  /* "exhaustive": true is the other comparison on this path (every possible request,
   * not the audited ones), answered by its own handler when one is linked in. */
  if (json_object_get(body, "exhaustive") && !json_is_false(json_object_get(body, "exhaustive"))) {
    if (fb_hub_policy_diff_exhaustive) {
      fb_hub_policy_diff_exhaustive(hub, req, &id, body);
      return;
    }
    fb_respond_error(req, 400, "invalid_request", "This hub replays audited searches only; leave out exhaustive.",
                     "exhaustive");
    json_decref(body);
    return;
  }
  static const char *const known[] = {"draft", "since", "until", "limit", "exhaustive", NULL};
  const char *key;
  json_t *val;
  json_object_foreach(body, key, val) {
    bool ok = false;
    for (size_t i = 0; known[i]; i++) ok |= strcmp(known[i], key) == 0;
    if (!ok) {
      char msg[160];
      snprintf(msg, sizeof msg, "Unknown field '%.64s': expected draft, since, until, limit.", key);
      fb_respond_error(req, 400, "invalid_request", msg, key);
      json_decref(body);
      return;
    }
  }
  json_t *draft = json_object_get(body, "draft");
  if (!json_is_object(draft) || json_object_size(draft) == 0) {
    fb_respond_error(req, 400, "invalid_request",
                     "draft is required: {\"MYS.lua\": \"<the drafted file's text>\", ...}", "draft");
    json_decref(body);
    return;
  }
  fb_replay_opts opts = {0};
  json_t *limit = json_object_get(body, "limit");
  if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1)) {
    fb_respond_error(req, 400, "invalid_request", "limit must be a positive integer (searches to replay).", "limit");
    json_decref(body);
    return;
  }
  if (limit) opts.limit = (uint64_t)json_integer_value(limit);
  if (!time_param(body, "since", &opts.since_ms, req) || !time_param(body, "until", &opts.until_ms, req)) {
    json_decref(body);
    return;
  }
  if (running) {
    fb_response_header(req, "retry-after", "5");
    fb_respond_error(req, 429, "overloaded", "A policy replay is already running; retry when it has finished.", NULL);
    json_decref(body);
    return;
  }
  diff_job *j = fb_xcalloc(1, sizeof *j);
  j->problems = json_array();
  fb_policy_set *live = fb_policy_set_from_store(hub->policies);
  j->old_set = fb_policy_set_detach(live);
  j->new_set = fb_policy_set_detach(live);
  fb_policy_set_free(live);
  if (fb_policy_set_put_draft(j->new_set, draft, j->problems) != 0) {
    fb_respond_json(req, 422, json_pack("{s:{s:s, s:s, s:s}, s:O}", "error", "code", "invalid_policy", "message",
                                        "The draft names files this hub does not have.", "field", "draft",
                                        "problems", j->problems));
    job_free(j);
    json_decref(body);
    return;
  }
  j->hub = hub;
  j->req = req;
  j->id = id;
  j->opts = opts;
  j->opts.cancel = &j->cancel;
  j->draft_hashes = fb_policy_draft_hashes(draft);
  j->audit_path = fb_xstrdup(hub->cfg.audit.path);
  j->work.data = j;
  json_decref(body);
  if (uv_queue_work(hub->loop, &j->work, do_replay, after_replay) != 0) {
    fb_respond_error(req, 500, "internal", "The replay could not be started.", NULL);
    job_free(j);
    return;
  }
  running = j;
  fb_request_set_abort(req, on_abort, j);
}

void fb_hub_routes_policy_diff(fb_hub *hub) {
  fb_router_add(hub->router, "POST", "/v1/policy/diff", policy_diff, hub);
}
