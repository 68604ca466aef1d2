/* Search + merge on the demo data: the well-known subjects come out as one entity
 * per real person, holding every state's record (docs/adapters.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "demo/demo_data.h"
#include "records/sqlite_db.h"
#include "search/merge.h"
#include "unit_common.h"

static char dir[] = "/tmp/fb_merge_demo_XXXXXX";

static int setup(void **state) {
  (void)state;
  return fb_test_demo_data_dir(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return fb_test_rm_rf(dir) ? 0 : -1;
}

static json_t *search_all(const char *subject_json) {
  json_t *subject = json_loads(subject_json, 0, NULL);
  json_t *per_state = json_object();
  for (int i = 0; i < 4; i++) {
    char p[160], *err = NULL;
    snprintf(p, sizeof p, "%s/%s.db", dir, fb_demo_states[i]);
    fb_sqlite_db *db;
    assert_int_equal(fb_sqlite_db_open(p, &db, &err), 0);
    json_t *res = fb_sqlite_db_search(db, subject, 50, &err);
    assert_non_null(res);
    json_object_set_new(per_state, fb_demo_states[i], res);
    fb_sqlite_db_close(db);
  }
  json_decref(subject);
  json_t *out = fb_merge(per_state);
  json_decref(per_state);
  return out;
}

/* The entity holding record `id`. */
static json_t *entity_of(json_t *results, const char *id) {
  size_t i, j;
  json_t *e, *r;
  json_array_foreach(results, i, e) {
    json_array_foreach(json_object_get(e, "records"), j, r) {
      if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0) return e;
    }
  }
  return NULL;
}

static void test_ahmad_is_one_entity_in_four_states(void **state) {
  (void)state;
  json_t *res = search_all("{\"name\":\"Ahmad bin Ismail\",\"dob\":\"1985-03-12\"}");
  json_t *e = entity_of(res, "MYS-P-000001");
  assert_non_null(e);
  assert_true(e == json_array_get(res, 0)); /* the best-corroborated entity comes first */
  json_t *recs = json_object_get(e, "records");
  assert_int_equal(json_array_size(recs), 4);
  static const char *const states[] = {"BGD", "IDN", "MYS", "THA"};
  for (size_t i = 0; i < 4; i++)
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, i), "state")), states[i]);
  assert_true(json_real_value(json_object_get(e, "score")) >= 0.9);
  json_decref(res);
}

static void test_vessel_is_one_entity(void **state) {
  (void)state;
  json_t *res = search_all("{\"vessel\":\"KM Sinar Laut\"}");
  json_t *e = entity_of(res, "IDN-V-000001");
  assert_non_null(e);
  size_t i;
  json_t *r;
  size_t vessels = 0;
  json_array_foreach(json_object_get(e, "records"), i, r) {
    assert_string_equal(json_string_value(json_object_get(r, "type")), "vessel");
    vessels++;
  }
  assert_int_equal(vessels, 4);
  /* the people on board are a separate entity */
  assert_true(entity_of(res, "MYS-P-000001") != e);
  json_decref(res);
}

static void test_rafiqul_across_transliterations(void **state) {
  (void)state;
  json_t *res = search_all("{\"name\":\"Mohammad Rafiqul Islam\"}");
  json_t *e = entity_of(res, "BGD-P-000002");
  assert_non_null(e);
  assert_int_equal(json_array_size(json_object_get(e, "records")), 3); /* BGD, MYS, THA */
  json_decref(res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ahmad_is_one_entity_in_four_states),
      cmocka_unit_test(test_vessel_is_one_entity),
      cmocka_unit_test(test_rafiqul_across_transliterations),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
