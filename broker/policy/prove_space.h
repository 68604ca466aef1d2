/* Internal to the prover: the space of one state's proof (its axes and values), the
 * labels of what differs, and the regions found. Built by prove.c, described by
 * prove_report.c. */
#ifndef FB_POLICY_PROVE_SPACE_H
#define FB_POLICY_PROVE_SPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/prove.h"
#include "policy/prove_boxes.h"
#include "policy/rules.h"

#define PV_MAX_AXES 64
#define PV_MAX_VALUES 64

/* The single-valued request dimensions. Each is one entry of prove.c's enum_axes
 * table (values and how a condition constrains them): a new condition on a closed
 * vocabulary is one more entry here and there. */
typedef enum { AX_PURPOSE = 0, AX_PRIORITY, AX_BASIS, AX_FROM, AX_AGENCY, AX_CASE_REF, AX_FORMAL,
               AX_JUST, AX_NENUM } enum_axis;

typedef enum {
  AXK_ENUM,     /* ref: enum_axis */
  AXK_SUBJECT,  /* ref: V_SUBJECT bits that only matter together; values no/yes: the
                   request searches by one of them */
  AXK_ROLE,     /* ref: role bits (core/vocab.h) likewise; yes: the requester has one */
  AXK_WHEN,     /* ref: when variable; values false/true */
  AXK_TAG,      /* ref: V_TAGS bit; values no/yes: the record carries it */
  AXK_TYPE,     /* values person, vessel */
  AXK_NAT,      /* values: nationalities named + other */
  AXK_FIELD     /* values: the record fields (V_FIELD) */
} axis_kind;

typedef struct {
  axis_kind kind;
  int ref;
  size_t n;
  char *values[PV_MAX_VALUES];
} pv_axis;

/* One `when` that the proof cannot see into (shared by both versions when the rule
 * and its code are the same). */
typedef struct {
  char *policy, *rule;
  const char *in;   /* "when" or "unless" */
  int versions;     /* 1 old, 2 new, 3 both */
} pv_when;

typedef enum { L_ADMISSION, L_DROP, L_FIELD, L_LIMIT } label_kind;

/* What differs in a region. Values: admission fb_effect; drop 1 kept / 0 dropped;
 * field -1 shown or the redact_action applied; limit max_records or -1 (none). */
typedef struct {
  label_kind kind;
  long old_v, new_v;
  bool old_review, new_review;
  const char *old_rule, *new_rule; /* borrowed from the policies; NULL: none */
  const char *old_policy, *new_policy;
  int change;                      /* +1 widens, -1 narrows */
} pv_label;

/* How a single-valued dimension is named and described (prove.c's table). */
typedef struct {
  const char *key;              /* in the JSON "where" */
  const char *label;            /* in words: "legal basis" */
  bool core;                    /* described even when any value will do */
  const char *const *phrases;   /* per value, when that value alone is meant; or NULL */
} pv_enum_info;
extern const pv_enum_info pv_enum_info_of[AX_NENUM];

typedef struct {
  const char *state;
  pv_axis axes[PV_MAX_AXES];
  size_t naxes, nreq;        /* axes [0, nreq) describe the request, the rest the record */
  pv_when whens[2 * FB_PROVE_MAX_WHEN];
  size_t nwhen;
  long just_lo[PV_MAX_VALUES]; /* justification classes: [just_lo[i], just_lo[i+1]) */
  pv_label *labels;
  size_t nlabels;
  fb_boxes regions;
  double space;              /* requests covered */
  double record_classes;     /* kinds of record covered */
  double evaluated;          /* points decided (request classes x `when` outcomes) */
} pv_space;

/* prove.c: the proof of one state (`state` NULL on a side: no file there); `known`
 * are the states of both versions. A new reference (pv_report), or NULL with *err. */
json_t *fb_prove_state(fb_policy *old_common, fb_policy *old_state, fb_policy *new_common,
                       fb_policy *new_state, const char *code, const char *const *known,
                       size_t nknown, char **err);

/* What each point of the space is, handed from prove.c to prove_grow.c. A request
 * point's index counts axis 0 fastest; a record class's index counts the tag axes,
 * then type, then nationality. */
#define PV_NFIELDS 13          /* record fields (V_FIELD) */
#define PV_NONE UINT32_MAX     /* no label, no pair */
#define PV_CELL_NONE (-1)      /* the same under both versions */
#define PV_CELL_DC (-2)        /* a field of a record dropped by either version: moot */
#define PV_GROW_MAX_POINTS 4000000UL

typedef struct {
  const int32_t *cells;  /* per record class: PV_NFIELDS field cells, then the drop cell */
  int32_t limit_label;   /* PV_CELL_NONE or a label */
} pv_pair_cells;

typedef struct {
  const pv_space *s;
  const uint32_t *adm_label;   /* per request point: its admission difference, or PV_NONE */
  const uint32_t *req_pair;    /* per request point: its pair of plans, PV_NONE unless both allow */
  const pv_pair_cells *pairs;  /* by pair */
  size_t stride[PV_MAX_AXES];  /* request axes: step of the request index; else 0 */
  size_t cstride[PV_MAX_AXES]; /* tag, type, nationality axes: step of the class index */
  int field_axis;
} pv_points;

/* prove_grow.c: grows each region over the values where its difference holds (or, for
 * records, cannot show), drops the regions another contains, merges again. */
void pv_grow_regions(const pv_points *pts, fb_boxes *regions);

/* prove_fingerprint.c: the value at `idx` (a `when` function) written down with
 * everything it can read besides the request; malloc'd, binary (*len bytes), or NULL
 * when it is too large or cannot be written down. */
char *pv_fingerprint(lua_State *L, int idx, size_t *len);

/* prove_report.c: the JSON of one state's proof (new reference). */
json_t *pv_report(const pv_space *s);

#endif
