/* The federated search: policy first, then concurrent legs to the admitted states
 * through their adapters, per-priority deadlines, circuit breakers, redaction per
 * state, merge, one audit entry, and the answer handed to the caller's callbacks.
 * The engine knows nothing of HTTP: the hub renders the answer (whole, or streamed
 * as NDJSON) from the callbacks (hub/handlers_search.c).
 *
 * One engine per loop, created on that loop's thread; everything of it runs there. */
#ifndef FB_SEARCH_ENGINE_H
#define FB_SEARCH_ENGINE_H

#include <jansson.h>
#include <uv.h>

#include "auth/identity.h"
#include "config/config.h"
#include "search/merge.h"

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

/* One search in flight, valid from on_admitted until on_done, on_failure or
 * fb_search_cancel. */
typedef struct fb_search fb_search;

/* What a search is asked with: an authenticated analyst and the parsed JSON object
 * of POST /v1/search (stolen). */
typedef struct fb_search_input {
  const fb_identity *id;
  json_t *body;
} fb_search_input;

/* Why a search is refused or not answered. `field` may be NULL; `retry_after_s` is 0
 * when the answer carries no Retry-After. Strings are borrowed for the call. */
typedef struct fb_search_failure {
  int status;               /* 400, 429 or 503 */
  const char *code, *message, *field;
  unsigned retry_after_s;
} fb_search_failure;

/* The audited answer (API.md). Borrowed for the call. */
typedef struct fb_search_answer {
  const char *query_id;
  bool complete;
  /* The per-state summaries: as JSON text (the engine's, search/leg_summary.h), or as
   * a jansson array (answers put together by hand); both NULL when on_state delivered
   * them. The text wins when both are set. */
  const char *states_text;
  size_t states_len;
  json_t *states;
  const fb_merged *results; /* the merged records (search/merge.h; written by
                               search/answer.h) */
  uint64_t audit_seq;
  const char *audit_hash;
} fb_search_answer;

/* The caller's side of a search, all run on the engine's loop. Exactly one of on_done
 * and on_failure ends every search that is not cancelled; nothing is called after
 * fb_search_cancel. */
typedef struct fb_search_callbacks {
  /* The search passed validation and the limits; `s` may be cancelled from now on.
   * Called before any on_state. Optional. */
  void (*on_admitted)(void *ud, fb_search *s, const char *query_id);
  /* A state's summary as soon as it has settled (stolen). Optional: when NULL the
   * summaries come in the answer's `states` instead. */
  void (*on_state)(void *ud, json_t *state);
  void (*on_done)(void *ud, const fb_search_answer *a);
  /* Before on_admitted: 400 (invalid), 429 (`limits.concurrency`, `limits.per_identity`
   * or `limits.aborts_per_minute`). After: 503 when the audit log cannot record it. */
  void (*on_failure)(void *ud, const fb_search_failure *f);
} fb_search_callbacks;

/* Starts a search; every callback may run before this returns. `cb` must outlive the
 * search (a static table). */
void fb_search_start(fb_search_engine *e, const fb_search_input *in, const fb_search_callbacks *cb, void *ud);
/* The client went away: pending legs are cancelled, the search's slot is given back
 * at once, the search is still audited (as client_aborted), and no callback runs
 * again. */
void fb_search_cancel(fb_search *s);

/* Follow-up hooks (FOLLOWUP.md), all optional, run on the loop thread. The engine
 * does not know the store: the hub plugs these in. */
typedef struct fb_search_hooks {
  void *ctx;
  /* The hit reference of a hit_only line (NUL-terminated, under FB_HIT_REF_MAX). */
  void (*hit_ref)(void *ctx, const char *query_id, const char *from, const char *to, char *out);
  /* The contact shown for `state`: borrowed JSON, or NULL for the policy's own. */
  json_t *(*contact)(void *ctx, const char *state);
  /* Called with the search's audit entry before it is handed to the log (borrowed:
   * read it, keep nothing), for a search where some state did not share only (the
   * others' entries are written as text, search/audit_entry.h); the returned token comes back to `audited` once the log
   * has (ok) or has not recorded the entry. With workers it runs without the hub lock
   * (core/hublock.h): it may read the entry and its own immutable ctx only. */
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
/* GET /v1/stats body: the statistics as they are now. */
json_t *fb_search_stats_json(fb_search_engine *e);

/* Rebuilds the statistics from the search entries of the audit log (the last million),
 * read and parsed on a uv worker and added on the loop to what was counted meanwhile.
 * Call once per hub after the engine is created (with one engine per loop, in one of
 * them only). */
void fb_search_engine_replay_stats(fb_search_engine *e);

/* The GET /v1/stats body (a new reference) handed to `ready` once the replay (of the
 * main engine, whichever engine asks) has been merged: at once (then NULL is returned),
 * or when the replay ends (then the handle returned can withdraw the wait until `ready`
 * has run). `ready` runs on the asking engine's loop: a worker's engine gets it through
 * its loop's mailbox (the one current on its thread when it was made). A closing engine
 * drops its waiters without calling them. Under the hub lock. */
typedef struct fb_stats_wait fb_stats_wait;
fb_stats_wait *fb_search_stats_when_ready(fb_search_engine *e, void (*ready)(void *ud, json_t *body), void *ud);
void fb_search_stats_wait_cancel(fb_stats_wait *w);
size_t fb_search_in_flight(const fb_search_engine *e);

/* A query id such as "q-01JDX8Z8N5T5Q8W1": 48-bit milliseconds and 32 random bits
 * in Crockford base32, so ids sort by time. `out` holds 19 bytes. */
void fb_query_id_new(char out[20]);

#endif
