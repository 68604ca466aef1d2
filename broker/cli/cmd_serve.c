/* fedbroker serve --config FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/options.h"
#include "cli/serve.h"
#include "core/log.h"
#include "hub/hub.h"

static const char usage[] =
    "usage: fedbroker serve --config FILE\n"
    "  Runs the hub. Environment overrides: FEDBROKER_LISTEN (host:port[,host:port]),\n"
    "  FEDBROKER_LOG_LEVEL, FEDBROKER_POLICIES, FEDBROKER_AUDIT.\n";

int fb_serve_config(fb_config *cfg) {
  char *err = NULL;
  if (fb_config_apply_env(cfg, &err) != 0) {
    fprintf(stderr, "fedbroker serve: %s\n", err);
    free(err);
    fb_config_free(cfg);
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_hub hub;
  int status;
  if (fb_hub_init(&hub, &loop, cfg, &err) != 0) {
    fb_error("startup_failed", "%s", err);
    fprintf(stderr, "fedbroker serve: %s\n", err);
    free(err);
    fb_hub_stop(&hub);
    uv_run(&loop, UV_RUN_DEFAULT);
    status = 1;
  } else {
    fb_info("ready", "fedbroker serving");
    status = fb_hub_run(&hub);
  }
  fb_hub_free(&hub);
  if (uv_loop_close(&loop) != 0) fb_warn("loop_not_closed", "handles still open at exit");
  return status;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {
      {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *config = NULL;
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': config = optarg; break;
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "serve", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(usage, "serve: unexpected argument '%s'", argv[optind]);
  if (!config) return fb_usage_error(usage, "serve: --config FILE is required");
  fb_config cfg;
  char *err = NULL;
  if (fb_config_load_file(config, &cfg, &err) != 0) {
    fprintf(stderr, "fedbroker serve: %s\n", err);
    free(err);
    return 1;
  }
  return fb_serve_config(&cfg);
}

FB_COMMAND(serve_cmd, "serve", "run the hub with a config file", run)
