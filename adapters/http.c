/* Adapter kind "http": a national node speaking the API.md national node protocol.
 *
 * The transport is http_client/client.h (on the libuv loop: fedbroker's own HTTP/1.1
 * client for http://, libcurl for https:// and proxies; connection reuse, HTTP/2
 * multiplexing where an https node offers h2, a response cap of max_body, a timeout
 * per leg). Each leg is one POST of the JSON request to the state's url. A
 * reply is accepted only as 200 with {"records": [...]} whose every record passes
 * fb_record_validate; anything else is a leg error with a sentence naming the fault.
 * The parse and the validation are the HTTP client's text check: on the libuv thread
 * pool, or on the loop thread for a small answer.
 *
 * Over http:// the node is spoken to in HTTP/1.1, one connection per concurrent leg
 * (at most 16; further legs wait in the HTTP client's queue with their timeout running):
 * h2c prior knowledge would break a node that speaks only HTTP/1.1, and a state's
 * config has no field to say the node speaks h2c. Over https:// ALPN picks h2 when the
 * node offers it.
 *
 * Ownership (http_common_adapter, http_common.c, shared with the broker kind): the adapter
 * owns its HTTP client and every leg in flight. Cancel frees the
 * leg at once (no callback). Close cancels what is left, frees the adapter and hands
 * the HTTP client its `closed` callback, which runs once every loop handle is closed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter_impl.h"
#include "core/error.h"
#include "core/jsonw.h"
#include "http_client/client.h"
#include "core/log.h"
#include "core/util.h"
#include "records/record.h"

#define DEFAULT_LIMIT 100

/* The node's answer must be {"records": [valid records]}. A fb_http_text_check_fn: runs
 * on a worker thread and touches nothing but `text`, which becomes a compact set (the
 * same judgement and sentences as on jansson's value: records/record.h). */
static int judge(const void *arg, char *text, size_t len, void **out, char **err) {
  (void)arg;
  *out = NULL;
  json_error_t jerr;
  fb_crecs *set = fb_crecs_load(text, len, &jerr);
  if (!set) {
    fb_set_error(err, "invalid JSON from node: %s", jerr.text);
    return FB_HTTP_ERROR;
  }
  if (fb_crecs_judge(set, err) != 0) {
    fb_crecs_free(set);
    return FB_HTTP_ERROR;
  }
  *out = set;
  return 0;
}

static void free_set(void *set) { fb_crecs_free(set); }

#define PUT_LITERAL(b, lit) fb_buf_append((b), (lit), sizeof(lit) - 1)

/* A string field's value: the string as jansson dumps it, or null. */
static int put_opt_string(fb_buf *b, const char *s) {
  if (!s) {
    PUT_LITERAL(b, "null");
    return 0;
  }
  return fb_jsonw_string(b, s, strlen(s));
}

char *http_request_body(const fb_leg_request *req) {
  if (!json_is_object(req->subject)) return NULL;
  fb_buf b = {0};
  fb_buf_reserve(&b, 512);
  int rc = 0;
  PUT_LITERAL(&b, "{\"query_id\":");
  rc |= put_opt_string(&b, req->query_id);
  PUT_LITERAL(&b, ",\"subject\":");
  rc |= fb_jsonw_value(&b, req->subject, 0);
  PUT_LITERAL(&b, ",\"purpose\":");
  rc |= put_opt_string(&b, req->purpose);
  PUT_LITERAL(&b, ",\"priority\":");
  rc |= put_opt_string(&b, req->priority);
  PUT_LITERAL(&b, ",\"legal_basis\":");
  rc |= put_opt_string(&b, req->legal_basis);
  PUT_LITERAL(&b, ",\"case_ref\":");
  rc |= put_opt_string(&b, req->case_ref);
  PUT_LITERAL(&b, ",\"requester\":{\"state\":");
  rc |= put_opt_string(&b, req->requester_state);
  PUT_LITERAL(&b, ",\"agency\":");
  rc |= put_opt_string(&b, req->requester_agency);
  PUT_LITERAL(&b, "},\"limit\":");
  fb_buf_put_uint(&b, req->limit ? req->limit : DEFAULT_LIMIT);
  fb_buf_putc(&b, '}');
  if (rc != 0) {
    fb_buf_free(&b);
    return NULL;
  }
  return fb_buf_steal(&b);
}

/* Every field the body is written from: the same pointers and limit, the same text. */
static bool same_request(const fb_leg_request *a, const fb_leg_request *b) {
  return a->query_id == b->query_id && a->subject == b->subject && a->purpose == b->purpose &&
         a->priority == b->priority && a->legal_basis == b->legal_basis && a->case_ref == b->case_ref &&
         a->requester_state == b->requester_state && a->requester_agency == b->requester_agency &&
         (a->limit ? a->limit : DEFAULT_LIMIT) == (b->limit ? b->limit : DEFAULT_LIMIT);
}

static char *copy_text(const char *s, size_t len) {
  char *c = fb_xmalloc(len + 1);
  memcpy(c, s, len + 1);
  return c;
}

char *http_request_body_shared(const fb_leg_request *req) {
  fb_leg_text *t = req->shared_text;
  if (t && t->text && t->writer == (const void *)http_request_body && same_request(&t->of, req))
    return copy_text(t->text, t->len);
  char *text = http_request_body(req);
  if (text && t && !t->text) {
    t->writer = (const void *)http_request_body;
    t->of = *req;
    t->of.shared_text = NULL;
    t->len = strlen(text);
    t->text = copy_text(text, t->len);
  }
  return text;
}

static int ht_start(fb_adapter *base, const fb_leg_request *req, fb_leg_done_cb cb, void *data,
                    fb_leg **out) {
  *out = NULL;
  char *text = http_request_body_shared(req);
  if (!text) return -1;
  return http_common_post((http_common_adapter *)base, text, req->timeout_ms, NULL, cb, req->compact_done, data, out);
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
  fb_http_client_options o = {.url = cfg->url, .ca = cfg->ca, .cert = cfg->cert, .key = cfg->key,
                            .peer = "node", .max_body = cfg->max_body, .timeout_ms = cfg->timeout_ms, .dns_cache_ms = cfg->dns_cache_ms,
                            .text_check = judge, .result_free = free_set};
  fb_http_client *client = fb_http_client_new(loop, &o);
  if (!client) {
    fb_set_error(err, "state %s: cannot create an HTTP client", code);
    return -1;
  }
  http_common_adapter *a = fb_xcalloc(1, sizeof *a);
  a->client = client;
  a->compact = true;
  *out = &a->base;
  return 0;
}

const fb_adapter_vtable http_adapter_vtable = {
    .kind = "http", .configure = ht_configure, .open = ht_open, .start = ht_start, .cancel = http_common_cancel,
    .close = http_common_close};
