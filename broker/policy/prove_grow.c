/* Growing the prover's regions. Merging boxes that differ on one axis stops where the
 * differing points are not a product of one value set per axis, leaving fragments
 * shaped by the merge order. So each region then grows, axis by axis, over every value
 * whose points carry the same difference; regions may then overlap (those inside
 * another are dropped), and each reads like the rule that caused it. A record region
 * may also grow over points where its difference cannot show: requests a version does
 * not allow, fields of records a version drops; "tagged facilitator, not tagged
 * witness, purpose ... or ..." becomes "tagged facilitator" where the extra conditions
 * only carved out such points. Bounded work: when the budget runs out, regions stay as
 * they are (exact, only more of them). */
#include <stdlib.h>
#include <string.h>

#include "policy/prove_space.h"

#define GROW_BUDGET 3000000L /* point checks per proof */

typedef struct {
  const pv_points *p;
  long budget;
} grow_ctx;

/* Whether the point (request index r, record class c, field f) fits `label`. */
static bool fits(const pv_points *p, size_t r, size_t c, size_t f, uint32_t label) {
  label_kind kind = p->s->labels[label].kind;
  if (kind == L_ADMISSION) return p->adm_label[r] == label; /* no point is moot here */
  if (p->req_pair[r] == PV_NONE) return true;
  const pv_pair_cells *pc = &p->pairs[p->req_pair[r]];
  if (kind == L_LIMIT) return pc->limit_label == (int32_t)label;
  const int32_t *cell = pc->cells + c * (PV_NFIELDS + 1);
  if (kind == L_DROP) return cell[PV_NFIELDS] == (int32_t)label;
  int32_t v = cell[f];
  return v == PV_CELL_DC || v == (int32_t)label;
}

/* Every point of box `m` with axis `d` set to value `v` alone fits `label`. Axes the
 * label does not depend on are held at one value. The point's request index, record
 * class and field follow the odometer incrementally. */
static bool slab_fits(grow_ctx *g, const uint64_t *m, size_t d, size_t v, uint32_t label) {
  const pv_points *p = g->p;
  const pv_space *s = p->s;
  label_kind kind = s->labels[label].kind;
  size_t field_axis = (size_t)p->field_axis;
  uint8_t vals[PV_MAX_AXES][PV_MAX_VALUES], nv[PV_MAX_AXES], idx[PV_MAX_AXES] = {0};
  size_t r = 0, c = 0, f = 0;
  for (size_t a = 0; a < s->naxes; a++) {
    bool relevant = a < s->nreq || kind == L_FIELD || (kind == L_DROP && a != field_axis);
    nv[a] = 0;
    for (size_t k = 0; k < s->axes[a].n; k++) {
      bool in = a == d ? k == v : (m[a] >> k & 1);
      if (in && (relevant || nv[a] == 0)) vals[a][nv[a]++] = (uint8_t)k;
    }
    r += vals[a][0] * p->stride[a];
    c += vals[a][0] * p->cstride[a];
    if (a == field_axis) f = vals[a][0];
  }
  for (;;) {
    if (--g->budget < 0) return false;
    if (!fits(p, r, c, f, label)) return false;
    size_t a = 0;
    for (; a < s->naxes; a++) {
      size_t from = vals[a][idx[a]];
      if (++idx[a] == nv[a]) idx[a] = 0;
      size_t to = vals[a][idx[a]];
      r = r - from * p->stride[a] + to * p->stride[a];
      c = c - from * p->cstride[a] + to * p->cstride[a];
      if (a == field_axis) f = to;
      if (idx[a]) break;
    }
    if (a == s->naxes) return true;
  }
}

static bool box_within(const uint64_t *a, const uint64_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] & ~b[i]) return false;
  return true;
}

void pv_grow_regions(const pv_points *p, fb_boxes *regions) {
  const pv_space *s = p->s;
  grow_ctx g = {p, GROW_BUDGET};
  for (size_t i = 0; i < regions->n; i++) {
    uint32_t label = regions->label[i];
    uint64_t *m = fb_box(regions, i);
    for (bool grown = true; grown && g.budget > 0;) {
      grown = false;
      for (size_t d = 0; d < s->naxes; d++)
        for (size_t v = 0; v < s->axes[d].n; v++)
          if (!(m[d] >> v & 1) && slab_fits(&g, m, d, v, label)) {
            m[d] |= 1ull << v;
            grown = true;
          }
    }
  }
  /* Drop the regions that another of the same label now contains (of two equal ones,
   * the later). */
  size_t out = 0;
  for (size_t i = 0; i < regions->n; i++) {
    bool inside = false;
    for (size_t j = 0; j < regions->n && !inside; j++)
      inside = j != i && regions->label[j] == regions->label[i] &&
               box_within(fb_box(regions, i), fb_box(regions, j), s->naxes) &&
               (!box_within(fb_box(regions, j), fb_box(regions, i), s->naxes) || j < i);
    if (inside) continue;
    memmove(fb_box(regions, out), fb_box(regions, i), s->naxes * sizeof(uint64_t));
    regions->label[out++] = regions->label[i];
  }
  regions->n = out;
  fb_boxes_merge(regions);
}
