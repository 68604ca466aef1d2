/* Proving what a policy change does (`fedbroker policy prove`, POST /v1/policy/diff
 * with "exhaustive": true): every request a state can receive is decided under the
 * old and the new version of its policy (common.lua + the state's file, as the hub
 * does), every kind of record under both versions' record rules, and the points that
 * differ are reported as regions a legal officer can read ("requests from BGD,
 * purpose intelligence, any priority, legal basis informal: deny -> allow").
 *
 * The request space is closed: purpose, priority, legal basis, requesting state (every
 * state known to either version plus "other"), agency (every agency named by either
 * version plus "other"), roles, subject fields, case reference, justification length
 * classes. Values that no rule of either version can tell apart (a subject field or
 * role no rule names) are decided once: every request they stand for gets the same
 * decision by construction. A `when` function cannot be enumerated: its result is one
 * more yes/no dimension, so a difference that depends on it says so.
 *
 * Nothing here is on the request path; it runs in the tools and the policy API. */
#ifndef FB_POLICY_PROVE_H
#define FB_POLICY_PROVE_H

#include <stdio.h>

#include <jansson.h>

#include "policy/policy.h"

/* A version of the whole policy directory: common plus one policy per state. */
typedef struct fb_prove_set fb_prove_set;

/* Takes references to the policies in force in `store`. */
fb_prove_set *fb_prove_set_from_store(fb_policy_store *store);
/* Loads every file of `dir` (common.lua, <STATE>.lua) with the tools' fixed key.
 * NULL with *err when a file does not load. */
fb_prove_set *fb_prove_set_from_dir(const char *dir, char **err);
/* Compiles `src` as "common" or a state's file and puts it in the set in place of
 * the version there (a draft). Uses the set's redaction key. -1 with *err when the
 * source does not load (the set is unchanged). */
int fb_prove_set_put_source(fb_prove_set *set, const char *code, const char *src, size_t len,
                            char **err);
void fb_prove_set_free(fb_prove_set *set);

/* Limits that keep a proof bounded (each `when` doubles the space). */
#define FB_PROVE_MAX_WHEN 10
#define FB_PROVE_MAX_POINTS 4000000UL   /* points decided per version: about 0.5 s */

/* Proves one state (`state`) or, with state NULL, every state of either set.
 * Returns a new reference:
 *   {"verdict": "widens"|"narrows"|"both"|"equivalent",
 *    "regions": [{"state","kind":"admission"|"record","change":"widens"|"narrows",
 *                 "where":{...},"old":{...},"new":{...},"text"}...],
 *    "space": requests covered, "record_classes": kinds of record (the most of any
 *    state), "evaluated": points decided per version,
 *    "unknown": [{"state","policy","rule","version","in"}], "states": [per state]}
 * or NULL with *err (a state no set knows, a space beyond the limits). */
json_t *fb_policy_prove_json(fb_prove_set *old_set, fb_prove_set *new_set, const char *state,
                             char **err);

/* Prints a proof for people: the verdict first, then one line per region. */
void fb_prove_print(json_t *proof, FILE *out);

#endif
