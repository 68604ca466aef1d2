/* Running the hub from a loaded configuration: `serve` reads it from a file, `demo`
 * builds it in memory; both then hand it here. */
#ifndef FB_CLI_SERVE_H
#define FB_CLI_SERVE_H

#include "config/config.h"

/* Applies the FEDBROKER_* environment overrides and runs the hub until it is stopped.
 * Returns the process exit status. */
int fb_serve_config(fb_config *cfg); /* cmd_serve.c */

#endif
