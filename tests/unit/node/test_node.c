/* Unit tests of the node module: mode names, the fail-rate generator, the database
 * handle pool, and start-up errors that must leave nothing behind on the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "demo/demo_data.h"
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mode_names),
      cmocka_unit_test(test_draw),
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_start_errors),
      cmocka_unit_test(test_start_stop),
  };
  return cmocka_run_group_tests(tests, setup_data, remove_data);
}
