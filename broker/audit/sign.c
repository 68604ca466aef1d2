/* Hashing, key ids and checkpoint signatures (Ed25519 over the ASCII text of `prev`). */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "audit/internal.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/util.h"

void audit_sha256(const void *data, size_t len, uint8_t out[32]) {
  SHA256(data, len, out);
}

int audit_key_id(EVP_PKEY *key, char out[17]) {
  uint8_t raw[32], h[32];
  size_t n = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1 || n != sizeof raw) return -1;
  audit_sha256(raw, n, h);
  char hex[65];
  fb_hex_encode(h, sizeof h, hex);
  memcpy(out, hex, 16);
  out[16] = '\0';
  return 0;
}

int audit_sign(EVP_PKEY *key, const char *msg, size_t len, char out[89]) {
  uint8_t sig[FB_ED25519_SIG_LEN];
  if (fb_ed25519_sign(key, msg, len, sig) != 0) return -1;
  fb_buf b = {0};
  fb_base64_encode(sig, sizeof sig, &b); /* 88 characters */
  memcpy(out, b.data, b.len + 1);
  fb_buf_free(&b);
  return 0;
}

bool audit_sig_ok(EVP_PKEY *pub, const char *msg, size_t len, const char *sig_b64) {
  return fb_ed25519_verify_base64(pub, msg, len, sig_b64, strlen(sig_b64));
}

EVP_PKEY *audit_load_private_key(const char *path, char **err) {
  return fb_ed25519_load_private_key(path, err);
}

EVP_PKEY *fb_audit_load_public_key(const char *path, char **err) {
  char *perr = NULL;
  EVP_PKEY *k = fb_pem_load_public_key(path, &perr);
  if (!k) k = fb_pem_load_private_key(path, NULL); /* a private key file gives its public half */
  if (!k) {
    *err = perr;
    return NULL;
  }
  free(perr);
  if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(k);
    fb_set_error(err, "%s: not an Ed25519 key", path);
    return NULL;
  }
  return k;
}
