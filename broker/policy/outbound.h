/* Outbound rules (FOLLOWUP.md, POLICY.md): the requesting state's own word on what its
 * officers may send. `outbound_require` refuses a request that lacks a field;
 * `outbound_deny` holds a request back from some responding states (outcome
 * `withheld`). Both run before any rule of the responding state, and a requesting
 * state with no policy file, or none of these rules, sends everything. */
#ifndef FB_POLICY_OUTBOUND_H
#define FB_POLICY_OUTBOUND_H

#include <jansson.h>

#include "policy/policy.h"

typedef struct {
  const char *field;   /* "case_ref", "subject.document", ... */
  const char *rule;    /* the rule's name (borrowed from the policy) */
  const char *reason;  /* its reason, else its name */
} fb_outbound_missing;

/* Runs `requester`'s outbound_require rules (NULL: none) in order. 0 when every
 * matching rule's fields are present; 1 with *missing naming the first absent field;
 * -1 when a `when` failed (*err malloc'd): the request must be refused (fail closed). */
int fb_outbound_require(fb_policy *requester, const fb_query *q, fb_outbound_missing *missing,
                        char **err);

/* Runs `requester`'s outbound_deny rules for responding state `to_state`: the first
 * that matches holds the request back. Returns 1 with *out filled (effect WITHHELD,
 * rule, reason, by = the requester's code; a failed `when` withholds with rule
 * policy_error and out->error set), or 0 when the request may go out (*out untouched).
 * `trace` (may be NULL) gets one entry per rule considered. */
int fb_outbound_decide(fb_policy *requester, const fb_query *q, const char *to_state,
                       fb_decision *out, json_t *trace);

/* The whole decision for one responding state: the requester's outbound rules, then
 * common's deny rules and the state's rules (fb_policy_decide_named). */
void fb_policy_decide_outbound(fb_policy *common, fb_policy *requester, fb_policy *state,
                               const char *state_code, const fb_query *q, fb_decision *out,
                               json_t *trace);

#endif
