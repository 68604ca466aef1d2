/* The hub: everything `fedbroker serve` runs, wired together on libuv loops —
 * config, HTTP server and routes, identity, audit log, policies, adapters, fan-out.
 * Handlers live in handlers_*.c, one file per API area; they receive the hub as
 * context. With `workers` = 1 everything runs on the one loop thread. With more, each
 * extra worker thread (workers.c) runs a loop of its own with a replica of this
 * struct: its own loop, router, server and search engine, and the main hub's shared
 * parts (config, authn, audit, policies, follow-up), used under the hub lock
 * (core/hublock.h). docs/architecture.md "Threads and workers". */
#ifndef FB_HUB_HUB_H
#define FB_HUB_HUB_H

#include <stdbool.h>
#include <uv.h>

#include "auth/identity.h"
#include "config/config.h"
#include "net/router.h"
#include "net/server.h"

struct fb_authn;
struct fb_audit;
struct fb_policy_store;
struct fb_search_engine;
struct fb_followup;
struct fb_home;
struct fb_workers;

typedef struct fb_hub {
  uv_loop_t *loop;
  fb_config cfg;
  fb_router *router;
  fb_server *server;
  struct fb_authn *authn;
  struct fb_audit *audit;
  struct fb_policy_store *policies;
  struct fb_search_engine *search;
  struct fb_followup *followup; /* store, focal points, follow-up requests */
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_fs_event_t policy_watch;
  uv_timer_t reload_debounce;
  struct fb_hub_reload_job *reload_running, *reload_queue; /* policy reloads, one at a time */
  bool watching;
  int64_t started_ms;
  bool stopping;
  int exit_status;
  int pending_closes;
  struct fb_hub *main;        /* a worker's replica: the main hub; NULL on the main hub */
  unsigned worker;            /* 0 on the main hub, else the worker's number */
  struct fb_home *home;       /* this loop's mailbox (with workers > 1) */
  struct fb_workers *workers; /* the main hub's worker threads (with workers > 1) */
  bool server_stopped;        /* the main server is closed (shutdown waits for workers too) */
} fb_hub;

/* `cfg` is moved into the hub (the caller's copy is zeroed). On failure *err is set
 * and fb_hub_stop + running the loop releases what was started. */
int fb_hub_init(fb_hub *hub, uv_loop_t *loop, fb_config *cfg, char **err);
/* Runs the loop until SIGTERM/SIGINT or fb_hub_stop; returns the exit status. */
int fb_hub_run(fb_hub *hub);
void fb_hub_stop(fb_hub *hub);
void fb_hub_free(fb_hub *hub);

/* True when config, policies and audit log are loaded and the log is writable. */
bool fb_hub_ready(const fb_hub *hub);

/* Authenticates the request and checks that the identity holds one of `roles` (a
 * bitmask of FB_ROLE_*; 0 = any authenticated). Returns 0 with *id filled, or -1
 * after answering 401 (with WWW-Authenticate) or 403 itself. */
int fb_hub_identify(fb_hub *hub, fb_request *req, unsigned roles, fb_identity *id);

/* Parses the JSON object body of a POST: checks Content-Type (415), JSON (400
 * invalid_json) and that it is an object (400 invalid_request). Returns a new
 * reference, or NULL after answering. */
json_t *fb_hub_json_body(fb_request *req);

/* Appends an audit entry (stolen) without waiting; failures are logged. */
void fb_hub_audit_event(fb_hub *hub, json_t *entry);
/* An identity as the audit log records it: {"sub","state","agency","roles"}. */
json_t *fb_hub_requester_json(const fb_identity *id);

/* Reloads every policy file without blocking the loop: the files run on a libuv
 * worker, the swap happens on the loop, then the reload is audited (with `by` when
 * given) and `cb` (may be NULL) gets rc 0/-1 and the report of
 * fb_policy_store_reload (borrowed; NULL when the hub stopped first). `trigger` must
 * be a string literal ("api", "sighup", "file_change"). */
typedef void (*fb_hub_reload_cb)(fb_hub *hub, int rc, json_t *report, void *data);
void fb_hub_reload_policies(fb_hub *hub, const char *trigger, const fb_identity *by, fb_hub_reload_cb cb,
                            void *data);

/* Registers every route on hub->router (the main hub and each worker's replica). */
void fb_hub_add_routes(fb_hub *hub);

/* workers.c: the event-loop threads beyond the main one. `fb_hub_workers_wanted` is
 * cfg.workers with 0 resolved to one per CPU core. Start runs after the main server is
 * listening (the workers bind its ports); -1 with *err. Stop asks each to close its
 * server and engine and calls done(data) on the main loop once all have finished;
 * join (after the loop ended) waits for the threads and frees them. */
unsigned fb_hub_workers_wanted(const fb_config *cfg);
int fb_hub_workers_start(fb_hub *hub, unsigned n, char **err);
void fb_hub_workers_stop(fb_hub *hub, void (*done)(void *), void *data);
void fb_hub_workers_join(fb_hub *hub);
bool fb_hub_workers_running(const fb_hub *hub);

/* Route registration, one function per handlers_*.c file. */
void fb_hub_routes_health(fb_hub *hub);
void fb_hub_routes_states(fb_hub *hub);
void fb_hub_routes_audit(fb_hub *hub);
void fb_hub_routes_policy(fb_hub *hub);
void fb_hub_routes_policy_diff(fb_hub *hub);
/* POST /v1/policy/diff with "exhaustive": true is handed to this handler when set
 * (before the routes are served); it gets the identified requester and owns `body`. */
typedef void (*fb_policy_diff_handler)(fb_hub *hub, fb_request *req, const fb_identity *id, json_t *body);
extern fb_policy_diff_handler fb_hub_policy_diff_exhaustive;
void fb_hub_routes_policy_prove(fb_hub *hub); /* sets fb_hub_policy_diff_exhaustive */
/* POST /v1/policy/diff with "exhaustive": true (handlers_policy_prove.c). */
void fb_hub_policy_prove(fb_hub *hub, fb_request *req, const fb_identity *id, json_t *body);
void fb_hub_routes_search(fb_hub *hub);
void fb_hub_routes_me(fb_hub *hub);
void fb_hub_routes_policy_source(fb_hub *hub);
void fb_hub_routes_console(fb_hub *hub);
void fb_hub_routes_focal_points(fb_hub *hub);
void fb_hub_routes_requests(fb_hub *hub);
void fb_hub_routes_reports(fb_hub *hub);

/* GET /v1/stats with since, until or by: answers from one pass over the audit log
 * (report.c) and returns true; false when none is given (the live counters answer). */
bool fb_hub_stats_over_period(fb_hub *hub, fb_request *req);

#endif
