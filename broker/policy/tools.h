/* The policy tools behind `fedbroker policy test|check|eval` (POLICY.md), kept in the
 * module so that they are unit-testable and the CLI stays thin. They print to the
 * given stream; nothing here is used by the hub at run time. */
#ifndef FB_POLICY_TOOLS_H
#define FB_POLICY_TOOLS_H

#include <stdbool.h>
#include <stdio.h>

#include "policy/policy.h"

/* Opens a store with every policy file found in `dir` (common.lua and <STATE>.lua),
 * keyed with the fixed test key for `hash`. NULL with *err on a load failure. */
fb_policy_store *fb_policy_store_open_dir(const char *dir, char **err);

/* Runs every DIR/tests/NAME_test.lua against the policies in DIR. Prints each failing
 * case with what differed to `out`, then the line "N passed, N failed". Returns 0
 * when every case passed, 1 when any failed or could not run. */
int fb_policy_run_tests(const char *dir, FILE *out, int *passed, int *failed);

typedef struct {
  bool verbose;        /* also print "PASS file:line: name" for every passing case */
  const char *junit;   /* path of a JUnit XML report to write, or NULL */
} fb_policy_test_opts;
/* fb_policy_run_tests with options; `opts` may be NULL. Returns 0, or 1 when a case
 * failed or could not run or the JUnit report cannot be written. */
int fb_policy_run_tests_ex(const char *dir, FILE *out, const fb_policy_test_opts *opts,
                           int *passed, int *failed);

/* Validates one policy file: syntax, unknown keys and values, unreachable rules.
 * Prints each problem as "file:line: message" to `out`. Returns the number of
 * problems (0: the file is fine). */
int fb_policy_check_file(const char *path, FILE *out);

/* Fills the request fields of `q` from a search request body (borrowed strings). */
int fb_query_from_json(json_t *body, fb_query *q);

#endif
