/* The focal point directory (FOLLOWUP.md): GET/PUT /v1/focal-points, the in-memory
 * cache that search answers read their `contact` from (no store round trip per
 * search), and the stale flag. One store row per state holds its entries in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/log.h"
#include "core/util.h"
#include "hub/followup.h"
#include "hub/hub.h"
#include "store/store.h"

#define FOCAL_MAX_ENTRIES 20
#define FOCAL_TEXT_MAX 512

/* "2026-11-30" -> days since the epoch; -1 when not a date. */
static long date_days(const char *s) {
  int y, m, d;
  char tail;
  if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return -1;
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1970) return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
  time_t t = timegm(&tm);
  if (t == (time_t)-1 || tm.tm_mday != d) return -1; /* 2026-02-31 normalises to March */
  return (long)(t / 86400);
}

static bool entry_stale(const fb_followup *f, json_t *entry) {
  long days = date_days(json_string_value(json_object_get(entry, "verified_at")));
  return days < 0 || fb_wall_s() / 86400 - days > (long)f->hub->cfg.followup.stale_after_days;
}

bool fb_focal_points_stale(const fb_followup *f, const char *state) {
  json_t *entries = json_object_get(f->focal, state);
  if (!json_array_size(entries)) return false;
  return entry_stale(f, json_array_get(entries, 0));
}

static json_t *with_stale(const fb_followup *f, const char *state, json_t *entry) {
  json_t *o = json_deep_copy(entry);
  json_object_set_new(o, "state", json_string(state));
  json_object_set_new(o, "stale", json_boolean(entry_stale(f, entry)));
  return o;
}

void fb_focal_points_set_cache(fb_followup *f, const char *state, json_t *entries) {
  json_object_set_new(f->focal, state, entries);
  if (json_array_size(entries)) json_object_set_new(f->contacts, state, with_stale(f, state, json_array_get(entries, 0)));
  else json_object_del(f->contacts, state);
}

#define SELECT_ALL "SELECT state, doc FROM focal_points WHERE position = 0"

static void cache_rows(fb_followup *f, const fb_store_result *r) {
  for (size_t i = 0; i < r->nrows; i++) {
    json_t *entries = json_loads(fb_store_cell(r, i, 1), 0, NULL);
    if (json_is_array(entries)) fb_focal_points_set_cache(f, fb_store_cell(r, i, 0), entries);
    else json_decref(entries);
  }
}

int fb_focal_points_load(fb_followup *f, char **err) {
  fb_store_result r = {0};
  if (fb_store_exec_sync(f->store, SELECT_ALL, NULL, 0, &r, err) != 0) return -1;
  cache_rows(f, &r);
  fb_store_result_clear(&r);
  return 0;
}

static void on_refreshed(void *data, int status, fb_store_result *res, const char *err) {
  fb_followup *f = data;
  if (status != 0) fb_warn("focal_points", "directory refresh failed: %s", err);
  else cache_rows(f, res);
}

void fb_focal_points_refresh(fb_followup *f) { fb_store_exec(f->store, SELECT_ALL, NULL, 0, on_refreshed, f); }

/* Checks one state's entries; returns a clean copy or NULL with *field and *why. */
json_t *fb_focal_points_validate(json_t *entries, const char *state, const char **field, const char **why) {
  static const char *const text_keys[] = {"unit", "name", "email", "phone", "hours", "timezone", "verified_at"};
  if (!json_is_array(entries) || json_array_size(entries) == 0 || json_array_size(entries) > FOCAL_MAX_ENTRIES) {
    *field = "focal_points";
    *why = "focal_points must be an array of 1 to 20 entries.";
    return NULL;
  }
  json_t *out = json_array();
  size_t i;
  json_t *e;
  *why = NULL;
  json_array_foreach(entries, i, e) {
    const char *k;
    json_t *v;
    *why = NULL;
    if (!json_is_object(e)) {
      *field = "focal_points";
      *why = "Each focal point must be an object.";
      break;
    }
    json_t *clean = json_object();
    json_array_append_new(out, clean);
    json_object_foreach(e, k, v) {
      bool text = false;
      for (size_t t = 0; t < FB_ARRAY_LEN(text_keys); t++) text |= strcmp(k, text_keys[t]) == 0;
      if (text) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > FOCAL_TEXT_MAX) {
          *field = k;
          *why = "Must be a non-empty string of at most 512 characters.";
          break;
        }
      } else if (strcmp(k, "channel") == 0) {
        const char *c = json_string_value(v);
        if (!c || (strcmp(c, "formal") && strcmp(c, "informal") && strcmp(c, "both"))) {
          *field = k;
          *why = "channel must be formal, informal or both.";
          break;
        }
      } else if (strcmp(k, "languages") == 0) {
        size_t li;
        json_t *l;
        bool ok = json_is_array(v) && json_array_size(v) <= 20;
        json_array_foreach(v, li, l) ok &= json_is_string(l) && json_string_length(l) > 0 && json_string_length(l) <= 32;
        if (!ok) {
          *field = k;
          *why = "languages must be an array of short strings.";
          break;
        }
      } else if (strcmp(k, "state") == 0) {
        if (!json_is_string(v) || strcmp(json_string_value(v), state) != 0) {
          *field = k;
          *why = "state must be the state of the path.";
          break;
        }
        continue; /* implied by the path */
      } else if (strcmp(k, "stale") == 0) {
        continue; /* computed, ignored on input */
      } else {
        *field = k;
        *why = "Unknown field.";
        break;
      }
      json_object_set(clean, k, v);
    }
    if (*why) break;
    if (!json_object_get(clean, "unit") || !json_object_get(clean, "channel") ||
        date_days(json_string_value(json_object_get(clean, "verified_at"))) < 0) {
      *field = !json_object_get(clean, "unit") ? "unit" : !json_object_get(clean, "channel") ? "channel" : "verified_at";
      *why = "unit, channel and verified_at (a date, YYYY-MM-DD) are required.";
      break;
    }
  }
  if (*why) {
    json_decref(out);
    return NULL;
  }
  return out;
}

static void sha256_hex(json_t *v, char out[65]) {
  char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : fb_xstrdup("null");
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
  fb_hex_encode(md, 32, out);
  free(text);
}

static const char *const UPSERT =
    "INSERT INTO focal_points (state, position, doc) VALUES ($1, 0, $2)"
    " ON CONFLICT (state, position) DO UPDATE SET doc = excluded.doc";

int fb_focal_points_seed(fb_followup *f, const char *state, json_t *entries) {
  char *doc = json_dumps(entries, JSON_COMPACT);
  const char *p[] = {state, doc};
  char *err = NULL;
  int rc = fb_store_exec_sync(f->store,
                              "INSERT INTO focal_points (state, position, doc) VALUES ($1, 0, $2)"
                              " ON CONFLICT (state, position) DO NOTHING",
                              p, 2, NULL, &err);
  free(doc);
  if (rc != 0) {
    fb_warn("focal_points", "demo directory for %s not stored: %s", state, err);
    free(err);
    return -1;
  }
  return fb_focal_points_load(f, &err) == 0 ? 0 : (free(err), -1);
}

/* ---- handlers */

static json_t *listing(fb_followup *f, const char *only) {
  json_t *arr = json_array();
  const char *state;
  json_t *entries;
  json_object_foreach(f->focal, state, entries) {
    if (only && strcmp(only, state) != 0) continue;
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) json_array_append_new(arr, with_stale(f, state, e));
  }
  return json_pack("{s:o}", "focal_points", arr);
}

static void get_all(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, 0, &id) != 0) return;
  fb_respond_json(req, 200, listing(hub->followup, NULL));
}

typedef struct {
  fb_hub *hub;
  fb_request *req;
  fb_identity id;
  char state[8];
  json_t *entries;
  char before[65], after[65];
} put_call;

static void put_aborted(fb_request *req, void *data) {
  (void)req;
  ((put_call *)data)->req = NULL;
}

static void on_put_stored(void *data, int status, fb_store_result *res, const char *err) {
  (void)res;
  put_call *c = data;
  fb_followup *f = c->hub->followup;
  if (c->req) fb_request_set_abort(c->req, NULL, NULL);
  if (status != 0) {
    if (c->req) fb_followup_store_failed(c->req, err);
    json_decref(c->entries);
  } else {
    if (f) fb_focal_points_set_cache(f, c->state, c->entries);
    else json_decref(c->entries);
    fb_hub_audit_event(c->hub, json_pack("{s:s, s:o, s:s, s:s, s:s}", "event", "focal_point", "requester",
                                         fb_hub_requester_json(&c->id), "state", c->state, "before", c->before,
                                         "after", c->after));
    if (c->req) fb_respond_json(c->req, 200, f ? listing(f, c->state) : json_object());
  }
  free(c);
}

static void put_state(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_FOCAL_POINT_ADMIN | FB_ROLE_ADMIN, &id) != 0) return;
  const char *state = fb_request_path(req) + strlen("/v1/focal-points/");
  if (!fb_state_code_valid(state) || !fb_config_state(&hub->cfg, state)) {
    fb_respond_error(req, 404, "not_found", "No such state on this hub.", NULL);
    return;
  }
  if (!(id.roles & FB_ROLE_ADMIN) && strcmp(id.state, state) != 0) {
    fb_respond_error(req, 403, "forbidden", "A focal point admin keeps the directory of their own state only.", NULL);
    return;
  }
  json_t *body = fb_hub_json_body(req);
  if (!body) return;
  const char *field = NULL, *why = NULL;
  json_t *entries = fb_focal_points_validate(json_object_get(body, "focal_points"), state, &field, &why);
  if (!entries) fb_respond_error(req, 400, "invalid_request", why, field); /* field may point into body */
  json_decref(body);
  if (!entries) return;
  put_call *c = fb_xcalloc(1, sizeof *c);
  c->hub = hub;
  c->req = req;
  c->id = id;
  snprintf(c->state, sizeof c->state, "%s", state);
  c->entries = entries;
  sha256_hex(json_object_get(hub->followup->focal, state), c->before);
  sha256_hex(entries, c->after);
  char *doc = json_dumps(entries, JSON_COMPACT);
  const char *p[] = {state, doc};
  int rc = fb_store_exec(hub->followup->store, UPSERT, p, 2, on_put_stored, c);
  free(doc);
  if (rc != 0) {
    json_decref(entries);
    free(c);
    fb_followup_store_failed(req, "store closing");
    return;
  }
  fb_request_set_abort(req, put_aborted, c);
}

void fb_hub_routes_focal_points(fb_hub *hub) {
  fb_router_add(hub->router, "GET", "/v1/focal-points", get_all, hub);
  fb_router_add(hub->router, "PUT", "/v1/focal-points/*", put_state, hub);
}
