/* GET /v1/audit (auditor): parsed audit entries, oldest first, with `after`/`limit`,
 * the filters of FOLLOWUP.md (event, state, sub, query_id, request_id, record,
 * review=true, since, until) and CSV (Accept: text/csv or format=csv).
 *
 * Unfiltered JSON pages come from the log's sparse index on the loop (cheap). A filter
 * or CSV means a pass over the file: that runs on the libuv thread pool with a bounded
 * buffer (audit/query.c), never on the loop and never holding the log in memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/util.h"
#include "hub/hub.h"

#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_PAGE_MAX 1000
#define FILTER_TEXT_MAX 128

static bool parse_u64(const char *s, uint64_t *out) {
  if (!*s) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno || s[0] == '-') return false;
  *out = v;
  return true;
}

typedef struct {
  uv_work_t work;
  fb_hub *hub;
  fb_request *req;
  char *path;
  fb_audit_filter f;
  char text[6][FILTER_TEXT_MAX];
  uint64_t after, limit, start_off, start_seq, end_off, last_seq;
  bool csv;
  json_t *entries; /* filled on the pool thread, read on the loop after it */
  int rc, err;
} scan_job;

static void on_abort(fb_request *req, void *data) {
  (void)req;
  ((scan_job *)data)->req = NULL;
}

static bool collect(void *data, json_t *entry, uint64_t seq) {
  (void)seq;
  scan_job *j = data;
  json_array_append(j->entries, entry);
  return json_array_size(j->entries) < j->limit;
}

static void scan_work(uv_work_t *w) {
  scan_job *j = w->data;
  j->rc = fb_audit_scan(j->path, j->start_off, j->start_seq, j->end_off, j->after, &j->f, collect, j, &j->last_seq);
  j->err = errno;
}

/* One CSV field: quoted when it holds a comma, quote or newline. */
static void csv_field(fb_buf *b, const char *s) {
  if (!s) s = "";
  if (!strpbrk(s, ",\"\n\r")) {
    fb_buf_puts(b, s);
    return;
  }
  fb_buf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"') fb_buf_putc(b, '"');
    fb_buf_putc(b, *s);
  }
  fb_buf_putc(b, '"');
}

static const char *sv(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static char *csv_of(json_t *entries) {
  fb_buf b = {0};
  fb_buf_puts(&b, "seq,ts,event,requester_state,requester_sub,query_id,request_id,purpose,states,status,review,disclosed\r\n");
  size_t i;
  json_t *e;
  json_array_foreach(entries, i, e) {
    json_t *who = json_object_get(e, "requester");
    if (!who) who = json_object_get(e, "by");
    if (!json_is_object(who)) who = json_object_get(e, "from");
    fb_buf_printf(&b, "%lld,", (long long)json_integer_value(json_object_get(e, "seq")));
    csv_field(&b, sv(e, "ts"));
    fb_buf_putc(&b, ',');
    csv_field(&b, sv(e, "event"));
    fb_buf_putc(&b, ',');
    csv_field(&b, sv(who, "state"));
    fb_buf_putc(&b, ',');
    csv_field(&b, sv(who, "sub"));
    fb_buf_putc(&b, ',');
    csv_field(&b, sv(e, "query_id"));
    fb_buf_putc(&b, ',');
    csv_field(&b, sv(e, "request_id"));
    fb_buf_putc(&b, ',');
    csv_field(&b, sv(e, "purpose"));
    fb_buf_putc(&b, ',');
    /* states: "MYS:shared IDN:hit_only" for a search, the addressed state otherwise */
    fb_buf st = {0};
    size_t k;
    json_t *s;
    json_array_foreach(json_object_get(e, "states"), k, s) fb_buf_printf(&st, "%s%s:%s", k ? " " : "", sv(s, "state") ? sv(s, "state") : "", sv(s, "outcome") ? sv(s, "outcome") : "");
    if (!st.len && sv(e, "state")) fb_buf_puts(&st, sv(e, "state"));
    csv_field(&b, st.data);
    fb_buf_free(&st);
    fb_buf_putc(&b, ',');
    csv_field(&b, sv(e, "status"));
    fb_buf_putc(&b, ',');
    fb_buf_puts(&b, json_is_true(json_object_get(e, "review")) ? "true" : "false");
    fb_buf_putc(&b, ',');
    fb_buf d = {0};
    const char *state;
    json_t *ids;
    json_object_foreach(json_object_get(e, "disclosed"), state, ids) {
      size_t n;
      json_t *id;
      json_array_foreach(ids, n, id) fb_buf_printf(&d, "%s%s", d.len ? " " : "", json_string_value(id) ? json_string_value(id) : "");
    }
    csv_field(&b, d.data);
    fb_buf_free(&d);
    fb_buf_puts(&b, "\r\n");
  }
  return fb_buf_steal(&b);
}

static void respond_entries(fb_request *req, json_t *entries, uint64_t next, bool csv) {
  if (csv) {
    char *text = csv_of(entries);
    json_decref(entries);
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)next);
    fb_response_header(req, "x-next", n);
    fb_respond(req, 200, "text/csv; charset=utf-8", text, strlen(text));
    free(text);
    return;
  }
  fb_respond_json(req, 200, json_pack("{s:o, s:I}", "entries", entries, "next", (json_int_t)next));
}

static void scan_done(uv_work_t *w, int status) {
  scan_job *j = w->data;
  if (j->req) {
    fb_request_set_abort(j->req, NULL, NULL);
    if (status != 0 || j->rc != 0) {
      fb_respond_error(j->req, 500, "internal", "The audit log could not be read.", NULL);
    } else {
      /* next: the last entry returned when the page is full, else where the scan ended */
      uint64_t next = j->last_seq;
      size_t n = json_array_size(j->entries);
      if (n == j->limit) next = (uint64_t)json_integer_value(json_object_get(json_array_get(j->entries, n - 1), "seq"));
      respond_entries(j->req, json_incref(j->entries), next, j->csv);
    }
  }
  json_decref(j->entries);
  free(j->path);
  free(j);
}

static const char *const text_filters[] = {"event", "state", "sub", "query_id", "request_id", "record"};

static void audit_list(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_AUDITOR, &id) != 0) return;
  scan_job *j = fb_xcalloc(1, sizeof *j);
  char v[64];
  j->limit = AUDIT_PAGE_DEFAULT;
  const char *bad = NULL, *why = NULL;
  if (fb_request_query_param(req, "after", v, sizeof v) && !parse_u64(v, &j->after))
    bad = "after", why = "after must be a non-negative integer.";
  if (!bad && fb_request_query_param(req, "limit", v, sizeof v) && (!parse_u64(v, &j->limit) || j->limit == 0))
    bad = "limit", why = "limit must be a positive integer.";
  if (j->limit > AUDIT_PAGE_MAX) j->limit = AUDIT_PAGE_MAX;
  bool filtered = false;
  const char **slots[] = {&j->f.event, &j->f.state, &j->f.sub, &j->f.query_id, &j->f.request_id, &j->f.record};
  for (size_t i = 0; !bad && i < FB_ARRAY_LEN(text_filters); i++) {
    if (!fb_request_query_param(req, text_filters[i], j->text[i], FILTER_TEXT_MAX)) continue;
    if (!j->text[i][0]) bad = text_filters[i], why = "A filter needs a value.";
    *slots[i] = j->text[i];
    filtered = true;
  }
  if (!bad && fb_request_query_param(req, "review", v, sizeof v)) {
    if (strcmp(v, "true") == 0) j->f.review = filtered = true;
    else if (strcmp(v, "false") != 0) bad = "review", why = "review must be true or false.";
  }
  if (!bad && fb_request_query_param(req, "since", v, sizeof v)) {
    if (fb_audit_parse_time(v, &j->f.since_ms) != 0) bad = "since", why = "since must be an RFC 3339 time.";
    filtered = true;
  }
  if (!bad && fb_request_query_param(req, "until", v, sizeof v)) {
    if (fb_audit_parse_time(v, &j->f.until_ms) != 0) bad = "until", why = "until must be an RFC 3339 time.";
    filtered = true;
  }
  const char *accept = fb_request_header(req, "accept");
  if (fb_request_query_param(req, "format", v, sizeof v)) {
    if (strcmp(v, "csv") == 0) j->csv = true;
    else if (strcmp(v, "json") != 0 && !bad) bad = "format", why = "format must be json or csv.";
  } else if (accept && strstr(accept, "text/csv")) {
    j->csv = true;
  }
  if (bad) {
    free(j);
    fb_respond_error(req, 400, "invalid_request", why, bad);
    return;
  }
  if (!hub->audit) {
    free(j);
    fb_respond_error(req, 500, "internal", "The audit log could not be read.", NULL);
    return;
  }
  if (!filtered && !j->csv) {
    json_t *entries = NULL;
    uint64_t next = j->after, after = j->after, limit = j->limit;
    free(j);
    if (fb_audit_read(hub->audit, after, (size_t)limit, &entries, &next) != 0) {
      fb_respond_error(req, 500, "internal", "The audit log could not be read.", NULL);
      return;
    }
    respond_entries(req, entries, next, false);
    return;
  }
  j->hub = hub;
  j->req = req;
  j->path = fb_xstrdup(hub->cfg.audit.path);
  j->entries = json_array();
  fb_audit_scan_bounds(hub->audit, j->after, &j->start_off, &j->start_seq, &j->end_off);
  j->work.data = j;
  fb_request_set_abort(req, on_abort, j);
  if (uv_queue_work(hub->loop, &j->work, scan_work, scan_done) != 0) {
    fb_request_set_abort(req, NULL, NULL);
    json_decref(j->entries);
    free(j->path);
    free(j);
    fb_respond_error(req, 500, "internal", "The audit log could not be read.", NULL);
  }
}

void fb_hub_routes_audit(fb_hub *hub) { fb_router_add(hub->router, "GET", "/v1/audit", audit_list, hub); }
