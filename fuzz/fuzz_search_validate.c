/* The search body: parsed as the hub parses it (duplicates refused) and validated
 * against a config with four states, as POST /v1/search does. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config/config.h"
#include "search/validate.h"

static fb_config cfg;
static int loaded;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (!loaded) {
    static const char src[] = "listen = { { address = \"127.0.0.1:1\" } }\n"
                              "states = { IDN = { adapter = \"sqlite\", path = \"a.db\" },\n"
                              "  MYS = { adapter = \"sqlite\", path = \"b.db\" },\n"
                              "  THA = { adapter = \"http\", url = \"http://127.0.0.1:1/search\" },\n"
                              "  BGD = { adapter = \"http\", url = \"http://127.0.0.1:1/search\" } }\n";
    char *err = NULL;
    if (fb_config_load_string(src, strlen(src), "/tmp/hub.lua", &cfg, &err) != 0) abort();
    loaded = 1;
  }
  json_error_t jerr;
  json_t *body = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!body) return 0;
  if (json_is_object(body)) {
    static const char *const extra[] = {"as", "records", NULL};
    fb_search_params p;
    fb_validation_error e;
    if (fb_search_validate(body, &cfg, "IDN", extra, &p, &e) == 0) fb_search_params_free(&p);
    else if (!e.code[0] || !e.message[0]) abort(); /* every refusal names its code and says why */
  }
  json_decref(body);
  return 0;
}
