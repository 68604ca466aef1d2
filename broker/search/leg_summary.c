/* A state's summary (leg_summary.h): the members of each outcome, once, for both
 * forms. */
#include "search/leg_summary.h"

#include <math.h>
#include <string.h>

#include "core/jsonw.h"

const char *fb_leg_outcome_name(fb_leg_outcome o) {
  return o == FB_LEG_OUT_PENDING || o >= FB_LEG_OUT_COUNT ? "pending" : fb_outcomes[o - 1];
}

/* The members an outcome shows, in the order they are written. */
enum {
  M_RECORDS = 1 << 0,
  M_REDACTED = 1 << 1,
  M_LATENCY = 1 << 2,
  M_RULE = 1 << 3,
  M_REASON = 1 << 4,
  M_BY = 1 << 5,
  M_CONTACT = 1 << 6,
  M_HIT_REF = 1 << 7,
  M_REVIEW = 1 << 8,
};

static unsigned members_of(fb_leg_outcome o) {
  switch (o) {
  case FB_LEG_OUT_SHARED: return M_RECORDS | M_REDACTED | M_LATENCY | M_RULE | M_REVIEW;
  case FB_LEG_OUT_HIT_ONLY: return M_RECORDS | M_LATENCY | M_RULE | M_REASON | M_CONTACT | M_HIT_REF | M_REVIEW;
  case FB_LEG_OUT_DENIED: return M_RULE | M_REASON | M_CONTACT;
  case FB_LEG_OUT_WITHHELD: return M_RULE | M_REASON | M_BY;
  case FB_LEG_OUT_TIMEOUT:
  case FB_LEG_OUT_ERROR: return M_LATENCY | M_REASON | M_CONTACT;
  case FB_LEG_OUT_UNAVAILABLE: return M_REASON | M_CONTACT;
  default: return 0;
  }
}

json_t *fb_leg_summary_json(const fb_leg_summary *s) {
  json_t *o = json_pack("{s:s, s:s}", "state", s->state, "outcome", fb_leg_outcome_name(s->outcome));
  if (!o) return NULL;
  unsigned m = members_of(s->outcome);
  if (m & M_RECORDS) json_object_set_new(o, "records", json_integer((json_int_t)s->records));
  if (m & M_REDACTED) json_object_set_new(o, "redacted", json_integer((json_int_t)s->redacted));
  if (m & M_LATENCY) json_object_set_new(o, "latency_ms", json_real(s->latency_ms));
  if (m & M_RULE) json_object_set_new(o, "rule", json_string(s->rule));
  if (m & M_REASON) json_object_set_new(o, "reason", json_string(s->reason));
  if (m & M_BY) json_object_set_new(o, "by", json_string(s->by));
  if (m & M_CONTACT) json_object_set_new(o, "contact", s->contact ? json_incref(s->contact) : json_null());
  if ((m & M_HIT_REF) && s->hit_ref && s->hit_ref[0]) json_object_set_new(o, "hit_ref", json_string(s->hit_ref));
  if ((m & M_REVIEW) && s->review) json_object_set_new(o, "review", json_true());
  return o;
}

/* `member` is ,"key": — then the string; or nothing, as json_object_set_new does with
 * json_string's NULL. (Written under the hub lock: no printf.) */
static void put_string(fb_buf *b, const char *member, const char *v) {
  if (!v) return;
  size_t mark = b->len;
  fb_buf_puts(b, member);
  if (fb_jsonw_string(b, v, strlen(v)) != 0) {
    b->len = mark;
    if (b->data) b->data[mark] = '\0';
  }
}

/* `member` then the count in decimal. */
static void put_count(fb_buf *b, const char *member, size_t n) {
  char digits[24];
  size_t i = sizeof digits;
  do digits[--i] = (char)('0' + n % 10);
  while ((n /= 10) != 0);
  fb_buf_puts(b, member);
  fb_buf_append(b, digits + i, sizeof digits - i);
}

int fb_leg_summary_write(fb_buf *b, const fb_leg_summary *s, int precision) {
  size_t mark = b->len;
  fb_buf_puts(b, "{\"state\":");
  if (!s->state || fb_jsonw_string(b, s->state, strlen(s->state)) != 0) goto fail;
  fb_buf_puts(b, ",\"outcome\":\"");
  fb_buf_puts(b, fb_leg_outcome_name(s->outcome)); /* names of the vocabulary: nothing to escape */
  fb_buf_putc(b, '"');
  unsigned m = members_of(s->outcome);
  if (m & M_RECORDS) put_count(b, ",\"records\":", s->records);
  if (m & M_REDACTED) put_count(b, ",\"redacted\":", s->redacted);
  if ((m & M_LATENCY) && isfinite(s->latency_ms)) {
    fb_buf_puts(b, ",\"latency_ms\":");
    fb_jsonw_real(b, s->latency_ms, precision);
  }
  if (m & M_RULE) put_string(b, ",\"rule\":", s->rule);
  if (m & M_REASON) put_string(b, ",\"reason\":", s->reason);
  if (m & M_BY) put_string(b, ",\"by\":", s->by);
  if (m & M_CONTACT) {
    fb_buf_puts(b, ",\"contact\":");
    if (!s->contact) fb_buf_puts(b, "null");
    else if (fb_jsonw_value(b, s->contact, precision) != 0) goto fail;
  }
  if ((m & M_HIT_REF) && s->hit_ref && s->hit_ref[0]) put_string(b, ",\"hit_ref\":", s->hit_ref);
  if ((m & M_REVIEW) && s->review) fb_buf_puts(b, ",\"review\":true");
  fb_buf_putc(b, '}');
  return 0;
fail:
  b->len = mark;
  if (b->data) b->data[mark] = '\0';
  return -1;
}
