#include "cli/options.h"

#include <string.h>

#include "cli/command.h"

void fb_opt_begin(void) {
  opterr = 0;
  optind = 0; /* 0, not 1: GNU getopt then also forgets a half-read "-abc" group */
}

int fb_opt_error(const char *usage, const char *cmd, int c, char **argv) {
  /* GNU getopt_long has just stepped past the argument it was reading, argv[optind - 1].
   * A value is missing only at the end of argv, so that argument is the option itself;
   * an unknown short option is in optopt, an unknown long one leaves optopt 0. */
  const char *arg = argv[optind - 1];
  if (c == ':') {
    if (strncmp(arg, "--", 2) == 0) return fb_usage_error(usage, "%s: %s needs a value", cmd, arg);
    return fb_usage_error(usage, "%s: -%c needs a value", cmd, optopt);
  }
  if (optopt) return fb_usage_error(usage, "%s: unknown option '-%c'", cmd, optopt);
  return fb_usage_error(usage, "%s: unknown option '%s'", cmd, arg);
}
