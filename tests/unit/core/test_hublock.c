/* The hub lock: off, it is plain uv_run and yields nothing; on, two loop threads never
 * run callbacks at the same time, a yield lets the other thread in, and application
 * code entered from a yielded region (fb_hublock_enter) is again never run by two
 * threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <uv.h>

#include "core/hublock.h"

#define TICKS 300

typedef struct {
  uv_loop_t loop;
  uv_idle_t idle; /* runs every iteration: both threads always want the lock */
  int ticks;
} looper;

/* Shared by the two loop threads: plain (not atomic) on purpose. The lock is what keeps
 * them apart; ThreadSanitizer would report a race here if it did not. */
static int inside;
static int overlaps;
static long total;

static void spin_us(long us) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do clock_gettime(CLOCK_MONOTONIC, &b);
  while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static void on_tick(uv_idle_t *t) {
  looper *l = t->data;
  if (inside) overlaps++;
  inside = 1;
  long before = total;
  spin_us(50); /* a window in which the other thread would step in without the lock */
  total = before + 1;
  inside = 0;
  if (++l->ticks == TICKS) uv_close((uv_handle_t *)t, NULL);
}

static void looper_start(looper *l) {
  uv_loop_init(&l->loop);
  uv_idle_init(&l->loop, &l->idle);
  l->idle.data = l;
  l->ticks = 0;
  uv_idle_start(&l->idle, on_tick);
}

static void run_thread(void *arg) {
  looper *l = arg;
  fb_hublock_run(&l->loop);
}

static void test_off_is_plain(void **state) {
  (void)state;
  assert_false(fb_hublock_enabled());
  assert_false(fb_hublock_yield()); /* nothing held: nothing to give back */
  assert_false(fb_hublock_enter()); /* nothing to take */
  assert_true(fb_hublock_held());   /* off: every thread may touch everything */
  looper l;
  looper_start(&l);
  assert_int_equal(fb_hublock_run(&l.loop), 0);
  assert_int_equal(l.ticks, TICKS);
  assert_int_equal(uv_loop_close(&l.loop), 0);
}

static void test_two_loops_take_turns(void **state) {
  (void)state;
  fb_hublock_enable();
  inside = overlaps = 0;
  total = 0;
  looper a, b;
  looper_start(&a);
  looper_start(&b);
  uv_thread_t ta, tb;
  assert_int_equal(uv_thread_create(&ta, run_thread, &a), 0);
  assert_int_equal(uv_thread_create(&tb, run_thread, &b), 0);
  uv_thread_join(&ta);
  uv_thread_join(&tb);
  assert_int_equal(overlaps, 0);
  assert_int_equal(total, 2 * TICKS); /* no increment lost */
  assert_int_equal(uv_loop_close(&a.loop), 0);
  assert_int_equal(uv_loop_close(&b.loop), 0);
}

/* A callback that yields lets another thread take the lock meanwhile. */
static atomic_int other_got_in;
static atomic_bool yielded_now;

static void other_thread(void *arg) {
  (void)arg;
  while (!atomic_load(&yielded_now)) spin_us(100);
  fb_hublock_lock();
  atomic_store(&other_got_in, 1);
  fb_hublock_unlock();
}

static void on_yielding_tick(uv_timer_t *t) {
  bool y = fb_hublock_yield();
  assert_true(y); /* a loop thread under fb_hublock_run holds the lock */
  atomic_store(&yielded_now, true);
  for (int i = 0; i < 5000 && !atomic_load(&other_got_in); i++) spin_us(1000);
  fb_hublock_resume(y);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_yield_lets_others_in(void **state) {
  (void)state;
  fb_hublock_enable();
  uv_loop_t loop;
  uv_timer_t t;
  uv_loop_init(&loop);
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, on_yielding_tick, 0, 0);
  uv_thread_t other;
  assert_int_equal(uv_thread_create(&other, other_thread, NULL), 0);
  fb_hublock_run(&loop);
  uv_thread_join(&other);
  assert_int_equal(atomic_load(&other_got_in), 1);
  assert_false(fb_hublock_yield()); /* fb_hublock_run let go of it when it returned */
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A callback that works unlocked and enters for its shared part, as on_read does. */
static atomic_int held_wrong;

static void on_entering_tick(uv_idle_t *t) {
  looper *l = t->data;
  if (!fb_hublock_held()) atomic_fetch_add(&held_wrong, 1); /* callbacks start locked */
  bool y = fb_hublock_yield();
  if (!y || fb_hublock_held()) atomic_fetch_add(&held_wrong, 1);
  spin_us(20); /* private work: both threads may be here at once */
  bool e = fb_hublock_enter();
  if (!e || !fb_hublock_held()) atomic_fetch_add(&held_wrong, 1);
  if (fb_hublock_enter()) atomic_fetch_add(&held_wrong, 1); /* nested: already held */
  if (inside) overlaps++;
  inside = 1;
  long before = total;
  spin_us(30);
  total = before + 1;
  inside = 0;
  fb_hublock_leave(e);
  fb_hublock_resume(y);
  if (++l->ticks == TICKS) uv_close((uv_handle_t *)t, NULL);
}

static void test_enter_from_yielded_regions(void **state) {
  (void)state;
  fb_hublock_enable();
  inside = overlaps = 0;
  total = 0;
  atomic_store(&held_wrong, 0);
  looper a, b;
  looper_start(&a);
  looper_start(&b);
  uv_idle_stop(&a.idle); /* a started idle keeps its callback: restart it */
  uv_idle_stop(&b.idle);
  uv_idle_start(&a.idle, on_entering_tick);
  uv_idle_start(&b.idle, on_entering_tick);
  unsigned long long before = fb_hublock_acquired();
  uv_thread_t ta, tb;
  assert_int_equal(uv_thread_create(&ta, run_thread, &a), 0);
  assert_int_equal(uv_thread_create(&tb, run_thread, &b), 0);
  uv_thread_join(&ta);
  uv_thread_join(&tb);
  assert_int_equal(atomic_load(&held_wrong), 0);
  assert_int_equal(overlaps, 0);
  assert_int_equal(total, 2 * TICKS);
  /* Each tick took it at least twice: the pass, and the entry. */
  assert_true(fb_hublock_acquired() - before >= 4 * TICKS);
  assert_true(fb_hublock_held_seconds() > 0);
  assert_false(fb_hublock_held()); /* this thread runs no loop and took nothing */
  assert_int_equal(uv_loop_close(&a.loop), 0);
  assert_int_equal(uv_loop_close(&b.loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_off_is_plain), /* first: the lock cannot be turned off again */
      cmocka_unit_test(test_two_loops_take_turns),
      cmocka_unit_test(test_yield_lets_others_in),
      cmocka_unit_test(test_enter_from_yielded_regions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
