/* Hashing, key ids and checkpoint signatures (Ed25519 over the ASCII text of `prev`). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "audit/internal.h"
#include "core/util.h"

char *fb_audit_errf(const char *fmt, ...) {
  fb_buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return fb_xstrdup("error");
  fb_buf_reserve(&b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b.data, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b.len = (size_t)n;
  return fb_buf_steal(&b);
}

void fb_audit_sha256(const void *data, size_t len, uint8_t out[32]) {
  SHA256(data, len, out);
}

int fb_audit_key_id(EVP_PKEY *key, char out[17]) {
  uint8_t raw[32], h[32];
  size_t n = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1 || n != sizeof raw) return -1;
  fb_audit_sha256(raw, n, h);
  char hex[65];
  fb_hex_encode(h, sizeof h, hex);
  memcpy(out, hex, 16);
  out[16] = '\0';
  return 0;
}

int fb_audit_sign(EVP_PKEY *key, const char *msg, size_t len, char out[89]) {
  uint8_t sig[64];
  size_t siglen = sizeof sig;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
           EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)msg, len) == 1 && siglen == 64;
  EVP_MD_CTX_free(ctx);
  if (!ok) return -1;
  EVP_EncodeBlock((unsigned char *)out, sig, 64); /* 88 chars + NUL */
  return 0;
}

bool fb_audit_sig_ok(EVP_PKEY *pub, const char *msg, size_t len, const char *sig_b64) {
  size_t b64len = strlen(sig_b64);
  if (b64len != 88) return false; /* 64 bytes, padded: exactly 88 chars */
  uint8_t sig[66];
  if (EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, (int)b64len) != 66) return false;
  /* EVP_DecodeBlock counts the padding bytes; "==" at the end means 64 real bytes. */
  if (sig_b64[86] != '=' || sig_b64[87] != '=') return false;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
            EVP_DigestVerify(ctx, sig, 64, (const uint8_t *)msg, len) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

static EVP_PKEY *load_pem(const char *path, bool priv, char **err) {
  FILE *f = fopen(path, "r");
  if (!f) {
    *err = fb_audit_errf("cannot open key %s: %s", path, strerror(errno));
    return NULL;
  }
  EVP_PKEY *k = priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
  if (!k && !priv) { /* a private key file also gives its public half */
    rewind(f);
    ERR_clear_error();
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  }
  fclose(f);
  ERR_clear_error();
  if (!k) {
    *err = fb_audit_errf("%s is not a PEM %s key", path, priv ? "private" : "public");
    return NULL;
  }
  if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(k);
    *err = fb_audit_errf("%s is not an Ed25519 key", path);
    return NULL;
  }
  return k;
}

EVP_PKEY *fb_audit_load_private_key(const char *path, char **err) { return load_pem(path, true, err); }

EVP_PKEY *fb_audit_load_public_key(const char *path, char **err) { return load_pem(path, false, err); }
