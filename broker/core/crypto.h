/* The cryptographic helpers every module shares: base64 and base64url, PEM key files,
 * Ed25519 signatures. One implementation each, so that a token, an audit checkpoint
 * and a signed policy file are decoded and checked the same way. */
#ifndef FB_CORE_CRYPTO_H
#define FB_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/util.h"

/* --- base64 (RFC 4648) ---------------------------------------------------------------
 * base64 is section 4, padded with '=' to a multiple of 4 characters; base64url is
 * section 5 without padding (RFC 7515 section 2). The decoders are strict: they refuse
 * characters outside the alphabet (whitespace included), wrong padding, impossible
 * lengths and non-zero unused trailing bits, so every byte string has exactly one
 * accepted encoding. */

/* Appends the encoding of `n` bytes to `out` (which is NUL-terminated afterwards). */
void fb_base64_encode(const void *in, size_t n, fb_buf *out);
void fb_base64url_encode(const void *in, size_t n, fb_buf *out);

/* Bytes needed to decode `n` characters of either form (an upper bound). */
#define FB_BASE64_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* Decodes `n` characters into `out` (room for FB_BASE64_DECODED_MAX(n)). Returns the
 * decoded length, or -1 on any malformation. */
long fb_base64_decode(const char *in, size_t n, uint8_t *out);
long fb_base64url_decode(const char *in, size_t n, uint8_t *out);

/* --- PEM key files -------------------------------------------------------------------
 * Files are capped at 64 KiB; an encrypted private key is refused (never a passphrase
 * prompt). On failure these return NULL with *err (core/error.h) naming the file:
 * "<path>: <what is wrong>". */

/* A "BEGIN PUBLIC KEY" file. A new key: EVP_PKEY_free it. */
EVP_PKEY *fb_pem_load_public_key(const char *path, char **err);
/* An unencrypted private key (PKCS #8, or the traditional EC/RSA forms). */
EVP_PKEY *fb_pem_load_private_key(const char *path, char **err);

/* --- Ed25519 -------------------------------------------------------------------------*/

#define FB_ED25519_SIG_LEN 64

/* fb_pem_load_public_key / _private_key that also refuse any key but Ed25519
 * ("<path>: not an Ed25519 key"). */
EVP_PKEY *fb_ed25519_load_public_key(const char *path, char **err);
EVP_PKEY *fb_ed25519_load_private_key(const char *path, char **err);

/* Signs `len` bytes with an Ed25519 private key. 0, or -1 if the key cannot sign. */
int fb_ed25519_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[FB_ED25519_SIG_LEN]);

/* True when `sig` (`siglen` bytes: anything but 64 is refused) is `pub`'s signature
 * over the message. Leaves no error on OpenSSL's queue. */
bool fb_ed25519_verify(EVP_PKEY *pub, const void *msg, size_t len, const uint8_t *sig, size_t siglen);

/* fb_ed25519_verify with the signature given as padded base64 text (`n` characters):
 * how audit checkpoints and policy .sig files carry it. */
bool fb_ed25519_verify_base64(EVP_PKEY *pub, const void *msg, size_t len, const char *sig_b64, size_t n);

#endif
