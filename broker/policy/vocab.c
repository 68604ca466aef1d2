/* The closed vocabularies of the policy language (API.md request and record schema)
 * and small helpers over them. */
#include <string.h>

#include "policy/rules.h"

static const char *const purposes[] = {"investigation", "prosecution", "victim_protection",
                                       "intelligence", "border_screening", NULL};
static const char *const priorities[] = {"routine", "urgent", "immediate", NULL};
static const char *const bases[] = {"mla_treaty", "bilateral_mou", "interpol_channel",
                                    "domestic_law", "consent", "informal", NULL};
static const char *const subjects[] = {"name", "dob", "document", "nationality", "phone",
                                       "vessel", NULL};
static const char *const tags[] = {"suspect", "facilitator", "victim", "minor", "witness",
                                   "sensitive", NULL};
static const char *const types[] = {"person", "vessel", NULL};
/* Record fields a redact rule may name (API.md record schema, without id and type). */
static const char *const fields[] = {"name", "aliases", "dob", "sex", "nationality",
                                     "documents", "phones", "address", "vessel",
                                     "cases", "notes", "updated", "tags", NULL};

const char *const *const fb_vocab[V_COUNT] = {purposes, priorities, bases, subjects, tags, types,
                                                   fields};
const char *const fb_vocab_key[V_COUNT] = {"purpose", "priority", "legal_basis", "subject",
                                           "tags", "type", "field"};

const char *const fb_rule_kind_names[RK_COUNT] = {"allow", "hit_only", "deny",
                                                  "redact", "drop", "limit",
                                                  "outbound_deny", "outbound_require"};
const char *const fb_action_names[A_COUNT] = {"mask", "remove", "year", "initials", "hash"};

/* Used by `fedbroker policy test/eval` when no deployment key is configured; never by
 * the hub (fb_policy_store_open requires the caller's key for `hash`). */
const uint8_t fb_policy_test_key[32] = "fedbroker-policy-test-key-000000";

int fb_vocab_index(vocab v, const char *s) {
  if (!s) return -1;
  for (int i = 0; fb_vocab[v][i]; i++)
    if (strcmp(fb_vocab[v][i], s) == 0) return i;
  return -1;
}

bool strset_has(const strset *s, const char *x) {
  if (!x) return false;
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], x) == 0) return true;
  return false;
}

const char *fb_effect_name(fb_effect e) {
  switch (e) {
  case FB_EFFECT_ALLOW: return "allow";
  case FB_EFFECT_HIT_ONLY: return "hit_only";
  case FB_EFFECT_WITHHELD: return "withheld";
  default: return "deny";
  }
}
