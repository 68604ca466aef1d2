/* Policy replay (FOLLOWUP.md "Policy replay"): what a draft would change. Requests are
 * decided under two policy sets (policy/draft.h) and every differing decision is
 * counted in a small table keyed by (state, old effect and rule, new effect and rule),
 * with a few example query ids each. Memory is bounded by the number of distinct
 * changes, not by the number of requests, so a log of millions of entries streams
 * through in constant space.
 *
 * The core is request-iteration agnostic: fb_replay_add takes one request and one
 * responding state, so a caller may feed it audited searches (fb_replay_audit_file)
 * or any other set of requests (a grid of synthetic requests, for example).
 *
 * Threading: a replay and both sets must be used on one thread (the sets' Lua states
 * are not shared); the hub runs replays on the libuv thread pool with detached sets. */
#ifndef FB_POLICY_REPLAY_H
#define FB_POLICY_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "policy/draft.h"
#include "policy/policy.h"

typedef struct fb_replay fb_replay;

#define FB_REPLAY_EXAMPLES 5        /* example query ids kept per change */
#define FB_REPLAY_CHANGES_MAX 10000 /* distinct changes tracked; more are counted as "other" */

/* Both sets are borrowed and must outlive the replay. */
fb_replay *fb_replay_new(const fb_policy_set *old_set, const fb_policy_set *new_set);
void fb_replay_free(fb_replay *r);

/* The effect and rule a set gives one responding state, as replay compares them:
 * "invalid_request" with the outbound_require rule's name when the requester's own
 * rule would refuse the whole request, else the decision (withheld, deny, hit_only,
 * allow) and its rule. `rule` points into the set or is static. */
typedef struct {
  const char *effect;
  const char *rule;
} fb_replay_outcome;
void fb_replay_decide(const fb_policy_set *set, const fb_query *q, const char *state,
                      fb_replay_outcome *out);

/* Decides `state` for `q` under both sets; a differing effect or rule is counted, with
 * q->query_id (may be NULL) as an example. Returns true when the decision changed. */
bool fb_replay_add(fb_replay *r, const fb_query *q, const char *state);
/* Marks the end of one request (all its states added): counts it as replayed, and as
 * changed when any of its states changed since the previous call. */
void fb_replay_end_request(fb_replay *r);

typedef struct {
  int64_t since_ms, until_ms; /* entry ts in [since, until); 0: unbounded */
  uint64_t limit;             /* stop after this many searches; 0: no limit */
  volatile int *cancel;       /* may be NULL; set non-zero to stop early */
} fb_replay_opts;

/* Parses RFC 3339 ("2026-11-30T16:53:16.123Z", offsets, or a plain date) into ms since
 * the epoch. Returns 0, or -1 when it is not such a time. */
int fb_replay_parse_time(const char *s, int64_t *ms);

/* Streams an audit log line by line and replays each `search` entry in range: its
 * requester (state, agency, roles), purpose, priority, legal basis, justification,
 * case_ref and subject, for each state it was sent to. Lines that are not JSON search
 * entries are skipped (a torn last line too). Returns 0, or -1 with *err when the file
 * cannot be read. */
int fb_replay_audit_file(fb_replay *r, const char *path, const fb_replay_opts *opts, char **err);

/* {"replayed": N, "changed": M, "changes": [{"state", "from": {"effect","rule"},
 * "to": {"effect","rule"}, "count", "examples": [query_id, ...]}, ...]}, the largest
 * counts first; "other_changes" when more distinct changes than the table holds;
 * "policy_errors": {"live", "draft"} decisions that ended in policy_error (a failing
 * `when`), when there were any: they are counted, not logged one by one. */
json_t *fb_replay_result(const fb_replay *r);
/* The same content as text, for `fedbroker policy diff`. */
void fb_replay_print(const fb_replay *r, FILE *out);

uint64_t fb_replay_replayed(const fb_replay *r);
uint64_t fb_replay_changed(const fb_replay *r);

#endif
