/* Adapter kind "postgres": a national case database in PostgreSQL, schema of
 * records/postgres_db.h, through libpq's asynchronous API on the libuv loop.
 *
 * One connection per state, opened lazily (the first leg connects; start-up never
 * waits for a remote database) with PQconnectStart/PQconnectPoll, its socket watched
 * by a uv_poll_t; host names are looked up on the thread pool first (pg_connect.h), so
 * libpq never resolves on the loop. Legs queue and run one at a time on that connection: a single
 * statement fetches the exact-key hits and the name candidates (GIN-indexed token
 * blocks) with their records; names are re-ranked in C exactly as in the sqlite
 * adapter. A leg that passes its timeout fails with FB_LEG_TIMEOUT and the connection
 * is dropped (its query is abandoned) so queued legs are not held up; a lost
 * connection fails the running leg and the next leg reconnects. A cancelled running
 * leg's result is discarded when it arrives; a queued one is dropped at once.
 *
 * A result with rows is parsed on the thread pool (name re-ranking and each record's
 * JSON cost 0.05-0.3 ms a leg, measured on the demo data), while the connection
 * already runs the next leg; an empty result is answered on the loop. A caller that
 * takes compact sets (fb_leg_request.compact_done: the search engine) gets the chosen
 * rows' stored texts as one (core/crec.h), as the sqlite adapter gives them, when every
 * text is a canonical record that passes the schema; otherwise the jansson path below
 * decides, skipping a bad row as it always has. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "adapters/adapter_impl.h"
#include "adapters/pg_connect.h"
#include "core/crec.h"
#include "core/error.h"
#include "match/normalize.h"
#include "core/log.h"
#include "core/util.h"
#include "records/record.h"

#define DEFAULT_LIMIT 100
#define DEFAULT_TIMEOUT_MS 30000u
#define NAME_THRESHOLD 0.8

static const char search_sql[] =
    "WITH exact AS ("
    "  SELECT rid, max(CASE WHEN kind = 3 THEN 0.95 ELSE 1.0 END) AS score FROM fb_keys"
    "  WHERE (kind = 1 AND key = $1) OR (kind = 2 AND key = $2) OR (kind = 4 AND key = $3)"
    "     OR (kind = 3 AND key = $4) GROUP BY rid),"
    " names AS ("
    "  SELECT rid, keys FROM fb_names WHERE blocks && $5::text[]"
    "  ORDER BY cardinality(ARRAY(SELECT unnest(blocks) INTERSECT SELECT unnest($5::text[]))) DESC,"
    "  rid LIMIT 400),"
    " hits AS (SELECT rid FROM exact UNION SELECT rid FROM names)"
    " SELECT r.rid, coalesce(e.score, 0), coalesce(n.keys, ''), r.dob_year, r.json"
    " FROM hits h JOIN fb_records r ON r.rid = h.rid LEFT JOIN exact e ON e.rid = h.rid"
    " LEFT JOIN names n ON n.rid = h.rid";

typedef enum { DISCONNECTED, CONNECTING, READY, BUSY } conn_state;

typedef struct pg_leg pg_leg;
typedef struct watch watch;

typedef struct {
  struct fb_adapter base;
  uv_loop_t *loop;
  char *conninfo;
  PGconn *conn;
  fb_pg_lookup *lookup; /* while CONNECTING: the host names being looked up */
  conn_state state;
  watch *w;            /* poll handle on the connection's current socket */
  uv_timer_t timer;    /* the running leg's timeout */
  pg_leg *head, *tail; /* queued legs */
  pg_leg *cur;         /* running leg */
  uint32_t timeout_ms;
  bool closing;
  int pending_closes;   /* handles closing, and legs parsing on the pool while closing */
  unsigned parsing;     /* legs whose rows are being parsed on the pool */
  void (*closed)(void *);
  void *closed_data;
} pg_adapter;

struct watch {
  uv_poll_t poll;
  int fd;
  pg_adapter *a;
};

struct pg_leg {
  struct fb_leg base;
  pg_adapter *a;
  pg_leg *next;
  char *params[5]; /* document, phone, imo, vessel name, name blocks literal */
  fb_name_key name;
  int want_year;
  size_t limit;
  uint32_t timeout_ms;
  bool cancelled;
  bool parsing;         /* its rows are being parsed on the pool */
  uv_work_t work;
  json_t *records;      /* the pool's output */
  fb_crecs *set;        /* or the same records as a compact set, for compact_done */
  PGresult *result;
  fb_leg_done_cb cb;
  void (*compact_done)(void *data, fb_crecs *records);
  void *data;
};

static void kick(pg_adapter *a);

static void leg_free(pg_leg *leg) {
  for (int i = 0; i < 5; i++) free(leg->params[i]);
  json_decref(leg->records);
  fb_crecs_free(leg->set);
  PQclear(leg->result);
  free(leg);
}

/* ---- socket watching ---- */

static void maybe_finish_close(pg_adapter *a) {
  if (--a->pending_closes > 0) return;
  void (*closed)(void *) = a->closed;
  void *data = a->closed_data;
  free(a->conninfo);
  free(a);
  if (closed) closed(data);
}

static void watch_closed_cb(uv_handle_t *h) {
  watch *w = fb_container_of((uv_poll_t *)h, watch, poll);
  pg_adapter *a = w->a;
  bool counted = a && a->closing;
  free(w);
  if (counted) maybe_finish_close(a);
}

static void unwatch(pg_adapter *a) {
  if (!a->w) return;
  uv_poll_stop(&a->w->poll);
  if (a->closing) a->pending_closes++;
  else a->w->a = NULL; /* its close callback must not touch the adapter */
  uv_close((uv_handle_t *)&a->w->poll, watch_closed_cb);
  a->w = NULL;
}

static void poll_cb(uv_poll_t *p, int status, int events);

static int watch_fd(pg_adapter *a, int events) {
  int fd = PQsocket(a->conn);
  if (fd < 0) return -1;
  if (a->w && a->w->fd != fd) unwatch(a); /* libpq may switch sockets while connecting */
  if (!a->w) {
    watch *w = fb_xcalloc(1, sizeof *w);
    w->fd = fd;
    w->a = a;
    if (uv_poll_init(a->loop, &w->poll, fd) != 0) {
      free(w);
      return -1;
    }
    a->w = w;
  }
  uv_ref((uv_handle_t *)&a->w->poll);
  return uv_poll_start(&a->w->poll, events, poll_cb);
}

/* An idle connection stays watched (to notice the server closing it) without keeping
 * the loop alive. */
static void idle(pg_adapter *a) {
  if (watch_fd(a, UV_READABLE) == 0) uv_unref((uv_handle_t *)&a->w->poll);
}

static void drop_connection(pg_adapter *a);

static void on_idle(pg_adapter *a) {
  if (!PQconsumeInput(a->conn) || PQstatus(a->conn) != CONNECTION_OK) {
    drop_connection(a); /* closed by the server: the next leg reconnects */
    return;
  }
  PGnotify *n;
  while ((n = PQnotifies(a->conn))) PQfreemem(n);
}

static void drop_connection(pg_adapter *a) {
  if (a->lookup) fb_pg_lookup_abandon(a->lookup);
  a->lookup = NULL;
  unwatch(a); /* before PQfinish closes the socket */
  if (a->conn) PQfinish(a->conn);
  a->conn = NULL;
  a->state = DISCONNECTED;
  uv_timer_stop(&a->timer);
}

/* ---- results ---- */

typedef struct {
  long long rid;
  double score;
  bool name_only;
  int row;
} hit;

static int hit_cmp(const void *pa, const void *pb) {
  const hit *x = pa, *y = pb;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->rid < y->rid ? -1 : x->rid > y->rid;
}

/* The rows that match, best first (aliases give several rows per record). */
static size_t rank_hits(pg_leg *leg, PGresult *res, hit *h) {
  int n = PQntuples(res);
  size_t nh = 0;
  for (int i = 0; i < n; i++) {
    long long rid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    double exact = strtod(PQgetvalue(res, i, 1), NULL);
    double score = exact;
    bool name_only = false;
    const char *keys = PQgetvalue(res, i, 2);
    if (exact == 0.0 && keys[0] && leg->name.n) {
      fb_name_key rk;
      fb_name_key_parse(keys, &rk);
      double sim = fb_name_similarity(&leg->name, &rk);
      if (sim < NAME_THRESHOLD) continue;
      score = sim * 0.9;
      name_only = true;
    }
    if (score <= 0.0) continue;
    size_t j = 0;
    while (j < nh && h[j].rid != rid) j++;
    if (j == nh) h[nh++] = (hit){rid, score, name_only, i};
    else if (score > h[j].score) h[j] = (hit){rid, score, name_only && h[j].name_only, i};
  }
  if (nh > 1) qsort(h, nh, sizeof *h, hit_cmp);
  return nh;
}

/* A name-only hit from another year of birth is not shared. */
static bool year_excluded(const pg_leg *leg, PGresult *res, const hit *x) {
  int year = atoi(PQgetvalue(res, x->row, 3));
  return x->name_only && leg->want_year && year && year != leg->want_year;
}

static json_t *build_records(pg_leg *leg, PGresult *res, const hit *h, size_t nh) {
  json_t *out = json_array();
  for (size_t i = 0; i < nh && json_array_size(out) < leg->limit; i++) {
    if (year_excluded(leg, res, &h[i])) continue;
    json_t *rec = json_loads(PQgetvalue(res, h[i].row, 4), 0, NULL);
    if (rec && fb_record_validate(rec, NULL) == 0) json_array_append_new(out, rec);
    else json_decref(rec); /* a bad row in the national table is skipped, not shared */
  }
  return out;
}

/* The same records as build_records, as one compact set: {"records":[` the stored
 * texts `]}. NULL unless the set read each text exactly as it stands (canonical, one
 * record per row: a text cannot smuggle a second record in) and every record passes
 * the schema — then build_records decides. */
static fb_crecs *build_set(pg_leg *leg, PGresult *res, const hit *h, size_t nh) {
  fb_buf t = {0};
  fb_buf_puts(&t, "{\"records\":[");
  uint32_t *off = fb_xmalloc((nh ? nh : 1) * sizeof *off), *len = fb_xmalloc((nh ? nh : 1) * sizeof *len);
  size_t n = 0;
  for (size_t i = 0; i < nh && n < leg->limit; i++) {
    if (year_excluded(leg, res, &h[i])) continue;
    size_t tl = (size_t)PQgetlength(res, h[i].row, 4);
    if (n) fb_buf_putc(&t, ',');
    off[n] = (uint32_t)t.len;
    len[n++] = (uint32_t)tl;
    fb_buf_append(&t, PQgetvalue(res, h[i].row, 4), tl);
  }
  fb_buf_puts(&t, "]}");
  fb_crecs *set = NULL;
  if (t.len < UINT32_MAX / 4) {
    size_t total = t.len;
    set = fb_crecs_load(fb_buf_steal(&t), total, NULL);
  }
  bool same = set && set->fast && set->has_records && set->nrecs == n;
  for (size_t i = 0; same && i < n; i++) same = set->recs[i].off == off[i] && set->recs[i].len == len[i];
  if (same) same = fb_crecs_judge(set, NULL) == 0;
  if (!same) {
    fb_crecs_free(set);
    set = NULL;
  }
  fb_buf_free(&t);
  free(off);
  free(len);
  return set;
}

/* On the pool (or the loop when the pool refused): the leg's rows into records. */
static void build_answer(pg_leg *leg, PGresult *res) {
  hit *h = fb_xcalloc((size_t)PQntuples(res) ? (size_t)PQntuples(res) : 1, sizeof *h);
  size_t nh = rank_hits(leg, res, h);
  if (leg->compact_done) leg->set = build_set(leg, res, h, nh);
  if (!leg->set) leg->records = build_records(leg, res, h, nh);
  free(h);
}

/* Hands a successful leg's records to its caller: the compact set or the array. */
static void answer(pg_leg *leg) {
  if (leg->set) {
    leg->compact_done(leg->data, leg->set);
    leg->set = NULL;
    return;
  }
  json_t *records = leg->records;
  leg->records = NULL;
  leg->cb(leg->data, 0, records, NULL);
}

/* Finishes the running leg: callback unless cancelled, then the next leg. */
static void finish_leg(pg_adapter *a, int status, json_t *records, const char *why) {
  pg_leg *leg = a->cur;
  a->cur = NULL;
  uv_timer_stop(&a->timer);
  if (!leg->cancelled) {
    if (status != 0) fb_warn("adapter_error", "state %s: %s", a->base.state, why);
    leg->cb(leg->data, status, records, why);
  } else {
    json_decref(records);
  }
  leg_free(leg);
  kick(a);
}

/* On the pool: the leg's rows into records. Reads only the leg and its result. */
static void parse_work(uv_work_t *w) {
  pg_leg *leg = w->data;
  build_answer(leg, leg->result);
  PQclear(leg->result);
  leg->result = NULL;
}

static void parse_done(uv_work_t *w, int status) {
  (void)status; /* never cancelled: uv_cancel is not used on it */
  pg_leg *leg = w->data;
  pg_adapter *a = leg->a;
  a->parsing--;
  if (!leg->cancelled && !a->closing) answer(leg);
  leg_free(leg);
  if (a->closing) maybe_finish_close(a);
}

/* The running leg's query succeeded: its rows go to the pool (the connection takes the
 * next leg meanwhile), or an empty result is answered at once. */
static void leg_rows(pg_adapter *a) {
  pg_leg *leg = a->cur;
  if (PQntuples(leg->result) == 0) {
    finish_leg(a, 0, json_array(), NULL);
    return;
  }
  a->cur = NULL;
  uv_timer_stop(&a->timer);
  leg->parsing = true;
  leg->work.data = leg;
  a->parsing++;
  if (uv_queue_work(a->loop, &leg->work, parse_work, parse_done) != 0) {
    a->parsing--;
    leg->parsing = false;
    build_answer(leg, leg->result); /* the pool refused: parse here */
    if (!leg->cancelled) answer(leg);
    leg_free(leg);
    kick(a);
    return;
  }
  kick(a);
}

static void fail_queue(pg_adapter *a, int status, const char *why) {
  while (a->head && !a->closing) {
    pg_leg *leg = a->head;
    a->head = leg->next;
    if (!a->head) a->tail = NULL;
    fb_warn("adapter_error", "state %s: %s", a->base.state, why);
    leg->cb(leg->data, status, NULL, why);
    leg_free(leg);
  }
}

/* libpq messages span lines (hints, the statement with a caret): keep the first. */
static void first_line(char *s) {
  s[strcspn(s, "\n")] = '\0';
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == ' ') s[--n] = '\0';
}

static void fail_connection(pg_adapter *a, char *why);

static void connection_failed(pg_adapter *a, const char *what) {
  char why[512];
  snprintf(why, sizeof why, "%s: %s", what, a->conn ? PQerrorMessage(a->conn) : "out of memory");
  fail_connection(a, why);
}

/* The connection is gone or never came: the running leg fails, or else every queued one. */
static void fail_connection(pg_adapter *a, char *why) {
  first_line(why);
  drop_connection(a);
  if (a->cur) {
    pg_leg *leg = a->cur;
    a->cur = NULL;
    if (!leg->cancelled) {
      fb_warn("adapter_error", "state %s: %s", a->base.state, why);
      leg->cb(leg->data, FB_LEG_ERROR, NULL, why);
    }
    leg_free(leg);
    if (a->closing) return;
    kick(a); /* queued legs get a fresh connection */
  } else {
    fail_queue(a, FB_LEG_ERROR, why); /* could not connect: everyone waiting learns it now */
  }
}

/* ---- the state machine ---- */

static void on_busy(pg_adapter *a, int events) {
  if (events & UV_WRITABLE) {
    int f = PQflush(a->conn);
    if (f < 0) return connection_failed(a, "postgres connection lost");
    if (f == 0) watch_fd(a, UV_READABLE);
  }
  if (!(events & UV_READABLE)) return;
  if (!PQconsumeInput(a->conn)) return connection_failed(a, "postgres connection lost");
  while (!PQisBusy(a->conn)) {
    PGresult *res = PQgetResult(a->conn);
    if (!res) { /* the query is complete */
      pg_leg *leg = a->cur;
      a->state = READY;
      idle(a);
      PGresult *r = leg->result;
      if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        leg_rows(a);
      } else {
        char why[512];
        snprintf(why, sizeof why, "postgres: %s", r ? PQresultErrorMessage(r) : "no result");
        first_line(why);
        finish_leg(a, FB_LEG_ERROR, NULL, why);
      }
      return;
    }
    if (!a->cur->result) a->cur->result = res;
    else PQclear(res);
  }
}

static void on_connecting(pg_adapter *a) {
  switch (PQconnectPoll(a->conn)) {
    case PGRES_POLLING_READING:
      if (watch_fd(a, UV_READABLE) != 0) connection_failed(a, "cannot connect to postgres");
      break;
    case PGRES_POLLING_WRITING:
      if (watch_fd(a, UV_WRITABLE) != 0) connection_failed(a, "cannot connect to postgres");
      break;
    case PGRES_POLLING_OK:
      PQsetnonblocking(a->conn, 1);
      a->state = READY;
      idle(a);
      kick(a);
      break;
    default:
      connection_failed(a, "cannot connect to postgres");
  }
}

static void poll_cb(uv_poll_t *p, int status, int events) {
  watch *w = fb_container_of(p, watch, poll);
  pg_adapter *a = w->a;
  if (!a) return;
  if (status < 0) events = UV_READABLE | UV_WRITABLE; /* let libpq find the error */
  if (a->state == CONNECTING) on_connecting(a);
  else if (a->state == BUSY) on_busy(a, events);
  else if (a->state == READY) on_idle(a);
}

/* The timer times out the running leg, or the connection attempt (by the first
 * queued leg's timeout), or else is the deferred kick of pg_start (so that no
 * callback ever runs inside start). */
static void timer_cb(uv_timer_t *t) {
  pg_adapter *a = fb_container_of(t, pg_adapter, timer);
  if (!a->cur && a->state == CONNECTING) { /* the first queued leg's timeout */
    char why[128];
    snprintf(why, sizeof why, "cannot connect to postgres: no answer within %u ms",
             a->head ? a->head->timeout_ms : 0);
    drop_connection(a);
    return fail_queue(a, FB_LEG_TIMEOUT, why);
  }
  if (!a->cur) return kick(a);
  char why[128];
  snprintf(why, sizeof why, "no answer within %u ms", a->cur->timeout_ms);
  drop_connection(a); /* abandons the query; the next leg reconnects */
  a->state = DISCONNECTED;
  pg_leg *leg = a->cur;
  a->cur = NULL;
  if (!leg->cancelled) {
    fb_warn("adapter_error", "state %s: %s", a->base.state, why);
    leg->cb(leg->data, FB_LEG_TIMEOUT, NULL, why);
  }
  leg_free(leg);
  if (!a->closing) kick(a);
}

/* The connection attempt has a PGconn (at once, or after the host lookup). */
static void connect_begun(pg_adapter *a, PGconn *conn) {
  a->conn = conn;
  if (!a->conn || PQstatus(a->conn) == CONNECTION_BAD) return connection_failed(a, "cannot connect to postgres");
  if (watch_fd(a, UV_WRITABLE) != 0) connection_failed(a, "cannot connect to postgres");
}

static void on_looked_up(void *data, PGconn *conn, const char *why) {
  pg_adapter *a = data;
  a->lookup = NULL;
  if (conn) return connect_begun(a, conn);
  char msg[512];
  snprintf(msg, sizeof msg, "cannot connect to postgres: %s", why);
  fail_connection(a, msg);
}

static void kick(pg_adapter *a) {
  if (a->closing || a->cur || !a->head) return;
  if (a->state == DISCONNECTED) {
    PGconn *conn = NULL;
    a->state = CONNECTING;
    uv_timer_start(&a->timer, timer_cb, a->head->timeout_ms, 0); /* looking up and connecting count */
    if (fb_pg_connect_start(a->loop, a->conninfo, on_looked_up, a, &conn, &a->lookup) == 0) connect_begun(a, conn);
    return;
  }
  if (a->state != READY) return;
  pg_leg *leg = a->head;
  a->head = leg->next;
  if (!a->head) a->tail = NULL;
  a->cur = leg;
  const char *values[5] = {leg->params[0], leg->params[1], leg->params[2], leg->params[3], leg->params[4]};
  if (!PQsendQueryParams(a->conn, search_sql, 5, NULL, values, NULL, NULL, 0))
    return connection_failed(a, "postgres connection lost");
  a->state = BUSY;
  uv_timer_start(&a->timer, timer_cb, leg->timeout_ms, 0);
  int f = PQflush(a->conn);
  if (f < 0 || watch_fd(a, f ? UV_READABLE | UV_WRITABLE : UV_READABLE) != 0)
    connection_failed(a, "postgres connection lost");
}

/* ---- vtable ---- */

/* The keys of a `states` entry of this kind (CONFIG.md). */
static const adapter_option_spec pg_options[] = {
    {"conninfo", ADAPTER_OPT_STRING, offsetof(fb_state_config, conninfo), true},
};

static int pg_configure(fb_state_config *cfg, char **err) {
  return adapter_read_options(cfg, pg_options, FB_ARRAY_LEN(pg_options), err);
}

static int pg_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  if (!cfg->conninfo || !*cfg->conninfo) {
    fb_set_error(err, "state %s: adapter postgres needs `conninfo`", cfg->code ? cfg->code : "?");
    return -1;
  }
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(cfg->conninfo, &perr);
  if (!opts) {
    fb_set_error(err, "state %s: bad conninfo: %s", cfg->code ? cfg->code : "?", perr ? perr : "out of memory");
    PQfreemem(perr);
    return -1;
  }
  PQconninfoFree(opts);
  pg_adapter *a = fb_xcalloc(1, sizeof *a);
  a->loop = loop;
  a->conninfo = fb_xstrdup(cfg->conninfo);
  a->timeout_ms = cfg->timeout_ms;
  uv_timer_init(loop, &a->timer);
  *out = &a->base;
  return 0;
}

static void block_prefixes(const fb_name_key *k, fb_buf *b) {
  fb_buf_putc(b, '{');
  for (int t = 0; t < k->n; t++) {
    const char *s = k->buf + k->off[t];
    size_t take = (unsigned char)s[0] >= 0x80 ? 6 : 3;
    if (take > k->len[t]) take = k->len[t];
    if (t) fb_buf_putc(b, ',');
    fb_buf_putc(b, '"');
    fb_buf_append(b, s, take); /* keys hold no quotes or backslashes */
    fb_buf_putc(b, '"');
  }
  fb_buf_putc(b, '}');
}

static int pg_start(fb_adapter *base, const fb_leg_request *req, fb_leg_done_cb cb, void *data, fb_leg **out) {
  pg_adapter *a = (pg_adapter *)base;
  *out = NULL;
  if (a->closing || !json_is_object(req->subject)) return -1;
  pg_leg *leg = fb_xcalloc(1, sizeof *leg);
  leg->base.adapter = base;
  leg->a = a;
  leg->cb = cb;
  leg->compact_done = req->compact_done;
  leg->data = data;
  leg->limit = req->limit ? req->limit : DEFAULT_LIMIT;
  leg->timeout_ms = req->timeout_ms ? req->timeout_ms : a->timeout_ms;
  if (a->timeout_ms && a->timeout_ms < leg->timeout_ms) leg->timeout_ms = a->timeout_ms;
  if (!leg->timeout_ms) leg->timeout_ms = DEFAULT_TIMEOUT_MS;
  json_t *s = req->subject;
  char key[256], imo[8];
  const char *v;
  if ((v = json_string_value(json_object_get(s, "document"))) && fb_norm_document(v, key, sizeof key))
    leg->params[0] = fb_xstrdup(key);
  if ((v = json_string_value(json_object_get(s, "phone"))) && fb_norm_phone(v, key, sizeof key))
    leg->params[1] = fb_xstrdup(key);
  if ((v = json_string_value(json_object_get(s, "vessel")))) {
    if (fb_norm_imo(v, imo)) leg->params[2] = fb_xstrdup(imo);
    else if (fb_norm_vessel(v, key, sizeof key)) leg->params[3] = fb_xstrdup(key);
  }
  fb_name_key_make(json_string_value(json_object_get(s, "name")), &leg->name);
  fb_buf b = {0};
  block_prefixes(&leg->name, &b);
  leg->params[4] = fb_buf_steal(&b);
  leg->want_year = fb_dob_year(json_string_value(json_object_get(s, "dob")));
  if (a->tail) a->tail->next = leg;
  else a->head = leg;
  a->tail = leg;
  *out = &leg->base;
  if (!a->cur) uv_timer_start(&a->timer, timer_cb, 0, 0);
  return 0;
}

static void pg_cancel(fb_leg *base) {
  pg_leg *leg = (pg_leg *)base;
  pg_adapter *a = leg->a;
  if (a->cur == leg || leg->parsing) {
    leg->cancelled = true; /* its result is discarded when it arrives */
    return;
  }
  pg_leg **p = &a->head;
  while (*p && *p != leg) p = &(*p)->next;
  if (!*p) return;
  *p = leg->next;
  if (a->tail == leg) {
    a->tail = NULL;
    for (pg_leg *l = a->head; l; l = l->next) a->tail = l;
  }
  leg_free(leg);
}

static void timer_closed_cb(uv_handle_t *h) {
  maybe_finish_close(fb_container_of((uv_timer_t *)h, pg_adapter, timer));
}

static void pg_close(fb_adapter *base, void (*closed)(void *), void *data) {
  pg_adapter *a = (pg_adapter *)base;
  a->closing = true;
  a->closed = closed;
  a->closed_data = data;
  a->pending_closes = 1 + (int)a->parsing; /* the timer, and legs parsing (no callback after close) */
  while (a->head) {
    pg_leg *leg = a->head;
    a->head = leg->next;
    leg_free(leg);
  }
  a->tail = NULL;
  if (a->cur) {
    leg_free(a->cur);
    a->cur = NULL;
  }
  drop_connection(a);
  uv_close((uv_handle_t *)&a->timer, timer_closed_cb);
}

const fb_adapter_vtable postgres_adapter_vtable = {
    .kind = "postgres", .configure = pg_configure, .open = pg_open, .start = pg_start, .cancel = pg_cancel, .close = pg_close};
