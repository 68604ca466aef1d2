/* A state's summary in a search's answer (API.md "POST /v1/search", `states`): which
 * members each outcome shows. Two forms of the same text: a jansson object (the
 * stream's "state" lines) and the bytes written straight into the answer, without a
 * jansson value; fb_leg_summary_write gives byte for byte what core/jsonw.h writes for
 * fb_leg_summary_json (tests/unit/search/test_leg_summary.c holds it to that). */
#ifndef FB_SEARCH_LEG_SUMMARY_H
#define FB_SEARCH_LEG_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/util.h"
#include "core/vocab.h"

/* A leg's outcome: pending, then the vocabulary's outcomes in their order. */
#define FB_LEG_OUTCOME_(id, name) FB_LEG_OUT_##id,
typedef enum { FB_LEG_OUT_PENDING = 0, FB_OUTCOME_MAP(FB_LEG_OUTCOME_) FB_LEG_OUT_COUNT } fb_leg_outcome;
#undef FB_LEG_OUTCOME_

/* What the summary of one leg is made of, all borrowed. A NULL string, or a latency
 * that is not a finite number, leaves its member out (as jansson does with a value it
 * cannot make). */
typedef struct {
  const char *state;     /* the state's code */
  fb_leg_outcome outcome;
  size_t records, redacted;
  double latency_ms;     /* rounded by the caller */
  const char *rule;
  const char *reason;    /* the text shown: the rule's reason, or the hub's */
  const char *by;        /* withheld: the requesting state whose rule held it */
  const char *hit_ref;   /* hit_only: "" when there is none */
  bool review;
  json_t *contact;       /* the outcomes that show whom to call (NULL: null) */
} fb_leg_summary;

/* "pending" or the outcome's name. */
const char *fb_leg_outcome_name(fb_leg_outcome o);

/* The summary as a new jansson object; NULL when it cannot be made. */
json_t *fb_leg_summary_json(const fb_leg_summary *s);

/* Appends the summary's JSON text, as fb_jsonw_value would write fb_leg_summary_json
 * at `precision`. Returns 0, or -1 with `b` as it was (a contact that cannot be
 * written). */
int fb_leg_summary_write(fb_buf *b, const fb_leg_summary *s, int precision);

#endif
