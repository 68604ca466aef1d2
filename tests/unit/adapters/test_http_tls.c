/* The "http" adapter over HTTPS with mutual TLS, against node_server.py --tls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "tests/unit/adapters/leg_outcome.h"
#include "unit_common.h"

static char dir[] = "/tmp/fb_http_tls_XXXXXX";
static char ca[128], cert[128], key[128], rogue_cert[128], rogue_key[128], srv_cert[128], srv_key[128];
static pid_t server_pid;
static int port;

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  if (fb_test_sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null", dir, ec) ||
      fb_test_sh("cd %s && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
         "openssl req %s -keyout node.key -out node.csr -subj /CN=node 2>/dev/null && "
         "openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem -days 2 "
         "-extfile san.ext 2>/dev/null", dir, ec) ||
      fb_test_sh("cd %s && openssl req %s -keyout hub.key -out hub.csr -subj /CN=hub 2>/dev/null && "
         "openssl x509 -req -in hub.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out hub.pem -days 2 2>/dev/null",
         dir, ec) ||
      fb_test_sh("cd %s && openssl req -x509 %s -keyout rogue.key -out rogue.pem -days 2 -subj /CN=rogue 2>/dev/null", dir, ec))
    return -1;
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  snprintf(cert, sizeof cert, "%s/hub.pem", dir);
  snprintf(key, sizeof key, "%s/hub.key", dir);
  snprintf(rogue_cert, sizeof rogue_cert, "%s/rogue.pem", dir);
  snprintf(rogue_key, sizeof rogue_key, "%s/rogue.key", dir);
  snprintf(srv_cert, sizeof srv_cert, "%s/node.pem", dir);
  snprintf(srv_key, sizeof srv_key, "%s/node.key", dir);
  char *argv[] = {"/usr/bin/python3", FB_SOURCE_DIR "/tests/unit/adapters/node_server.py", "--tls", srv_cert,
                  srv_key, ca, NULL};
  server_pid = fb_test_spawn_server(argv, &port);
  if (server_pid < 0) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fb_test_stop_server(server_pid);
  fb_test_sh("rm -rf %s", dir);
  return 0;
}


static outcome run(char *cafile, char *certfile, char *keyfile) {
  char url[128];
  snprintf(url, sizeof url, "https://127.0.0.1:%d/good", port);
  fb_state_config cfg = {.code = "IDN", .adapter = "http", .url = url, .ca = cafile,
                         .cert = certfile, .key = keyfile, .timeout_ms = 5000};
  json_t *subject = json_pack("{s:s}", "document", "A12345678");
  fb_leg_request req = {.query_id = "q-1", .subject = subject, .purpose = "prosecution", .priority = "urgent",
                        .legal_basis = "mla_treaty", .requester_state = "MYS", .requester_agency = "PDRM"};
  outcome o = run_one_leg(&cfg, &req);
  json_decref(subject);
  return o;
}

static void test_mutual_tls(void **state) {
  (void)state;
  outcome o = run(ca, cert, key);
  if (o.status != 0) fail_msg("mTLS leg failed: %s", o.error);
  assert_int_equal(json_array_size(o.records), 2);
  json_decref(o.records);
}

static void test_refused_without_trusted_client_cert(void **state) {
  (void)state;
  outcome o = run(ca, NULL, NULL);
  assert_int_equal(o.status, FB_LEG_ERROR);
  assert_non_null(strstr(o.error, "request to node failed"));
  o = run(ca, rogue_cert, rogue_key);
  assert_int_equal(o.status, FB_LEG_ERROR);
  assert_non_null(strstr(o.error, "request to node failed"));
}

static void test_untrusted_node(void **state) {
  (void)state;
  outcome o = run(NULL, cert, key); /* system CAs do not know the test CA */
  assert_int_equal(o.status, FB_LEG_ERROR);
  assert_non_null(strstr(o.error, "request to node failed"));
  o = run(rogue_cert, cert, key); /* a CA file that did not sign the node */
  assert_int_equal(o.status, FB_LEG_ERROR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mutual_tls),
      cmocka_unit_test(test_refused_without_trusted_client_cert),
      cmocka_unit_test(test_untrusted_node),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
