/* Who is asking: the identity a request runs as, whether it came from a bearer token
 * (auth/jwt.h) or from a verified TLS client certificate (this file).
 *
 * fb_identity is a plain value with no heap pointers: callers copy it with `=` and
 * never free it. Every string field is NUL-terminated and free of control
 * characters; `state` is always three uppercase ASCII letters. */
#ifndef FB_AUTH_IDENTITY_H
#define FB_AUTH_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "core/vocab.h"

/* FB_ROLE_ANALYST, FB_ROLE_LEGAL_OFFICER, ...: one bit per role of FB_ROLE_MAP. */
#define FB_ROLE_BIT_(id, name) FB_ROLE_##id = 1u << FB_ROLE_INDEX_##id,
enum { FB_ROLE_MAP(FB_ROLE_BIT_) };
#undef FB_ROLE_BIT_

/* The `issuer` of an identity taken from a client certificate. */
#define FB_IDENTITY_CERT_ISSUER "tls-client-cert"

typedef struct fb_identity {
  char sub[128];
  char state[8];             /* ISO 3166-1 alpha-3, e.g. "MYS" */
  char agency[128];          /* "" when not given */
  unsigned roles;            /* FB_ROLE_* bits */
  int64_t exp;               /* token expiry, epoch seconds; 0 for certificates */
  char issuer[256];          /* the token's `iss`, or FB_IDENTITY_CERT_ISSUER */
} fb_identity;

/* "analyst" -> FB_ROLE_ANALYST, ...; 0 for an unknown (or NULL) name. */
int fb_roles_parse(const char *name);

/* Parses a comma-separated list ("analyst,auditor"). Returns the role mask, or -1 on
 * an unknown or empty name (then *bad, if given, points at the offending text inside
 * `list`, which runs to the next comma). */
int fb_roles_parse_list(const char *list, const char **bad);

/* The canonical name of one role bit, or NULL. */
const char *fb_role_name(unsigned role);

/* New reference to the names of the bits set, in FB_ROLE_MAP order ("analyst",
 * "legal_officer", "auditor", "admin", "focal_point", "focal_point_admin"). The caller owns the reference (json_decref). */
json_t *fb_roles_to_json(unsigned roles);

/* New reference to {"sub","state","agency","roles","issuer","exp"} ("exp" omitted
 * when 0). The caller owns the reference. */
json_t *fb_identity_to_json(const fb_identity *id);

/* True if `s` is exactly three uppercase ASCII letters. */
bool fb_state_code_valid(const char *s);

/* Copies `n` bytes of `s` into `dst` (NUL-terminated) if they are acceptable identity
 * text: 1..cap-1 bytes, no NUL and no control bytes (they would otherwise reach logs
 * and audit records). Returns false, leaving `dst` untouched, otherwise. */
bool fb_identity_copy_text(const char *s, size_t n, char *dst, size_t cap);

/* Identity from a client certificate that the TLS layer has ALREADY verified against
 * the configured client CA: this function checks only the subject, never the chain.
 * Subject mapping (docs/identity.md):
 *   CN -> sub (exactly one, required)
 *   ST (stateOrProvinceName) -> state (exactly one, required, 3 uppercase letters)
 *   O  -> agency (at most one, optional)
 *   OU -> one role each ("analyst", ...); unknown OUs are ignored, but at least one
 *         known role is required.
 * Returns 0 and fills *out, or -1 with *why set to a static sentence (never freed).
 * `cert` is borrowed. */
int fb_identity_from_cert(X509 *cert, fb_identity *out, const char **why);

/* The requester as the audit log records it: {"sub","state","agency","roles"} (new ref). */
json_t *fb_identity_requester_json(const fb_identity *id);

#endif
