/* The "postgres" adapter against a throw-away PostgreSQL server (initdb + pg_ctl in
 * a temporary directory, unix socket only), loaded from the demo data with
 * fb_pg_load. Its answers must equal the sqlite adapter's on the same data. Skipped
 * when no PostgreSQL server binaries are installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "adapters/adapter.h"
#include "core/crec.h"
#include "demo/demo_data.h"
#include "records/postgres_db.h"
#include "records/sqlite_db.h"
#include "core/util.h"
#include "tests/unit/adapters/leg_outcome.h"
#include "unit_common.h"

static char dir[] = "/tmp/fb_pg_test_XXXXXX";
static char conninfo[256], sqlite_path[256];
static bool have_pg, started;
static char as_user[64]; /* "runuser -u postgres -- " when running as root */

static char bin[512]; /* the server binaries' directory, with a trailing slash, or "" for PATH */

/* Debian keeps initdb and pg_ctl off PATH, in `pg_config --bindir`. */
static bool find_server(void) {
  FILE *f = popen("pg_config --bindir 2>/dev/null", "r");
  if (f) {
    if (fgets(bin, sizeof bin - 2, f)) {
      bin[strcspn(bin, "\n")] = '\0';
      strcat(bin, "/");
    }
    pclose(f);
  }
  if (bin[0] && fb_test_sh("test -x %sinitdb && test -x %spg_ctl", bin, bin) == 0) return true;
  bin[0] = '\0';
  return fb_test_sh("command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1") == 0;
}

static int setup(void **state) {
  (void)state;
  if (!find_server()) {
    fprintf(stderr, "no PostgreSQL server binaries (initdb, pg_ctl): postgres tests skipped\n");
    return 0;
  }
  if (!mkdtemp(dir)) return -1;
  if (geteuid() == 0) {
    if (fb_test_sh("id postgres >/dev/null 2>&1 && chown postgres %s", dir) != 0) return 0;
    snprintf(as_user, sizeof as_user, "runuser -u postgres -- ");
  }
  if (fb_test_sh("%s%sinitdb -D %s/pg -A trust -U fb --no-sync >%s/initdb.log 2>&1", as_user, bin, dir, dir) != 0) return -1;
  if (fb_test_sh("%s%spg_ctl -D %s/pg -w -t 30 -l %s/pg.log -o \"-k %s -p 5432 -c listen_addresses='' -c fsync=off\" "
         "start >/dev/null 2>&1", as_user, bin, dir, dir, dir) != 0)
    return -1;
  started = true;
  /* A watchdog stops the server when this process ends, however it ends (a crash or
   * a ctest timeout must not leave a postgres running). */
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t dog = fork();
  if (dog == 0) {
    close(fds[1]);
    char c;
    while (read(fds[0], &c, 1) > 0) {
    }
    fb_test_sh("%s%spg_ctl -D %s/pg -m immediate stop >/dev/null 2>&1; rm -rf %s", as_user, bin, dir, dir);
    _exit(0);
  }
  close(fds[0]); /* fds[1] stays open, unused, until this process exits */
  snprintf(conninfo, sizeof conninfo, "host=%s port=5432 user=fb dbname=postgres", dir);
  char *err = NULL;
  char data[200];
  snprintf(data, sizeof data, "%s/data", dir);
  if (fb_test_sh("mkdir -p %s", data) != 0 || fb_demo_data_generate(data, 1, &err) != 0) return -1;
  snprintf(sqlite_path, sizeof sqlite_path, "%s/MYS.db", data);
  if (fb_pg_load(conninfo, sqlite_path, &err) != 0) {
    fprintf(stderr, "%s\n", err);
    free(err);
    return -1;
  }
  have_pg = true;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (!started && dir[strlen(dir) - 1] != 'X') fb_test_sh("rm -rf %s", dir);
  return 0; /* the watchdog stops the server and removes the directory */
}


/* compact_done: the set's records as a JSON array, handed to the outcome as `cb` would. */
static int compact_calls;
static void compact_cb(void *data, fb_crecs *set) {
  compact_calls++;
  done_cb(data, 0, fb_crecs_records_json(set), NULL);
  fb_crecs_free(set);
}

/* Ids of the records an adapter of `kind` returns for `subject`, as a JSON array text;
 * `compact`: the leg asks for a compact set (as the search engine does). */
static char *ids_via_mode(char *kind, const char *subject_json, size_t limit, bool compact, outcome *keep) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "MYS", .adapter = kind, .path = sqlite_path, .conninfo = conninfo};
  fb_adapter *a;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  json_t *subject = json_loads(subject_json, 0, NULL);
  fb_leg_request req = {.query_id = "q", .subject = subject, .limit = limit, .timeout_ms = 5000,
                        .compact_done = compact ? compact_cb : NULL};
  outcome o = {0};
  fb_leg *leg;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o, &leg), 0);
  json_decref(subject);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(o.calls, 1);
  int closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
  if (o.status != 0) fail_msg("%s: %s", kind, o.error);
  json_t *ids = json_array();
  size_t i;
  json_t *r;
  json_array_foreach(o.records, i, r) json_array_append(ids, json_object_get(r, "id"));
  char *text = json_dumps(ids, JSON_COMPACT);
  json_decref(ids);
  if (keep) *keep = o;
  else json_decref(o.records);
  return text;
}

static char *ids_via_limit(char *kind, const char *subject_json, size_t limit, outcome *keep) {
  return ids_via_mode(kind, subject_json, limit, false, keep);
}

static char *ids_via(char *kind, const char *subject_json, outcome *keep) {
  return ids_via_limit(kind, subject_json, 20, keep);
}

static void test_same_answers_as_sqlite(void **state) {
  (void)state;
  if (!have_pg) skip();
  static const char *const subjects[] = {
      "{\"name\":\"Ahmad bin Ismail\"}", "{\"name\":\"Ismail Ahmad\"}", "{\"name\":\"AHMED B. ISMAEL\"}",
      "{\"name\":\"Muhammad Rafikul Islam\"}", "{\"name\":\"Nur Aisyah Rahman\",\"dob\":\"2010\"}",
      "{\"name\":\"Ahmad bin Ismail\",\"dob\":\"1990\"}", "{\"document\":\"a1234-5678\"}",
      "{\"phone\":\"+60 12-345 6789\"}", "{\"vessel\":\"KM Sinar Laut\"}", "{\"vessel\":\"IMO 9123453\"}",
      "{\"name\":\"Siti\",\"document\":\"A12345678\"}", "{\"document\":\"NOPE\"}"};
  for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
    char *want = ids_via("sqlite", subjects[i], NULL);
    char *got = ids_via("postgres", subjects[i], NULL);
    if (strcmp(want, got) != 0) fail_msg("%s: postgres %s, sqlite %s", subjects[i], got, want);
    free(got);
    /* and as a compact set: the same records, in the same order */
    outcome oj, oc;
    free(ids_via_mode("postgres", subjects[i], 20, false, &oj));
    int before = compact_calls;
    got = ids_via_mode("postgres", subjects[i], 20, true, &oc);
    if (strcmp(want, got) != 0) fail_msg("%s: postgres compact %s, sqlite %s", subjects[i], got, want);
    if (json_array_size(oc.records)) assert_int_equal(compact_calls, before + 1); /* no silent fallback */
    assert_true(json_equal(oj.records, oc.records));
    json_decref(oj.records);
    json_decref(oc.records);
    free(want);
    free(got);
  }
  /* A subject with more matches than the limit: both stop at the limit, at the same records. */
  char *want = ids_via_limit("sqlite", "{\"name\":\"Muhammad Rafikul Islam\"}", 3, NULL);
  char *got = ids_via_limit("postgres", "{\"name\":\"Muhammad Rafikul Islam\"}", 3, NULL);
  assert_string_equal(got, want);
  free(got);
  got = ids_via_mode("postgres", "{\"name\":\"Muhammad Rafikul Islam\"}", 3, true, NULL);
  assert_string_equal(got, want);
  json_t *three = json_loads(got, 0, NULL);
  assert_int_equal(json_array_size(three), 3);
  json_decref(three);
  free(want);
  free(got);
  outcome o;
  char *ids = ids_via("postgres", "{\"document\":\"A12345678\"}", &o);
  assert_string_equal(ids, "[\"MYS-P-000001\"]");
  assert_string_equal(json_string_value(json_object_get(json_array_get(o.records, 0), "name")), "Ahmad bin Ismail");
  free(ids);
  json_decref(o.records);
}

static void test_queue_cancel_and_close(void **state) {
  (void)state;
  if (!have_pg) skip();
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "MYS", .adapter = "postgres", .conninfo = conninfo};
  fb_adapter *a;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  json_t *subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  fb_leg_request req = {.query_id = "q", .subject = subject, .limit = 5};
  outcome o[6] = {{0}};
  fb_leg *legs[6];
  for (int i = 0; i < 6; i++) assert_int_equal(fb_adapter_start(a, &req, done_cb, &o[i], &legs[i]), 0);
  assert_int_equal(o[0].calls, 0); /* never called back inside start */
  fb_adapter_cancel(legs[2]);
  fb_adapter_cancel(legs[5]);
  while (o[0].calls + o[1].calls + o[3].calls + o[4].calls < 4) uv_run(&loop, UV_RUN_ONCE);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(o[i].calls, i == 2 || i == 5 ? 0 : 1);
    if (o[i].calls) {
      assert_int_equal(o[i].status, 0);
      assert_true(json_array_size(o[i].records) >= 1);
      json_decref(o[i].records);
    }
  }
  /* close with one running and one queued: no callbacks */
  outcome p[2] = {{0}};
  fb_leg *l;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &p[0], &l), 0);
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &p[1], &l), 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  int closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(p[0].calls + p[1].calls, 0);
  json_decref(subject);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* The libuv thread pool held busy by POOL_THREADS jobs until released, so that work
 * queued after them waits (the pool takes jobs in order). main() sets the pool's size.
 * A job lets go by itself after 20 s, so that a failed test cannot hang the process
 * (libuv joins its threads at exit); the block is static for the same reason. */
#define POOL_THREADS 4
typedef struct {
  atomic_bool released;
  uv_work_t jobs[POOL_THREADS];
  int done;
} pool_block;
static pool_block block;

static void block_work(uv_work_t *w) {
  pool_block *b = w->data;
  for (int ms = 0; ms < 20000 && !atomic_load(&b->released); ms++) usleep(1000);
}

static void block_done(uv_work_t *w, int status) {
  (void)status;
  ((pool_block *)w->data)->done++;
}

static void pool_hold(uv_loop_t *loop, pool_block *b) {
  atomic_store(&b->released, false);
  b->done = 0;
  for (int i = 0; i < POOL_THREADS; i++) {
    b->jobs[i].data = b;
    assert_int_equal(uv_queue_work(loop, &b->jobs[i], block_work, block_done), 0);
  }
}

static void pool_release(uv_loop_t *loop, pool_block *b) {
  atomic_store(&b->released, true);
  while (b->done < POOL_THREADS) uv_run(loop, UV_RUN_ONCE);
}

/* Rows are parsed on the pool while the connection serves the next leg; an empty result
 * is answered on the loop; a leg cancelled, or an adapter closed, while its rows are
 * being parsed gets no callback. */
static void test_rows_parsed_off_the_loop(void **state) {
  (void)state;
  if (!have_pg) skip();
  static uv_loop_t loop; /* the pool's jobs point at it even if the test fails */
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "MYS", .adapter = "postgres", .conninfo = conninfo};
  fb_adapter *a;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  json_t *name = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  json_t *none = json_pack("{s:s}", "document", "NOPE");
  fb_leg_request with_rows = {.query_id = "q", .subject = name, .limit = 5, .timeout_ms = 10000};
  fb_leg_request no_rows = {.query_id = "q", .subject = none, .limit = 5, .timeout_ms = 10000};

  pool_block *b = &block;
  pool_hold(&loop, b);
  outcome oa = {0}, ob = {0}, oc = {0}, od = {0}, og = {0};
  fb_leg *la, *lb, *lc, *ld, *lg;
  assert_int_equal(fb_adapter_start(a, &with_rows, done_cb, &oa, &la), 0);
  assert_int_equal(fb_adapter_start(a, &no_rows, done_cb, &ob, &lb), 0);
  /* B ran after A's query was done, and answered on the loop while A's rows wait for the
   * pool: A is being parsed, off the loop. */
  for (int i = 0; i < 100000 && !ob.calls; i++) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(ob.calls, 1);
  assert_int_equal(ob.status, 0);
  assert_int_equal(json_array_size(ob.records), 0);
  json_decref(ob.records);
  assert_int_equal(oa.calls, 0);
  fb_adapter_cancel(la); /* while parsing: its records are dropped when they come */
  pool_release(&loop, b);
  /* G's rows are parsed after A's were taken from the queue. */
  assert_int_equal(fb_adapter_start(a, &with_rows, done_cb, &og, &lg), 0);
  for (int i = 0; i < 100000 && !og.calls; i++) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(og.status, 0);
  assert_true(json_array_size(og.records) >= 1);
  json_decref(og.records);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(oa.calls, 0);

  /* The adapter closes while C's rows wait for the pool: it waits for them, and C gets
   * no callback. */
  pool_hold(&loop, b);
  assert_int_equal(fb_adapter_start(a, &with_rows, done_cb, &oc, &lc), 0);
  assert_int_equal(fb_adapter_start(a, &no_rows, done_cb, &od, &ld), 0);
  for (int i = 0; i < 100000 && !od.calls; i++) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(od.calls, 1);
  json_decref(od.records);
  assert_int_equal(oc.calls, 0);
  int closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(closed, 0);
  pool_release(&loop, b);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(oc.calls, 0);
  (void)lb;
  (void)lc;
  (void)ld;
  (void)lg;

  /* With the pool free, rows come back parsed. */
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  outcome oe = {0};
  fb_leg *le;
  assert_int_equal(fb_adapter_start(a, &with_rows, done_cb, &oe, &le), 0);
  for (int i = 0; i < 100000 && !oe.calls; i++) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(oe.status, 0);
  assert_true(json_array_size(oe.records) >= 1);
  json_decref(oe.records);
  closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  json_decref(name);
  json_decref(none);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static outcome one_leg(char *ci, uint32_t timeout_ms) {
  fb_state_config cfg = {.code = "MYS", .adapter = "postgres", .conninfo = ci};
  json_t *subject = json_pack("{s:s}", "document", "A12345678");
  fb_leg_request req = {.query_id = "q", .subject = subject, .timeout_ms = timeout_ms};
  outcome o = run_one_leg(&cfg, &req);
  json_decref(subject);
  return o;
}

static void test_unreachable_database(void **state) {
  (void)state;
  /* refused: nothing listens on port 1 */
  outcome o = one_leg("host=127.0.0.1 port=1 user=fb dbname=postgres", 2000);
  assert_int_equal(o.status, FB_LEG_ERROR);
  assert_non_null(strstr(o.error, "cannot connect to postgres: "));
  /* a peer that accepts and never answers: the leg's timeout covers connecting */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(s, 4), 0);
  socklen_t len = sizeof sa;
  getsockname(s, (struct sockaddr *)&sa, &len);
  char ci[128];
  snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=fb dbname=postgres sslmode=disable", ntohs(sa.sin_port));
  double t0 = fb_now_ms();
  o = one_leg(ci, 300);
  assert_true(fb_now_ms() - t0 < 3000);
  assert_int_equal(o.status, FB_LEG_TIMEOUT);
  assert_string_equal(o.error, "cannot connect to postgres: no answer within 300 ms");
  /* the same peer by name: looked up off the loop, then the same timeout */
  snprintf(ci, sizeof ci, "host=localhost port=%d user=fb dbname=postgres sslmode=disable", ntohs(sa.sin_port));
  o = one_leg(ci, 300);
  assert_int_equal(o.status, FB_LEG_TIMEOUT);
  assert_string_equal(o.error, "cannot connect to postgres: no answer within 300 ms");
  close(s);
  /* a name that does not resolve fails the leg with the lookup's reason */
  o = one_leg("host='no such host' port=5432 user=fb dbname=postgres", 2000);
  assert_int_equal(o.status, FB_LEG_ERROR);
  assert_non_null(strstr(o.error, "cannot connect to postgres: cannot resolve no such host: "));
}

typedef struct {
  fb_adapter *a;
  int *closed;
} close_later;

static void close_adapter_cb(uv_timer_t *t) {
  close_later *cl = t->data;
  fb_adapter_close(cl->a, closed_cb, cl->closed);
  uv_close((uv_handle_t *)t, NULL);
}

/* Closing while the host name is being looked up: no leg callback, the adapter closes,
 * and the lookup's late answer touches nothing (ASan shows it if it did). */
static void test_close_while_looking_up(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "MYS", .adapter = "postgres",
                         .conninfo = "host=localhost port=5 user=fb dbname=postgres sslmode=disable"};
  fb_adapter *a;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  json_t *subject = json_pack("{s:s}", "document", "A12345678");
  fb_leg_request req = {.query_id = "q", .subject = subject, .timeout_ms = 5000};
  outcome o = {0};
  fb_leg *leg;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o, &leg), 0);
  json_decref(subject);
  /* A timer due with the adapter's deferred start, started after it, runs right after
   * it in the same pass: the lookup has been queued and cannot have answered yet. */
  int closed = 0;
  close_later cl = {.a = a, .closed = &closed};
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = &cl;
  uv_timer_start(&t, close_adapter_cb, 0, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(o.calls, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_sql_error_and_bad_conninfo(void **state) {
  (void)state;
  if (have_pg) {
    /* a database without the fb_ tables */
    char ci[300];
    snprintf(ci, sizeof ci, "host=%s port=5432 user=fb dbname=template1", dir);
    outcome o = one_leg(ci, 2000);
    assert_int_equal(o.status, FB_LEG_ERROR);
    assert_string_equal(o.error, "postgres: ERROR:  relation \"fb_keys\" does not exist");
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = NULL;
  char *err = NULL;
  fb_state_config bad = {.code = "THA", .adapter = "postgres", .conninfo = "host='unterminated"};
  assert_int_equal(fb_adapter_open(&loop, &bad, &a, &err), -1);
  assert_non_null(strstr(err, "state THA: bad conninfo: "));
  free(err);
  fb_state_config none = {.code = "THA", .adapter = "postgres"};
  assert_int_equal(fb_adapter_open(&loop, &none, &a, &err), -1);
  assert_string_equal(err, "state THA: adapter postgres needs `conninfo`");
  free(err);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Sets record `id`'s stored text (NULL: read it into `keep`, of size `cap`). */
static void record_text(const char *id, const char *text, char *keep, size_t cap) {
  PGconn *c = PQconnectdb(conninfo);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  const char *p[2] = {id, text};
  PGresult *r = text ? PQexecParams(c, "UPDATE fb_records SET json = $2 WHERE id = $1", 2, NULL, p, NULL, NULL, 0)
                     : PQexecParams(c, "SELECT json FROM fb_records WHERE id = $1", 1, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != (text ? PGRES_COMMAND_OK : PGRES_TUPLES_OK)) fail_msg("%s", PQerrorMessage(c));
  if (!text) snprintf(keep, cap, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
}

/* Stored texts the compact set must not take as they stand: text with spaces (valid,
 * not canonical), a text holding two records (one row must not become two), a record
 * the schema refuses, a text that is not JSON. Each time the compact leg answers what
 * the jansson leg answers: the record as parsed, or the row skipped. */
static void test_compact_set_falls_back_on_odd_rows(void **state) {
  (void)state;
  if (!have_pg) skip();
  static char orig[8192], two[16800], spaced[16400];
  record_text("MYS-P-000001", NULL, orig, sizeof orig);
  size_t n = strlen(orig);
  assert_true(n > 2 && orig[0] == '{' && orig[n - 1] == '}');
  char *o = spaced;
  for (const char *p = orig; *p; p++) {
    *o++ = *p;
    if (*p == ',' && p[1] == '"') *o++ = ' '; /* after each member: no string holds `,"` in the demo */
  }
  *o = '\0';
  snprintf(two, sizeof two, "%s,%s", orig, orig);
  const char *const variants[] = {spaced, two, "{\"id\":\"MYS-P-000001\"}", "not json"};
  const size_t want_n[] = {1, 0, 0, 0};
  for (size_t v = 0; v < FB_ARRAY_LEN(variants); v++) {
    record_text("MYS-P-000001", variants[v], NULL, 0);
    outcome oj, oc;
    free(ids_via_mode("postgres", "{\"document\":\"A12345678\"}", 20, false, &oj));
    free(ids_via_mode("postgres", "{\"document\":\"A12345678\"}", 20, true, &oc));
    if (!json_equal(oj.records, oc.records)) fail_msg("variant %zu: compact and jansson legs differ", v);
    assert_int_equal(json_array_size(oc.records), want_n[v]);
    json_decref(oj.records);
    json_decref(oc.records);
  }
  record_text("MYS-P-000001", orig, NULL, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_answers_as_sqlite),
      cmocka_unit_test(test_queue_cancel_and_close),
      cmocka_unit_test(test_rows_parsed_off_the_loop),
      cmocka_unit_test(test_unreachable_database),
      cmocka_unit_test(test_close_while_looking_up),
      cmocka_unit_test(test_sql_error_and_bad_conninfo),
      cmocka_unit_test(test_compact_set_falls_back_on_odd_rows),
  };
  setenv("UV_THREADPOOL_SIZE", "4", 1); /* POOL_THREADS: read when the pool starts */
  return cmocka_run_group_tests(tests, setup, teardown);
}
