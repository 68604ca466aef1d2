#include "auth/jws.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#define ES256_HALF 32

fb_jws_alg fb_jws_alg_for_key(EVP_PKEY *key, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  if (!key) {
    *why = "no key";
    return FB_JWS_NONE;
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return FB_JWS_EDDSA;
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64];
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1 ||
        (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
      *why = "EC keys must be on curve P-256 (ES256)";
      return FB_JWS_NONE;
    }
    return FB_JWS_ES256;
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) {
      *why = "RSA keys must have at least 2048 bits";
      return FB_JWS_NONE;
    }
    return FB_JWS_RS256;
  }
  *why = "key type is not Ed25519, EC P-256 or RSA";
  return FB_JWS_NONE;
}

const char *fb_jws_alg_name(fb_jws_alg alg) {
  switch (alg) {
  case FB_JWS_EDDSA: return "EdDSA";
  case FB_JWS_ES256: return "ES256";
  case FB_JWS_RS256: return "RS256";
  default: return NULL;
  }
}

/* Ed25519 signs the message itself (no digest); the others hash with SHA-256. */
static const EVP_MD *digest_for(fb_jws_alg alg) {
  return alg == FB_JWS_EDDSA ? NULL : EVP_sha256();
}

int fb_jws_sign(EVP_PKEY *key, fb_jws_alg alg, const void *data, size_t n, fb_buf *sig) {
  if (alg == FB_JWS_NONE) return -1;
  int rc = -1;
  uint8_t *raw = NULL;
  ECDSA_SIG *esig = NULL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx, NULL, digest_for(alg), NULL, key) != 1) goto done;
  if (EVP_DigestSign(ctx, NULL, &len, data, n) != 1) goto done;
  raw = fb_xmalloc(len);
  if (EVP_DigestSign(ctx, raw, &len, data, n) != 1) goto done;
  if (alg == FB_JWS_ES256) {
    /* OpenSSL produces DER; JWS wants fixed-width big-endian r||s. */
    const uint8_t *p = raw;
    esig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (!esig) goto done;
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(esig, &r, &s);
    uint8_t rs[2 * ES256_HALF];
    if (BN_bn2binpad(r, rs, ES256_HALF) != ES256_HALF ||
        BN_bn2binpad(s, rs + ES256_HALF, ES256_HALF) != ES256_HALF)
      goto done;
    fb_buf_append(sig, rs, sizeof rs);
  } else {
    fb_buf_append(sig, raw, len);
  }
  rc = 0;
done:
  if (rc != 0) ERR_clear_error();
  ECDSA_SIG_free(esig);
  free(raw);
  EVP_MD_CTX_free(ctx);
  return rc;
}

bool fb_jws_verify(EVP_PKEY *key, fb_jws_alg alg, const void *data, size_t n,
                   const uint8_t *sig, size_t siglen) {
  /* The caller derived `alg` from `key` at load time (no per-token key inspection). */
  if (alg == FB_JWS_NONE || !key) return false;
  bool ok = false;
  uint8_t *der = NULL;
  ECDSA_SIG *esig = NULL;
  BIGNUM *r = NULL, *s = NULL;
  EVP_MD_CTX *ctx = NULL;
  switch (alg) {
  case FB_JWS_EDDSA:
    if (siglen != 64) return false;
    break;
  case FB_JWS_RS256:
    if (siglen != (size_t)EVP_PKEY_get_size(key)) return false;
    break;
  case FB_JWS_ES256: {
    if (siglen != 2 * ES256_HALF) return false;
    esig = ECDSA_SIG_new();
    r = BN_bin2bn(sig, ES256_HALF, NULL);
    s = BN_bin2bn(sig + ES256_HALF, ES256_HALF, NULL);
    if (!esig || !r || !s || ECDSA_SIG_set0(esig, r, s) != 1) goto done;
    r = s = NULL; /* owned by esig now */
    int derlen = i2d_ECDSA_SIG(esig, &der);
    if (derlen <= 0) goto done;
    sig = der;
    siglen = (size_t)derlen;
    break;
  }
  default:
    return false;
  }
  ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestVerifyInit(ctx, NULL, digest_for(alg), NULL, key) != 1) goto done;
  ok = EVP_DigestVerify(ctx, sig, siglen, data, n) == 1;
done:
  ERR_clear_error(); /* a failed verification leaves errors queued */
  EVP_MD_CTX_free(ctx);
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(esig);
  OPENSSL_free(der);
  return ok;
}
