/* Follow-up wiring (hub/followup.h): store, key, search hooks, sweep timer. */
#include "hub/followup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/hub.h"
#include "search/engine.h"
#include "store/store.h"

/* Expiry every second; the directory is reloaded every focal_points.refresh (other
 * hubs sharing the store may have changed it). */
#define SWEEP_MS 1000

void fb_followup_store_failed(fb_request *req, const char *err) {
  fb_error("store_failed", "%s", err ? err : "store error");
  fb_response_header(req, "retry-after", "1");
  fb_respond_error(req, 503, "not_ready", "The hub's store cannot record this right now; nothing was done.", NULL);
}

/* The hit-reference key: made by the first hub that opens the store, read by the rest. */
static int load_key(fb_followup *f, char **err) {
  uint8_t fresh[32];
  char hex[65];
  if (RAND_bytes(fresh, sizeof fresh) != 1) {
    fb_set_error(err, "cannot draw a random hit-reference key");
    return -1;
  }
  fb_hex_encode(fresh, sizeof fresh, hex);
  const char *p[] = {hex};
  if (fb_store_exec_sync(f->store, "INSERT INTO hub_keys (name, value) VALUES ('hit_ref', $1) ON CONFLICT (name) DO NOTHING",
                         p, 1, NULL, err) != 0)
    return -1;
  fb_store_result r = {0};
  if (fb_store_exec_sync(f->store, "SELECT value FROM hub_keys WHERE name = 'hit_ref'", NULL, 0, &r, err) != 0) return -1;
  const char *v = fb_store_cell(&r, 0, 0);
  int rc = -1;
  if (v && strlen(v) == 64) {
    for (int i = 0; i < 32; i++) {
      unsigned x;
      if (sscanf(v + 2 * i, "%2x", &x) != 1) break;
      f->key[i] = (uint8_t)x;
      if (i == 31) rc = 0;
    }
  }
  fb_store_result_clear(&r);
  if (rc != 0) fb_set_error(err, "store: the hit-reference key is malformed");
  return rc;
}

/* ---- search hooks */

static void hook_hit_ref(void *ctx, const char *query_id, const char *from, const char *to, char *out) {
  fb_hit_ref_make(ctx, query_id, from, to, fb_wall_s(), out);
}

static json_t *hook_contact(void *ctx, const char *state) {
  fb_followup *f = ctx;
  return json_object_get(f->contacts, state);
}

typedef struct {
  char *params[4]; /* query_id, from_state, created, doc */
} search_row;

json_t *fb_followup_search_doc(json_t *entry) {
  static const char *const keep[] = {"requester", "purpose", "priority", "legal_basis", "justification",
                                     "case_ref", "subject"};
  json_t *doc = json_object();
  for (size_t i = 0; i < FB_ARRAY_LEN(keep); i++) {
    json_t *v = json_object_get(entry, keep[i]);
    if (v) json_object_set(doc, keep[i], v);
  }
  json_t *states = json_array();
  size_t k;
  json_t *st;
  json_array_foreach(json_object_get(entry, "states"), k, st) {
    json_array_append_new(states, json_pack("{s:O?, s:O?, s:O?}", "state", json_object_get(st, "state"), "outcome",
                                            json_object_get(st, "outcome"), "hit_ref", json_object_get(st, "hit_ref")));
  }
  json_object_set_new(doc, "states", states);
  return doc;
}

/* Searches with a state that did not share (the ones a follow-up is for) are copied to
 * the store; when every state shared, a follow-up finds the search in the audit log. */
static void *hook_describe(void *ctx, json_t *entry) {
  (void)ctx;
  size_t k;
  json_t *st;
  bool all_shared = true;
  json_array_foreach(json_object_get(entry, "states"), k, st) {
    const char *out = json_string_value(json_object_get(st, "outcome"));
    all_shared &= out && strcmp(out, "shared") == 0;
  }
  if (all_shared) return NULL;
  json_t *doc = fb_followup_search_doc(entry);
  search_row *row = fb_xcalloc(1, sizeof *row);
  row->params[0] = fb_xstrdup(json_string_value(json_object_get(entry, "query_id")));
  row->params[1] = fb_xstrdup(json_string_value(json_object_get(json_object_get(entry, "requester"), "state")));
  char now[24];
  snprintf(now, sizeof now, "%lld", (long long)fb_wall_ms());
  row->params[2] = fb_xstrdup(now);
  row->params[3] = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return row;
}

static void on_search_stored(void *data, int status, fb_store_result *res, const char *err) {
  (void)res;
  if (status != 0) fb_error("store_failed", "search %s: not stored for follow-up: %s", (char *)data, err);
  free(data);
}

static void hook_audited(void *ctx, void *token, bool ok) {
  fb_followup *f = ctx;
  search_row *row = token;
  if (ok && row->params[0] && row->params[1] && row->params[3]) {
    char *qid = fb_xstrdup(row->params[0]);
    if (fb_store_exec_batched(f->store,
                      "INSERT INTO searches (query_id, from_state, created, doc) VALUES ($1, $2, $3, $4)"
                      " ON CONFLICT (query_id) DO NOTHING",
                      (const char *const *)row->params, 4, on_search_stored, qid) != 0) {
      fb_warn("store_busy", "search %s not stored for follow-up: the store is closing or too far behind", qid);
      free(qid);
    }
  }
  for (int i = 0; i < 4; i++) free(row->params[i]);
  free(row);
}

/* ---- sweep */

static void on_sweep(uv_timer_t *t) {
  fb_followup *f = t->data;
  fb_requests_sweep(f);
  if (++f->ticks >= f->hub->cfg.followup.refresh_s) {
    f->ticks = 0;
    fb_focal_points_refresh(f);
  }
}

int fb_followup_open(fb_hub *hub, char **err) {
  fb_followup *f = fb_xcalloc(1, sizeof *f);
  f->hub = hub;
  hub->followup = f;
  f->focal = json_object();
  f->contacts = json_object();
  if (!hub->cfg.store) {
    char *audit_dir = fb_xstrdup(hub->cfg.audit.path);
    char *slash = strrchr(audit_dir, '/');
    if (slash) slash[1] = '\0';
    else audit_dir[0] = '\0';
    fb_set_error(&hub->cfg.store, "%sfedbroker.db", audit_dir);
    free(audit_dir);
  }
  f->store = fb_store_open(hub->loop, hub->cfg.store, err);
  if (!f->store) return -1;
  if (load_key(f, err) != 0 || fb_focal_points_load(f, err) != 0) return -1;
  fb_search_hooks h = {.ctx = f, .hit_ref = hook_hit_ref, .contact = hook_contact, .describe = hook_describe,
                       .audited = hook_audited};
  fb_search_engine_set_hooks(hub->search, &h);
  uv_timer_init(hub->loop, &f->sweep);
  f->sweep.data = f;
  f->sweeping = true;
  uv_timer_start(&f->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
  return 0;
}

typedef struct {
  fb_followup *f;
  void (*cb)(void *);
  void *data;
} closing;

static void on_store_closed(void *data) {
  closing *c = data;
  json_decref(c->f->focal);
  json_decref(c->f->contacts);
  c->f->hub->followup = NULL;
  free(c->f);
  if (c->cb) c->cb(c->data);
  free(c);
}

static void on_sweep_closed(uv_handle_t *h) {
  closing *c = h->data;
  if (c->f->store) fb_store_close(c->f->store, on_store_closed, c);
  else on_store_closed(c);
}

void fb_followup_close(fb_followup *f, void (*cb)(void *), void *data) {
  closing *c = fb_xcalloc(1, sizeof *c);
  c->f = f;
  c->cb = cb;
  c->data = data;
  if (f->sweeping) {
    f->sweep.data = c;
    uv_close((uv_handle_t *)&f->sweep, on_sweep_closed);
  } else {
    on_sweep_closed(&(uv_handle_t){.data = c});
  }
}
