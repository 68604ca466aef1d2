/* Two event-loop threads with the hub lock on, each with its own engine (the second a
 * worker's, sharing the first's breakers and limits), start searches at the same time
 * to one state whose bound is `max_legs`: the adapters start without the hub lock
 * (search/engine.c start_legs), so the legs must be counted before, or both threads
 * would pass the bound. Exactly max_legs legs go out; every other search finds the
 * state unavailable; after the cancels nothing is in flight.
 *
 * And how often a search takes the hub lock: its legs start in one release of the lock
 * whatever their number, and a leg's completion that arrives without the lock (as the
 * HTTP client's transports deliver it) takes it once, its record plan before and the
 * last leg's merge and audit entry after.
 *
 * The fake adapter stands in for adapters/adapter.c at link time (as in
 * test_engine.c): its start runs unlocked, so it widens the window on purpose and
 * counts with atomics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "audit/audit.h"
#include "core/home.h"
#include "core/hublock.h"
#include "core/metrics.h"
#include "core/util.h"
#include "policy/policy.h"
#include "search/engine.h"
#include "unit_common.h"

#define MAX_LEGS 5
#define SEARCHES 12 /* per thread */

/* ------------------------------------------------------------ the fake adapter */

static atomic_uint started, open_legs, max_open, unlocked_starts;
static atomic_int arrived; /* threads that entered a start */

struct fb_adapter {
  uv_timer_t closer;
  void (*closed)(void *);
  void *closed_data;
};

struct fb_leg {
  uv_timer_t timer; /* a handle of the loop, closed on cancel */
  fb_leg_done_cb cb;
  void *data;
};

/* 0: legs never answer (until cancelled); else they answer one record after that many
 * ms, from a timer callback that lets go of the hub lock first, as the HTTP client's
 * transports do (test_lock_takes_per_search). */
static uint64_t answer_after_ms;
static void leg_freed(uv_handle_t *h);
static unsigned completion_takes[8]; /* hub lock acquisitions during each completion */
static unsigned completions;

static void leg_answer(uv_timer_t *t) {
  fb_leg *l = t->data;
  fb_leg_done_cb cb = l->cb;
  void *data = l->data;
  uv_timer_stop(t);
  atomic_fetch_sub(&open_legs, 1);
  json_t *recs = json_pack("[{s:s, s:s, s:s}]", "id", "R-1", "type", "person", "name", "Test Person");
  unsigned long long before = fb_hublock_acquired();
  bool yielded = fb_hublock_yield();
  cb(data, 0, recs, NULL);
  fb_hublock_resume(yielded);
  if (completions < 8) completion_takes[completions] = (unsigned)(fb_hublock_acquired() - before);
  completions++;
  uv_close((uv_handle_t *)t, leg_freed);
}

int fb_adapter_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  (void)cfg;
  (void)err;
  fb_adapter *a = fb_xcalloc(1, sizeof *a);
  uv_timer_init(loop, &a->closer);
  a->closer.data = a;
  *out = a;
  return 0;
}

static void spin_us(long us) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do clock_gettime(CLOCK_MONOTONIC, &b);
  while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* Never answers (until cancelled). */
int fb_adapter_start(fb_adapter *a, const fb_leg_request *req, fb_leg_done_cb cb, void *data, fb_leg **out) {
  (void)req;
  if (!fb_hublock_held()) atomic_fetch_add(&unlocked_starts, 1);
  atomic_fetch_add(&started, 1);
  unsigned now = atomic_fetch_add(&open_legs, 1) + 1;
  unsigned m = atomic_load(&max_open);
  while (now > m && !atomic_compare_exchange_weak(&max_open, &m, now)) {
  }
  /* The first start of each thread waits for the other's, so that from then on the two
   * threads' checks and starts interleave; each start then lasts long enough for the
   * other thread to check the bound meanwhile. */
  static _Thread_local bool met;
  if (!met) {
    met = true;
    atomic_fetch_add(&arrived, 1);
    for (int i = 0; i < 2000 && atomic_load(&arrived) < 2; i++) spin_us(100);
  }
  if (!answer_after_ms) spin_us(1000);
  fb_leg *l = fb_xcalloc(1, sizeof *l);
  uv_timer_init(a->closer.loop, &l->timer);
  l->timer.data = l;
  l->cb = cb;
  l->data = data;
  if (answer_after_ms) uv_timer_start(&l->timer, leg_answer, answer_after_ms, 0);
  *out = l;
  return 0;
}

static void leg_freed(uv_handle_t *h) { free(h->data); }

void fb_adapter_cancel(fb_leg *l) {
  atomic_fetch_sub(&open_legs, 1);
  uv_close((uv_handle_t *)&l->timer, leg_freed);
}

static void adapter_closed(uv_handle_t *h) {
  fb_adapter *a = h->data;
  void (*closed)(void *) = a->closed;
  void *d = a->closed_data;
  free(a);
  if (closed) closed(d);
}

void fb_adapter_close(fb_adapter *a, void (*closed)(void *), void *data) {
  a->closed = closed;
  a->closed_data = data;
  uv_close((uv_handle_t *)&a->closer, adapter_closed);
}

/* ------------------------------------------------------------ searches */

typedef struct {
  fb_search *s;
  atomic_bool ended;
  char mys_outcome[16];
} outcome;

static void on_admitted(void *ud, fb_search *s, const char *query_id) {
  (void)query_id;
  ((outcome *)ud)->s = s;
}

static atomic_int ended_count; /* searches answered, both threads */

static void on_done(void *ud, const fb_search_answer *a) {
  outcome *o = ud;
  atomic_fetch_add(&ended_count, 1);
  json_t *states = json_loadb(a->states_text, a->states_len, 0, NULL);
  json_t *st = json_array_get(states, 0);
  snprintf(o->mys_outcome, sizeof o->mys_outcome, "%s", json_string_value(json_object_get(st, "outcome")));
  json_decref(states);
  atomic_store(&o->ended, true);
}

static void on_failure(void *ud, const fb_search_failure *f) {
  outcome *o = ud;
  atomic_fetch_add(&ended_count, 1);
  snprintf(o->mys_outcome, sizeof o->mys_outcome, "failed:%d", f->status);
  atomic_store(&o->ended, true);
}

static const fb_search_callbacks whole = {.on_admitted = on_admitted, .on_done = on_done, .on_failure = on_failure};

static void start_search(fb_search_engine *e, const fb_identity *id, outcome *o) {
  json_t *body = json_pack("{s:{s:s}, s:s, s:s, s:s, s:s, s:[s]}", "subject", "name", "Test Person", "purpose",
                           "prosecution", "priority", "routine", "legal_basis", "mla_treaty", "justification",
                           "Unit test of the search engine with workers", "states", "MYS");
  fb_search_input in = {.id = id, .body = body};
  fb_search_start(e, &in, &whole, o);
}

static const fb_identity analyst = {.sub = "analyst-1", .state = "PHL", .roles = FB_ROLE_ANALYST, .issuer = "test"};

/* ------------------------------------------------------------ the second thread */

typedef struct {
  fb_search_engine *main;
  uv_loop_t loop;
  uv_barrier_t *go, *started, *cancel;
  outcome out[SEARCHES];
  char *err;
  atomic_bool finished;
} worker;

/* Runs `loop` under the hub lock, as fb_hublock_run does, until *flag (at most 20 s). */
static bool run_until(uv_loop_t *loop, const atomic_bool *flag, const atomic_int *count, int want) {
  double end = fb_now_ms() + 20000;
  while (flag ? !atomic_load(flag) : atomic_load(count) < want) {
    if (fb_now_ms() > end) return false;
    fb_hublock_lock();
    uv_run(loop, UV_RUN_NOWAIT);
    fb_hublock_unlock();
    uv_sleep(1);
  }
  return true;
}

/* The searches that got no leg are answered once their audit entries are written. */
#define UNAVAILABLE (2 * SEARCHES - MAX_LEGS)

static void worker_engine_closed(void *data) {
  (void)data;
  fb_home_close(fb_home_current(), NULL, NULL); /* once the audit's completions came back */
}

static void worker_main(void *arg) {
  worker *w = arg;
  uv_loop_init(&w->loop);
  fb_hublock_lock();
  fb_home_open(&w->loop);
  fb_search_engine *e = fb_search_engine_new_worker(&w->loop, w->main, &w->err);
  fb_hublock_unlock();
  uv_barrier_wait(w->go);
  fb_hublock_lock();
  for (int i = 0; i < SEARCHES && e; i++) start_search(e, &analyst, &w->out[i]);
  fb_hublock_unlock();
  uv_barrier_wait(w->started);
  run_until(&w->loop, NULL, &ended_count, UNAVAILABLE);
  uv_barrier_wait(w->cancel);
  fb_hublock_lock();
  for (int i = 0; i < SEARCHES; i++)
    if (w->out[i].s && !atomic_load(&w->out[i].ended)) fb_search_cancel(w->out[i].s);
  if (e) fb_search_engine_close(e, worker_engine_closed, w);
  fb_hublock_unlock();
  fb_hublock_run(&w->loop); /* until the engine and the mailbox are closed */
  uv_loop_close(&w->loop);
  atomic_store(&w->finished, true);
}

/* ------------------------------------------------------------ the test */

static void set_flag(void *data) { atomic_store((atomic_bool *)data, true); }
static void set_flag_plain(void *data) { *(bool *)data = true; }

static void run_main_until(uv_loop_t *loop, const atomic_bool *flag) {
  if (!run_until(loop, flag, NULL, 0)) fail_msg("not done within 20 s");
}

/* The policies of `codes` in dir, the audit log and the main loop's engine, as the hub
 * opens them; a failure ends the test with its sentence. */
static fb_search_engine *open_engine(uv_loop_t *loop, fb_config *cfg, const char *dir, const char *const *codes,
                                     size_t ncodes, fb_policy_store **policies, fb_audit **audit) {
  char *err = NULL;
  *policies = fb_policy_store_open(dir, codes, ncodes, NULL, 0, &err);
  if (!*policies) fail_msg("policies: %s", err);
  *audit = fb_audit_open(loop, &cfg->audit, &err);
  if (!*audit) fail_msg("audit: %s", err);
  fb_search_engine *e = fb_search_engine_new(loop, cfg, *policies, *audit, &err);
  if (!e) fail_msg("engine: %s", err);
  return e;
}

/* Closes the engine, then the audit log, then the home, each under the hub lock as the
 * hub does, waiting for each to report closed on the main loop. */
static void close_engine_audit_home(uv_loop_t *loop, fb_search_engine *e, fb_audit *audit, fb_home *home) {
  atomic_bool closed;
  atomic_init(&closed, false);
  fb_hublock_lock();
  fb_search_engine_close(e, set_flag, &closed);
  fb_hublock_unlock();
  run_main_until(loop, &closed);
  atomic_store(&closed, false);
  fb_hublock_lock();
  fb_audit_close(audit, set_flag, &closed);
  fb_hublock_unlock();
  run_main_until(loop, &closed);
  atomic_store(&closed, false);
  fb_hublock_lock();
  fb_home_close(home, set_flag, &closed);
  fb_hublock_unlock();
  run_main_until(loop, &closed);
}

static void test_legs_bound_holds_across_workers(void **st) {
  (void)st;
  char dir[] = "/tmp/fb_engine_workers_XXXXXX";
  assert_non_null(mkdtemp(dir));
  fb_test_write_file_in(dir, "MYS.lua", "state \"MYS\" { name = \"Malaysia\" }\nallow \"everything\" { }\n");
  static const char *const codes[] = {"MYS"};
  fb_config cfg;
  fb_config_defaults(&cfg);
  cfg.states = fb_xcalloc(1, sizeof *cfg.states);
  cfg.nstates = 1;
  cfg.states[0].code = fb_xstrdup("MYS");
  cfg.states[0].adapter = fb_xstrdup("fake");
  cfg.states[0].max_legs = MAX_LEGS;
  cfg.limits.per_identity = 1000;
  cfg.limits.concurrency = 1000;
  char path[128];
  snprintf(path, sizeof path, "%s/audit.log", dir);
  cfg.audit.path = fb_xstrdup(path);
  cfg.audit.no_fsync = true;

  fb_hublock_enable(); /* before the second loop thread, as the hub does */
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_hublock_lock();
  fb_home_open(&loop); /* before the audit log: it notes the main loop's mailbox */
  fb_policy_store *policies;
  fb_audit *audit;
  fb_search_engine *e = open_engine(&loop, &cfg, dir, codes, 1, &policies, &audit);
  fb_hublock_unlock();

  uv_barrier_t go, started_b, cancel;
  uv_barrier_init(&go, 2);
  uv_barrier_init(&started_b, 2);
  uv_barrier_init(&cancel, 2);
  static worker w;
  w = (worker){.main = e, .go = &go, .started = &started_b, .cancel = &cancel};
  atomic_init(&w.finished, false);
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, worker_main, &w), 0);

  static outcome out[SEARCHES];
  uv_barrier_wait(&go);
  fb_hublock_lock();
  for (int i = 0; i < SEARCHES; i++) start_search(e, &analyst, &out[i]);
  fb_hublock_unlock();
  uv_barrier_wait(&started_b);
  assert_null(w.err);

  /* Both threads started their searches: the bound held across them. */
  assert_int_equal(atomic_load(&started), MAX_LEGS);
  assert_int_equal(atomic_load(&max_open), MAX_LEGS);
  assert_int_equal(atomic_load(&unlocked_starts), MAX_LEGS); /* the starts ran without the lock */

  run_until(&loop, NULL, &ended_count, UNAVAILABLE);
  uv_barrier_wait(&cancel);
  fb_hublock_lock();
  for (int i = 0; i < SEARCHES; i++)
    if (out[i].s && !atomic_load(&out[i].ended)) fb_search_cancel(out[i].s);
  fb_hublock_unlock();
  run_main_until(&loop, &w.finished); /* the worker's audit completions go through this loop */
  uv_thread_join(&t);

  /* The searches that got no leg were answered "unavailable"; the others cancelled. */
  int unavailable = 0;
  for (int i = 0; i < SEARCHES; i++) {
    if (strcmp(out[i].mys_outcome, "unavailable") == 0) unavailable++;
    if (strcmp(w.out[i].mys_outcome, "unavailable") == 0) unavailable++;
  }
  assert_int_equal(unavailable, UNAVAILABLE);
  assert_int_equal(atomic_load(&open_legs), 0);
  assert_int_equal(fb_search_in_flight(e), 0);

  close_engine_audit_home(&loop, e, audit, fb_home_current());
  assert_int_equal(uv_loop_close(&loop), 0);
  uv_barrier_destroy(&go);
  uv_barrier_destroy(&started_b);
  uv_barrier_destroy(&cancel);
  fb_policy_store_free(policies);
  fb_config_free(&cfg);
  fb_metrics_reset();
  assert_true(fb_test_rm_rf(dir));
}

/* ------------------------------------------------------------ stats replay */

typedef struct {
  bool called;
  json_t *body;
} stats_seen;

static void stats_ready(void *ud, json_t *body) {
  stats_seen *seen = ud;
  assert_false(seen->called);
  seen->called = true;
  seen->body = body;
}

/* Runs `loop` until *flag, at most 20 s. */
static bool run_loop_until(uv_loop_t *loop, const bool *flag) {
  double end = fb_now_ms() + 20000;
  while (!*flag) {
    if (fb_now_ms() > end) return false;
    uv_run(loop, UV_RUN_NOWAIT);
    uv_sleep(1);
  }
  return true;
}

/* GET /v1/stats asked of a worker's engine while the main engine replays the log waits
 * too, and is answered on the worker's loop through its mailbox once the main loop has
 * merged the replay; a wait withdrawn before (in the list) or after it was posted is
 * never answered. (Two loops driven in turn by this thread, the worker's with a
 * mailbox of its own, so that which loop answers shows.) */
static void test_stats_wait_on_worker(void **st) {
  (void)st;
  char dir[] = "/tmp/fb_engine_workers_XXXXXX";
  assert_non_null(mkdtemp(dir));
  fb_test_write_file_in(dir, "MYS.lua", "state \"MYS\" { name = \"Malaysia\" }\nallow \"everything\" { }\n");
  static const char *const codes[] = {"MYS"};
  fb_config cfg;
  fb_config_defaults(&cfg);
  cfg.states = fb_xcalloc(1, sizeof *cfg.states);
  cfg.nstates = 1;
  cfg.states[0].code = fb_xstrdup("MYS");
  cfg.states[0].adapter = fb_xstrdup("fake");
  char path[128];
  snprintf(path, sizeof path, "%s/audit.log", dir);
  cfg.audit.path = fb_xstrdup(path);
  cfg.audit.no_fsync = true;

  uv_loop_t loop, wloop;
  uv_loop_init(&loop);
  uv_loop_init(&wloop);
  fb_home *home = fb_home_open(&loop);
  char *err = NULL;
  fb_policy_store *policies;
  fb_audit *audit;
  fb_search_engine *e = open_engine(&loop, &cfg, dir, codes, 1, &policies, &audit);
  fb_home *whome = fb_home_open(&wloop); /* the worker's engine notes the current mailbox */
  fb_search_engine *w = fb_search_engine_new_worker(&wloop, e, &err);
  if (!w) fail_msg("worker engine: %s", err);

  fb_search_engine_replay_stats(e);
  stats_seen on_main = {0}, on_worker = {0}, withdrawn_posted = {0}, withdrawn_early = {0};
  assert_non_null(fb_search_stats_when_ready(e, stats_ready, &on_main));
  assert_non_null(fb_search_stats_when_ready(w, stats_ready, &on_worker));
  fb_stats_wait *posted = fb_search_stats_when_ready(w, stats_ready, &withdrawn_posted);
  fb_stats_wait *early = fb_search_stats_when_ready(w, stats_ready, &withdrawn_early);
  assert_non_null(posted);
  assert_non_null(early);
  fb_search_stats_wait_cancel(early);

  /* The main loop merges the replay and answers its own; the worker's are posted. */
  if (!run_loop_until(&loop, &on_main.called)) fail_msg("the main engine's wait was not answered");
  assert_non_null(json_object_get(on_main.body, "stats"));
  assert_false(on_worker.called);
  fb_search_stats_wait_cancel(posted); /* withdrawn after it was posted */
  if (!run_loop_until(&wloop, &on_worker.called)) fail_msg("the worker engine's wait was not answered");
  assert_non_null(json_object_get(on_worker.body, "stats"));
  uv_run(&wloop, UV_RUN_NOWAIT);
  assert_false(withdrawn_posted.called);
  assert_false(withdrawn_early.called);
  /* Once merged, a worker's engine answers at once. */
  stats_seen now = {0};
  assert_null(fb_search_stats_when_ready(w, stats_ready, &now));
  assert_true(now.called);
  json_decref(on_main.body);
  json_decref(on_worker.body);
  json_decref(now.body);

  /* A worker's engine closing with an answer posted to it waits for the delivery (its
   * mailbox is freed after it) and does not call it. */
  fb_search_engine_replay_stats(e);
  stats_seen again = {0}, closing = {0};
  assert_non_null(fb_search_stats_when_ready(e, stats_ready, &again));
  assert_non_null(fb_search_stats_when_ready(w, stats_ready, &closing));
  if (!run_loop_until(&loop, &again.called)) fail_msg("the second replay was not merged");
  json_decref(again.body);
  bool closed = false;
  fb_search_engine_close(w, set_flag_plain, &closed);
  if (!run_loop_until(&wloop, &closed)) fail_msg("the worker engine did not close");
  assert_false(closing.called);
  closed = false;
  fb_home_close(whome, set_flag_plain, &closed);
  if (!run_loop_until(&wloop, &closed)) fail_msg("the worker's mailbox did not close");
  closed = false;
  fb_search_engine_close(e, set_flag_plain, &closed);
  if (!run_loop_until(&loop, &closed)) fail_msg("the engine did not close");
  closed = false;
  fb_audit_close(audit, set_flag_plain, &closed);
  if (!run_loop_until(&loop, &closed)) fail_msg("the audit log did not close");
  closed = false;
  fb_home_close(home, set_flag_plain, &closed);
  if (!run_loop_until(&loop, &closed)) fail_msg("the mailbox did not close");
  assert_int_equal(uv_loop_close(&wloop), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  fb_policy_store_free(policies);
  fb_config_free(&cfg);
  fb_metrics_reset();
  assert_true(fb_test_rm_rf(dir));
}

/* ------------------------------------------------------------ lock takes */

typedef struct {
  bool done;
  size_t shared;
  int status;
} answer_seen;

static void answer_done(void *ud, const fb_search_answer *a) {
  answer_seen *seen = ud;
  json_t *states = json_loadb(a->states_text, a->states_len, 0, NULL);
  size_t i;
  json_t *st;
  json_array_foreach(states, i, st) {
    if (strcmp(json_string_value(json_object_get(st, "outcome")), "shared") == 0) seen->shared++;
  }
  json_decref(states);
  seen->status = 200;
  seen->done = true;
}

static void answer_failed(void *ud, const fb_search_failure *f) {
  answer_seen *seen = ud;
  seen->status = f->status;
  seen->done = true;
}

static const fb_search_callbacks answer_cbs = {.on_done = answer_done, .on_failure = answer_failed};

/* Starts a search of `states` (a JSON array) under the hub lock, as a handler does;
 * returns the lock acquisitions it took. */
static unsigned start_counted(fb_search_engine *e, json_t *states, answer_seen *seen) {
  json_t *body = json_pack("{s:{s:s}, s:s, s:s, s:s, s:s, s:o}", "subject", "name", "Test Person", "purpose",
                           "prosecution", "priority", "routine", "legal_basis", "mla_treaty", "justification",
                           "Unit test of the hub lock's takes per search", "states", states);
  fb_search_input in = {.id = &analyst, .body = body};
  fb_hublock_lock();
  unsigned long long before = fb_hublock_acquired();
  fb_search_start(e, &in, &answer_cbs, seen);
  unsigned takes = (unsigned)(fb_hublock_acquired() - before);
  fb_hublock_unlock();
  return takes;
}

static void run_until_seen(uv_loop_t *loop, const answer_seen *seen) {
  double end = fb_now_ms() + 20000;
  while (!seen->done) {
    if (fb_now_ms() > end) fail_msg("the search was not answered within 20 s");
    fb_hublock_lock();
    uv_run(loop, UV_RUN_NOWAIT);
    fb_hublock_unlock();
    uv_sleep(1);
  }
}

static void test_lock_takes_per_search(void **st) {
  (void)st;
  char dir[] = "/tmp/fb_engine_lock_XXXXXX";
  assert_non_null(mkdtemp(dir));
  static const char *const codes[] = {"MYS", "IDN", "THA"};
  fb_test_write_file_in(dir, "MYS.lua", "state \"MYS\" { name = \"Malaysia\" }\nallow \"everything\" { }\n");
  fb_test_write_file_in(dir, "IDN.lua", "state \"IDN\" { name = \"Indonesia\" }\nallow \"everything\" { }\n");
  fb_test_write_file_in(dir, "THA.lua", "state \"THA\" { name = \"Thailand\" }\nallow \"everything\" { }\n");
  fb_config cfg;
  fb_config_defaults(&cfg);
  cfg.states = fb_xcalloc(3, sizeof *cfg.states);
  cfg.nstates = 3;
  for (size_t i = 0; i < 3; i++) {
    cfg.states[i].code = fb_xstrdup(codes[i]);
    cfg.states[i].adapter = fb_xstrdup("fake");
    cfg.states[i].max_legs = 100;
  }
  cfg.limits.per_identity = 1000;
  cfg.limits.concurrency = 1000;
  char path[128];
  snprintf(path, sizeof path, "%s/audit.log", dir);
  cfg.audit.path = fb_xstrdup(path);
  cfg.audit.no_fsync = true;

  fb_hublock_enable();
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_hublock_lock();
  fb_home *home = fb_home_open(&loop);
  fb_policy_store *policies;
  fb_audit *audit;
  fb_search_engine *e = open_engine(&loop, &cfg, dir, codes, 3, &policies, &audit);
  fb_hublock_unlock();
  answer_after_ms = 1;

  /* The start takes the lock as often for three legs as for one. */
  answer_seen one = {0}, three = {0};
  unsigned takes_one = start_counted(e, json_pack("[s]", "MYS"), &one);
  run_until_seen(&loop, &one);
  assert_int_equal(one.status, 200);
  assert_int_equal(one.shared, 1);
  completions = 0;
  unsigned takes_three = start_counted(e, json_pack("[s, s, s]", "MYS", "IDN", "THA"), &three);
  assert_int_equal(takes_three, takes_one);
  run_until_seen(&loop, &three);
  assert_int_equal(three.status, 200);
  assert_int_equal(three.shared, 3);
  /* Each completion, the last one with the merge and the audit append too: one take
   * for its bookkeeping, and the transport's own take back when it returns. */
  assert_int_equal(completions, 3);
  for (unsigned i = 0; i < 3; i++) assert_int_equal(completion_takes[i], 2);
  assert_int_equal(fb_search_in_flight(e), 0);
  answer_after_ms = 0;

  close_engine_audit_home(&loop, e, audit, home);
  assert_int_equal(uv_loop_close(&loop), 0);
  fb_policy_store_free(policies);
  fb_config_free(&cfg);
  fb_metrics_reset();
  assert_true(fb_test_rm_rf(dir));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_legs_bound_holds_across_workers),
      cmocka_unit_test(test_stats_wait_on_worker),
      cmocka_unit_test(test_lock_takes_per_search),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
