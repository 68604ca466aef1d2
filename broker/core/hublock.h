/* The hub lock: how several event-loop threads (`workers`) share one hub.
 *
 * With workers > 1 a loop thread holds this one lock while libuv dispatches its
 * callbacks (fb_hublock_run) and lets go of it while it waits for I/O, so the hub's
 * shared state — the policy store, the audit handle, the follow-up
 * store, identities, breakers, the token cache — is only ever touched by
 * one thread at a time, exactly as with one loop; a callback that is not known to be
 * safe without it therefore runs under it.
 *
 * The hot callbacks that work on a loop's private data let go of it
 * (fb_hublock_yield .. fb_hublock_resume) and take it again only around the
 * application code they call (fb_hublock_enter .. fb_hublock_leave): reading and
 * parsing client connections (TLS, HTTP/1.1, nghttp2) until a request is dispatched,
 * sending HTTP/2 frames, curl's socket work and the parse of node answers until a
 * leg's completion, serialising a JSON answer, the merge, a search's policy decisions
 * (a policy's Lua state has a lock of its own) and its statistics (their own lock).
 * Those regions run in parallel on every core.
 *
 * A thread that finds the lock taken spins a few microseconds before it sleeps (the
 * sections are short; hublock.c).
 *
 * With one worker the lock is never enabled and every call below is a no-op: the loop
 * runs as plain uv_run. */
#ifndef FB_CORE_HUBLOCK_H
#define FB_CORE_HUBLOCK_H

#include <stdbool.h>
#include <uv.h>

/* Turns the lock on for the process (before the second loop thread starts). */
void fb_hublock_enable(void);
bool fb_hublock_enabled(void);

/* Taken and let go by a thread that is not running a loop under fb_hublock_run. */
void fb_hublock_lock(void);
void fb_hublock_unlock(void);

/* Runs `loop` until it has nothing left to do (uv_run UV_RUN_DEFAULT), holding the lock
 * for its callbacks and releasing it while it polls. */
int fb_hublock_run(uv_loop_t *loop);

/* Lets the other loop threads run while this one works on private data. Returns true
 * when the lock was released (pass it to fb_hublock_resume); false on a thread that
 * does not hold it (a libuv pool thread, or the lock is off). */
bool fb_hublock_yield(void);
void fb_hublock_resume(bool yielded);

/* From inside a region that let go of the lock: takes it for application code.
 * Returns true when it was taken here (pass it to fb_hublock_leave); false when this
 * thread holds it already or the lock is off. */
bool fb_hublock_enter(void);
void fb_hublock_leave(bool entered);

/* True when this thread may touch shared state: it holds the lock, or the lock is off. */
bool fb_hublock_held(void);
/* Logs and aborts when fb_hublock_held() is false: a missed entry point is a bug that
 * must show in the tests (workers = 4), not a silent race. One atomic load and one
 * thread-local read. */
void fb_hublock_assert_held_at(const char *where);
#define fb_hublock_assert_held() fb_hublock_assert_held_at(__func__)

/* Times the lock was taken after a wait (another thread held it): contention; and
 * times it was taken at all. For /metrics. */
unsigned long long fb_hublock_contended(void);
unsigned long long fb_hublock_acquired(void);
/* Seconds the lock was held, summed over the threads: against wall time, the share of
 * the hub's work that is still serialised. */
double fb_hublock_held_seconds(void);

#endif
