/* Routing: exact and prefix matches, HEAD served by GET, 405 with Allow, 404; errors
 * in the API.md shape; query parameters decoded. Requests are built without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/internal.h"

static int hits_a, hits_b, hits_prefix;
static void handler_a(fb_request *req, void *ctx) { (void)ctx; hits_a++; req->status = 200; }
static void handler_b(fb_request *req, void *ctx) { (void)ctx; hits_b++; req->status = 201; }
static void handler_prefix(fb_request *req, void *ctx) { (void)ctx; hits_prefix++; req->status = 202; }

static fb_request *make(const char *method, const char *target) {
  fb_request *req = net_request_new(NULL, 1);
  net_request_set_line(req, method, strlen(method), target, strlen(target));
  return req;
}

static const char *resp_header(fb_request *req, const char *name) {
  for (size_t off = 0; off < req->resp_headers.len;) {
    const char *n = req->resp_headers.data + off;
    const char *v = n + strlen(n) + 1;
    if (strcmp(n, name) == 0) return v;
    off = (size_t)(v - req->resp_headers.data) + strlen(v) + 1;
  }
  return NULL;
}

static void test_dispatch(void **state) {
  (void)state;
  fb_router *r = fb_router_new();
  fb_router_add(r, "GET", "/a", handler_a, NULL);
  fb_router_add(r, "POST", "/a", handler_b, NULL);
  fb_router_add(r, "GET", "/console/*", handler_prefix, NULL);

  fb_request *req = make("GET", "/a?x=1");
  fb_router_dispatch(r, req);
  assert_int_equal(hits_a, 1);
  assert_string_equal(req->route, "/a");
  net_request_free(req);

  req = make("HEAD", "/a");
  fb_router_dispatch(r, req);
  assert_int_equal(hits_a, 2);
  net_request_free(req);

  req = make("POST", "/a");
  fb_router_dispatch(r, req);
  assert_int_equal(hits_b, 1);
  net_request_free(req);

  req = make("GET", "/console/app.js");
  fb_router_dispatch(r, req);
  assert_int_equal(hits_prefix, 1);
  net_request_free(req);

  req = make("DELETE", "/a");
  fb_router_dispatch(r, req);
  assert_int_equal(req->status, 405);
  assert_string_equal(resp_header(req, "allow"), "GET, POST");
  net_request_free(req);

  req = make("GET", "/b");
  fb_router_dispatch(r, req);
  assert_int_equal(req->status, 404);
  assert_string_equal(resp_header(req, "content-type"), "application/json; charset=utf-8");
  net_request_free(req);
  fb_router_free(r);
}

static void test_query_params(void **state) {
  (void)state;
  fb_request *req = make("GET", "/v1/audit?after=10&limit=5&name=a%20b+c");
  char v[32];
  assert_true(fb_request_query_param(req, "after", v, sizeof v));
  assert_string_equal(v, "10");
  assert_true(fb_request_query_param(req, "limit", v, sizeof v));
  assert_string_equal(v, "5");
  assert_true(fb_request_query_param(req, "name", v, sizeof v));
  assert_string_equal(v, "a b c");
  assert_false(fb_request_query_param(req, "lim", v, sizeof v));
  assert_string_equal(fb_request_path(req), "/v1/audit");
  net_request_free(req);
}

static void test_headers_lowercased(void **state) {
  (void)state;
  fb_request *req = make("GET", "/");
  net_request_add_header(req, "Content-Type", 12, "application/json", 16);
  net_request_add_header(req, "AUTHORIZATION", 13, "Bearer x", 8);
  assert_string_equal(fb_request_header(req, "content-type"), "application/json");
  assert_string_equal(fb_request_header(req, "authorization"), "Bearer x");
  assert_null(fb_request_header(req, "accept"));
  net_request_free(req);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dispatch),
      cmocka_unit_test(test_query_params),
      cmocka_unit_test(test_headers_lowercased),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
