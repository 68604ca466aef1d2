/* The policy engine: compiled Lua policies (POLICY.md) and the decisions they make.
 *
 * A policy file is run once, at load, in its own sandbox (lua/sandbox.h). Running it
 * calls `state`, `allow`, `deny`, ... which build C rules: closed enums become
 * bitmasks, free-text conditions small string sets, record rules a redaction plan.
 * A decision therefore runs no Lua unless a rule has `when`; records are redacted in
 * C without Lua.
 *
 * Threading: everything here is meant to be called from the hub's single event-loop
 * thread, except fb_policy_reload_compile (below). Nothing is locked; refcounts are
 * plain integers.
 *
 * Ownership: fb_policy objects are refcounted. fb_policy_store_get/_common return a
 * new reference that the caller drops with fb_policy_unref; a reload swaps the
 * store's reference, so a query that took its refs before a reload keeps deciding and
 * redacting under the old version until it lets go. Strings in an fb_decision (other
 * than `error`) live as long as the policy references used to make it. */
#ifndef FB_POLICY_POLICY_H
#define FB_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/vocab.h"

/* WITHHELD: the requesting state's own outbound_deny rule kept the request from going
 * out (policy/outbound.h); the responding state is not contacted. */
#define FB_EFFECT_E_(id, name) FB_EFFECT_##id,
typedef enum { FB_EFFECT_MAP(FB_EFFECT_E_) } fb_effect; /* core/vocab.h: deny, hit_only, allow, withheld */
#undef FB_EFFECT_E_

/* "deny", "hit_only", "allow", "withheld". */
const char *fb_effect_name(fb_effect e);

typedef struct fb_query_bits fb_query_bits;

typedef struct fb_query {            /* the request as policies see it; all borrowed */
  const char *purpose, *priority, *legal_basis;   /* validated enum strings */
  const char *justification, *case_ref;           /* case_ref NULL when absent */
  const char *from_state, *agency;                /* requester */
  const char *const *roles;
  size_t nroles;                                  /* requester roles */
  json_t *subject;                                /* object: name, dob, document, nationality, phone, vessel */
  const char *query_id;
  bool formal;                                    /* a released follow-up request; false: a search */
  const char *to_state;                           /* outbound rules: the responding state */
  const fb_query_bits *bits;                      /* optional: fb_query_bits_init's, below */
} fb_query;

/* The query's closed-vocabulary fields as bits (bit i: the i-th word of core/vocab.h's
 * list; the subject's fields that are present and not null), which the rules' request
 * conditions are compared with. Every decision computes them from the query unless
 * q->bits holds them, computed once by a caller that decides many times on one query
 * (the search engine: several decisions per state); they are taken only while the
 * query's purpose, priority, legal_basis and subject are the ones they were read from. */
struct fb_query_bits {
  uint32_t purpose, priority, legal_basis, subject;
  const void *from[4]; /* purpose, priority, legal_basis, subject */
};
void fb_query_bits_init(fb_query_bits *b, const fb_query *q);

typedef struct fb_decision {
  fb_effect effect;
  const char *rule;      /* rule name, "default_deny" or "policy_error" */
  const char *reason;    /* the rule's reason, else its name; default_deny:
                            "No rule of MYS allows this request." */
  bool review;
  const char *by;        /* withheld: the requesting state whose rule held it back */
  char *error;           /* malloc'd error text for policy_error, else NULL */
  char *reason_buf;      /* private: owned reason text (fb_decision_clear frees it) */
} fb_decision;

typedef struct fb_policy fb_policy;             /* one compiled file; refcounted */
typedef struct fb_policy_store fb_policy_store; /* common + one per state; reloadable */

/* Limits applied to every policy sandbox. */
#define FB_POLICY_MEM_MAX      (16u << 20)  /* bytes of Lua heap per policy file */
#define FB_POLICY_LOAD_BUDGET  50000000L    /* VM instructions to run a file at load */
#define FB_POLICY_WHEN_BUDGET  200000L      /* VM instructions per `when` call */
#define FB_POLICY_LOAD_MS      500          /* wall-clock ms to run a file at load */
#define FB_POLICY_WHEN_MS      50           /* wall-clock ms per `when` call (on the loop) */
#define FB_POLICY_FILE_MAX     (1u << 20)   /* bytes of policy source */

/* Start-up. Loads DIR/common.lua (optional) and DIR/<STATE>.lua for each state.
 * Any file that fails to load fails the whole call: NULL and *err (malloc'd) naming
 * file:line. A state with no file is logged as a warning and denied everything.
 * `redaction_key` (copied) keys the `hash` action; with no key, a policy using
 * `hash` fails to load. */
fb_policy_store *fb_policy_store_open(const char *dir, const char *const *states, size_t nstates,
                                      const uint8_t *redaction_key, size_t keylen, char **err);
/* Same, for a config with policy_keys: each state in key_states[i] must have
 * DIR/<STATE>.lua.sig, the base64 Ed25519 signature of the file's bytes, verified
 * with the PEM public key at key_paths[i]; its fb_policy_info then says "signed":
 * true. A missing or bad signature is a load error (at reload: the old version stays). */
fb_policy_store *fb_policy_store_open_signed(const char *dir, const char *const *states,
                                             size_t nstates, const uint8_t *redaction_key,
                                             size_t keylen, const char *const *key_states,
                                             const char *const *key_paths, size_t nkeys,
                                             char **err);
void fb_policy_store_free(fb_policy_store *store);

/* Reloads every file. Atomic per file: a file that fails to load (or disappeared)
 * keeps its previous version. *report (new reference, may be NULL) is
 * {"files": [{"file", "policy", "status": "ok"|"unchanged"|"error"|"missing",
 * "error"?, "sha256"?}]}. Returns 0 when every file loaded, -1 otherwise. */
int fb_policy_store_reload(fb_policy_store *store, json_t **report);
/* Reloads one file: "common" or a state code. -1 with *err when it failed (the old
 * version stays). */
int fb_policy_store_reload_file(fb_policy_store *store, const char *state_or_common, char **err);

/* The same reload in two halves, so that running the files (up to FB_POLICY_LOAD_MS
 * each) happens off the event loop: _begin on the loop; _compile on any one thread
 * (a uv worker), reading only what never changes in the store; _finish back on the
 * loop swaps in what loaded, exactly as fb_policy_store_reload does, and frees the
 * batch (or _discard drops it). The store must outlive the batch, and only one
 * batch should be in flight at a time (a later one could be overtaken). */
typedef struct fb_policy_reload fb_policy_reload;
fb_policy_reload *fb_policy_reload_begin(fb_policy_store *store);
void fb_policy_reload_compile(fb_policy_reload *r);
int fb_policy_reload_finish(fb_policy_reload *r, json_t **report);
void fb_policy_reload_discard(fb_policy_reload *r);

fb_policy *fb_policy_store_get(fb_policy_store *store, const char *state); /* +1 ref; NULL if no file */
fb_policy *fb_policy_store_common(fb_policy_store *store);                /* +1 ref, never NULL */
/* The last failed reload of "common" or a state's file, while the previous version
 * stays in force: {"file", "line" (null when none), "message" (the first problem),
 * "at", "problems" (every problem, one per line)}. Borrowed; NULL when the last
 * reload of that file succeeded (or none failed). Each failure also counts in the
 * metric fedbroker_policy_reload_failures_total{state="MYS"|"common"}; the same
 * problems found again by the next reload are the same failure, counted once. */
json_t *fb_policy_store_last_error(fb_policy_store *store, const char *state_or_common);
size_t fb_policy_store_nstates(const fb_policy_store *store);
const char *fb_policy_store_state(const fb_policy_store *store, size_t i);
const char *fb_policy_store_dir(const fb_policy_store *store); /* the policy directory */
/* True for the tools' stores (fb_policy_store_open_ex with any_iso): `from` and `to` may
 * also name any ISO 3166-1 code, not only the configured states. */
bool fb_policy_store_any_iso(const fb_policy_store *store);
fb_policy *fb_policy_ref(fb_policy *p);
void fb_policy_unref(fb_policy *p);

/* {"sha256","loaded_at","signed","name","contact":{unit,email,channel}} (new ref).
 * "signed" is true when the file's signature was checked against a policy key. */
json_t *fb_policy_info(const fb_policy *p);
const char *fb_policy_state_name(const fb_policy *p); /* "MYS", or "common" */
json_t *fb_policy_contact(const fb_policy *p);        /* borrowed; JSON null when none */

/* Admission: common's deny rules first (they win), then the state's rules top to
 * bottom, the first match decides; no match -> deny/default_deny. Any Lua error or
 * limit -> deny/policy_error (out->error says what). `state` NULL (no file) is
 * denied with default_deny. `trace` (may be NULL) gets one {"rule","kind","policy",
 * "matched","why"} object appended per rule considered, in order. */
void fb_policy_decide(fb_policy *common, fb_policy *state, const fb_query *q,
                      fb_decision *out, json_t *trace);
/* Same, but names `state_code` in the default_deny reason when `state` is NULL. */
void fb_policy_decide_named(fb_policy *common, fb_policy *state, const char *state_code,
                            const fb_query *q, fb_decision *out, json_t *trace);
void fb_decision_clear(fb_decision *d);

/* The record rules (common's, then the state's) whose request conditions match this
 * query, selected once per query and state and then applied to each record in C.
 * The plan holds references to both policies. If selecting failed (a `when` error),
 * fb_plan_error is non-NULL and fb_plan_apply removes every record (fail closed). */
typedef struct fb_plan fb_plan;
fb_plan *fb_plan_new(fb_policy *common, fb_policy *state, const fb_query *q);
const char *fb_plan_error(const fb_plan *plan);
/* Applies drop, then redact, then limit in place to `records` (a JSON array of record
 * objects). Each changed record gets "redacted": [fields changed or removed].
 * *redacted_out (may be NULL) = number of field values changed or removed.
 * Returns 0, or -1 for a failed plan (records emptied) or a non-array. */
int fb_plan_apply(const fb_plan *plan, json_t *records, size_t *redacted_out);
/* Same; `changes` (may be NULL) gets, per record and rule, what the rule did:
 * {"record": id, "rule", "kind": "redact"|"drop"|"limit", "policy", "field"?, "action"?}. */
int fb_plan_apply_traced(const fb_plan *plan, json_t *records, size_t *redacted_out, json_t *changes);
/* Same on a node answer's compact records (core/crec.h): the same records kept, the
 * same fields changed to the same values, the same "redacted" and "redacted_by". */
typedef struct fb_crecs fb_crecs;
int fb_plan_apply_crecs(const fb_plan *plan, fb_crecs *set, size_t *redacted_out);
json_t *fb_plan_describe(const fb_plan *plan); /* new ref: [{"rule","kind","policy",...}] */
void fb_plan_free(fb_plan *plan);

/* Builds the POST /v1/policy/evaluate response (API.md) for a search request body
 * with optional "as" and "records". The requester is `requester_*` unless the body
 * has "as". Search fields are assumed valid (the caller validates them); a malformed
 * "as"/"records"/"states" gives NULL and *err. Returns a new reference. */
json_t *fb_policy_evaluate(fb_policy_store *store, json_t *request_body,
                           const char *requester_state, const char *requester_agency,
                           const char *const *roles, size_t nroles, char **err);

#endif
