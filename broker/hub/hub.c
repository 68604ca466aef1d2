#include "hub/hub.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

#define SHUTDOWN_GRACE_MS 10000

static void on_signal(uv_signal_t *s, int signum) {
  fb_hub *hub = s->data;
  if (signum == SIGHUP) {
    fb_info("sighup", "reload requested");
    return;
  }
  fb_info("shutdown", "signal %d: stopping (in-flight requests get up to %d ms)", signum, SHUTDOWN_GRACE_MS);
  fb_hub_stop(hub);
}

int fb_hub_init(fb_hub *hub, uv_loop_t *loop, fb_config *cfg, char **err) {
  memset(hub, 0, sizeof *hub);
  hub->loop = loop;
  hub->cfg = *cfg;
  memset(cfg, 0, sizeof *cfg);
  hub->started_ms = fb_wall_ms();
  fb_log_level lvl;
  if (hub->cfg.log_level && fb_log_parse_level(hub->cfg.log_level, &lvl) == 0) fb_log_set_level(lvl);

  uv_signal_init(loop, &hub->sig_term);
  uv_signal_init(loop, &hub->sig_int);
  uv_signal_init(loop, &hub->sig_hup);
  hub->sig_term.data = hub->sig_int.data = hub->sig_hup.data = hub;
  hub->router = fb_router_new();
  fb_hub_routes_health(hub);

  if (hub->cfg.nlisten == 0) {
    *err = fb_xstrdup("no listener configured (set `listen` or FEDBROKER_LISTEN)");
    return -1;
  }
  hub->server = fb_server_start(loop, &hub->cfg, hub->router, err);
  if (!hub->server) return -1;

  uv_signal_start(&hub->sig_term, on_signal, SIGTERM);
  uv_signal_start(&hub->sig_int, on_signal, SIGINT);
  uv_signal_start(&hub->sig_hup, on_signal, SIGHUP);
  return 0;
}

bool fb_hub_ready(const fb_hub *hub) { return !hub->stopping; }

static void on_server_stopped(void *data) {
  fb_hub *hub = data;
  hub->server = NULL;
  uv_close((uv_handle_t *)&hub->sig_term, NULL);
  uv_close((uv_handle_t *)&hub->sig_int, NULL);
  uv_close((uv_handle_t *)&hub->sig_hup, NULL);
}

void fb_hub_stop(fb_hub *hub) {
  if (hub->stopping) return;
  hub->stopping = true;
  if (hub->server) fb_server_stop(hub->server, SHUTDOWN_GRACE_MS, on_server_stopped, hub);
  else on_server_stopped(hub);
}

int fb_hub_run(fb_hub *hub) {
  uv_run(hub->loop, UV_RUN_DEFAULT);
  return hub->exit_status;
}

void fb_hub_free(fb_hub *hub) {
  fb_router_free(hub->router);
  fb_config_free(&hub->cfg);
  fb_metrics_reset();
}
