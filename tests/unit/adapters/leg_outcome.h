/* What adapter tests record of a leg: the callback's arguments, and a counter for
 * adapters closed; and one leg run start to finish. Shared by the adapter tests (one
 * copy instead of five). */
#ifndef FB_TEST_LEG_OUTCOME_H
#define FB_TEST_LEG_OUTCOME_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <jansson.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "core/util.h"

typedef struct {
  int calls, status;
  json_t *records;
  char error[512];
} outcome;

/* fb_leg_done_cb: `data` is an outcome. */
static inline void done_cb(void *data, int status, json_t *records, const char *error) {
  outcome *o = data;
  o->calls++;
  o->status = status;
  o->records = records;
  if (error) snprintf(o->error, sizeof o->error, "%s", error);
}

/* fb_adapter_close's callback: `data` is an int counter. */
static inline void closed_cb(void *data) { (*(int *)data)++; }

/* Opens an adapter for `cfg` on a loop of its own, runs one leg of `req` to completion
 * (within 10 s; the adapter's kind is cfg->adapter), closes the adapter and checks that every handle closed. */
static inline outcome run_one_leg(const fb_state_config *cfg, const fb_leg_request *req) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a;
  char *err = NULL;
  if (fb_adapter_open(&loop, cfg, &a, &err) != 0) fail_msg("open: %s", err);
  assert_string_equal(fb_adapter_kind(a), cfg->adapter);
  outcome o = {0};
  fb_leg *leg;
  double t0 = fb_now_ms();
  assert_int_equal(fb_adapter_start(a, req, done_cb, &o, &leg), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_true(fb_now_ms() - t0 < 10000);
  assert_int_equal(o.calls, 1);
  int closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0); /* every handle closed */
  return o;
}

#endif
