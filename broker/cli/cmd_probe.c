/* `fedbroker probe URL`: one GET, exit 0 when it answers 2xx. It is the container
 * health check of the hub and the nodes (docker/Dockerfile, compose.yaml, the
 * Kubernetes probes), so the runtime image needs no curl of its own. Exit 0 healthy,
 * 1 unhealthy (no answer, or not 2xx; the reason on stderr), 2 usage error. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"

static const char usage[] =
    "usage: fedbroker probe URL [--ca FILE] [--cert FILE --key FILE] [--timeout MS]\n"
    "\n"
    "  GETs URL (http:// or https://) once; exit 0 when the answer is 2xx, else 1.\n"
    "  --ca: trust this CA bundle; --cert/--key: present a client certificate (the\n"
    "  nodes require one); --timeout: give up after MS milliseconds (default 3000).\n";

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

static int probe(const char *url, const char *ca, const char *cert, const char *key, long timeout_ms) {
  CURL *e = curl_easy_init();
  if (!e) {
    fprintf(stderr, "fedbroker probe: cannot initialise libcurl\n");
    return 1;
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  if (ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);
  if (cert) curl_easy_setopt(e, CURLOPT_SSLCERT, cert);
  if (key) curl_easy_setopt(e, CURLOPT_SSLKEY, key);
  CURLcode rc = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(e);
  if (rc != CURLE_OK) {
    fprintf(stderr, "fedbroker probe: %s: %s\n", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return 1;
  }
  if (status < 200 || status > 299) {
    fprintf(stderr, "fedbroker probe: %s answered %ld\n", url, status);
    return 1;
  }
  return 0;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {
      {"ca", required_argument, 0, 'a'},      {"cert", required_argument, 0, 'c'},
      {"key", required_argument, 0, 'k'},     {"timeout", required_argument, 0, 't'},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
  };
  const char *ca = NULL, *cert = NULL, *key = NULL;
  long timeout_ms = 3000;
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'a': ca = optarg; break;
    case 'c': cert = optarg; break;
    case 'k': key = optarg; break;
    case 't': {
      char *end = NULL;
      timeout_ms = strtol(optarg, &end, 10);
      if (*end || timeout_ms < 1 || timeout_ms > 600000)
        return fb_usage_error(usage, "probe: --timeout wants 1 to 600000 milliseconds");
      break;
    }
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "probe", c, argv);
    }
  }
  if (optind != argc - 1) return fb_usage_error(usage, "probe: one URL expected");
  if (!cert != !key) return fb_usage_error(usage, "probe: --cert and --key go together");
  return probe(argv[optind], ca, cert, key, timeout_ms);
}

FB_COMMAND(probe_command, "probe", "GET a URL once; exit 0 on 2xx (container health checks)", run)
