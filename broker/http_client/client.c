/* The adapters' HTTP client: calls, their queue, the judgement of an answer and its
 * parse (inline or on the pool), over one of two transports: fedbroker's own HTTP/1.1
 * client for http:// with no proxy (h1_client.h), libcurl otherwise
 * (curl_transport.h). Contract in client.h. */
#include "http_client/client.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/jsonr.h"
#include "core/util.h"
#include "http_client/curl_transport.h"
#include "http_client/h1_client.h"
#include "http_client/h1_url.h"
#include "http_client/transfer.h"

#define DEFAULT_MAX_BODY (8u << 20)
#define DEFAULT_TIMEOUT_MS 30000u

/* Answers up to this size are parsed on the loop thread (see call_answered). */
#define INLINE_PARSE_MAX (16u << 10)

struct fb_http_client {
  uv_loop_t *loop;
  fb_h1_client *h1;        /* http:// with no proxy: fedbroker's own HTTP/1.1 client */
  fb_curl_transport *curl; /* or libcurl (exactly one of the two) */
  char *peer;
  uint64_t max_body;
  uint32_t timeout_ms;
  bool error_detail;
  fb_http_check_fn check;
  fb_http_text_check_fn text_check;
  void (*result_free)(void *);
  size_t check_arg_size;
  fb_http_call *calls; /* in flight: queued, in the transport, or their answer being parsed on a worker */
  /* The client's own queue (http:// only; max_running 0: none, curl queues): calls
   * waiting for one of the max_running transfer slots, first in first out. A transfer
   * that curl cannot give a connection waits in curl's pending list, and that path cost
   * 8-12 us more of the loop per leg at 32-64 legs in flight than this queue
   * (bench/leg_bench.c). */
  uint32_t max_running, running;
  fb_http_call *qhead, *qtail;
  uv_timer_t qtimer;   /* the earliest deadline of a queued call, or 0 ms after a cancel */
  uint64_t qtimer_due; /* uv_hrtime() it is due at; UINT64_MAX: not armed */
  int pending_closes;
  bool closing;
  void (*closed)(void *);
  void *closed_data;
};

struct fb_http_call {
  fb_http_client *c;
  fb_http_call *prev, *next;
  fb_h1_request *h1req; /* in the transport: one of these two, else NULL */
  fb_curl_request *curlreq;
  char *body; /* request body, owned (the transports borrow it) */
  fb_buf resp;
  uint32_t timeout_ms;
  uint64_t deadline; /* uv_hrtime() at which the call times out (not the loop's cached time) */
  bool queued;       /* in the client's queue, not yet in the transport */
  fb_http_call *qprev, *qnext;
  fb_http_done_cb cb;
  void *data;
  /* The worker's part: from uv_queue_work until parse_done, only the worker touches
   * resp, result, status and why; the loop thread only sets the flags. */
  uv_work_t work;
  bool parsing;   /* queued on the thread pool */
  bool cancelled; /* parse result to be dropped, no callback */
  bool counted;   /* cancelled by close: parse_done counts down the close */
  int status;
  void *result; /* a json_t, or text_check's result */
  char *why;    /* the error sentence (core/error.h), owned */
  _Alignas(max_align_t) unsigned char arg[]; /* the check's argument, check_arg_size bytes */
};

static void queue_start(fb_http_client *c);
static void qtimer_cb(uv_timer_t *timer);

static void finish_close(fb_http_client *c) {
  if (--c->pending_closes > 0) return;
  void (*closed)(void *) = c->closed;
  void *data = c->closed_data;
  free(c->peer);
  free(c);
  if (closed) closed(data);
}

static void call_unlink(fb_http_call *call) {
  fb_http_client *c = call->c;
  if (call->prev) call->prev->next = call->next;
  else c->calls = call->next;
  if (call->next) call->next->prev = call->prev;
}

/* Arms the queue's timer for `due` (uv_hrtime(); `now` is that clock now), unless it
 * fires earlier already. Rounded up to whole ms: a deadline never passes early. */
static void qtimer_arm(fb_http_client *c, uint64_t due, uint64_t now) {
  if (due >= c->qtimer_due) return;
  c->qtimer_due = due;
  uv_timer_start(&c->qtimer, qtimer_cb, due > now ? (due - now + 999999) / 1000000 : 0, 0);
}

static void queue_remove(fb_http_call *call) {
  fb_http_client *c = call->c;
  if (!call->queued) return;
  if (call->qprev) call->qprev->qnext = call->qnext;
  else c->qhead = call->qnext;
  if (call->qnext) call->qnext->qprev = call->qprev;
  else c->qtail = call->qprev;
  call->qprev = call->qnext = NULL;
  call->queued = false;
  if (!c->qhead) { /* nothing to wait for: the timer must not hold the loop */
    uv_timer_stop(&c->qtimer);
    c->qtimer_due = UINT64_MAX;
  }
}

static void queue_append(fb_http_call *call) {
  fb_http_client *c = call->c;
  call->queued = true;
  call->qnext = NULL;
  call->qprev = c->qtail;
  if (c->qtail) c->qtail->qnext = call;
  else c->qhead = call;
  c->qtail = call;
  qtimer_arm(c, call->deadline, uv_hrtime());
}

/* Ends the call's request in its transport, if it is in one; its slot goes to the
 * queue (after a cancel, the queue's timer starts the next queued call). */
static void call_abort_request(fb_http_call *call) {
  fb_http_client *c = call->c;
  if (call->h1req) {
    fb_h1_abort(call->h1req);
    call->h1req = NULL;
    c->running--;
  } else if (call->curlreq) {
    fb_curl_transport_abort(call->curlreq);
    call->curlreq = NULL;
    c->running--;
  }
}

static void result_free(const fb_http_client *c, void *result) {
  if (!result) return;
  if (c->text_check) c->result_free(result);
  else json_decref(result);
}

static void call_destroy(fb_http_call *call) {
  free(call->body);
  fb_buf_free(&call->resp);
  result_free(call->c, call->result);
  free(call->why);
  free(call);
}

/* A call whose answer is not on a worker: gone at once. */
static void call_free(fb_http_call *call) {
  queue_remove(call);
  call_unlink(call);
  call_abort_request(call);
  call_destroy(call);
}

/* Non-200: the status, plus the peer's own error sentence when asked for and present
 * (a fedbroker hub answers {"error": {"code", "message"}}). */
static void http_status_error(fb_http_call *call, long code, char **err) {
  fb_http_client *c = call->c;
  const char *msg = NULL;
  json_t *body = NULL;
  if (c->error_detail && call->resp.len) {
    body = json_loadb(call->resp.data, call->resp.len, 0, NULL);
    msg = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
  }
  if (msg) fb_set_error(err, "HTTP %ld from %s: %.300s", code, c->peer, msg);
  else fb_set_error(err, "HTTP %ld from %s", code, c->peer);
  json_decref(body);
}

/* 1 for a 200, whose body is to be parsed; else FB_HTTP_ERROR with its sentence. */
static int judge_code(fb_http_call *call, long code, char **err) {
  if (code != 200) {
    http_status_error(call, code, err);
    return FB_HTTP_ERROR;
  }
  return 1;
}

/* On a worker thread (or inline, see call_answered): the answer's JSON parse and the
 * caller's check, the per-leg work that would otherwise hold the loop thread. Reads only
 * the call's own buffers and the client's immutable peer/check (c outlives queued work:
 * close waits for it). */
static void parse_work(uv_work_t *w) {
  fb_http_call *call = fb_container_of(w, fb_http_call, work);
  fb_http_client *c = call->c;
  if (c->text_check) {
    size_t len = call->resp.len;
    char *text = call->resp.data ? fb_buf_steal(&call->resp) : fb_xstrdup("");
    call->status = c->text_check(call->arg, text, len, &call->result, &call->why);
    if (call->status != 0) {
      result_free(c, call->result);
      call->result = NULL;
    }
    return;
  }
  json_error_t jerr;
  json_t *body = fb_jsonr_loadb(call->resp.data ? call->resp.data : "", call->resp.len, &jerr);
  fb_buf_free(&call->resp);
  if (!body) {
    fb_set_error(&call->why, "invalid JSON from %s: %s", c->peer, jerr.text);
    call->status = FB_HTTP_ERROR;
    return;
  }
  if (!c->check) {
    call->result = body;
    call->status = 0;
    return;
  }
  json_t *out = NULL;
  call->status = c->check(call->arg, body, &out, &call->why);
  json_decref(body);
  if (call->status != 0) {
    json_decref(out);
    out = NULL;
  }
  call->result = out;
}

/* The failed call's sentence, taken over by the caller; a check that failed without one
 * still gets a sentence, since the callback is promised one. */
static char *take_why(fb_http_call *call) {
  char *why = call->why;
  call->why = NULL;
  return why ? why : fb_xstrdup("answer refused");
}

/* Back on the loop: the callback, unless the call was cancelled meanwhile. */
static void parse_done(uv_work_t *w, int uvstatus) {
  fb_http_call *call = fb_container_of(w, fb_http_call, work);
  fb_http_client *c = call->c;
  call_unlink(call);
  if (call->counted) { /* cancelled by close, which waits for this */
    call_destroy(call);
    finish_close(c);
    return;
  }
  if (call->cancelled || uvstatus != 0) { /* only our own uv_cancel makes uvstatus != 0 */
    call_destroy(call);
    return;
  }
  int status = call->status;
  void *result = status == 0 ? call->result : NULL;
  call->result = NULL;
  char *why = status != 0 ? take_why(call) : NULL;
  fb_http_done_cb cb = call->cb;
  void *data = call->data;
  call_destroy(call);
  cb(data, status, result, why);
  free(why);
}

/* A call whose transfer is over (status 1: a 200 to parse; else its error and `why`,
 * taken over): parsed here or on the pool, then its callback. */
static void call_answered(fb_http_call *call, int status, char *why) {
  fb_http_client *c = call->c;
  if (status == 1) {
    /* Large answers are parsed on the thread pool; for small ones the hand-off (a
     * futex wake-up and a second loop pass) costs the loop more than the parse. */
    if (call->resp.len > INLINE_PARSE_MAX) {
      call->parsing = true;
      if (uv_queue_work(c->loop, &call->work, parse_work, parse_done) == 0) return;
      call->parsing = false; /* no thread pool: parse here */
    }
    parse_work(&call->work);
    call_unlink(call);
    status = call->status;
    void *result = status == 0 ? call->result : NULL;
    call->result = NULL;
    if (status != 0) why = take_why(call);
    fb_http_done_cb cb = call->cb;
    void *data = call->data;
    call_destroy(call);
    cb(data, status, result, why);
    free(why);
    return;
  }
  fb_http_done_cb cb = call->cb;
  void *data = call->data;
  call_free(call);
  cb(data, status, NULL, why);
  free(why);
}

/* The end of a call's request in either transport, its outcome turned into this
 * client's sentences; then the next queued call into the freed slot. */
static void transfer_done(void *data, fb_transfer_outcome outcome, int http_status, fb_buf *body,
                          const char *reason) {
  fb_http_call *call = data;
  fb_http_client *c = call->c;
  call->h1req = NULL;
  call->curlreq = NULL;
  c->running--;
  char *why = NULL;
  int status;
  switch (outcome) {
  case FB_TRANSFER_ANSWERED:
    call->resp = *body; /* taken over: sized to the answer, the text check keeps it */
    *body = (fb_buf){0};
    status = judge_code(call, http_status, &why);
    break;
  case FB_TRANSFER_TIMEOUT:
    fb_set_error(&why, "no answer within %u ms", call->timeout_ms);
    status = FB_HTTP_TIMEOUT;
    break;
  case FB_TRANSFER_TOO_BIG:
    fb_set_error(&why, "response over %llu bytes", (unsigned long long)c->max_body);
    status = FB_HTTP_ERROR;
    break;
  default:
    fb_set_error(&why, "request to %s failed: %s", c->peer, reason);
    status = FB_HTTP_ERROR;
    break;
  }
  call_answered(call, status, why);
  queue_start(c); /* the slot just freed, at once rather than at a queued deadline */
}

/* Hands the call to its transport with what is left of its time. 0, or -1 when the
 * transport would not take it (the call is then neither in it nor queued). */
static int call_start(fb_http_call *call, uint32_t timeout_ms) {
  fb_http_client *c = call->c;
  size_t len = strlen(call->body);
  if (c->h1) call->h1req = fb_h1_post(c->h1, call->body, len, timeout_ms, transfer_done, call);
  else call->curlreq = fb_curl_transport_post(c->curl, call->body, len, timeout_ms, transfer_done, call);
  if (!call->h1req && !call->curlreq) return -1;
  c->running++;
  return 0;
}

/* A queued call that cannot go on: its callback with `status` and a sentence. */
static void queue_fail(fb_http_call *call, int status, char *why) {
  fb_http_done_cb cb = call->cb;
  void *data = call->data;
  call_free(call);
  cb(data, status, NULL, why);
  free(why);
}

static void queue_timeout(fb_http_call *call) {
  char *why = NULL;
  fb_set_error(&why, "no answer within %u ms", call->timeout_ms);
  queue_fail(call, FB_HTTP_TIMEOUT, why);
}

/* Starts queued calls, first in first out, while transfer slots are free; one whose
 * deadline passed while it waited times out as curl's timeout would have it. Called
 * only from the loop's own callbacks, never from inside a caller's call. */
static void queue_start(fb_http_client *c) {
  while (c->qhead && c->running < c->max_running && !c->closing) {
    fb_http_call *call = c->qhead;
    uint64_t now = uv_hrtime();
    queue_remove(call);
    if (call->deadline <= now) {
      queue_timeout(call);
    } else if (call_start(call, (uint32_t)((call->deadline - now + 999999) / 1000000)) != 0) {
      char *why = NULL;
      fb_set_error(&why, "request to %s failed: cannot start the transfer", c->peer);
      queue_fail(call, FB_HTTP_ERROR, why);
    }
  }
}

/* At the earliest deadline of a queued call (or at once after a cancel freed a slot):
 * queued calls whose deadline passed time out, free slots are filled, and the timer
 * waits for the next deadline. A scan of the queue, once per deadline. */
static void qtimer_cb(uv_timer_t *timer) {
  fb_http_client *c = fb_container_of(timer, fb_http_client, qtimer);
  c->qtimer_due = UINT64_MAX;
  uint64_t now = uv_hrtime();
  for (fb_http_call *call = c->qhead, *next; call && !c->closing; call = next) {
    next = call->qnext;
    if (call->deadline > now) continue;
    queue_timeout(call);
    next = c->qhead; /* the callback may have cancelled any call: start over */
  }
  queue_start(c);
  if (c->closing || !c->qhead) return;
  uint64_t first = UINT64_MAX;
  for (fb_http_call *call = c->qhead; call; call = call->qnext)
    if (call->deadline < first) first = call->deadline;
  qtimer_arm(c, first, now);
}

fb_http_call *fb_http_post(fb_http_client *c, char *body, uint32_t timeout_ms, const void *check_arg,
                           fb_http_done_cb cb, void *data) {
  if (c->closing || !body) {
    free(body);
    return NULL;
  }
  fb_http_call *call = fb_xcalloc(1, sizeof *call + c->check_arg_size);
  if (c->check_arg_size) memcpy(call->arg, check_arg, c->check_arg_size);
  call->c = c;
  call->cb = cb;
  call->data = data;
  call->body = body;
  call->timeout_ms = timeout_ms ? timeout_ms : c->timeout_ms;
  if (c->timeout_ms && c->timeout_ms < call->timeout_ms) call->timeout_ms = c->timeout_ms;
  if (!call->timeout_ms) call->timeout_ms = DEFAULT_TIMEOUT_MS;
  call->deadline = uv_hrtime() + (uint64_t)call->timeout_ms * 1000000;
  if (c->max_running && (c->running >= c->max_running || c->qhead)) {
    queue_append(call);
  } else if (call_start(call, call->timeout_ms) != 0) {
    free(call->body);
    free(call);
    return NULL;
  }
  call->next = c->calls;
  if (c->calls) c->calls->prev = call;
  c->calls = call;
  return call;
}

void fb_http_cancel(fb_http_call *call) {
  if (!call) return;
  if (call->parsing) { /* parse_done drops the result and frees the call */
    call->cancelled = true;
    uv_cancel((uv_req_t *)&call->work);
    return;
  }
  fb_http_client *c = call->c;
  bool had_slot = call->h1req != NULL || call->curlreq != NULL;
  call_free(call);
  if (had_slot && c->qhead) { /* the next queued call, from the loop */
    uint64_t now = uv_hrtime();
    qtimer_arm(c, now, now);
  }
}

/* Whether the environment names no proxy to use. libcurl reads no_proxy,
 * NO_PROXY, <scheme>_proxy, all_proxy and ALL_PROXY with getenv + strdup for every
 * transfer (four to six look-ups per leg); when none of the proxy variables is set,
 * saying "no proxy" once in the handle's options is the same answer without them. Any
 * of them set, even empty: curl reads them as before. (The hub never changes its
 * environment after start.) */
static bool proxy_env_unset(void) {
  static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                     "ALL_PROXY"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    if (getenv(vars[i])) return false;
  return true;
}


fb_http_client *fb_http_client_new(uv_loop_t *loop, const fb_http_client_options *opts) {
  fb_http_client *c = fb_xcalloc(1, sizeof *c);
  c->loop = loop;
  c->peer = fb_xstrdup(opts->peer ? opts->peer : "peer");
  c->max_body = opts->max_body ? opts->max_body : DEFAULT_MAX_BODY;
  c->timeout_ms = opts->timeout_ms;
  c->error_detail = opts->error_detail;
  c->check = opts->check;
  c->text_check = opts->check ? NULL : opts->text_check;
  c->result_free = opts->result_free;
  c->check_arg_size = opts->check || c->text_check ? opts->check_arg_size : 0;
  bool no_proxy_env = proxy_env_unset();
  if (no_proxy_env) c->h1 = fb_h1_client_for_url(loop, opts->url, opts->bearer, c->max_body, opts->dns_cache_ms);
  if (!c->h1) { /* https://, proxies, anything unusual */
    fb_curl_transport_options o = {.url = opts->url, .ca = opts->ca, .cert = opts->cert, .key = opts->key,
                                   .bearer = opts->bearer, .peer = c->peer, .max_body = c->max_body,
                                   .dns_cache_ms = opts->dns_cache_ms, .no_proxy_env = no_proxy_env};
    if (!(c->curl = fb_curl_transport_new(loop, &o))) {
      free(c->peer);
      free(c);
      return NULL;
    }
  }
  uv_timer_init(loop, &c->qtimer);
  c->qtimer_due = UINT64_MAX;
  /* HTTP/1.1 carries one call per connection: calls beyond the connections wait here */
  if (strncmp(opts->url, "http://", 7) == 0) c->max_running = FB_HTTP_MAX_HOST_CONNECTIONS;
  return c;
}

static void transport_closed_cb(void *data) { finish_close(data); }

static void qtimer_closed_cb(uv_handle_t *h) {
  finish_close(fb_container_of((uv_timer_t *)h, fb_http_client, qtimer));
}

void fb_http_client_close(fb_http_client *c, void (*closed)(void *), void *data) {
  c->closed = closed;
  c->closed_data = data;
  c->closing = true;
  c->pending_closes = 2; /* the queue's timer and the transport; each parsing call adds one */
  for (fb_http_call *call = c->calls, *next; call; call = next) {
    next = call->next;
    if (call->parsing) { /* stays listed until parse_done, which counts down */
      call->cancelled = call->counted = true;
      c->pending_closes++;
      uv_cancel((uv_req_t *)&call->work);
    } else {
      call_free(call); /* its request aborted in the transport */
    }
  }
  if (c->h1) fb_h1_client_close(c->h1, transport_closed_cb, c);
  else fb_curl_transport_close(c->curl, transport_closed_cb, c);
  c->h1 = NULL;
  c->curl = NULL;
  uv_close((uv_handle_t *)&c->qtimer, qtimer_closed_cb);
}
