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
 * Ownership (curl_adapter, http_common.c, shared with the broker kind): the adapter
 * owns its curl loop and every leg in flight. Cancel frees the
 * leg at once (no callback). Close cancels what is left, frees the adapter and hands
 * the curl loop its `closed` callback, which runs once every loop handle is closed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter_impl.h"
#include "core/error.h"
#include "http_client/curl_loop.h"
#include "core/log.h"
#include "core/util.h"
#include "records/record.h"

#define DEFAULT_LIMIT 100

/* The node's answer must be {"records": [valid records]}. A fb_curl_text_check_fn: runs
 * on a worker thread and touches nothing but `text`, which becomes a compact set (the
 * same judgement and sentences as on jansson's value: records/record.h). */
static int judge(const void *arg, char *text, size_t len, void **out, char **err) {
  (void)arg;
  *out = NULL;
  json_error_t jerr;
  fb_crecs *set = fb_crecs_load(text, len, &jerr);
  if (!set) {
    fb_set_error(err, "invalid JSON from node: %s", jerr.text);
    return FB_CURL_ERROR;
  }
  if (fb_crecs_judge(set, err) != 0) {
    fb_crecs_free(set);
    return FB_CURL_ERROR;
  }
  *out = set;
  return 0;
}

static void free_set(void *set) { fb_crecs_free(set); }

static int ht_start(fb_adapter *base, const fb_leg_request *req, fb_leg_done_cb cb, void *data,
                    fb_leg **out) {
  *out = NULL;
  if (!json_is_object(req->subject)) return -1;
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
  return curl_adapter_post((curl_adapter *)base, text, req->timeout_ms, NULL, cb, req->compact_done, data, out);
}

/* The keys of a `states` entry of this kind (CONFIG.md). */
static const adapter_option_spec ht_options[] = {
    ADAPTER_HTTP_OPTIONS,
};

static int ht_configure(fb_state_config *cfg, char **err) {
  adapter_http_defaults(cfg); /* before the file's values */
  return adapter_read_options(cfg, ht_options, FB_ARRAY_LEN(ht_options), err);
}

static int ht_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  const char *code = cfg->code ? cfg->code : "?";
  if (adapter_http_check(cfg, "http", err) != 0) return -1;
  fb_curl_loop_options o = {.url = cfg->url, .ca = cfg->ca, .cert = cfg->cert, .key = cfg->key,
                            .peer = "node", .max_body = cfg->max_body, .timeout_ms = cfg->timeout_ms, .dns_cache_ms = cfg->dns_cache_ms,
                            .text_check = judge, .result_free = free_set};
  fb_curl_loop *cl = fb_curl_loop_new(loop, &o);
  if (!cl) {
    fb_set_error(err, "state %s: cannot create an HTTP client", code);
    return -1;
  }
  curl_adapter *a = fb_xcalloc(1, sizeof *a);
  a->cl = cl;
  a->compact = true;
  *out = &a->base;
  return 0;
}

const fb_adapter_vtable http_adapter_vtable = {
    .kind = "http", .configure = ht_configure, .open = ht_open, .start = ht_start, .cancel = curl_adapter_cancel,
    .close = curl_adapter_close};
