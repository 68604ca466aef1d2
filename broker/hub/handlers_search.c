/* POST /v1/search (analyst) and GET /v1/stats (auditor, admin).
 *
 * The engine runs the search; this file turns its callbacks into HTTP: one JSON answer,
 * or with `Accept: application/x-ndjson` a stream of lines ({"state":…} as each state
 * settles, {"result":…} per merged record, then {"done":…}, or {"error":…}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/identity.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "hub/hub.h"
#include "core/hublock.h"
#include "search/answer.h"
#include "search/engine.h"

/* One search's HTTP side, from admission to the last byte (or the client's going). */
typedef struct {
  fb_request *req;
  fb_search *search;        /* set once admitted */
  bool streaming;           /* the client asked for NDJSON */
  bool stream_open;         /* headers of the stream went out */
} search_http;

static void stream_line(fb_request *req, const char *key, json_t *value) {
  json_t *wrap = json_pack("{s:o}", key, value);
  fb_buf line = {0};
  int rc = fb_jsonw_dump(&line, wrap, FB_JSONW_PRECISION); /* json_dump_callback's bytes */
  json_decref(wrap);
  if (rc == 0) {
    fb_buf_putc(&line, '\n');
    fb_stream_write(req, line.data, line.len);
  }
  fb_buf_free(&line);
}

static void on_client_abort(fb_request *req, void *data) {
  (void)req;
  search_http *h = data;
  fb_search_cancel(h->search);
  free(h);
}

/* The last thing done with the request: the abort callback is cleared first, because
 * finishing a response may free the request at once (HTTP/2). */
static fb_request *release(search_http *h) {
  fb_request *req = h->req;
  if (h->search) fb_request_set_abort(req, NULL, NULL);
  free(h);
  return req;
}

static void on_admitted(void *ud, fb_search *s, const char *query_id) {
  (void)query_id;
  search_http *h = ud;
  h->search = s;
  if (h->streaming) {
    h->stream_open = true;
    fb_stream_begin(h->req, 200, "application/x-ndjson");
  }
  fb_request_set_abort(h->req, on_client_abort, h);
}

static void on_state(void *ud, json_t *state) {
  search_http *h = ud;
  stream_line(h->req, "state", state);
}

/* The answer is written from the merge's records, without a jansson value for it
 * (search/answer.h); writing reads this search's records only, so other workers may
 * run meanwhile. */
static void on_done(void *ud, const fb_search_answer *a) {
  search_http *h = ud;
  fb_buf b = {0};
  fb_buf_reserve(&b, 16384);
  if (h->streaming) {
    /* the result lines are written together and go out as one write */
    size_t n = fb_merged_count(a->results);
    bool yielded = fb_hublock_yield();
    for (size_t i = 0; i < n; i++) fb_search_result_line(&b, a, i);
    fb_hublock_resume(yielded);
    if (b.len) fb_stream_write(h->req, b.data, b.len);
    fb_buf_free(&b);
    json_t *audit = json_pack("{s:I, s:s}", "seq", (json_int_t)a->audit_seq, "hash", a->audit_hash);
    stream_line(h->req, "done",
                json_pack("{s:s, s:b, s:o}", "query_id", a->query_id, "complete", a->complete, "audit", audit));
    fb_stream_end(release(h));
    return;
  }
  bool yielded = fb_hublock_yield();
  int rc = fb_search_answer_write(&b, a, FB_JSONW_PRECISION);
  fb_hublock_resume(yielded);
  if (rc != 0) {
    fb_buf_free(&b);
    fb_respond_error(release(h), 500, "internal", "The response could not be encoded.", NULL);
    return;
  }
  fb_respond_json_text(release(h), 200, &b);
}

static void on_failure(void *ud, const fb_search_failure *f) {
  search_http *h = ud;
  if (h->stream_open) {
    fb_request *req = h->req;
    stream_line(req, "error", json_pack("{s:s, s:s}", "code", f->code, "message", f->message));
    fb_stream_end(release(h));
    return;
  }
  fb_request *req = release(h);
  if (f->retry_after_s) {
    char retry[16];
    snprintf(retry, sizeof retry, "%u", f->retry_after_s);
    fb_response_header(req, "retry-after", retry);
  }
  fb_respond_error(req, f->status, f->code, f->message, f->field);
}

/* State lines go out one by one to a streaming client, in the answer otherwise. */
static const fb_search_callbacks streamed = {.on_admitted = on_admitted, .on_state = on_state, .on_done = on_done,
                                             .on_failure = on_failure};
static const fb_search_callbacks whole = {.on_admitted = on_admitted, .on_done = on_done, .on_failure = on_failure};

static void search(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_ANALYST, &id) != 0) return;
  if (!fb_hub_ready(hub)) {
    fb_response_header(req, "retry-after", "1");
    fb_respond_error(req, 503, "not_ready", "The hub cannot audit searches right now.", NULL);
    return;
  }
  json_t *body = fb_hub_json_body(req);
  if (!body) return;
  const char *accept = fb_request_header(req, "accept");
  search_http *h = fb_xcalloc(1, sizeof *h);
  h->req = req;
  h->streaming = accept && strstr(accept, "application/x-ndjson");
  fb_search_input in = {.id = &id, .body = body};
  fb_search_start(hub->search, &in, h->streaming ? &streamed : &whole, h);
}

/* GET /v1/stats right after start-up waits for the statistics replayed from the log. */
static void stats_ready(void *ud, json_t *body) {
  fb_request *req = ud;
  fb_request_set_abort(req, NULL, NULL);
  fb_respond_json(req, 200, body);
}

static void stats_abort(fb_request *req, void *data) {
  (void)req;
  fb_search_stats_wait_cancel(data);
}

static void stats(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_AUDITOR | FB_ROLE_ADMIN, &id) != 0) return;
  if (fb_hub_stats_over_period(hub, req)) return;
  fb_stats_wait *w = fb_search_stats_when_ready(hub->search, stats_ready, req);
  if (w) fb_request_set_abort(req, stats_abort, w);
}

void fb_hub_routes_search(fb_hub *hub) {
  fb_router_add(hub->router, "POST", "/v1/search", search, hub);
  fb_router_add(hub->router, "GET", "/v1/stats", stats, hub);
}
