/* The sandbox's limits: each of the ways a script could hold a thread for seconds
 * (issue 9: a backtracking pattern, a loop of string.rep within few instructions, the
 * same at the top of a file, slow C calls, `..`) is stopped within its budget, and
 * ordinary work still runs. Bounds are generous for the ASan build on a busy machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/util.h"
#include "lua/sandbox.h"

#define MEM (16u << 20)
#define BOUND_MS 1000.0 /* every runaway below must be stopped well within this */

/* Runs `src` with the given budgets; returns the error (malloc'd) or NULL, and the
 * wall time taken in *ms. */
static char *run(const char *src, long instr, long time_ms, double *ms) {
  fb_sandbox *sb = fb_sandbox_new(MEM);
  assert_non_null(sb);
  fb_sandbox_set_time_budget(sb, time_ms);
  char *err = NULL;
  double t0 = fb_now_ms();
  int rc = fb_sandbox_run(sb, src, strlen(src), "=test", instr, &err);
  *ms = fb_now_ms() - t0;
  if (rc == 0) assert_null(err);
  else assert_non_null(err);
  assert_int_equal(rc != 0, fb_sandbox_tripped(sb) || err != NULL);
  fb_sandbox_free(sb);
  return err;
}

static void expect_stopped(const char *src, long instr, long time_ms, const char *needle) {
  double ms;
  char *err = run(src, instr, time_ms, &ms);
  if (!err) fail_msg("not stopped: %s", src);
  if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s' for: %s", err, needle, src);
  if (ms > BOUND_MS) fail_msg("stopped only after %.0f ms: %s", ms, src);
  free(err);
}

static void expect_ok(const char *src) {
  double ms;
  char *err = run(src, 200000, 50, &ms);
  if (err) fail_msg("unexpected error '%s' for: %s", err, src);
}

/* The pattern bomb: 24 optional items backtrack 2^24 times in C. */
static void test_pattern_bomb_refused(void **state) {
  (void)state;
  expect_stopped("return ('a'):rep(24):find(('a?'):rep(24) .. ('a'):rep(24) .. 'b')", 200000, 50,
                 "pattern is too costly");
  expect_stopped("return ('a'):rep(2000):find('.-.-.-b')", 200000, 50, "pattern is too costly");
  expect_stopped("return ('a'):rep(5000):match('(a*)%1%1b')", 200000, 50, "pattern is too costly");
  /* gmatch tries every start position, even with ^ */
  expect_stopped("for x in ('a'):rep(3000):gmatch('^a*a*b') do end", 200000, 50, "pattern is too costly");
  /* a pcall cannot be used to retry forever either: each call is refused up front */
  expect_stopped("while true do pcall(string.find, ('a'):rep(24), ('a?'):rep(24) .. 'b') end", 200000,
                 50, "budget");
}

static void test_pattern_cost_model(void **state) {
  (void)state;
  const double cap = 1e30;
  /* a literal: one try per start position, or one when anchored */
  assert_true(fb_sandbox_pattern_cost("abc", 3, 9, false, cap) == 10 * 3);
  assert_true(fb_sandbox_pattern_cost("^abc", 4, 9, false, cap) == 3);
  assert_true(fb_sandbox_pattern_cost("^abc", 4, 9, true, cap) == 10 * 3);
  /* quantifiers multiply by n+1, `?` by 2; escaped and bracketed ones are literal */
  assert_true(fb_sandbox_pattern_cost("^a*b-c+", 7, 9, false, cap) == 10.0 * 10 * 10 * 3);
  assert_true(fb_sandbox_pattern_cost("^a?b?", 5, 9, false, cap) == 2 * 2 * 2);
  assert_true(fb_sandbox_pattern_cost("^%*%?[*?+-]", 11, 9, false, cap) == 3);
  assert_true(fb_sandbox_pattern_cost("^[]*]*", 6, 9, false, cap) == 10);
  assert_true(fb_sandbox_pattern_cost("^(%a+)", 6, 9, false, cap) == 10);
  /* %f is one position, %b and back-references scan */
  assert_true(fb_sandbox_pattern_cost("^%f[%w]x", 8, 9, false, cap) == 2);
  assert_true(fb_sandbox_pattern_cost("^%b()", 5, 9, false, cap) == 10);
  assert_true(fb_sandbox_pattern_cost("^(a)%1", 6, 9, false, cap) == 20);
  /* malformed patterns end the scan (Lua reports them) */
  assert_true(fb_sandbox_pattern_cost("^a%", 3, 9, false, cap) >= 1);
  assert_true(fb_sandbox_pattern_cost("^[a", 3, 9, false, cap) >= 1);
}

/* The loop: 1 MiB per string.rep in a few instructions, 53 s per search. */
static void test_rep_loop_in_call(void **state) {
  (void)state;
  expect_stopped("for i = 1, 1e9 do local s = string.rep('ab', 524288) end", 200000, 50, "budget");
  expect_stopped("while true do pcall(string.rep, 'ab', 524288) end", 200000, 50, "budget");
}

/* The same loop at the top of a file, under a load's 50M-instruction budget. */
static void test_rep_loop_at_load(void **state) {
  (void)state;
  expect_stopped("for i = 1, 1e9 do local s = string.rep('ab', 524288) end", 50000000, 500, "budget");
}

/* Concatenation is one VM instruction however long its result: the allocator charges it. */
static void test_concat_charged(void **state) {
  (void)state;
  expect_stopped("local s = ('x'):rep(1 << 20) while true do local t = s .. s end", 200000, 10000,
                 "instruction budget");
  expect_stopped("local t = {} for i = 1, 1000 do t[i] = ('x'):rep(1000) end "
                 "while true do local s = table.concat(t) end", 200000, 10000, "instruction budget");
  expect_stopped("local s = ('x'):rep(1 << 20) while true do local t = ('%s%s'):format(s, s) end", 200000,
                 10000, "instruction budget");
  expect_stopped("local s = ('x'):rep(1 << 20) while true do local t = s:gsub('x', 'yy') end", 200000,
                 10000, "instruction budget");
}

/* Work the instruction budget does not see is stopped by the clock. */
static void test_time_budget(void **state) {
  (void)state;
  expect_stopped("while true do end", 1L << 50, 50, "time budget (50 ms)");
  expect_stopped("while true do pcall(function() while true do end end) end", 1L << 50, 50, "time budget");
  /* each insert at the front moves every element in C */
  expect_stopped("local t = {} for i = 1, 200000 do t[i] = i end while true do table.insert(t, 1, 0) end",
                 1L << 50, 100, "time budget");
  expect_stopped("local t = {} for i = 1, 100000 do t[i] = -i end while true do table.sort(t) t[1] = 1e9 end",
                 1L << 50, 100, "time budget");
}

/* C calls are charged for what they scan or move, not one instruction each. */
static void test_c_calls_charged(void **state) {
  (void)state;
  expect_stopped("local s = ('x'):rep(1 << 22) while true do local i = s:find('y', 1, true) end", 200000,
                 10000, "instruction budget");
  expect_stopped("local t = {} for i = 1, 100000 do t[i] = i end table.sort(t)", 200000, 10000,
                 "instruction budget");
}

static void test_ordinary_work_runs(void **state) {
  (void)state;
  expect_ok("assert(('Ahmad bin Ismail'):match('^(%a+)') == 'Ahmad')\n"
            "assert(('Suspected facilitator in Sabah'):find('Sabah', 1, true) == 26)\n"
            "assert(select(2, ('banana'):gsub('a', 'o')) == 3)\n"
            "assert(('x'):rep(3, ',') == 'x,x,x')\n"
            "assert(table.concat({ 'a', 'b' }, '-') == 'a-b')\n"
            "local t = { 3, 1, 2 } table.sort(t) assert(t[1] == 1)\n"
            "assert(('%d-%s'):format(4, 'x') == '4-x')\n"
            "assert(utf8.len('ñ') == 1)\n"
            "local n = 0 for w in ('a b c'):gmatch('%a') do n = n + 1 end assert(n == 3)\n"
            "assert(#('x'):rep(100000) == 100000)\n");
}

static void test_no_finalizers(void **state) {
  (void)state;
  double ms;
  char *err = run("setmetatable({}, { __gc = function() while true do end end })", 200000, 50, &ms);
  assert_non_null(err);
  assert_non_null(strstr(err, "__gc"));
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pattern_bomb_refused), cmocka_unit_test(test_pattern_cost_model),
      cmocka_unit_test(test_rep_loop_in_call),     cmocka_unit_test(test_rep_loop_at_load),
      cmocka_unit_test(test_concat_charged),       cmocka_unit_test(test_time_budget),
      cmocka_unit_test(test_c_calls_charged),      cmocka_unit_test(test_ordinary_work_runs),
      cmocka_unit_test(test_no_finalizers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
