/* The hub: everything `fedbroker serve` runs, wired together on one libuv loop —
 * config, HTTP server and routes, identity, audit log, policies, adapters. Handlers
 * live in handlers_*.c, one file per API area; they receive the hub as context. */
#ifndef FB_HUB_HUB_H
#define FB_HUB_HUB_H

#include <stdbool.h>
#include <uv.h>

#include "config/config.h"
#include "net/router.h"
#include "net/server.h"

typedef struct fb_hub {
  uv_loop_t *loop;
  fb_config cfg;
  fb_router *router;
  fb_server *server;
  uv_signal_t sig_term, sig_int, sig_hup;
  int64_t started_ms;
  bool stopping;
  int exit_status;
  void *ext[8];            /* per-area state (see hub_ext.h): auth, audit, policy, search */
} fb_hub;

/* Loads nothing itself: `cfg` is moved into the hub (the caller's copy is zeroed). */
int fb_hub_init(fb_hub *hub, uv_loop_t *loop, fb_config *cfg, char **err);
/* Runs the loop until SIGTERM/SIGINT or fb_hub_stop; returns the exit status. */
int fb_hub_run(fb_hub *hub);
void fb_hub_stop(fb_hub *hub);
void fb_hub_free(fb_hub *hub);

/* True when config, policies and audit log are loaded and the log is writable. */
bool fb_hub_ready(const fb_hub *hub);

/* Route registration, one function per handlers_*.c file. */
void fb_hub_routes_health(fb_hub *hub);

#endif
