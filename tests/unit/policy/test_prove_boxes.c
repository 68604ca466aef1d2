/* Region merging: boxes that differ on one axis only become one, to a fixpoint; a
 * full grid is one box; a shape that is not a product stays exact; labels never mix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy/prove_boxes.h"

static void add_point(fb_boxes *b, int x, int y, int z, uint32_t label) {
  uint64_t m[3] = {1ull << x, 1ull << y, 1ull << z};
  fb_boxes_add(b, m, label);
}

static void test_grid_is_one_box(void **st) {
  (void)st;
  fb_boxes b;
  fb_boxes_init(&b, 3);
  for (int x = 0; x < 5; x++)
    for (int y = 0; y < 3; y++)
      for (int z = 0; z < 6; z++) add_point(&b, x, y, z, 7);
  fb_boxes_merge(&b);
  assert_int_equal(b.n, 1);
  assert_int_equal(fb_box(&b, 0)[0], 0x1f);
  assert_int_equal(fb_box(&b, 0)[1], 0x7);
  assert_int_equal(fb_box(&b, 0)[2], 0x3f);
  assert_int_equal(b.label[0], 7);
  fb_boxes_free(&b);
}

static void test_labels_and_shapes(void **st) {
  (void)st;
  fb_boxes b;
  fb_boxes_init(&b, 3);
  /* an L: (0..2, 0) and (0, 1..2), label 1; and (1..2, 1..2) label 2 */
  for (int x = 0; x < 3; x++) add_point(&b, x, 0, 0, 1);
  for (int y = 1; y < 3; y++) add_point(&b, 0, y, 0, 1);
  for (int x = 1; x < 3; x++)
    for (int y = 1; y < 3; y++) add_point(&b, x, y, 0, 2);
  fb_boxes_merge(&b);
  /* label 2 is a square: one box; label 1 is not a product: two boxes covering 5 points */
  int n1 = 0, n2 = 0, points1 = 0;
  for (size_t i = 0; i < b.n; i++) {
    const uint64_t *m = fb_box(&b, i);
    if (b.label[i] == 2) {
      n2++;
      assert_int_equal(m[0], 0x6);
      assert_int_equal(m[1], 0x6);
    } else {
      n1++;
      points1 += __builtin_popcountll(m[0]) * __builtin_popcountll(m[1]) * __builtin_popcountll(m[2]);
      assert_false((m[0] & 0x6) && (m[1] & 0x6)); /* never over label 2's points */
    }
  }
  assert_int_equal(n2, 1);
  assert_int_equal(n1, 2);
  assert_int_equal(points1, 5);
  fb_boxes_free(&b);
}

static void test_empty(void **st) {
  (void)st;
  fb_boxes b;
  fb_boxes_init(&b, 4);
  fb_boxes_merge(&b);
  assert_int_equal(b.n, 0);
  fb_boxes_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_grid_is_one_box), cmocka_unit_test(test_labels_and_shapes),
                                     cmocka_unit_test(test_empty)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
