/* Internals of the node module shared by node.c (lifecycle), pool.c (database handles),
 * search.c (POST /search), stats.c (counters, /healthz, /stats) and reset.c (the raw
 * listener of --mode reset). Nothing outside broker/node includes this. */
#ifndef FB_NODE_INTERNAL_H
#define FB_NODE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "records/sqlite_db.h"
#include "config/config.h"
#include "net/router.h"
#include "net/server.h"
#include "node/node.h"

/* pool.c: a fixed set of database handles shared by the thread-pool workers. A handle
 * is used by one thread at a time (sqlite_db.h); acquire blocks while all are taken. */
typedef struct fb_node_pool fb_node_pool;
int fb_node_pool_open(const char *path, unsigned n, fb_node_pool **out, char **err);
fb_sqlite_db *fb_node_pool_acquire(fb_node_pool *p);
void fb_node_pool_release(fb_node_pool *p, fb_sqlite_db *db);
/* Every handle must have been released. */
void fb_node_pool_close(fb_node_pool *p);

/* reset.c: a bare TCP listener for --mode reset. It answers GET /healthz and
 * GET /stats over HTTP/1.1, counts search requests once their body has arrived, and
 * resets (RST) every other connection without a byte of answer. */
typedef struct fb_node_reset fb_node_reset;
int fb_node_reset_start(fb_node *node, const char *address, fb_node_reset **out, char **err);
int fb_node_reset_port(const fb_node_reset *r);
/* Closes the listener and every connection; `done` runs when all handles are closed. */
void fb_node_reset_stop(fb_node_reset *r, void (*done)(void *data), void *data);

struct fb_node {
  uv_loop_t *loop;
  fb_node_options opt;     /* its strings point into `own` */
  struct { char *data, *listen, *tls_cert, *tls_key, *tls_client_ca; } own;
  fb_config cfg;           /* only `listen` and `limits` matter: the fb_server's config */
  fb_router *router;
  fb_server *server;       /* NULL in reset mode */
  fb_node_reset *reset;    /* reset mode only */
  fb_node_pool *pool;
  uv_signal_t sig_term, sig_int;
  bool signals_on;
  bool stopping;
  unsigned jobs;           /* searches not yet finished (work or timer outstanding) */

  /* Loop thread only. */
  uint64_t rng;            /* splitmix64 state for --fail-rate */
  uint64_t requests;       /* search requests received, whatever their fate */
  json_t *by_purpose;      /* purpose -> count, for requests that named one */

  /* Built at start so the hot path only copies them. */
  char *oversized;         /* FB_NODE_OVERSIZED_BYTES of valid JSON, oversized mode */
  size_t oversized_len;
};

/* stats.c */
void fb_node_count(fb_node *node, const json_t *body);
json_t *fb_node_stats_json(const fb_node *node);
void fb_node_routes_stats(fb_node *node);

/* search.c */
void fb_node_routes_search(fb_node *node);
/* Uniform draw in [0, 1) from the node's PRNG (deterministic for a seed). */
double fb_node_draw(fb_node *node);
/* Builds node->oversized when the mode needs it. */
void fb_node_prepare_faults(fb_node *node);

#endif
