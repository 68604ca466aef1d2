/* Internal to adapters/: the base every adapter kind embeds as its first member, so
 * that the generic wrappers in adapter.c find the vtable (h2o's `super` pattern), and
 * what the kinds share. Names here carry no fb_ prefix: they are not the module's API
 * (adapter.h is). */
#ifndef FB_ADAPTERS_ADAPTER_IMPL_H
#define FB_ADAPTERS_ADAPTER_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/adapter.h"
#include "http_client/client.h"

struct fb_adapter {
  const fb_adapter_vtable *vt;
  char state[16]; /* the state code, for log lines */
};

struct fb_leg {
  fb_adapter *adapter;
};

/* One key an adapter kind reads from its `states` entry: where it goes in
 * fb_state_config and how it is read. */
typedef enum { ADAPTER_OPT_STRING, ADAPTER_OPT_PATH, ADAPTER_OPT_U32, ADAPTER_OPT_BYTES } adapter_option_kind;
typedef struct {
  const char *key;
  adapter_option_kind kind; /* ADAPTER_OPT_BYTES: a uint64_t up to 4 GiB */
  size_t offset;             /* offsetof(fb_state_config, field) */
  bool required;             /* a string: "adapter KIND needs KEY" when absent */
} adapter_option_spec;

/* A kind's configure: reads cfg->options by `specs` (an unknown key is an error that
 * lists the keys the kind accepts), then checks the required ones. */
int adapter_read_options(fb_state_config *cfg, const adapter_option_spec *specs, size_t nspecs, char **err);

/* http_common.c: the kinds that speak HTTP through http_client (http, broker). Their
 * option tables start with ADAPTER_HTTP_OPTIONS; their configure sets the defaults
 * (max_body 8 MiB, dns_cache_ms 5000) before reading; their open checks the url's
 * scheme and that cert and key come together ("state MYS: adapter http needs ..."). */
#define ADAPTER_HTTP_OPTIONS                                                       \
  {"url", ADAPTER_OPT_STRING, offsetof(fb_state_config, url), true},               \
  {"ca", ADAPTER_OPT_PATH, offsetof(fb_state_config, ca), false},                  \
  {"cert", ADAPTER_OPT_PATH, offsetof(fb_state_config, cert), false},              \
  {"key", ADAPTER_OPT_PATH, offsetof(fb_state_config, key), false},                \
  {"max_body", ADAPTER_OPT_BYTES, offsetof(fb_state_config, max_body), false},     \
  {"dns_cache_ms", ADAPTER_OPT_U32, offsetof(fb_state_config, dns_cache_ms), false}
void adapter_http_defaults(fb_state_config *cfg);
int adapter_http_check(const fb_state_config *cfg, const char *kind, char **err);

/* Their adapter and legs: an adapter owns its HTTP client and the legs in flight (a
 * kind's own adapter struct embeds http_common_adapter first). */
typedef struct http_common_leg http_common_leg;
typedef struct {
  struct fb_adapter base;
  fb_http_client *client;
  http_common_leg *legs; /* in flight */
  bool closing;
  bool compact;   /* the loop's text check gives compact sets (core/crec.h), not JSON */
} http_common_adapter;

/* A leg: POSTs `body` (a JSON text; ownership passes here) with `check_arg` for the
 * loop's check, and reports the call's outcome as the leg's (a failure also as a
 * warning naming the state). Returns 0 with *out, or -1 (no callback) when the adapter
 * is closing or the call could not start. */
int http_common_post(http_common_adapter *a, char *body, uint32_t timeout_ms, const void *check_arg, fb_leg_done_cb cb,
                      void (*compact_done)(void *, fb_crecs *), void *data, fb_leg **out);
void http_common_cancel(fb_leg *leg);
/* Cancels the legs in flight, frees the adapter (the kind's whole struct: `a` is its
 * first member), then closes the HTTP client, which calls `closed`. */
void http_common_close(fb_adapter *a, void (*closed)(void *), void *data);

/* http.c: the body of a leg's POST to a national node (API.md): query_id, subject,
 * purpose, priority, legal_basis, case_ref, requester {state, agency} and limit, as
 * compact JSON in that order, a NULL string as null. Written straight into one buffer
 * (no jansson value per leg); its bytes are json_dumps(JSON_COMPACT)'s of the same
 * object. NULL when the subject is not an object or a string is not UTF-8. */
char *http_request_body(const fb_leg_request *req);
/* The same text, copied from req->shared_text when a leg of this search wrote it from
 * the same request, else written and kept there (when there is one) for the next. */
char *http_request_body_shared(const fb_leg_request *req);

extern const fb_adapter_vtable sqlite_adapter_vtable;
extern const fb_adapter_vtable http_adapter_vtable;
extern const fb_adapter_vtable postgres_adapter_vtable;
extern const fb_adapter_vtable broker_adapter_vtable;

#endif
