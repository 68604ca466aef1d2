/* The search engine on a real libuv loop with a fake adapter (no network): deadlines
 * per priority, cancel, the breaker's half-open probe, the limits (searches in flight,
 * per identity, legs in flight per state), fail-closed on a policy error, and the
 * callbacks' contract (state lines before the answer, nothing after a cancel), and a
 * worker's engine sharing the main engine's breakers, limits and statistics.
 *
 * The fake adapter stands in for adapters/adapter.c at link time: this file defines
 * fb_adapter_open/start/cancel/close (the only adapter functions the engine calls), so
 * the linker never pulls the real registry out of libfb_adapters. Each state's fake
 * answers as its `fake_state` says: never (until cancelled), or after `delay_ms` with
 * records or with an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "audit/audit.h"
#include "core/jsonw.h"
#include "core/metrics.h"
#include "core/util.h"
#include "policy/policy.h"
#include "records/record.h"
#include "search/engine.h"
#include "unit_common.h"

/* ------------------------------------------------------------ the fake adapter */

/* FAKE_TIME_OUT: the adapter's own timer reports the deadline (FB_LEG_TIMEOUT), as the
 * http adapter's does when it fires before the engine's. FAKE_REFUSE_START: the leg
 * cannot start (fb_adapter_start fails; no callback). */
typedef enum { FAKE_HANG, FAKE_ANSWER, FAKE_FAIL, FAKE_TIME_OUT, FAKE_REFUSE_START } fake_mode;

typedef struct {
  const char *code;
  fake_mode mode;
  uint64_t delay_ms;
  size_t nrecords;
  bool compact;         /* answers as a compact set when the leg asks for one */
  /* what the engine did with it */
  unsigned started, cancelled, answered;
  uint32_t last_timeout_ms;
  unsigned open_legs;   /* started and not yet answered or cancelled */
  fb_crecs *last_set;   /* the last compact set handed to the engine (owned by it) */
} fake_state;

#define NFAKES 4
static fake_state fakes[NFAKES];

static fake_state *fake_of(const char *code) {
  for (size_t i = 0; i < NFAKES; i++)
    if (fakes[i].code && strcmp(fakes[i].code, code) == 0) return &fakes[i];
  return NULL;
}

struct fb_adapter {
  uv_loop_t *loop;
  fake_state *fs;
  uv_timer_t closer;
  void (*closed)(void *);
  void *closed_data;
};

struct fb_leg {
  uv_timer_t timer;
  fb_adapter *a;
  fb_leg_done_cb cb;
  void (*compact_done)(void *, fb_crecs *);
  void *data;
};

int fb_adapter_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  (void)err;
  fb_adapter *a = fb_xcalloc(1, sizeof *a);
  a->loop = loop;
  a->fs = fake_of(cfg->code);
  assert_non_null(a->fs);
  uv_timer_init(loop, &a->closer);
  a->closer.data = a;
  *out = a;
  return 0;
}

static void leg_freed(uv_handle_t *h) { free(h->data); }

static void leg_fire(uv_timer_t *t) {
  fb_leg *l = t->data;
  fake_state *fs = l->a->fs;
  fs->answered++;
  fs->open_legs--;
  uv_close((uv_handle_t *)&l->timer, leg_freed);
  if (fs->mode == FAKE_FAIL) {
    l->cb(l->data, FB_LEG_ERROR, NULL, "the fake national system failed");
    return;
  }
  if (fs->mode == FAKE_TIME_OUT) {
    l->cb(l->data, FB_LEG_TIMEOUT, NULL, "no answer within the deadline");
    return;
  }
  json_t *recs = json_array();
  for (size_t i = 0; i < fs->nrecords; i++) {
    char id[32];
    snprintf(id, sizeof id, "%s-%zu-%u", fs->code, i, fs->answered);
    json_array_append_new(recs, json_pack("{s:s, s:s, s:s}", "id", id, "type", "person", "name", "Test Person"));
  }
  if (fs->compact && l->compact_done) { /* as the http adapter: the answer's text, judged */
    json_t *body = json_pack("{s:o}", "records", recs);
    fb_buf text = {0};
    assert_int_equal(fb_jsonw_dump(&text, body, FB_JSONW_PRECISION), 0);
    json_decref(body);
    size_t len = text.len;
    fb_crecs *set = fb_crecs_load(fb_buf_steal(&text), len, NULL);
    assert_non_null(set);
    assert_int_equal(fb_crecs_judge(set, NULL), 0);
    fs->last_set = set;
    l->compact_done(l->data, set);
    return;
  }
  l->cb(l->data, 0, recs, NULL);
}

int fb_adapter_start(fb_adapter *a, const fb_leg_request *req, fb_leg_done_cb cb, void *data, fb_leg **out) {
  *out = NULL;
  if (a->fs->mode == FAKE_REFUSE_START) return -1;
  fb_leg *l = fb_xcalloc(1, sizeof *l);
  l->a = a;
  l->cb = cb;
  l->compact_done = req->compact_done;
  l->data = data;
  uv_timer_init(a->loop, &l->timer);
  l->timer.data = l;
  a->fs->started++;
  a->fs->open_legs++;
  a->fs->last_timeout_ms = req->timeout_ms;
  if (a->fs->mode != FAKE_HANG) uv_timer_start(&l->timer, leg_fire, a->fs->delay_ms, 0);
  *out = l;
  return 0;
}

void fb_adapter_cancel(fb_leg *l) {
  l->a->fs->cancelled++;
  l->a->fs->open_legs--;
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

/* ------------------------------------------------------------ the fixture */

typedef struct {
  uv_loop_t loop;
  char dir[64];
  fb_config cfg;
  fb_policy_store *policies;
  fb_audit *audit;
  fb_search_engine *e;
} fixture;

/* What the callbacks saw of one search. */
typedef struct {
  fb_search *s;
  bool admitted, done, failed;
  unsigned states_before_done;
  bool state_after_end;
  json_t *states;       /* the answer's, or the on_state lines in order */
  bool complete;
  size_t results;
  uint64_t seq;
  fb_search_failure failure;
  char failure_code[32];
  uint64_t ended_at;    /* loop time of on_done / on_failure */
  char *results_text;   /* the merged results as written */
} outcome;

static void on_admitted(void *ud, fb_search *s, const char *query_id) {
  outcome *o = ud;
  assert_false(o->admitted);
  assert_int_equal(strncmp(query_id, "q-", 2), 0);
  o->admitted = true;
  o->s = s;
}

static void on_state(void *ud, json_t *state) {
  outcome *o = ud;
  assert_true(o->admitted);
  if (o->done || o->failed) o->state_after_end = true;
  o->states_before_done++;
  if (!o->states) o->states = json_array();
  json_array_append_new(o->states, state);
}

static uv_loop_t *current_loop;

static void on_done(void *ud, const fb_search_answer *a) {
  outcome *o = ud;
  assert_false(o->done || o->failed);
  o->done = true;
  o->complete = a->complete;
  o->results = fb_merged_count(a->results);
  fb_buf text = {0};
  assert_int_equal(fb_merged_write(&text, a->results, FB_JSONW_PRECISION), 0);
  free(o->results_text);
  o->results_text = fb_buf_steal(&text);
  o->seq = a->audit_seq;
  assert_int_equal(strlen(a->audit_hash), 64);
  assert_null(a->states); /* the engine writes them as text */
  if (a->states_text) {
    assert_null(o->states);
    o->states = json_loadb(a->states_text, a->states_len, 0, NULL);
    assert_true(json_is_array(o->states));
  }
  o->ended_at = uv_now(current_loop);
}

static void on_failure(void *ud, const fb_search_failure *f) {
  outcome *o = ud;
  assert_false(o->done || o->failed);
  o->failed = true;
  o->failure = *f;
  snprintf(o->failure_code, sizeof o->failure_code, "%s", f->code);
  o->failure.code = o->failure_code;
  o->failure.message = o->failure.field = NULL;
  o->ended_at = uv_now(current_loop);
}

static const fb_search_callbacks whole = {.on_admitted = on_admitted, .on_done = on_done, .on_failure = on_failure};
static const fb_search_callbacks streamed = {.on_admitted = on_admitted, .on_state = on_state, .on_done = on_done,
                                             .on_failure = on_failure};

static void outcome_clear(outcome *o) {
  json_decref(o->states);
  free(o->results_text);
  memset(o, 0, sizeof *o);
}

static const char *const state_codes[NFAKES] = {"IDN", "MYS", "THA", "BGD"};

/* Policies: MYS and THA allow everything; IDN's only rule fails at run time; BGD
 * admits everything but one of its record rules fails at run time. */
static void write_policies(const char *dir) {
  fb_test_write_file_in(dir, "MYS.lua", "state \"MYS\" { name = \"Malaysia\" }\nallow \"everything\" { }\n");
  fb_test_write_file_in(dir, "THA.lua", "state \"THA\" { name = \"Thailand\" }\nallow \"everything\" { }\n");
  fb_test_write_file_in(dir, "IDN.lua",
                        "state \"IDN\" { name = \"Indonesia\" }\n"
                        "allow \"broken\" { when = function(q) error(\"boom\") end }\n");
  fb_test_write_file_in(dir, "BGD.lua",
                        "state \"BGD\" { name = \"Bangladesh\" }\nallow \"everything\" { }\n"
                        "redact \"broken\" { fields = { \"name\" }, action = \"mask\",\n"
                        "  when = function(q) error(\"boom\") end }\n");
}

/* `cfg_fn` adjusts the configuration before the engine starts (limits, breaker). */
static fixture *fixture_new(void (*cfg_fn)(fb_config *)) {
  fixture *f = fb_xcalloc(1, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  current_loop = &f->loop;
  snprintf(f->dir, sizeof f->dir, "/tmp/fb_engine_XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  write_policies(f->dir);

  memset(fakes, 0, sizeof fakes);
  fb_config_defaults(&f->cfg);
  /* Long enough that a loaded machine never reaches them by accident; the deadline
   * test sets short ones. */
  f->cfg.deadlines = (fb_deadlines){.immediate_ms = 20000, .urgent_ms = 25000, .routine_ms = 30000};
  f->cfg.breaker = (fb_breaker_config){.failures = 2, .open_ms = 1500}; /* room for a loaded machine */
  f->cfg.states = fb_xcalloc(NFAKES, sizeof *f->cfg.states);
  f->cfg.nstates = NFAKES;
  for (size_t i = 0; i < NFAKES; i++) {
    f->cfg.states[i].code = fb_xstrdup(state_codes[i]);
    f->cfg.states[i].adapter = fb_xstrdup("fake");
    f->cfg.states[i].max_legs = 256;
    fakes[i] = (fake_state){.code = state_codes[i], .mode = FAKE_ANSWER, .delay_ms = 1, .nrecords = 1};
  }
  char path[128];
  snprintf(path, sizeof path, "%s/audit.log", f->dir);
  f->cfg.audit.path = fb_xstrdup(path);
  f->cfg.audit.no_fsync = true;
  if (cfg_fn) cfg_fn(&f->cfg);

  char *err = NULL;
  f->policies = fb_policy_store_open(f->dir, state_codes, NFAKES, NULL, 0, &err);
  if (!f->policies) fail_msg("policies: %s", err);
  f->audit = fb_audit_open(&f->loop, &f->cfg.audit, &err);
  if (!f->audit) fail_msg("audit: %s", err);
  f->e = fb_search_engine_new(&f->loop, &f->cfg, f->policies, f->audit, &err);
  if (!f->e) fail_msg("engine: %s", err);
  return f;
}

static void set_flag(void *data) { *(bool *)data = true; }

static void guard_fired(uv_timer_t *t) { *(bool *)t->data = true; }

/* Runs the loop until done(arg) holds; fails the test after 5 s. */
static void run_until_cond(fixture *f, bool (*done)(const void *), const void *arg) {
  bool expired = false;
  uv_timer_t guard;
  uv_timer_init(&f->loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, guard_fired, 5000, 0);
  while (!done(arg) && !expired) uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  if (!done(arg)) fail_msg("the condition was not met within 5 s");
}

static bool flag_set(const void *arg) { return *(const bool *)arg; }
static void run_until(fixture *f, const bool *flag) { run_until_cond(f, flag_set, flag); }

static bool search_ended(const void *arg) {
  const outcome *o = arg;
  return o->done || o->failed;
}
static void run_until_ended(fixture *f, outcome *o) { run_until_cond(f, search_ended, o); }

/* Runs the loop for `ms` of loop time (the breaker's open period passing). */
static void run_for(fixture *f, uint64_t ms) {
  bool passed = false;
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  t.data = &passed;
  uv_timer_start(&t, guard_fired, ms, 0);
  while (!passed) uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void fixture_free(fixture *f) {
  bool closed = false;
  fb_search_engine_close(f->e, set_flag, &closed);
  run_until(f, &closed);
  closed = false;
  fb_audit_close(f->audit, set_flag, &closed);
  run_until(f, &closed);
  /* Every handle the engine, the audit log and the fake opened is closed. */
  assert_int_equal(uv_loop_close(&f->loop), 0);
  fb_policy_store_free(f->policies);
  fb_config_free(&f->cfg);
  fb_metrics_reset();
  assert_true(fb_test_rm_rf(f->dir));
  free(f);
}

static const fb_identity analyst = {.sub = "analyst-1", .state = "PHL", .roles = FB_ROLE_ANALYST, .issuer = "test"};
static const fb_identity analyst2 = {.sub = "analyst-2", .state = "PHL", .roles = FB_ROLE_ANALYST, .issuer = "test"};

static void start_as(fixture *f, const fb_identity *id, const char *priority, const char *states_csv,
                     const fb_search_callbacks *cb, outcome *o) {
  json_t *states = json_array();
  char buf[64];
  snprintf(buf, sizeof buf, "%s", states_csv);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    json_array_append_new(states, json_string(tok));
  json_t *body = json_pack("{s:{s:s}, s:s, s:s, s:s, s:s, s:o}", "subject", "name", "Test Person", "purpose",
                           "prosecution", "priority", priority, "legal_basis", "mla_treaty", "justification",
                           "Unit test of the search engine", "states", states);
  fb_search_input in = {.id = id, .body = body};
  /* A request arrives in a loop iteration, whose time is fresh: the deadline counts
   * from now, not from when the loop last ran (the fixture's set-up can take long). */
  uv_update_time(&f->loop);
  fb_search_start(f->e, &in, cb, o);
}

static void start(fixture *f, const char *priority, const char *states_csv, outcome *o) {
  start_as(f, &analyst, priority, states_csv, &whole, o);
}

/* The `key` of `state`'s summary in the outcome's states. */
static const char *state_field(const outcome *o, const char *state, const char *key) {
  size_t i;
  json_t *st;
  json_array_foreach(o->states, i, st) {
    if (strcmp(json_string_value(json_object_get(st, "state")), state) == 0)
      return json_string_value(json_object_get(st, key));
  }
  fail_msg("no state line for %s", state);
  return NULL;
}

/* GET /v1/states's view of a state: breaker or legs_in_flight. */
static json_t *engine_state(fixture *f, const char *state, const char *key) {
  json_t *all = fb_search_states_json(f->e);
  size_t i;
  json_t *st;
  json_t *v = NULL;
  json_array_foreach(json_object_get(all, "states"), i, st) {
    if (strcmp(json_string_value(json_object_get(st, "state")), state) == 0) v = json_incref(json_object_get(st, key));
  }
  json_decref(all);
  assert_non_null(v);
  return v;
}

static void assert_breaker(fixture *f, const char *state, const char *want) {
  json_t *v = engine_state(f, state, "breaker");
  assert_string_equal(json_string_value(v), want);
  json_decref(v);
}

static json_int_t legs_in_flight(fixture *f, const char *state) {
  json_t *v = engine_state(f, state, "legs_in_flight");
  json_int_t n = json_integer_value(v);
  json_decref(v);
  return n;
}

/* ------------------------------------------------------------ tests */

/* The audit log's last entry. */
static json_t *last_audit_entry(fixture *f) {
  char path[512];
  snprintf(path, sizeof path, "%s/audit.log", f->dir);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char line[1 << 16], last[1 << 16] = "";
  while (fgets(line, sizeof line, fp)) memcpy(last, line, sizeof line);
  fclose(fp);
  json_t *e = json_loads(last, 0, NULL);
  assert_non_null(e);
  return e;
}

/* One state's records arrive as a compact set (the http adapter's), another's as a
 * jansson array: both are redacted, merged, written and named in `disclosed`. */
static void test_compact_and_jansson_records(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[1].nrecords = 2; /* MYS: compact */
  fakes[1].compact = true;
  fakes[2].nrecords = 1; /* THA: jansson */
  outcome o = {0};
  start(f, "urgent", "MYS,THA", &o);
  run_until_ended(f, &o);
  assert_true(o.done);
  assert_int_equal(o.results, 3);
  assert_string_equal(state_field(&o, "MYS", "outcome"), "shared");
  assert_string_equal(state_field(&o, "THA", "outcome"), "shared");
  assert_non_null(strstr(o.results_text, "{\"state\":\"MYS\",\"id\":\"MYS-0-1\",\"type\":\"person\""));
  assert_non_null(strstr(o.results_text, "{\"state\":\"MYS\",\"id\":\"MYS-1-1\""));
  assert_non_null(strstr(o.results_text, "{\"state\":\"THA\",\"id\":\"THA-0-1\""));
  json_t *entry = last_audit_entry(f);
  json_t *disclosed = json_object_get(entry, "disclosed");
  assert_int_equal(json_array_size(json_object_get(disclosed, "MYS")), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(disclosed, "MYS"), 1)), "MYS-1-1");
  assert_int_equal(json_array_size(json_object_get(disclosed, "THA")), 1);
  json_decref(entry);
  fakes[1].compact = false;
  outcome_clear(&o);
  fixture_free(f);
}

static void test_answer(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[1].nrecords = 2; /* MYS */
  outcome o = {0};
  start(f, "urgent", "MYS,THA", &o);
  assert_true(o.admitted);
  run_until_ended(f, &o);
  assert_true(o.done);
  assert_true(o.complete);
  assert_int_equal(o.results, 3);
  assert_int_equal(json_array_size(o.states), 2);
  assert_string_equal(state_field(&o, "MYS", "outcome"), "shared");
  assert_string_equal(state_field(&o, "THA", "outcome"), "shared");
  assert_int_equal(o.seq, fb_audit_last_seq(f->audit));
  assert_int_equal(fb_search_in_flight(f->e), 0);
  outcome_clear(&o);
  fixture_free(f);
}

/* Streaming: one on_state per state, all before on_done; the answer has no states. */
static void test_state_lines_before_answer(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[1].delay_ms = 30;
  outcome o = {0};
  start_as(f, &analyst, "urgent", "IDN,MYS,THA", &streamed, &o);
  /* IDN is denied at once (its policy fails): its line comes before start returns. */
  assert_int_equal(o.states_before_done, 1);
  run_until_ended(f, &o);
  assert_true(o.done);
  assert_false(o.state_after_end);
  assert_int_equal(o.states_before_done, 3);
  assert_int_equal(json_array_size(o.states), 3);
  /* In the order they settled: IDN at once, then THA (1 ms), then MYS (30 ms). */
  assert_string_equal(json_string_value(json_object_get(json_array_get(o.states, 0), "state")), "IDN");
  assert_string_equal(json_string_value(json_object_get(json_array_get(o.states, 1), "state")), "THA");
  assert_string_equal(json_string_value(json_object_get(json_array_get(o.states, 2), "state")), "MYS");
  outcome_clear(&o);
  fixture_free(f);
}

static void short_deadlines(fb_config *cfg) {
  cfg->deadlines = (fb_deadlines){.immediate_ms = 100, .urgent_ms = 600, .routine_ms = 1500};
}

/* A state that never answers times out at its priority's deadline, and its leg is
 * cancelled then; the leg was told the same deadline. */
static void test_deadline_per_priority(void **st) {
  (void)st;
  static const struct {
    const char *priority;
    uint64_t deadline, next;
  } cases[] = {{"immediate", 100, 600}, {"urgent", 600, 1500}, {"routine", 1500, 5000}};
  fixture *f = fixture_new(short_deadlines);
  fakes[1].mode = FAKE_HANG; /* MYS */
  for (size_t i = 0; i < FB_ARRAY_LEN(cases); i++) {
    outcome o = {0};
    uv_update_time(&f->loop);
    uint64_t t0 = uv_now(&f->loop);
    start(f, cases[i].priority, "MYS,THA", &o);
    assert_int_equal(fakes[1].last_timeout_ms, cases[i].deadline);
    run_until_ended(f, &o);
    assert_true(o.done);
    assert_false(o.complete);
    assert_string_equal(state_field(&o, "MYS", "outcome"), "timeout");
    assert_string_equal(state_field(&o, "THA", "outcome"), "shared");
    uint64_t took = o.ended_at - t0;
    assert_true(took >= cases[i].deadline);
    assert_true(took < cases[i].next);
    assert_int_equal(fakes[1].cancelled, i + 1);
    assert_int_equal(fakes[1].open_legs, 0);
    assert_int_equal(legs_in_flight(f, "MYS"), 0);
    outcome_clear(&o);
    /* A timeout counts against the breaker: two in a row open it (failures = 2). */
    if (i == 0) assert_breaker(f, "MYS", "closed");
    else if (i == 1) {
      assert_breaker(f, "MYS", "open");
      run_for(f, 1510); /* let the probe through for the last case */
    }
  }
  fixture_free(f);
}

/* A leg whose adapter reports the timeout itself is `timeout`, not `error`. */
static void test_adapter_timeout_is_timeout(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[1].mode = FAKE_TIME_OUT; /* MYS */
  fakes[1].delay_ms = 5;
  outcome o = {0};
  start(f, "urgent", "MYS,THA", &o);
  run_until_ended(f, &o);
  assert_true(o.done);
  assert_false(o.complete);
  assert_string_equal(state_field(&o, "MYS", "outcome"), "timeout");
  assert_string_equal(state_field(&o, "THA", "outcome"), "shared");
  outcome_clear(&o);
  fixture_free(f);
}

struct audit_wait {
  fb_audit *audit;
  uint64_t seq;
};
/* An entry after w->seq is durable (fb_audit_read returns durable entries only). */
static bool audited_past(const void *arg) {
  const struct audit_wait *w = arg;
  json_t *entries = NULL;
  uint64_t next = 0;
  if (fb_audit_read(w->audit, w->seq, 1, &entries, &next) != 0) return false;
  bool any = json_array_size(entries) > 0;
  json_decref(entries);
  return any;
}

/* The client goes away: legs are cancelled, the slot is free at once, no callback runs
 * again, and the search is still audited as client_aborted. */
static void test_cancel(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[1].mode = FAKE_HANG;
  fakes[2].mode = FAKE_HANG;
  outcome o = {0};
  uint64_t seq0 = fb_audit_last_seq(f->audit);
  start_as(f, &analyst, "routine", "MYS,THA", &streamed, &o);
  assert_true(o.admitted);
  assert_int_equal(fb_search_in_flight(f->e), 1);
  assert_int_equal(legs_in_flight(f, "MYS"), 1);
  run_for(f, 20);
  assert_int_equal(o.states_before_done, 0);
  assert_false(o.done);
  fb_search_cancel(o.s);
  assert_int_equal(fb_search_in_flight(f->e), 0);
  assert_int_equal(fakes[1].cancelled, 1);
  assert_int_equal(fakes[2].cancelled, 1);
  assert_int_equal(fakes[1].open_legs + fakes[2].open_legs, 0);
  assert_int_equal(legs_in_flight(f, "MYS"), 0);
  assert_int_equal(legs_in_flight(f, "THA"), 0);
  /* The audit entry is written after the cancel; wait for it. */
  struct audit_wait aw = {f->audit, seq0};
  run_until_cond(f, audited_past, &aw);
  run_for(f, 20); /* a late callback would show here */
  assert_false(o.done);
  assert_false(o.failed);
  assert_int_equal(o.states_before_done, 0); /* cancelled legs send no state line */
  json_t *entries = NULL;
  uint64_t next = 0;
  assert_int_equal(fb_audit_read(f->audit, seq0, 10, &entries, &next), 0);
  assert_int_equal(json_array_size(entries), 1);
  json_t *last = json_array_get(entries, json_array_size(entries) - 1);
  assert_string_equal(json_string_value(json_object_get(last, "event")), "search");
  assert_true(json_is_true(json_object_get(last, "client_aborted")));
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(json_object_get(last, "states"), 0), "outcome")), "cancelled");
  json_decref(entries);
  /* An abandoned probe does not count as a failure: the breaker stays closed. */
  assert_breaker(f, "MYS", "closed");
  outcome_clear(&o);
  fixture_free(f);
}

/* A gauge's value in /metrics (one series, no labels). */
static double gauge(const char *name) {
  fb_buf out = {0};
  fb_metrics_render(&out);
  char key[96];
  int n = snprintf(key, sizeof key, "\n%s ", name);
  const char *at = strstr(out.data, key);
  assert_non_null(at);
  double v = strtod(at + n, NULL);
  fb_buf_free(&out);
  return v;
}

typedef struct {
  const fb_crecs *set;
  const outcome *o;
} held_leg;

static bool frozen_or_ended(const void *arg) {
  const held_leg *h = arg;
  return h->set->frozen || h->o->done || h->o->failed;
}

/* A state that has answered while another has not: its records are held, after
 * FREEZE_AFTER_MS (250 ms) as their text only; the search reads them again when the last state answers, and they are in the
 * answer and the audit entry as they would have been. Under load (bench/rss_bench.sh)
 * most ended legs wait like this, up to limits.concurrency x states of them. */
static void test_held_leg(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[1].nrecords = 3; /* MYS answers at once, as a compact set */
  fakes[1].compact = true;
  fakes[2].delay_ms = 2000; /* THA much later */
  outcome o = {0};
  start(f, "routine", "MYS,THA", &o);
  run_for(f, 20);
  assert_int_equal(fakes[1].answered, 1);
  assert_false(o.done);
  assert_true(gauge("fedbroker_legs_held") == 1);
  const fb_crecs *set = fakes[1].last_set;
  assert_non_null(set);
  assert_int_equal(set->nrecs, 3);
  assert_false(set->frozen); /* not yet: most searches end within the 250 ms */
  held_leg hl = {set, &o};
  run_until_cond(f, frozen_or_ended, &hl);
  assert_false(o.done);
  assert_true(set->frozen); /* held over 250 ms: its text only */
  assert_null(set->plain);
  assert_null(set->members);
  assert_int_equal(set->nrecs, 0);
  run_until_ended(f, &o);
  assert_true(o.done);
  assert_true(gauge("fedbroker_legs_held") == 0);
  assert_int_equal(o.results, 4);
  assert_non_null(strstr(o.results_text, "{\"state\":\"MYS\",\"id\":\"MYS-0-1\",\"type\":\"person\""));
  assert_non_null(strstr(o.results_text, "{\"state\":\"MYS\",\"id\":\"MYS-2-1\""));
  assert_non_null(strstr(o.results_text, "{\"state\":\"THA\",\"id\":\"THA-0-1\""));
  json_t *entry = last_audit_entry(f);
  json_t *mys = json_object_get(json_object_get(entry, "disclosed"), "MYS");
  assert_int_equal(json_array_size(mys), 3);
  assert_string_equal(json_string_value(json_array_get(mys, 2)), "MYS-2-1");
  json_decref(entry);
  fakes[1].compact = false;
  outcome_clear(&o);
  fixture_free(f);
}

/* The gauges that say where the searches in flight are: a leg held for another state's
 * answer, then the search waiting for its audit entry. */
static void test_search_phase_gauges(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[2].mode = FAKE_HANG; /* THA does not answer; MYS does */
  outcome o = {0};
  uint64_t seq0 = fb_audit_last_seq(f->audit);
  start(f, "routine", "MYS,THA", &o);
  run_for(f, 20);
  assert_int_equal(fakes[1].answered, 1);
  assert_true(gauge("fedbroker_legs_held") == 1);
  assert_true(gauge("fedbroker_searches_auditing") == 0);
  fb_search_cancel(o.s); /* THA's leg ends: the search is audited */
  assert_true(gauge("fedbroker_legs_held") == 0);
  assert_true(gauge("fedbroker_searches_auditing") == 1);
  struct audit_wait aw = {f->audit, seq0};
  run_until_cond(f, audited_past, &aw);
  run_for(f, 20);
  assert_true(gauge("fedbroker_searches_auditing") == 0);
  outcome_clear(&o);
  fixture_free(f);
}

/* Opens MYS's breaker with two failed searches. */
static void open_breaker(fixture *f) {
  fakes[1].mode = FAKE_FAIL;
  for (int i = 0; i < 2; i++) {
    outcome o = {0};
    start(f, "urgent", "MYS", &o);
    run_until_ended(f, &o);
    assert_string_equal(state_field(&o, "MYS", "outcome"), "error");
    outcome_clear(&o);
  }
  assert_breaker(f, "MYS", "open");
}

/* While open no leg goes out; after open_ms one probe goes out and the other searches
 * are refused until it reports; its success closes the breaker. */
static void test_breaker_half_open_success(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  open_breaker(f);
  unsigned started = fakes[1].started;
  outcome o = {0};
  start(f, "urgent", "MYS", &o);
  run_until_ended(f, &o);
  assert_string_equal(state_field(&o, "MYS", "outcome"), "unavailable");
  assert_int_equal(fakes[1].started, started);
  outcome_clear(&o);

  run_for(f, 1510);
  fakes[1].mode = FAKE_ANSWER;
  fakes[1].delay_ms = 50;
  outcome probe = {0}, other = {0};
  start(f, "urgent", "MYS", &probe);
  start_as(f, &analyst2, "urgent", "MYS", &whole, &other);
  assert_int_equal(fakes[1].started, started + 1);
  assert_breaker(f, "MYS", "half_open");
  run_until_ended(f, &other);
  assert_string_equal(state_field(&other, "MYS", "outcome"), "unavailable");
  run_until_ended(f, &probe);
  assert_string_equal(state_field(&probe, "MYS", "outcome"), "shared");
  assert_breaker(f, "MYS", "closed");
  outcome_clear(&probe);
  outcome_clear(&other);

  /* Closed again: legs go out. */
  outcome after = {0};
  start(f, "urgent", "MYS", &after);
  assert_int_equal(fakes[1].started, started + 2);
  run_until_ended(f, &after);
  assert_string_equal(state_field(&after, "MYS", "outcome"), "shared");
  outcome_clear(&after);
  fixture_free(f);
}

/* A failed probe opens the breaker again at once, for another open_ms. */
static void test_breaker_half_open_failure(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  open_breaker(f);
  run_for(f, 1510);
  unsigned started = fakes[1].started;
  outcome probe = {0};
  start(f, "urgent", "MYS", &probe);
  assert_int_equal(fakes[1].started, started + 1);
  run_until_ended(f, &probe);
  assert_string_equal(state_field(&probe, "MYS", "outcome"), "error");
  assert_breaker(f, "MYS", "open");
  outcome_clear(&probe);
  outcome o = {0};
  start(f, "urgent", "MYS", &o);
  run_until_ended(f, &o);
  assert_string_equal(state_field(&o, "MYS", "outcome"), "unavailable");
  assert_int_equal(fakes[1].started, started + 1);
  outcome_clear(&o);
  fixture_free(f);
}

static void two_searches(fb_config *cfg) { cfg->limits.concurrency = 2; }

/* limits.concurrency: the next search gets 429 with Retry-After; a cancel frees a slot. */
static void test_concurrency_limit(void **st) {
  (void)st;
  fixture *f = fixture_new(two_searches);
  fakes[1].mode = FAKE_HANG;
  outcome a = {0}, b = {0}, c = {0}, d = {0};
  start(f, "routine", "MYS", &a);
  start_as(f, &analyst2, "routine", "MYS", &whole, &b);
  start(f, "routine", "MYS", &c);
  assert_true(a.admitted && b.admitted);
  assert_false(c.admitted);
  assert_true(c.failed);
  assert_int_equal(c.failure.status, 429);
  assert_string_equal(c.failure.code, "overloaded");
  assert_int_equal(c.failure.retry_after_s, 1);
  assert_int_equal(fakes[1].started, 2);
  fb_search_cancel(a.s);
  start(f, "routine", "MYS", &d);
  assert_true(d.admitted);
  fb_search_cancel(b.s);
  fb_search_cancel(d.s);
  assert_int_equal(fb_search_in_flight(f->e), 0);
  outcome_clear(&a);
  outcome_clear(&b);
  outcome_clear(&c);
  outcome_clear(&d);
  fixture_free(f);
}

static void one_per_identity(fb_config *cfg) { cfg->limits.per_identity = 1; }

static void test_per_identity_limit(void **st) {
  (void)st;
  fixture *f = fixture_new(one_per_identity);
  fakes[1].mode = FAKE_HANG;
  outcome a = {0}, b = {0}, c = {0};
  start(f, "routine", "MYS", &a);
  start(f, "routine", "MYS", &b);
  start_as(f, &analyst2, "routine", "MYS", &whole, &c);
  assert_true(a.admitted);
  assert_true(b.failed);
  assert_int_equal(b.failure.status, 429);
  assert_true(c.admitted); /* another analyst is not held up */
  fb_search_cancel(a.s);
  fb_search_cancel(c.s);
  outcome_clear(&a);
  outcome_clear(&b);
  outcome_clear(&c);
  fixture_free(f);
}

static void one_leg(fb_config *cfg) {
  for (size_t i = 0; i < cfg->nstates; i++) cfg->states[i].max_legs = 1;
}

/* max_legs: a state with that many legs in flight is unavailable to the next search,
 * without a leg going out; the bound does not open the breaker. */
static void test_legs_in_flight_bound(void **st) {
  (void)st;
  fixture *f = fixture_new(one_leg);
  fakes[1].mode = FAKE_ANSWER;
  fakes[1].delay_ms = 100;
  outcome a = {0}, b = {0};
  start(f, "routine", "MYS", &a);
  start_as(f, &analyst2, "routine", "MYS,THA", &whole, &b);
  assert_int_equal(fakes[1].started, 1);
  run_until_ended(f, &b);
  assert_string_equal(state_field(&b, "MYS", "outcome"), "unavailable");
  assert_string_equal(state_field(&b, "THA", "outcome"), "shared");
  assert_false(b.complete);
  run_until_ended(f, &a);
  assert_string_equal(state_field(&a, "MYS", "outcome"), "shared");
  assert_breaker(f, "MYS", "closed");
  outcome_clear(&a);
  outcome_clear(&b);
  fixture_free(f);
}

/* A leg whose adapter cannot start (THA), among the search's legs that start together
 * (search/engine.c start_legs): an error for THA, the others answer; THA is no longer
 * counted in flight, and its breaker counts the failure (opens at the second). */
static void test_leg_that_cannot_start(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[2].mode = FAKE_REFUSE_START;
  for (int i = 0; i < 2; i++) {
    outcome o = {0};
    start(f, "routine", "MYS,THA", &o);
    run_until_ended(f, &o);
    assert_string_equal(state_field(&o, "MYS", "outcome"), "shared");
    assert_string_equal(state_field(&o, "THA", "outcome"), "error");
    assert_false(o.complete);
    assert_int_equal(legs_in_flight(f, "THA"), 0);
    assert_int_equal(legs_in_flight(f, "MYS"), 0);
    assert_breaker(f, "THA", i == 0 ? "closed" : "open");
    outcome_clear(&o);
  }
  fixture_free(f);
}

/* IDN's policy fails at run time: denied with rule policy_error, and no leg goes out. */
static void test_policy_error_fails_closed(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  outcome o = {0};
  start(f, "urgent", "IDN,MYS", &o);
  run_until_ended(f, &o);
  assert_true(o.done);
  assert_string_equal(state_field(&o, "IDN", "outcome"), "denied");
  assert_string_equal(state_field(&o, "IDN", "rule"), "policy_error");
  assert_int_equal(fakes[0].started, 0);
  assert_string_equal(state_field(&o, "MYS", "outcome"), "shared");
  assert_int_equal(o.results, 1);
  outcome_clear(&o);
  fixture_free(f);
}

/* BGD answers, but its record rules fail: nothing of it is shared (denied,
 * policy_error), and the other state's records still are. */
static void test_record_rule_error_fails_closed(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[3].nrecords = 2;
  outcome o = {0};
  start(f, "urgent", "BGD,MYS", &o);
  run_until_ended(f, &o);
  assert_true(o.done);
  assert_int_equal(fakes[3].started, 1);
  assert_string_equal(state_field(&o, "BGD", "outcome"), "denied");
  assert_string_equal(state_field(&o, "BGD", "rule"), "policy_error");
  assert_string_equal(state_field(&o, "MYS", "outcome"), "shared");
  assert_int_equal(o.results, 1);
  outcome_clear(&o);
  fixture_free(f);
}

/* An invalid body is a 400 naming the field, before admission. */
static void test_invalid_request(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  outcome o = {0};
  start(f, "whenever", "MYS", &o);
  assert_false(o.admitted);
  assert_true(o.failed);
  assert_int_equal(o.failure.status, 400);
  assert_int_equal(o.failure.retry_after_s, 0);
  assert_int_equal(fakes[1].started, 0);
  assert_int_equal(fb_search_in_flight(f->e), 0);
  outcome_clear(&o);
  fixture_free(f);
}

/* Closing the engine while several searches wait for their audit entries: they are
 * freed together, and the adapters are closed once, after the last of them. */
static void test_close_while_searches_finish(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  fakes[1].mode = FAKE_HANG;
  outcome o[3] = {{0}};
  for (size_t i = 0; i < 3; i++) start_as(f, i == 1 ? &analyst2 : &analyst, "routine", "MYS", &whole, &o[i]);
  for (size_t i = 0; i < 3; i++) fb_search_cancel(o[i].s);
  assert_int_equal(fakes[1].cancelled, 3);
  for (size_t i = 0; i < 3; i++) outcome_clear(&o[i]);
  fixture_free(f); /* closes the engine at once; fails if an adapter is closed twice */
}

/* A new engine on the same audit log, as after a restart. */
static void restart_engine(fixture *f) {
  bool closed = false;
  fb_search_engine_close(f->e, set_flag, &closed);
  run_until(f, &closed);
  fb_metrics_reset(); /* the old engine's gauges point into it */
  char *err = NULL;
  f->e = fb_search_engine_new(&f->loop, &f->cfg, f->policies, f->audit, &err);
  if (!f->e) fail_msg("engine: %s", err);
}

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

static json_int_t stats_count(json_t *body, const char *to, const char *want) {
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(body, "stats"), i, row) {
    if (strcmp(json_string_value(json_object_get(row, "to")), to) == 0 &&
        strcmp(json_string_value(json_object_get(row, "outcome")), want) == 0)
      return json_integer_value(json_object_get(row, "count"));
  }
  return 0;
}

/* Statistics survive a restart: the replay reads the log on a worker (the loop goes
 * on), GET /v1/stats waits for it, and a withdrawn wait is not called. */
static void test_stats_replay_off_loop(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  for (int i = 0; i < 2; i++) {
    outcome o = {0};
    start(f, "urgent", "IDN,MYS", &o);
    run_until_ended(f, &o);
    outcome_clear(&o);
  }
  restart_engine(f);
  json_t *empty = fb_search_stats_json(f->e);
  assert_int_equal(json_array_size(json_object_get(empty, "stats")), 0);
  json_decref(empty);

  fb_search_engine_replay_stats(f->e);
  stats_seen seen = {0}, withdrawn = {0};
  fb_stats_wait *w = fb_search_stats_when_ready(f->e, stats_ready, &seen);
  fb_stats_wait *w2 = fb_search_stats_when_ready(f->e, stats_ready, &withdrawn);
  /* Not answered on the spot: the replay is on a worker, its result comes back through
   * the loop. */
  assert_non_null(w);
  assert_non_null(w2);
  assert_false(seen.called);
  fb_search_stats_wait_cancel(w2);
  run_until(f, &seen.called);
  assert_false(withdrawn.called);
  assert_int_equal(stats_count(seen.body, "MYS", "shared"), 2);
  assert_int_equal(stats_count(seen.body, "IDN", "denied"), 2);
  json_decref(seen.body);

  /* Replayed once: later waits are answered at once, and new searches add to it. */
  outcome o = {0};
  start(f, "urgent", "MYS", &o);
  run_until_ended(f, &o);
  outcome_clear(&o);
  stats_seen now = {0};
  assert_null(fb_search_stats_when_ready(f->e, stats_ready, &now));
  assert_true(now.called);
  assert_int_equal(stats_count(now.body, "MYS", "shared"), 3);
  json_decref(now.body);
  fixture_free(f);
}

/* Closing the engine while the replay is queued or running: it is waited for (or
 * dropped), its waiters are not called, and every handle is closed. */
static void test_close_during_replay(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  outcome o = {0};
  start(f, "urgent", "MYS", &o);
  run_until_ended(f, &o);
  outcome_clear(&o);
  restart_engine(f);
  fb_search_engine_replay_stats(f->e);
  stats_seen seen = {0};
  assert_non_null(fb_search_stats_when_ready(f->e, stats_ready, &seen));
  fixture_free(f);
  assert_false(seen.called);
}

/* A worker's engine (hub/workers.c) shares the main engine's state: searches in flight
 * on both count against one limits.concurrency, a state failing through the worker's
 * adapters opens the breaker the main engine sees (and refuses its legs), and both
 * report the same statistics. (Here both run on one loop: what is shared is state.) */
static void test_worker_engine_shares_state(void **st) {
  (void)st;
  fixture *f = fixture_new(two_searches);
  char *err = NULL;
  fb_search_engine *w = fb_search_engine_new_worker(&f->loop, f->e, &err);
  if (!w) fail_msg("worker engine: %s", err);
  fb_search_engine *main_engine = f->e;

  fakes[1].mode = FAKE_HANG;
  outcome a = {0}, b = {0}, c = {0};
  start(f, "routine", "MYS", &a);
  f->e = w;
  start_as(f, &analyst2, "routine", "MYS", &whole, &b);
  f->e = main_engine;
  assert_true(a.admitted && b.admitted);
  assert_int_equal(fb_search_in_flight(main_engine), 2);
  assert_int_equal(fb_search_in_flight(w), 2);
  start(f, "routine", "MYS", &c); /* the main engine's own count is 1: the limit is shared */
  assert_true(c.failed);
  assert_int_equal(c.failure.status, 429);
  assert_int_equal(legs_in_flight(f, "MYS"), 2);
  fb_search_cancel(a.s);
  fb_search_cancel(b.s);
  assert_int_equal(fb_search_in_flight(main_engine), 0);
  outcome_clear(&a);
  outcome_clear(&b);
  outcome_clear(&c);

  /* breaker.failures = 2, both failures through the worker's engine. */
  f->e = w;
  open_breaker(f);
  f->e = main_engine;
  assert_breaker(f, "MYS", "open");
  unsigned started = fakes[1].started;
  outcome o = {0};
  start(f, "urgent", "MYS", &o);
  run_until_ended(f, &o);
  assert_string_equal(state_field(&o, "MYS", "outcome"), "unavailable");
  assert_int_equal(fakes[1].started, started);
  outcome_clear(&o);

  json_t *sm = fb_search_stats_json(main_engine), *sw = fb_search_stats_json(w);
  assert_true(json_equal(sm, sw));
  char *text = json_dumps(sm, JSON_COMPACT);
  assert_non_null(strstr(text, "\"MYS\"")); /* the worker's searches are in it */
  free(text);
  json_decref(sm);
  json_decref(sw);

  bool closed = false;
  fb_search_engine_close(w, set_flag, &closed);
  run_until(f, &closed);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_answer),
      cmocka_unit_test(test_compact_and_jansson_records),
      cmocka_unit_test(test_state_lines_before_answer),
      cmocka_unit_test(test_deadline_per_priority),
      cmocka_unit_test(test_adapter_timeout_is_timeout),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_held_leg),
      cmocka_unit_test(test_search_phase_gauges),
      cmocka_unit_test(test_breaker_half_open_success),
      cmocka_unit_test(test_breaker_half_open_failure),
      cmocka_unit_test(test_concurrency_limit),
      cmocka_unit_test(test_per_identity_limit),
      cmocka_unit_test(test_legs_in_flight_bound),
      cmocka_unit_test(test_leg_that_cannot_start),
      cmocka_unit_test(test_policy_error_fails_closed),
      cmocka_unit_test(test_record_rule_error_fails_closed),
      cmocka_unit_test(test_invalid_request),
      cmocka_unit_test(test_close_while_searches_finish),
      cmocka_unit_test(test_stats_replay_off_loop),
      cmocka_unit_test(test_close_during_replay),
      cmocka_unit_test(test_worker_engine_shares_state),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
