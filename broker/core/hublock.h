/* The hub lock: how several event-loop threads (`workers`) share one hub.
 *
 * With workers > 1 every loop thread holds this one lock while it runs callbacks and
 * lets go of it while it waits for I/O (fb_hublock_run), so the hub's shared state —
 * policies and their Lua states, the audit handle, the follow-up store, identities,
 * breakers, statistics, metrics, connection limits — is only ever touched by one
 * thread at a time, exactly as with one loop. Work on data that no other thread can
 * reach (parsing a node's answer, serialising a response) runs between
 * fb_hublock_yield and fb_hublock_resume, in parallel on every core.
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

/* Times the lock was taken after a wait (another thread held it): contention, for
 * /metrics. */
unsigned long long fb_hublock_contended(void);

#endif
