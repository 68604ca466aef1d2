/* The search engine: per-state runtime (adapter, breaker, metrics) and the life of
 * one federated search, from validation to the audited answer. */
#include "search/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "adapters/adapter.h"
#include "audit/audit.h"
#include "core/error.h"
#include "core/home.h"
#include "core/hublock.h"
#include "core/jsonw.h"
#include "core/keymap.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "core/vocab.h"
#include "policy/outbound.h"
#include "policy/policy.h"
#include "search/audit_entry.h"
#include "search/breaker.h"
#include "search/leg_summary.h"
#include "search/merge.h"
#include "search/stats.h"
#include "search/validate.h"

/* Records asked of a state per leg; policies' `limit` rules cap what is shared. */
#define LEG_RECORD_LIMIT 100

/* A leg that has ended while its search waits this long for another state's answer
 * keeps only its records' text (fb_crecs_freeze, a third of the set), thawed when the
 * search's last state answers. Under load, with the states' queues seconds long, most
 * ended legs wait like this, up to limits.concurrency x (states - 1) of them
 * (bench/rss_bench.sh); a search whose states answer together never pays for it. */
#define FREEZE_AFTER_MS 250

/* A leg's outcome: pending, then the vocabulary's outcomes in their order (core/vocab.h). */
#define OUT_E_(id, name) OUT_##id,
typedef enum { OUT_PENDING = 0, FB_OUTCOME_MAP(OUT_E_) OUT_COUNT } outcome;
#undef OUT_E_
/* Cancelled legs are not counted in the metrics or statistics: every outcome before it is. */
_Static_assert(OUT_CANCELLED == OUT_COUNT - 1, "cancelled is the last outcome in FB_OUTCOME_MAP");
_Static_assert(OUT_SHARED == (int)FB_LEG_OUT_SHARED && OUT_COUNT == (int)FB_LEG_OUT_COUNT,
               "a leg's outcome is its summary's (search/leg_summary.h)");
static const char *outcome_name(outcome o) { return fb_leg_outcome_name((fb_leg_outcome)o); }

/* What every worker's engine shares about a state (hub/workers.c): the breaker and the
 * legs-in-flight bound are process-wide. Touched under the hub lock. */
typedef struct state_shared {
  fb_breaker breaker;
  uint32_t legs_in_flight;
  bool last_failed;
} state_shared;

typedef struct state_rt {
  const fb_state_config *cfg;
  fb_adapter *adapter;
  state_shared *sh;
  fb_series *m_latency;
  fb_series *m_outcome[OUT_CANCELLED];
  struct fb_search_engine *engine;
} state_rt;

typedef struct fb_search search;

/* What every worker's engine shares: the limits (concurrency, per identity), the
 * statistics and the states' breakers. Owned by the main engine, counted by users. */
typedef struct engine_shared {
  state_shared *states;
  fb_stats *stats;
  size_t in_flight;
  size_t legs_held;         /* ended legs whose search waits for another state's */
  size_t auditing;          /* searches whose audit entry is not durable yet */
  fb_keymap *per_identity;  /* "issuer\nsub" -> identity_load */
  uint64_t last_sweep_ms;
  unsigned refs;
  bool replaying;                /* the start-up replay of the statistics has not been merged */
  struct fb_stats_wait *waiters; /* GET /v1/stats of every engine waiting for it */
} engine_shared;

struct fb_search_engine {
  uv_loop_t *loop;
  engine_shared *sh;
  const fb_config *cfg;
  fb_policy_store *policies;
  fb_audit *audit;
  state_rt *states;
  size_t nstates;
  search *searches;
  size_t live_searches;     /* started and not yet freed (their timer may be closing) */
  size_t held_here;         /* this engine's share of sh->legs_held */
  uv_timer_t *freezer;      /* made at the first held leg; runs while legs are held */
  struct stats_replay *replay;  /* the start-up replay while it runs on a worker */
  fb_home *home;                /* this loop's mailbox: a worker's replayed stats come through it */
  size_t stats_posted;          /* stats answers posted to this loop and not yet delivered */
  bool closing;
  bool adapters_closing;
  size_t adapters_open;
  void (*done)(void *);
  void *done_data;
  fb_series *m_searches_complete, *m_searches_partial, *m_overloaded;
  fb_search_hooks hooks;
};

/* What one identity has in flight, and its aborted searches in the current minute. */
typedef struct {
  uint32_t in_flight;
  uint32_t aborts;
  uint64_t window_ms;       /* start of the abort window (loop time) */
} identity_load;

#define ABORT_WINDOW_MS 60000

typedef struct leg {
  search *s;
  state_rt *rt;
  fb_policy *policy;
  fb_decision decision;
  bool decided;
  bool admitted;     /* the policies let this leg go out (decide_leg); start_legs sends it */
  bool starting;     /* counted in flight; its adapter starts once the lock is let go */
  fb_plan *plan;
  fb_leg *handle;
  outcome out;
  bool probe;
  double t0, latency_ms;
  size_t records, redacted;
  json_t *recs;      /* the shared records: a jansson array, */
  fb_crecs *crecs;   /* or a compact set (the http adapter's) */
  char *error;
  char hit_ref[FB_HIT_REF_MAX];
} leg;

struct fb_search {
  fb_search_engine *e;
  const fb_search_callbacks *cb;
  void *ud;
  bool answering;           /* the caller waits for on_done or on_failure */
  json_t *body;
  fb_search_params p;
  fb_identity id;
  const char *roles[8];
  fb_query q;
  fb_query_bits qbits;      /* q's, for its decisions (q.bits) */
  char query_id[20];
  fb_policy *common;
  fb_policy *requester;     /* the requesting state's own policy (outbound rules); may be NULL */
  leg *legs;
  size_t nlegs, pending;
  size_t held;              /* its ended legs counted in e->sh->legs_held */
  uv_timer_t deadline;
  uint32_t deadline_ms;
  bool legs_finished;
  bool client_aborted;
  bool holds_slot;          /* counted in e->sh->in_flight and its identity's in_flight */
  bool freeing;
  search *prev, *next;
};

/* ---------------------------------------------------------------- query ids */

void fb_query_id_new(char out[20]) {
  static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  static uint64_t counter;
  uint64_t ms = (uint64_t)fb_wall_ms();
  /* RAND_bytes takes the DRBG's lock each call: draw 64 ids' worth at a time. */
  static _Thread_local uint32_t pool[64];
  static _Thread_local unsigned pool_left;
  if (!pool_left) {
    if (RAND_bytes((unsigned char *)pool, sizeof pool) != 1)
      for (unsigned i = 0; i < 64; i++) pool[i] = (uint32_t)((counter + i) * 2654435761u);
    pool_left = 64;
  }
  uint32_t rnd = pool[--pool_left];
  rnd ^= (uint32_t)counter++ << 20; /* ids made within one millisecond stay distinct */
  out[0] = 'q';
  out[1] = '-';
  for (int i = 0; i < 10; i++) out[2 + i] = alphabet[(ms >> (45 - 5 * i)) & 31];
  for (int i = 0; i < 6; i++) out[12 + i] = alphabet[(rnd >> (27 - 5 * i)) & 31];
  out[18] = '\0';
}

/* ---------------------------------------------------------------- engine */

static double legs_in_flight_fn(void *data) { return ((state_rt *)data)->sh->legs_in_flight; }
static double breaker_fn(void *data) { return ((state_rt *)data)->sh->breaker.state; }
static double searches_in_flight_fn(void *data) { return (double)((fb_search_engine *)data)->sh->in_flight; }
static double legs_held_fn(void *data) { return (double)((fb_search_engine *)data)->sh->legs_held; }
static double searches_auditing_fn(void *data) { return (double)((fb_search_engine *)data)->sh->auditing; }

/* Statistics survive restarts: they are rebuilt from the search entries of the audit
 * log (the record of what happened), the most recent STATS_REPLAY_MAX of them. The log
 * is read and parsed on a uv worker into statistics of its own, which the loop then
 * adds to the live ones: searches answered meanwhile are counted too. */
#define STATS_REPLAY_MAX 1000000u

typedef struct stats_replay {
  uv_work_t work;
  fb_search_engine *e;
  char *path;
  uint64_t start_off, start_seq, end_off, after;
  fb_stats *stats;          /* built on the worker */
  size_t replayed;
  int rc;
} stats_replay;

/* A GET /v1/stats waiting for the replay, in the shared list (under the hub lock) until
 * the main loop has merged it, then answered on its own engine's loop: at once on the
 * main loop, through the mailbox on a worker's (posted: out of the list, and a cancel
 * only marks it). */
struct fb_stats_wait {
  fb_search_engine *e;
  void (*ready)(void *ud, json_t *body);
  void *ud;
  fb_stats_wait *prev, *next;
  bool posted, cancelled;
};

static bool replay_entry(void *data, json_t *en, uint64_t seq) {
  (void)seq;
  stats_replay *r = data;
  const char *from = json_string_value(json_object_get(json_object_get(en, "requester"), "state"));
  const char *purpose = json_string_value(json_object_get(en, "purpose"));
  json_t *st;
  size_t k;
  if (!from || !purpose) return true;
  json_array_foreach(json_object_get(en, "states"), k, st) {
    const char *to = json_string_value(json_object_get(st, "state"));
    const char *out = json_string_value(json_object_get(st, "outcome"));
    if (!to || !out || strcmp(out, "cancelled") == 0) continue;
    json_t *lat = json_object_get(st, "latency_ms");
    bool timed = strcmp(out, "shared") == 0 || strcmp(out, "hit_only") == 0 || strcmp(out, "error") == 0 ||
                 strcmp(out, "timeout") == 0;
    fb_stats_record(r->stats, from, to, purpose, out, timed && json_is_number(lat) ? json_number_value(lat) : -1);
  }
  r->replayed++;
  return true;
}

/* On a uv worker: reads only the file and the job. */
static void replay_work(uv_work_t *w) {
  stats_replay *r = w->data;
  fb_audit_filter f = {.event = "search"};
  uint64_t last = 0;
  r->rc = fb_audit_scan(r->path, r->start_off, r->start_seq, r->end_off, r->after, &f, replay_entry, r, &last);
}

static void close_adapters(fb_search_engine *e);

/* The engine closes once no search and no replay is left. */
static void close_when_idle(fb_search_engine *e) {
  if (e->closing && e->live_searches == 0 && !e->replay && e->stats_posted == 0) close_adapters(e);
}

static void waiter_unlink(fb_stats_wait *w) {
  engine_shared *sh = w->e->sh;
  if (w->prev) w->prev->next = w->next;
  else sh->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  w->prev = w->next = NULL;
}

/* On the waiter's own loop (a mailbox delivery runs under the hub lock). */
static void stats_delivered(void *arg) {
  fb_stats_wait *w = arg;
  fb_search_engine *e = w->e;
  e->stats_posted--;
  if (!w->cancelled && !e->closing) w->ready(w->ud, fb_stats_json(e->sh->stats));
  free(w);
  close_when_idle(e);
}

static void replay_done(uv_work_t *w, int status) {
  stats_replay *r = w->data;
  fb_search_engine *e = r->e;
  e->replay = NULL;
  e->sh->replaying = false;
  if (status == 0 && r->rc == 0) {
    fb_stats_merge(e->sh->stats, r->stats);
    if (r->replayed) fb_info("stats_replay", "statistics rebuilt from %zu audited searches", r->replayed);
  } else if (status == 0) {
    fb_warn("stats_replay", "could not read the audit log; statistics start empty");
  }
  fb_stats_free(r->stats);
  free(r->path);
  free(r);
  /* Every engine's waiters: this loop's answered here, a worker's on its own loop (a
   * closing worker engine has taken its own out of the list). An engine made on a
   * thread without a mailbox shares this loop (tests) and is answered here too. */
  while (e->sh->waiters) {
    fb_stats_wait *sw = e->sh->waiters;
    waiter_unlink(sw);
    if (sw->e != e && sw->e->home) {
      sw->posted = true;
      sw->e->stats_posted++;
      fb_home_post(sw->e->home, stats_delivered, sw);
      continue;
    }
    if (!sw->e->closing) sw->ready(sw->ud, fb_stats_json(e->sh->stats));
    free(sw);
  }
  close_when_idle(e);
}

void fb_search_engine_replay_stats(fb_search_engine *e) {
  if (e->replay || e->closing) return;
  stats_replay *r = fb_xcalloc(1, sizeof *r);
  uint64_t last = fb_audit_last_seq(e->audit);
  r->e = e;
  r->path = fb_xstrdup(e->cfg->audit.path);
  r->after = last > STATS_REPLAY_MAX ? last - STATS_REPLAY_MAX : 0;
  fb_audit_scan_bounds(e->audit, r->after, &r->start_off, &r->start_seq, &r->end_off);
  r->stats = fb_stats_new();
  r->work.data = r;
  e->replay = r;
  e->sh->replaying = true;
  if (uv_queue_work(e->loop, &r->work, replay_work, replay_done) != 0) {
    e->replay = NULL;
    e->sh->replaying = false;
    fb_stats_free(r->stats);
    free(r->path);
    free(r);
    fb_warn("stats_replay", "could not queue the replay; statistics start empty");
  }
}

fb_stats_wait *fb_search_stats_when_ready(fb_search_engine *e, void (*ready)(void *ud, json_t *body), void *ud) {
  if (!e->sh->replaying) {
    ready(ud, fb_stats_json(e->sh->stats));
    return NULL;
  }
  fb_stats_wait *w = fb_xcalloc(1, sizeof *w);
  *w = (fb_stats_wait){.e = e, .ready = ready, .ud = ud, .next = e->sh->waiters};
  if (w->next) w->next->prev = w;
  e->sh->waiters = w;
  return w;
}

void fb_search_stats_wait_cancel(fb_stats_wait *w) {
  if (w->posted) {
    w->cancelled = true; /* freed on delivery */
    return;
  }
  waiter_unlink(w);
  free(w);
}

static fb_search_engine *engine_new(uv_loop_t *loop, const fb_config *cfg, fb_policy_store *policies,
                                    fb_audit *audit, fb_search_engine *main, char **err) {
  fb_search_engine *e = fb_xcalloc(1, sizeof *e);
  e->loop = loop;
  e->cfg = cfg;
  e->policies = policies;
  e->audit = audit;
  e->home = main ? fb_home_current() : NULL;
  if (main) {
    e->sh = main->sh;
  } else {
    e->sh = fb_xcalloc(1, sizeof *e->sh);
    e->sh->stats = fb_stats_new();
    e->sh->per_identity = fb_keymap_new(sizeof(identity_load));
    e->sh->states = fb_xcalloc(cfg->nstates ? cfg->nstates : 1, sizeof *e->sh->states);
    for (size_t i = 0; i < cfg->nstates; i++)
      fb_breaker_init(&e->sh->states[i].breaker, cfg->breaker.failures, cfg->breaker.open_ms);
  }
  e->sh->refs++;
  e->states = fb_xcalloc(cfg->nstates ? cfg->nstates : 1, sizeof *e->states);
  for (size_t i = 0; i < cfg->nstates; i++) {
    state_rt *rt = &e->states[i];
    rt->cfg = &cfg->states[i];
    rt->engine = e;
    rt->sh = &e->sh->states[i];
    char *aerr = NULL;
    if (fb_adapter_open(loop, rt->cfg, &rt->adapter, &aerr) != 0) {
      fb_set_error(err, "states.%s: %s", rt->cfg->code, aerr ? aerr : "cannot open adapter");
      free(aerr);
      e->nstates = i;
      fb_search_engine_close(e, NULL, NULL);
      return NULL;
    }
    e->nstates = i + 1;
    e->adapters_open++;
    char labels[32];
    snprintf(labels, sizeof labels, "state=\"%s\"", rt->cfg->code);
    rt->m_latency = fb_metric(FB_METRIC_HISTOGRAM, "fedbroker_leg_duration_seconds",
                              "Time from sending a query leg to a state until its answer", labels);
    for (int o = OUT_SHARED; o < OUT_CANCELLED; o++) {
      char l2[80];
      snprintf(l2, sizeof l2, "state=\"%s\",outcome=\"%s\"", rt->cfg->code, outcome_name((outcome)o));
      rt->m_outcome[o] = fb_metric(FB_METRIC_COUNTER, "fedbroker_state_outcomes_total",
                                   "Per-state outcomes of searches", l2);
    }
    if (main) continue; /* the shared state's gauges are the main engine's */
    fb_metric_gauge_fn("fedbroker_legs_in_flight", "Query legs waiting for a state's answer", labels,
                       legs_in_flight_fn, rt);
    fb_metric_gauge_fn("fedbroker_breaker_state", "Circuit breaker per state: 0 closed, 1 open, 2 half-open",
                       labels, breaker_fn, rt);
  }
  e->m_searches_complete = fb_metric(FB_METRIC_COUNTER, "fedbroker_searches_total", "Searches answered",
                                     "complete=\"true\"");
  e->m_searches_partial = fb_metric(FB_METRIC_COUNTER, "fedbroker_searches_total", "Searches answered",
                                    "complete=\"false\"");
  e->m_overloaded = fb_metric(FB_METRIC_COUNTER, "fedbroker_searches_refused_total",
                              "Searches refused because too many were in flight", NULL);
  if (main) {
    e->hooks = main->hooks;
    return e;
  }
  fb_metric_gauge_fn("fedbroker_searches_in_flight", "Searches in flight", NULL, searches_in_flight_fn, e);
  /* Where the searches in flight are: waiting for a state's answer (legs in flight, per
   * state), holding the answers of states that have ended while another has not, or
   * waiting for their audit entry to be durable before the answer goes out. */
  fb_metric_gauge_fn("fedbroker_legs_held", "Ended query legs whose search waits for another state's answer", NULL,
                     legs_held_fn, e);
  fb_metric_gauge_fn("fedbroker_searches_auditing", "Searches waiting for their audit entry to be durable", NULL,
                     searches_auditing_fn, e);
  return e;
}

fb_search_engine *fb_search_engine_new(uv_loop_t *loop, const fb_config *cfg, fb_policy_store *policies,
                                       fb_audit *audit, char **err) {
  return engine_new(loop, cfg, policies, audit, NULL, err);
}

fb_search_engine *fb_search_engine_new_worker(uv_loop_t *loop, fb_search_engine *main, char **err) {
  return engine_new(loop, main->cfg, main->policies, main->audit, main, err);
}

static void adapter_closed(void *data) {
  fb_search_engine *e = data;
  if (--e->adapters_open > 0) return;
  void (*done)(void *) = e->done;
  void *d = e->done_data;
  if (--e->sh->refs == 0) {
    fb_stats_free(e->sh->stats);
    fb_keymap_free(e->sh->per_identity);
    free(e->sh->states);
    free(e->sh);
  }
  free(e->states);
  free(e);
  if (done) done(d);
}

static void freezer_closed(uv_handle_t *h) { free(h); }

/* Once, after the last search is gone: the adapters, then the engine itself. */
static void close_adapters(fb_search_engine *e) {
  if (e->adapters_closing) return;
  e->adapters_closing = true;
  if (e->freezer) { /* its own memory: the engine may be gone before it has closed */
    uv_close((uv_handle_t *)e->freezer, freezer_closed);
    e->freezer = NULL;
  }
  if (e->adapters_open == 0) {
    e->adapters_open = 1;
    adapter_closed(e);
    return;
  }
  size_t n = e->nstates;
  for (size_t i = 0; i < n; i++)
    if (e->states[i].adapter) fb_adapter_close(e->states[i].adapter, adapter_closed, e);
}

static void cancel_pending_legs(search *s, outcome why);

void fb_search_engine_close(fb_search_engine *e, void (*done)(void *), void *data) {
  e->closing = true;
  e->done = done;
  e->done_data = data;
  for (search *s = e->searches; s; s = s->next) cancel_pending_legs(s, OUT_CANCELLED);
  /* A replay not yet started is dropped; one running is waited for. This engine's
   * waiters are dropped (not called); answers already posted to it are waited for. */
  if (e->replay) uv_cancel((uv_req_t *)&e->replay->work);
  for (fb_stats_wait *w = e->sh->waiters, *next; w; w = next) {
    next = w->next;
    if (w->e != e) continue;
    waiter_unlink(w);
    free(w);
  }
  close_when_idle(e);
}

size_t fb_search_in_flight(const fb_search_engine *e) { return e->sh->in_flight; }

void fb_search_engine_set_hooks(fb_search_engine *e, const fb_search_hooks *hooks) { e->hooks = *hooks; }

fb_adapter *fb_search_engine_adapter(fb_search_engine *e, const char *state) {
  for (size_t i = 0; i < e->nstates; i++)
    if (strcmp(e->states[i].cfg->code, state) == 0) return e->states[i].adapter;
  return NULL;
}

json_t *fb_search_stats_json(fb_search_engine *e) { return fb_stats_json(e->sh->stats); }

json_t *fb_search_states_json(fb_search_engine *e) {
  json_t *arr = json_array();
  for (size_t i = 0; i < e->nstates; i++) {
    state_rt *rt = &e->states[i];
    fb_policy *p = fb_policy_store_get(e->policies, rt->cfg->code);
    json_t *info = p ? fb_policy_info(p) : NULL;
    const char *name = info && json_is_string(json_object_get(info, "name")) ? json_string_value(json_object_get(info, "name"))
                                                                              : rt->cfg->code;
    const char *health = rt->sh->breaker.state == FB_BREAKER_OPEN ? "down"
                         : (rt->sh->breaker.state == FB_BREAKER_HALF_OPEN || rt->sh->last_failed) ? "degraded"
                                                                                            : "up";
    json_t *contact = info ? json_object_get(info, "contact") : NULL;
    json_t *last_error = fb_policy_store_last_error(e->policies, rt->cfg->code);
    json_t *policy = info ? json_pack("{s:O?, s:O?, s:O?}", "sha256", json_object_get(info, "sha256"), "loaded_at",
                                      json_object_get(info, "loaded_at"), "signed", json_object_get(info, "signed"))
                     : last_error ? json_pack("{s:n, s:n, s:b}", "sha256", "loaded_at", "signed", 0)
                                  : json_null();
    /* A failed reload is shown next to the version that stays in force. */
    if (json_is_object(policy)) json_object_set_new(policy, "last_error", last_error ? json_deep_copy(last_error) : json_null());
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:o, s:I}", "state", rt->cfg->code, "name",
                                         name, "adapter", rt->cfg->adapter, "health", health, "breaker",
                                         fb_breaker_state_name(rt->sh->breaker.state), "contact",
                                         contact ? contact : json_null(), "policy", policy, "legs_in_flight",
                                         (json_int_t)rt->sh->legs_in_flight));
    json_decref(info);
    if (p) fb_policy_unref(p);
  }
  /* common.lua has no state line: its failed reload is shown beside them. */
  json_t *common_error = fb_policy_store_last_error(e->policies, "common");
  return json_pack("{s:o, s:{s:o}}", "states", arr, "common", "last_error",
                   common_error ? json_deep_copy(common_error) : json_null());
}

/* ---------------------------------------------------------------- one search */

static state_rt *find_rt(fb_search_engine *e, const char *code) {
  for (size_t i = 0; i < e->nstates; i++)
    if (strcmp(e->states[i].cfg->code, code) == 0) return &e->states[i];
  return NULL;
}

static double round1(double v) { return round(v * 10.0) / 10.0; }

static json_t *contact_of(const leg *l) {
  fb_search_hooks *h = &l->s->e->hooks;
  json_t *fp = h->contact ? h->contact(h->ctx, l->rt->cfg->code) : NULL;
  if (fp) return json_incref(fp);
  json_t *c = l->policy ? fb_policy_contact(l->policy) : NULL;
  return c && !json_is_null(c) ? json_incref(c) : json_null();
}

/* The per-state summary that analysts see (search/leg_summary.h). Its contact, where
 * the outcome shows one, is a reference the caller drops. */
static fb_leg_summary leg_summary(const leg *l) {
  const fb_decision *d = &l->decision;
  fb_leg_summary sum = {.state = l->rt->cfg->code, .outcome = (fb_leg_outcome)l->out, .records = l->records,
                        .redacted = l->redacted, .latency_ms = round1(l->latency_ms), .rule = d->rule,
                        .reason = d->reason ? d->reason : d->rule, .by = d->by ? d->by : "",
                        .hit_ref = l->hit_ref, .review = d->review};
  switch (l->out) {
  case OUT_TIMEOUT: sum.reason = "The state did not answer before the deadline for this priority."; break;
  case OUT_ERROR: sum.reason = "The state's national system returned an error."; break;
  case OUT_UNAVAILABLE: sum.reason = l->error ? l->error : "The state is temporarily unavailable."; break;
  default: break;
  }
  if (l->out == OUT_HIT_ONLY || l->out == OUT_DENIED || l->out == OUT_TIMEOUT || l->out == OUT_ERROR ||
      l->out == OUT_UNAVAILABLE)
    sum.contact = contact_of(l);
  return sum;
}

/* The answer's `states`, written as JSON text: "[summary,...]". 0, or -1 (a contact
 * that cannot be written: the answer cannot be). */
static int write_states(fb_buf *b, const search *s) {
  fb_buf_putc(b, '[');
  for (size_t i = 0; i < s->nlegs; i++) {
    if (i) fb_buf_putc(b, ',');
    fb_leg_summary sum = leg_summary(&s->legs[i]);
    int rc = fb_leg_summary_write(b, &sum, FB_JSONW_PRECISION);
    json_decref(sum.contact);
    if (rc != 0) return -1;
  }
  fb_buf_putc(b, ']');
  return 0;
}

/* The per-state entry of the audit line (API.md; search/audit_entry.h writes it). */
static fb_audit_leg leg_audit(const leg *l) {
  return (fb_audit_leg){
      .state = l->rt->cfg->code,
      .outcome = outcome_name(l->out),
      .rule = l->decided ? l->decision.rule : NULL,
      .records = l->records,
      .redacted = l->redacted,
      .review = l->decided && l->decision.review && l->out != OUT_DENIED && l->out != OUT_WITHHELD,
      .by = l->out == OUT_WITHHELD ? l->decision.by : NULL,
      .error = l->decision.error ? l->decision.error : l->error,
      .latency_ms = l->latency_ms > 0 ? round1(l->latency_ms) : 0,
      .hit_ref = l->hit_ref,
      .shared = l->out == OUT_SHARED,
      .crecs = l->crecs,
      .recs = l->recs,
  };
}

/* A settled state's summary goes to a caller that wants them one by one. */
static void emit_state(search *s, const leg *l) {
  if (!s->answering || !s->cb->on_state) return;
  fb_leg_summary sum = leg_summary(l);
  json_t *o = fb_leg_summary_json(&sum);
  json_decref(sum.contact);
  if (o) s->cb->on_state(s->ud, o);
}

/* ------------------------------------------------ per-identity accounting */

static identity_load *identity_of(fb_search_engine *e, const fb_identity *id, bool create) {
  /* "issuer\nsub" (both NUL-terminated in their arrays), three times per search */
  char key[sizeof id->issuer + sizeof id->sub + 1];
  size_t ni = strnlen(id->issuer, sizeof id->issuer), ns = strnlen(id->sub, sizeof id->sub);
  memcpy(key, id->issuer, ni);
  key[ni] = '\n';
  memcpy(key + ni + 1, id->sub, ns);
  key[ni + 1 + ns] = '\0';
  return fb_keymap_get(e->sh->per_identity, key, ni + 1 + ns, create);
}

static bool load_idle(void *value, void *ud) {
  const identity_load *l = value;
  uint64_t now = *(const uint64_t *)ud;
  return l->in_flight == 0 && (l->aborts == 0 || now - l->window_ms >= ABORT_WINDOW_MS);
}

/* Entries of identities with nothing in flight and no recent aborts go, at most once
 * a second, so the map holds the active identities only. */
static void sweep_identities(fb_search_engine *e) {
  uint64_t now = uv_now(e->loop);
  if (now - e->sh->last_sweep_ms < 1000) return;
  e->sh->last_sweep_ms = now;
  fb_keymap_sweep(e->sh->per_identity, load_idle, &now);
}

/* A search's slot (limits.concurrency and limits.per_identity) is given back once:
 * when it is freed, or at once when its client goes away (the search may then wait
 * for its audit entry without holding up anyone). */
static void release_slot(search *s) {
  if (!s->holds_slot) return;
  s->holds_slot = false;
  s->e->sh->in_flight--;
  identity_load *l = identity_of(s->e, &s->id, false);
  if (l && l->in_flight) l->in_flight--;
}

static void refuse(const fb_search_callbacks *cb, void *ud, int status, const char *code, const char *msg,
                   const char *field, unsigned retry_after_s) {
  fb_search_failure f = {.status = status, .code = code, .message = msg, .field = field,
                         .retry_after_s = retry_after_s};
  cb->on_failure(ud, &f);
}

/* Refuses a search over the identity's limits (429 with Retry-After); 0 otherwise. */
static int check_identity(fb_search_engine *e, const fb_identity *id, const fb_search_callbacks *cb, void *ud) {
  sweep_identities(e);
  identity_load *l = identity_of(e, id, true);
  uint64_t now = uv_now(e->loop);
  if (now - l->window_ms >= ABORT_WINDOW_MS) {
    l->window_ms = now;
    l->aborts = 0;
  }
  const char *msg = NULL;
  unsigned retry = 1;
  if (l->in_flight >= e->cfg->limits.per_identity) {
    msg = "Too many of your searches are in flight; retry shortly.";
  } else if (l->aborts >= e->cfg->limits.aborts_per_minute) {
    /* Cancelled searches are still audited: a client that opens and abandons them in
     * a loop would otherwise fill the audit log and the hub's work queue. */
    msg = "Too many of your searches were abandoned this minute; retry later.";
    retry = (unsigned)((ABORT_WINDOW_MS - (now - l->window_ms)) / 1000 + 1);
  }
  if (!msg) return 0;
  fb_series_add(e->m_overloaded, 1);
  refuse(cb, ud, 429, "overloaded", msg, NULL, retry);
  return -1;
}

static void count_abort(search *s) {
  identity_load *l = identity_of(s->e, &s->id, true);
  uint64_t now = uv_now(s->e->loop);
  if (now - l->window_ms >= ABORT_WINDOW_MS) {
    l->window_ms = now;
    l->aborts = 0;
  }
  l->aborts++;
}

static void on_timer_closed(uv_handle_t *h) {
  search *s = h->data;
  fb_search_engine *e = s->e;
  free(s);
  /* Searches freed together close their timers together: the last one closes the
   * adapters, once. */
  e->live_searches--;
  close_when_idle(e);
}

/* `results` (may be NULL): the merged answer, freed with the records it was written from. */
static void search_free(search *s, fb_merged *results) {
  fb_search_engine *e = s->e;
  s->freeing = true;
  /* This search's own records, plans and references (policy counts are atomic): freed
   * while other workers run. */
  bool yielded = fb_hublock_yield();
  fb_merged_free(results);
  for (size_t i = 0; i < s->nlegs; i++) {
    leg *l = &s->legs[i];
    if (l->decided) fb_decision_clear(&l->decision);
    if (l->plan) fb_plan_free(l->plan);
    if (l->policy) fb_policy_unref(l->policy);
    json_decref(l->recs);
    fb_crecs_free(l->crecs);
    free(l->error);
  }
  free(s->legs);
  if (s->common) fb_policy_unref(s->common);
  if (s->requester) fb_policy_unref(s->requester);
  fb_search_params_free(&s->p);
  json_decref(s->body);
  fb_hublock_resume(yielded);
  release_slot(s);
  if (s->prev) s->prev->next = s->next;
  else e->searches = s->next;
  if (s->next) s->next->prev = s->prev;
  uv_close((uv_handle_t *)&s->deadline, on_timer_closed);
}

static bool search_complete(const search *s) {
  for (size_t i = 0; i < s->nlegs; i++) {
    outcome o = s->legs[i].out;
    if (o == OUT_ERROR || o == OUT_TIMEOUT || o == OUT_UNAVAILABLE || o == OUT_CANCELLED) return false;
  }
  return true;
}

/* The search's last word to its caller, once. */
static void respond_failure(search *s, int status, const char *code, const char *msg) {
  if (!s->answering) return;
  s->answering = false;
  refuse(s->cb, s->ud, status, code, msg, NULL, status == 503 ? 1 : 0);
}

typedef struct {
  search *s;
  fb_merged *results; /* written from the legs' records, which live until search_free */
  void *hook_token;
} audit_wait;

static void on_audited(void *data, int status, uint64_t seq, const char *hash) {
  audit_wait *w = data;
  search *s = w->s;
  fb_merged *results = w->results;
  s->e->sh->auditing--;
  if (w->hook_token) s->e->hooks.audited(s->e->hooks.ctx, w->hook_token, status == 0);
  free(w);
  if (status != 0) {
    fb_error("audit_failed", "search %s was not audited: refusing to answer", s->query_id);
    respond_failure(s, 503, "not_ready", "The audit log cannot record this search, so it is not answered.");
  } else if (s->answering) {
    s->answering = false;
    fb_search_answer a = {.query_id = s->query_id, .complete = search_complete(s), .results = results,
                          .audit_seq = seq, .audit_hash = hash};
    fb_series_add(a.complete ? s->e->m_searches_complete : s->e->m_searches_partial, 1);
    /* Written here, under the hub lock (a state's contact may come from the hub's
     * focal points); the rest of the answer is written by on_done without it. */
    fb_buf states = {0};
    if (!s->cb->on_state && write_states(&states, s) == 0) {
      a.states_text = states.data;
      a.states_len = states.len;
    }
    s->cb->on_done(s->ud, &a);
    fb_buf_free(&states);
  }
  search_free(s, results);
}

static void record_outcomes(search *s) {
  for (size_t i = 0; i < s->nlegs; i++) {
    leg *l = &s->legs[i];
    if (l->out >= OUT_SHARED && l->out < OUT_CANCELLED) {
      fb_series_add(l->rt->m_outcome[l->out], 1);
      bool timed = l->out == OUT_SHARED || l->out == OUT_HIT_ONLY || l->out == OUT_ERROR || l->out == OUT_TIMEOUT;
      fb_stats_record(s->e->sh->stats, s->id.state, l->rt->cfg->code, s->p.purpose, outcome_name(l->out),
                      timed ? l->latency_ms : -1);
    }
  }
}

/* Every leg has ended: redacted records are merged, the search is audited, and the
 * answer goes out once the audit entry is durable. Called under the hub lock. With
 * `entered` (the caller took the lock for this and has nothing left to do under it),
 * the lock is left for good before the merge, and taken again only when the audit log
 * refuses the entry; returns whether the caller still holds what it entered (pass it
 * to fb_hublock_leave). */
static bool finish_entered(search *s, bool entered) {
  if (s->legs_finished) return entered;
  s->legs_finished = true;
  uv_timer_stop(&s->deadline);
  s->e->sh->legs_held -= s->held;
  s->e->held_here -= s->held;
  s->held = 0;
  s->e->sh->auditing++; /* here, under the hub lock: the append below runs without it */

  fb_merge_source *src = fb_xcalloc(s->nlegs ? s->nlegs : 1, sizeof *src);
  size_t nsrc = 0;
  for (size_t i = 0; i < s->nlegs; i++)
    if (s->legs[i].out == OUT_SHARED && (s->legs[i].recs || s->legs[i].crecs))
      src[nsrc++] = (fb_merge_source){.state = s->legs[i].rt->cfg->code, .set = s->legs[i].crecs,
                                      .records = s->legs[i].recs};
  /* The outcomes' counts (per-thread metric cells; the statistics have a lock of their
   * own), the merge and the audit entry read and write this search's own data only
   * (and per-thread transliterators): other workers may run meanwhile. */
  bool yielded = false;
  if (entered) {
    fb_hublock_leave(true);
    entered = false;
  } else {
    yielded = fb_hublock_yield();
  }
  record_outcomes(s);
  for (size_t i = 0; i < s->nlegs; i++)
    if (s->legs[i].crecs && fb_crecs_thaw(s->legs[i].crecs) != 0)
      fb_error("records_lost", "search %s: the held records of %s could not be read again", s->query_id,
               s->legs[i].rt->cfg->code);
  fb_merged *results = fb_merge_sources(src, nsrc);
  free(src);

  /* The entry is written as text; the follow-up hook, which reads the entry of a
   * search where a state did not share, gets it as an object (and the log that one). */
  fb_audit_leg *al = fb_xcalloc(s->nlegs ? s->nlegs : 1, sizeof *al);
  bool all_shared = true;
  for (size_t i = 0; i < s->nlegs; i++) {
    al[i] = leg_audit(&s->legs[i]);
    all_shared &= s->legs[i].out == OUT_SHARED;
  }
  fb_search_audit ae = {.query_id = s->query_id, .requester = &s->id, .p = &s->p, .legs = al, .nlegs = s->nlegs,
                        .client_aborted = s->client_aborted};
  fb_search_hooks *h = &s->e->hooks;
  bool describe = h->describe && h->audited && !all_shared;
  fb_buf text = {0};
  bool as_text = !describe && fb_search_audit_text(&text, &ae) == 0;
  json_t *entry = as_text ? NULL : fb_search_audit_json(&ae);
  if (!as_text) fb_buf_free(&text);
  free(al);

  /* describe reads the entry only; the audit log has a lock of its own, and its
   * completion comes back to this loop (under the hub lock). */
  audit_wait *w = fb_xmalloc(sizeof *w);
  w->s = s;
  w->results = results;
  w->hook_token = describe ? h->describe(h->ctx, entry) : NULL;
  int appended = as_text ? fb_audit_append_text(s->e->audit, "search", text.data, text.len, on_audited, w)
                         : fb_audit_append(s->e->audit, entry, on_audited, w);
  fb_hublock_resume(yielded);
  if (appended != 0) {
    entered = fb_hublock_enter();
    s->e->sh->auditing--;
    if (w->hook_token) h->audited(h->ctx, w->hook_token, false);
    free(w);
    fb_error("audit_failed", "search %s: the audit log refused the entry", s->query_id);
    respond_failure(s, 503, "not_ready", "The audit log cannot record this search, so it is not answered.");
    search_free(s, results);
  }
  return entered;
}

static void finish(search *s) { (void)finish_entered(s, false); }

/* Every FREEZE_AFTER_MS while this engine holds legs: those held that long keep only
 * their records' text. This loop's own searches and their records only: other workers
 * run meanwhile. */
static void freeze_held(uv_timer_t *t) {
  fb_search_engine *e = t->data;
  if (e->held_here == 0) {
    uv_timer_stop(t);
    return;
  }
  double now = fb_now_ms();
  bool yielded = fb_hublock_yield();
  for (search *s = e->searches; s; s = s->next) {
    if (!s->held || s->legs_finished) continue;
    for (size_t i = 0; i < s->nlegs; i++) {
      leg *l = &s->legs[i];
      if (l->out == OUT_SHARED && l->crecs && !l->crecs->frozen && now - (l->t0 + l->latency_ms) >= FREEZE_AFTER_MS)
        fb_crecs_freeze(l->crecs);
    }
  }
  fb_hublock_resume(yielded);
}

/* Returns true when it was the search's last pending leg: the caller then runs finish. */
static bool leg_ended(search *s, leg *l) {
  emit_state(s, l);
  if (--s->pending == 0) return true;
  s->held++;
  s->e->sh->legs_held++;
  fb_search_engine *e = s->e;
  if (e->held_here++ > 0 || e->closing) return false;
  if (!e->freezer) {
    e->freezer = fb_xmalloc(sizeof *e->freezer);
    uv_timer_init(e->loop, e->freezer);
    e->freezer->data = e;
  }
  uv_timer_start(e->freezer, freeze_held, FREEZE_AFTER_MS, FREEZE_AFTER_MS);
  return false;
}

/* The plan reads the compiled policies only (immutable; their HMAC context has a mutex
 * of its own) and changes this leg's records (a jansson array or a compact set):
 * other workers may run meanwhile. */
static int apply_plan(leg *l, json_t *records, fb_crecs *set) {
  bool yielded = fb_hublock_yield();
  int rc = set ? fb_plan_apply_crecs(l->plan, set, &l->redacted) : fb_plan_apply(l->plan, records, &l->redacted);
  /* The records are held until the search's last state answers, and under load that
   * is seconds (freeze_held): the plan goes now (a failed one stays for its error
   * sentence). */
  if (rc == 0) {
    fb_plan_free(l->plan);
    l->plan = NULL;
  }
  fb_hublock_resume(yielded);
  return rc;
}

/* A leg's end: its records (status 0) as a jansson array or a compact set, whichever
 * its adapter gave, with the record plan already applied (plan_rc, leg_done). The
 * leg's shared bookkeeping (legs in flight, the breaker, the hooks). Returns true when
 * it was the search's last pending leg: the caller then runs finish. */
static bool leg_done_locked(leg *l, int status, json_t *records, fb_crecs *set, const char *error, int plan_rc) {
  fb_hublock_assert_held();
  search *s = l->s;
  state_rt *rt = l->rt;
  l->handle = NULL;
  rt->sh->legs_in_flight--;
  fb_series_observe(rt->m_latency, l->latency_ms / 1000.0);
  if (status == 0) {
    fb_breaker_success(&rt->sh->breaker, l->probe);
    rt->sh->last_failed = false;
    if (l->decision.effect == FB_EFFECT_HIT_ONLY) {
      /* Only the count leaves the hub: the records are dropped here. */
      l->records = set ? set->nrecs : json_array_size(records);
      json_decref(records);
      fb_crecs_free(set);
      l->out = OUT_HIT_ONLY;
      fb_search_hooks *h = &s->e->hooks;
      if (h->hit_ref) h->hit_ref(h->ctx, s->query_id, s->id.state, rt->cfg->code, l->hit_ref);
    } else if (plan_rc != 0) {
      json_decref(records);
      fb_crecs_free(set);
      l->records = l->redacted = 0;
      l->out = OUT_DENIED; /* fail closed: a record rule failed, nothing is shared */
      fb_decision_clear(&l->decision);
      l->decision = (fb_decision){.effect = FB_EFFECT_DENY, .rule = "policy_error",
                                  .reason = "The state's policy failed; nothing is shared."};
      const char *pe = fb_plan_error(l->plan);
      l->decision.error = fb_xstrdup(pe ? pe : "record rules failed");
      fb_error("policy_error", "%s: record rules failed for %s: %s", rt->cfg->code, s->query_id, l->decision.error);
    } else {
      l->recs = records;
      l->crecs = set;
      l->records = set ? set->nrecs : json_array_size(records);
      l->out = OUT_SHARED;
    }
  } else {
    fb_breaker_failure(&rt->sh->breaker, l->probe, fb_now_ms());
    rt->sh->last_failed = true;
    l->out = status == FB_LEG_TIMEOUT ? OUT_TIMEOUT : OUT_ERROR;
    l->error = fb_xstrdup(error ? error : "unknown error");
    fb_warn("leg_failed", "%s: %s for %s: %s", rt->cfg->code, outcome_name(l->out), s->query_id, l->error);
  }
  return leg_ended(s, l);
}

/* Adapters call back from their own callbacks, usually without the hub lock (the HTTP
 * client's transports let go of it): the leg's own work first (its latency, its record
 * plan over its records), then its bookkeeping under the lock, and when it was the
 * last leg, the merge and the audit entry after the lock is left. A caller that holds
 * the lock keeps it (apply_plan and finish let go of it for their own work). */
static void leg_done(leg *l, int status, json_t *records, fb_crecs *set, const char *error) {
  l->latency_ms = fb_now_ms() - l->t0;
  int plan_rc = 0;
  if (status == 0 && l->decision.effect != FB_EFFECT_HIT_ONLY) plan_rc = apply_plan(l, records, set);
  bool entered = fb_hublock_enter();
  search *s = l->s;
  if (leg_done_locked(l, status, records, set, error, plan_rc)) entered = finish_entered(s, entered);
  fb_hublock_leave(entered);
}

static void on_leg_done(void *data, int status, json_t *records, const char *error) {
  leg_done(data, status, records, NULL, error);
}

static void on_leg_compact(void *data, fb_crecs *records) { leg_done(data, 0, NULL, records, NULL); }

static void cancel_pending_legs(search *s, outcome why) {
  for (size_t i = 0; i < s->nlegs; i++) {
    leg *l = &s->legs[i];
    if (l->out != OUT_PENDING || !l->handle) continue;
    fb_adapter_cancel(l->handle);
    l->handle = NULL;
    l->rt->sh->legs_in_flight--;
    l->latency_ms = fb_now_ms() - l->t0;
    if (why == OUT_TIMEOUT) {
      fb_breaker_failure(&l->rt->sh->breaker, l->probe, fb_now_ms());
      l->rt->sh->last_failed = true;
    } else {
      fb_breaker_abandon(&l->rt->sh->breaker, l->probe);
    }
    l->out = why;
    if (leg_ended(s, l)) {
      finish(s);
      return; /* the remaining legs were handled */
    }
  }
}

static void on_deadline(uv_timer_t *t) {
  search *s = t->data;
  fb_info("deadline", "search %s: %u ms deadline passed with %zu states pending", s->query_id, s->deadline_ms, s->pending);
  cancel_pending_legs(s, OUT_TIMEOUT);
}

void fb_search_cancel(fb_search *s) {
  fb_hublock_assert_held();
  if (!s->answering) return;
  s->answering = false;
  s->client_aborted = true;
  count_abort(s);
  release_slot(s);
  if (!s->legs_finished) cancel_pending_legs(s, OUT_CANCELLED);
}

/* The leg's state and its policy, taken from the store under the hub lock together
 * with the search's other policies (fb_search_start): one decision never mixes two
 * versions of a policy that a reload swapped in between. */
static void bind_leg(search *s, leg *l, const char *code) {
  l->s = s;
  l->rt = find_rt(s->e, code);
  l->policy = fb_policy_store_get(s->e->policies, code);
}

/* The leg's policy decision: the requesting state's outbound rules first (a withheld
 * state is not contacted), then common's and the state's admission rules, and the
 * record plan of an allowed leg. It reads the search's own query and the compiled
 * policies it holds references to (immutable; a `when` takes its policy's own Lua
 * lock, policy/match.h), so it runs without the hub lock. Fails closed: a policy
 * error is a denial (fb_policy_decide_named). */
static void decide_leg(search *s, leg *l) {
  const char *code = l->rt->cfg->code;
  l->decided = true;
  if (fb_outbound_decide(s->requester, &s->q, code, &l->decision, NULL)) {
    l->out = OUT_WITHHELD;
    return;
  }
  fb_policy_decide_named(s->common, l->policy, code, &s->q, &l->decision, NULL);
  if (l->decision.error) fb_error("policy_error", "%s: %s", code, l->decision.error);
  if (l->decision.effect == FB_EFFECT_DENY) {
    l->out = OUT_DENIED;
    return;
  }
  if (l->decision.effect == FB_EFFECT_ALLOW) l->plan = fb_plan_new(s->common, l->policy, &s->q);
  l->admitted = true;
}

/* The legs that are not held back by a rule of the requester's own, common's or a
 * state's: drops them that the breaker or the bound on legs in flight refuses (shared
 * by every worker, so under the hub lock) and starts the others. */
static void unavailable(leg *l, const char *why) {
  l->out = OUT_UNAVAILABLE;
  l->error = fb_xstrdup(why);
  if (l->plan) fb_plan_free(l->plan); /* a plan only for a leg that goes out */
  l->plan = NULL;
}

/* Under the hub lock: the breaker and the bound on legs in flight let the leg go, and
 * it is counted in flight before its adapter starts (without the lock), so that the
 * bound holds across workers. */
static bool admit_leg(search *s, leg *l) {
  if (!l->admitted) return false;
  bool probe = false;
  if (!fb_breaker_allow(&l->rt->sh->breaker, fb_now_ms(), &probe)) {
    unavailable(l, "The state's national system is failing; the hub is not sending it queries for now.");
    return false;
  }
  if (l->rt->sh->legs_in_flight >= l->rt->cfg->max_legs) {
    fb_breaker_abandon(&l->rt->sh->breaker, probe);
    unavailable(l, "Too many queries to this state are in flight; try again shortly.");
    return false;
  }
  l->probe = probe;
  l->out = OUT_PENDING;
  l->rt->sh->legs_in_flight++;
  s->pending++;
  return true;
}

/* Starts the search's admitted legs: their shared bookkeeping under the hub lock, then
 * every adapter start in one region without it (each builds its request and hands it
 * to this loop's own client; a leg's callback never runs before the loop's next turn,
 * adapters/adapter.h), then, under the lock again, the bookkeeping of a start that
 * failed. One release and one take of the lock per search, not per leg. */
static void start_legs(search *s) {
  size_t starting = 0;
  for (size_t i = 0; i < s->nlegs; i++)
    if ((s->legs[i].starting = admit_leg(s, &s->legs[i]))) starting++;
  if (starting == 0) return;
  fb_leg_request lr = {.query_id = s->query_id, .subject = s->p.subject, .purpose = s->p.purpose,
                       .priority = s->p.priority, .legal_basis = s->p.legal_basis, .case_ref = s->p.case_ref,
                       .justification = s->p.justification,
                       .requester_state = s->id.state, .requester_agency = s->id.agency,
                       .limit = LEG_RECORD_LIMIT, .timeout_ms = s->deadline_ms, .compact_done = on_leg_compact};
  /* The legs ask the same: an adapter writes the request's text once per search. */
  fb_leg_text shared_text = {0};
  lr.shared_text = &shared_text;
  size_t failed = 0;
  bool yielded = fb_hublock_yield();
  for (size_t i = 0; i < s->nlegs; i++) {
    leg *l = &s->legs[i];
    if (!l->starting) continue;
    l->t0 = fb_now_ms();
    if (fb_adapter_start(l->rt->adapter, &lr, on_leg_done, l, &l->handle) == 0) l->starting = false;
    else failed++;
  }
  fb_leg_text_clear(&shared_text);
  fb_hublock_resume(yielded);
  for (size_t i = 0; failed && i < s->nlegs; i++) {
    leg *l = &s->legs[i];
    if (!l->starting) continue;
    l->starting = false;
    failed--;
    l->rt->sh->legs_in_flight--;
    s->pending--;
    fb_breaker_failure(&l->rt->sh->breaker, l->probe, fb_now_ms());
    l->out = OUT_ERROR;
    l->error = fb_xstrdup("The leg could not be started.");
  }
}

void fb_search_start(fb_search_engine *e, const fb_search_input *in, const fb_search_callbacks *cb, void *ud) {
  fb_hublock_assert_held(); /* limits, breakers and statistics are every worker's */
  const fb_identity *id = in->id;
  json_t *body = in->body;
  /* Validation reads the request and the config only: other workers run meanwhile. Its
   * verdict comes after the limits', as it always did. */
  search *s = fb_xcalloc(1, sizeof *s);
  fb_validation_error verr;
  bool yielded = fb_hublock_yield();
  bool valid = fb_search_validate(body, e->cfg, id->state, NULL, &s->p, &verr) == 0;
  fb_hublock_resume(yielded);
  bool over = e->sh->in_flight >= e->cfg->limits.concurrency;
  if (over) {
    fb_series_add(e->m_overloaded, 1);
    refuse(cb, ud, 429, "overloaded", "Too many searches are in flight; retry shortly.", NULL, 1);
  }
  if (over || check_identity(e, id, cb, ud) != 0) {
    if (valid) fb_search_params_free(&s->p);
    json_decref(body);
    free(s);
    return;
  }
  if (!valid) {
    json_decref(body);
    free(s);
    refuse(cb, ud, 400, verr.code, verr.message, verr.field[0] ? verr.field : NULL, 0);
    return;
  }
  s->e = e;
  s->cb = cb;
  s->ud = ud;
  s->body = body;
  s->id = *id;
  size_t nroles = 0;
  for (unsigned r = 1; r <= FB_ROLE_LAST; r <<= 1)
    if ((id->roles & r) && nroles < FB_ARRAY_LEN(s->roles)) s->roles[nroles++] = fb_role_name(r);
  fb_query_id_new(s->query_id);
  s->q = (fb_query){.purpose = s->p.purpose, .priority = s->p.priority, .legal_basis = s->p.legal_basis,
                    .justification = s->p.justification, .case_ref = s->p.case_ref, .from_state = s->id.state,
                    .agency = s->id.agency, .roles = s->roles, .nroles = nroles, .subject = s->p.subject,
                    .query_id = s->query_id};
  fb_query_bits_init(&s->qbits, &s->q); /* once: a search makes several decisions per state */
  s->q.bits = &s->qbits;
  /* Every policy this search reads, from the store in one go under the hub lock: a
   * reload between two of them cannot mix versions. */
  s->requester = fb_policy_store_get(e->policies, id->state);
  s->common = fb_policy_store_common(e->policies);
  s->legs = fb_xcalloc(s->p.nstates ? s->p.nstates : 1, sizeof *s->legs);
  s->nlegs = s->p.nstates;
  for (size_t i = 0; i < s->nlegs; i++) bind_leg(s, &s->legs[i], s->p.states[i]);
  /* The requesting state's outbound_require rules (a missing field refuses the search)
   * and every leg's decision read this search's query and its compiled policies only:
   * other workers run meanwhile. */
  fb_outbound_missing miss;
  char *oerr = NULL;
  yielded = fb_hublock_yield();
  int orc = fb_outbound_require(s->requester, &s->q, &miss, &oerr);
  if (orc == 0)
    for (size_t i = 0; i < s->nlegs; i++) decide_leg(s, &s->legs[i]);
  fb_hublock_resume(yielded);
  if (orc != 0) {
    char msg[600];
    if (orc > 0)
      snprintf(msg, sizeof msg, "%s is required by %s's rule \"%s\"%s%s", miss.field, id->state, miss.rule,
               miss.reason != miss.rule ? ": " : ".", miss.reason != miss.rule ? miss.reason : "");
    else
      snprintf(msg, sizeof msg, "%s's outbound policy could not be evaluated, so nothing was sent: %s", id->state,
               oerr ? oerr : "policy error");
    if (orc < 0) fb_error("policy_error", "%s", oerr ? oerr : "outbound_require failed");
    free(oerr);
    refuse(cb, ud, 400, "invalid_request", msg, orc > 0 ? miss.field : NULL, 0);
    for (size_t i = 0; i < s->nlegs; i++) fb_policy_unref(s->legs[i].policy); /* none decided */
    free(s->legs);
    fb_policy_unref(s->common);
    fb_policy_unref(s->requester);
    fb_search_params_free(&s->p);
    json_decref(body);
    free(s);
    return;
  }
  s->deadline_ms = fb_config_deadline_ms(e->cfg, s->p.priority);
  uv_timer_init(e->loop, &s->deadline);
  s->deadline.data = s;
  e->live_searches++;
  e->sh->in_flight++;
  identity_of(e, id, true)->in_flight++;
  s->holds_slot = true;
  s->next = e->searches;
  if (e->searches) e->searches->prev = s;
  e->searches = s;

  s->answering = true;
  if (cb->on_admitted) cb->on_admitted(ud, s, s->query_id);

  start_legs(s);
  /* States settled without a leg (denied, unavailable) are reported at once. */
  for (size_t i = 0; i < s->nlegs; i++)
    if (s->legs[i].out != OUT_PENDING) emit_state(s, &s->legs[i]);
  if (s->pending == 0) {
    finish(s);
    return;
  }
  uv_timer_start(&s->deadline, on_deadline, s->deadline_ms, 0);
}
