/* What the two kinds that speak HTTP through http_client ("http": a national node,
 * "broker": another hub) share: their transport keys, defaults and checks. */
#include <string.h>

#include "adapters/adapter_impl.h"
#include "core/util.h"

void adapter_http_defaults(fb_state_config *cfg) {
  cfg->max_body = 8u << 20;
  cfg->dns_cache_ms = 5000;
}

int adapter_http_check(const fb_state_config *cfg, const char *kind, char **err) {
  const char *code = cfg->code ? cfg->code : "?";
  if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)) {
    *err = fb_xprintf("state %s: adapter %s needs `url` starting with http:// or https://", code, kind);
    return -1;
  }
  if ((cfg->cert && !cfg->key) || (cfg->key && !cfg->cert)) {
    *err = fb_xprintf("state %s: adapter %s needs both `cert` and `key` for mTLS", code, kind);
    return -1;
  }
  return 0;
}
