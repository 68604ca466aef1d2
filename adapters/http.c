#include "adapters/adapter_impl.h"
static int h_open(uv_loop_t *l, const fb_state_config *c, fb_adapter **o, char **e) {
  (void)l; (void)c; (void)o; *e = fb_adapter_errf("adapter kind 'http' is not implemented in this build"); return -1; }
const fb_adapter_vtable fb_http_adapter_vtable = {.kind = "http", .open = h_open};
