#include "core/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.h"

/* --- base64 ------------------------------------------------------------------------- */

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(const char *alphabet, bool pad, const void *in, size_t n, fb_buf *out) {
  const uint8_t *p = in;
  fb_buf_reserve(out, (n + 2) / 3 * 4);
  fb_buf_append(out, "", 0); /* reserve alone leaves a fresh buffer unterminated */
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                 alphabet[v & 63]};
    fb_buf_append(out, q, 4);
  }
  size_t rest = n - i;
  if (rest == 0) return;
  uint32_t v = (uint32_t)p[i] << 16 | (rest == 2 ? (uint32_t)p[i + 1] << 8 : 0);
  char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], rest == 2 ? alphabet[(v >> 6) & 63] : '=', '='};
  fb_buf_append(out, q, pad ? 4 : rest + 1);
}

void fb_base64_encode(const void *in, size_t n, fb_buf *out) { encode(std_alphabet, true, in, n, out); }

void fb_base64url_encode(const void *in, size_t n, fb_buf *out) { encode(url_alphabet, false, in, n, out); }

/* The 6-bit value of `c` in the alphabet whose characters 62 and 63 are c62 and c63. */
static int value(unsigned char c, char c62, char c63) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (unsigned char)c62) return 62;
  if (c == (unsigned char)c63) return 63;
  return -1;
}

/* Decodes unpadded text; the caller has removed the padding. */
static long decode(const char *in, size_t n, uint8_t *out, char c62, char c63) {
  if (n % 4 == 1) return -1; /* one leftover character cannot encode a byte */
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = value((unsigned char)in[i], c62, c63);
    if (v < 0) return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return -1; /* non-canonical: leftover bits must be zero */
  return (long)o;
}

long fb_base64url_decode(const char *in, size_t n, uint8_t *out) { return decode(in, n, out, '-', '_'); }

long fb_base64_decode(const char *in, size_t n, uint8_t *out) {
  if (n % 4 != 0) return -1; /* padded: whole quads only */
  size_t body = n; /* at most two '=', at the end; any other '=' fails in decode() */
  if (body && in[body - 1] == '=') body--;
  if (body && in[body - 1] == '=') body--;
  return decode(in, body, out, '+', '/');
}

/* --- PEM key files ------------------------------------------------------------------ */

#define MAX_KEY_FILE 65536

/* Never prompts: an encrypted key is an error, not a tty dialogue. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static EVP_PKEY *load_pem(const char *path, bool priv, char **err) {
  size_t len = 0;
  char *pem = fb_read_file(path, MAX_KEY_FILE, &len);
  if (!pem) {
    fb_set_error(err, "%s: %s", path, errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
    return NULL;
  }
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *key = NULL;
  if (bio)
    key = priv ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
               : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
  BIO_free(bio);
  OPENSSL_cleanse(pem, len);
  free(pem);
  ERR_clear_error();
  if (!key)
    fb_set_error(err, "%s: %s", path,
                 priv ? "not an unencrypted PEM private key" : "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  return key;
}

EVP_PKEY *fb_pem_load_public_key(const char *path, char **err) { return load_pem(path, false, err); }

EVP_PKEY *fb_pem_load_private_key(const char *path, char **err) { return load_pem(path, true, err); }

/* --- Ed25519 ------------------------------------------------------------------------ */

static EVP_PKEY *only_ed25519(EVP_PKEY *key, const char *path, char **err) {
  if (key && EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    fb_set_error(err, "%s: not an Ed25519 key", path);
    return NULL;
  }
  return key;
}

EVP_PKEY *fb_ed25519_load_public_key(const char *path, char **err) {
  return only_ed25519(load_pem(path, false, err), path, err);
}

EVP_PKEY *fb_ed25519_load_private_key(const char *path, char **err) {
  return only_ed25519(load_pem(path, true, err), path, err);
}

int fb_ed25519_sign(EVP_PKEY *key, const void *msg, size_t len, uint8_t sig[FB_ED25519_SIG_LEN]) {
  size_t siglen = FB_ED25519_SIG_LEN;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 &&
            EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
            EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == FB_ED25519_SIG_LEN;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok ? 0 : -1;
}

bool fb_ed25519_verify(EVP_PKEY *pub, const void *msg, size_t len, const uint8_t *sig, size_t siglen) {
  if (siglen != FB_ED25519_SIG_LEN || EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519) return false;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
            EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

bool fb_ed25519_verify_base64(EVP_PKEY *pub, const void *msg, size_t len, const char *sig_b64, size_t n) {
  uint8_t sig[FB_BASE64_DECODED_MAX(88)];
  if (n != 88) return false; /* 64 bytes, padded: exactly 88 characters */
  long got = fb_base64_decode(sig_b64, n, sig);
  return got == FB_ED25519_SIG_LEN && fb_ed25519_verify(pub, msg, len, sig, (size_t)got);
}
