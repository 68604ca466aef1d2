/* The hub lock (hublock.h): one mutex, held by a loop thread while it runs callbacks,
 * except while it polls and inside the regions that let go of it. */
#include "core/hublock.h"

#include <poll.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool enabled;
static atomic_bool spin; /* more than one CPU to run on: the holder may run while we spin */
static atomic_ullong contended, acquired;
static atomic_ullong held_ns;    /* time the lock was held, all threads */
static _Thread_local bool held; /* this thread holds `mu` */
static _Thread_local uint64_t held_since;

void fb_hublock_enable(void) {
  atomic_store(&spin, uv_available_parallelism() > 1);
  atomic_store(&enabled, true);
}
bool fb_hublock_enabled(void) { return atomic_load_explicit(&enabled, memory_order_relaxed); }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* The lock is held for about a microsecond at a time (some fifteen short sections per
 * search with two workers), so a thread that finds it taken almost always gets it within a few
 * microseconds: sleeping on the futex instead costs the waiter a context switch and the
 * holder a wake-up system call, several times the wait. Spin that long, then sleep (the
 * holder may have been preempted); on a single CPU, sleep at once. */
#define SPIN_NS 4000

static bool spin_for_it(void) {
  uint64_t start = uv_hrtime();
  for (;;) {
    for (int i = 0; i < 16; i++) cpu_relax();
    if (pthread_mutex_trylock(&mu) == 0) return true;
    if (uv_hrtime() - start >= SPIN_NS) return false;
  }
}

static void take(void) {
  atomic_fetch_add_explicit(&acquired, 1, memory_order_relaxed);
  if (pthread_mutex_trylock(&mu) != 0) {
    atomic_fetch_add_explicit(&contended, 1, memory_order_relaxed);
    if (!atomic_load_explicit(&spin, memory_order_relaxed) || !spin_for_it()) pthread_mutex_lock(&mu);
  }
  held = true;
  held_since = uv_hrtime();
}

static void give(void) {
  atomic_fetch_add_explicit(&held_ns, uv_hrtime() - held_since, memory_order_relaxed);
  held = false;
  pthread_mutex_unlock(&mu);
}

void fb_hublock_lock(void) {
  if (fb_hublock_enabled() && !held) take();
}

void fb_hublock_unlock(void) {
  if (held) give();
}

/* What libuv would still do before it blocks, in UV_RUN_DEFAULT, that waiting on the
 * backend descriptor would miss:
 * - watchers that callbacks started or changed (a new connection's reads, a write that
 *   met EAGAIN, a curl socket) reach the kernel's epoll set only at the start of the
 *   next poll;
 * - prepare handles armed by callbacks (the audit log's writer kick) run just before
 *   the next poll.
 * Both queues are private fields of uv_loop_t (uv/unix.h, libuv 1.x); a queue is empty
 * when it points at itself. */
static bool queue_empty(void *const q[2]) { return q[0] == (const void *)q; }

static bool another_pass_needed(const uv_loop_t *loop) {
  return !queue_empty(loop->watcher_queue) || !queue_empty(loop->prepare_handles);
}

int fb_hublock_run(uv_loop_t *loop) {
  if (!fb_hublock_enabled()) return uv_run(loop, UV_RUN_DEFAULT);
  take();
  int alive;
  /* The embedding pattern of libuv: poll its backend descriptor ourselves (unlocked),
   * then let uv_run dispatch what is ready without blocking (locked). */
  while ((alive = uv_run(loop, UV_RUN_NOWAIT)) != 0) {
    if (another_pass_needed(loop)) continue;
    int timeout = uv_backend_timeout(loop);
    if (timeout == 0) continue;
    struct pollfd p = {.fd = uv_backend_fd(loop), .events = POLLIN};
    give();
    (void)poll(&p, 1, timeout);
    take();
  }
  give();
  return alive;
}

bool fb_hublock_enter(void) {
  if (held || !fb_hublock_enabled()) return false;
  take();
  return true;
}

void fb_hublock_leave(bool entered) {
  if (entered) give();
}

bool fb_hublock_held(void) { return held || !fb_hublock_enabled(); }

void fb_hublock_assert_held_at(const char *where) {
  if (fb_hublock_held()) return;
  fb_error("hublock_not_held", "%s touched shared state without the hub lock", where);
  abort();
}

bool fb_hublock_yield(void) {
  if (!held) return false;
  give();
  return true;
}

void fb_hublock_resume(bool yielded) {
  if (yielded) take();
}

unsigned long long fb_hublock_contended(void) { return atomic_load_explicit(&contended, memory_order_relaxed); }
unsigned long long fb_hublock_acquired(void) { return atomic_load_explicit(&acquired, memory_order_relaxed); }
double fb_hublock_held_seconds(void) { return (double)atomic_load_explicit(&held_ns, memory_order_relaxed) / 1e9; }
