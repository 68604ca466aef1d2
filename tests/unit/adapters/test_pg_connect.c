/* Postgres host names looked up off the loop (adapters/pg_connect.c): the host/hostaddr/
 * port lists handed to libpq, a connection started with the looked-up address (libpq
 * reports it as the hostaddr in use), conninfos that need no lookup, a name that does
 * not resolve, and an abandoned lookup. No PostgreSQL server is needed: a listening
 * socket that never answers stands in for one. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/pg_connect.h"

static void expand(const char *hosts, const char *ports, const char *const *addrs, size_t n, int want_rc,
                   const char *want_host, const char *want_hostaddr, const char *want_port) {
  fb_buf host = {0}, hostaddr = {0}, port = {0};
  assert_int_equal(fb_pg_expand_hosts(hosts, ports, addrs, n, &host, &hostaddr, &port), want_rc);
  if (want_rc == 0) {
    assert_string_equal(host.data ? host.data : "", want_host);
    assert_string_equal(hostaddr.data ? hostaddr.data : "", want_hostaddr);
    assert_string_equal(port.data ? port.data : "", want_port);
  }
  fb_buf_free(&host);
  fb_buf_free(&hostaddr);
  fb_buf_free(&port);
}

static void test_expand_hosts(void **st) {
  (void)st;
  const char *one[] = {"10.0.0.1"};
  expand("db.example", "5433", one, 1, 0, "db.example", "10.0.0.1", "5433");
  /* Two addresses: the name twice, each beside one address; one port for all. */
  const char *two[] = {"10.0.0.1,fd00::1"};
  expand("db.example", NULL, two, 1, 0, "db.example,db.example", "10.0.0.1,fd00::1", "");
  /* A socket directory and an address need no lookup: empty hostaddr items. */
  const char *mixed[] = {NULL, "10.0.0.2,10.0.0.3", NULL};
  expand("/run/pg,db.example,192.168.1.1", "1,2,3", mixed, 3, 0, "/run/pg,db.example,db.example,192.168.1.1",
         ",10.0.0.2,10.0.0.3,", "1,2,2,3");
  /* A name that did not resolve is left out, with its port. */
  const char *failed[] = {"", "10.0.0.4"};
  expand("gone.example,db.example", "1,2", failed, 2, 0, "db.example", "10.0.0.4", "2");
  const char *none[] = {""};
  expand("gone.example", NULL, none, 1, -1, NULL, NULL, NULL);
}

typedef struct {
  bool called;
  PGconn *conn;
  char why[256];
} started;

static void on_started(void *data, PGconn *conn, const char *why) {
  started *s = data;
  assert_false(s->called);
  s->called = true;
  s->conn = conn;
  snprintf(s->why, sizeof s->why, "%s", why ? why : "");
}

static void run_until_called(uv_loop_t *loop, const started *s) {
  for (int i = 0; i < 10000 && !s->called; i++) uv_run(loop, UV_RUN_ONCE);
  assert_true(s->called);
}

/* A TCP listener on 127.0.0.1 that accepts and never answers; returns its port. */
static int silent_listener(int *fd) {
  *fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(*fd, 4), 0);
  socklen_t len = sizeof sa;
  assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
  return ntohs(sa.sin_port);
}

static void test_name_looked_up_then_hostaddr(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  int fd;
  int port = silent_listener(&fd);
  char ci[200];
  snprintf(ci, sizeof ci, "host=localhost port=%d user=fb dbname=postgres sslmode=disable", port);
  started s = {0};
  PGconn *conn = NULL;
  fb_pg_lookup *l = NULL;
  assert_int_equal(fb_pg_connect_start(&loop, ci, on_started, &s, &conn, &l), 1);
  assert_null(conn);
  assert_non_null(l);
  assert_false(s.called); /* the lookup runs on the pool; the answer comes through the loop */
  run_until_called(&loop, &s);
  assert_non_null(s.conn);
  assert_int_not_equal(PQstatus(s.conn), CONNECTION_BAD);
  /* libpq was given the address (so it does no lookup of its own) and keeps the name. */
  assert_string_equal(PQhost(s.conn), "localhost");
  PQconninfoOption *opts = PQconninfo(s.conn);
  const char *hostaddr = NULL;
  for (PQconninfoOption *o = opts; o->keyword; o++)
    if (strcmp(o->keyword, "hostaddr") == 0) hostaddr = o->val;
  assert_non_null(hostaddr);
  assert_true(strcmp(hostaddr, "127.0.0.1") == 0 || strcmp(hostaddr, "::1") == 0 ||
              strcmp(hostaddr, "127.0.0.1,::1") == 0 || strcmp(hostaddr, "::1,127.0.0.1") == 0);
  PQconninfoFree(opts);
  PQfinish(s.conn);
  close(fd);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_no_lookup_needed(void **st) {
  (void)st;
  static const char *const infos[] = {
      "host=/tmp port=5 dbname=x",                 /* a socket directory */
      "host=127.0.0.1 port=5 dbname=x",            /* an address */
      "host=db.example hostaddr=127.0.0.1 port=5 dbname=x", /* the address given */
      "host='unterminated",                        /* libpq reports the error itself */
  };
  uv_loop_t loop;
  uv_loop_init(&loop);
  for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {
    started s = {0};
    PGconn *conn = NULL;
    fb_pg_lookup *l = NULL;
    assert_int_equal(fb_pg_connect_start(&loop, infos[i], on_started, &s, &conn, &l), 0);
    assert_null(l);
    assert_non_null(conn);
    if (i == 3) assert_int_equal(PQstatus(conn), CONNECTION_BAD);
    PQfinish(conn);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_name_that_does_not_resolve(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  started s = {0};
  PGconn *conn = NULL;
  fb_pg_lookup *l = NULL;
  /* A name with spaces is refused by the resolver without asking DNS. */
  assert_int_equal(fb_pg_connect_start(&loop, "host='no such host' port=5 dbname=x", on_started, &s, &conn, &l), 1);
  run_until_called(&loop, &s);
  assert_null(s.conn);
  assert_non_null(strstr(s.why, "cannot resolve no such host: "));
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_abandoned_lookup(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  started s = {0};
  PGconn *conn = NULL;
  fb_pg_lookup *l = NULL;
  assert_int_equal(fb_pg_connect_start(&loop, "host=localhost port=5 dbname=x", on_started, &s, &conn, &l), 1);
  fb_pg_lookup_abandon(l);
  uv_run(&loop, UV_RUN_DEFAULT); /* the lookup returns and frees itself */
  assert_false(s.called);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expand_hosts),
      cmocka_unit_test(test_name_looked_up_then_hostaddr),
      cmocka_unit_test(test_no_lookup_needed),
      cmocka_unit_test(test_name_that_does_not_resolve),
      cmocka_unit_test(test_abandoned_lookup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
