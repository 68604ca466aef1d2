/* The closed vocabularies of the API and the policy language, spelled out once.
 *
 * Every list below is an X-macro (the shape of libuv's UV_ERRNO_MAP): X(ID, "name").
 * The enums, the NULL-terminated name arrays and every check of a value against a
 * list are generated from these tables, so validation (search/validate.c), the policy
 * compiler, identity roles, the config's deadlines, the policy tests, the node's
 * statistics and the docs test all read the same words. Adding a value is one line. */
#ifndef FB_CORE_VOCAB_H
#define FB_CORE_VOCAB_H

#include <stdbool.h>
#include <stddef.h>

/* API.md: a search's purpose. */
#define FB_PURPOSE_MAP(X)                 \
  X(INVESTIGATION, "investigation")       \
  X(PROSECUTION, "prosecution")           \
  X(VICTIM_PROTECTION, "victim_protection") \
  X(INTELLIGENCE, "intelligence")         \
  X(BORDER_SCREENING, "border_screening")

/* API.md: a search's priority, fastest deadline last. */
#define FB_PRIORITY_MAP(X) \
  X(ROUTINE, "routine")    \
  X(URGENT, "urgent")      \
  X(IMMEDIATE, "immediate")

/* API.md: the legal basis a search is made under. */
#define FB_LEGAL_BASIS_MAP(X)              \
  X(MLA_TREATY, "mla_treaty")              \
  X(BILATERAL_MOU, "bilateral_mou")        \
  X(INTERPOL_CHANNEL, "interpol_channel")  \
  X(DOMESTIC_LAW, "domestic_law")          \
  X(CONSENT, "consent")                    \
  X(INFORMAL, "informal")

/* API.md: the fields a search's subject may use. */
#define FB_SUBJECT_MAP(X)      \
  X(NAME, "name")              \
  X(DOB, "dob")                \
  X(DOCUMENT, "document")      \
  X(NATIONALITY, "nationality") \
  X(PHONE, "phone")            \
  X(VESSEL, "vessel")

/* API.md record schema: a record's tags. */
#define FB_TAG_MAP(X)          \
  X(SUSPECT, "suspect")        \
  X(FACILITATOR, "facilitator") \
  X(VICTIM, "victim")          \
  X(MINOR, "minor")            \
  X(WITNESS, "witness")        \
  X(SENSITIVE, "sensitive")

/* API.md record schema: a record's type. */
#define FB_RECORD_TYPE_MAP(X) \
  X(PERSON, "person")         \
  X(VESSEL, "vessel")

/* API.md record schema: the fields a redact rule may name (all but id and type). */
#define FB_RECORD_FIELD_MAP(X)   \
  X(NAME, "name")                \
  X(ALIASES, "aliases")          \
  X(DOB, "dob")                  \
  X(SEX, "sex")                  \
  X(NATIONALITY, "nationality")  \
  X(DOCUMENTS, "documents")      \
  X(PHONES, "phones")            \
  X(ADDRESS, "address")          \
  X(VESSEL, "vessel")            \
  X(CASES, "cases")              \
  X(NOTES, "notes")              \
  X(UPDATED, "updated")          \
  X(TAGS, "tags")

/* Identity roles (API.md, FOLLOWUP.md); bit i of a role mask is the i-th entry. */
#define FB_ROLE_MAP(X)                      \
  X(ANALYST, "analyst")                     \
  X(LEGAL_OFFICER, "legal_officer")         \
  X(AUDITOR, "auditor")                     \
  X(ADMIN, "admin")                         \
  X(FOCAL_POINT, "focal_point")             \
  X(FOCAL_POINT_ADMIN, "focal_point_admin")

/* A state line's outcome in a search answer (API.md, FOLLOWUP.md). */
#define FB_OUTCOME_MAP(X)        \
  X(SHARED, "shared")            \
  X(HIT_ONLY, "hit_only")        \
  X(DENIED, "denied")            \
  X(WITHHELD, "withheld")        \
  X(ERROR, "error")              \
  X(TIMEOUT, "timeout")          \
  X(UNAVAILABLE, "unavailable")  \
  X(CANCELLED, "cancelled")

/* What an admission rule decides, as policy tests and /v1/policy/evaluate name it;
 * "withheld": the requesting state's own outbound_deny rule kept the request in. The
 * order is fb_effect's (policy/policy.h). */
#define FB_EFFECT_MAP(X)   \
  X(DENY, "deny")          \
  X(HIT_ONLY, "hit_only")  \
  X(ALLOW, "allow")        \
  X(WITHHELD, "withheld")

#define FB_PURPOSE_E(id, name) FB_PURPOSE_##id,
#define FB_PRIORITY_E(id, name) FB_PRIORITY_##id,
#define FB_LEGAL_BASIS_E(id, name) FB_LEGAL_BASIS_##id,
#define FB_SUBJECT_E(id, name) FB_SUBJECT_##id,
#define FB_TAG_E(id, name) FB_TAG_##id,
#define FB_RECORD_TYPE_E(id, name) FB_RECORD_TYPE_##id,
#define FB_RECORD_FIELD_E(id, name) FB_RECORD_FIELD_##id,
#define FB_ROLE_E(id, name) FB_ROLE_INDEX_##id,
#define FB_OUTCOME_E(id, name) FB_OUTCOME_##id,
enum { FB_PURPOSE_MAP(FB_PURPOSE_E) FB_PURPOSE_COUNT };
enum { FB_PRIORITY_MAP(FB_PRIORITY_E) FB_PRIORITY_COUNT };
enum { FB_LEGAL_BASIS_MAP(FB_LEGAL_BASIS_E) FB_LEGAL_BASIS_COUNT };
enum { FB_SUBJECT_MAP(FB_SUBJECT_E) FB_SUBJECT_COUNT };
enum { FB_TAG_MAP(FB_TAG_E) FB_TAG_COUNT };
enum { FB_RECORD_TYPE_MAP(FB_RECORD_TYPE_E) FB_RECORD_TYPE_COUNT };
enum { FB_RECORD_FIELD_MAP(FB_RECORD_FIELD_E) FB_RECORD_FIELD_COUNT };
enum { FB_ROLE_MAP(FB_ROLE_E) FB_ROLE_COUNT };
enum { FB_OUTCOME_MAP(FB_OUTCOME_E) FB_OUTCOME_COUNT };

/* The names, in table order, each array ending with NULL. */
extern const char *const fb_purposes[FB_PURPOSE_COUNT + 1];
extern const char *const fb_priorities[FB_PRIORITY_COUNT + 1];
extern const char *const fb_legal_bases[FB_LEGAL_BASIS_COUNT + 1];
extern const char *const fb_subject_fields[FB_SUBJECT_COUNT + 1];
extern const char *const fb_tags[FB_TAG_COUNT + 1];
extern const char *const fb_record_types[FB_RECORD_TYPE_COUNT + 1];
extern const char *const fb_record_fields[FB_RECORD_FIELD_COUNT + 1];
extern const char *const fb_role_names[FB_ROLE_COUNT + 1];
extern const char *const fb_outcomes[FB_OUTCOME_COUNT + 1];
extern const char *const fb_effects[5];

/* Index of `s` in the NULL-terminated `list`, or -1 (also for NULL). */
int fb_list_index(const char *const *list, const char *s);
/* Writes "a, b, c" into `out` (truncated to `n`); returns `out`. */
const char *fb_list_text(const char *const *list, char *out, size_t n);

/* True when `s` is one of the 249 ISO 3166-1 alpha-3 codes (iso-codes 4.x). */
bool fb_iso3166_alpha3(const char *s);
/* The ISO 3166-1 alpha-3 codes, NULL-terminated, sorted. */
extern const char *const *const fb_iso3166_codes;

#endif
