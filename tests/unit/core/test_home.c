/* Loop mailboxes: a call posted from another thread runs on the home loop's thread, in
 * order; closing waits until every held completion was delivered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <uv.h>

#include "core/home.h"

#define POSTS 100

typedef struct {
  fb_home *home;
  uv_thread_t loop_thread;
  int seen[POSTS];
  int nseen;
  bool wrong_thread;
  bool closed;
} box;

typedef struct {
  box *b;
  int n;
} msg;

static void on_msg(void *arg) {
  msg *m = arg;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &m->b->loop_thread)) m->b->wrong_thread = true;
  m->b->seen[m->b->nseen++] = m->n;
  if (m->n == POSTS - 1) fb_home_close(m->b->home, NULL, NULL);
}

static msg msgs[POSTS];

static void poster(void *arg) {
  box *b = arg;
  for (int i = 0; i < POSTS; i++) {
    msgs[i] = (msg){b, i};
    fb_home_post(b->home, on_msg, &msgs[i]);
  }
}

static void test_posts_run_on_home_thread_in_order(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  box b = {0};
  b.loop_thread = uv_thread_self();
  b.home = fb_home_open(&loop);
  assert_ptr_equal(fb_home_current(), b.home);
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, poster, &b), 0);
  uv_run(&loop, UV_RUN_DEFAULT); /* ends when the last message closed the home */
  uv_thread_join(&t);
  assert_false(b.wrong_thread);
  assert_int_equal(b.nseen, POSTS);
  for (int i = 0; i < POSTS; i++) assert_int_equal(b.seen[i], i);
  assert_null(fb_home_current()); /* freed with its handle */
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A completion held for later keeps the home open past fb_home_close. */
typedef struct {
  fb_home *home;
  bool delivered, closed_before_delivery, closed;
} held;

static void on_closed(void *arg) {
  held *h = arg;
  h->closed = true;
}

static void on_delivered(void *arg) {
  held *h = arg;
  if (h->closed) h->closed_before_delivery = true;
  h->delivered = true;
  fb_home_release(h->home);
}

static void deliverer(void *arg) {
  held *h = arg;
  uv_sleep(50); /* the loop has been asked to close by now */
  fb_home_post(h->home, on_delivered, h);
}

static void test_close_waits_for_holds(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  held h = {0};
  h.home = fb_home_open(&loop);
  fb_home_hold(h.home);
  assert_int_equal(fb_home_held(h.home), 1);
  fb_home_close(h.home, on_closed, &h);
  assert_false(h.closed);
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, deliverer, &h), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_thread_join(&t);
  assert_true(h.delivered);
  assert_true(h.closed);
  assert_false(h.closed_before_delivery);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_posts_run_on_home_thread_in_order),
      cmocka_unit_test(test_close_waits_for_holds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
