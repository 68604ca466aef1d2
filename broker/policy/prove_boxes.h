/* Internal to the prover: sets of boxes over a product space, and merging them into
 * regions. A box holds one bitmask per axis (bit i = value i of that axis) and a
 * label (what differs there); two boxes with the same label that differ on one axis
 * only are one box. */
#ifndef FB_POLICY_PROVE_BOXES_H
#define FB_POLICY_PROVE_BOXES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  size_t naxes;
  size_t n, cap;
  uint64_t *m;      /* n * naxes masks */
  uint32_t *label;  /* n labels */
} fb_boxes;

void fb_boxes_init(fb_boxes *b, size_t naxes);
void fb_boxes_free(fb_boxes *b);
void fb_boxes_add(fb_boxes *b, const uint64_t *masks, uint32_t label);
static inline uint64_t *fb_box(const fb_boxes *b, size_t i) { return b->m + i * b->naxes; }
/* Merges boxes that differ on one axis only, over and over until nothing changes;
 * then sorts them by label and masks so that the output is deterministic. */
void fb_boxes_merge(fb_boxes *b);

#endif
