/* A follow-up's release (FOLLOWUP.md): the addressed state is queried again for the
 * search's subject through its adapter, and its policy is applied to the request as a
 * FORMAL one (fb_query.formal = true). Only a policy `allow` lets records out, redacted
 * by that policy's record rules; hit_only and deny release nothing. Runs on the loop. */
#ifndef FB_SEARCH_FORMAL_H
#define FB_SEARCH_FORMAL_H

#include <jansson.h>

#include "search/engine.h"

struct fb_policy_store;

typedef struct fb_formal_request {
  const char *query_id, *state;             /* the search and the addressed state */
  const char *from_state, *agency;          /* the requester */
  const char *purpose, *priority, *legal_basis, *justification, *case_ref;
  json_t *subject;                          /* borrowed for the call */
} fb_formal_request;

/* `status` 0: `effect` is "allow", "hit_only" or "deny", `rule` the deciding rule,
 * `records` (borrowed for the call) the released records (an empty array unless
 * allowed). status -1: the state could not be asked (`error` says why). */
typedef void (*fb_formal_cb)(void *data, int status, const char *effect, const char *rule, json_t *records,
                             const char *error);

typedef struct fb_formal fb_formal;

/* Starts the re-query; the callback always runs once. Returns the handle while the
 * state is being asked, NULL when the callback already ran (a policy that does not
 * allow, or a leg that could not start). */
fb_formal *fb_formal_query(fb_search_engine *e, struct fb_policy_store *policies, const fb_formal_request *r,
                           uint32_t timeout_ms, fb_formal_cb cb, void *data);
/* Cancels a re-query in flight (before its adapter closes): the callback runs now with
 * status -1, and the handle is freed. */
void fb_formal_cancel(fb_formal *f);

#endif
