/* A loop's mailbox: lets code running on another thread (or another loop) hand a
 * function call to a given event loop. Shared services that deliver completions on
 * the hub's main loop (the audit log, the follow-up store) use it to send each
 * completion back to the loop of the worker that asked (fb_home_current at the time of
 * the request). */
#ifndef FB_CORE_HOME_H
#define FB_CORE_HOME_H

#include <stddef.h>
#include <uv.h>

typedef struct fb_home fb_home;

/* Opens the mailbox of `loop` and makes it the calling thread's current one. */
fb_home *fb_home_open(uv_loop_t *loop);
/* The calling thread's mailbox, or NULL when it opened none. */
fb_home *fb_home_current(void);

/* Any thread: runs fn(arg) on the home's loop thread, soon. */
void fb_home_post(fb_home *h, void (*fn)(void *arg), void *arg);

/* On the home's own thread: runs fn(arg) once, just before its loop next waits for I/O
 * (after this iteration's callbacks), however often it is asked meanwhile with the same
 * fn and arg. Lets a shared service take the work a loop's callbacks hand it in one go
 * (the audit log wakes its writer once per iteration of a worker's loop). */
void fb_home_before_wait(fb_home *h, void (*fn)(void *arg), void *arg);

/* Counts a completion that will be posted later (hold) and that was delivered
 * (release): fb_home_close waits for the count to reach zero. */
void fb_home_hold(fb_home *h);
void fb_home_release(fb_home *h);
size_t fb_home_held(fb_home *h);

/* On the home's thread: once nothing is held, runs what is queued, closes the handle
 * and calls done(data); the home is freed after. */
void fb_home_close(fb_home *h, void (*done)(void *), void *data);

#endif
