/* libcurl multi on libuv (the standard curl + libuv pattern): CURLMOPT_SOCKETFUNCTION
 * maps curl's sockets to uv_poll_t handles, CURLMOPT_TIMERFUNCTION to one uv_timer_t;
 * each request is one easy handle: POST of a JSON body, response capped at max_body
 * (the transfer is aborted past it), its own timeout. Contract in curl_transport.h. */
#include "http_client/curl_transport.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/hublock.h"
#include "core/log.h"
#include "core/util.h"

#define MAX_IDLE_EASY 64 /* easy handles kept for reuse; more in flight are freed when done */

typedef struct sock_ctx sock_ctx;

struct fb_curl_transport {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  char *url, *ca, *cert, *key, *peer;
  CURLU *uh;                  /* the URL parsed once at open, shared by every easy handle */
  struct curl_slist *headers; /* built once at open, shared by every easy handle */
  CURL **idle;                /* reusable easy handles: curl_easy_init costs a few KiB of setup */
  size_t nidle;
  uint64_t max_body;
  long dns_cache_s;           /* CURLOPT_DNS_CACHE_TIMEOUT: whole seconds */
  bool no_proxy_env;          /* no proxy variable in the environment at open */
  bool pipewait;              /* wait to learn whether a new connection multiplexes (https://) */
  fb_curl_request *requests;  /* in curl */
  sock_ctx *socks;            /* live poll handles */
  sock_ctx **byfd;            /* the sockets we opened, by fd number (nbyfd slots) */
  size_t nbyfd;
  int pending_closes;
  uint64_t stale_sockets;     /* contexts found outliving their fd (sock_forget_fd) */
  bool closing;
  void (*closed)(void *);
  void *closed_data;
};

struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  fb_curl_transport *t;
  sock_ctx *prev, *next;
  int events;   /* what the poll watches now; 0: stopped */
  bool owned;   /* opened by open_socket_cb, in byfd until close_socket_cb */
  bool parked;  /* curl said REMOVE: the poll is unreferenced, its events ignored */
  bool counted; /* released while closing: its close callback counts down */
  bool stale;   /* its fd number was handed out again: the fd it watched is gone */
};

struct fb_curl_request {
  fb_curl_transport *t;
  fb_curl_request *prev, *next;
  CURL *easy;
  fb_buf resp;
  bool over_limit;
  fb_transfer_done_cb cb;
  void *data;
  char errbuf[CURL_ERROR_SIZE];
};

static void check_done(fb_curl_transport *t);

static void finish_close(fb_curl_transport *t) {
  if (--t->pending_closes > 0) return;
  void (*closed)(void *) = t->closed;
  void *data = t->closed_data;
  free(t->url);
  free(t->ca);
  free(t->cert);
  free(t->key);
  free(t->peer);
  free(t->idle);
  curl_slist_free_all(t->headers);
  curl_url_cleanup(t->uh);
  free(t->byfd);
  free(t);
  if (closed) closed(data);
}

static void sock_closed_cb(uv_handle_t *h) {
  sock_ctx *s = fb_container_of((uv_poll_t *)h, sock_ctx, poll);
  fb_curl_transport *t = s->t;
  bool counted = s->counted;
  free(s);
  if (counted) finish_close(t); /* otherwise `t` may be gone: do not touch it */
}

static void sock_release(fb_curl_transport *t, sock_ctx *s) {
  if (s->prev) s->prev->next = s->next;
  else t->socks = s->next;
  if (s->next) s->next->prev = s->prev;
  if (s->owned && (size_t)s->fd < t->nbyfd) t->byfd[s->fd] = NULL;
  if (t->closing) {
    s->counted = true;
    t->pending_closes++;
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
static void sock_forget_fd(fb_curl_transport *t, curl_socket_t fd) {
  for (sock_ctx *s = t->socks; s; s = s->next) {
    if (s->fd != fd || s->stale) continue;
    uv_poll_stop(&s->poll);
    s->events = 0;
    s->stale = true;
    if (s->owned && (size_t)fd < t->nbyfd && t->byfd[fd] == s) t->byfd[fd] = NULL;
    s->owned = false;
    t->stale_sockets++;
    fb_debug("curl_stale_socket", "%s %s: fd %d outlived its socket (%llu so far)", t->peer, t->url, (int)fd,
             (unsigned long long)t->stale_sockets);
  }
}

static sock_ctx *sock_new(fb_curl_transport *t, curl_socket_t fd) {
  sock_forget_fd(t, fd);
  sock_ctx *s = fb_xcalloc(1, sizeof *s);
  s->fd = fd;
  s->t = t;
  if (uv_poll_init_socket(t->loop, &s->poll, fd) != 0) {
    free(s);
    return NULL;
  }
  s->next = t->socks;
  if (t->socks) t->socks->prev = s;
  t->socks = s;
  return s;
}

/* The context of a socket opened by open_socket_cb and not yet closed, else NULL. */
static sock_ctx *sock_owned(fb_curl_transport *t, curl_socket_t fd) {
  return fd >= 0 && (size_t)fd < t->nbyfd ? t->byfd[fd] : NULL;
}

/* Stops watching a parked socket; it is watched again when curl asks. */
static void sock_unwatch(sock_ctx *s) {
  uv_poll_stop(&s->poll);
  s->events = 0;
}

static void poll_cb(uv_poll_t *p, int status, int events) {
  sock_ctx *s = fb_container_of(p, sock_ctx, poll);
  fb_curl_transport *t = s->t;
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
  curl_multi_socket_action(t->multi, s->fd, flags, &running);
  check_done(t);
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
  fb_curl_transport *t = userp;
  sock_ctx *s = socketp;
  if (s && s->stale) { /* curl's entry outlived the fd it was made for */
    if (what == CURL_POLL_REMOVE) {
      sock_release(t, s);
      return 0;
    }
    s = NULL;
    socketp = NULL;
  }
  if (!s) s = sock_owned(t, fd);
  if (what == CURL_POLL_REMOVE) {
    if (!s) return 0;
    if (s->owned) {
      s->parked = true;
      uv_unref((uv_handle_t *)&s->poll);
    } else {
      sock_release(t, s);
    }
    return 0;
  }
  if (!s) {
    if (!(s = sock_new(t, fd))) return -1;
  }
  if (!socketp) curl_multi_assign(t->multi, fd, s);
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
  fb_curl_transport *t = clientp;
  (void)purpose;
  curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  if (t->closing) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  sock_ctx *s = sock_new(t, fd);
  if (!s) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  s->owned = true;
  if ((size_t)fd >= t->nbyfd) {
    size_t n = t->nbyfd ? t->nbyfd : 64;
    while (n <= (size_t)fd) n *= 2;
    t->byfd = fb_xrealloc(t->byfd, n * sizeof *t->byfd);
    memset(t->byfd + t->nbyfd, 0, (n - t->nbyfd) * sizeof *t->byfd);
    t->nbyfd = n;
  }
  t->byfd[fd] = s;
  return fd;
}

static int close_socket_cb(void *clientp, curl_socket_t fd) {
  fb_curl_transport *t = clientp;
  sock_ctx *s = sock_owned(t, fd);
  if (s) sock_release(t, s);
  return close(fd);
}

static void timer_cb(uv_timer_t *timer) {
  fb_curl_transport *t = fb_container_of(timer, fb_curl_transport, timer);
  int running;
  bool yielded = fb_hublock_yield();
  curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(t);
  fb_hublock_resume(yielded);
}

static int timerfunc_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  fb_curl_transport *t = userp;
  if (t->closing) return 0;
  if (timeout_ms < 0) uv_timer_stop(&t->timer);
  else uv_timer_start(&t->timer, timer_cb, (uint64_t)timeout_ms, 0); /* 0: next loop turn */
  return 0;
}


/* ---- requests ---- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
  fb_curl_request *r = userdata;
  size_t n = size * nmemb;
  if (r->resp.len + n > r->t->max_body) {
    r->over_limit = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  fb_buf_append(&r->resp, ptr, n);
  return n;
}

/* The options every request of this transport shares: set once, when the easy handle
 * is made. A reused handle keeps them (no curl_easy_reset: resetting and setting them
 * again cost more per leg than the request's own options); fb_curl_transport_post sets
 * every per-request option each time, and easy_put clears the pointers into the last
 * request. */
static void easy_setup(fb_curl_transport *t, CURL *e) {
  if (t->uh) curl_easy_setopt(e, CURLOPT_CURLU, t->uh);
  else curl_easy_setopt(e, CURLOPT_URL, t->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  /* Waiting for a connection to learn whether it multiplexes pays only where it can
   * (h2 over https://). Over http:// (HTTP/1.1) it held every leg but the first of a
   * new node back until the first had its answer, then ran them one by one on that
   * connection. */
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, t->pipewait ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a peer that redirects is misconfigured */
  curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, t->dns_cache_s);
  /* copied into each connection at its creation: `t` outlives them all */
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, t);
  if (t->ca) curl_easy_setopt(e, CURLOPT_CAINFO, t->ca);
  if (t->cert) curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert);
  if (t->key) curl_easy_setopt(e, CURLOPT_SSLKEY, t->key);
  if (t->no_proxy_env) { /* "" for both: no proxy, and nothing read from the environment */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
}

static CURL *easy_get(fb_curl_transport *t) {
  CURL *e;
  if (t->nidle > 0) return t->idle[--t->nidle];
  if (!(e = curl_easy_init())) return NULL;
  easy_setup(t, e);
  return e;
}

/* `e` is out of the multi handle. */
static void easy_put(fb_curl_transport *t, CURL *e) {
  if (t->nidle < MAX_IDLE_EASY && !t->closing) {
    if (!t->idle) t->idle = fb_xmalloc(MAX_IDLE_EASY * sizeof *t->idle);
    /* nothing idle may point into the request that is about to be freed */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    t->idle[t->nidle++] = e;
  } else {
    curl_easy_cleanup(e);
  }
}

/* Out of curl and of the transport's list; the easy handle back to the free list. */
static void request_free(fb_curl_request *r) {
  fb_curl_transport *t = r->t;
  if (r->prev) r->prev->next = r->next;
  else t->requests = r->next;
  if (r->next) r->next->prev = r->prev;
  curl_multi_remove_handle(t->multi, r->easy);
  easy_put(t, r->easy);
  fb_buf_free(&r->resp);
  free(r);
}

/* How a finished transfer ended, in transfer.h's terms; the request is freed (its
 * connection free for the next leg already) before the callback. */
static void request_done(fb_curl_request *r, CURLcode rc) {
  fb_transfer_outcome outcome;
  long code = 0;
  const char *reason = NULL;
  if (r->over_limit || rc == CURLE_FILESIZE_EXCEEDED) {
    outcome = FB_TRANSFER_TOO_BIG;
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    outcome = FB_TRANSFER_TIMEOUT;
  } else if (rc != CURLE_OK) {
    outcome = FB_TRANSFER_FAILED;
    reason = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
  } else {
    outcome = FB_TRANSFER_ANSWERED;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  }
  char errbuf[CURL_ERROR_SIZE];
  if (reason == r->errbuf) reason = memcpy(errbuf, r->errbuf, sizeof errbuf);
  fb_buf body = {0};
  if (outcome == FB_TRANSFER_ANSWERED) {
    body = r->resp;
    r->resp = (fb_buf){0};
  }
  fb_transfer_done_cb cb = r->cb;
  void *data = r->data;
  request_free(r);
  cb(data, outcome, (int)code, &body, reason);
  fb_buf_free(&body);
}

static void check_done(fb_curl_transport *t) {
  CURLMsg *msg;
  int left;
  /* A callback may abort other requests or close the transport: both are safe here,
   * since curl drops the messages of removed handles, and closing stops this loop. */
  while (!t->closing && (msg = curl_multi_info_read(t->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    fb_curl_request *r = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r) request_done(r, msg->data.result);
  }
}

fb_curl_request *fb_curl_transport_post(fb_curl_transport *t, const char *body, size_t len, uint32_t timeout_ms,
                                        fb_transfer_done_cb cb, void *data) {
  if (t->closing) return NULL;
  CURL *e = easy_get(t);
  if (!e) return NULL;
  fb_curl_request *r = fb_xcalloc(1, sizeof *r);
  r->t = t;
  r->easy = e;
  r->cb = cb;
  r->data = data;
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
    easy_put(t, e);
    free(r);
    return NULL;
  }
  r->next = t->requests;
  if (t->requests) t->requests->prev = r;
  t->requests = r;
  return r;
}

void fb_curl_transport_abort(fb_curl_request *r) {
  if (r) request_free(r);
}

/* ---- the transport ---- */

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *dup_or_null(const char *s) { return s ? fb_xstrdup(s) : NULL; }

fb_curl_transport *fb_curl_transport_new(uv_loop_t *loop, const fb_curl_transport_options *opts) {
  static uv_once_t once = UV_ONCE_INIT;
  uv_once(&once, global_init);
  CURLM *multi = curl_multi_init();
  if (!multi) return NULL;
  fb_curl_transport *t = fb_xcalloc(1, sizeof *t);
  t->loop = loop;
  t->multi = multi;
  t->url = fb_xstrdup(opts->url);
  /* Parsed once here rather than by curl for every transfer; when curl's parser refuses
   * it, CURLOPT_URL carries it and the transfer reports curl's own error. */
  t->uh = curl_url();
  if (t->uh && curl_url_set(t->uh, CURLUPART_URL, t->url, 0) != CURLUE_OK) {
    curl_url_cleanup(t->uh);
    t->uh = NULL;
  }
  t->ca = dup_or_null(opts->ca);
  t->cert = dup_or_null(opts->cert);
  t->key = dup_or_null(opts->key);
  t->peer = fb_xstrdup(opts->peer ? opts->peer : "peer");
  t->max_body = opts->max_body;
  t->dns_cache_s = (long)((opts->dns_cache_ms + 999) / 1000);
  t->no_proxy_env = opts->no_proxy_env;
  t->pipewait = strncmp(t->url, "http://", 7) != 0;
  t->headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
  t->headers = curl_slist_append(t->headers, "Accept: application/json");
  t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
  if (opts->bearer) {
    fb_buf h = {0};
    fb_buf_puts(&h, "Authorization: Bearer ");
    fb_buf_puts(&h, opts->bearer);
    char *line = fb_buf_steal(&h);
    t->headers = curl_slist_append(t->headers, line); /* curl copies the string */
    explicit_bzero(line, strlen(line)); /* a credential: do not leave it in freed memory */
    free(line);
  }
  uv_timer_init(loop, &t->timer);
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, timerfunc_cb);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
  curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)FB_HTTP_MAX_HOST_CONNECTIONS);
  /* Idle connections kept: by default libcurl keeps four per transfer in the multi
   * handle, so a quiet moment (one leg running) closed all but four of the 16, and the
   * next busy one opened them again (test_http_queue.c: test_idle_connections_kept). */
  curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)FB_HTTP_MAX_HOST_CONNECTIONS);
  return t;
}

static void timer_closed_cb(uv_handle_t *h) {
  finish_close(fb_container_of((uv_timer_t *)h, fb_curl_transport, timer));
}

void fb_curl_transport_close(fb_curl_transport *t, void (*closed)(void *), void *data) {
  while (t->requests) request_free(t->requests);
  t->closed = closed;
  t->closed_data = data;
  t->closing = true;
  t->pending_closes = 1; /* the timer; each poll handle adds one */
  for (size_t i = 0; i < t->nidle; i++) curl_easy_cleanup(t->idle[i]);
  t->nidle = 0;
  curl_multi_cleanup(t->multi); /* closes connections through close_socket_cb */
  t->multi = NULL;
  while (t->socks) {
    sock_ctx *s = t->socks;
    bool owned = s->owned;
    curl_socket_t fd = s->fd;
    sock_release(t, s); /* stops the poll at once */
    if (owned) close(fd); /* curl left it open: do not leak the fd */
  }
  uv_close((uv_handle_t *)&t->timer, timer_closed_cb);
}
