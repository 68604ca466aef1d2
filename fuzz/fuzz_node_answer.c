/* A national node's answer as the http adapter judges it ({"records": [...]}, each
 * record schema-checked by fb_record_validate), then merged with itself under two
 * state codes, as the search engine merges the states' records. */
#include <stdlib.h>

#include "common.h"
#include "records/record.h"
#include "search/merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  json_t *body = json_loadb((const char *)data, len, 0, NULL);
  if (!body) return 0;
  json_t *recs = json_object_get(body, "records");
  if (json_is_object(body) && json_is_array(recs)) {
    size_t i;
    json_t *r;
    int ok = 1;
    json_array_foreach(recs, i, r) {
      char why[200] = "";
      if (fb_record_validate(r, why, sizeof why) != 0) {
        if (!why[0]) abort(); /* a refusal says why */
        ok = 0;
        break;
      }
    }
    if (ok) {
      json_t *per_state = json_pack("{s:O, s:O}", "MYS", recs, "THA", recs);
      json_t *merged = fb_merge(per_state);
      if (!json_is_array(merged)) abort();
      json_decref(merged);
      json_decref(per_state);
    }
  }
  json_decref(body);
  return 0;
}
