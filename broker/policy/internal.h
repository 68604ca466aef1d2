/* Internal to policy/: what its files share beyond the compiled form (rules.h).
 * Nothing outside broker/policy includes this; names carry no fb_ prefix. */
#ifndef FB_POLICY_INTERNAL_H
#define FB_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rules.h"

/* lifecycle.c: a policy of `code` with one reference, its source copied and digested,
 * keyed for `hash` when `key` is given; the compiler fills the rest. policy_destroy
 * frees it whatever its state (the compiler's failures, or the last unref). */
fb_policy *policy_new(const char *code, const char *path, const char *src, size_t len, const uint8_t *key,
                      size_t keylen);
void policy_destroy(fb_policy *p);
/* compile.c: frees the compiled rules (policy_destroy calls it). */
void policy_rules_free(fb_policy *p);

/* file.c: policy names. A state code is three capital letters ("MYS"); a policy is
 * "common" or a state code. policy_code_of_file writes the code of PATH's file name
 * ("x/MYS.lua" -> "MYS") and returns 0, -1 when the name does not end in .lua, -2
 * when what precedes .lua is not a policy's code. */
bool policy_is_state_code(const char *s);
bool policy_code_valid(const char *code);
int policy_code_of_file(const char *path, char code[8]);

#endif
