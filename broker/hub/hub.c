#include "hub/hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/jwt.h"
#include "core/error.h"
#include "core/home.h"
#include "core/hublock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "hub/followup.h"
#include "policy/policy.h"
#include "search/engine.h"

#define SHUTDOWN_GRACE_MS 10000
#define RELOAD_DEBOUNCE_MS 200

static void on_signal(uv_signal_t *s, int signum) {
  fb_hub *hub = s->data;
  if (signum == SIGHUP) {
    fb_hub_reload_policies(hub, "sighup", NULL, NULL, NULL);
    return;
  }
  fb_info("shutdown", "signal %d: stopping (in-flight requests get up to %d ms)", signum, SHUTDOWN_GRACE_MS);
  fb_hub_stop(hub);
}

/* ---- policy reloads --------------------------------------------------------
 * Running the files (each up to FB_POLICY_LOAD_MS) happens on a libuv worker so the
 * loop keeps serving; the new versions are swapped in back on the loop. Reloads run
 * one at a time, in the order asked (a later one must not be overtaken by an earlier
 * one that read older files); a file-change or SIGHUP reload already waiting absorbs
 * another of its kind. */

typedef struct fb_hub_reload_job {
  uv_work_t work;
  fb_hub *hub;
  struct fb_policy_reload *batch;
  const char *trigger;           /* a string literal */
  bool has_by;
  fb_identity by;
  fb_hub_reload_cb cb;
  void *data;
  struct fb_hub_reload_job *next;
} reload_job;

static void start_next_reload(fb_hub *hub);

static void reload_job_done(reload_job *job, int rc, json_t *report) {
  if (job->cb) job->cb(job->hub, rc, report, job->data);
  free(job);
}

static void reload_work(uv_work_t *w) {
  reload_job *job = w->data;
  fb_policy_reload_compile(job->batch);
}

static void reload_after(uv_work_t *w, int status) {
  reload_job *job = w->data;
  fb_hub *hub = job->hub;
  hub->reload_running = NULL;
  if (status != 0 || hub->stopping) {
    fb_policy_reload_discard(job->batch);
    reload_job_done(job, -1, NULL);
  } else {
    json_t *rep = NULL;
    int rc = fb_policy_reload_finish(job->batch, &rep);
    if (!rep) rep = json_object();
    fb_info("policy_reload", "reload (%s): %s", job->trigger,
            rc == 0 ? "every file loaded" : "some files kept their previous version");
    json_t *entry = json_pack("{s:s, s:s, s:b, s:O}", "event", "reload", "trigger", job->trigger, "ok", rc == 0,
                              "files", json_object_get(rep, "files") ? json_object_get(rep, "files") : json_array());
    if (job->has_by) json_object_set_new(entry, "requester", fb_hub_requester_json(&job->by));
    fb_hub_audit_event(hub, entry);
    reload_job_done(job, rc, rep);
    json_decref(rep);
  }
  start_next_reload(hub);
}

static void start_next_reload(fb_hub *hub) {
  while (!hub->reload_running && hub->reload_queue) {
    reload_job *job = hub->reload_queue;
    hub->reload_queue = job->next;
    if (hub->stopping) {
      reload_job_done(job, -1, NULL);
      continue;
    }
    job->batch = fb_policy_reload_begin(hub->policies);
    job->work.data = job;
    if (uv_queue_work(hub->loop, &job->work, reload_work, reload_after) != 0) {
      /* No worker: run it here rather than lose the reload. */
      fb_policy_reload_compile(job->batch);
      hub->reload_running = job;
      reload_after(&job->work, 0);
      return;
    }
    hub->reload_running = job;
  }
}

/* A reload asked on a worker runs on the main hub; its answer goes back to the
 * worker's loop. */
typedef struct {
  fb_hub *hub; /* the worker's replica */
  fb_home *home;
  fb_hub_reload_cb cb;
  void *data;
  int rc;
  json_t *report;
} reload_hop;

static void reload_hop_run(void *arg) {
  reload_hop *h = arg;
  fb_home *home = h->home;
  h->cb(h->hub, h->rc, h->report, h->data);
  json_decref(h->report);
  free(h);
  fb_home_release(home);
}

static void reload_hop_done(fb_hub *main, int rc, json_t *report, void *data) {
  (void)main;
  reload_hop *h = data;
  h->rc = rc;
  h->report = json_incref(report); /* jansson's reference counts are atomic */
  fb_home_post(h->home, reload_hop_run, h);
}

void fb_hub_reload_policies(fb_hub *hub, const char *trigger, const fb_identity *by, fb_hub_reload_cb cb,
                            void *data) {
  if (hub->main) {
    if (!cb || !hub->home) {
      fb_hub_reload_policies(hub->main, trigger, by, cb, data);
      return;
    }
    reload_hop *h = fb_xcalloc(1, sizeof *h);
    *h = (reload_hop){.hub = hub, .home = hub->home, .cb = cb, .data = data};
    fb_home_hold(h->home);
    fb_hub_reload_policies(hub->main, trigger, by, reload_hop_done, h);
    return;
  }
  if (!hub->policies || hub->stopping) {
    if (cb) cb(hub, -1, NULL, data);
    return;
  }
  reload_job **tail = &hub->reload_queue;
  for (; *tail; tail = &(*tail)->next)
    if (!cb && !by && !(*tail)->cb && strcmp((*tail)->trigger, trigger) == 0) return; /* already waiting */
  reload_job *job = fb_xcalloc(1, sizeof *job);
  job->hub = hub;
  job->trigger = trigger;
  if (by) {
    job->has_by = true;
    job->by = *by;
  }
  job->cb = cb;
  job->data = data;
  *tail = job;
  start_next_reload(hub);
}

/* File changes in the policy directory: editors write in bursts, so wait a moment. */
static void on_reload_debounced(uv_timer_t *t) {
  fb_hub *hub = t->data;
  fb_hub_reload_policies(hub, "file_change", NULL, NULL, NULL);
}

static void on_policy_change(uv_fs_event_t *h, const char *filename, int events, int status) {
  (void)events;
  fb_hub *hub = h->data;
  if (status < 0 || !filename) return;
  size_t n = strlen(filename);
  if (n < 5 || strcmp(filename + n - 4, ".lua") != 0) return;
  uv_timer_start(&hub->reload_debounce, on_reload_debounced, RELOAD_DEBOUNCE_MS, 0);
}

static int read_redaction_key(const char *path, uint8_t **key, size_t *len, char **err) {
  size_t n = 0;
  char *data = fb_read_file(path, 4096, &n);
  if (!data) {
    fb_set_error(err, "redaction_key %s: %s", path, strerror(errno));
    return -1;
  }
  while (n && (data[n - 1] == '\n' || data[n - 1] == '\r')) n--;
  if (n < 16) {
    free(data);
    fb_set_error(err, "redaction_key: the key must be at least 16 bytes");
    return -1;
  }
  *key = (uint8_t *)data;
  *len = n;
  return 0;
}

static int open_policies(fb_hub *hub, char **err) {
  fb_config *cfg = &hub->cfg;
  if (!cfg->policies) cfg->policies = fb_path_relative_to(cfg->source_path, "policies");
  const char **codes = fb_xcalloc(cfg->nstates ? cfg->nstates : 1, sizeof *codes);
  for (size_t i = 0; i < cfg->nstates; i++) codes[i] = cfg->states[i].code;
  uint8_t *key = NULL;
  size_t keylen = 0;
  if (cfg->redaction_key && read_redaction_key(cfg->redaction_key, &key, &keylen, err) != 0) {
    free(codes);
    return -1;
  }
  /* States named in policy_keys must ship <STATE>.lua.sig: the hub operator cannot
   * alter their rules unnoticed. */
  hub->policies = fb_policy_store_open_signed(cfg->policies, codes, cfg->nstates, key, keylen,
                                              (const char *const *)cfg->policy_key_states,
                                              (const char *const *)cfg->policy_key_paths, cfg->npolicy_keys, err);
  if (key) OPENSSL_cleanse(key, keylen);
  free(key);
  free(codes);
  if (!hub->policies) return -1;
  uv_timer_init(hub->loop, &hub->reload_debounce);
  hub->reload_debounce.data = hub;
  hub->pending_closes++;
  if (uv_fs_event_init(hub->loop, &hub->policy_watch) == 0) {
    hub->policy_watch.data = hub;
    hub->pending_closes++;
    hub->watching = true;
    if (uv_fs_event_start(&hub->policy_watch, on_policy_change, cfg->policies, 0) != 0)
      fb_warn("policy_watch", "cannot watch %s for changes; reload with SIGHUP or the API", cfg->policies);
  }
  return 0;
}

/* Audit health for operators: read at scrape time from the log's own counters. */
static double audit_healthy_fn(void *data) {
  fb_hub *hub = data;
  return hub->audit && fb_audit_healthy(hub->audit) ? 1 : 0;
}

static double audit_stat(fb_hub *hub, int which) {
  if (!hub->audit) return 0;
  fb_audit_stats st;
  fb_audit_get_stats(hub->audit, &st);
  return (double)(which == 0 ? st.written : which == 1 ? st.fsyncs : st.failed);
}
static double audit_written_fn(void *data) { return audit_stat(data, 0); }
static double audit_fsyncs_fn(void *data) { return audit_stat(data, 1); }
static double audit_failed_fn(void *data) { return audit_stat(data, 2); }
static double audit_last_seq_fn(void *data) {
  fb_hub *hub = data;
  return hub->audit ? (double)fb_audit_last_seq(hub->audit) : 0;
}

static void register_audit_metrics(fb_hub *hub) {
  fb_metric_gauge_fn("fedbroker_audit_healthy", "1 while the audit log is writable (else searches are refused)", NULL,
                     audit_healthy_fn, hub);
  fb_metric_gauge_fn("fedbroker_audit_last_seq", "Sequence number of the last audit line", NULL, audit_last_seq_fn, hub);
  fb_metric_gauge_fn("fedbroker_audit_lines_written", "Audit lines written and fsync'd since start", NULL,
                     audit_written_fn, hub);
  fb_metric_gauge_fn("fedbroker_audit_fsyncs", "fdatasync calls on the audit log since start", NULL, audit_fsyncs_fn,
                     hub);
  fb_metric_gauge_fn("fedbroker_audit_lines_failed", "Audit lines whose write failed since start", NULL,
                     audit_failed_fn, hub);
}

static double lock_contended_fn(void *data) {
  (void)data;
  return (double)fb_hublock_contended();
}
static double lock_acquired_fn(void *data) {
  (void)data;
  return (double)fb_hublock_acquired();
}
static double lock_held_fn(void *data) {
  (void)data;
  return fb_hublock_held_seconds();
}

/* The hub lock of several workers (core/hublock.h): how often it was taken, how often
 * a thread had to wait for it, and for how long it was held (against wall time: the
 * share of the work still serialised). All 0 with one worker. */
static void register_lock_metrics(void) {
  fb_metric_counter_fn("fedbroker_hub_lock_acquisitions_total", "Times a worker thread took the hub lock", NULL,
                       lock_acquired_fn, NULL);
  fb_metric_counter_fn("fedbroker_hub_lock_contended_total",
                       "Times a worker thread found the hub lock taken and waited for it", NULL, lock_contended_fn,
                       NULL);
  fb_metric_counter_fn("fedbroker_hub_lock_held_seconds_total", "Time the hub lock was held, summed over the threads",
                       NULL, lock_held_fn, NULL);
}

void fb_hub_add_routes(fb_hub *hub) {
  fb_hub_routes_health(hub);
  fb_hub_routes_states(hub);
  fb_hub_routes_audit(hub);
  fb_hub_routes_policy(hub);
  fb_hub_routes_policy_prove(hub);
  fb_hub_routes_search(hub);
  fb_hub_routes_me(hub);
  fb_hub_routes_policy_source(hub);
  fb_hub_routes_console(hub);
  fb_hub_routes_focal_points(hub);
  fb_hub_routes_requests(hub);
  fb_hub_routes_reports(hub);
}

int fb_hub_init(fb_hub *hub, uv_loop_t *loop, fb_config *cfg, char **err) {
  memset(hub, 0, sizeof *hub);
  hub->loop = loop;
  hub->cfg = *cfg;
  memset(cfg, 0, sizeof *cfg);
  hub->started_ms = fb_wall_ms();
  unsigned nworkers = fb_hub_workers_wanted(&hub->cfg);
  if (nworkers > 1) {
    /* Before anything shared is opened: the audit log and the store note the main
     * loop's mailbox to tell workers' requests from its own. */
    fb_hublock_enable();
    hub->home = fb_home_open(loop);
  }
  fb_log_level lvl;
  if (hub->cfg.log_level && fb_log_parse_level(hub->cfg.log_level, &lvl) == 0) fb_log_set_level(lvl);

  uv_signal_init(loop, &hub->sig_term);
  uv_signal_init(loop, &hub->sig_int);
  uv_signal_init(loop, &hub->sig_hup);
  hub->sig_term.data = hub->sig_int.data = hub->sig_hup.data = hub;
  hub->router = fb_router_new();

  if (hub->cfg.nlisten == 0) {
    fb_set_error(err, "no listener configured (set `listen` or FEDBROKER_LISTEN)");
    return -1;
  }
  if (hub->cfg.nstates > hub->cfg.limits.max_states) {
    fb_set_error(err, "states: more states than limits.max_states");
    return -1;
  }
  hub->authn = fb_authn_new(hub->cfg.issuers, hub->cfg.nissuers, err);
  if (!hub->authn) return -1;
  if (!hub->cfg.audit.path) hub->cfg.audit.path = fb_path_relative_to(hub->cfg.source_path, "var/audit.jsonl");
  hub->audit = fb_audit_open(loop, &hub->cfg.audit, err);
  if (!hub->audit) return -1;
  register_audit_metrics(hub);
  register_lock_metrics();
  if (hub->cfg.audit.no_fsync) {
    fb_warn("audit_no_fsync", "audit.fsync = false: entries are NOT durable before answers (benchmarks only)");
    fb_audit_set_fsync(hub->audit, false);
  }
  if (open_policies(hub, err) != 0) return -1;
  hub->search = fb_search_engine_new(loop, &hub->cfg, hub->policies, hub->audit, err);
  if (!hub->search) return -1;
  fb_search_engine_replay_stats(hub->search);
  if (fb_followup_open(hub, err) != 0) return -1;

  fb_hub_add_routes(hub);

  fb_server_options opt = {.reuseport = nworkers > 1, .worker = 0};
  hub->server = fb_server_start_ex(loop, &hub->cfg, hub->router, &opt, err);
  if (!hub->server) return -1;
  uv_signal_start(&hub->sig_term, on_signal, SIGTERM);
  uv_signal_start(&hub->sig_int, on_signal, SIGINT);
  uv_signal_start(&hub->sig_hup, on_signal, SIGHUP);
  return fb_hub_workers_start(hub, nworkers, err);
}

bool fb_hub_ready(const fb_hub *hub) {
  return !hub->stopping && hub->audit && fb_audit_healthy(hub->audit) && hub->policies && hub->search;
}

static void on_closed(uv_handle_t *h) {
  fb_hub *hub = h->data;
  hub->pending_closes--;
}

static void on_audit_closed(void *data) {
  fb_hub *hub = data;
  hub->audit = NULL;
  if (hub->home) { /* the last handle of the main loop */
    fb_home_close(hub->home, NULL, NULL);
    hub->home = NULL;
  }
}

static void on_followup_closed(void *data) {
  fb_hub *hub = data;
  /* The audit log closes last: the searches and follow-ups it records are finished. */
  if (hub->audit) fb_audit_close(hub->audit, on_audit_closed, hub);
  else on_audit_closed(hub);
}

static void on_search_closed(void *data) {
  fb_hub *hub = data;
  hub->search = NULL;
  if (hub->followup) fb_followup_close(hub->followup, on_followup_closed, hub);
  else on_followup_closed(hub);
}

static void shutdown_shared(fb_hub *hub);

static void on_server_stopped(void *data) {
  fb_hub *hub = data;
  hub->server = NULL;
  hub->server_stopped = true;
  if (!fb_hub_workers_running(hub)) shutdown_shared(hub);
}

static void on_workers_stopped(void *data) {
  fb_hub *hub = data;
  if (hub->server_stopped) shutdown_shared(hub);
}

/* Once no loop serves requests any more: the main loop's handles, the engine, the
 * follow-up, the audit log last. */
static void shutdown_shared(fb_hub *hub) {
  uv_close((uv_handle_t *)&hub->sig_term, NULL);
  uv_close((uv_handle_t *)&hub->sig_int, NULL);
  uv_close((uv_handle_t *)&hub->sig_hup, NULL);
  if (hub->watching) uv_close((uv_handle_t *)&hub->policy_watch, on_closed);
  if (hub->policies) uv_close((uv_handle_t *)&hub->reload_debounce, on_closed);
  if (hub->followup) fb_requests_cancel_releases(hub->followup, NULL); /* their legs use the adapters */
  if (hub->search) fb_search_engine_close(hub->search, on_search_closed, hub);
  else on_search_closed(hub);
}

void fb_hub_stop(fb_hub *hub) {
  if (hub->stopping) return;
  hub->stopping = true;
  /* The workers' servers share the main server's totals: they stop first or together;
   * the main one's memory goes only when the last of them is freed. */
  if (hub->workers) fb_hub_workers_stop(hub, on_workers_stopped, hub);
  if (hub->server) fb_server_stop(hub->server, SHUTDOWN_GRACE_MS, on_server_stopped, hub);
  else on_server_stopped(hub);
}

int fb_hub_run(fb_hub *hub) {
  fb_hublock_run(hub->loop);
  return hub->exit_status;
}

void fb_hub_free(fb_hub *hub) {
  fb_hub_workers_join(hub);
  fb_policy_store_free(hub->policies);
  fb_authn_free(hub->authn);
  fb_router_free(hub->router);
  fb_config_free(&hub->cfg);
  fb_metrics_reset();
}
