/* Worker threads (`workers` > 1): each runs a libuv loop of its own with a replica of
 * the hub — its own router, server (listening on the main server's ports with
 * SO_REUSEPORT, so the kernel spreads connections), search engine, adapters and curl
 * multi — and shares the main hub's config, identities, audit log, policies and
 * follow-up store under the hub lock (core/hublock.h). The main loop keeps signals,
 * file watching and policy reloads; a swap of policies is seen by every worker at
 * once because they read the same store. Completions of the shared services come back
 * to the asking worker's loop through its mailbox (core/home.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/home.h"
#include "core/hublock.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/followup.h"
#include "hub/hub.h"
#include "search/engine.h"

#define WORKER_GRACE_MS 10000

typedef struct worker {
  fb_hub hub;               /* the replica; hub.main is the main hub */
  uv_loop_t loop;
  uv_thread_t thread;
  bool thread_started;
  uv_sem_t ready;           /* the worker listens (or failed: err) */
  char *err;
  unsigned id;
  bool stop_asked, finished; /* under the hub lock */
  struct fb_workers *all;
} worker;

struct fb_workers {
  fb_hub *main;
  worker *w;
  unsigned n;               /* threads started (workers - 1) */
  unsigned running;         /* not yet finished */
  void (*done)(void *);
  void *done_data;
};

unsigned fb_hub_workers_wanted(const fb_config *cfg) {
  unsigned n = cfg->workers ? cfg->workers : uv_available_parallelism();
  if (n < 1) n = 1;
  if (n > FB_WORKERS_MAX) n = FB_WORKERS_MAX;
  return n;
}

/* ---- on the worker's thread ---- */

static void worker_finished_on_main(void *arg) {
  struct fb_workers *all = arg;
  if (--all->running > 0 || !all->done) return;
  void (*done)(void *) = all->done;
  all->done = NULL;
  done(all->done_data);
}

static void on_engine_closed(void *data) {
  worker *w = data;
  w->hub.search = NULL;
  w->finished = true; /* from now on nobody posts to its mailbox */
  fb_home *home = w->hub.home;
  w->hub.home = NULL;
  /* Tell the main loop, then let the mailbox close once nothing owed to this loop is
   * still out (audit or store completions): the loop then ends. */
  fb_home_post(w->all->main->home, worker_finished_on_main, w->all);
  fb_home_close(home, NULL, NULL);
}

static void on_server_stopped(void *data) {
  worker *w = data;
  w->hub.server = NULL;
  if (w->hub.followup) fb_requests_cancel_releases(w->hub.followup, &w->hub); /* their legs use this engine */
  if (w->hub.search) fb_search_engine_close(w->hub.search, on_engine_closed, w);
  else on_engine_closed(w);
}

static void stop_on_worker(void *arg) {
  worker *w = arg;
  w->stop_asked = true;
  if (w->hub.stopping) return;
  w->hub.stopping = true;
  if (w->hub.server) fb_server_stop(w->hub.server, WORKER_GRACE_MS, on_server_stopped, w);
  else on_server_stopped(w);
}

static int worker_setup(worker *w) {
  fb_hub *main = w->all->main;
  fb_hub *hub = &w->hub;
  /* A shallow copy: the config, authn, audit, policies and follow-up are the main
   * hub's (never freed through the replica); loop, router, server and engine are its
   * own. */
  *hub = *main;
  hub->main = main;
  hub->worker = w->id;
  hub->loop = &w->loop;
  hub->workers = NULL;
  hub->reload_running = hub->reload_queue = NULL;
  hub->watching = false;
  hub->pending_closes = 0;
  hub->search = NULL;
  hub->server = NULL;
  hub->home = fb_home_open(&w->loop);
  hub->router = fb_router_new();
  hub->search = fb_search_engine_new_worker(&w->loop, main->search, &w->err);
  if (!hub->search) return -1;
  fb_hub_add_routes(hub);
  fb_server_options opt = {.share = main->server, .reuseport = true, .worker = hub->worker};
  hub->server = fb_server_start_ex(&w->loop, &main->cfg, hub->router, &opt, &w->err);
  return hub->server ? 0 : -1;
}

static void worker_main(void *arg) {
  worker *w = arg;
  fb_hublock_lock();
  int rc = worker_setup(w);
  fb_hublock_unlock();
  if (rc != 0) {
    fb_hublock_lock();
    stop_on_worker(w); /* closes what was opened; the loop runs it out */
    fb_hublock_unlock();
  }
  uv_sem_post(&w->ready);
  fb_hublock_run(&w->loop);
  fb_hublock_lock();
  fb_router_free(w->hub.router);
  w->hub.router = NULL;
  fb_hublock_unlock();
  if (uv_loop_close(&w->loop) != 0) fb_warn("worker_exit", "worker %u: handles left open", w->hub.worker);
}

/* ---- on the main thread ---- */

int fb_hub_workers_start(fb_hub *hub, unsigned n, char **err) {
  if (n <= 1) return 0;
  struct fb_workers *all = fb_xcalloc(1, sizeof *all);
  all->main = hub;
  all->w = fb_xcalloc(n - 1, sizeof *all->w);
  hub->workers = all;
  for (unsigned i = 0; i < n - 1; i++) {
    worker *w = &all->w[i];
    w->all = all;
    w->id = i + 1;
    uv_loop_init(&w->loop);
    uv_sem_init(&w->ready, 0);
    if (uv_thread_create(&w->thread, worker_main, w) != 0) {
      uv_sem_destroy(&w->ready);
      uv_loop_close(&w->loop);
      return fb_set_error(err, "workers: cannot start a worker thread");
    }
    w->thread_started = true;
    all->n++;
    all->running++;
    uv_sem_wait(&w->ready); /* the main thread does not hold the hub lock here */
    if (w->err) return fb_set_error(err, "worker %u: %s", i + 1, w->err);
  }
  fb_info("workers", "%u event-loop workers (the main loop and %u threads)", n, n - 1);
  return 0;
}

void fb_hub_workers_stop(fb_hub *hub, void (*done)(void *), void *data) {
  struct fb_workers *all = hub->workers;
  if (!all || all->running == 0) {
    done(data);
    return;
  }
  all->done = done;
  all->done_data = data;
  for (unsigned i = 0; i < all->n; i++) {
    worker *w = &all->w[i];
    if (w->finished || w->stop_asked) continue;
    w->stop_asked = true;
    fb_home_post(w->hub.home, stop_on_worker, w);
  }
}

void fb_hub_workers_join(fb_hub *hub) {
  struct fb_workers *all = hub->workers;
  if (!all) return;
  for (unsigned i = 0; i < all->n; i++) {
    worker *w = &all->w[i];
    if (!w->thread_started) continue;
    uv_thread_join(&w->thread);
    uv_sem_destroy(&w->ready);
    free(w->err);
  }
  free(all->w);
  free(all);
  hub->workers = NULL;
}

bool fb_hub_workers_running(const fb_hub *hub) { return hub->workers && hub->workers->running > 0; }
