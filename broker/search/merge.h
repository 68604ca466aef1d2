/* Merge: groups records from several states that denote the same real-world entity
 * into the API.md `results` array. See docs/merge.md for the evidence and scores.
 *
 * Evidence between two records of the same type:
 *   document  a passport / id number equal after normalisation (uppercase, no spaces
 *             or dashes) and, when both carry a country, the same country  (w 0.90)
 *   phone     equal digits (E.164 without "+")                          (w 0.75)
 *   imo       equal IMO number, vessels only                            (w 0.90)
 *   name      fb_name_match >= 0.85 on names / aliases (any script), every
 *             aligned word >= 0.86; vessels: equal normalised vessel name
 *             and no conflicting IMO                                   (w 0.5*sim)
 *   dob       corroboration only: equal full date (w 0.4) or, when either side has
 *             only a year, equal year (w 0.2); two full dates that differ disagree
 *   document_fingerprint, phone_fingerprint
 *             both records' documents / phones hashed by policy, an equal hash
 *                                                               (w 0.90 / 0.75)
 * A pair links on document, phone, imo or a fingerprint alone, or on name + dob
 * together (a name
 * alone never links: common names would merge strangers; a disagreeing dob blocks a
 * name link). A pair's score is 1 - prod(1 - w) over its evidence, so
 * document + name + full dob gives 0.97. Linking is transitive (union-find); an
 * entity's score is its weakest necessary link (the bottleneck of the maximum
 * spanning tree), `match` is the evidence seen on any of its pairs, in the order
 * document, phone, imo, name, dob. A union that would put two vessels with different
 * IMO numbers into one entity (through a vessel without IMO) is refused, and so is a
 * union by name + dob alone that would join persons with different dobs or with two
 * documents of one kind and country but different numbers. Other
 * conflicts are not checked: a record whose document has no country can join two
 * holders of that number from different countries (see docs/merge.md). A record linked to nothing is its own entity with
 * score 0.5 and an empty `match`: nothing corroborates it, so it ranks below every
 * linked entity (whose scores all exceed 0.5).
 *
 * Redaction: a field listed in a record's "redacted" array (by its top-level name,
 * "documents" also covering "documents[0].number" and the like), and any value
 * "[REDACTED]", is never used as plain evidence, whatever the redaction action was
 * (masked, removed, year-only, initials or hashed values do not link as values).
 * The exception: hashed documents / phones (64 hex digits, the policy `hash`
 * action, an HMAC under the deployment key) link with an equal hash in the same
 * field of another record; a hash never equals a plain value.
 *
 * Near misses: an entity may carry "near": [{"entity": "e3", "why": "same name,
 * different dob" | "same name, different documents" | "same name, no dob to
 * compare"}], the entities holding a record
 * with the same name that did not link (blocks of at most 64 records, at most 3 per
 * entity, each other entity once, in entity order); absent when there is none.
 *
 * Cost: keys are computed once per record; exact keys are grouped by sorting; names
 * are compared only within blocks sharing a token prefix (pairs compared once), so
 * the work grows with the block sizes, not with all pairs. For a search's answer
 * (tens of records) the per-record work dominates: see docs/merge.md, "Cost". */
#ifndef FB_SEARCH_MERGE_H
#define FB_SEARCH_MERGE_H

#include <jansson.h>

#include "core/crec.h"
#include "core/util.h"

/* `per_state` is a JSON object {"IDN": [records...], ...} of already-redacted records.
 * Returns a new array [{"entity":"e1","score":0.97,"match":["document","name","dob"],
 * "records":[...]}], ordered by score desc, then more records first, then the first
 * record's state and id; entities are numbered e1.. in that order; records inside an
 * entity are ordered by state, then id. Each output record is a copy of the input
 * record plus "state". Steals nothing and modifies nothing. Non-object records and a
 * non-object `per_state` are ignored (an empty array results). */
json_t *fb_merge(json_t *per_state);

/* The same merge, written instead of built: one source per state, its records (already
 * judged and redacted) either compact (core/crec.h) or a jansson array; the answer is
 * written straight from them (a compact record's text is copied, a jansson record
 * written by core/jsonw.h, "state" put first without copying the record), byte for
 * byte what fb_merge's value gives through core/jsonw.h. The sources' records and
 * state strings must outlive the result, unchanged. */
typedef struct {
  const char *state;
  const fb_crecs *set;  /* or, when NULL: */
  json_t *records;      /* a jansson array of records (borrowed) */
} fb_merge_source;

typedef struct fb_merged fb_merged;

fb_merged *fb_merge_sources(const fb_merge_source *src, size_t nsrc);
/* Number of entities. */
size_t fb_merged_count(const fb_merged *m);
/* Entity `e` (0-based) as jsonw writes fb_merge's e-th element at `precision`; -1
 * where jsonw fails (a jansson string that is not UTF-8). */
int fb_merged_write_entity(fb_buf *b, const fb_merged *m, size_t e, int precision);
/* The whole array; on -1 `b` is as it was. */
int fb_merged_write(fb_buf *b, const fb_merged *m, int precision);
void fb_merged_free(fb_merged *m);

#endif
