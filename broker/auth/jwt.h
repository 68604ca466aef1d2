/* Bearer-token authentication: verifying compact JWS tokens (JWTs) against the
 * configured issuers, with a cache of verified tokens, and minting tokens for tests,
 * the demo and the pilot.
 *
 * Accepted algorithms are EdDSA (Ed25519), ES256 (P-256, raw r||s signature) and
 * RS256 (RSA >= 2048 bits), and a token is accepted only when its `alg` is the one
 * that matches its issuer's key type; `none`, HMAC algorithms and anything else are
 * rejected. Keys embedded in headers (jwk, jku, x5u, x5c) are ignored: the key is
 * always the configured one. See docs/identity.md for every check.
 *
 * Threads: an fb_authn is NOT thread-safe (its cache is mutated by every lookup).
 * The hub uses it from its single event-loop thread only, so there is no locking. */
#ifndef FB_AUTH_JWT_H
#define FB_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "auth/identity.h"
#include "config/config.h"

#define FB_JWT_MAX_LEN 8192          /* longer tokens are rejected unparsed */
#define FB_JWT_LEEWAY_S 60           /* clock skew allowed on exp and nbf */
#define FB_JWT_DEFAULT_AUD "fedbroker"
#define FB_AUTHN_CACHE_DEFAULT 4096  /* verified tokens remembered */

typedef struct fb_authn fb_authn;    /* issuers' keys + a verified-token cache */

/* Loads every issuer's public key (PEM file `key`), checking that its type is one we
 * accept. `issuers` is only read during the call (strings are copied). A NULL `aud`
 * means FB_JWT_DEFAULT_AUD; a NULL `kid` means tokens' kid is not checked; when `kid`
 * is set, a token must carry exactly that kid. Returns NULL with *err set to a
 * malloc'd message ("issuers[2]: ...") that the caller frees. */
fb_authn *fb_authn_new(const fb_issuer_config *issuers, size_t n, char **err);

/* Same, with a cache of about `cache_entries` tokens (rounded up to a power of two,
 * at least 8; 0 disables the cache). */
fb_authn *fb_authn_new_with_cache(const fb_issuer_config *issuers, size_t n,
                                  size_t cache_entries, char **err);

void fb_authn_free(fb_authn *a);

/* Authenticates a request. `authorization` is the raw Authorization header value
 * (NULL when absent); the scheme must be "Bearer" (case-insensitive). `now` is epoch
 * seconds (tests pass a fixed clock). Returns 0 and fills *out, or -1 with *why set
 * to a static human sentence (never freed; safe to put in a 401 body). A token seen
 * before is answered from the cache without verifying its signature again; the same
 * exp/nbf checks are applied to cached tokens. */
int fb_authn_bearer(fb_authn *a, const char *authorization, int64_t now, fb_identity *out,
                    const char **why);

/* One request's identity: the bearer token when an Authorization header is present
 * (even if a client certificate was also presented — the explicit credential wins),
 * else the verified TLS client certificate `peer_cert` (borrowed; NULL when none),
 * else -1 with "missing Authorization header ...". Same contract as above. */
int fb_authn_request(fb_authn *a, const char *authorization, X509 *peer_cert, int64_t now,
                     fb_identity *out, const char **why);

typedef struct {
  uint64_t hits, misses;     /* cache lookups of syntactically plausible tokens */
  uint64_t evictions;        /* live entries pushed out to make room */
  size_t entries, capacity;
} fb_authn_stats;

void fb_authn_get_stats(const fb_authn *a, fb_authn_stats *out);

/* "EdDSA", "ES256" or "RS256" for a key we can use, else NULL (e.g. a P-384 key or
 * RSA below 2048 bits). */
const char *fb_jwt_alg_for_key(EVP_PKEY *key);

/* Mints a compact JWS signed with `key` (private; borrowed): Ed25519 -> EdDSA, EC
 * P-256 -> ES256, RSA -> RS256. Claims: iss, aud (NULL = FB_JWT_DEFAULT_AUD), sub,
 * state, agency (omitted when NULL), roles (names in fixed order), iat, nbf = iat,
 * exp = iat + ttl_s. Returns a malloc'd NUL-terminated token, or NULL with *err set
 * to a malloc'd message. */
char *fb_token_mint(EVP_PKEY *key, const char *iss, const char *aud, const char *sub,
                    const char *state, const char *agency, unsigned roles, int64_t iat,
                    int64_t ttl_s, char **err);

/* Same, with a `kid` header when `kid` is not NULL. */
char *fb_token_mint_kid(EVP_PKEY *key, const char *kid, const char *iss, const char *aud,
                        const char *sub, const char *state, const char *agency,
                        unsigned roles, int64_t iat, int64_t ttl_s, char **err);

#endif
