/* fedbroker serve --config FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
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
  const char *config = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    }
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
    else return fb_usage_error(usage, "serve: unexpected argument '%s'", argv[i]);
  }
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
