/* What the two kinds that speak HTTP through http_client ("http": a national node,
 * "broker": another hub) share: their transport keys, defaults and checks, and the
 * legs in flight on their HTTP client. */
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter_impl.h"
#include "core/log.h"
#include "core/error.h"
#include "core/util.h"

/* Both kinds hand a call's status on as the leg's. */
_Static_assert(FB_HTTP_ERROR == FB_LEG_ERROR && FB_HTTP_TIMEOUT == FB_LEG_TIMEOUT,
               "HTTP client statuses must be the leg statuses");

struct http_common_leg {
  struct fb_leg base;
  http_common_adapter *a;
  http_common_leg *prev, *next;
  fb_http_call *call;
  fb_leg_done_cb cb;
  void (*compact_done)(void *, fb_crecs *);
  void *data;
};

void adapter_http_defaults(fb_state_config *cfg) {
  cfg->max_body = 8u << 20;
  cfg->dns_cache_ms = 5000;
}

int adapter_http_check(const fb_state_config *cfg, const char *kind, char **err) {
  const char *code = cfg->code ? cfg->code : "?";
  if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)) {
    fb_set_error(err, "state %s: adapter %s needs `url` starting with http:// or https://", code, kind);
    return -1;
  }
  if ((cfg->cert && !cfg->key) || (cfg->key && !cfg->cert)) {
    fb_set_error(err, "state %s: adapter %s needs both `cert` and `key` for mTLS", code, kind);
    return -1;
  }
  return 0;
}

static void leg_unlink(http_common_leg *leg) {
  http_common_adapter *a = leg->a;
  if (leg->prev) leg->prev->next = leg->next;
  else a->legs = leg->next;
  if (leg->next) leg->next->prev = leg->prev;
}

/* The body was already judged (on a worker) when status is 0. */
static void call_done(void *data, int status, void *body, const char *why) {
  http_common_leg *leg = data;
  http_common_adapter *a = leg->a;
  fb_leg_done_cb cb = leg->cb;
  void (*compact_done)(void *, fb_crecs *) = leg->compact_done;
  void *cb_data = leg->data;
  leg_unlink(leg);
  free(leg);
  if (status != 0) fb_warn("adapter_error", "state %s: %s", a->base.state, why);
  if (status != 0 || !a->compact) {
    cb(cb_data, status, body, status ? why : NULL);
  } else if (compact_done) {
    compact_done(cb_data, body);
  } else { /* a caller that reads jansson values */
    json_t *records = fb_crecs_records_json(body);
    fb_crecs_free(body);
    cb(cb_data, 0, records, NULL);
  }
}

int http_common_post(http_common_adapter *a, char *body, uint32_t timeout_ms, const void *check_arg, fb_leg_done_cb cb,
                      void (*compact_done)(void *, fb_crecs *), void *data, fb_leg **out) {
  *out = NULL;
  if (a->closing) {
    free(body);
    return -1;
  }
  http_common_leg *leg = fb_xcalloc(1, sizeof *leg);
  leg->base.adapter = &a->base;
  leg->a = a;
  leg->cb = cb;
  leg->compact_done = compact_done;
  leg->data = data;
  leg->call = fb_http_post(a->client, body, timeout_ms, check_arg, call_done, leg);
  if (!leg->call) {
    free(leg);
    return -1;
  }
  leg->next = a->legs;
  if (a->legs) a->legs->prev = leg;
  a->legs = leg;
  *out = &leg->base;
  return 0;
}

void http_common_cancel(fb_leg *base) {
  http_common_leg *leg = (http_common_leg *)base;
  fb_http_cancel(leg->call);
  leg_unlink(leg);
  free(leg);
}

void http_common_close(fb_adapter *base, void (*closed)(void *), void *data) {
  http_common_adapter *a = (http_common_adapter *)base;
  a->closing = true;
  while (a->legs) http_common_cancel(&a->legs->base);
  fb_http_client *client = a->client;
  free(a); /* nothing of the adapter is needed once the legs are gone */
  fb_http_client_close(client, closed, data);
}
