/* Internal: matching a rule's request conditions against a query, shared by the
 * admission decision (decide.c) and the record plan (redact.c). */
#ifndef FB_POLICY_MATCH_H
#define FB_POLICY_MATCH_H

#include "core/util.h"
#include "policy/rules.h"

/* The query's closed-vocabulary fields as bits, once per decision: q->bits when they
 * were read from this query, else computed (policy/policy.h fb_query_bits). */
typedef fb_query_bits qbits;
void fb_qbits_init(qbits *b, const fb_query *q);

/* Per policy and query: the read-only request view for `when`, built on first use
 * and left on the policy's Lua stack until fb_when_ctx_end. The first `when` takes
 * the policy's Lua lock (rules.h lua_mu) and fb_when_ctx_end lets go of it: decisions
 * on several workers share the one Lua state of a policy, one at a time; a decision
 * without `when` takes no lock at all. */
typedef struct {
  const fb_query *q;
  int view; /* stack index, 0 until built */
  int top;
  bool locked; /* this context holds the policy's lua_mu */
} when_ctx;
void fb_when_ctx_end(fb_policy *p, when_ctx *w);

/* 1 match, 0 no match, -1 a `when` failed (*err malloc'd). With `why`, appends the
 * legal officer's explanation ("purpose is prosecution; ..."). */
int fb_cond_match(fb_policy *p, const rule *r, const cond *k, const qbits *b, when_ctx *w,
                  fb_buf *why, char **err);

#endif
