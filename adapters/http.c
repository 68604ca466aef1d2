/* Adapter kind "http": a national node speaking the API.md national node protocol.
 *
 * One libcurl multi handle per state, driven by the libuv loop (the standard
 * curl + libuv pattern): CURLMOPT_SOCKETFUNCTION maps curl's sockets to uv_poll_t
 * handles, CURLMOPT_TIMERFUNCTION to one uv_timer_t. Connections are reused across
 * legs and HTTP/2 streams are multiplexed when the node offers h2 (ALPN on https).
 * Each leg is one easy handle: POST of the JSON request body, response body capped at
 * the state's max_body (the transfer is aborted past it), timeout per leg. A reply is
 * accepted only as 200 with {"records": [...]} whose every record passes
 * fb_record_validate; anything else is a leg error with a sentence naming the fault.
 *
 * Ownership: the adapter owns the multi handle, the timer, the poll handles and every
 * leg in flight. Cancel removes the easy handle at once (no callback). Close cancels
 * what is left, lets curl close its connections, then closes the loop handles and
 * frees the adapter in the last close callback. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "adapters/adapter_impl.h"
#include "core/log.h"
#include "core/util.h"

#define DEFAULT_MAX_BODY (8u << 20)
#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_LIMIT 100

typedef struct http_leg http_leg;
typedef struct sock_ctx sock_ctx;

typedef struct {
  struct fb_adapter base;
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  char *url, *ca, *cert, *key;
  uint64_t max_body;
  uint32_t timeout_ms;
  http_leg *legs;   /* in flight */
  sock_ctx *socks;  /* live poll handles */
  int pending_closes;
  bool closing;
  void (*closed)(void *);
  void *closed_data;
} http_adapter;

struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  http_adapter *a;
  sock_ctx *prev, *next;
  bool counted; /* released while closing: its close callback counts down */
};

struct http_leg {
  struct fb_leg base;
  http_adapter *a;
  http_leg *prev, *next;
  CURL *easy;
  struct curl_slist *headers;
  char *body;        /* request body, owned (curl does not copy CURLOPT_POSTFIELDS) */
  fb_buf resp;
  bool over_limit;
  uint32_t timeout_ms;
  fb_leg_done_cb cb;
  void *data;
  char errbuf[CURL_ERROR_SIZE];
};

static void check_done(http_adapter *a);

/* ---- libuv <-> curl plumbing ---- */

static void finish_close(http_adapter *a) {
  if (--a->pending_closes > 0) return;
  void (*closed)(void *) = a->closed;
  void *data = a->closed_data;
  free(a->url);
  free(a->ca);
  free(a->cert);
  free(a->key);
  free(a);
  if (closed) closed(data);
}

static void sock_closed_cb(uv_handle_t *h) {
  sock_ctx *s = fb_container_of((uv_poll_t *)h, sock_ctx, poll);
  http_adapter *a = s->a;
  bool counted = s->counted;
  free(s);
  if (counted) finish_close(a); /* otherwise `a` may be gone: do not touch it */
}

static void sock_release(http_adapter *a, sock_ctx *s) {
  if (s->prev) s->prev->next = s->next;
  else a->socks = s->next;
  if (s->next) s->next->prev = s->prev;
  uv_poll_stop(&s->poll);
  if (a->closing) {
    s->counted = true;
    a->pending_closes++;
  }
  uv_close((uv_handle_t *)&s->poll, sock_closed_cb);
}

static void poll_cb(uv_poll_t *p, int status, int events) {
  sock_ctx *s = fb_container_of(p, sock_ctx, poll);
  http_adapter *a = s->a;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  int running;
  curl_multi_socket_action(a->multi, s->fd, flags, &running);
  check_done(a);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  http_adapter *a = userp;
  sock_ctx *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(a->multi, fd, NULL);
      sock_release(a, s);
    }
    return 0;
  }
  if (!s) {
    s = fb_xcalloc(1, sizeof *s);
    s->fd = fd;
    s->a = a;
    if (uv_poll_init_socket(a->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->next = a->socks;
    if (a->socks) a->socks->prev = s;
    a->socks = s;
    curl_multi_assign(a->multi, fd, s);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, poll_cb);
  return 0;
}

static void timer_cb(uv_timer_t *t) {
  http_adapter *a = fb_container_of(t, http_adapter, timer);
  int running;
  curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(a);
}

static int timerfunc_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  http_adapter *a = userp;
  if (a->closing) return 0;
  if (timeout_ms < 0) uv_timer_stop(&a->timer);
  else uv_timer_start(&a->timer, timer_cb, (uint64_t)timeout_ms, 0); /* 0: next loop turn */
  return 0;
}

/* ---- legs ---- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
  http_leg *leg = userdata;
  size_t n = size * nmemb;
  if (leg->resp.len + n > leg->a->max_body) {
    leg->over_limit = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  fb_buf_append(&leg->resp, ptr, n);
  return n;
}

static void leg_free(http_leg *leg) {
  http_adapter *a = leg->a;
  if (leg->prev) leg->prev->next = leg->next;
  else a->legs = leg->next;
  if (leg->next) leg->next->prev = leg->prev;
  curl_multi_remove_handle(a->multi, leg->easy);
  curl_easy_cleanup(leg->easy);
  curl_slist_free_all(leg->headers);
  free(leg->body);
  fb_buf_free(&leg->resp);
  free(leg);
}

/* Turns a finished transfer into records or an error sentence. */
static int judge(http_leg *leg, CURLcode rc, json_t **records, char *why, size_t whylen) {
  *records = NULL;
  if (leg->over_limit || rc == CURLE_FILESIZE_EXCEEDED) {
    snprintf(why, whylen, "response over %llu bytes", (unsigned long long)leg->a->max_body);
    return FB_LEG_ERROR;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    snprintf(why, whylen, "no answer within %u ms", leg->timeout_ms);
    return FB_LEG_TIMEOUT;
  }
  if (rc != CURLE_OK) {
    snprintf(why, whylen, "request to node failed: %s", leg->errbuf[0] ? leg->errbuf : curl_easy_strerror(rc));
    return FB_LEG_ERROR;
  }
  long code = 0;
  curl_easy_getinfo(leg->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) {
    snprintf(why, whylen, "HTTP %ld from node", code);
    return FB_LEG_ERROR;
  }
  json_error_t jerr;
  json_t *body = json_loadb(leg->resp.data ? leg->resp.data : "", leg->resp.len, 0, &jerr);
  if (!body) {
    snprintf(why, whylen, "invalid JSON from node: %s", jerr.text);
    return FB_LEG_ERROR;
  }
  json_t *recs = json_object_get(body, "records");
  if (!json_is_object(body) || !json_is_array(recs)) {
    snprintf(why, whylen, "answer from node has no \"records\" array");
    json_decref(body);
    return FB_LEG_ERROR;
  }
  size_t i;
  json_t *r;
  json_array_foreach(recs, i, r) {
    char reason[200];
    if (fb_record_validate(r, reason, sizeof reason) != 0) {
      snprintf(why, whylen, "record %zu: %s", i, reason);
      json_decref(body);
      return FB_LEG_ERROR;
    }
  }
  *records = json_incref(recs);
  json_decref(body);
  return 0;
}

static void check_done(http_adapter *a) {
  CURLMsg *msg;
  int left;
  /* A callback may cancel other legs or close the adapter: both are safe here, since
   * curl drops the messages of removed handles, and closing stops this loop. */
  while (!a->closing && (msg = curl_multi_info_read(a->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    http_leg *leg = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&leg);
    if (!leg) continue;
    CURLcode rc = msg->data.result;
    char why[512];
    json_t *records;
    int status = judge(leg, rc, &records, why, sizeof why);
    fb_leg_done_cb cb = leg->cb;
    void *data = leg->data;
    leg_free(leg);
    if (status != 0) fb_warn("adapter_error", "state %s: %s", a->base.state, why);
    cb(data, status, records, status ? why : NULL);
  }
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
  http_leg *leg = fb_xcalloc(1, sizeof *leg);
  leg->base.adapter = base;
  leg->a = a;
  leg->cb = cb;
  leg->data = data;
  leg->body = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  leg->timeout_ms = req->timeout_ms ? req->timeout_ms : a->timeout_ms;
  if (a->timeout_ms && a->timeout_ms < leg->timeout_ms) leg->timeout_ms = a->timeout_ms;
  if (!leg->timeout_ms) leg->timeout_ms = DEFAULT_TIMEOUT_MS;
  leg->easy = curl_easy_init();
  leg->headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
  leg->headers = curl_slist_append(leg->headers, "Accept: application/json");
  leg->headers = curl_slist_append(leg->headers, "Expect:"); /* no 100-continue round trip */
  CURL *e = leg->easy;
  curl_easy_setopt(e, CURLOPT_URL, a->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, leg->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(leg->body));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, leg->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, leg);
  curl_easy_setopt(e, CURLOPT_PRIVATE, leg);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, leg->errbuf);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)leg->timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)a->max_body);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a node that redirects is misconfigured */
  if (a->ca) curl_easy_setopt(e, CURLOPT_CAINFO, a->ca);
  if (a->cert) curl_easy_setopt(e, CURLOPT_SSLCERT, a->cert);
  if (a->key) curl_easy_setopt(e, CURLOPT_SSLKEY, a->key);
  leg->next = a->legs;
  if (a->legs) a->legs->prev = leg;
  a->legs = leg;
  if (curl_multi_add_handle(a->multi, e) != CURLM_OK) {
    leg_free(leg);
    return -1;
  }
  *out = &leg->base;
  return 0;
}

static void ht_cancel(fb_leg *base) { leg_free((http_leg *)base); }

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int ht_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  const char *code = cfg->code ? cfg->code : "?";
  if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)) {
    *err = fb_adapter_errf("state %s: adapter http needs `url` starting with http:// or https://", code);
    return -1;
  }
  if ((cfg->cert && !cfg->key) || (cfg->key && !cfg->cert)) {
    *err = fb_adapter_errf("state %s: adapter http needs both `cert` and `key` for mTLS", code);
    return -1;
  }
  static uv_once_t once = UV_ONCE_INIT;
  uv_once(&once, global_init);
  http_adapter *a = fb_xcalloc(1, sizeof *a);
  a->loop = loop;
  a->multi = curl_multi_init();
  if (!a->multi) {
    free(a);
    *err = fb_adapter_errf("state %s: cannot create an HTTP client", code);
    return -1;
  }
  a->url = fb_xstrdup(cfg->url);
  a->ca = cfg->ca ? fb_xstrdup(cfg->ca) : NULL;
  a->cert = cfg->cert ? fb_xstrdup(cfg->cert) : NULL;
  a->key = cfg->key ? fb_xstrdup(cfg->key) : NULL;
  a->max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
  a->timeout_ms = cfg->timeout_ms;
  uv_timer_init(loop, &a->timer);
  curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
  curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, timerfunc_cb);
  curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
  curl_multi_setopt(a->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(a->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
  *out = &a->base;
  return 0;
}

static void timer_closed_cb(uv_handle_t *h) {
  finish_close(fb_container_of((uv_timer_t *)h, http_adapter, timer));
}

static void ht_close(fb_adapter *base, void (*closed)(void *), void *data) {
  http_adapter *a = (http_adapter *)base;
  a->closed = closed;
  a->closed_data = data;
  while (a->legs) leg_free(a->legs);
  a->closing = true;
  a->pending_closes = 1; /* the timer */
  curl_multi_cleanup(a->multi); /* closes connections; may call socket_cb(REMOVE) */
  a->multi = NULL;
  while (a->socks) sock_release(a, a->socks);
  uv_close((uv_handle_t *)&a->timer, timer_closed_cb);
}

const fb_adapter_vtable fb_http_adapter_vtable = {
    .kind = "http", .open = ht_open, .start = ht_start, .cancel = ht_cancel, .close = ht_close};
