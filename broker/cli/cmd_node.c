/* fedbroker node: a simulated national node (broker/node/node.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
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

/* Applies one option's value to *opt; NULL, or what is wrong with the value. */
static const char *apply(int c, const char *v, fb_node_options *opt, char **tls) {
  unsigned long long n;
  switch (c) {
  case 'd': opt->data = v; return NULL;
  case 'l': opt->listen = v; return NULL;
  case 't': {
    free(*tls);
    *tls = fb_xstrdup(v);
    char *cert = *tls, *key = strchr(cert, ','), *ca = NULL;
    if (key) *key++ = '\0';
    if (key && (ca = strchr(key, ','))) *ca++ = '\0';
    opt->tls_cert = cert;
    opt->tls_key = key;
    opt->tls_client_ca = ca;
    if (!key || !*cert || !*key || (ca && (!*ca || strchr(ca, ','))))
      return "--tls takes CERT,KEY or CERT,KEY,CLIENT_CA";
    return NULL;
  }
  case 'L':
    if (!parse_uint(v, 3600000, &n)) return "--latency takes milliseconds from 0 to 3600000";
    opt->latency_ms = (uint32_t)n;
    return NULL;
  case 'f': {
    char *end;
    errno = 0;
    double p = strtod(v, &end);
    if (errno || *end || !*v || !(p >= 0 && p <= 1)) return "--fail-rate takes a number from 0 to 1";
    opt->fail_rate = p;
    return NULL;
  }
  case 's':
    if (!parse_uint(v, UINT64_MAX, &n)) return "--seed takes a non-negative integer";
    opt->seed = n;
    return NULL;
  case 'w':
    if (!parse_uint(v, 128, &n) || n == 0) return "--workers takes an integer from 1 to 128";
    opt->workers = (unsigned)n;
    return NULL;
  case 'g': {
    fb_log_level lvl;
    if (fb_log_parse_level(v, &lvl) != 0) return "--log-level takes debug, info, warn or error";
    fb_log_set_level(lvl);
    return NULL;
  }
  }
  return "unexpected option"; /* not reached: run() passes only the codes above */
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {
      {"data", required_argument, 0, 'd'},      {"listen", required_argument, 0, 'l'},
      {"tls", required_argument, 0, 't'},       {"latency", required_argument, 0, 'L'},
      {"fail-rate", required_argument, 0, 'f'}, {"seed", required_argument, 0, 's'},
      {"mode", required_argument, 0, 'm'},      {"workers", required_argument, 0, 'w'},
      {"log-level", required_argument, 0, 'g'}, {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  fb_node_options opt = {.seed = 1};
  char *tls = NULL;
  int usage_status = 0;
  fb_opt_begin();
  int c;
  while (!usage_status && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'h') {
      fputs(usage, stdout);
      free(tls);
      return 0;
    } else if (c == 'm') {
      if (fb_node_mode_parse(optarg, &opt.mode) != 0)
        usage_status = fb_usage_error(usage, "node: unknown --mode '%s' (one of %s)", optarg, fb_node_mode_names);
    } else if (c == ':' || c == '?') {
      usage_status = fb_opt_error(usage, "node", c, argv);
    } else {
      const char *bad = apply(c, optarg, &opt, &tls);
      if (bad) usage_status = fb_usage_error(usage, "node: %s, not '%s'", bad, optarg);
    }
  }
  if (!usage_status && optind < argc)
    usage_status = fb_usage_error(usage, "node: unexpected argument '%s'", argv[optind]);
  if (usage_status) {
    free(tls);
    return usage_status;
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
