/* fedbroker node: a simulated national node (broker/node/node.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "core/log.h"
#include "core/util.h"
#include "node/node.h"

static const char usage[] =
    "usage: fedbroker node --data FILE.db --listen ADDR [--tls CERT,KEY[,CLIENT_CA]]\n"
    "                      [--latency MS] [--fail-rate P] [--seed N] [--mode MODE]\n"
    "                      [--workers N] [--log-level LEVEL]\n"
    "  Serves a records database (fedbroker demo-data) with the national node protocol:\n"
    "  POST /search (and POST /) -> {\"records\":[...]}, GET /healthz, GET /stats.\n"
    "  --data FILE.db      the records database to serve\n"
    "  --listen ADDR       127.0.0.1:9443, [::1]:9443, 0.0.0.0:0 (HTTP/1.1 and h2c, or TLS)\n"
    "  --tls CERT,KEY[,CA] serve TLS; with CA, require a client certificate signed by it\n"
    "  --latency MS        delay every search answer by MS milliseconds (default 0)\n"
    "  --fail-rate P       answer a fraction P (0..1) of searches with 500 (default 0)\n"
    "  --seed N            seed of the fail-rate draws (default 1): same seed, same failures\n"
    "  --mode MODE         ok (default), invalid_json, bad_record, oversized, reset,\n"
    "                      status500, slow (docs/node.md)\n"
    "  --workers N         database handles and concurrent searches (default: the libuv\n"
    "                      thread pool size, 4)\n"
    "  --log-level LEVEL   debug, info (default), warn, error\n";

/* Parses an unsigned decimal in [0, max]; false on anything else. */
static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out) {
  if (!*s || *s == '-' || *s == '+' || *s == ' ') return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v > max) return false;
  *out = v;
  return true;
}

static int run(int argc, char **argv) {
  fb_node_options opt = {.seed = 1};
  char *tls = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(usage, stdout);
      free(tls);
      return 0;
    }
    bool takes_value = strcmp(a, "--data") == 0 || strcmp(a, "--listen") == 0 ||
                       strcmp(a, "--tls") == 0 || strcmp(a, "--latency") == 0 ||
                       strcmp(a, "--fail-rate") == 0 || strcmp(a, "--seed") == 0 ||
                       strcmp(a, "--mode") == 0 || strcmp(a, "--workers") == 0 ||
                       strcmp(a, "--log-level") == 0;
    if (!takes_value) {
      free(tls);
      return fb_usage_error(usage, "node: unknown argument '%s'", a);
    }
    if (i + 1 >= argc) {
      free(tls);
      return fb_usage_error(usage, "node: %s needs a value", a);
    }
    const char *v = argv[++i];
    unsigned long long n;
    const char *bad = NULL;
    if (strcmp(a, "--data") == 0) {
      opt.data = v;
    } else if (strcmp(a, "--listen") == 0) {
      opt.listen = v;
    } else if (strcmp(a, "--tls") == 0) {
      free(tls);
      tls = fb_xstrdup(v);
      char *cert = tls, *key = strchr(cert, ','), *ca = NULL;
      if (key) *key++ = '\0';
      if (key && (ca = strchr(key, ','))) *ca++ = '\0';
      if (!key || !*cert || !*key || (ca && (!*ca || strchr(ca, ','))))
        bad = "--tls takes CERT,KEY or CERT,KEY,CLIENT_CA";
      opt.tls_cert = cert;
      opt.tls_key = key;
      opt.tls_client_ca = ca;
    } else if (strcmp(a, "--latency") == 0) {
      if (parse_uint(v, 3600000, &n)) opt.latency_ms = (uint32_t)n;
      else bad = "--latency takes milliseconds from 0 to 3600000";
    } else if (strcmp(a, "--fail-rate") == 0) {
      char *end;
      errno = 0;
      double p = strtod(v, &end);
      if (errno || *end || !*v || !(p >= 0 && p <= 1)) bad = "--fail-rate takes a number from 0 to 1";
      else opt.fail_rate = p;
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_uint(v, UINT64_MAX, &n)) opt.seed = n;
      else bad = "--seed takes a non-negative integer";
    } else if (strcmp(a, "--mode") == 0) {
      if (fb_node_mode_parse(v, &opt.mode) != 0) {
        free(tls);
        return fb_usage_error(usage, "node: unknown --mode '%s' (one of %s)", v, fb_node_mode_names);
      }
    } else if (strcmp(a, "--workers") == 0) {
      if (parse_uint(v, 128, &n) && n > 0) opt.workers = (unsigned)n;
      else bad = "--workers takes an integer from 1 to 128";
    } else if (strcmp(a, "--log-level") == 0) {
      fb_log_level lvl;
      if (fb_log_parse_level(v, &lvl) == 0) fb_log_set_level(lvl);
      else bad = "--log-level takes debug, info, warn or error";
    }
    if (bad) {
      free(tls);
      return fb_usage_error(usage, "node: %s, not '%s'", bad, v);
    }
  }
  int status = 0;
  if (!opt.data) status = fb_usage_error(usage, "node: --data FILE.db is required");
  else if (!opt.listen) status = fb_usage_error(usage, "node: --listen ADDR is required");
  if (status) {
    free(tls);
    return status;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_node *node = NULL;
  char *err = NULL;
  if (fb_node_start(&loop, &opt, &node, &err) != 0) {
    fb_error("startup_failed", "%s", err);
    fprintf(stderr, "fedbroker node: %s\n", err);
    free(err);
    status = 1;
  } else {
    uv_run(&loop, UV_RUN_DEFAULT);
    fb_node_free(node);
  }
  free(tls);
  if (uv_loop_close(&loop) != 0) fb_warn("loop_not_closed", "handles still open at exit");
  return status;
}

FB_COMMAND(node_cmd, "node", "run a simulated national node (tests, benchmarks, pilot)", run)
