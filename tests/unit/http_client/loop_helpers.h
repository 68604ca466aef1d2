/* What the HTTP client tests share: running a loop under a watchdog, and the close
 * callback that counts. */
#ifndef FB_TESTS_HTTP_CLIENT_LOOP_HELPERS_H
#define FB_TESTS_HTTP_CLIENT_LOOP_HELPERS_H

#include <unistd.h>

#include <uv.h>

/* Runs `loop` until it has nothing left; a test that hangs is killed after 30 s. */
static inline void run(uv_loop_t *loop) {
  alarm(30);
  uv_run(loop, UV_RUN_DEFAULT);
  alarm(0);
}

/* A client's `closed` callback: counts into the int at `data`. */
static inline void closed_cb(void *data) { (*(int *)data)++; }

#endif
