/* Policy sets and drafts (FOLLOWUP.md "Policy replay"): a set is common.lua plus one
 * policy per state, taken from the live store or compiled from texts. A draft replaces
 * some texts of a set; nothing in a set is ever deployed, so a legal officer can try a
 * change, run the tests against it and replay past requests under it.
 *
 * Threading: a set made from the store holds references to live policies and belongs
 * to the loop thread. fb_policy_set_detach copies only the source texts; such a set
 * can be handed to another thread, compiled there (fb_policy_set_compile) and used
 * there alone: its policies share nothing with the live ones. */
#ifndef FB_POLICY_DRAFT_H
#define FB_POLICY_DRAFT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "policy/policy.h"

typedef struct fb_policy_set fb_policy_set;

/* A draft naming more files than this is refused (a set has common + each state). */
#define FB_DRAFT_FILES_MAX 64

/* A new reference to every live policy of `store` (loop thread). */
fb_policy_set *fb_policy_set_from_store(fb_policy_store *store);
/* A set with the same states and key holding only copies of the source texts
 * (policies not compiled): safe to move to another thread. */
fb_policy_set *fb_policy_set_detach(const fb_policy_set *set);
void fb_policy_set_free(fb_policy_set *set);

/* Puts each draft text {"MYS.lua": "...", "common.lua": "..."} (borrowed, copied) in
 * place of the set's source; that policy, if any, is dropped until
 * fb_policy_set_compile. A file name that is not common.lua or <STATE>.lua of a state
 * in the set, a text that is not a string or is larger than FB_POLICY_FILE_MAX appends
 * {"file","line","message"} to `problems`. Returns the number of problems. */
int fb_policy_set_put_draft(fb_policy_set *set, json_t *draft, json_t *problems);

/* Compiles every source that has no policy yet, in its own sandbox with the limits of
 * the live store (memory, instruction budget, file size) and the same redaction key.
 * Each load error is appended to `problems` as {"file","line","message"}. Returns
 * the number of files that failed. */
int fb_policy_set_compile(fb_policy_set *set, json_t *problems);

fb_policy *fb_policy_set_common(const fb_policy_set *set);               /* borrowed */
fb_policy *fb_policy_set_get(const fb_policy_set *set, const char *code); /* borrowed; NULL: no file */
size_t fb_policy_set_nstates(const fb_policy_set *set);
const char *fb_policy_set_state(const fb_policy_set *set, size_t i);
/* True when `code` ("common" or a state) was replaced by a draft. */
bool fb_policy_set_is_draft(const fb_policy_set *set, const char *code);

/* The decision for one responding state under the set, requester's outbound rules
 * first (policy/outbound.h). */
void fb_policy_set_decide(const fb_policy_set *set, const fb_query *q, const char *state,
                          fb_decision *out, json_t *trace);

/* POST /v1/policy/evaluate under a set (fb_policy_evaluate's body and answer). */
json_t *fb_policy_evaluate_set(const fb_policy_set *set, json_t *request_body,
                               const char *requester_state, const char *requester_agency,
                               const char *const *roles, size_t nroles, char **err);

/* fb_policy_evaluate, plus the body's optional "draft" ({"MYS.lua": text, ...}: used
 * instead of the live files, nothing deployed) and "tests" (true: adds "tests":
 * {"passed","failed","failures","files"} for the drafted states' test files in the
 * store's directory, run against the draft). NULL with entries in `problems` when a
 * draft does not load (422), NULL with *err for a malformed body (400). */
json_t *fb_policy_evaluate_draft(fb_policy_store *store, json_t *body, const char *requester_state,
                                 const char *requester_agency, const char *const *roles, size_t nroles,
                                 json_t *problems, char **err);

/* Runs the test files `files` (paths) against the set. Adds to *passed and *failed and,
 * for each failing case, {"file","line","case","message"} to `failures` (may be NULL);
 * prints like `fedbroker policy test` to `out` (may be NULL). */
void fb_policy_set_run_tests(const fb_policy_set *set, const char *const *files, size_t nfiles,
                             FILE *out, int *passed, int *failed, json_t *failures);

/* What a draft tried, for the audit log: {"MYS.lua": "<sha256 of the text>", ...}. */
json_t *fb_policy_draft_hashes(json_t *draft);

/* Parses "path:line: message" lines (fb_policy_compile's *err) into problems. */
void fb_policy_problems_from_error(const char *err, const char *file, json_t *problems);

#endif
