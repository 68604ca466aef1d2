/* A national node's answer as the http adapter judges it ({"records": [...]}, each
 * record schema-checked by fb_record_validate), then merged with itself under two
 * state codes, as the search engine merges the states' records, and written as the
 * answer is written.
 *
 * The record path is also checked against jansson on every input: the parse
 * (core/jsonr.h) must give json_loadb's value, or json_loadb's error at the same
 * position, and the writer (core/jsonw.h) json_dump_callback's bytes. The compact
 * records (core/crec.h) too: the same value or error, jsonw's text of the value, the
 * schema check's sentence, and the merge written from them (fb_merge_sources). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/error.h"
#include "core/crec.h"
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

/* The compact set of the same text says what jansson's value says. */
static void same_compact(const uint8_t *data, size_t len, json_t *v, const json_error_t *ev) {
  char *text = fb_xmalloc(len + 1);
  memcpy(text, data, len);
  text[len] = '\0';
  json_error_t ec;
  fb_crecs *s = fb_crecs_load(text, len, &ec);
  if ((s == NULL) != (v == NULL)) abort();
  if (!s) {
    if (strcmp(ev->text, ec.text) != 0 || ev->position != ec.position) abort();
    return;
  }
  fb_buf a = {0}, b = {0};
  if (fb_jsonw_dump(&a, v, FB_JSONW_PRECISION) != 0) abort();
  fb_crec_put_span(&b, s, 0, (uint32_t)s->len, true, FB_JSONW_PRECISION);
  if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) abort();
  fb_buf_free(&a);
  fb_buf_free(&b);
  json_t *recs = json_object_get(v, "records");
  if (s->has_records != (json_is_object(v) && json_is_array(recs))) abort();
  char *why = NULL;
  int rc = fb_crecs_judge(s, &why);
  int want = 0;
  char *want_why = NULL;
  size_t i;
  json_t *r;
  if (!s->has_records) want = fb_set_error(&want_why, "answer from node has no \"records\" array");
  else json_array_foreach(recs, i, r) if (fb_record_validate(r, &want_why) != 0) {
      fb_prefix_error(&want_why, "record %zu: ", i);
      want = -1;
      break;
    }
  if (rc != want || (rc && strcmp(why, want_why) != 0)) abort();
  free(why);
  free(want_why);
  if (rc == 0) { /* merged with itself: the written answer is the merged value's text */
    fb_merge_source src[2] = {{.state = "MYS", .set = s}, {.state = "THA", .set = s}};
    fb_merged *m = fb_merge_sources(src, 2);
    json_t *per_state = json_pack("{s:O, s:O}", "MYS", recs, "THA", recs);
    json_t *merged = fb_merge(per_state);
    fb_buf want_text = {0}, got = {0};
    if (fb_jsonw_dump(&want_text, merged, FB_JSONW_PRECISION) != 0 || fb_merged_write(&got, m, FB_JSONW_PRECISION) != 0 ||
        want_text.len != got.len || memcmp(want_text.data, got.data, got.len) != 0)
      abort();
    fb_buf_free(&want_text);
    fb_buf_free(&got);
    json_decref(merged);
    json_decref(per_state);
    fb_merged_free(m);
  }
  fb_crecs_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  json_error_t ea, eb;
  json_t *old = json_loadb((const char *)data, len, 0, &ea);
  json_t *body = fb_jsonr_loadb((const char *)data, len, &eb);
  if ((old == NULL) != (body == NULL)) abort();
  same_compact(data, len, old, &ea);
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
