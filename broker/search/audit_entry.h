/* A search's audit entry (API.md "Audit log format", event "search"): its fields as
 * text, written straight into a buffer for fb_audit_append_text, and the same entry as
 * a jansson object (for the follow-up hook that reads it, and for the rare entry the
 * text cannot hold). The text is byte for byte what the audit writer dumps of the
 * object without its "event" (core/jsonw.h, precision 0): tests/unit/search/
 * test_audit_entry.c compares the two. */
#ifndef FB_SEARCH_AUDIT_ENTRY_H
#define FB_SEARCH_AUDIT_ENTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/identity.h"
#include "core/crec.h"
#include "search/validate.h"

/* One state of the search, as the engine settled it. */
typedef struct fb_audit_leg {
  const char *state, *outcome;
  const char *rule;        /* NULL: written as null */
  size_t records, redacted;
  bool review;
  const char *by;          /* NULL: no "by" */
  const char *error;       /* NULL: no "error" */
  double latency_ms;       /* rounded already; written when > 0 */
  const char *hit_ref;     /* NULL or "": no "hit_ref" */
  /* The record ids the state shared (FOLLOWUP.md "What was disclosed"): listed when
   * `shared` and it shared at least one record, from the compact set or the array. */
  bool shared;
  const fb_crecs *crecs;
  const json_t *recs;
} fb_audit_leg;

typedef struct fb_search_audit {
  const char *query_id;
  const fb_identity *requester;
  const fb_search_params *p;
  const fb_audit_leg *legs;
  size_t nlegs;
  /* Nothing reached the client: each state is {"state","outcome"} only, no review. */
  bool client_aborted;
} fb_search_audit;

/* The entry as a new jansson object {"event":"search", "query_id", "requester",
 * "purpose", "priority", "legal_basis", "justification", "case_ref", "subject",
 * "states", "review", ["client_aborted"], "disclosed"}, or NULL where json_pack
 * refuses a value (a string that is not UTF-8): then the log refuses it too. */
json_t *fb_search_audit_json(const fb_search_audit *e);

/* Appends the entry's fields without "event" as one JSON object, the text of
 * fb_search_audit_json's object without "event". Returns 0, or -1 with `b` as it was
 * when any string is not UTF-8 (or a required one is NULL): the caller then builds
 * the object, whose rules for such strings (a key or an id left out, or no entry at
 * all) the text does not repeat. */
int fb_search_audit_text(fb_buf *b, const fb_search_audit *e);

#endif
