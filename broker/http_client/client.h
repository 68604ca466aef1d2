/* The HTTP client of the adapters: JSON-over-HTTP POSTs to one URL, driven by the libuv
 * loop. Shared by the "http" kind (a national node) and the "broker" kind (another
 * fedbroker hub).
 *
 * Two transports behind this one API, chosen when the client is made: an http:// URL
 * with no proxy variable in the environment and no user name in it goes through
 * fedbroker's own HTTP/1.1 client (h1_client.h, h1_url.h); https:// and proxied URLs
 * through libcurl (curl_transport.h). Either keeps up to 16 connections per peer, open
 * while idle too. Over cleartext http:// (HTTP/1.1, one call per connection) at most 16
 * calls are in the transport at once; the others wait in the client's own queue, first
 * in first out, their timeout running from fb_http_post. Over https:// curl queues (an
 * h2 connection carries many calls). The proxy variables of the environment
 * (http_proxy, all_proxy, ...) are looked at when the client is made. Every function
 * runs on the loop thread and none blocks it; a large 200's body is parsed (json_loadb,
 * then opts.check) on the libuv thread pool, a small one on the loop thread.
 *
 * Transport faults become one sentence naming the peer (opts.peer, e.g. "node"):
 * "response over N bytes", "no answer within N ms" (FB_HTTP_TIMEOUT), "request to node
 * failed: ...", "HTTP 500 from node", "invalid JSON from node: ...". Only a 200 whose
 * body is JSON (and passes opts.check) reaches the callback as success.
 *
 * Ownership: the fb_http_client owns every call in flight. Cancel ends a call at once
 * (no callback; an answer being parsed is dropped and freed when its work completes).
 * Close cancels what is left without callbacks, closes the transport, waits for parse
 * work still queued or running, frees everything, then calls `closed`. */
#ifndef FB_HTTP_CLIENT_CLIENT_H
#define FB_HTTP_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

/* Call outcomes besides 0. Equal to FB_LEG_ERROR and FB_LEG_TIMEOUT (adapters/http_common.c
 * checks it at compile time), so an adapter hands a call's status on as its leg's. */
#define FB_HTTP_ERROR (-1)
#define FB_HTTP_TIMEOUT (-2)

typedef struct fb_http_client fb_http_client;
typedef struct fb_http_call fb_http_call;

/* Judges a 200 answer. Runs on a libuv worker thread or the loop thread, so it may
 * touch only `arg` (the call's own copy, see fb_http_post) and `body` (the parsed
 * answer, borrowed; hold a reference to keep parts of it). Returns 0 with *out (owned
 * by the caller), or FB_HTTP_ERROR with a new sentence at *err (core/error.h; *out
 * then ignored). */
typedef int (*fb_http_check_fn)(const void *arg, json_t *body, json_t **out, char **err);

/* Instead of the JSON parse and `check`: judges a 200's body text itself (where the
 * check would run, same rules). `text` (NUL at text[len]) is taken over. Returns 0 with
 * *out (freed by opts.result_free when the call is dropped), or FB_HTTP_ERROR with a
 * new sentence at *err. */
typedef int (*fb_http_text_check_fn)(const void *arg, char *text, size_t len, void **out, char **err);

/* Everything is copied by fb_http_client_new. */
typedef struct {
  const char *url;               /* http:// or https://, posted to as is */
  const char *ca, *cert, *key;   /* optional TLS material (PEM paths) */
  const char *bearer;            /* when set: "Authorization: Bearer <bearer>" on each call */
  const char *peer;              /* word for error sentences: "node", "remote hub" */
  uint64_t max_body;             /* response cap; 0 = 8 MiB */
  uint32_t timeout_ms;           /* cap on every call; 0 = none beyond the call's own */
  uint32_t dns_cache_ms;         /* reuse of a resolved address; 0 = resolve every new
                                    connection. libcurl's own default (60 s) outlived a
                                    recreated node container's address in the pilot. */
  bool error_detail;             /* on non-200, append the body's error.message when present */
  fb_http_check_fn check;        /* optional: turns a 200's JSON into the callback's body */
  fb_http_text_check_fn text_check; /* or: turns a 200's text into the callback's body */
  void (*result_free)(void *);   /* with text_check: frees its result */
  size_t check_arg_size;         /* bytes of check_arg each fb_http_post copies */
} fb_http_client_options;

/* status 0: `body` is the parsed JSON of a 200 answer (a json_t: what opts.check made
 * of it, or with opts.text_check what that made of its text), owned by the callee.
 * status FB_HTTP_ERROR or FB_HTTP_TIMEOUT: body NULL, `why` a sentence borrowed for the
 * call. The call handle is invalid once the callback starts. It runs on the loop
 * thread, usually without the hub lock (the transports' callbacks let go of it,
 * core/hublock.h): a callback that touches shared state takes it (fb_hublock_enter). */
typedef void (*fb_http_done_cb)(void *data, int status, void *body, const char *why);

/* NULL when the transport cannot be made (curl without a multi handle). */
fb_http_client *fb_http_client_new(uv_loop_t *loop, const fb_http_client_options *opts);

/* POSTs `body` (a JSON text; ownership passes here, also on failure) as
 * application/json. The call's timeout is `timeout_ms` capped by the client's
 * timeout_ms (either 0: the other; both 0: 30 s). `check_arg`: opts.check_arg_size
 * bytes, copied into the call (NULL when there is no check). Returns the call, or NULL
 * when it could not start (then no callback). */
fb_http_call *fb_http_post(fb_http_client *c, char *body, uint32_t timeout_ms, const void *check_arg,
                           fb_http_done_cb cb, void *data);

/* No callback after this returns. A call whose answer is being parsed on a worker is
 * freed, with its result, when that work completes. */
void fb_http_cancel(fb_http_call *call);

void fb_http_client_close(fb_http_client *c, void (*closed)(void *), void *data);

#endif
