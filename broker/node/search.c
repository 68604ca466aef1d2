/* POST /search (and POST /): the national node protocol of API.md, with the node's
 * injected faults.
 *
 * One `job` per request. Its answer is decided either at once (bad request, injected
 * failure, a canned fault body) or after a database search on the thread pool; it is
 * then sent when the added latency has elapsed (a uv_timer, never a blocking wait).
 * The job owns everything it allocates and is freed when its work and its timer are
 * both done and the answer has been sent or the client has gone away. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/crec.h"
#include "core/log.h"
#include "core/util.h"
#include "node/internal.h"

typedef struct job {
  uv_work_t work;
  uv_timer_t timer;
  fb_node *node;
  fb_request *req;           /* NULL once answered or once the client went away */
  json_t *body;              /* the parsed request; owns the subject */
  size_t limit;
  double start_ms;
  bool working;              /* uv_queue_work outstanding: the job must wait for it */
  bool timer_on;             /* timer initialised and not yet handed to uv_close */
  /* The answer: an error, records, or raw bytes. */
  int status;
  const char *code, *message, *field;   /* static strings */
  json_t *records;
  fb_crecs *set;             /* or the records as their stored texts (a compact set) */
  const char *raw;           /* borrowed: a literal or node->oversized */
  size_t raw_len;
  char *db_err;
} job;

/* A body that stops in the middle of a record: what --mode invalid_json sends. */
static const char truncated_json[] =
    "{\"records\":[{\"id\":\"XXX-P-000001\",\"type\":\"person\",\"name\":\"Trunc";

double node_draw(fb_node *node) {
  /* splitmix64: tiny, good enough, and the same sequence for the same seed. */
  uint64_t z = (node->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

void node_prepare_faults(fb_node *node) {
  if (node->opt.mode != FB_NODE_OVERSIZED) return;
  static const char head[] = "{\"records\":[],\"padding\":\"";
  static const char tail[] = "\"}\n";
  size_t n = FB_NODE_OVERSIZED_BYTES;
  char *b = fb_xmalloc(n + 1);
  memcpy(b, head, sizeof head - 1);
  memset(b + sizeof head - 1, 'x', n - (sizeof head - 1) - (sizeof tail - 1));
  memcpy(b + n - (sizeof tail - 1), tail, sizeof tail - 1);
  b[n] = '\0';
  node->oversized = b;
  node->oversized_len = n;
}

static void on_timer_closed(uv_handle_t *h) {
  job *j = h->data;
  j->node->jobs--;
  free(j);
}

/* Releases the job once neither the thread pool nor the client needs it. */
static void release(job *j) {
  json_decref(j->body);
  json_decref(j->records);
  fb_crecs_free(j->set);
  free(j->db_err);
  j->body = j->records = NULL;
  j->set = NULL;
  j->db_err = NULL;
  if (j->timer_on) {
    j->timer_on = false;
    uv_close((uv_handle_t *)&j->timer, on_timer_closed);
    return;
  }
  j->node->jobs--;
  free(j);
}

static void respond(job *j) {
  fb_request *req = j->req;
  j->req = NULL;
  fb_request_set_abort(req, NULL, NULL);
  if (j->code) {
    fb_respond_error(req, j->status, j->code, j->message, j->field);
  } else if (j->raw) {
    fb_respond(req, j->status, "application/json", j->raw, j->raw_len);
  } else if (j->set) {
    /* The set's text is {"records":[...]} exactly as the jansson path below writes it */
    fb_buf b = {0};
    fb_buf_append(&b, j->set->text, j->set->len);
    fb_respond_json_text(req, j->status, &b);
  } else {
    fb_respond_json(req, j->status, json_pack("{s:o}", "records", j->records));
    j->records = NULL;
  }
  release(j);
}

static void on_timer(uv_timer_t *t) { respond(t->data); }

/* Sends the decided answer now, or when the added latency has passed. */
static void finish(job *j) {
  uint64_t delay = j->node->opt.latency_ms;
  if (j->node->opt.mode == FB_NODE_SLOW && delay < FB_NODE_SLOW_MS) delay = FB_NODE_SLOW_MS;
  double left = (double)delay - (fb_now_ms() - j->start_ms);
  if (left < 1) {
    respond(j);
    return;
  }
  uv_timer_init(j->node->loop, &j->timer);
  j->timer.data = j;
  j->timer_on = true;
  uv_timer_start(&j->timer, on_timer, (uint64_t)ceil(left), 0);
}

static void fail(job *j, int status, const char *code, const char *message, const char *field) {
  j->status = status;
  j->code = code;
  j->message = message;
  j->field = field;
}

/* Thread pool: the only code that runs off the loop thread. It touches the job's
 * body and result, which nothing else touches while `working` is set. The records come
 * as their stored texts (no jansson value made and dumped again) unless
 * --mode bad_record must edit them; fb_sqlite_db_search_set falls back to the jansson
 * array where a stored text is not canonical, and for an empty answer. */
static void do_search(uv_work_t *w) {
  job *j = fb_container_of(w, job, work);
  fb_sqlite_db *db = node_pool_acquire(j->node->pool);
  json_t *subject = json_object_get(j->body, "subject");
  if (j->node->opt.mode == FB_NODE_BAD_RECORD) {
    j->records = fb_sqlite_db_search(db, subject, j->limit, &j->db_err);
  } else if (fb_sqlite_db_search_set(db, subject, j->limit, &j->set, &j->records, &j->db_err) != 0) {
    j->set = NULL;
    j->records = NULL;
  }
  node_pool_release(j->node->pool, db);
}

static void after_search(uv_work_t *w, int status) {
  job *j = fb_container_of(w, job, work);
  j->working = false;
  if (!j->req) { /* the client went away while we searched */
    release(j);
    return;
  }
  if (status != 0 || (!j->records && !j->set)) {
    fb_error("search_failed", "%s", j->db_err ? j->db_err : uv_strerror(status));
    fail(j, 500, "internal", "The national database could not be searched.", NULL);
  } else {
    j->status = 200;
    if (j->node->opt.mode == FB_NODE_BAD_RECORD) {
      size_t i;
      json_t *r;
      json_array_foreach(j->records, i, r) json_object_del(r, "id");
      if (json_array_size(j->records) == 0)
        json_array_append_new(j->records, json_pack("{s:s, s:s}", "type", "person", "name", "Record Without Id"));
    }
  }
  finish(j);
}

static void on_abort(fb_request *req, void *data) {
  (void)req;
  job *j = data;
  j->req = NULL;
  if (j->working) return; /* after_search releases it */
  if (j->timer_on) uv_timer_stop(&j->timer);
  release(j);
}

/* Checks the body; on a fault fills the job's error answer and returns -1. */
static int validate(job *j) {
  if (!j->body) {
    fail(j, 400, "invalid_json", "The request body is not valid JSON.", NULL);
    return -1;
  }
  if (!json_is_object(j->body)) {
    fail(j, 400, "invalid_request", "The request body must be a JSON object.", NULL);
    return -1;
  }
  if (!json_is_object(json_object_get(j->body, "subject"))) {
    fail(j, 400, "invalid_request", "subject is required and must be an object.", "subject");
    return -1;
  }
  json_t *limit = json_object_get(j->body, "limit");
  j->limit = FB_NODE_DEFAULT_LIMIT;
  if (limit && !json_is_null(limit)) {
    if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
        json_integer_value(limit) > FB_NODE_MAX_LIMIT) {
      fail(j, 400, "invalid_request", "limit must be an integer from 1 to 1000.", "limit");
      return -1;
    }
    j->limit = (size_t)json_integer_value(limit);
  }
  return 0;
}

static void search(fb_request *req, void *ctx) {
  fb_node *node = ctx;
  size_t len;
  const char *data = fb_request_body(req, &len);
  job *j = fb_xcalloc(1, sizeof *j);
  j->node = node;
  j->req = req;
  j->start_ms = fb_now_ms();
  j->body = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
  node->jobs++;
  node_count(node, j->body);
  fb_request_set_abort(req, on_abort, j);

  if (validate(j) != 0) {
    /* answered below, after the latency like any other answer */
  } else if (node->opt.mode == FB_NODE_STATUS500 ||
             (node->opt.fail_rate > 0 && node_draw(node) < node->opt.fail_rate)) {
    fail(j, 500, "internal", "Injected failure (fedbroker node --fail-rate or --mode status500).", NULL);
  } else if (node->opt.mode == FB_NODE_INVALID_JSON) {
    j->status = 200;
    j->raw = truncated_json;
    j->raw_len = sizeof truncated_json - 1;
  } else if (node->opt.mode == FB_NODE_OVERSIZED) {
    j->status = 200;
    j->raw = node->oversized;
    j->raw_len = node->oversized_len;
  } else {
    j->working = true;
    uv_queue_work(node->loop, &j->work, do_search, after_search);
    return;
  }
  finish(j);
}

void node_routes_search(fb_node *node) {
  fb_router_add(node->router, "POST", "/search", search, node);
  fb_router_add(node->router, "POST", "/", search, node);
}
