/* The adapters' HTTP client: calls, their queue, the judgement of an answer and its
 * parse (inline or on the pool), over one of two transports. For http:// with no
 * proxy: fedbroker's own HTTP/1.1 client (h1_client.h, h1_open below). Otherwise
 * libcurl multi on libuv (the standard curl + libuv pattern): CURLMOPT_SOCKETFUNCTION
 * maps curl's sockets to uv_poll_t handles, CURLMOPT_TIMERFUNCTION to one uv_timer_t;
 * each call is one easy handle: POST of a JSON body, response capped at max_body (the
 * transfer is aborted past it), its own timeout. Contract in curl_loop.h. */
#include "http_client/curl_loop.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/error.h"
#include "core/hublock.h"
#include "core/jsonr.h"
#include "core/log.h"
#include "core/util.h"
#include "http_client/h1_client.h"

#define DEFAULT_MAX_BODY (8u << 20)
#define DEFAULT_TIMEOUT_MS 30000u
#define MAX_IDLE_EASY 64 /* easy handles kept for reuse; more in flight are freed when done */
/* Connections curl may open to the peer. Over http:// (HTTP/1.1: one transfer per
 * connection) the loop also keeps at most this many transfers in curl and queues the
 * rest itself: a transfer that curl cannot give a connection waits in curl's pending
 * list, and that path cost 8-12 us more of the loop per leg at 32-64 legs in flight
 * than this queue (bench/leg_bench.c). Over https:// curl queues as before (an h2
 * connection carries many transfers). */
#define MAX_HOST_CONNECTIONS 16

typedef struct sock_ctx sock_ctx;

struct fb_curl_loop {
  uv_loop_t *loop;
  CURLM *multi;       /* NULL when the loop's transport is fb_h1_client */
  fb_h1_client *h1;   /* http:// with no proxy: fedbroker's own HTTP/1.1 client */
  uv_timer_t timer;
  char *url, *ca, *cert, *key, *peer;
  CURLU *uh;                  /* the URL parsed once at open, shared by every easy handle */
  struct curl_slist *headers; /* built once at open, shared by every easy handle */
  CURL **idle;                /* reusable easy handles: curl_easy_init costs a few KiB of setup */
  size_t nidle;
  uint64_t max_body;
  uint32_t timeout_ms;
  long dns_cache_s;           /* CURLOPT_DNS_CACHE_TIMEOUT: whole seconds */
  bool no_proxy_env;          /* no proxy variable in the environment at open (proxy_env_unset) */
  bool error_detail;
  fb_curl_check_fn check;
  fb_curl_text_check_fn text_check;
  void (*result_free)(void *);
  size_t check_arg_size;
  fb_curl_call *calls; /* in flight: queued, in curl, or their answer being parsed on a worker */
  /* The loop's own queue (http:// only; max_running 0: none, curl queues): calls
   * waiting for one of the max_running transfer slots, first in first out. */
  uint32_t max_running, running;
  fb_curl_call *qhead, *qtail;
  uv_timer_t qtimer;   /* the earliest deadline of a queued call, or 0 ms after a cancel */
  uint64_t qtimer_due; /* uv_hrtime() it is due at; UINT64_MAX: not armed */
  sock_ctx *socks;     /* live poll handles */
  sock_ctx **byfd;     /* the sockets we opened, by fd number (nbyfd slots) */
  size_t nbyfd;
  int pending_closes;
  uint64_t stale_sockets; /* contexts found outliving their fd (sock_forget_fd) */
  bool closing;
  void (*closed)(void *);
  void *closed_data;
};

struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  fb_curl_loop *cl;
  sock_ctx *prev, *next;
  int events;   /* what the poll watches now; 0: stopped */
  bool owned;   /* opened by open_socket_cb, in byfd until close_socket_cb */
  bool parked;  /* curl said REMOVE: the poll is unreferenced, its events ignored */
  bool counted; /* released while closing: its close callback counts down */
  bool stale;   /* its fd number was handed out again: the fd it watched is gone */
};

struct fb_curl_call {
  fb_curl_loop *cl;
  fb_curl_call *prev, *next;
  CURL *easy; /* NULL once the transfer is over */
  fb_h1_request *h1req; /* instead of `easy` on an fb_h1_client loop */
  char *body; /* request body, owned (curl does not copy CURLOPT_POSTFIELDS) */
  fb_buf resp;
  bool over_limit;
  uint32_t timeout_ms;
  uint64_t deadline;  /* uv_hrtime() at which the call times out (not the loop's cached time) */
  bool queued;        /* in the loop's queue, not yet in curl */
  fb_curl_call *qprev, *qnext;
  fb_curl_done_cb cb;
  void *data;
  char errbuf[CURL_ERROR_SIZE];
  /* The worker's part: from uv_queue_work until parse_done, only the worker touches
   * resp, result, status and why; the loop thread only sets the flags. */
  uv_work_t work;
  bool parsing;   /* queued on the thread pool */
  bool cancelled; /* parse result to be dropped, no callback */
  bool counted;   /* cancelled by close: parse_done counts down the close */
  int status;
  void *result; /* a json_t, or text_check's result */
  char *why; /* the error sentence (core/error.h), owned */
  _Alignas(max_align_t) unsigned char arg[]; /* the check's argument, check_arg_size bytes */
};

static void check_done(fb_curl_loop *cl);
static void queue_start(fb_curl_loop *cl);
static void qtimer_cb(uv_timer_t *t);

/* Answers up to this size are parsed on the loop thread (see check_done). */
#define INLINE_PARSE_MAX (16u << 10)

/* ---- libuv <-> curl plumbing ---- */

static void finish_close(fb_curl_loop *cl) {
  if (--cl->pending_closes > 0) return;
  void (*closed)(void *) = cl->closed;
  void *data = cl->closed_data;
  free(cl->url);
  free(cl->ca);
  free(cl->cert);
  free(cl->key);
  free(cl->peer);
  curl_slist_free_all(cl->headers);
  curl_url_cleanup(cl->uh);
  free(cl->byfd);
  free(cl);
  if (closed) closed(data);
}

static void sock_closed_cb(uv_handle_t *h) {
  sock_ctx *s = fb_container_of((uv_poll_t *)h, sock_ctx, poll);
  fb_curl_loop *cl = s->cl;
  bool counted = s->counted;
  free(s);
  if (counted) finish_close(cl); /* otherwise `cl` may be gone: do not touch it */
}

static void sock_release(fb_curl_loop *cl, sock_ctx *s) {
  if (s->prev) s->prev->next = s->next;
  else cl->socks = s->next;
  if (s->next) s->next->prev = s->prev;
  if (s->owned && (size_t)s->fd < cl->nbyfd) cl->byfd[s->fd] = NULL;
  if (cl->closing) {
    s->counted = true;
    cl->pending_closes++;
  }
  uv_close((uv_handle_t *)&s->poll, sock_closed_cb); /* stops the poll: the fd is still open */
}

/* A context still registered for `fd` when the kernel hands that number out again (or
 * curl announces it afresh) watched a socket that curl closed without telling us — its
 * threaded resolver can, when a leg is cancelled while a name is being resolved. Its
 * poll must stop now: libuv refuses a second poll on the same fd number (EEXIST), and
 * every later connection on that number would fail at once ("Couldn't connect after
 * 0 ms", forever — seen in the pilot after a node container stopped). The context stays
 * in the list, inert, until curl's REMOVE or the loop's close frees it, since curl may
 * still hold it as socketp. */
static void sock_forget_fd(fb_curl_loop *cl, curl_socket_t fd) {
  for (sock_ctx *s = cl->socks; s; s = s->next) {
    if (s->fd != fd || s->stale) continue;
    uv_poll_stop(&s->poll);
    s->events = 0;
    s->stale = true;
    if (s->owned && (size_t)fd < cl->nbyfd && cl->byfd[fd] == s) cl->byfd[fd] = NULL;
    s->owned = false;
    cl->stale_sockets++;
    fb_debug("curl_stale_socket", "%s %s: fd %d outlived its socket (%llu so far)", cl->peer, cl->url, (int)fd,
             (unsigned long long)cl->stale_sockets);
  }
}

static sock_ctx *sock_new(fb_curl_loop *cl, curl_socket_t fd) {
  sock_forget_fd(cl, fd);
  sock_ctx *s = fb_xcalloc(1, sizeof *s);
  s->fd = fd;
  s->cl = cl;
  if (uv_poll_init_socket(cl->loop, &s->poll, fd) != 0) {
    free(s);
    return NULL;
  }
  s->next = cl->socks;
  if (cl->socks) cl->socks->prev = s;
  cl->socks = s;
  return s;
}

/* The context of a socket opened by open_socket_cb and not yet closed, else NULL. */
static sock_ctx *sock_owned(fb_curl_loop *cl, curl_socket_t fd) {
  return fd >= 0 && (size_t)fd < cl->nbyfd ? cl->byfd[fd] : NULL;
}

/* Stops watching a parked socket; it is watched again when curl asks. */
static void sock_unwatch(sock_ctx *s) {
  uv_poll_stop(&s->poll);
  s->events = 0;
}

static void poll_cb(uv_poll_t *p, int status, int events) {
  sock_ctx *s = fb_container_of(p, sock_ctx, poll);
  fb_curl_loop *cl = s->cl;
  if (s->parked) { /* curl is not interested (idle connection closed by the peer, say) */
    sock_unwatch(s);
    return;
  }
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  int running;
  bool yielded = fb_hublock_yield(); /* curl's work is this loop's own (hublock.h) */
  curl_multi_socket_action(cl->multi, s->fd, flags, &running);
  check_done(cl);
  fb_hublock_resume(yielded);
}

/* Curl removes a kept-alive connection's socket when its transfer ends and adds it
 * again at the next one. The context of a socket we opened survives that (closed only
 * by close_socket_cb, when the fd number is given back): on REMOVE it is "parked" —
 * the poll stays as it was but unreferenced, so an idle connection neither keeps the
 * loop alive nor costs two epoll_ctl per leg; an event on a parked socket stops the
 * poll. A socket curl did not open through us (a resolver's) gets a context for the
 * time between its first add and its REMOVE, as curl's socketp. */
static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  fb_curl_loop *cl = userp;
  sock_ctx *s = socketp;
  if (s && s->stale) { /* curl's entry outlived the fd it was made for */
    if (what == CURL_POLL_REMOVE) {
      sock_release(cl, s);
      return 0;
    }
    s = NULL;
    socketp = NULL;
  }
  if (!s) s = sock_owned(cl, fd);
  if (what == CURL_POLL_REMOVE) {
    if (!s) return 0;
    if (s->owned) {
      s->parked = true;
      uv_unref((uv_handle_t *)&s->poll);
    } else {
      sock_release(cl, s);
    }
    return 0;
  }
  if (!s) {
    if (!(s = sock_new(cl, fd))) return -1;
  }
  if (!socketp) curl_multi_assign(cl->multi, fd, s);
  if (s->parked) {
    s->parked = false;
    uv_ref((uv_handle_t *)&s->poll);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  /* uv_poll_start re-registers with epoll even for the same events: skip it then */
  if (events != s->events) {
    if (uv_poll_start(&s->poll, events, poll_cb) != 0) return -1;
    s->events = events;
  }
  return 0;
}

/* Connection sockets are opened and closed here, so that a context keyed by fd number
 * lives exactly as long as that fd: a number the kernel hands out again belongs to a
 * new context, never a stale one. The poll handle is stopped (uv_close) before the fd
 * is closed. */
static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr) {
  fb_curl_loop *cl = clientp;
  (void)purpose;
  curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  if (cl->closing) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  sock_ctx *s = sock_new(cl, fd);
  if (!s) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  s->owned = true;
  if ((size_t)fd >= cl->nbyfd) {
    size_t n = cl->nbyfd ? cl->nbyfd : 64;
    while (n <= (size_t)fd) n *= 2;
    cl->byfd = fb_xrealloc(cl->byfd, n * sizeof *cl->byfd);
    memset(cl->byfd + cl->nbyfd, 0, (n - cl->nbyfd) * sizeof *cl->byfd);
    cl->nbyfd = n;
  }
  cl->byfd[fd] = s;
  return fd;
}

static int close_socket_cb(void *clientp, curl_socket_t fd) {
  fb_curl_loop *cl = clientp;
  sock_ctx *s = sock_owned(cl, fd);
  if (s) sock_release(cl, s);
  return close(fd);
}

static void timer_cb(uv_timer_t *t) {
  fb_curl_loop *cl = fb_container_of(t, fb_curl_loop, timer);
  int running;
  bool yielded = fb_hublock_yield();
  curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(cl);
  fb_hublock_resume(yielded);
}

static int timerfunc_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  fb_curl_loop *cl = userp;
  if (cl->closing) return 0;
  if (timeout_ms < 0) uv_timer_stop(&cl->timer);
  else uv_timer_start(&cl->timer, timer_cb, (uint64_t)timeout_ms, 0); /* 0: next loop turn */
  return 0;
}

/* ---- calls ---- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
  fb_curl_call *call = userdata;
  size_t n = size * nmemb;
  if (call->resp.len + n > call->cl->max_body) {
    call->over_limit = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  fb_buf_append(&call->resp, ptr, n);
  return n;
}

/* The options every call of this loop shares: set once, when the easy handle is made.
 * A reused handle keeps them (no curl_easy_reset: resetting and setting them again
 * cost more per leg than the request's own options); fb_curl_post sets every
 * per-call option each time, and easy_put clears the pointers into the last call. */
static void easy_setup(fb_curl_loop *cl, CURL *e) {
  if (cl->uh) curl_easy_setopt(e, CURLOPT_CURLU, cl->uh);
  else curl_easy_setopt(e, CURLOPT_URL, cl->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, cl->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cl->max_body);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  /* Waiting for a connection to learn whether it multiplexes pays only where it can
   * (h2 over https://). Over http:// (HTTP/1.1) it held every leg but the first of a
   * new node back until the first had its answer, then ran them one by one on that
   * connection. */
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, cl->max_running ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a peer that redirects is misconfigured */
  curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, cl->dns_cache_s);
  /* copied into each connection at its creation: `cl` outlives them all */
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, cl);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, cl);
  if (cl->ca) curl_easy_setopt(e, CURLOPT_CAINFO, cl->ca);
  if (cl->cert) curl_easy_setopt(e, CURLOPT_SSLCERT, cl->cert);
  if (cl->key) curl_easy_setopt(e, CURLOPT_SSLKEY, cl->key);
  if (cl->no_proxy_env) { /* "" for both: no proxy, and nothing read from the environment */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
}

static CURL *easy_get(fb_curl_loop *cl) {
  CURL *e;
  if (cl->nidle > 0) return cl->idle[--cl->nidle];
  if (!(e = curl_easy_init())) return NULL;
  easy_setup(cl, e);
  return e;
}

/* `e` is out of the multi handle. */
static void easy_put(fb_curl_loop *cl, CURL *e) {
  if (cl->nidle < MAX_IDLE_EASY && !cl->closing) {
    if (!cl->idle) cl->idle = fb_xmalloc(MAX_IDLE_EASY * sizeof *cl->idle);
    /* nothing idle may point into the call that is about to be freed */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    cl->idle[cl->nidle++] = e;
  } else {
    curl_easy_cleanup(e);
  }
}

static void call_unlink(fb_curl_call *call) {
  fb_curl_loop *cl = call->cl;
  if (call->prev) call->prev->next = call->next;
  else cl->calls = call->next;
  if (call->next) call->next->prev = call->prev;
}

/* Arms the queue's timer for `due` (uv_hrtime(); `now` is that clock now), unless it
 * fires earlier already. Rounded up to whole ms: a deadline never passes early. */
static void qtimer_arm(fb_curl_loop *cl, uint64_t due, uint64_t now) {
  if (due >= cl->qtimer_due) return;
  cl->qtimer_due = due;
  uv_timer_start(&cl->qtimer, qtimer_cb, due > now ? (due - now + 999999) / 1000000 : 0, 0);
}

static void queue_remove(fb_curl_call *call) {
  fb_curl_loop *cl = call->cl;
  if (!call->queued) return;
  if (call->qprev) call->qprev->qnext = call->qnext;
  else cl->qhead = call->qnext;
  if (call->qnext) call->qnext->qprev = call->qprev;
  else cl->qtail = call->qprev;
  call->qprev = call->qnext = NULL;
  call->queued = false;
  if (!cl->qhead) { /* nothing to wait for: the timer must not hold the loop */
    uv_timer_stop(&cl->qtimer);
    cl->qtimer_due = UINT64_MAX;
  }
}

static void queue_append(fb_curl_call *call) {
  fb_curl_loop *cl = call->cl;
  call->queued = true;
  call->qnext = NULL;
  call->qprev = cl->qtail;
  if (cl->qtail) cl->qtail->qnext = call;
  else cl->qhead = call;
  cl->qtail = call;
  qtimer_arm(cl, call->deadline, uv_hrtime());
}

/* Ends the transfer: the easy handle goes back to the free list, and its slot to
 * the queue (check_done starts the next queued call; after a cancel, the queue's
 * timer does). */
static void call_release_easy(fb_curl_call *call) {
  fb_curl_loop *cl = call->cl;
  if (call->h1req) {
    fb_h1_abort(call->h1req);
    call->h1req = NULL;
    cl->running--;
    return;
  }
  if (!call->easy) return;
  curl_multi_remove_handle(cl->multi, call->easy);
  easy_put(cl, call->easy);
  call->easy = NULL;
  cl->running--;
}

static void result_free(const fb_curl_loop *cl, void *result) {
  if (!result) return;
  if (cl->text_check) cl->result_free(result);
  else json_decref(result);
}

static void call_destroy(fb_curl_call *call) {
  free(call->body);
  fb_buf_free(&call->resp);
  result_free(call->cl, call->result);
  free(call->why);
  free(call);
}

/* A call whose answer is not on a worker: gone at once. */
static void call_free(fb_curl_call *call) {
  queue_remove(call);
  call_unlink(call);
  call_release_easy(call);
  call_destroy(call);
}

/* Non-200: the status, plus the peer's own error sentence when asked for and present
 * (a fedbroker hub answers {"error": {"code", "message"}}). */
static void http_status_error(fb_curl_call *call, long code, char **err) {
  fb_curl_loop *cl = call->cl;
  const char *msg = NULL;
  json_t *body = NULL;
  if (cl->error_detail && call->resp.len) {
    body = json_loadb(call->resp.data, call->resp.len, 0, NULL);
    msg = json_string_value(json_object_get(json_object_get(body, "error"), "message"));
  }
  if (msg) fb_set_error(err, "HTTP %ld from %s: %.300s", code, cl->peer, msg);
  else fb_set_error(err, "HTTP %ld from %s", code, cl->peer);
  json_decref(body);
}

/* 1 for a 200, whose body is to be parsed; else FB_CURL_ERROR with its sentence. */
static int judge_code(fb_curl_call *call, long code, char **err) {
  if (code != 200) {
    http_status_error(call, code, err);
    return FB_CURL_ERROR;
  }
  return 1;
}

/* Judges a finished transfer: 1 for a 200 whose body is to be parsed, else the
 * error status with its sentence. */
static int judge(fb_curl_call *call, CURLcode rc, char **err) {
  fb_curl_loop *cl = call->cl;
  if (call->over_limit || rc == CURLE_FILESIZE_EXCEEDED) {
    fb_set_error(err, "response over %llu bytes", (unsigned long long)cl->max_body);
    return FB_CURL_ERROR;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    fb_set_error(err, "no answer within %u ms", call->timeout_ms);
    return FB_CURL_TIMEOUT;
  }
  if (rc != CURLE_OK) {
    fb_set_error(err, "request to %s failed: %s", cl->peer,
                 call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
    return FB_CURL_ERROR;
  }
  long code = 0;
  curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
  return judge_code(call, code, err);
}

/* On a worker thread: the answer's JSON parse and the caller's check, the per-leg
 * work that would otherwise hold the loop thread. Reads only the call's own buffers
 * and the loop's immutable peer/check (cl outlives queued work: close waits for it). */
static void parse_work(uv_work_t *w) {
  fb_curl_call *call = fb_container_of(w, fb_curl_call, work);
  fb_curl_loop *cl = call->cl;
  if (cl->text_check) {
    size_t len = call->resp.len;
    char *text = call->resp.data ? fb_buf_steal(&call->resp) : fb_xstrdup("");
    call->status = cl->text_check(call->arg, text, len, &call->result, &call->why);
    if (call->status != 0) {
      result_free(cl, call->result);
      call->result = NULL;
    }
    return;
  }
  json_error_t jerr;
  json_t *body = fb_jsonr_loadb(call->resp.data ? call->resp.data : "", call->resp.len, &jerr);
  fb_buf_free(&call->resp);
  if (!body) {
    fb_set_error(&call->why, "invalid JSON from %s: %s", cl->peer, jerr.text);
    call->status = FB_CURL_ERROR;
    return;
  }
  if (!cl->check) {
    call->result = body;
    call->status = 0;
    return;
  }
  json_t *out = NULL;
  call->status = cl->check(call->arg, body, &out, &call->why);
  json_decref(body);
  if (call->status != 0) {
    json_decref(out);
    out = NULL;
  }
  call->result = out;
}

/* The failed call's sentence, taken over by the caller; a check that failed without one
 * still gets a sentence, since the callback is promised one. */
static char *take_why(fb_curl_call *call) {
  char *why = call->why;
  call->why = NULL;
  return why ? why : fb_xstrdup("answer refused");
}

/* Back on the loop: the callback, unless the call was cancelled meanwhile. */
static void parse_done(uv_work_t *w, int uvstatus) {
  fb_curl_call *call = fb_container_of(w, fb_curl_call, work);
  fb_curl_loop *cl = call->cl;
  call_unlink(call);
  if (call->counted) { /* cancelled by close, which waits for this */
    call_destroy(call);
    finish_close(cl);
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
  fb_curl_done_cb cb = call->cb;
  void *data = call->data;
  call_destroy(call);
  cb(data, status, result, why);
  free(why);
}

/* The caller's callback is application code: under the hub lock, which check_done's
 * callers let go of for curl's own work (hublock.h). */
static void done_locked(fb_curl_done_cb cb, void *data, int status, void *result, const char *why) {
  bool entered = fb_hublock_enter();
  cb(data, status, result, why);
  fb_hublock_leave(entered);
}

/* A call whose transfer is over (status 1: a 200 to parse; else its error and `why`,
 * taken over): parsed here or on the pool, then its callback. */
static void call_answered(fb_curl_call *call, int status, char *why) {
  fb_curl_loop *cl = call->cl;
  if (status == 1) {
    /* Large answers are parsed on the thread pool; for small ones the hand-off (a
     * futex wake-up and a second loop pass) costs the loop more than the parse. */
    if (call->resp.len > INLINE_PARSE_MAX) {
      call->parsing = true;
      if (uv_queue_work(cl->loop, &call->work, parse_work, parse_done) == 0) return;
      call->parsing = false; /* no thread pool: parse here */
    }
    parse_work(&call->work);
    call_unlink(call);
    status = call->status;
    void *result = status == 0 ? call->result : NULL;
    call->result = NULL;
    if (status != 0) why = take_why(call);
    fb_curl_done_cb cb = call->cb;
    void *data = call->data;
    call_destroy(call);
    done_locked(cb, data, status, result, why);
    free(why);
    return;
  }
  fb_curl_done_cb cb = call->cb;
  void *data = call->data;
  call_free(call);
  done_locked(cb, data, status, NULL, why);
  free(why);
}

static void check_done(fb_curl_loop *cl) {
  CURLMsg *msg;
  int left;
  /* A callback may cancel other calls or close the loop: both are safe here, since
   * curl drops the messages of removed handles, and closing stops this loop. */
  while (!cl->closing && (msg = curl_multi_info_read(cl->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    fb_curl_call *call = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
    if (!call) continue;
    char *why = NULL;
    int status = judge(call, msg->data.result, &why);
    if (status == 1) call_release_easy(call); /* the connection is free for the next leg already */
    call_answered(call, status, why);
  }
  queue_start(cl); /* the slots freed above, at once rather than a loop turn later */
}

/* The end of fb_h1_client's request (its verdict turned into this loop's sentences),
 * then the next queued call into the freed slot. */
static void h1_done(void *data, fb_h1_outcome outcome, int http_status, fb_buf *body, const char *reason) {
  fb_curl_call *call = data;
  fb_curl_loop *cl = call->cl;
  call->h1req = NULL;
  cl->running--;
  char *why = NULL;
  int status;
  switch (outcome) {
  case FB_H1_ANSWERED:
    call->resp = *body; /* taken over: sized to the answer, the text check keeps it */
    *body = (fb_buf){0};
    status = judge_code(call, http_status, &why);
    break;
  case FB_H1_TIMEOUT:
    fb_set_error(&why, "no answer within %u ms", call->timeout_ms);
    status = FB_CURL_TIMEOUT;
    break;
  case FB_H1_TOO_BIG:
    fb_set_error(&why, "response over %llu bytes", (unsigned long long)cl->max_body);
    status = FB_CURL_ERROR;
    break;
  default:
    fb_set_error(&why, "request to %s failed: %s", cl->peer, reason);
    status = FB_CURL_ERROR;
    break;
  }
  call_answered(call, status, why);
  queue_start(cl); /* the slot just freed, at once rather than at a queued deadline */
}

/* Hands the call to curl with what is left of its time. 0, or -1 when curl would not
 * take it (the call is then neither in curl nor queued). */
static int call_start(fb_curl_call *call, uint32_t timeout_ms) {
  fb_curl_loop *cl = call->cl;
  if (cl->h1) {
    call->h1req = fb_h1_post(cl->h1, call->body, strlen(call->body), timeout_ms, h1_done, call);
    if (!call->h1req) return -1;
    cl->running++;
    return 0;
  }
  call->easy = easy_get(cl);
  if (!call->easy) return -1;
  CURL *e = call->easy;
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(call->body));
  curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
  curl_easy_setopt(e, CURLOPT_PRIVATE, call);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  if (curl_multi_add_handle(cl->multi, e) != CURLM_OK) {
    easy_put(cl, e);
    call->easy = NULL;
    return -1;
  }
  cl->running++;
  return 0;
}

/* A queued call that cannot go on: its callback with `status` and a sentence. */
static void queue_fail(fb_curl_call *call, int status, char *why) {
  fb_curl_done_cb cb = call->cb;
  void *data = call->data;
  call_free(call);
  done_locked(cb, data, status, NULL, why); /* check_done's caller may not hold the hub lock */
  free(why);
}

static void queue_timeout(fb_curl_call *call) {
  char *why = NULL;
  fb_set_error(&why, "no answer within %u ms", call->timeout_ms);
  queue_fail(call, FB_CURL_TIMEOUT, why);
}

/* Starts queued calls, first in first out, while transfer slots are free; one whose
 * deadline passed while it waited times out as curl's timeout would have it. Called
 * only from the loop's own callbacks, never from inside a caller's call. */
static void queue_start(fb_curl_loop *cl) {
  while (cl->qhead && cl->running < cl->max_running && !cl->closing) {
    fb_curl_call *call = cl->qhead;
    uint64_t now = uv_hrtime();
    queue_remove(call);
    if (call->deadline <= now) {
      queue_timeout(call);
    } else if (call_start(call, (uint32_t)((call->deadline - now + 999999) / 1000000)) != 0) {
      char *why = NULL;
      fb_set_error(&why, "request to %s failed: cannot start the transfer", cl->peer);
      queue_fail(call, FB_CURL_ERROR, why);
    }
  }
}

/* At the earliest deadline of a queued call (or at once after a cancel freed a slot):
 * queued calls whose deadline passed time out, free slots are filled, and the timer
 * waits for the next deadline. A scan of the queue, once per deadline. */
static void qtimer_cb(uv_timer_t *t) {
  fb_curl_loop *cl = fb_container_of(t, fb_curl_loop, qtimer);
  cl->qtimer_due = UINT64_MAX;
  uint64_t now = uv_hrtime();
  for (fb_curl_call *call = cl->qhead, *next; call && !cl->closing; call = next) {
    next = call->qnext;
    if (call->deadline > now) continue;
    queue_timeout(call);
    next = cl->qhead; /* the callback may have cancelled any call: start over */
  }
  queue_start(cl);
  if (cl->closing || !cl->qhead) return;
  uint64_t first = UINT64_MAX;
  for (fb_curl_call *call = cl->qhead; call; call = call->qnext)
    if (call->deadline < first) first = call->deadline;
  qtimer_arm(cl, first, now);
}

fb_curl_call *fb_curl_post(fb_curl_loop *cl, char *body, uint32_t timeout_ms, const void *check_arg,
                           fb_curl_done_cb cb, void *data) {
  if (cl->closing || !body) {
    free(body);
    return NULL;
  }
  fb_curl_call *call = fb_xcalloc(1, sizeof *call + cl->check_arg_size);
  if (cl->check_arg_size) memcpy(call->arg, check_arg, cl->check_arg_size);
  call->cl = cl;
  call->cb = cb;
  call->data = data;
  call->body = body;
  call->timeout_ms = timeout_ms ? timeout_ms : cl->timeout_ms;
  if (cl->timeout_ms && cl->timeout_ms < call->timeout_ms) call->timeout_ms = cl->timeout_ms;
  if (!call->timeout_ms) call->timeout_ms = DEFAULT_TIMEOUT_MS;
  call->deadline = uv_hrtime() + (uint64_t)call->timeout_ms * 1000000;
  if (cl->max_running && (cl->running >= cl->max_running || cl->qhead)) {
    queue_append(call);
  } else if (call_start(call, call->timeout_ms) != 0) {
    free(call->body);
    free(call);
    return NULL;
  }
  call->next = cl->calls;
  if (cl->calls) cl->calls->prev = call;
  cl->calls = call;
  return call;
}

void fb_curl_cancel(fb_curl_call *call) {
  if (!call) return;
  if (call->parsing) { /* parse_done drops the result and frees the call */
    call->cancelled = true;
    uv_cancel((uv_req_t *)&call->work);
    return;
  }
  fb_curl_loop *cl = call->cl;
  bool had_slot = call->easy != NULL || call->h1req != NULL;
  call_free(call);
  if (had_slot && cl->qhead) { /* the next queued call, from the loop */
    uint64_t now = uv_hrtime();
    qtimer_arm(cl, now, now);
  }
}

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Whether the environment names no proxy for curl to use. libcurl reads no_proxy,
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

static char *dup_or_null(const char *s) { return s ? fb_xstrdup(s) : NULL; }

static char *url_part(CURLU *uh, CURLUPart what, unsigned flags) {
  char *v = NULL;
  return curl_url_get(uh, what, &v, flags) == CURLUE_OK ? v : NULL;
}

/* fedbroker's own HTTP/1.1 client (h1_client.h) when the URL is plain http:// with no
 * proxy in the environment and no credentials in the URL; NULL: libcurl carries the
 * calls (https://, proxies, anything unusual). */
static fb_h1_client *h1_open(fb_curl_loop *cl, const fb_curl_loop_options *opts) {
  if (!cl->uh || !cl->no_proxy_env || strncmp(cl->url, "http://", 7) != 0) return NULL;
  char *user = url_part(cl->uh, CURLUPART_USER, 0), *pass = url_part(cl->uh, CURLUPART_PASSWORD, 0);
  char *zone = url_part(cl->uh, CURLUPART_ZONEID, 0);
  char *host = url_part(cl->uh, CURLUPART_HOST, 0), *port = url_part(cl->uh, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  char *path = url_part(cl->uh, CURLUPART_PATH, 0), *query = url_part(cl->uh, CURLUPART_QUERY, 0);
  fb_h1_client *h1 = NULL;
  long portnum = port ? strtol(port, NULL, 10) : 0;
  if (!user && !pass && !zone && host && host[0] && portnum > 0 && portnum < 65536) {
    fb_buf target = {0}, hosthdr = {0}, headers = {0};
    fb_buf_puts(&target, path && path[0] ? path : "/");
    if (query) fb_buf_printf(&target, "?%s", query);
    fb_buf_puts(&hosthdr, host); /* as curl writes it: the port unless it is 80 */
    if (portnum != 80) fb_buf_printf(&hosthdr, ":%ld", portnum);
    size_t hl = strlen(host); /* an IPv6 literal comes bracketed: the resolver wants it bare */
    char *bare = host[0] == '[' && hl > 2 ? fb_xstrndup(host + 1, hl - 2) : fb_xstrdup(host);
    fb_buf_puts(&headers, "Content-Type: application/json; charset=utf-8\r\nAccept: application/json\r\n");
    if (opts->bearer) fb_buf_printf(&headers, "Authorization: Bearer %s\r\n", opts->bearer);
    fb_h1_options o = {.host = bare, .port = (uint16_t)portnum, .host_header = hosthdr.data, .target = target.data,
                       .headers = headers.data, .max_body = opts->max_body ? opts->max_body : DEFAULT_MAX_BODY,
                       .dns_cache_ms = opts->dns_cache_ms};
    h1 = fb_h1_client_new(cl->loop, &o);
    explicit_bzero(headers.data, headers.len); /* a credential: not left in freed memory */
    fb_buf_free(&headers);
    fb_buf_free(&target);
    fb_buf_free(&hosthdr);
    free(bare);
  }
  curl_free(user);
  curl_free(pass);
  curl_free(zone);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_free(query);
  return h1;
}

fb_curl_loop *fb_curl_loop_new(uv_loop_t *loop, const fb_curl_loop_options *opts) {
  static uv_once_t once = UV_ONCE_INIT;
  uv_once(&once, global_init);
  fb_curl_loop *cl = fb_xcalloc(1, sizeof *cl);
  cl->loop = loop;
  cl->url = fb_xstrdup(opts->url);
  /* Parsed once here rather than by curl for every transfer; when curl's parser refuses
   * it, CURLOPT_URL carries it and the transfer reports curl's own error. */
  cl->uh = curl_url();
  if (cl->uh && curl_url_set(cl->uh, CURLUPART_URL, cl->url, 0) != CURLUE_OK) {
    curl_url_cleanup(cl->uh);
    cl->uh = NULL;
  }
  cl->ca = dup_or_null(opts->ca);
  cl->cert = dup_or_null(opts->cert);
  cl->key = dup_or_null(opts->key);
  cl->peer = fb_xstrdup(opts->peer ? opts->peer : "peer");
  cl->max_body = opts->max_body ? opts->max_body : DEFAULT_MAX_BODY;
  cl->timeout_ms = opts->timeout_ms;
  cl->dns_cache_s = (long)((opts->dns_cache_ms + 999) / 1000);
  cl->error_detail = opts->error_detail;
  cl->check = opts->check;
  cl->text_check = opts->check ? NULL : opts->text_check;
  cl->result_free = opts->result_free;
  cl->check_arg_size = opts->check || cl->text_check ? opts->check_arg_size : 0;
  cl->no_proxy_env = proxy_env_unset();
  if ((cl->h1 = h1_open(cl, opts))) { /* no curl handles at all */
    curl_url_cleanup(cl->uh);
    cl->uh = NULL;
    uv_timer_init(loop, &cl->timer);
    uv_timer_init(loop, &cl->qtimer);
    cl->qtimer_due = UINT64_MAX;
    cl->max_running = MAX_HOST_CONNECTIONS;
    return cl;
  }
  cl->multi = curl_multi_init();
  if (!cl->multi) {
    free(cl->url);
    free(cl->ca);
    free(cl->cert);
    free(cl->key);
    free(cl->peer);
    curl_url_cleanup(cl->uh);
    free(cl);
    return NULL;
  }
  cl->headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
  cl->headers = curl_slist_append(cl->headers, "Accept: application/json");
  cl->headers = curl_slist_append(cl->headers, "Expect:"); /* no 100-continue round trip */
  if (opts->bearer) {
    fb_buf h = {0};
    fb_buf_puts(&h, "Authorization: Bearer ");
    fb_buf_puts(&h, opts->bearer);
    char *line = fb_buf_steal(&h);
    cl->headers = curl_slist_append(cl->headers, line); /* curl copies the string */
    explicit_bzero(line, strlen(line)); /* a credential: do not leave it in freed memory */
    free(line);
  }
  uv_timer_init(loop, &cl->timer);
  uv_timer_init(loop, &cl->qtimer);
  cl->qtimer_due = UINT64_MAX;
  if (strncmp(cl->url, "http://", 7) == 0) cl->max_running = MAX_HOST_CONNECTIONS;
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timerfunc_cb);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(cl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_HOST_CONNECTIONS);
  /* Idle connections kept: by default libcurl keeps four per transfer in the multi
   * handle, so a quiet moment (one leg running) closed all but four of the 16, and the
   * next busy one opened them again (test_http_queue.c: test_idle_connections_kept). */
  curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, (long)MAX_HOST_CONNECTIONS);
  return cl;
}

static void h1_closed_cb(void *data) { finish_close(data); }

static void timer_closed_cb(uv_handle_t *h) {
  finish_close(fb_container_of((uv_timer_t *)h, fb_curl_loop, timer));
}

static void qtimer_closed_cb(uv_handle_t *h) {
  finish_close(fb_container_of((uv_timer_t *)h, fb_curl_loop, qtimer));
}

void fb_curl_loop_close(fb_curl_loop *cl, void (*closed)(void *), void *data) {
  cl->closed = closed;
  cl->closed_data = data;
  cl->closing = true;
  cl->pending_closes = 2; /* the two timers; each poll handle and each parsing call add one */
  for (fb_curl_call *call = cl->calls, *next; call; call = next) {
    next = call->next;
    if (call->parsing) { /* stays listed until parse_done, which counts down */
      call->cancelled = call->counted = true;
      cl->pending_closes++;
      uv_cancel((uv_req_t *)&call->work);
    } else {
      call_free(call);
    }
  }
  if (cl->h1) { /* its requests were aborted with their calls above */
    cl->pending_closes++;
    fb_h1_client *h1 = cl->h1;
    cl->h1 = NULL;
    fb_h1_client_close(h1, h1_closed_cb, cl);
  }
  for (size_t i = 0; i < cl->nidle; i++) curl_easy_cleanup(cl->idle[i]);
  free(cl->idle);
  cl->idle = NULL;
  cl->nidle = 0;
  if (cl->multi) curl_multi_cleanup(cl->multi); /* closes connections through close_socket_cb */
  cl->multi = NULL;
  while (cl->socks) {
    sock_ctx *s = cl->socks;
    bool owned = s->owned;
    curl_socket_t fd = s->fd;
    sock_release(cl, s); /* stops the poll at once */
    if (owned) close(fd); /* curl left it open: do not leak the fd */
  }
  uv_close((uv_handle_t *)&cl->timer, timer_closed_cb);
  uv_close((uv_handle_t *)&cl->qtimer, qtimer_closed_cb);
}
