/* `fedbroker policy test [-v] [--junit FILE] DIR`: runs the policy tests (POLICY.md).
 * -v lists every case with PASS or FAIL; --junit writes a JUnit XML report for CI. */
#include <stdio.h>

#include "cli/command.h"
#include "cli/options.h"
#include "cli/policy_cmds.h"
#include "policy/tools.h"

int fb_cmd_policy_test(int argc, char **argv) {
  fb_policy_test_opts opts = {0};
  static const struct option long_opts[] = {{"verbose", no_argument, 0, 'v'},
                                            {"junit", required_argument, 0, 'j'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":hv", long_opts, NULL)) != -1) {
    switch (c) {
    case 'v': opts.verbose = true; break;
    case 'j': opts.junit = optarg; break;
    case 'h': fputs(fb_policy_usage, stdout); return 0;
    default: return fb_opt_error(fb_policy_usage, "policy test", c, argv);
    }
  }
  if (optind != argc - 1) return fb_usage_error(fb_policy_usage, "policy test: expected one directory");
  const char *dir = argv[optind];
  return fb_policy_run_tests_ex(dir, stdout, &opts, NULL, NULL);
}
