#include "search/answer.h"

#include <stdint.h>
#include <string.h>

#include "core/jsonw.h"

static int fail(fb_buf *b, size_t mark) {
  b->len = mark;
  if (b->data) b->data[mark] = '\0';
  return -1;
}

int fb_search_answer_write(fb_buf *b, const fb_search_answer *a, int precision) {
  size_t mark = b->len;
  fb_buf_puts(b, "{\"query_id\":");
  if (fb_jsonw_string(b, a->query_id, strlen(a->query_id)) != 0) return fail(b, mark);
  fb_buf_puts(b, a->complete ? ",\"complete\":true,\"states\":" : ",\"complete\":false,\"states\":");
  if (a->states_text) fb_buf_append(b, a->states_text, a->states_len);
  else if (!a->states || fb_jsonw_value(b, a->states, precision) != 0) return fail(b, mark);
  fb_buf_puts(b, ",\"results\":");
  if (fb_merged_write(b, a->results, precision) != 0) return fail(b, mark);
  fb_buf_puts(b, ",\"audit\":{\"seq\":");
  fb_buf_put_uint(b, a->audit_seq);
  fb_buf_puts(b, ",\"hash\":");
  if (fb_jsonw_string(b, a->audit_hash, strlen(a->audit_hash)) != 0) return fail(b, mark);
  fb_buf_puts(b, "}}");
  return 0;
}

int fb_search_result_line(fb_buf *b, const fb_search_answer *a, size_t e) {
  size_t mark = b->len;
  fb_buf_puts(b, "{\"result\":");
  if (fb_merged_write_entity(b, a->results, e, FB_JSONW_PRECISION) != 0) return fail(b, mark);
  fb_buf_puts(b, "}\n");
  return 0;
}
