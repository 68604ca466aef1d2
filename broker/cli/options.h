/* Option parsing for the sub-commands: getopt_long (GNU), with one wording for the two
 * errors every command shares. The pattern:
 *
 *   static const struct option opts[] = {{"data", required_argument, 0, OPT_DATA}, ...,
 *                                        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
 *   fb_opt_begin();
 *   while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1)
 *     switch (c) { ...; case 'h': fputs(usage, stdout); return 0;
 *                  default: return fb_opt_error(usage, "node", c, argv); }
 *
 * argv[0] is the sub-command's name. The optstring starts with ':' so that a missing
 * value is told apart from an unknown option; a leading '-' before it ("-:h") keeps
 * positional arguments in place, for commands where their order matters. */
#ifndef FB_CLI_OPTIONS_H
#define FB_CLI_OPTIONS_H

#include <getopt.h>

/* Resets getopt_long's state (each command parses its own argv) and silences its own
 * messages: fb_opt_error prints ours. */
void fb_opt_begin(void);

/* The usage error (exit status 2) for what getopt_long returned as ':' (an option
 * without its value: "node: --data needs a value") or '?' (an unknown or ambiguous
 * option: "node: unknown option '--bogus'"). */
int fb_opt_error(const char *usage, const char *cmd, int c, char **argv);

#endif
