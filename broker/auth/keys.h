/* Loading PEM keys for the auth module and its callers (the token CLI, the demo's
 * token issuer). Files are capped at 64 KiB; encrypted private keys are refused
 * (never a passphrase prompt). */
#ifndef FB_AUTH_KEYS_H
#define FB_AUTH_KEYS_H

#include <openssl/evp.h>

/* A public key from a "BEGIN PUBLIC KEY" PEM file. Returns a new key (EVP_PKEY_free)
 * or NULL with *err a malloc'd message naming the file. */
EVP_PKEY *fb_auth_load_public_key(const char *path, char **err);

/* An unencrypted private key (PKCS #8, or traditional EC/RSA PEM). Same contract. */
EVP_PKEY *fb_auth_load_private_key(const char *path, char **err);

#endif
