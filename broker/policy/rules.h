/* Internal: the compiled form of a policy file, shared by the files of this module.
 * Nothing here is part of the public API. */
#ifndef FB_POLICY_RULES_H
#define FB_POLICY_RULES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lua/sandbox.h"
#include "policy/policy.h"

/* The rule kinds and the keys each takes besides the request conditions: one line
 * per kind, X(ID, "name", keys...). The admission kinds come first, then the record
 * rules, then the requesting state's own outbound rules (outbound.c); the
 * rule_is_* tests below depend on that order. Adding a kind is
 * a line here plus its meaning in compile.c; the globals a policy may call, the
 * strict loader's "unknown rule kind" and the key checks follow from this table. */
#define FB_RULE_KIND_MAP(X)                                        \
  X(ALLOW, "allow", "reason", "review")                            \
  X(HIT_ONLY, "hit_only", "reason", "review")                      \
  X(DENY, "deny", "reason")                                        \
  X(REDACT, "redact", "reason", "records", "fields", "action")     \
  X(DROP, "drop", "reason", "records")                             \
  X(LIMIT, "limit", "reason", "max_records")                       \
  X(OUTBOUND_DENY, "outbound_deny", "reason")                      \
  X(OUTBOUND_REQUIRE, "outbound_require", "reason", "fields")

#define FB_RK_ENUM_(id, name, ...) RK_##id,
typedef enum { FB_RULE_KIND_MAP(FB_RK_ENUM_) RK_COUNT } rule_kind;
#undef FB_RK_ENUM_
extern const char *const fb_rule_kind_names[RK_COUNT + 1];  /* NULL-terminated */
extern const char *const *const fb_rule_kind_keys[RK_COUNT]; /* NULL-terminated each */
static inline bool rule_is_admission(rule_kind k) { return k <= RK_DENY; }
static inline bool rule_is_record(rule_kind k) { return k >= RK_REDACT && k <= RK_LIMIT; }
static inline bool rule_is_outbound(rule_kind k) { return k >= RK_OUTBOUND_DENY && k < RK_COUNT; }

/* Closed vocabularies. A condition on one of them is a bitmask (bit i = names[i]). */
typedef enum { V_PURPOSE = 0, V_PRIORITY, V_LEGAL_BASIS, V_SUBJECT, V_TAGS, V_TYPE, V_FIELD, V_COUNT } vocab;
extern const char *const *const fb_vocab[V_COUNT];
extern const char *const fb_vocab_key[V_COUNT];
/* Index of `s` in vocabulary `v`, or -1. */
int fb_vocab_index(vocab v, const char *s);

/* A small set of strings (from, agency, role, nationality). n == 0: key absent. */
typedef struct {
  char **v;
  size_t n;
} strset;
bool strset_has(const strset *s, const char *x);

typedef struct cond {
  uint32_t purpose, priority, legal_basis, subject; /* 0: key absent */
  int case_ref;                                     /* -1 absent, 0 must be absent, 1 present */
  int formal;                                       /* -1 absent, 0 a search, 1 a follow-up request */
  long just_lt;                                     /* justification_shorter_than; 0 absent */
  strset from, agency, role;
  strset to;                                        /* outbound rules: the responding state(s) */
  int when_ref;                                     /* registry ref, LUA_NOREF when absent */
  struct cond *unless;                              /* NULL when absent */
} cond;

typedef enum { A_MASK = 0, A_REMOVE, A_YEAR, A_INITIALS, A_HASH, A_COUNT } redact_action;
extern const char *const fb_action_names[A_COUNT];

typedef struct {
  uint32_t tags, type;   /* 0: any */
  strset nationality;
} record_filter;

typedef struct rule {
  rule_kind kind;
  char *name;
  char *name_json;       /* the name as JSON text (a plan's redact steps name it in every
                            record they change), NULL if it is not UTF-8 */
  size_t name_json_len;
  char *reason;          /* NULL: the name is shown */
  int line;
  bool review;
  cond c;
  record_filter filter;  /* redact, drop */
  char **fields;         /* redact */
  size_t nfields;
  uint32_t field_mask;   /* bit i = fb_vocab[V_FIELD][i] */
  redact_action action;
  long max_records;      /* limit */
  uint32_t require_mask; /* outbound_require: bit i = fb_require_fields[i] must be present */
} rule;

/* Request fields an outbound_require rule may ask for (outbound.c). */
extern const char *const fb_require_fields[];

struct fb_policy {
  atomic_int refs;           /* atomic: searches on several workers and pool threads */
  char *code;            /* "MYS" or "common" */
  char *path;
  fb_sandbox *sb;
  char *name;
  json_t *contact;       /* object or null */
  rule *rules;
  size_t nrules;
  char *default_reason;  /* "No rule of MYS allows this request." */
  char *src;             /* the source text it was compiled from (drafts and replays recompile it) */
  size_t srclen;
  char sha256[65];
  char loaded_at[64];
  bool is_signed;
  uint8_t *key;
  size_t keylen;
  struct evp_mac_ctx_st *hmac; /* HMAC-SHA-256 keyed once at load; reused per value */
  pthread_mutex_t *hmac_mu;  /* one value hashed at a time: redaction runs on several
                                workers at once, outside the hub lock (core/hublock.h) */
  pthread_mutex_t *lua_mu;   /* the Lua state (`when`) is one per policy and decisions run
                                on several workers, outside the hub lock: one user at a
                                time, from the first `when` of a decision to its end
                                (match.h when_ctx) */
  bool has_when;
};

/* Compiles `src` (named `path`) as the policy `code` ("common" or a state code).
 * Returns a policy with one reference, or NULL with *err (malloc'd, each problem
 * as "path:line: message", one per line). `warnings` (may be NULL) gets messages
 * that do not stop loading (e.g. unreachable rules). */
fb_policy *fb_policy_compile(const char *code, const char *path, const char *src, size_t len,
                             const uint8_t *key, size_t keylen, json_t *warnings, char **err);
/* Same, knowing the states the hub serves: `from` may name only those (`nstates`
 * codes at `states`, borrowed for the call), and with `any_iso` also any ISO 3166-1
 * alpha-3 code (the tools, which have no config). fb_policy_compile is states NULL,
 * any_iso true. */
fb_policy *fb_policy_compile_ex(const char *code, const char *path, const char *src, size_t len,
                                const uint8_t *key, size_t keylen, const char *const *states,
                                size_t nstates, bool any_iso, json_t *warnings, char **err);
/* fb_policy_store_open_signed, with `any_iso` passed to every compile (the tools). */
fb_policy_store *fb_policy_store_open_ex(const char *dir, const char *const *states, size_t nstates,
                                         const uint8_t *key, size_t keylen,
                                         const char *const *key_states, const char *const *key_paths,
                                         size_t nkeys, bool any_iso, char **err);
/* Loads and compiles a file; code derived from the file name (file.c). */
fb_policy *fb_policy_load_file(const char *path, const uint8_t *key, size_t keylen,
                               json_t *warnings, char **err);
fb_policy *fb_policy_load_file_ex(const char *path, const uint8_t *key, size_t keylen,
                                  const char *const *states, size_t nstates, bool any_iso,
                                  json_t *warnings, char **err);

/* Describes a condition for a legal officer: "purpose is prosecution" etc. */
void fb_cond_describe(const cond *c, json_t *out_array);

/* The redaction key used by the tools when no deployment key is configured. */
extern const uint8_t fb_policy_test_key[32];

#endif
