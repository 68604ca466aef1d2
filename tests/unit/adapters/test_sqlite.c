/* The sqlite records database and the async "sqlite" adapter, on generated demo data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapters/adapter.h"
#include "demo/demo_data.h"
#include "records/record.h"
#include "records/sqlite_db.h"
#include "tests/unit/adapters/leg_outcome.h"
#include "unit_common.h"

static char dir[] = "/tmp/fb_sqlite_test_XXXXXX";
static char path_mys[128], path_bgd[128];

static int setup(void **state) {
  (void)state;
  if (!fb_test_demo_data_dir(dir)) return -1;
  snprintf(path_mys, sizeof path_mys, "%s/MYS.db", dir);
  snprintf(path_bgd, sizeof path_bgd, "%s/BGD.db", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return fb_test_rm_rf(dir) ? 0 : -1;
}

/* Runs one search on `path` and reports whether record `id` is in the answer. */
static bool finds(const char *path, const char *subject_json, const char *id, size_t *count) {
  fb_sqlite_db *db;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open(path, &db, &err), 0);
  json_t *subject = json_loads(subject_json, 0, NULL);
  assert_non_null(subject);
  json_t *res = fb_sqlite_db_search(db, subject, 0, &err);
  assert_non_null(res);
  bool found = false;
  size_t i;
  json_t *r;
  json_array_foreach(res, i, r) {
    assert_int_equal(fb_record_validate(r, NULL), 0);
    if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0) found = true;
  }
  if (count) *count = json_array_size(res);
  json_decref(res);
  json_decref(subject);
  fb_sqlite_db_close(db);
  return found;
}

static void test_name_search_tolerates_variants_and_order(void **state) {
  (void)state;
  assert_true(finds(path_mys, "{\"name\":\"Ahmad bin Ismail\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_mys, "{\"name\":\"Ismail Ahmad\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_mys, "{\"name\":\"AHMED B. ISMAEL\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_mys, "{\"name\":\"Mat Sinar\"}", "MYS-P-000001", NULL)); /* alias */
  /* BGD holds "Mohammad Rafiqul Islam" */
  assert_true(finds(path_bgd, "{\"name\":\"Muhammad Rafikul Islam\"}", "BGD-P-000002", NULL));
  assert_false(finds(path_mys, "{\"name\":\"Zzyzx Qwerty\"}", "MYS-P-000001", NULL));
}

static void test_name_search_across_scripts(void **state) {
  (void)state;
  /* Thai, Bengali and Arabic-script spellings find the Latin-script record */
  assert_true(finds(path_mys, "{\"name\":\"\u0e2d\u0e32\u0e2b\u0e21\u0e31\u0e14 \u0e1a\u0e34\u0e19 "
                              "\u0e2d\u0e34\u0e2a\u0e21\u0e32\u0e2d\u0e34\u0e25\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_mys, "{\"name\":\"\u0986\u09b9\u09ae\u09a6 \u09ac\u09bf\u09a8 "
                              "\u0987\u09b8\u09ae\u09be\u0987\u09b2\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_mys, "{\"name\":\"\u0623\u062d\u0645\u062f \u0628\u0646 "
                              "\u0625\u0633\u0645\u0627\u0639\u064a\u0644\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_bgd, "{\"name\":\"\u09ae\u09cb\u09b9\u09be\u09ae\u09cd\u09ae\u09a6 "
                              "\u09b0\u09ab\u09bf\u0995\u09c1\u09b2 \u0987\u09b8\u09b2\u09be\u09ae\"}",
                    "BGD-P-000002", NULL));
  /* a full-width Latin query is the same query */
  assert_true(finds(path_mys, "{\"name\":\"\uff21\uff48\uff4d\uff41\uff44 \uff49\uff53\uff4d\uff41\uff49\uff4c\"}",
                    "MYS-P-000001", NULL));
}

/* A Latin query finds records the demo data holds in another script (truth.json
 * names them), and their own script finds them too. */
static void test_latin_query_finds_native_records(void **state) {
  (void)state;
  char p[200];
  snprintf(p, sizeof p, "%s/truth.json", dir);
  json_t *truth = json_load_file(p, 0, NULL);
  assert_non_null(truth);
  size_t i, j, checked = 0;
  json_t *person, *id;
  json_array_foreach(json_object_get(truth, "people"), i, person) {
    json_array_foreach(json_object_get(person, "native_records"), j, id) {
      const char *rid = json_string_value(id);
      char path[200], subject[512];
      snprintf(path, sizeof path, "%s/%.3s.db", dir, rid);
      json_t *latin = json_pack("{s:s, s:s}", "name", json_string_value(json_object_get(person, "name")), "dob",
                                json_string_value(json_object_get(person, "dob")));
      char *text = json_dumps(latin, JSON_COMPACT);
      snprintf(subject, sizeof subject, "%s", text);
      free(text);
      json_decref(latin);
      if (!finds(path, subject, rid, NULL)) fail_msg("%s: %s does not find %s", path, subject, rid);
      checked++;
    }
    if (checked >= 20) break;
  }
  assert_true(checked >= 20);
  json_decref(truth);
}

static void test_dob_rejects_name_only_hits(void **state) {
  (void)state;
  assert_true(finds(path_mys, "{\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985\"}", "MYS-P-000001", NULL));
  assert_false(finds(path_mys, "{\"name\":\"Ahmad bin Ismail\",\"dob\":\"1990-01-01\"}", "MYS-P-000001", NULL));
  /* an exact key still finds it whatever the dob */
  assert_true(finds(path_mys, "{\"document\":\"A12345678\",\"dob\":\"1990\"}", "MYS-P-000001", NULL));
}

static void test_exact_keys(void **state) {
  (void)state;
  assert_true(finds(path_mys, "{\"document\":\"a1234-5678\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_mys, "{\"phone\":\"+60 12-345 6789\"}", "MYS-P-000001", NULL));
  assert_true(finds(path_mys, "{\"vessel\":\"KM Sinar Laut\"}", "MYS-V-000001", NULL));
  assert_true(finds(path_mys, "{\"vessel\":\"KM Sinar Laut\"}", "MYS-P-000001", NULL)); /* on board */
  assert_true(finds(path_mys, "{\"vessel\":\"IMO 9123453\"}", "MYS-V-000001", NULL));
  assert_false(finds(path_mys, "{\"document\":\"Z99999999\"}", "MYS-P-000001", NULL));
  size_t n = 99;
  assert_false(finds(path_mys, "{\"dob\":\"1985\"}", "MYS-P-000001", &n)); /* nothing searchable */
  assert_int_equal(n, 0);
}

static void test_limit(void **state) {
  (void)state;
  fb_sqlite_db *db;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open(path_bgd, &db, &err), 0);
  json_t *subject = json_pack("{s:s}", "name", "Mohammad Islam");
  json_t *res = fb_sqlite_db_search(db, subject, 3, &err);
  assert_non_null(res);
  assert_int_equal(json_array_size(res), 3);
  json_decref(res);
  json_decref(subject);
  fb_sqlite_db_close(db);
}

static void test_open_errors(void **state) {
  (void)state;
  fb_sqlite_db *db = (fb_sqlite_db *)1;
  char *err = NULL;
  assert_int_equal(fb_sqlite_db_open("/nonexistent/x.db", &db, &err), -1);
  assert_null(db);
  assert_non_null(strstr(err, "cannot open /nonexistent/x.db"));
  free(err);
  char p[160];
  snprintf(p, sizeof p, "%s/not-a-db", dir);
  FILE *f = fopen(p, "w");
  fputs("hello, this is not sqlite at all, but long enough to look like a header........", f);
  fclose(f);
  assert_int_equal(fb_sqlite_db_open(p, &db, &err), -1);
  assert_non_null(strstr(err, "is not a fedbroker records database"));
  free(err);
  unlink(p);
}

/* ---- the async adapter ---- */


static void test_adapter_legs(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "MYS", .adapter = "sqlite", .path = path_mys};
  fb_adapter *a = NULL;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  assert_string_equal(fb_adapter_kind(a), "sqlite");
  json_t *subject = json_pack("{s:s}", "document", "A12345678");
  fb_leg_request req = {.query_id = "q-1", .subject = subject, .purpose = "investigation",
                        .priority = "urgent", .legal_basis = "mla_treaty", .limit = 10};
  outcome o1 = {0}, o2 = {0};
  fb_leg *l1, *l2;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o1, &l1), 0);
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o2, &l2), 0);
  fb_adapter_cancel(l2); /* never called back */
  json_decref(subject);  /* the adapter copied what it needs */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(o1.calls, 1);
  assert_int_equal(o1.status, 0);
  assert_int_equal(json_array_size(o1.records), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(o1.records, 0), "id")), "MYS-P-000001");
  json_decref(o1.records);
  assert_int_equal(o2.calls, 0);

  /* close with a leg in flight: no callback, closed runs once */
  subject = json_pack("{s:s}", "name", "Ahmad bin Ismail");
  req.subject = subject;
  outcome o3 = {0};
  fb_leg *l3;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &o3, &l3), 0);
  json_decref(subject);
  int closed = 0;
  fb_adapter_close(a, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(o3.calls, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A leg's outcome either way: `cb` fills `plain` (errors, or records to a caller that
 * takes no sets), `compact_done` the set. */
typedef struct {
  outcome plain; /* first: done_cb reads `data` as an outcome */
  int sets;
  fb_crecs *set;
} either_outcome;

static void compact_cb(void *data, fb_crecs *set) {
  either_outcome *o = data;
  o->sets++;
  o->set = set;
}

/* A caller that takes compact sets gets one (made from the stored texts as they are),
 * holding the records the jansson leg gives, in order. */
static void test_adapter_compact_legs(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_state_config cfg = {.code = "BGD", .adapter = "sqlite", .path = path_bgd};
  fb_adapter *a = NULL;
  char *err = NULL;
  assert_int_equal(fb_adapter_open(&loop, &cfg, &a, &err), 0);
  json_t *subject = json_pack("{s:s}", "name", "Mohammad Islam");
  fb_leg_request req = {.query_id = "q-1", .subject = subject, .purpose = "investigation",
                        .priority = "urgent", .legal_basis = "mla_treaty", .limit = 10};
  either_outcome j = {0}, c = {0};
  fb_leg *l1, *l2;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &j, &l1), 0);
  req.compact_done = compact_cb;
  assert_int_equal(fb_adapter_start(a, &req, done_cb, &c, &l2), 0);
  json_decref(subject);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(j.plain.calls, 1);
  assert_int_equal(j.sets, 0);
  assert_int_equal(c.plain.calls, 0);
  assert_int_equal(c.sets, 1);
  assert_true(json_array_size(j.plain.records) >= 3);
  json_t *from_set = fb_crecs_records_json(c.set);
  assert_true(json_equal(from_set, j.plain.records));
  assert_true(c.set->fast); /* the stored texts were taken as they are */
  json_decref(from_set);
  json_decref(j.plain.records);
  fb_crecs_free(c.set);
  fb_adapter_close(a, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_adapter_open_errors(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_adapter *a = NULL;
  char *err = NULL;
  fb_state_config missing = {.code = "MYS", .adapter = "sqlite", .path = "/nonexistent/MYS.db"};
  assert_int_equal(fb_adapter_open(&loop, &missing, &a, &err), -1);
  assert_non_null(strstr(err, "cannot open /nonexistent/MYS.db"));
  free(err);
  fb_state_config nopath = {.code = "MYS", .adapter = "sqlite"};
  assert_int_equal(fb_adapter_open(&loop, &nopath, &a, &err), -1);
  assert_string_equal(err, "state MYS: adapter sqlite needs `path`");
  free(err);
  fb_state_config pg = {.code = "BGD", .adapter = "broker", .url = "https://x"};
  assert_int_equal(fb_adapter_open(&loop, &pg, &a, &err), -1);
  assert_string_equal(err, "state BGD: adapter broker needs `token_file`");
  free(err);
  fb_state_config odd = {.code = "THA", .adapter = "carrier-pigeon"};
  assert_int_equal(fb_adapter_open(&loop, &odd, &a, &err), -1);
  assert_string_equal(err, "adapter kind 'carrier-pigeon' is unknown");
  free(err);
  assert_null(a);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_name_search_tolerates_variants_and_order),
      cmocka_unit_test(test_name_search_across_scripts),
      cmocka_unit_test(test_latin_query_finds_native_records),
      cmocka_unit_test(test_dob_rejects_name_only_hits),
      cmocka_unit_test(test_exact_keys),
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_adapter_legs),
      cmocka_unit_test(test_adapter_compact_legs),
      cmocka_unit_test(test_adapter_open_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
