/* The config loader: the input is a hub.lua (run in the Lua sandbox, then every key
 * checked, the states' own keys by their adapter kinds). Environment overrides are not
 * applied. */
#include <stdlib.h>

#include "adapters/adapter.h"
#include "common.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  fb_config cfg;
  char *err = NULL;
  if (fb_config_load_string((const char *)data, len, "/etc/fedbroker/hub.lua", &cfg, &err) == 0) {
    if (fb_adapters_configure(&cfg, &err) != 0) {
      if (!err) abort();
      free(err);
    }
    fb_config_free(&cfg);
  } else {
    if (!err) abort(); /* a config that does not load says why */
    free(err);
  }
  return 0;
}
