/* Monitoring and evaluation over a period (FOLLOWUP.md "Statistics and reports"):
 * GET /v1/stats?since=&until=&by= and GET /v1/reports/summary (JSON or CSV). Both read
 * the audit log — the record of what happened — in one streaming pass on the libuv
 * thread pool (audit/query.c), aggregating as they go: memory grows with the number
 * of groups and follow-up requests in the period, not with the log. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "core/log.h"
#include "core/util.h"
#include "hub/followup.h"
#include "hub/hub.h"
#include "search/stats.h"
#include "store/store.h"

#define MAX_GROUPS 20000

static const char *const dims[] = {"from", "to", "purpose", "priority", "legal_basis", "outcome", "rule"};
#define NDIMS (sizeof dims / sizeof dims[0])

typedef struct group {
  char *vals[NDIMS];
  uint64_t count, timed;
  uint32_t buckets[FB_STATS_BUCKETS];
} group;

/* A request's life in the period, for hours to decision. */
typedef struct {
  int64_t opened_ms;
  bool decided;
} req_seen;

typedef struct {
  uv_work_t work;
  fb_hub *hub;
  fb_request *req;
  char *path;
  fb_audit_filter f;
  uint64_t start_off, start_seq, end_off, last_seq;
  int rc;
  bool summary, csv;
  bool by[NDIMS];
  char since[40], until[40];
  /* stats */
  json_t *index; /* group key -> integer index into groups */
  group **groups;
  size_t ngroups;
  bool truncated;
  /* summary */
  uint64_t searches;
  json_t *pairs;   /* "FROM>TO" -> {"from","to","legs","shared","hit_only","denied","other"} */
  json_t *denials; /* "STATE\x1fRULE" -> count */
  json_t *opened;  /* request_id -> epoch ms of its "open" entry */
  json_t *fstates; /* state -> {"sent","released","declined","expired","withdrawn","hours":[..]} */
  json_t *overdue; /* state -> count (from the store) */
} report_job;

static void on_abort(fb_request *req, void *data) {
  (void)req;
  ((report_job *)data)->req = NULL;
}

static const char *sv(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void add_group(report_job *j, const char *vals[NDIMS], double latency_ms) {
  fb_buf key = {0};
  for (size_t d = 0; d < NDIMS; d++)
    if (j->by[d]) fb_buf_printf(&key, "%s\x1f", vals[d] ? vals[d] : "");
  json_t *at = json_object_get(j->index, key.data);
  group *g;
  if (at) {
    g = j->groups[json_integer_value(at)];
  } else {
    if (j->ngroups >= MAX_GROUPS) {
      j->truncated = true;
      fb_buf_free(&key);
      return;
    }
    g = fb_xcalloc(1, sizeof *g);
    for (size_t d = 0; d < NDIMS; d++)
      if (j->by[d]) g->vals[d] = fb_xstrdup(vals[d] ? vals[d] : "");
    j->groups = fb_xrealloc(j->groups, (j->ngroups + 1) * sizeof *j->groups);
    j->groups[j->ngroups] = g;
    json_object_set_new(j->index, key.data, json_integer((json_int_t)j->ngroups++));
  }
  fb_buf_free(&key);
  g->count++;
  if (latency_ms >= 0) {
    g->timed++;
    g->buckets[fb_stats_bucket(latency_ms)]++;
  }
}

static void count_in(json_t *o, const char *k) {
  json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + 1));
}

static void search_entry(report_job *j, json_t *e) {
  const char *from = sv(json_object_get(e, "requester"), "state");
  size_t i;
  json_t *st;
  j->searches++;
  json_array_foreach(json_object_get(e, "states"), i, st) {
    const char *to = sv(st, "state"), *out = sv(st, "outcome");
    if (!to || !out || strcmp(out, "cancelled") == 0) continue;
    json_t *lat = json_object_get(st, "latency_ms");
    const char *vals[NDIMS] = {from, to, sv(e, "purpose"), sv(e, "priority"), sv(e, "legal_basis"), out,
                               sv(st, "rule")};
    if (!j->summary) {
      add_group(j, vals, json_is_number(lat) ? json_number_value(lat) : -1);
      continue;
    }
    char key[32];
    snprintf(key, sizeof key, "%s>%s", from ? from : "", to);
    json_t *p = json_object_get(j->pairs, key);
    if (!p) {
      p = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "from", from ? from : "", "to", to, "legs", 0, "shared", 0,
                    "hit_only", 0, "denied", 0, "other", 0);
      json_object_set_new(j->pairs, key, p);
    }
    count_in(p, "legs");
    bool known = !strcmp(out, "shared") || !strcmp(out, "hit_only") || !strcmp(out, "denied");
    count_in(p, known ? out : "other");
    if (!strcmp(out, "denied")) {
      char dk[300];
      snprintf(dk, sizeof dk, "%s\x1f%s", to, sv(st, "rule") ? sv(st, "rule") : "");
      count_in(j->denials, dk);
    }
  }
}

static json_t *fstate(report_job *j, const char *state) {
  json_t *s = json_object_get(j->fstates, state);
  if (!s) {
    s = json_pack("{s:i, s:i, s:i, s:i, s:i, s:[]}", "sent", 0, "released", 0, "declined", 0, "expired", 0, "withdrawn",
                  0, "hours");
    json_object_set_new(j->fstates, state, s);
  }
  return s;
}

static void request_entry(report_job *j, json_t *e) {
  const char *rid = sv(e, "request_id"), *state = sv(e, "state"), *status = sv(e, "status");
  if (!rid || !state || !status) return;
  int64_t ts = 0;
  fb_audit_parse_time(sv(e, "ts"), &ts);
  json_t *s = fstate(j, state);
  if (!strcmp(status, "open")) {
    count_in(s, "sent");
    json_object_set_new(j->opened, rid, json_integer(ts));
    return;
  }
  if (json_object_get(s, status)) count_in(s, status);
  json_t *opened = json_object_get(j->opened, rid);
  if (opened && (!strcmp(status, "released") || !strcmp(status, "declined")))
    json_array_append_new(json_object_get(s, "hours"), json_real((double)(ts - json_integer_value(opened)) / 3.6e6));
}

static bool aggregate(void *data, json_t *e, uint64_t seq) {
  (void)seq;
  report_job *j = data;
  const char *ev = sv(e, "event");
  if (ev && !strcmp(ev, "search"))
    search_entry(j, e);
  else if (ev && !strcmp(ev, "request") && j->summary)
    request_entry(j, e);
  return true;
}

static void report_work(uv_work_t *w) {
  report_job *j = w->data;
  j->rc = fb_audit_scan(j->path, j->start_off, j->start_seq, j->end_off, 0, &j->f, aggregate, j, &j->last_seq);
  /* The other replicas' chains (audit.peers), as far as they are written now; a line a
   * peer is still writing has no newline yet and is not read. Each transition of a
   * follow-up request is audited on the one hub that made it, so nothing counts twice. */
  const fb_audit_config *a = &j->hub->cfg.audit;
  for (size_t i = 0; j->rc == 0 && i < a->npeers; i++) {
    struct stat st;
    uint64_t last;
    if (stat(a->peers[i], &st) != 0) {
      /* A replica that has not written yet has no chain: nothing of it to count. */
      fb_warn("audit_peer", "cannot read the audit log of a peer replica, %s: %s", a->peers[i], strerror(errno));
      if (errno == ENOENT) continue;
      j->rc = -1;
      break;
    }
    j->rc = fb_audit_scan(a->peers[i], 0, 1, (uint64_t)st.st_size, 0, &j->f, aggregate, j, &last);
  }
}

static json_t *percentile(const group *g, double q) {
  if (g->timed == 0) return json_null();
  uint64_t want = (uint64_t)ceil(q * (double)g->timed), seen = 0;
  for (int b = 0; b < FB_STATS_BUCKETS; b++) {
    seen += g->buckets[b];
    if (seen >= want) return json_real(round(fb_stats_bucket_ms(b) * 10) / 10);
  }
  return json_real(fb_stats_bucket_ms(FB_STATS_BUCKETS - 1));
}

static json_t *stats_body(report_job *j) {
  json_t *rows = json_array();
  for (size_t i = 0; i < j->ngroups; i++) {
    group *g = j->groups[i];
    json_t *r = json_object();
    for (size_t d = 0; d < NDIMS; d++)
      if (j->by[d]) json_object_set_new(r, dims[d], json_string(g->vals[d]));
    json_object_set_new(r, "count", json_integer((json_int_t)g->count));
    json_object_set_new(r, "latency_ms_p50", percentile(g, 0.5));
    json_object_set_new(r, "latency_ms_p99", percentile(g, 0.99));
    json_array_append_new(rows, r);
  }
  json_t *body = json_pack("{s:o, s:{s:s?, s:s?}}", "stats", rows, "period", "since", j->since[0] ? j->since : NULL,
                           "until", j->until[0] ? j->until : NULL);
  if (j->truncated) json_object_set_new(body, "truncated", json_true());
  return body;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static json_t *median_of(json_t *arr) {
  size_t n = json_array_size(arr);
  if (!n) return json_null();
  double *v = fb_xmalloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = json_number_value(json_array_get(arr, i));
  qsort(v, n, sizeof *v, cmp_double);
  double m = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  free(v);
  return json_real(round(m * 100) / 100);
}

static json_t *summary_body(report_job *j) {
  json_t *by_pair = json_array();
  uint64_t legs = 0, shared = 0;
  const char *k;
  json_t *p;
  json_object_foreach(j->pairs, k, p) {
    json_int_t l = json_integer_value(json_object_get(p, "legs")), s = json_integer_value(json_object_get(p, "shared"));
    legs += (uint64_t)l;
    shared += (uint64_t)s;
    json_t *row = json_deep_copy(p);
    json_object_set_new(row, "share_rate", json_real(l ? round((double)s / (double)l * 1000) / 1000 : 0));
    json_array_append_new(by_pair, row);
  }
  json_t *denials = json_array();
  json_t *c;
  json_object_foreach(j->denials, k, c) {
    const char *sep = strchr(k, '\x1f');
    char state[8];
    snprintf(state, sizeof state, "%.*s", (int)(sep ? sep - k : 0), k);
    json_array_append_new(denials,
                          json_pack("{s:s, s:s, s:O}", "state", state, "rule", sep ? sep + 1 : "", "count", c));
  }
  json_t *fby = json_array(), *all_hours = json_array();
  json_int_t sent = 0, released = 0, declined = 0, expired = 0, overdue = 0;
  json_t *s;
  json_object_foreach(j->fstates, k, s) {
    sent += json_integer_value(json_object_get(s, "sent"));
    released += json_integer_value(json_object_get(s, "released"));
    declined += json_integer_value(json_object_get(s, "declined"));
    expired += json_integer_value(json_object_get(s, "expired"));
    json_int_t od = json_integer_value(json_object_get(j->overdue, k));
    overdue += od;
    json_array_extend(all_hours, json_object_get(s, "hours"));
    json_t *row = json_pack("{s:s, s:O, s:O, s:O, s:O, s:O, s:o, s:I}", "state", k, "sent", json_object_get(s, "sent"),
                            "released", json_object_get(s, "released"), "declined", json_object_get(s, "declined"),
                            "expired", json_object_get(s, "expired"), "withdrawn", json_object_get(s, "withdrawn"),
                            "median_hours_to_decision", median_of(json_object_get(s, "hours")), "overdue", od);
    json_array_append_new(fby, row);
  }
  json_t *od_state;
  json_object_foreach(j->overdue, k, od_state) { /* overdue requests sent before the period */
    if (json_object_get(j->fstates, k)) continue;
    overdue += json_integer_value(od_state);
    json_array_append_new(
        fby, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:n, s:O}", "state", k, "sent", 0, "released", 0, "declined", 0,
                       "expired", 0, "withdrawn", 0, "median_hours_to_decision", "overdue", od_state));
  }
  json_t *stale = json_array();
  fb_followup *f = j->hub->followup;
  for (size_t i = 0; f && i < j->hub->cfg.nstates; i++) {
    const char *code = j->hub->cfg.states[i].code;
    if (fb_focal_points_stale(f, code)) json_array_append_new(stale, json_string(code));
  }
  json_t *body = json_pack("{s:{s:s?, s:s?}, s:I, s:o, s:f, s:o, s:{s:I, s:I, s:I, s:I, s:o, s:I, s:o}, s:o}", "period",
                           "since", j->since[0] ? j->since : NULL, "until", j->until[0] ? j->until : NULL, "searches",
                           (json_int_t)j->searches, "by_pair", by_pair, "share_rate",
                           legs ? round((double)shared / (double)legs * 1000) / 1000 : 0.0, "denials_by_rule", denials,
                           "followups", "sent", sent, "released", released, "declined", declined, "expired", expired,
                           "median_hours_to_decision", median_of(all_hours), "overdue", overdue, "by_state", fby,
                           "stale_focal_points", stale);
  json_decref(all_hours);
  return body;
}

static void csv_pairs(fb_request *req, json_t *body) {
  fb_buf b = {0};
  fb_buf_puts(&b, "from,to,legs,shared,hit_only,denied,other,share_rate\r\n");
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(body, "by_pair"), i, p) {
    fb_buf_printf(&b, "%s,%s,%lld,%lld,%lld,%lld,%lld,%.3f\r\n", sv(p, "from"), sv(p, "to"),
                  (long long)json_integer_value(json_object_get(p, "legs")),
                  (long long)json_integer_value(json_object_get(p, "shared")),
                  (long long)json_integer_value(json_object_get(p, "hit_only")),
                  (long long)json_integer_value(json_object_get(p, "denied")),
                  (long long)json_integer_value(json_object_get(p, "other")),
                  json_number_value(json_object_get(p, "share_rate")));
  }
  fb_respond(req, 200, "text/csv; charset=utf-8", b.data, b.len);
  fb_buf_free(&b);
}

static void job_free(report_job *j) {
  for (size_t i = 0; i < j->ngroups; i++) {
    for (size_t d = 0; d < NDIMS; d++) free(j->groups[i]->vals[d]);
    free(j->groups[i]);
  }
  free(j->groups);
  json_decref(j->index);
  json_decref(j->pairs);
  json_decref(j->denials);
  json_decref(j->opened);
  json_decref(j->fstates);
  json_decref(j->overdue);
  free(j->path);
  free(j);
}

static void respond(report_job *j) {
  if (j->req) {
    fb_request_set_abort(j->req, NULL, NULL);
    if (j->rc != 0) {
      fb_respond_error(j->req, 500, "internal", "The audit log could not be read.", NULL);
    } else if (!j->summary) {
      fb_respond_json(j->req, 200, stats_body(j));
    } else {
      json_t *body = summary_body(j);
      if (j->csv) {
        csv_pairs(j->req, body);
        json_decref(body);
      } else {
        fb_respond_json(j->req, 200, body);
      }
    }
  }
  job_free(j);
}

static void on_overdue(void *data, int status, fb_store_result *res, const char *err) {
  report_job *j = data;
  if (status != 0) {
    fb_warn("store_failed", "report: overdue counts unavailable: %s", err);
  } else {
    for (size_t i = 0; i < res->nrows; i++)
      json_object_set_new(j->overdue, fb_store_cell(res, i, 0),
                          json_integer(strtoll(fb_store_cell(res, i, 1), NULL, 10)));
  }
  respond(j);
}

static void report_done(uv_work_t *w, int status) {
  report_job *j = w->data;
  if (status != 0) j->rc = -1;
  if (!j->summary || j->rc != 0 || !j->hub->followup) {
    respond(j);
    return;
  }
  char now[24];
  snprintf(now, sizeof now, "%lld", (long long)fb_wall_ms());
  const char *p[] = {now};
  if (fb_store_exec(j->hub->followup->store,
                    "SELECT to_state, COUNT(*) FROM requests WHERE status = 'open' AND due < $1 GROUP BY to_state", p,
                    1, on_overdue, j) != 0)
    respond(j);
}

/* Parses since/until/by and starts the pass; answers 400 itself. */
static void start(fb_hub *hub, fb_request *req, bool summary) {
  report_job *j = fb_xcalloc(1, sizeof *j);
  j->summary = summary;
  char by[200] = "";
  const char *bad = NULL, *why = NULL;
  if (fb_request_query_param(req, "since", j->since, sizeof j->since) &&
      fb_audit_parse_time(j->since, &j->f.since_ms) != 0)
    bad = "since", why = "since must be an RFC 3339 time.";
  if (!bad && fb_request_query_param(req, "until", j->until, sizeof j->until) &&
      fb_audit_parse_time(j->until, &j->f.until_ms) != 0)
    bad = "until", why = "until must be an RFC 3339 time.";
  if (!summary) {
    if (!fb_request_query_param(req, "by", by, sizeof by)) snprintf(by, sizeof by, "from,to,purpose,outcome");
    for (char *save = NULL, *t = strtok_r(by, ",", &save); !bad && t; t = strtok_r(NULL, ",", &save)) {
      size_t d = 0;
      while (d < NDIMS && strcmp(dims[d], t) != 0) d++;
      if (d == NDIMS)
        bad = "by", why = "by is a comma list of from, to, purpose, priority, legal_basis, outcome, rule.";
      else
        j->by[d] = true;
    }
  } else {
    char v[16];
    const char *accept = fb_request_header(req, "accept");
    if (fb_request_query_param(req, "format", v, sizeof v)) {
      if (!strcmp(v, "csv"))
        j->csv = true;
      else if (strcmp(v, "json"))
        bad = "format", why = "format must be json or csv.";
    } else if (accept && strstr(accept, "text/csv")) {
      j->csv = true;
    }
  }
  if (bad || !hub->audit) {
    free(j);
    if (bad)
      fb_respond_error(req, 400, "invalid_request", why, bad);
    else
      fb_respond_error(req, 500, "internal", "The audit log could not be read.", NULL);
    return;
  }
  j->hub = hub;
  j->req = req;
  j->path = fb_xstrdup(hub->cfg.audit.path);
  j->index = json_object();
  j->pairs = json_object();
  j->denials = json_object();
  j->opened = json_object();
  j->fstates = json_object();
  j->overdue = json_object();
  fb_audit_scan_bounds(hub->audit, 0, &j->start_off, &j->start_seq, &j->end_off);
  j->work.data = j;
  fb_request_set_abort(req, on_abort, j);
  if (uv_queue_work(hub->loop, &j->work, report_work, report_done) != 0) {
    fb_request_set_abort(req, NULL, NULL);
    j->req = NULL;
    job_free(j);
    fb_respond_error(req, 500, "internal", "The audit log could not be read.", NULL);
  }
}

bool fb_hub_stats_over_period(fb_hub *hub, fb_request *req) {
  char v[8];
  /* With peer replicas the live counters would be this replica's alone: read the chains. */
  if (!fb_request_query_param(req, "since", v, sizeof v) && !fb_request_query_param(req, "until", v, sizeof v) &&
      !fb_request_query_param(req, "by", v, sizeof v) && hub->cfg.audit.npeers == 0)
    return false;
  start(hub, req, false);
  return true;
}

static void summary(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_AUDITOR | FB_ROLE_ADMIN, &id) != 0) return;
  start(hub, req, true);
}

void fb_hub_routes_reports(fb_hub *hub) { fb_router_add(hub->router, "GET", "/v1/reports/summary", summary, hub); }
