/* JWS signature primitives for the three algorithms we accept, on OpenSSL 3 EVP.
 * Internal to the auth module. The algorithm is always derived from the key type at
 * load time (fb_jws_alg_for_key); a token's `alg` is only compared against it. */
#ifndef FB_AUTH_JWS_H
#define FB_AUTH_JWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/util.h"

typedef enum { FB_JWS_NONE = 0, FB_JWS_EDDSA, FB_JWS_ES256, FB_JWS_RS256 } fb_jws_alg;

/* The algorithm a key may be used with: Ed25519 -> EdDSA, EC on P-256 -> ES256,
 * RSA (not RSA-PSS) of at least 2048 bits -> RS256; anything else FB_JWS_NONE. When
 * `why` is given and the result is FB_JWS_NONE, *why is a static sentence. */
fb_jws_alg fb_jws_alg_for_key(EVP_PKEY *key, const char **why);

/* "EdDSA", "ES256", "RS256"; NULL for FB_JWS_NONE. */
const char *fb_jws_alg_name(fb_jws_alg alg);

/* Signs `data` with the private `key`, appending the JWS signature bytes to `sig`
 * (ES256: the 64-byte r||s form, not DER). Returns 0, or -1 on an OpenSSL failure. */
int fb_jws_sign(EVP_PKEY *key, fb_jws_alg alg, const void *data, size_t n, fb_buf *sig);

/* True only if `sig` is a valid `alg` signature of `data` under `key`. */
bool fb_jws_verify(EVP_PKEY *key, fb_jws_alg alg, const void *data, size_t n,
                   const uint8_t *sig, size_t siglen);

#endif
