/* The policy language's view of the closed vocabularies (core/vocab.h) and small
 * helpers over them. */
#include <string.h>

#include "core/vocab.h"
#include "policy/rules.h"

const char *const *const fb_vocab[V_COUNT] = {fb_purposes, fb_priorities, fb_legal_bases, fb_subject_fields, fb_tags,
                                              fb_record_types, fb_record_fields};
const char *const fb_vocab_key[V_COUNT] = {"purpose", "priority", "legal_basis", "subject",
                                           "tags", "type", "field"};

#define KIND_NAME_(id, name, ...) name,
const char *const fb_rule_kind_names[RK_COUNT + 1] = {FB_RULE_KIND_MAP(KIND_NAME_) NULL};
#define KIND_KEYS_(id, name, ...) static const char *const keys_##id[] = {__VA_ARGS__, NULL};
FB_RULE_KIND_MAP(KIND_KEYS_)
#define KIND_KEYS_REF_(id, name, ...) keys_##id,
const char *const *const fb_rule_kind_keys[RK_COUNT] = {FB_RULE_KIND_MAP(KIND_KEYS_REF_)};
const char *const fb_action_names[A_COUNT] = {"mask", "remove", "year", "initials", "hash"};

/* Used by `fedbroker policy test/eval` when no deployment key is configured; never by
 * the hub (fb_policy_store_open requires the caller's key for `hash`). */
const uint8_t fb_policy_test_key[32] = "fedbroker-policy-test-key-000000";

int fb_vocab_index(vocab v, const char *s) { return fb_list_index(fb_vocab[v], s); }

bool strset_has(const strset *s, const char *x) {
  if (!x) return false;
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], x) == 0) return true;
  return false;
}

const char *fb_effect_name(fb_effect e) {
  return (unsigned)e <= FB_EFFECT_WITHHELD ? fb_effects[e] : fb_effects[FB_EFFECT_DENY];
}
