/* The requesting state's outbound rules: matched with the same compiled conditions as
 * every other rule (match.h), with the responding state as the extra key `to`. */
#include "policy/outbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "policy/match.h"

/* Bit i of a rule's require_mask. Subject fields are named "subject.<field>". */
const char *const fb_require_fields[] = {"case_ref", "subject.name", "subject.dob",
                                         "subject.document", "subject.nationality",
                                         "subject.phone", "subject.vessel", NULL};

static bool field_present(const fb_query *q, const char *field) {
  if (strcmp(field, "case_ref") == 0) return q->case_ref && q->case_ref[0];
  if (strncmp(field, "subject.", 8) == 0) {
    json_t *v = json_object_get(q->subject, field + 8);
    return v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0);
  }
  return false;
}

int fb_outbound_require(fb_policy *p, const fb_query *q, fb_outbound_missing *missing, char **err) {
  if (!p) return 0;
  qbits b;
  fb_qbits_init(&b, q);
  when_ctx w = {.q = q};
  int rc = 0;
  for (size_t i = 0; i < p->nrules && rc == 0; i++) {
    const rule *r = &p->rules[i];
    if (r->kind != RK_OUTBOUND_REQUIRE) continue;
    int m = fb_cond_match(p, r, &r->c, &b, &w, NULL, err);
    if (m < 0) {
      rc = -1;
      break;
    }
    if (!m) continue;
    for (size_t f = 0; fb_require_fields[f]; f++) {
      if (!(r->require_mask & (1u << f)) || field_present(q, fb_require_fields[f])) continue;
      *missing = (fb_outbound_missing){fb_require_fields[f], r->name, r->reason ? r->reason : r->name};
      rc = 1;
      break;
    }
  }
  fb_when_ctx_end(p, &w);
  return rc;
}

int fb_outbound_decide(fb_policy *p, const fb_query *q0, const char *to_state, fb_decision *out,
                       json_t *trace) {
  if (!p) return 0;
  fb_query q = *q0;
  q.to_state = to_state;
  qbits b;
  fb_qbits_init(&b, &q);
  when_ctx w = {.q = &q};
  fb_buf why = {0};
  int held = 0;
  for (size_t i = 0; i < p->nrules && !held; i++) {
    const rule *r = &p->rules[i];
    if (r->kind != RK_OUTBOUND_DENY) continue;
    char *err = NULL;
    fb_buf_reset(&why);
    int m = fb_cond_match(p, r, &r->c, &b, &w, trace ? &why : NULL, &err);
    if (m < 0) {
      /* Fail closed: a rule of the requester's own that cannot be evaluated sends nothing. */
      memset(out, 0, sizeof *out);
      out->effect = FB_EFFECT_WITHHELD;
      out->rule = "policy_error";
      out->reason = "The requesting state's outbound policy could not be evaluated; nothing is sent.";
      out->by = p->code;
      out->error = err;
      fb_error("policy_error", "%s", err);
      if (trace)
        json_array_append_new(trace, json_pack("{s:s, s:s, s:s, s:b, s:s}", "rule", r->name, "kind",
                                               fb_rule_kind_names[r->kind], "policy", p->code,
                                               "matched", 0, "why", err));
      held = 1;
      break;
    }
    if (trace)
      json_array_append_new(trace, json_pack("{s:s, s:s, s:s, s:b, s:s}", "rule", r->name, "kind",
                                             fb_rule_kind_names[r->kind], "policy", p->code,
                                             "matched", m == 1, "why", why.data ? why.data : ""));
    if (m == 1) {
      memset(out, 0, sizeof *out);
      out->effect = FB_EFFECT_WITHHELD;
      out->rule = r->name;
      out->reason = r->reason ? r->reason : r->name;
      out->by = p->code;
      held = 1;
    }
  }
  fb_buf_free(&why);
  fb_when_ctx_end(p, &w);
  return held;
}

void fb_policy_decide_outbound(fb_policy *common, fb_policy *requester, fb_policy *state,
                               const char *state_code, const fb_query *q, fb_decision *out,
                               json_t *trace) {
  if (fb_outbound_decide(requester, q, state_code, out, trace)) return;
  fb_policy_decide_named(common, state, state_code, q, out, trace);
}
