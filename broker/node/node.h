/* A simulated national node (`fedbroker node`): serves one sqlite records database
 * over the national node protocol of API.md (POST /search, also POST /, answering
 * {"records":[...]}), plus GET /healthz and GET /stats, over HTTP/1.1 and h2c, or
 * TLS with optional required client certificates. It exists for tests, benchmarks
 * and the docker pilot, so it can also misbehave on purpose: added latency, a
 * deterministic fraction of 500s, and fault modes (docs/node.md).
 *
 * Threads: everything runs on the loop thread except the database searches, which run
 * on the libuv thread pool, each with its own database handle from a small pool.
 *
 * Errors: functions that can fail return -1 and set *err to a malloc'd sentence
 * (caller frees). */
#ifndef FB_NODE_NODE_H
#define FB_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef enum {
  FB_NODE_OK = 0,         /* answer honestly */
  FB_NODE_INVALID_JSON,   /* 200 with a truncated JSON body */
  FB_NODE_BAD_RECORD,     /* 200 with records that have no "id" */
  FB_NODE_OVERSIZED,      /* 200 with a valid JSON body of 9 MiB */
  FB_NODE_RESET,          /* searches: the connection is reset without an answer */
  FB_NODE_STATUS500,      /* every search answers 500 */
  FB_NODE_SLOW,           /* every search waits FB_NODE_SLOW_MS (or --latency if larger) */
} fb_node_mode;

#define FB_NODE_SLOW_MS 60000u
#define FB_NODE_OVERSIZED_BYTES (9u * 1024 * 1024)
#define FB_NODE_MAX_LIMIT 1000
#define FB_NODE_DEFAULT_LIMIT 100

typedef struct {
  const char *data;            /* path of the records database (required) */
  const char *listen;          /* "127.0.0.1:9443", "[::1]:0" (required) */
  const char *tls_cert;        /* PEM paths; NULL for cleartext */
  const char *tls_key;
  const char *tls_client_ca;   /* when set, a client certificate signed by it is required */
  uint32_t latency_ms;         /* added to every search answer */
  double fail_rate;            /* 0..1: fraction of searches answered 500 */
  uint64_t seed;               /* seeds the fail-rate PRNG */
  fb_node_mode mode;
  unsigned workers;            /* database handles; 0 = UV_THREADPOOL_SIZE or 4 */
} fb_node_options;

/* "ok", "invalid_json", ... -> mode. Returns 0, or -1 on an unknown name. */
int fb_node_mode_parse(const char *name, fb_node_mode *out);
const char *fb_node_mode_name(fb_node_mode mode);
/* The accepted names, comma-separated, for usage and error messages. */
extern const char fb_node_mode_names[];

typedef struct fb_node fb_node;

/* Opens the database, binds the listener, and installs SIGTERM/SIGINT handlers that
 * stop the node. The options' strings are copied. On failure returns -1 with *err, and
 * nothing is left on the loop. */
int fb_node_start(uv_loop_t *loop, const fb_node_options *opt, fb_node **out, char **err);

/* The port actually bound (useful with port 0). */
int fb_node_port(const fb_node *node);

/* Graceful stop: stop accepting, let answers in flight finish for a short grace, then
 * close every handle. Safe to call twice. */
void fb_node_stop(fb_node *node);

/* Frees the node; call after the loop has run dry following fb_node_stop. */
void fb_node_free(fb_node *node);

#endif
