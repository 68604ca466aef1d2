/* Adapter kind "http": a national node speaking the API.md national node protocol.
 *
 * The transport is http_client/curl_loop.h (libcurl multi on the libuv loop: connection
 * reuse, HTTP/2 multiplexing where the node offers h2, a response cap of max_body, a
 * timeout per leg). Each leg is one POST of the JSON request to the state's url. A
 * reply is accepted only as 200 with {"records": [...]} whose every record passes
 * fb_record_validate; anything else is a leg error with a sentence naming the fault.
 * The parse and the validation run on the libuv thread pool (curl_loop's check).
 *
 * Over http:// the node is spoken to in HTTP/1.1, one connection per concurrent leg:
 * h2c prior knowledge would break a node that speaks only HTTP/1.1, and a state's
 * config has no field to say the node speaks h2c. Over https:// ALPN picks h2 when the
 * node offers it.
 *
 * Ownership: the adapter owns its curl loop and every leg in flight. Cancel frees the
 * leg at once (no callback). Close cancels what is left, frees the adapter and hands
 * the curl loop its `closed` callback, which runs once every loop handle is closed. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter_impl.h"
#include "core/error.h"
#include "http_client/curl_loop.h"
#include "core/log.h"
#include "core/util.h"
#include "records/record.h"

#define DEFAULT_LIMIT 100

/* Both kinds on curl_loop hand a call's status on as the leg's. */
_Static_assert(FB_CURL_ERROR == FB_LEG_ERROR && FB_CURL_TIMEOUT == FB_LEG_TIMEOUT,
               "curl_loop statuses must be the leg statuses");

typedef struct http_leg http_leg;

typedef struct {
  struct fb_adapter base;
  fb_curl_loop *cl;
  http_leg *legs; /* in flight */
  bool closing;
} http_adapter;

struct http_leg {
  struct fb_leg base;
  http_adapter *a;
  http_leg *prev, *next;
  fb_curl_call *call;
  fb_leg_done_cb cb;
  void *data;
};

static void leg_unlink(http_leg *leg) {
  http_adapter *a = leg->a;
  if (leg->prev) leg->prev->next = leg->next;
  else a->legs = leg->next;
  if (leg->next) leg->next->prev = leg->prev;
}

/* The node's answer must be {"records": [valid records]}. A fb_curl_check_fn: runs on
 * a worker thread and touches nothing but `body`. */
static int judge(const void *arg, json_t *body, json_t **records, char *why, size_t whylen) {
  (void)arg;
  *records = NULL;
  json_t *recs = json_object_get(body, "records");
  if (!json_is_object(body) || !json_is_array(recs)) {
    snprintf(why, whylen, "answer from node has no \"records\" array");
    return FB_CURL_ERROR;
  }
  size_t i;
  json_t *r;
  json_array_foreach(recs, i, r) {
    char reason[200];
    if (fb_record_validate(r, reason, sizeof reason) != 0) {
      snprintf(why, whylen, "record %zu: %s", i, reason);
      return FB_CURL_ERROR;
    }
  }
  *records = json_incref(recs);
  return 0;
}

/* `records` already judged (on a worker) when status is 0. */
static void call_done(void *data, int status, json_t *records, const char *why) {
  http_leg *leg = data;
  http_adapter *a = leg->a;
  fb_leg_done_cb cb = leg->cb;
  void *cb_data = leg->data;
  leg_unlink(leg);
  free(leg);
  if (status != 0) fb_warn("adapter_error", "state %s: %s", a->base.state, why);
  cb(cb_data, status, records, status ? why : NULL);
}

static int ht_start(fb_adapter *base, const fb_leg_request *req, fb_leg_done_cb cb, void *data,
                    fb_leg **out) {
  http_adapter *a = (http_adapter *)base;
  *out = NULL;
  if (a->closing || !json_is_object(req->subject)) return -1;
  json_t *body = json_pack("{s:s?, s:O, s:s?, s:s?, s:s?, s:s?, s:{s:s?, s:s?}, s:I}",
                           "query_id", req->query_id, "subject", req->subject, "purpose", req->purpose,
                           "priority", req->priority, "legal_basis", req->legal_basis, "case_ref",
                           req->case_ref, "requester", "state", req->requester_state, "agency",
                           req->requester_agency, "limit",
                           (json_int_t)(req->limit ? req->limit : DEFAULT_LIMIT));
  if (!body) return -1;
  if (!req->case_ref) json_object_set_new(body, "case_ref", json_null());
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  http_leg *leg = fb_xcalloc(1, sizeof *leg);
  leg->base.adapter = base;
  leg->a = a;
  leg->cb = cb;
  leg->data = data;
  leg->call = fb_curl_post(a->cl, text, req->timeout_ms, NULL, call_done, leg);
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

static void ht_cancel(fb_leg *base) {
  http_leg *leg = (http_leg *)base;
  fb_curl_cancel(leg->call);
  leg_unlink(leg);
  free(leg);
}

static int ht_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  const char *code = cfg->code ? cfg->code : "?";
  if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)) {
    fb_set_error(err, "state %s: adapter http needs `url` starting with http:// or https://", code);
    return -1;
  }
  if ((cfg->cert && !cfg->key) || (cfg->key && !cfg->cert)) {
    fb_set_error(err, "state %s: adapter http needs both `cert` and `key` for mTLS", code);
    return -1;
  }
  fb_curl_loop_options o = {.url = cfg->url, .ca = cfg->ca, .cert = cfg->cert, .key = cfg->key,
                            .peer = "node", .max_body = cfg->max_body, .timeout_ms = cfg->timeout_ms, .dns_cache_ms = cfg->dns_cache_ms,
                            .check = judge};
  fb_curl_loop *cl = fb_curl_loop_new(loop, &o);
  if (!cl) {
    fb_set_error(err, "state %s: cannot create an HTTP client", code);
    return -1;
  }
  http_adapter *a = fb_xcalloc(1, sizeof *a);
  a->cl = cl;
  *out = &a->base;
  return 0;
}

static void ht_close(fb_adapter *base, void (*closed)(void *), void *data) {
  http_adapter *a = (http_adapter *)base;
  a->closing = true;
  while (a->legs) ht_cancel(&a->legs->base);
  fb_curl_loop *cl = a->cl;
  free(a); /* nothing of the adapter is needed once the legs are gone */
  fb_curl_loop_close(cl, closed, data);
}

const fb_adapter_vtable fb_http_adapter_vtable = {
    .kind = "http", .open = ht_open, .start = ht_start, .cancel = ht_cancel, .close = ht_close};
