/* Unit tests of the node module: mode names, the fail-rate generator, the database
 * handle pool, start-up errors that must leave nothing behind on the loop, and the
 * search answer's bytes (stored texts sent as they are) against the jansson path's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "demo/demo_data.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/util.h"
#include "node/internal.h"
#include "unit_common.h"

static char dir[64];
static char db_path[128];

static int setup_data(void **state) {
  (void)state;
  fb_log_set_level(FB_LOG_ERROR);
  snprintf(dir, sizeof dir, "/tmp/fb_node_unit.XXXXXX");
  if (!fb_test_demo_data_dir(dir)) return -1;
  snprintf(db_path, sizeof db_path, "%s/MYS.db", dir);
  return 0;
}

static int remove_data(void **state) {
  (void)state;
  return fb_test_rm_rf(dir) ? 0 : -1;
}

static void test_mode_names(void **state) {
  (void)state;
  const char *names[] = {"ok", "invalid_json", "bad_record", "oversized", "reset", "status500", "slow"};
  for (size_t i = 0; i < FB_ARRAY_LEN(names); i++) {
    fb_node_mode m;
    assert_int_equal(fb_node_mode_parse(names[i], &m), 0);
    assert_int_equal(m, (fb_node_mode)i);
    assert_string_equal(fb_node_mode_name(m), names[i]);
    assert_non_null(strstr(fb_node_mode_names, names[i]));
  }
  fb_node_mode m = FB_NODE_SLOW;
  assert_int_equal(fb_node_mode_parse("OK", &m), -1);
  assert_int_equal(fb_node_mode_parse("", &m), -1);
  assert_int_equal(fb_node_mode_parse("chaos", &m), -1);
  assert_int_equal(m, FB_NODE_SLOW); /* untouched on error */
  assert_string_equal(fb_node_mode_name((fb_node_mode)99), "?");
}

static void test_draw(void **state) {
  (void)state;
  fb_node a = {.rng = 42}, b = {.rng = 42}, c = {.rng = 43};
  int below = 0, differ = 0;
  for (int i = 0; i < 10000; i++) {
    double x = node_draw(&a), y = node_draw(&b), z = node_draw(&c);
    assert_true(x >= 0 && x < 1);
    assert_true(x == y); /* same seed, same sequence */
    if (x != z) differ++;
    if (x < 0.3) below++;
  }
  assert_true(differ > 9900);
  /* A fair generator puts ~3000 of 10000 draws below 0.3 (sd ~46). */
  assert_in_range(below, 2800, 3200);
}

static void test_pool(void **state) {
  (void)state;
  fb_node_pool *p = NULL;
  char *err = NULL;
  assert_int_equal(node_pool_open(db_path, 3, &p, &err), 0);
  fb_sqlite_db *d1 = node_pool_acquire(p), *d2 = node_pool_acquire(p), *d3 = node_pool_acquire(p);
  assert_true(d1 != d2 && d2 != d3 && d1 != d3);
  json_t *subject = json_pack("{s:s}", "document", "A12345678");
  json_t *hits = fb_sqlite_db_search(d2, subject, 5, &err);
  assert_non_null(hits);
  assert_string_equal(json_string_value(json_object_get(json_array_get(hits, 0), "id")), "MYS-P-000001");
  json_decref(hits);
  json_decref(subject);
  node_pool_release(p, d2);
  assert_ptr_equal(node_pool_acquire(p), d2); /* the one free handle */
  node_pool_release(p, d1);
  node_pool_release(p, d2);
  node_pool_release(p, d3);
  node_pool_close(p);

  assert_int_equal(node_pool_open("/nonexistent/x.db", 2, &p, &err), -1);
  assert_non_null(strstr(err, "cannot open"));
  free(err);
}

/* fb_node_start refuses bad options and bad resources with a sentence, and the loop
 * can be closed afterwards (no handle left behind). */
static void expect_start_error(const fb_node_options *opt, const char *needle) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_node *node = NULL;
  char *err = NULL;
  assert_int_equal(fb_node_start(&loop, opt, &node, &err), -1);
  assert_null(node);
  assert_non_null(err);
  if (!strstr(err, needle)) fail_msg("error '%s' does not mention '%s'", err, needle);
  free(err);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_start_errors(void **state) {
  (void)state;
  fb_node_options o = {.data = db_path, .listen = "127.0.0.1:0"};
  fb_node_options bad = o;
  bad.data = NULL;
  expect_start_error(&bad, "--data");
  bad = o;
  bad.listen = "";
  expect_start_error(&bad, "--listen");
  bad = o;
  bad.fail_rate = 1.5;
  expect_start_error(&bad, "fail rate");
  bad = o;
  bad.tls_cert = "cert.pem";
  expect_start_error(&bad, "certificate and a key");
  bad = o;
  bad.tls_client_ca = "ca.pem";
  expect_start_error(&bad, "client CA needs TLS");
  bad = o;
  bad.data = "/nonexistent/x.db";
  expect_start_error(&bad, "cannot open");
  bad = o;
  bad.listen = "127.0.0.1:99999";
  expect_start_error(&bad, "cannot listen on");
  bad.mode = FB_NODE_RESET;
  expect_start_error(&bad, "cannot listen on");
  bad = o;
  bad.tls_cert = "/nonexistent/cert.pem";
  bad.tls_key = "/nonexistent/key.pem";
  expect_start_error(&bad, "cert");
}

static void on_stopped_timer(uv_timer_t *t) {
  fb_node_stop(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

/* A node starts on port 0 in either listener kind and stops cleanly. */
static void test_start_stop(void **state) {
  (void)state;
  for (int reset = 0; reset <= 1; reset++) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    fb_node_options o = {.data = db_path, .listen = "127.0.0.1:0", .workers = 2,
                         .mode = reset ? FB_NODE_RESET : FB_NODE_OVERSIZED};
    fb_node *node = NULL;
    char *err = NULL;
    assert_int_equal(fb_node_start(&loop, &o, &node, &err), 0);
    assert_true(fb_node_port(node) > 0);
    if (!reset) {
      assert_int_equal(node->oversized_len, FB_NODE_OVERSIZED_BYTES);
      json_t *j = json_loadb(node->oversized, node->oversized_len, 0, NULL);
      assert_non_null(j); /* the oversized body is valid JSON */
      assert_int_equal(json_array_size(json_object_get(j, "records")), 0);
      json_decref(j);
    }
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = node;
    uv_timer_start(&t, on_stopped_timer, 10, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    fb_node_free(node);
    assert_int_equal(uv_loop_close(&loop), 0);
  }
}


/* ---- the search answer, byte for byte ---- */

/* One HTTP/1.1 exchange with the node on `loop`: the request is written, the answer
 * read until the node closes (Connection: close). */
typedef struct {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_buf_t out;
  fb_buf in;
  fb_node *node;
} exchange;

static void on_exchange_closed(uv_handle_t *h) {
  exchange *x = h->data;
  fb_node_stop(x->node);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  buf->base = fb_xmalloc(hint);
  buf->len = hint;
}

static void on_exchange_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  exchange *x = s->data;
  if (n > 0) fb_buf_append(&x->in, buf->base, (size_t)n);
  free(buf->base);
  if (n < 0) uv_close((uv_handle_t *)&x->tcp, on_exchange_closed);
}

static void on_exchange_written(uv_write_t *w, int status) {
  assert_int_equal(status, 0);
  exchange *x = w->data;
  uv_read_start((uv_stream_t *)&x->tcp, on_alloc, on_exchange_read);
}

static void on_exchange_connected(uv_connect_t *c, int status) {
  assert_int_equal(status, 0);
  exchange *x = c->data;
  x->write.data = x;
  assert_int_equal(uv_write(&x->write, (uv_stream_t *)&x->tcp, &x->out, 1, on_exchange_written), 0);
}

/* The body of the node's answer to a search for `subject`. */
static char *node_answer(json_t *subject) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_node_options o = {.data = db_path, .listen = "127.0.0.1:0", .workers = 1, .mode = FB_NODE_OK};
  fb_node *node = NULL;
  char *err = NULL;
  assert_int_equal(fb_node_start(&loop, &o, &node, &err), 0);
  json_t *req = json_pack("{s:s, s:O, s:s, s:s, s:s, s:{s:s, s:s}, s:i}", "query_id", "q-1", "subject", subject,
                          "purpose", "prosecution", "priority", "urgent", "legal_basis", "mla_treaty",
                          "requester", "state", "IDN", "agency", "POLRI", "limit", 100);
  char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  exchange x = {.node = node};
  char *head = NULL;
  assert_true(asprintf(&head,
                       "POST /search HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
                       "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(body), body) > 0);
  free(body);
  x.out = uv_buf_init(head, (unsigned)strlen(head));
  uv_tcp_init(&loop, &x.tcp);
  x.tcp.data = x.connect.data = &x;
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", fb_node_port(node), &addr);
  assert_int_equal(uv_tcp_connect(&x.connect, &x.tcp, (const struct sockaddr *)&addr, on_exchange_connected), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  fb_node_free(node);
  assert_int_equal(uv_loop_close(&loop), 0);
  free(head);
  fb_buf_putc(&x.in, '\0');
  assert_non_null(strstr(x.in.data, "HTTP/1.1 200"));
  const char *start = strstr(x.in.data, "\r\n\r\n");
  assert_non_null(start);
  char *answer = fb_xstrdup(start + 4);
  fb_buf_free(&x.in);
  return answer;
}

/* What the node answered before it sent stored texts: {"records": the jansson search}
 * written by jsonw, and a newline. */
static char *jansson_answer(json_t *subject) {
  fb_sqlite_db *db = NULL;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open(db_path, &db, &err), 0);
  json_t *records = fb_sqlite_db_search(db, subject, 100, &err);
  assert_non_null(records);
  fb_sqlite_db_close(db);
  json_t *answer = json_pack("{s:o}", "records", records);
  fb_buf b = {0};
  assert_int_equal(fb_jsonw_dump(&b, answer, FB_JSONW_PRECISION), 0);
  json_decref(answer);
  fb_buf_putc(&b, '\n');
  fb_buf_putc(&b, '\0');
  return fb_buf_steal(&b);
}

/* For subjects made of every stored record's name, document and phone (and one that
 * finds nothing), the node's answer is byte for byte the jansson path's. */
static void test_search_answer_bytes(void **state) {
  (void)state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT json FROM records ORDER BY rid LIMIT 40", -1, &st, NULL), SQLITE_OK);
  json_t *subjects = json_array();
  json_array_append_new(subjects, json_pack("{s:s}", "document", "NO-SUCH-DOCUMENT-1"));
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *r = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    assert_non_null(r);
    json_t *name = json_object_get(r, "name");
    json_t *doc = json_object_get(json_array_get(json_object_get(r, "documents"), 0), "number");
    json_t *phone = json_array_get(json_object_get(r, "phones"), 0);
    if (json_is_string(name)) json_array_append_new(subjects, json_pack("{s:O}", "name", name));
    if (json_is_string(doc)) json_array_append_new(subjects, json_pack("{s:O}", "document", doc));
    if (json_is_string(phone)) json_array_append_new(subjects, json_pack("{s:O}", "phone", phone));
    json_decref(r);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  assert_true(json_array_size(subjects) > 40);
  size_t i, with_records = 0;
  json_t *subject;
  json_array_foreach(subjects, i, subject) {
    char *want = jansson_answer(subject);
    char *got = node_answer(subject);
    if (strcmp(want, got) != 0) fail_msg("subject %zu: node answered\n%s\nthe jansson path\n%s", i, got, want);
    if (strstr(want, "\"id\"")) with_records++;
    free(want);
    free(got);
  }
  assert_true(with_records > 20);
  json_decref(subjects);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mode_names),
      cmocka_unit_test(test_draw),
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_start_errors),
      cmocka_unit_test(test_start_stop),
      cmocka_unit_test(test_search_answer_bytes),
  };
  return cmocka_run_group_tests(tests, setup_data, remove_data);
}
