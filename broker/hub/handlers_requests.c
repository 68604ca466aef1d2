/* Follow-up requests (FOLLOWUP.md): POST/GET /v1/requests, GET /v1/requests/{id},
 * POST /v1/requests/{id}/decision and /withdraw, and the expiry sweep.
 *
 * A request lives in the store: status and due in columns (what queries select on),
 * the whole request as JSON in `doc`. Every transition is one conditional UPDATE
 * (... WHERE status = 'open'): of two deciders, on one hub or on two sharing a
 * PostgreSQL store, exactly one changes the row; the other gets 409. A transition is
 * answered once it is stored and its audit entry is durable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/followup.h"
#include "hub/hub.h"
#include "policy/policy.h"
#include "search/engine.h"
#include "search/formal.h"
#include "search/validate.h"
#include "store/store.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define TEXT_MAX 2000

typedef struct call {
  fb_hub *hub;
  fb_request *req;
  fb_identity id;
  json_t *body; /* the HTTP body */
  json_t *doc;  /* the request as stored */
  char rid[32];
  char status[16]; /* the status a transition writes */
  int64_t due_ms;
  fb_formal *formal;               /* a release asking the state again */
  struct call *rel_prev, *rel_next; /* in fb_followup.releases while it does */
} call;

static void release_untrack(call *c) {
  fb_followup *f = c->hub->followup;
  if (!c->formal) return;
  c->formal = NULL;
  if (c->rel_prev) c->rel_prev->rel_next = c->rel_next;
  else if (f) f->releases = c->rel_next;
  if (c->rel_next) c->rel_next->rel_prev = c->rel_prev;
  c->rel_prev = c->rel_next = NULL;
}

static void on_abort(fb_request *req, void *data) {
  (void)req;
  ((call *)data)->req = NULL;
}

static call *call_new(fb_hub *hub, fb_request *req, const fb_identity *id) {
  call *c = fb_xcalloc(1, sizeof *c);
  c->hub = hub;
  c->req = req;
  c->id = *id;
  fb_request_set_abort(req, on_abort, c);
  return c;
}

/* The request this call answers, released from the abort hook (NULL if gone). */
static fb_request *take_req(call *c) {
  fb_request *req = c->req;
  if (req) fb_request_set_abort(req, NULL, NULL);
  c->req = NULL;
  return req;
}

static void call_free(call *c) {
  if (c->req) fb_request_set_abort(c->req, NULL, NULL);
  json_decref(c->body);
  json_decref(c->doc);
  free(c);
}

static void fail(call *c, int status, const char *code, const char *msg, const char *field) {
  fb_request *req = take_req(c);
  if (req) fb_respond_error(req, status, code, msg, field);
  call_free(c);
}

static void store_failed(call *c, const char *err) {
  fb_request *req = take_req(c);
  if (req)
    fb_followup_store_failed(req, err);
  else
    fb_error("store_failed", "%s", err);
  call_free(c);
}

static bool exec(call *c, const char *sql, const char *const *p, size_t n, fb_store_cb cb) {
  fb_followup *f = c->hub->followup;
  if (!f || fb_store_exec(f->store, sql, p, n, cb, c) != 0) {
    store_failed(c, "the store is closing");
    return false;
  }
  return true;
}

static int64_t due_seconds(const fb_config *cfg, const char *priority) {
  if (strcmp(priority, "immediate") == 0) return (int64_t)cfg->followup.due_immediate_s;
  if (strcmp(priority, "urgent") == 0) return (int64_t)cfg->followup.due_urgent_s;
  return (int64_t)cfg->followup.due_routine_s;
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* What `viewer` sees of a stored request: `overdue` computed now; the released
 * records only for the requesting state's analysts. */
static json_t *view(json_t *doc, int64_t due_ms, const fb_identity *viewer) {
  json_t *o = json_deep_copy(doc);
  bool open = strcmp(str(doc, "status") ? str(doc, "status") : "", "open") == 0;
  json_object_set_new(o, "overdue", json_boolean(open && fb_wall_ms() > due_ms));
  const char *from = str(json_object_get(doc, "from"), "state");
  bool requester = viewer && (viewer->roles & FB_ROLE_ANALYST) && from && strcmp(from, viewer->state) == 0;
  if (!requester) json_object_del(o, "records");
  return o;
}

static json_t *audit_entry(json_t *doc, const fb_identity *by) {
  json_t *e = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "event", "request", "request_id",
                        json_object_get(doc, "request_id"), "query_id", json_object_get(doc, "query_id"), "from",
                        json_object_get(doc, "from"), "state", json_object_get(doc, "state"), "status",
                        json_object_get(doc, "status"), "hit_ref", json_object_get(doc, "hit_ref"));
  json_object_set_new(e, "by", by ? fb_hub_requester_json(by) : json_string("hub"));
  const char *st = str(doc, "status");
  if (st && strcmp(st, "released") == 0) {
    json_t *ids = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "records"), i, r) {
      if (json_is_string(json_object_get(r, "id"))) json_array_append(ids, json_object_get(r, "id"));
    }
    json_t *disclosed = json_object();
    json_object_set_new(disclosed, str(doc, "state"), ids);
    json_object_set_new(e, "disclosed", disclosed);
  }
  json_t *d = json_object_get(doc, "decision");
  if (json_is_string(json_object_get(d, "reason"))) json_object_set(e, "reason", json_object_get(d, "reason"));
  return e;
}

/* ---- answering after the audit entry is durable */

typedef struct {
  call *c;
  int status;
} audited_answer;

static void on_transition_audited(void *data, int status, uint64_t seq, const char *hash) {
  (void)seq;
  (void)hash;
  audited_answer *a = data;
  call *c = a->c;
  fb_request *req = take_req(c);
  if (req) {
    if (status != 0) {
      fb_response_header(req, "retry-after", "1");
      fb_respond_error(req, 503, "not_ready", "The audit log cannot record this step; it is stored but not confirmed.",
                       NULL);
    } else {
      fb_respond_json(req, a->status, json_pack("{s:o}", "request", view(c->doc, c->due_ms, &c->id)));
    }
  }
  free(a);
  call_free(c);
}

/* Audits c->doc's transition and answers `status` with the request once durable. */
static void audit_and_answer(call *c, int status) {
  audited_answer *a = fb_xmalloc(sizeof *a);
  a->c = c;
  a->status = status;
  json_t *entry = audit_entry(c->doc, &c->id);
  if (!c->hub->audit || fb_audit_append(c->hub->audit, entry, on_transition_audited, a) != 0) {
    free(a);
    fail(c, 503, "not_ready", "The audit log cannot record this step.", NULL);
  }
}

/* ---- the search a request refers to: the store's row, else the audit log */

typedef void (*search_next)(call *c, const char *from_state, json_t *doc); /* doc NULL: no such search */

typedef struct {
  uv_work_t work;
  call *c;
  search_next next;
  char *path, qid[64];
  uint64_t start_off, start_seq, end_off;
  json_t *entry;
} audit_lookup;

static bool take_first(void *data, json_t *entry, uint64_t seq) {
  (void)seq;
  audit_lookup *l = data;
  l->entry = json_incref(entry);
  return false;
}

static void lookup_work(uv_work_t *w) {
  audit_lookup *l = w->data;
  fb_audit_filter f = {.event = "search", .query_id = l->qid};
  uint64_t last;
  if (fb_audit_scan(l->path, l->start_off, l->start_seq, l->end_off, 0, &f, take_first, l, &last) != 0)
    l->entry = NULL;
}

static void lookup_done(uv_work_t *w, int status) {
  (void)status;
  audit_lookup *l = w->data;
  json_t *doc = l->entry ? fb_followup_search_doc(l->entry) : NULL;
  const char *from = l->entry ? str(json_object_get(l->entry, "requester"), "state") : NULL;
  l->next(l->c, from, doc);
  json_decref(doc);
  json_decref(l->entry);
  free(l->path);
  free(l);
}

typedef struct {
  call *c;
  search_next next;
} store_lookup;

static void on_search_row(void *data, int status, fb_store_result *res, const char *err) {
  store_lookup *sl = data;
  call *c = sl->c;
  search_next next = sl->next;
  free(sl);
  if (status != 0) {
    store_failed(c, err);
    return;
  }
  if (res->nrows) {
    json_t *doc = json_loads(fb_store_cell(res, 0, 1), 0, NULL);
    next(c, fb_store_cell(res, 0, 0), doc);
    json_decref(doc);
    return;
  }
  /* Searches where every state shared are not copied to the store (they cost the hot
   * path and are rarely followed up): their audit entry is read instead, off the loop. */
  if (!c->hub->audit) {
    next(c, NULL, NULL);
    return;
  }
  audit_lookup *l = fb_xcalloc(1, sizeof *l);
  l->c = c;
  l->next = next;
  l->path = fb_xstrdup(c->hub->cfg.audit.path);
  const char *qid = c->doc ? str(c->doc, "query_id") : str(c->body, "query_id");
  snprintf(l->qid, sizeof l->qid, "%s", qid ? qid : "");
  fb_audit_scan_bounds(c->hub->audit, 0, &l->start_off, &l->start_seq, &l->end_off);
  l->work.data = l;
  if (uv_queue_work(c->hub->loop, &l->work, lookup_work, lookup_done) != 0) {
    free(l->path);
    free(l);
    next(c, NULL, NULL);
  }
}

static void find_search(call *c, const char *query_id, search_next next) {
  store_lookup *sl = fb_xmalloc(sizeof *sl);
  sl->c = c;
  sl->next = next;
  fb_followup *f = c->hub->followup;
  const char *p[] = {query_id};
  if (!f || fb_store_exec(f->store, "SELECT from_state, doc FROM searches WHERE query_id = $1", p, 1, on_search_row,
                          sl) != 0) {
    free(sl);
    store_failed(c, "the store is closing");
  }
}

/* ---- POST /v1/requests */

static bool one_of(const char *s, const char *const *list) {
  for (; s && *list; list++)
    if (strcmp(s, *list) == 0) return true;
  return false;
}

static int validate_new(json_t *b, const fb_config *cfg, const char **field, const char **why) {
  static const char *const keys[] = {"query_id",      "state",    "hit_ref",  "legal_basis",
                                     "justification", "case_ref", "priority", NULL};
  const char *k;
  json_t *v;
  json_object_foreach(b, k, v) {
    if (!one_of(k, keys)) {
      *field = k;
      *why = "Unknown field.";
      return -1;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > TEXT_MAX) {
      *field = k;
      *why = "Must be a non-empty string of at most 2000 characters.";
      return -1;
    }
  }
  const char *st = str(b, "state");
  if (!str(b, "query_id"))
    *field = "query_id";
  else if (!st || !fb_state_code_valid(st) || !fb_config_state(cfg, st))
    *field = "state";
  else if (!fb_is_legal_basis(str(b, "legal_basis")))
    *field = "legal_basis";
  else if (!str(b, "justification"))
    *field = "justification";
  else if (json_object_get(b, "priority") && !fb_is_priority(str(b, "priority")))
    *field = "priority";
  else
    return 0;
  *why = "Missing or invalid; see FOLLOWUP.md for the request fields.";
  return -1;
}

static void on_inserted(void *data, int status, fb_store_result *res, const char *err) {
  (void)res;
  call *c = data;
  if (status != 0) {
    store_failed(c, err);
    return;
  }
  audit_and_answer(c, 201);
}

static void with_search(call *c, const char *from_state, json_t *search) {
  fb_followup *f = c->hub->followup;
  json_t *b = c->body;
  const char *qid = str(b, "query_id"), *state = str(b, "state"), *hit_ref = str(b, "hit_ref");
  if (!search || !from_state) {
    fail(c, 404, "not_found", "No audited search has this query_id.", "query_id");
    return;
  }
  if (strcmp(from_state, c->id.state) != 0) {
    fail(c, 403, "forbidden", "That search was made by another state.", "query_id");
    return;
  }
  bool asked = false;
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(search, "states"), i, st) asked |=
      str(st, "state") && strcmp(str(st, "state"), state) == 0;
  const char *purpose = str(search, "purpose");
  char purpose_buf[32];
  snprintf(purpose_buf, sizeof purpose_buf, "%s", purpose ? purpose : "investigation");
  if (!asked) {
    fail(c, 400, "invalid_request", "That state was not asked in this search.", "state");
    return;
  }
  if (hit_ref && !fb_hit_ref_check(f, hit_ref, qid, c->id.state, state, fb_wall_s())) {
    fail(c, 400, "invalid_request", "The hit reference does not match this query and state, or has expired.",
         "hit_ref");
    return;
  }

  char qbuf[20];
  fb_query_id_new(qbuf);
  qbuf[0] = 'r';
  snprintf(c->rid, sizeof c->rid, "%s", qbuf);
  const char *priority = str(b, "priority") ? str(b, "priority") : "routine";
  int64_t now = fb_wall_ms(), due = now + due_seconds(&c->hub->cfg, priority) * 1000;
  c->due_ms = due;
  char created_s[FB_RFC3339_LEN], due_s[FB_RFC3339_LEN];
  fb_rfc3339_from_ms(now, created_s);
  fb_rfc3339_from_ms(due, due_s);
  c->doc =
      json_pack("{s:s, s:s, s:{s:s, s:s?, s:s}, s:s, s:s?, s:s, s:s, s:s, s:s, s:s?, s:s, s:s, s:s, s:n, s:n, s:[]}",
                "request_id", c->rid, "query_id", qid, "from", "state", c->id.state, "agency",
                c->id.agency[0] ? c->id.agency : NULL, "sub", c->id.sub, "state", state, "hit_ref", hit_ref, "purpose",
                purpose_buf, "priority", priority, "legal_basis", str(b, "legal_basis"), "justification",
                str(b, "justification"), "case_ref", str(b, "case_ref"), "status", "open", "created", created_s, "due",
                due_s, "decided", "decision", "records");
  char *doc = json_dumps(c->doc, JSON_COMPACT);
  char now_b[24], due_b[24];
  snprintf(now_b, sizeof now_b, "%lld", (long long)now);
  snprintf(due_b, sizeof due_b, "%lld", (long long)due);
  const char *p[] = {c->rid, qid, c->id.state, state, now_b, due_b, doc};
  exec(c,
       "INSERT INTO requests (request_id, query_id, from_state, to_state, status, created, due, doc)"
       " VALUES ($1, $2, $3, $4, 'open', $5, $6, $7)",
       p, 7, on_inserted);
  free(doc);
}

static void create(fb_request *req, fb_hub *hub) {
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_ANALYST, &id) != 0) return;
  json_t *body = fb_hub_json_body(req);
  if (!body) return;
  const char *field = NULL, *why = NULL;
  if (validate_new(body, &hub->cfg, &field, &why) != 0) {
    fb_respond_error(req, 400, "invalid_request", why, field); /* field may point into body */
    json_decref(body);
    return;
  }
  call *c = call_new(hub, req, &id);
  c->body = body;
  find_search(c, str(body, "query_id"), with_search);
}

/* ---- GET /v1/requests */

static void on_listed(void *data, int status, fb_store_result *res, const char *err) {
  call *c = data;
  if (status != 0) {
    store_failed(c, err);
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < res->nrows; i++) {
    json_t *doc = json_loads(fb_store_cell(res, i, 0), 0, NULL);
    if (!doc) continue;
    json_t *v = view(doc, strtoll(fb_store_cell(res, i, 1), NULL, 10), &c->id);
    json_object_del(v, "records"); /* the list is a summary; GET /v1/requests/{id} has them */
    json_array_append_new(arr, v);
    json_decref(doc);
  }
  size_t limit = (size_t)json_integer_value(json_object_get(c->body, "limit"));
  json_t *next = res->nrows == limit && res->nrows ? json_string(fb_store_cell(res, res->nrows - 1, 2)) : json_null();
  fb_request *req = take_req(c);
  if (req)
    fb_respond_json(req, 200, json_pack("{s:o, s:o}", "requests", arr, "next", next));
  else {
    json_decref(arr);
    json_decref(next);
  }
  call_free(c);
}

static void list(fb_request *req, fb_hub *hub) {
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_ANALYST | FB_ROLE_FOCAL_POINT, &id) != 0) return;
  char box[16] = "", status[16] = "", after[32] = "", lim[16] = "";
  fb_request_query_param(req, "box", box, sizeof box);
  if (!box[0]) snprintf(box, sizeof box, "%s", (id.roles & FB_ROLE_ANALYST) ? "outbox" : "inbox");
  bool outbox = strcmp(box, "outbox") == 0;
  if (!outbox && strcmp(box, "inbox") != 0) {
    fb_respond_error(req, 400, "invalid_request", "box must be outbox or inbox.", "box");
    return;
  }
  if (outbox && !(id.roles & FB_ROLE_ANALYST)) {
    fb_respond_error(req, 403, "forbidden", "The outbox is for analysts.", "box");
    return;
  }
  if (!outbox && !(id.roles & FB_ROLE_FOCAL_POINT)) {
    fb_respond_error(req, 403, "forbidden", "The inbox is for focal points.", "box");
    return;
  }
  static const char *const statuses[] = {"open", "released", "declined", "withdrawn", "expired", NULL};
  if (fb_request_query_param(req, "status", status, sizeof status) && !one_of(status, statuses)) {
    fb_respond_error(req, 400, "invalid_request", "status must be open, released, declined, withdrawn or expired.",
                     "status");
    return;
  }
  fb_request_query_param(req, "after", after, sizeof after);
  long limit = LIST_DEFAULT;
  if (fb_request_query_param(req, "limit", lim, sizeof lim)) {
    char *end;
    limit = strtol(lim, &end, 10);
    if (*end || limit <= 0) {
      fb_respond_error(req, 400, "invalid_request", "limit must be a positive integer.", "limit");
      return;
    }
    if (limit > LIST_MAX) limit = LIST_MAX;
  }
  fb_buf sql = {0};
  const char *p[3];
  size_t n = 0;
  fb_buf_printf(&sql, "SELECT doc, due, request_id FROM requests WHERE %s = $1", outbox ? "from_state" : "to_state");
  p[n++] = id.state;
  if (status[0]) {
    p[n++] = status;
    fb_buf_printf(&sql, " AND status = $%zu", n);
  }
  if (after[0]) {
    p[n++] = after;
    fb_buf_printf(&sql, " AND request_id < $%zu", n);
  }
  fb_buf_printf(&sql, " ORDER BY request_id DESC LIMIT %ld", limit);
  call *c = call_new(hub, req, &id);
  c->body = json_pack("{s:I}", "limit", (json_int_t)limit);
  exec(c, sql.data, p, n, on_listed);
  fb_buf_free(&sql);
}

static void requests_root(fb_request *req, void *ctx) {
  if (strcmp(fb_request_method(req), "POST") == 0)
    create(req, ctx);
  else
    list(req, ctx);
}

/* ---- /v1/requests/{id}[/decision|/withdraw] */

typedef enum { ACT_GET, ACT_DECIDE, ACT_WITHDRAW } action;

typedef struct {
  call c;
  action act;
  int64_t due_ms;
} item_call;

static void on_updated(void *data, int status, fb_store_result *res, const char *err) {
  call *c = data;
  if (status != 0) {
    store_failed(c, err);
    return;
  }
  if (res->changes == 0) {
    fail(c, 409, "conflict", "The request is no longer open: another decision or a withdrawal came first.", NULL);
    return;
  }
  audit_and_answer(c, 200);
}

/* Moves c->doc (already showing the new status) to the store, if still open. */
static void transition(call *c) {
  const char *st = str(c->doc, "status");
  snprintf(c->status, sizeof c->status, "%s", st);
  char *doc = json_dumps(c->doc, JSON_COMPACT);
  char now[24];
  snprintf(now, sizeof now, "%lld", (long long)fb_wall_ms());
  const char *p[] = {c->status, now, doc, c->rid};
  exec(c, "UPDATE requests SET status = $1, decided = $2, doc = $3 WHERE request_id = $4 AND status = 'open'", p, 4,
       on_updated);
  free(doc);
}

static void set_decided(call *c, const char *status, json_t *decision) {
  char now[FB_RFC3339_LEN];
  fb_rfc3339_now(now);
  json_object_set_new(c->doc, "status", json_string(status));
  json_object_set_new(c->doc, "decided", json_string(now));
  json_object_set_new(c->doc, "decision", decision ? decision : json_null());
}

static void on_formal_done(void *data, int status, const char *effect, const char *rule, json_t *records,
                           const char *error) {
  call *c = data;
  release_untrack(c);
  if (status != 0) {
    fb_warn("release_failed", "request %s: %s", c->rid, error);
    fail(c, 502, "state_unavailable", "The state's system could not be asked again; the request stays open.", NULL);
    return;
  }
  json_t *d = json_pack("{s:s, s:O?, s:O?, s:s, s:s}", "by", c->id.sub, "reason", json_object_get(c->body, "reason"),
                        "note", json_object_get(c->body, "note"), "effect", effect, "rule", rule ? rule : "");
  if (strcmp(effect, "allow") != 0)
    json_object_set_new(d, "message",
                        json_string("The state's policy does not let records out for this formal "
                                    "request; none are stored."));
  set_decided(c, "released", d);
  json_object_set(c->doc, "records", records);
  transition(c);
}

static void release_with_search(call *c, const char *from_state, json_t *search) {
  (void)from_state;
  if (!search) {
    store_failed(c, "the search of this request is in neither the store nor the audit log");
    return;
  }
  json_t *from = json_object_get(c->doc, "from");
  fb_formal_request fr = {.query_id = str(c->doc, "query_id"),
                          .state = str(c->doc, "state"),
                          .from_state = str(from, "state"),
                          .agency = str(from, "agency"),
                          .purpose = str(c->doc, "purpose"),
                          .priority = str(c->doc, "priority"),
                          .legal_basis = str(c->doc, "legal_basis"),
                          .justification = str(c->doc, "justification"),
                          .case_ref = str(c->doc, "case_ref"),
                          .subject = json_object_get(search, "subject")};
  fb_formal *h = fb_formal_query(c->hub->search, c->hub->policies, &fr, fb_config_deadline_ms(&c->hub->cfg, str(c->doc, "priority") ? str(c->doc, "priority") : "routine"),
                                 on_formal_done, c);
  if (!h) return; /* already answered: c may be gone */
  fb_followup *f = c->hub->followup;
  if (f) { /* in flight: tracked so that a stopping hub can cancel it */
    c->formal = h;
    c->rel_next = f->releases;
    if (f->releases) ((call *)f->releases)->rel_prev = c;
    f->releases = c;
  }
}

static void on_item_loaded(void *data, int status, fb_store_result *res, const char *err) {
  item_call *ic = data;
  call *c = &ic->c;
  if (status != 0) {
    store_failed(c, err);
    return;
  }
  if (res->nrows == 0) {
    fail(c, 404, "not_found", "No such request.", NULL);
    return;
  }
  c->doc = json_loads(fb_store_cell(res, 0, 0), 0, NULL);
  if (!c->doc) {
    store_failed(c, "a stored request is not valid JSON");
    return;
  }
  ic->due_ms = c->due_ms = strtoll(fb_store_cell(res, 0, 1), NULL, 10);
  const char *from = str(json_object_get(c->doc, "from"), "state"), *to = str(c->doc, "state");
  bool requester = (c->id.roles & FB_ROLE_ANALYST) && from && strcmp(from, c->id.state) == 0;
  bool addressed = (c->id.roles & FB_ROLE_FOCAL_POINT) && to && strcmp(to, c->id.state) == 0;
  bool is_open = strcmp(str(c->doc, "status"), "open") == 0;
  switch (ic->act) {
    case ACT_GET: {
      if (!requester && !addressed && !(c->id.roles & FB_ROLE_AUDITOR)) {
        fail(c, 403, "forbidden",
             "Only the requesting state, the addressed state's focal points and auditors "
             "see a request.",
             NULL);
        return;
      }
      fb_request *req = take_req(c);
      if (req) fb_respond_json(req, 200, json_pack("{s:o}", "request", view(c->doc, ic->due_ms, &c->id)));
      call_free(c);
      return;
    }
    case ACT_WITHDRAW:
      if (!requester) {
        fail(c, 403, "forbidden", "Only an analyst of the requesting state withdraws a request.", NULL);
        return;
      }
      if (!is_open) {
        fail(c, 409, "conflict", "Only an open request can be withdrawn.", NULL);
        return;
      }
      set_decided(c, "withdrawn", json_pack("{s:s}", "by", c->id.sub));
      transition(c);
      return;
    case ACT_DECIDE: {
      if (!addressed) {
        fail(c, 403, "forbidden", "Only a focal point of the addressed state decides.", NULL);
        return;
      }
      if (!is_open) {
        fail(c, 409, "conflict", "The request was already decided, withdrawn or expired.", NULL);
        return;
      }
      const char *decision = str(c->body, "decision");
      if (strcmp(decision, "decline") == 0) {
        set_decided(c, "declined",
                    json_pack("{s:s, s:O?, s:O?}", "by", c->id.sub, "reason", json_object_get(c->body, "reason"),
                              "note", json_object_get(c->body, "note")));
        transition(c);
        return;
      }
      find_search(c, str(c->doc, "query_id"), release_with_search);
      return;
    }
  }
}

static void item(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  const char *rest = fb_request_path(req) + strlen("/v1/requests/");
  const char *slash = strchr(rest, '/');
  size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
  bool post = strcmp(fb_request_method(req), "POST") == 0;
  action act = ACT_GET;
  if (slash && strcmp(slash, "/decision") == 0)
    act = ACT_DECIDE;
  else if (slash && strcmp(slash, "/withdraw") == 0)
    act = ACT_WITHDRAW;
  else if (slash || idlen == 0) {
    fb_respond_error(req, 404, "not_found", "No such resource.", NULL);
    return;
  }
  if ((act == ACT_GET) == post) {
    fb_response_header(req, "allow", act == ACT_GET ? "GET" : "POST");
    fb_respond_error(req, 405, "method_not_allowed", "Method not allowed here.", NULL);
    return;
  }
  if (idlen >= 32) {
    fb_respond_error(req, 404, "not_found", "No such request.", NULL);
    return;
  }
  unsigned roles = act == ACT_GET      ? FB_ROLE_ANALYST | FB_ROLE_FOCAL_POINT | FB_ROLE_AUDITOR
                   : act == ACT_DECIDE ? FB_ROLE_FOCAL_POINT
                                       : FB_ROLE_ANALYST;
  fb_identity id;
  if (fb_hub_identify(hub, req, roles, &id) != 0) return;
  json_t *body = NULL;
  if (act == ACT_DECIDE) {
    body = fb_hub_json_body(req);
    if (!body) return;
    const char *d = str(body, "decision"), *k;
    json_t *v;
    const char *bad = NULL;
    json_object_foreach(body, k, v) {
      if (strcmp(k, "decision") && strcmp(k, "reason") && strcmp(k, "note"))
        bad = k;
      else if (!json_is_string(v) || json_string_length(v) > TEXT_MAX)
        bad = k;
    }
    if (!bad && (!d || (strcmp(d, "release") && strcmp(d, "decline")))) bad = "decision";
    if (!bad && strcmp(d, "decline") == 0 && !json_string_length(json_object_get(body, "reason"))) bad = "reason";
    if (bad) { /* bad may point into body: answer first */
      fb_respond_error(req, 400, "invalid_request",
                       "Send {\"decision\": \"release\"|\"decline\", \"reason\", \"note\"}; a decline needs a reason.",
                       bad);
      json_decref(body);
      return;
    }
  }
  item_call *ic = fb_xcalloc(1, sizeof *ic);
  ic->act = act;
  call *c = &ic->c;
  c->hub = hub;
  c->req = req;
  c->id = id;
  c->body = body;
  fb_request_set_abort(req, on_abort, c);
  snprintf(c->rid, sizeof c->rid, "%.*s", (int)idlen, rest);
  const char *p[] = {c->rid};
  exec(c, "SELECT doc, due FROM requests WHERE request_id = $1", p, 1, on_item_loaded);
}

/* ---- expiry */

static void on_expired(void *data, int status, fb_store_result *res, const char *err) {
  call *c = data;
  if (status != 0)
    fb_error("store_failed", "expiring %s: %s", c->rid, err);
  else if (res->changes == 1)
    fb_hub_audit_event(c->hub, audit_entry(c->doc, NULL));
  call_free(c);
}

static void on_overdue_found(void *data, int status, fb_store_result *res, const char *err) {
  fb_followup *f = data;
  f->sweep_busy = false;
  if (status != 0) {
    fb_warn("store_failed", "expiry sweep: %s", err);
    return;
  }
  for (size_t i = 0; i < res->nrows; i++) {
    call *c = fb_xcalloc(1, sizeof *c);
    c->hub = f->hub;
    snprintf(c->rid, sizeof c->rid, "%s", fb_store_cell(res, i, 0));
    c->doc = json_loads(fb_store_cell(res, i, 1), 0, NULL);
    if (!c->doc) {
      call_free(c);
      continue;
    }
    set_decided(c, "expired", NULL);
    snprintf(c->status, sizeof c->status, "expired");
    char *doc = json_dumps(c->doc, JSON_COMPACT);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)fb_wall_ms());
    const char *p[] = {now, doc, c->rid};
    if (fb_store_exec(
            f->store,
            "UPDATE requests SET status = 'expired', decided = $1, doc = $2 WHERE request_id = $3 AND status = 'open'",
            p, 3, on_expired, c) != 0)
      call_free(c);
    free(doc);
  }
}

void fb_requests_sweep(fb_followup *f) {
  if (f->sweep_busy) return;
  char cutoff[24];
  snprintf(cutoff, sizeof cutoff, "%lld",
           (long long)(fb_wall_ms() - (int64_t)f->hub->cfg.followup.expire_after_s * 1000));
  const char *p[] = {cutoff};
  f->sweep_busy =
      fb_store_exec(f->store,
                    "SELECT request_id, doc FROM requests WHERE status = 'open' AND due < $1 ORDER BY due LIMIT 100", p,
                    1, on_overdue_found, f) == 0;
}

void fb_requests_cancel_releases(fb_followup *f, const fb_hub *only) {
  call *c = f->releases;
  while (c) {
    call *next = c->rel_next;
    if (!only || c->hub == only) {
      fb_formal *h = c->formal;
      release_untrack(c);
      fb_formal_cancel(h); /* on_formal_done answers (if the client is still there) and frees c */
      next = f->releases; /* the cancel may have changed the list: start over */
    }
    c = next;
  }
}

void fb_hub_routes_requests(fb_hub *hub) {
  fb_router_add(hub->router, "POST", "/v1/requests", requests_root, hub);
  fb_router_add(hub->router, "GET", "/v1/requests", requests_root, hub);
  fb_router_add(hub->router, "GET", "/v1/requests/*", item, hub);
  fb_router_add(hub->router, "POST", "/v1/requests/*", item, hub);
}
