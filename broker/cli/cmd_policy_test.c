/* `fedbroker policy test [-v] [--junit FILE] DIR`: runs the policy tests (POLICY.md).
 * -v lists every case with PASS or FAIL; --junit writes a JUnit XML report for CI. */
#include <string.h>

#include "cli/command.h"
#include "cli/policy_cmds.h"
#include "policy/tools.h"

int fb_cmd_policy_test(int argc, char **argv) {
  fb_policy_test_opts opts = {0};
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
      opts.verbose = true;
    } else if (strcmp(argv[i], "--junit") == 0) {
      if (i + 1 >= argc) return fb_usage_error(fb_policy_usage, "policy test: --junit needs a file");
      opts.junit = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return fb_usage_error(fb_policy_usage, "policy test: unknown option '%s'", argv[i]);
    } else if (!dir) {
      dir = argv[i];
    } else {
      return fb_usage_error(fb_policy_usage, "policy test: expected one directory");
    }
  }
  if (!dir) return fb_usage_error(fb_policy_usage, "policy test: expected one directory");
  return fb_policy_run_tests_ex(dir, stdout, &opts, NULL, NULL);
}
