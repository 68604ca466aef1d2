/* Compact records: a node answer {"records": [...]} parsed once into spans of its own
 * text, for the hub's record path (schema check, redaction, merge, the answer) without
 * a jansson value per record.
 *
 * The set owns the answer's text in its canonical form: exactly the bytes core/jsonw.c
 * writes for the value jansson would parse from it (no whitespace but after the value,
 * which is dropped: a node ends its answer with a newline; a repeated key
 * once, escapes as jsonw writes them). A node's answer usually is that already (nodes
 * write with jsonw); it is then scanned in place and checked to be canonical. Anything
 * else (whitespace, other escapes, repeated keys, "-0", numbers out of range, invalid
 * UTF-8, any syntax error) goes through core/jsonr.h once: jansson's value (or its error
 * sentence) and jsonw's text of it, which is canonical by construction. So a value's
 * text in the set is what the jansson path would have written, and spans are copied
 * to the answer as they are. Reals are the exception: their text is converted again
 * (strtod, then "%.{precision}g" like jsonw) when written, at the writer's precision.
 *
 * Beside the text the set keeps a second copy with every string decoded in place and
 * NUL-terminated, so the known fields can be read as C strings without allocation.
 * Each record has a small index of its members by the schema's known keys.
 * The schema check on a set is records/record.h's. tests/unit/core/test_crec.c compares all of it with jansson's path. */
#ifndef FB_RECORDS_CREC_H
#define FB_RECORDS_CREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/util.h"
#include "core/vocab.h"

/* The known keys of a record: the redactable fields (FB_RECORD_FIELD_*, in their
 * order), then these. */
enum {
  FB_CKEY_ID = FB_RECORD_FIELD_COUNT,
  FB_CKEY_TYPE,
  FB_CKEY_REDACTED,
  FB_CKEY_REDACTED_BY,
  FB_CKEY_STATE,
  FB_CKEY_COUNT
};

/* The json_types among a value's elements (an array's) or member values (an
 * object's), one bit each (FB_CKIND(JSON_STRING), ...): what the schema check reads
 * instead of walking the value again. 0 for an empty container or a scalar. */
#define FB_CKIND(type) ((uint8_t)(1u << (type)))

/* One member of a record: key and value as spans of the set's text. */
typedef struct {
  uint32_t key, klen;   /* the key's text, quotes included */
  uint32_t val, vlen;   /* the value's text */
  uint8_t type;         /* json_type of the value */
  bool reals;           /* the value is or holds a real */
  bool gone;            /* removed (by redaction) */
  uint8_t kinds;        /* FB_CKIND bits of the value's elements or member values */
  uint8_t kinds2;       /* the same one level down: of theirs, all together */
} fb_cmember;

/* A member's index in fb_crec.at: below FB_CREC_XMEMBER in set->members, from it on
 * in set->xmembers (the members added by edits). */
#define FB_CREC_XMEMBER (1 << 30)

typedef struct {
  uint32_t off, len;        /* the record's text (any JSON value; an object if valid) */
  uint8_t type;             /* json_type */
  bool reals;
  uint32_t first, n;        /* its members: set->members[first .. first + n) */
  uint32_t xfirst, xn;      /* members added later (redaction), in order: set->xmembers[xfirst ..] */
  bool edited;              /* a member was changed, removed or added */
  int32_t at[FB_CKEY_COUNT]; /* index per known key (see FB_CREC_XMEMBER), or -1 */
} fb_crec;

/* Offsets into the set's text run on past the answer into the edits' text: an offset
 * below `len` is text[off], one from `len` on is xtext[off - len] (and the same for
 * plain / xplain). Edits never move the answer's text (no copy of it grows). */
typedef struct fb_crecs {
  char *text;        /* canonical text of the whole answer (owned) */
  char *plain;       /* the same, strings decoded in place and NUL-terminated */
  size_t len;        /* of the answer */
  char *xtext, *xplain; /* values added by edits, one after another (each then a NUL) */
  size_t xused, xcap;   /* bytes of xtext (and xplain) in use and allocated */
  uint32_t xkey[FB_CKEY_COUNT]; /* offset of a known key's text added by edits, or 0 */
  bool has_records;  /* an object whose "records" is an array */
  fb_crec *recs;
  size_t nrecs, caprecs;
  fb_cmember *members;
  size_t nmembers, capmembers;
  fb_cmember *xmembers; /* members added by edits */
  size_t nxmembers, capxmembers;
  struct {              /* values appended by edits, by a hash of their text: an edit */
    uint32_t off, n;    /* giving a value already there (the same mask, the same */
    uint8_t type, kinds, kinds2; /* "redacted" list) shares it (n 0: empty slot) */
    bool reals;
  } xseen[16];
  bool fast;         /* the text was canonical as received (no jansson round trip) */
  bool frozen;       /* only `text` is held (fb_crecs_freeze): no record until thawed */
  fb_buf scratch;    /* reused by edits */
} fb_crecs;

/* Parses a node answer: `text` (malloc'd, NUL at text[len], as an fb_buf's data is)
 * is taken over and freed by the set or here. Returns
 * the set, or NULL with json_loadb's error in *err (which may be NULL) for text that
 * is not JSON, exactly as json_loadb(text, len, 0, err) says it. */
fb_crecs *fb_crecs_load(char *text, size_t len, json_error_t *err);

void fb_crecs_free(fb_crecs *s);

/* The member at index `at` (>= 0, as fb_crec.at holds it). */
static inline fb_cmember *fb_crec_member(const fb_crecs *s, int32_t at) {
  return at >= FB_CREC_XMEMBER ? &s->xmembers[at - FB_CREC_XMEMBER] : &s->members[at];
}

/* For a set held a while, unread (search/engine.c: the records of a leg that has
 * ended, held until the search's last state answers): keeps only the text of its
 * records as fb_crec_write writes them, `{"records":[...]}`, exactly its bytes, and
 * frees everything else — the decoded copy, the index, the edits, and the slack all of
 * them have from growing by doubling: a fifth of the set after a redaction. A frozen set has
 * no records (nrecs 0) until fb_crecs_thaw scans that text again (what fb_crecs_load
 * does), after which every record writes and reads as before the freeze. Freeze
 * returns 0, or -1 (the set unchanged) for a set without a "records" array or a frozen
 * one; thaw returns 0 (also for a set not frozen), or -1 when the text could not be
 * scanned, which cannot happen for the text freeze wrote: the set is then empty. */
int fb_crecs_freeze(fb_crecs *s);
int fb_crecs_thaw(fb_crecs *s);

/* Member `key` (FB_CKEY_* or FB_RECORD_FIELD_*) of record `r`, or NULL. */
static inline const fb_cmember *fb_crec_get(const fb_crecs *s, const fb_crec *r, int key) {
  if (r->at[key] < 0) return NULL;
  const fb_cmember *m = fb_crec_member(s, r->at[key]);
  return m->gone ? NULL : m;
}

/* The text at offset `off` (of the answer, or of the edits after it). */
static inline const char *fb_crec_text_at(const fb_crecs *s, uint32_t off) {
  return off < s->len ? s->text + off : s->xtext + (off - s->len);
}

/* The decoded, NUL-terminated string at value offset `val` (a string's text). */
static inline const char *fb_crec_str_at(const fb_crecs *s, uint32_t val) {
  return (val < s->len ? s->plain + val : s->xplain + (val - s->len)) + 1;
}

/* Member `key` of record `r` as a C string, or NULL when absent or not a string. */
const char *fb_crec_string(const fb_crecs *s, const fb_crec *r, int key);

/* Walks the elements of the array whose text starts at `val`: *pos = 0 first; each
 * call returns 1 with the element's text at *off / *len (and its type), or 0 at the
 * end. */
int fb_crec_array_next(const fb_crecs *s, uint32_t val, uint32_t *pos, uint32_t *off, uint32_t *len, int *type);

/* Walks the members of the object whose text starts at `val`: *pos = 0 first; each
 * call returns 1 with the key's text at *koff / *klen (fb_crec_str_at(s, *koff) is its
 * decoded string) and the value's at *off / *len with its type, or 0 at the end. */
int fb_crec_object_next(const fb_crecs *s, uint32_t val, uint32_t *pos, uint32_t *koff, uint32_t *klen, uint32_t *off,
                        uint32_t *len, int *type);

/* The value of `key` (plain ASCII, no quotes) in the object whose text starts at
 * `val`: 1 with its text at *off / *len and its type, or 0. */
int fb_crec_object_get(const fb_crecs *s, uint32_t val, const char *key, uint32_t *off, uint32_t *len, int *type);

/* Appends the value text at [off, off+len) to `b`: copied as is, or with its reals
 * written again at `precision` (jsonw's) when `reals` is set and precision is not
 * FB_CREC_AS_IS. */
#define FB_CREC_AS_IS (-1)
void fb_crec_put_span(fb_buf *b, const fb_crecs *s, uint32_t off, uint32_t len, bool reals, int precision);

/* Appends record `i` as jsonw writes its jansson value. */
void fb_crec_write(fb_buf *b, const fb_crecs *s, size_t i, int precision);

/* The same with a "state" member first (`state_text`: its value's JSON text), the
 * record's own "state" left out: the merged answer's record. */
void fb_crec_write_state(fb_buf *b, const fb_crecs *s, size_t i, const char *state_text, size_t state_len,
                         int precision);

/* The records as a jansson array (for callers that read jansson values): each
 * record's value as jansson parses its text. */
json_t *fb_crecs_records_json(const fb_crecs *s);

/* ---- edits: for the redaction plan (as text, or jansson values per field) ---- */

/* A new jansson value of member `m`'s value. */
json_t *fb_crec_json(const fb_crecs *s, const fb_cmember *m);

/* Sets known key `key` of record `i` to `v` (not stolen): in its place when present,
 * else after the record's members, as json_object_set does. A value that cannot be
 * written (not UTF-8) removes the member instead: nothing unjudged is shared. */
void fb_crec_set(fb_crecs *s, size_t i, int key, const json_t *v);

/* The same with the value's JSON text `t` / `n`, which must be canonical (as jsonw
 * writes it) and must not point into the set's text: for edits made without a jansson
 * value. Returns 0, or -1 with the record unchanged when `t` is not canonical. */
int fb_crec_set_text(fb_crecs *s, size_t i, int key, const char *t, size_t n);

/* Sets known key `key` of record `i` to a value the set holds already: member `v`'s
 * (a copy of what fb_crec_get gave, taken before any edit since: edits move members),
 * its text shared, not copied. For the edits that give many records the same value.
 * Returns 0, or -1 with the record unchanged when v's value does not lie in the set's text. */
int fb_crec_set_shared(fb_crecs *s, size_t i, int key, const fb_cmember *v);

/* Removes known key `key` of record `i` (nothing when absent). */
void fb_crec_remove(fb_crecs *s, size_t i, int key);

#endif
