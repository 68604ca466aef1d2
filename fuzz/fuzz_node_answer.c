/* A national node's answer as the http adapter judges it ({"records": [...]}, each
 * record schema-checked by fb_record_validate), then merged with itself under two
 * state codes, as the search engine merges the states' records, and written as the
 * answer is written.
 *
 * The record path is also checked against jansson on every input: the parse
 * (core/jsonr.h) must give json_loadb's value, or json_loadb's error at the same
 * position, and the writer (core/jsonw.h) json_dump_callback's bytes. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/jsonr.h"
#include "core/jsonw.h"
#include "core/util.h"
#include "records/record.h"
#include "search/merge.h"

static int dump_cb(const char *data, size_t len, void *b) {
  fb_buf_append(b, data, len);
  return 0;
}

/* Our text of `v` must be jansson's, or both must fail. */
static void same_text(json_t *v) {
  fb_buf a = {0}, b = {0};
  int ra = json_dump_callback(v, dump_cb, &a, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(FB_JSONW_PRECISION));
  int rb = fb_jsonw_dump(&b, v, FB_JSONW_PRECISION);
  if (ra != rb || (ra == 0 && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))) abort();
  fb_buf_free(&a);
  fb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  json_error_t ea, eb;
  json_t *old = json_loadb((const char *)data, len, 0, &ea);
  json_t *body = fb_jsonr_loadb((const char *)data, len, &eb);
  if ((old == NULL) != (body == NULL)) abort();
  if (!body) {
    if (strcmp(ea.text, eb.text) != 0 || ea.position != eb.position) abort();
    return 0;
  }
  if (!json_equal(old, body)) abort();
  json_decref(old);
  same_text(body);
  json_t *recs = json_object_get(body, "records");
  if (json_is_object(body) && json_is_array(recs)) {
    size_t i;
    json_t *r;
    int ok = 1;
    json_array_foreach(recs, i, r) {
      char *why = NULL;
      if (fb_record_validate(r, &why) != 0) {
        if (!why || !why[0]) abort(); /* a refusal says why */
        free(why);
        ok = 0;
        break;
      }
      if (why) abort(); /* a valid record allocates nothing */
    }
    if (ok) {
      json_t *per_state = json_pack("{s:O, s:O}", "MYS", recs, "THA", recs);
      json_t *merged = fb_merge(per_state);
      if (!json_is_array(merged)) abort();
      same_text(merged);
      json_decref(merged);
      json_decref(per_state);
    }
  }
  json_decref(body);
  return 0;
}
