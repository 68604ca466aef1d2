/* The node's lifecycle: options to a one-listener server config, the database pool,
 * routes, signals, graceful stop. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "node/internal.h"

#define STOP_GRACE_MS 2000
#define MAX_WORKERS 128

static const char *const mode_names[] = {"ok", "invalid_json", "bad_record", "oversized",
                                         "reset", "status500", "slow"};
const char fb_node_mode_names[] = "ok, invalid_json, bad_record, oversized, reset, status500, slow";

int fb_node_mode_parse(const char *name, fb_node_mode *out) {
  for (size_t i = 0; i < FB_ARRAY_LEN(mode_names); i++) {
    if (strcmp(name, mode_names[i]) == 0) {
      *out = (fb_node_mode)i;
      return 0;
    }
  }
  return -1;
}

const char *fb_node_mode_name(fb_node_mode mode) {
  return (unsigned)mode < FB_ARRAY_LEN(mode_names) ? mode_names[mode] : "?";
}

static char *dup_or_null(const char *s) { return s ? fb_xstrdup(s) : NULL; }

static unsigned worker_count(unsigned asked) {
  unsigned n = asked;
  if (n == 0) {
    /* As many handles as the thread pool has threads: no worker ever waits for one. */
    const char *env = getenv("UV_THREADPOOL_SIZE");
    n = env ? (unsigned)strtoul(env, NULL, 10) : 4;
  }
  if (n == 0) n = 4;
  return n > MAX_WORKERS ? MAX_WORKERS : n;
}

static int check_options(const fb_node_options *o, char **err) {
  const char *msg = NULL;
  if (!o->data || !*o->data) msg = "the records database (--data) is required";
  else if (!o->listen || !*o->listen) msg = "the listen address (--listen) is required";
  else if (!(o->fail_rate >= 0 && o->fail_rate <= 1)) msg = "the fail rate must be from 0 to 1";
  else if (!o->tls_cert != !o->tls_key) msg = "TLS needs both a certificate and a key";
  else if (o->tls_client_ca && !o->tls_cert) msg = "a client CA needs TLS (a certificate and a key)";
  else if ((unsigned)o->mode >= FB_ARRAY_LEN(mode_names)) msg = "unknown fault mode";
  return msg ? fb_set_error(err, "%s", msg) : 0;
}

static void free_node(fb_node *node) {
  fb_node_pool_close(node->pool);
  fb_router_free(node->router);
  fb_config_free(&node->cfg);
  json_decref(node->by_purpose);
  free(node->oversized);
  free(node->own.data);
  free(node->own.listen);
  free(node->own.tls_cert);
  free(node->own.tls_key);
  free(node->own.tls_client_ca);
  free(node);
}

static void on_signal(uv_signal_t *s, int signum) {
  fb_info("shutdown", "signal %d: stopping", signum);
  fb_node_stop(s->data);
}

int fb_node_start(uv_loop_t *loop, const fb_node_options *opt, fb_node **out, char **err) {
  if (check_options(opt, err) != 0) return -1;
  fb_node *node = fb_xcalloc(1, sizeof *node);
  node->loop = loop;
  node->opt = *opt;
  node->opt.data = node->own.data = fb_xstrdup(opt->data);
  node->opt.listen = node->own.listen = fb_xstrdup(opt->listen);
  node->opt.tls_cert = node->own.tls_cert = dup_or_null(opt->tls_cert);
  node->opt.tls_key = node->own.tls_key = dup_or_null(opt->tls_key);
  node->opt.tls_client_ca = node->own.tls_client_ca = dup_or_null(opt->tls_client_ca);
  node->opt.workers = worker_count(opt->workers);
  node->rng = opt->seed;
  node->by_purpose = json_object();
  fb_config_defaults(&node->cfg);

  if (fb_node_pool_open(node->opt.data, node->opt.workers, &node->pool, err) != 0) goto fail;
  fb_node_prepare_faults(node);

  if (opt->mode == FB_NODE_RESET) {
    if (fb_node_reset_start(node, node->opt.listen, &node->reset, err) != 0) goto fail;
  } else {
    fb_listen_config *l = fb_xcalloc(1, sizeof *l);
    node->cfg.listen = l;
    node->cfg.nlisten = 1;
    l->address = fb_xstrdup(node->opt.listen);
    l->tls = node->opt.tls_cert != NULL;
    l->cert = dup_or_null(node->opt.tls_cert);
    l->key = dup_or_null(node->opt.tls_key);
    l->client_ca = dup_or_null(node->opt.tls_client_ca);
    l->client_cert = l->client_ca ? FB_CLIENT_CERT_REQUIRED : FB_CLIENT_CERT_NONE;
    node->router = fb_router_new();
    fb_node_routes_stats(node);
    fb_node_routes_search(node);
    node->server = fb_server_start(loop, &node->cfg, node->router, err);
    if (!node->server) goto fail;
  }

  uv_signal_init(loop, &node->sig_term);
  uv_signal_init(loop, &node->sig_int);
  node->sig_term.data = node->sig_int.data = node;
  uv_signal_start(&node->sig_term, on_signal, SIGTERM);
  uv_signal_start(&node->sig_int, on_signal, SIGINT);
  node->signals_on = true;
  fb_info("node_ready", "serving %s on port %d (mode %s, latency %u ms, fail rate %g, %u db handles%s)",
          node->opt.data, fb_node_port(node), fb_node_mode_name(opt->mode), opt->latency_ms,
          opt->fail_rate, node->opt.workers,
          node->opt.tls_client_ca ? ", client certificates required" : "");
  *out = node;
  return 0;

fail:
  free_node(node);
  return -1;
}

int fb_node_port(const fb_node *node) {
  if (node->server) return fb_server_port(node->server, 0);
  if (node->reset) return fb_node_reset_port(node->reset);
  return -1;
}

static void on_listener_stopped(void *data) {
  fb_node *node = data;
  node->server = NULL;
  node->reset = NULL;
  if (node->signals_on) {
    node->signals_on = false;
    uv_close((uv_handle_t *)&node->sig_term, NULL);
    uv_close((uv_handle_t *)&node->sig_int, NULL);
  }
}

void fb_node_stop(fb_node *node) {
  if (node->stopping) return;
  node->stopping = true;
  if (node->server) fb_server_stop(node->server, STOP_GRACE_MS, on_listener_stopped, node);
  else if (node->reset) fb_node_reset_stop(node->reset, on_listener_stopped, node);
  else on_listener_stopped(node);
}

void fb_node_free(fb_node *node) {
  if (!node) return;
  if (node->jobs) fb_warn("node_jobs_left", "%u searches still pending at exit", node->jobs);
  fb_info("node_stopped", "served %llu search requests", (unsigned long long)node->requests);
  free_node(node);
  fb_metrics_reset();
}
