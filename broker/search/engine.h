/* The federated search: policy first, then concurrent legs to the admitted states
 * through their adapters, per-priority deadlines, circuit breakers, redaction per
 * state, merge, one audit entry, and the answer (whole or streamed as NDJSON).
 *
 * One engine per hub, created at start-up on the loop thread; everything runs there. */
#ifndef FB_SEARCH_ENGINE_H
#define FB_SEARCH_ENGINE_H

#include <jansson.h>
#include <uv.h>

#include "auth/identity.h"
#include "config/config.h"
#include "net/request.h"

struct fb_policy_store;
struct fb_audit;
struct fb_adapter;

typedef struct fb_search_engine fb_search_engine;

/* Opens one adapter per configured state. NULL with *err naming the state on failure.
 * `cfg`, `policies` and `audit` must outlive the engine. */
fb_search_engine *fb_search_engine_new(uv_loop_t *loop, const fb_config *cfg, struct fb_policy_store *policies,
                                       struct fb_audit *audit, char **err);
/* A worker's engine (hub/workers.c) on its own loop, with its own adapters, beside
 * `main`'s: the same config, policies, audit log and follow-up hooks. */
fb_search_engine *fb_search_engine_new_worker(uv_loop_t *loop, fb_search_engine *main, char **err);
/* Cancels searches in flight (their clients are already gone by now), closes the
 * adapters, then calls done(data) and frees the engine. */
void fb_search_engine_close(fb_search_engine *e, void (*done)(void *), void *data);

/* POST /v1/search for an authenticated analyst; `body` (stolen) is the parsed JSON
 * object. Answers `req`: 400 on an invalid request, 429 when `limits.concurrency`
 * searches are in flight, 503 when the audit log cannot record it, else 200. */
void fb_search_start(fb_search_engine *e, fb_request *req, const fb_identity *id, json_t *body);

/* Follow-up hooks (FOLLOWUP.md), all optional, run on the loop thread. The engine
 * does not know the store: the hub plugs these in. */
typedef struct fb_search_hooks {
  void *ctx;
  /* The hit reference of a hit_only line (NUL-terminated, under FB_HIT_REF_MAX). */
  void (*hit_ref)(void *ctx, const char *query_id, const char *from, const char *to, char *out);
  /* The contact shown for `state`: borrowed JSON, or NULL for the policy's own. */
  json_t *(*contact)(void *ctx, const char *state);
  /* Called with the search's audit entry before it is handed to the log (borrowed:
   * read it, keep nothing); the returned token comes back to `audited` once the log
   * has (ok) or has not recorded the entry. */
  void *(*describe)(void *ctx, json_t *entry);
  void (*audited)(void *ctx, void *token, bool ok);
} fb_search_hooks;
#define FB_HIT_REF_MAX 96

void fb_search_engine_set_hooks(fb_search_engine *e, const fb_search_hooks *hooks);

/* The adapter, breaker-free, of a configured state (for a follow-up's re-query), or
 * NULL. */
struct fb_adapter *fb_search_engine_adapter(fb_search_engine *e, const char *state);

/* GET /v1/states entries: state, name, adapter, health, breaker, contact, policy. */
json_t *fb_search_states_json(fb_search_engine *e);
/* GET /v1/stats body. */
json_t *fb_search_stats_json(fb_search_engine *e);
size_t fb_search_in_flight(const fb_search_engine *e);

/* A query id such as "q-01JDX8Z8N5T5Q8W1": 48-bit milliseconds and 32 random bits
 * in Crockford base32, so ids sort by time. `out` holds 19 bytes. */
void fb_query_id_new(char out[20]);

#endif
