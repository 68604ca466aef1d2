/* Follow-up (FOLLOWUP.md) inside the hub: the store, the hit-reference key, the focal
 * point directory cache, the search hooks and the expiry sweep. The HTTP handlers are
 * handlers_focal_points.c and handlers_requests.c. Everything runs on the loop thread;
 * the store does its work on its own thread (store/store.h). */
#ifndef FB_HUB_FOLLOWUP_H
#define FB_HUB_FOLLOWUP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "auth/identity.h"
#include "net/request.h"

struct fb_hub;
struct fb_store;

typedef struct fb_followup {
  struct fb_hub *hub;
  struct fb_store *store;
  uint8_t key[32];            /* hit references: HMAC-SHA256 key, shared through the store */
  json_t *focal;              /* state -> array of directory entries, as stored */
  json_t *contacts;           /* state -> the first entry + "stale": what search answers show */
  uv_timer_t sweep;           /* expiry of open requests, refresh of the directory */
  bool sweeping;
  bool sweep_busy;            /* a sweep query is in flight */
  uint64_t ticks;             /* sweeps since the directory was last reloaded */
  void *releases;             /* releases asking a state again (handlers_requests.c) */
} fb_followup;

/* Opens cfg.store (default: var/fedbroker.db next to the audit log), loads the key and
 * the directory, hooks into the search engine, starts the sweep timer. -1 with *err. */
int fb_followup_open(struct fb_hub *hub, char **err);
/* Stops the timer and closes the store; `cb` runs when it is closed. */
void fb_followup_close(fb_followup *f, void (*cb)(void *), void *data);

/* Hit references (hitref.c): "hr1.<expiry>.<mac>" binding query, requester, state. */
void fb_hit_ref_make(const fb_followup *f, const char *query_id, const char *from, const char *to, int64_t now_s,
                     char *out);
bool fb_hit_ref_check(const fb_followup *f, const char *ref, const char *query_id, const char *from, const char *to,
                      int64_t now_s);

/* The directory (focal_points.c). */
int fb_focal_points_load(fb_followup *f, char **err);     /* synchronous: start-up */
void fb_focal_points_refresh(fb_followup *f);              /* the same, off the loop */
void fb_focal_points_set_cache(fb_followup *f, const char *state, json_t *entries); /* steals */
bool fb_focal_points_stale(const fb_followup *f, const char *state);
json_t *fb_focal_points_validate(json_t *entries, const char *state, const char **field, const char **why);
/* Demo: the state's entries unless it has some already (synchronous). */
int fb_focal_points_seed(fb_followup *f, const char *state, json_t *entries);

/* Requests (handlers_requests.c): expires open requests past due + expire_after. */
void fb_requests_sweep(fb_followup *f);
/* Cancels the releases still asking a state (before the adapters close at shutdown):
 * those of one loop's hub (a worker's replica uses its own engine's adapters), or all
 * when `only` is NULL. */
void fb_requests_cancel_releases(fb_followup *f, const struct fb_hub *only);

/* What a follow-up needs of a search, from its audit entry: requester, request fields,
 * subject, and per state its outcome and hit reference (new reference). */
json_t *fb_followup_search_doc(json_t *entry);

/* Common: answers a store failure (503, fail closed). */
void fb_followup_store_failed(fb_request *req, const char *err);

#endif
