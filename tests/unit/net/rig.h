/* An in-process test rig for the HTTP sessions (tests/unit/net/support_rig.c, linked
 * into every net unit test): a real fb_server on a real uv loop in this thread, listening
 * on a free loopback port, and plain client sockets driven by the test. While the test
 * waits for bytes or for a condition, the rig runs the loop, so the server and the
 * client take turns in one thread: no second thread, no sleeps, every wait bounded. */
#ifndef FB_TEST_NET_RIG_H
#define FB_TEST_NET_RIG_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "config/config.h"
#include "core/util.h"
#include "net/internal.h"

/* How long any wait may take before the test fails (the machine may be loaded). */
#define RIG_WAIT_MS 10000

typedef struct {
  uv_loop_t loop;
  fb_config cfg;
  fb_listen_config listen;
  fb_router *router;
  fb_server *srv;
  int port;
  /* What the routes saw. */
  unsigned hits;           /* requests that reached a handler */
  fb_request *held;        /* the request /hold keeps unanswered */
  unsigned aborted;        /* abort callbacks run for /hold */
  bool stopping, stopped;
} net_rig;

/* The rig the tests of one executable share (one test at a time). */
extern net_rig rig;

/* cmocka setup/teardown: rig_start with rig_default_limits, rig_stop. */
int rig_setup(void **state);
int rig_teardown(void **state);
/* Restarts the rig with the default limits as changed by `tune`. */
void rig_restart(void (*tune)(fb_limits *lim));
/* A tune for rig_restart: a 200 ms send timeout, and idle and header timeouts out of
 * reach, so that only the send timeout can close a connection. */
void rig_tune_send_timeout(fb_limits *lim);
/* A condition for rig_wait: no connection is open. */
bool rig_no_connections(net_rig *r, void *arg);

/* The limits every test starts from: small enough to reach in a test. */
void rig_default_limits(fb_limits *lim);

/* Starts the server with `lim` and these routes:
 *   GET  /hello        200 "hello"
 *   POST /echo         200 with the request body
 *   GET  /big?n=N      200 with N bytes, byte i being rig_big_byte(i)
 *   GET  /hold         no answer until rig_release(); counts its abort in ->aborted */
void rig_start(net_rig *r, const fb_limits *lim);
/* Byte i of a /big body: printable, with a period (89) no frame or window size is a
 * multiple of, so a chunk sent twice, skipped or out of place shows. */
char rig_big_byte(size_t i);
/* Begins the graceful stop (HTTP/2 clients get GOAWAY); rig_stop finishes it. */
void rig_stop_begin(net_rig *r);
/* Stops the server gracefully, runs the loop until it is freed, closes the loop. */
void rig_stop(net_rig *r);

/* A connected, non-blocking client socket; `rcvbuf` > 0 sets SO_RCVBUF first. */
int rig_connect(net_rig *r, int rcvbuf);
/* Runs the loop once without blocking longer than `ms`, also waking for `fd`. */
void rig_turn(net_rig *r, int fd, int ms);
/* Writes all of `data` (the loop runs while the socket is full). */
void rig_send(net_rig *r, int fd, const void *data, size_t len);
void rig_sends(net_rig *r, int fd, const char *text);
/* Reads what is there into `out`, running the loop once; true at end of stream. */
bool rig_read_some(net_rig *r, int fd, fb_buf *out);
/* As rig_read_some, reading at most `max` bytes (a slow reader). */
bool rig_read_at_most(net_rig *r, int fd, fb_buf *out, size_t max);
/* Reads until `out` contains `needle` (true) or the stream ends (false). */
bool rig_read_until(net_rig *r, int fd, fb_buf *out, const char *needle);
/* Reads until the peer closes; true when it did within RIG_WAIT_MS. */
bool rig_read_to_eof(net_rig *r, int fd, fb_buf *out);
/* Runs the loop until cond(arg) holds; false after RIG_WAIT_MS. */
bool rig_wait(net_rig *r, bool (*cond)(net_rig *r, void *arg), void *arg);
/* Runs the loop until `n` requests reached a handler; false after RIG_WAIT_MS. */
bool rig_wait_hits(net_rig *r, unsigned n);
/* Answers the request /hold kept (200 "held"). */
void rig_release(net_rig *r);
/* The one open server-side connection (the test opened exactly one), or NULL. */
net_conn *rig_conn(net_rig *r);
/* Counts occurrences of `needle` in the first `len` bytes at `hay`. */
size_t rig_count(const char *hay, size_t len, const char *needle);

#endif
