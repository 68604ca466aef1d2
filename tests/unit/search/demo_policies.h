/* The demo's policy files (policies/ directory) compiled for the record-path tests, which
 * hold the compact path to the jansson path under the real rules. */
#ifndef FB_TEST_DEMO_POLICIES_H
#define FB_TEST_DEMO_POLICIES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo/demo_data.h"
#include "policy/policy.h"

/* policies/<file> compiled as state `code` with HMAC key `key`; NULL (and a line on
 * stderr) when it cannot be read or compiled. */
static inline fb_policy *demo_policy_compile(const char *code, const char *file, const uint8_t *key,
                                             size_t keylen) {
  char path[512];
  snprintf(path, sizeof path, "%s/policies/%s", FB_SOURCE_DIR, file);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char src[1 << 16];
  size_t n = fread(src, 1, sizeof src - 1, f);
  fclose(f);
  src[n] = '\0';
  char *err = NULL;
  fb_policy *p = fb_policy_compile(code, path, src, n, key, keylen, NULL, &err);
  if (!p) fprintf(stderr, "%s: %s\n", path, err ? err : "?");
  free(err);
  return p;
}

/* common.lua into *common and each demo state's <CODE>.lua into states[i] (the order of
 * fb_demo_states); -1 when one cannot be compiled (what was compiled stays set). */
static inline int demo_policies_load(const uint8_t *key, size_t keylen, fb_policy **common, fb_policy **states,
                                     size_t nstates) {
  if (!(*common = demo_policy_compile("common", "common.lua", key, keylen))) return -1;
  for (size_t i = 0; i < nstates; i++) {
    char file[16];
    snprintf(file, sizeof file, "%s.lua", fb_demo_states[i]);
    if (!(states[i] = demo_policy_compile(fb_demo_states[i], file, key, keylen))) return -1;
  }
  return 0;
}

#endif
