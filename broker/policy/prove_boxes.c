/* Region merging for the prover: sort the boxes so that those equal on every axis but
 * one are neighbours, union that axis, repeat for every axis until a full round
 * changes nothing (a fixpoint). Boxes of one label never overlap, and merging keeps
 * it so: the regions are a partition of the differing points. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "policy/prove_boxes.h"

void fb_boxes_init(fb_boxes *b, size_t naxes) {
  memset(b, 0, sizeof *b);
  b->naxes = naxes;
}

void fb_boxes_free(fb_boxes *b) {
  free(b->m);
  free(b->label);
  memset(b, 0, sizeof *b);
}

void fb_boxes_add(fb_boxes *b, const uint64_t *masks, uint32_t label) {
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 64;
    b->m = fb_xrealloc(b->m, b->cap * b->naxes * sizeof(uint64_t));
    b->label = fb_xrealloc(b->label, b->cap * sizeof(uint32_t));
  }
  memcpy(fb_box(b, b->n), masks, b->naxes * sizeof(uint64_t));
  b->label[b->n++] = label;
}

typedef struct {
  const fb_boxes *b;
  size_t skip; /* the axis being merged; (size_t)-1: compare every axis */
} cmp_ctx;

static int cmp_box(const void *pa, const void *pb, void *arg) {
  const cmp_ctx *c = arg;
  size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
  if (c->b->label[a] != c->b->label[b]) return c->b->label[a] < c->b->label[b] ? -1 : 1;
  const uint64_t *ma = fb_box(c->b, a), *mb = fb_box(c->b, b);
  for (size_t d = 0; d < c->b->naxes; d++) {
    if (d == c->skip || ma[d] == mb[d]) continue;
    return ma[d] < mb[d] ? -1 : 1;
  }
  return 0;
}

/* Unions axis `d` of neighbours equal elsewhere. Returns true when any merged. */
static bool merge_axis(fb_boxes *b, size_t d, size_t *idx) {
  for (size_t i = 0; i < b->n; i++) idx[i] = i;
  cmp_ctx c = {b, d};
  qsort_r(idx, b->n, sizeof *idx, cmp_box, &c);
  bool merged = false;
  size_t out = 0;
  uint64_t *tmp = fb_xmalloc(b->n * b->naxes * sizeof(uint64_t));
  uint32_t *lab = fb_xmalloc(b->n * sizeof(uint32_t));
  for (size_t i = 0; i < b->n;) {
    uint64_t *dst = tmp + out * b->naxes;
    memcpy(dst, fb_box(b, idx[i]), b->naxes * sizeof(uint64_t));
    lab[out] = b->label[idx[i]];
    size_t j = i + 1;
    for (; j < b->n && cmp_box(&idx[i], &idx[j], &c) == 0; j++) {
      dst[d] |= fb_box(b, idx[j])[d];
      merged = true;
    }
    out++;
    i = j;
  }
  free(b->m);
  free(b->label);
  b->m = tmp;
  b->label = lab;
  b->n = b->cap = out;
  return merged;
}

void fb_boxes_merge(fb_boxes *b) {
  if (b->n == 0) return;
  size_t *idx = fb_xmalloc(b->n * sizeof *idx);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t d = 0; d < b->naxes; d++) changed |= merge_axis(b, d, idx);
  }
  /* Deterministic order: by label, then masks (merge_axis left them sorted but for
   * the last axis). */
  for (size_t i = 0; i < b->n; i++) idx[i] = i;
  cmp_ctx c = {b, (size_t)-1};
  qsort_r(idx, b->n, sizeof *idx, cmp_box, &c);
  uint64_t *tmp = fb_xmalloc((b->n ? b->n : 1) * b->naxes * sizeof(uint64_t));
  uint32_t *lab = fb_xmalloc((b->n ? b->n : 1) * sizeof(uint32_t));
  for (size_t i = 0; i < b->n; i++) {
    memcpy(tmp + i * b->naxes, fb_box(b, idx[i]), b->naxes * sizeof(uint64_t));
    lab[i] = b->label[idx[i]];
  }
  free(b->m);
  free(b->label);
  b->m = tmp;
  b->label = lab;
  free(idx);
}
