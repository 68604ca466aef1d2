/* JWT verification: every accepted algorithm, every rejection rule, leeway edges and
 * the verified-token cache. Keys are generated here; nothing is read from the repo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/jws.h"
#include "auth/jwt.h"
#include "core/crypto.h"

#define NOW 1800000000LL
#define ISS_ED "https://idp.example.my"
#define ISS_EC "https://idp.example.id"
#define ISS_RSA "https://idp.example.th"
#define ISS_KID "https://idp.example.bd"
#define ISS_AUD "https://idp.example.ph"

static EVP_PKEY *ed, *ec, *rsa, *ec2;
static char dir[] = "/tmp/fb_auth_test_XXXXXX";
static char ed_pub[256], ec_pub[256], rsa_pub[256], ec_priv[256];
static fb_authn *authn;

static void write_key(EVP_PKEY *k, char *path, const char *name, bool priv) {
  snprintf(path, 256, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
                        : PEM_write_PUBKEY(f, k),
                   1);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  if (!ed || !ec || !ec2 || !rsa) return -1;
  write_key(ed, ed_pub, "ed.pub", false);
  write_key(ec, ec_pub, "ec.pub", false);
  write_key(rsa, rsa_pub, "rsa.pub", false);
  write_key(ec, ec_priv, "ec.key", true);
  fb_issuer_config iss[] = {
      {.iss = ISS_ED, .key = ed_pub},
      {.iss = ISS_EC, .key = ec_pub},
      {.iss = ISS_RSA, .key = rsa_pub, .aud = "fedbroker"},
      {.iss = ISS_KID, .key = ed_pub, .kid = "k1"},
      {.iss = ISS_AUD, .key = ed_pub, .aud = "hub-2"},
  };
  char *err = NULL;
  authn = fb_authn_new(iss, 5, &err);
  if (!authn) {
    fprintf(stderr, "%s\n", err);
    free(err);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fb_authn_free(authn);
  EVP_PKEY_free(ed);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(ec2);
  EVP_PKEY_free(rsa);
  unlink(ed_pub);
  unlink(ec_pub);
  unlink(rsa_pub);
  unlink(ec_priv);
  rmdir(dir);
  return 0;
}

/* ---- helpers ----------------------------------------------------------------------- */

/* "Bearer " + b64(hdr) "." b64(payload) "." sig, where the signature is made with
 * `key`/`alg` unless `key` is NULL (then `rawsig` is appended as given). Caller frees. */
static char *bearer(const char *hdr, const char *payload, EVP_PKEY *key, fb_jws_alg alg,
                    const char *rawsig) {
  fb_buf t = {0};
  fb_buf_puts(&t, "Bearer ");
  size_t start = t.len;
  fb_base64url_encode(hdr, strlen(hdr), &t);
  fb_buf_putc(&t, '.');
  fb_base64url_encode(payload, strlen(payload), &t);
  if (key) {
    fb_buf sig = {0};
    assert_int_equal(fb_jws_sign(key, alg, t.data + start, t.len - start, &sig), 0);
    fb_buf_putc(&t, '.');
    fb_base64url_encode(sig.data, sig.len, &t);
    fb_buf_free(&sig);
  } else {
    fb_buf_putc(&t, '.');
    fb_buf_puts(&t, rawsig);
  }
  return fb_buf_steal(&t);
}

/* A claims object with the usual fields; `extra` is spliced in (must start with ","),
 * and fields can be replaced by passing them in extra after removing via `omit`. */
static char *claims(const char *iss, const char *omit, const char *extra) {
  struct {
    const char *name, *json;
  } f[] = {
      {"iss", NULL},
      {"sub", "\"u-1001\""},
      {"aud", "\"fedbroker\""},
      {"exp", "1800000600"},
      {"iat", "1800000000"},
      {"state", "\"MYS\""},
      {"agency", "\"PDRM\""},
      {"roles", "[\"analyst\",\"auditor\"]"},
  };
  fb_buf b = {0};
  fb_buf_putc(&b, '{');
  bool first = true;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    if (omit && strstr(omit, f[i].name)) continue;
    if (!first) fb_buf_putc(&b, ',');
    first = false;
    if (f[i].json)
      fb_buf_printf(&b, "\"%s\":%s", f[i].name, f[i].json);
    else
      fb_buf_printf(&b, "\"iss\":\"%s\"", iss);
  }
  if (extra) fb_buf_puts(&b, first ? extra + 1 : extra);
  fb_buf_putc(&b, '}');
  return fb_buf_steal(&b);
}

/* Signs `claims(iss, omit, extra)` with the Ed25519 key and runs the verifier. */
static int check_ed(const char *omit, const char *extra, int64_t now, fb_identity *id,
                    const char **why) {
  char *c = claims(ISS_ED, omit, extra);
  char *t = bearer("{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", c, ed, FB_JWS_EDDSA, NULL);
  int rc = fb_authn_bearer(authn, t, now, id, why);
  free(c);
  free(t);
  return rc;
}

#define assert_rejected(rc, why, expect)                                                 \
  do {                                                                                   \
    assert_int_equal((rc), -1);                                                          \
    assert_non_null(why);                                                                \
    if (!strstr((why), (expect))) fail_msg("reason '%s' lacks '%s'", (why), (expect));  \
  } while (0)

/* ---- accepted -------------------------------------------------------------------- */

static void verify_minted(EVP_PKEY *key, const char *iss) {
  char *err = NULL;
  char *tok = fb_token_mint(key, iss, NULL, "officer.7", "IDN", "POLRI",
                            FB_ROLE_ANALYST | FB_ROLE_LEGAL_OFFICER, NOW, 600, &err);
  assert_non_null(tok);
  assert_null(err);
  char *h = NULL;
  assert_true(asprintf(&h, "Bearer %s", tok) > 0);
  fb_identity id;
  const char *why = "unset";
  assert_int_equal(fb_authn_bearer(authn, h, NOW + 10, &id, &why), 0);
  assert_null(why);
  assert_string_equal(id.sub, "officer.7");
  assert_string_equal(id.state, "IDN");
  assert_string_equal(id.agency, "POLRI");
  assert_int_equal(id.roles, FB_ROLE_ANALYST | FB_ROLE_LEGAL_OFFICER);
  assert_int_equal(id.exp, NOW + 600);
  assert_string_equal(id.issuer, iss);
  free(h);
  free(tok);
}

static void test_accepts_eddsa(void **s) { (void)s; verify_minted(ed, ISS_ED); }
static void test_accepts_es256(void **s) { (void)s; verify_minted(ec, ISS_EC); }
static void test_accepts_rs256(void **s) { (void)s; verify_minted(rsa, ISS_RSA); }

static void test_accepts_hand_built_and_claim_details(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  /* Unknown role names are ignored; aud may be an array; lowercase scheme is fine. */
  char *c = claims(ISS_ED, "roles,aud",
                   ",\"roles\":[\"analyst\",\"superuser\"],\"aud\":[\"other\",\"fedbroker\"]");
  char *t = bearer("{\"alg\":\"EdDSA\"}", c, ed, FB_JWS_EDDSA, NULL);
  memcpy(t, "bearer", 6);
  assert_int_equal(fb_authn_bearer(authn, t, NOW, &id, &why), 0);
  assert_int_equal(id.roles, FB_ROLE_ANALYST);
  free(c);
  free(t);
  /* No roles claim: authenticated with no roles (the router answers 403). */
  assert_int_equal(check_ed("roles,agency", NULL, NOW, &id, &why), 0);
  assert_int_equal(id.roles, 0);
  assert_string_equal(id.agency, "");
  /* Fractional NumericDate. */
  assert_int_equal(check_ed("exp", ",\"exp\":1800000600.5", NOW, &id, &why), 0);
  assert_int_equal(id.exp, 1800000600);
}

/* ---- rejected: algorithms and keys ----------------------------------------------- */

static void test_rejects_alg_none(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  char *c = claims(ISS_ED, NULL, NULL);
  char *t = bearer("{\"alg\":\"none\"}", c, NULL, FB_JWS_NONE, "");
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "not accepted");
  free(t);
  t = bearer("{\"alg\":\"NONE\"}", c, NULL, FB_JWS_NONE, "AAAA");
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "not accepted");
  free(t);
  t = bearer("{\"typ\":\"JWT\"}", c, NULL, FB_JWS_NONE, "AAAA");
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "no alg");
  free(t);
  free(c);
}

/* The classic confusion attack: HS256 keyed with the issuer's public key PEM. */
static void hs256_with_public_key(const char *iss, const char *pub_path) {
  size_t pemlen = 0;
  char *pem = fb_read_file(pub_path, 65536, &pemlen);
  assert_non_null(pem);
  char *c = claims(iss, NULL, NULL);
  fb_buf si = {0};
  const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  fb_base64url_encode(hdr, strlen(hdr), &si);
  fb_buf_putc(&si, '.');
  fb_base64url_encode(c, strlen(c), &si);
  unsigned char mac[32];
  unsigned maclen = 0;
  assert_non_null(HMAC(EVP_sha256(), pem, (int)pemlen, (unsigned char *)si.data, si.len, mac,
                       &maclen));
  fb_buf t = {0};
  fb_buf_printf(&t, "Bearer %s.", si.data);
  fb_base64url_encode(mac, maclen, &t);
  fb_identity id;
  const char *why;
  assert_rejected(fb_authn_bearer(authn, t.data, NOW, &id, &why), why, "not accepted");
  fb_buf_free(&t);
  fb_buf_free(&si);
  free(c);
  free(pem);
}

static void test_rejects_hs256_with_public_key(void **s) {
  (void)s;
  hs256_with_public_key(ISS_ED, ed_pub);
  hs256_with_public_key(ISS_RSA, rsa_pub);
  hs256_with_public_key(ISS_EC, ec_pub);
}

static void test_rejects_alg_key_mismatch(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  /* ES256 token (validly signed by some EC key) claiming the Ed25519 issuer. */
  char *c = claims(ISS_ED, NULL, NULL);
  char *t = bearer("{\"alg\":\"ES256\"}", c, ec, FB_JWS_ES256, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "does not match the issuer");
  free(t);
  free(c);
  /* RS256 header on the EC issuer. */
  c = claims(ISS_EC, NULL, NULL);
  t = bearer("{\"alg\":\"RS256\"}", c, rsa, FB_JWS_RS256, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "does not match the issuer");
  free(t);
  /* Right alg, wrong key: signed by another P-256 key. */
  t = bearer("{\"alg\":\"ES256\"}", c, ec2, FB_JWS_ES256, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "signature is invalid");
  free(t);
  free(c);
  /* Other algorithms in the family are not accepted either. */
  c = claims(ISS_EC, NULL, NULL);
  t = bearer("{\"alg\":\"ES384\"}", c, ec, FB_JWS_ES256, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "not accepted");
  free(t);
  free(c);
}

static void test_rejects_unknown_issuer(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  char *c = claims("https://evil.example", NULL, NULL);
  char *t = bearer("{\"alg\":\"EdDSA\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "issuer is not trusted");
  free(t);
  free(c);
  assert_rejected(check_ed("iss", NULL, NOW, &id, &why), why, "no iss");
  assert_rejected(check_ed("iss", ",\"iss\":42", NOW, &id, &why), why, "no iss");
}

static void test_kid(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  char *c = claims(ISS_KID, NULL, NULL);
  char *t = bearer("{\"alg\":\"EdDSA\",\"kid\":\"k1\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_int_equal(fb_authn_bearer(authn, t, NOW, &id, &why), 0);
  free(t);
  t = bearer("{\"alg\":\"EdDSA\",\"kid\":\"k2\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "kid does not match");
  free(t);
  t = bearer("{\"alg\":\"EdDSA\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "kid does not match");
  free(t);
  free(c);
  /* No kid configured: any kid is fine, but it must be a string. */
  c = claims(ISS_ED, NULL, NULL);
  t = bearer("{\"alg\":\"EdDSA\",\"kid\":\"whatever\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_int_equal(fb_authn_bearer(authn, t, NOW, &id, &why), 0);
  free(t);
  t = bearer("{\"alg\":\"EdDSA\",\"kid\":7}", c, ed, FB_JWS_EDDSA, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "kid must be a string");
  free(t);
  free(c);
  /* Minting with a kid round-trips. */
  char *err = NULL;
  char *tok = fb_token_mint_kid(ed, "k1", ISS_KID, NULL, "x", "MYS", NULL, FB_ROLE_ADMIN, NOW,
                                60, &err);
  assert_non_null(tok);
  char *h = NULL;
  assert_true(asprintf(&h, "Bearer %s", tok) > 0);
  assert_int_equal(fb_authn_bearer(authn, h, NOW, &id, &why), 0);
  assert_int_equal(id.roles, FB_ROLE_ADMIN);
  free(h);
  free(tok);
}

static void test_rejects_crit(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  char *c = claims(ISS_ED, NULL, NULL);
  char *t = bearer("{\"alg\":\"EdDSA\",\"crit\":[\"b64\"],\"b64\":false}", c, ed, FB_JWS_EDDSA,
                   NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "critical");
  free(t);
  free(c);
}

/* ---- rejected: encoding and structure -------------------------------------------- */

static void test_rejects_bad_base64url(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  char *c = claims(ISS_ED, NULL, NULL);
  char *good = bearer("{\"alg\":\"EdDSA\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_int_equal(fb_authn_bearer(authn, good, NOW, &id, &why), 0);
  size_t n = strlen(good);
  char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');

  /* '=' padding at the end of the signature. */
  char *t = NULL;
  assert_true(asprintf(&t, "%s==", good) > 0);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "outside base64url");
  free(t);
  /* '+' and '/' from the standard alphabet. */
  t = fb_xstrdup(good);
  t[dot1 - good + 3] = '+';
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "outside base64url");
  t[dot1 - good + 3] = '/';
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "outside base64url");
  free(t);
  /* Non-canonical last character of the Ed25519 signature (64 bytes = 86 chars, the
   * last one carries 2 unused bits): flip one of those bits. */
  t = fb_xstrdup(good);
  assert_int_equal(n - (size_t)(dot2 - good) - 1, 86);
  char last = t[n - 1];
  const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  t[n - 1] = alpha[(strchr(alpha, last) - alpha) ^ 1];
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "signature is invalid");
  free(t);
  /* Header segment of impossible length (4k+1). */
  t = NULL;
  assert_true(asprintf(&t, "Bearer eyJhb%s", dot1) > 0);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "header is not");
  free(t);
  /* Two or four segments. */
  t = fb_xstrndup(good, (size_t)(dot2 - good));
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "compact JWS");
  free(t);
  assert_true(asprintf(&t, "%s.AAAA", good) > 0);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "compact JWS");
  free(t);
  /* Empty signature. */
  t = fb_xstrndup(good, (size_t)(dot2 - good) + 1);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "signature is invalid");
  free(t);
  free(good);
  free(c);
}

static void test_rejects_non_object_json(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  char *c = claims(ISS_ED, NULL, NULL);
  const char *hdrs[] = {"[\"EdDSA\"]", "\"EdDSA\"", "{\"alg\":\"EdDSA\"", "",
                        "{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}"};
  for (size_t i = 0; i < 5; i++) {
    char *t = bearer(hdrs[i], c, ed, FB_JWS_EDDSA, NULL);
    assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "header is not");
    free(t);
  }
  const char *payloads[] = {"[1,2]", "42", "null", "{\"iss\":", ""};
  for (size_t i = 0; i < 5; i++) {
    char *t = bearer("{\"alg\":\"EdDSA\"}", payloads[i], ed, FB_JWS_EDDSA, NULL);
    assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "payload is not");
    free(t);
  }
  /* Duplicate claim: which one would another parser pick? Refuse. */
  char *t = bearer("{\"alg\":\"EdDSA\"}", "{\"sub\":\"a\",\"sub\":\"b\"}", ed, FB_JWS_EDDSA, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "payload is not");
  free(t);
  free(c);
}

static void test_rejects_bad_authorization_header(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  assert_rejected(fb_authn_bearer(authn, NULL, NOW, &id, &why), why, "missing");
  assert_rejected(fb_authn_bearer(authn, "", NOW, &id, &why), why, "missing");
  assert_rejected(fb_authn_bearer(authn, "Basic dXNlcjpwdw==", NOW, &id, &why), why, "Bearer");
  assert_rejected(fb_authn_bearer(authn, "Bearer", NOW, &id, &why), why, "Bearer");
  assert_rejected(fb_authn_bearer(authn, "Bearerxyz.a.b", NOW, &id, &why), why, "Bearer");
  assert_rejected(fb_authn_bearer(authn, "Bearer    ", NOW, &id, &why), why, "empty");
  assert_rejected(fb_authn_bearer(authn, "Bearer a.b.c d", NOW, &id, &why), why, "outside");
}

static void test_rejects_oversized(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  /* A ~7 KiB token is fine ... */
  char *pad = fb_xmalloc(6001);
  memset(pad, 'x', 6000);
  pad[6000] = 0;
  char *extra = NULL;
  assert_true(asprintf(&extra, ",\"pad\":\"%.4800s\"", pad) > 0);
  assert_int_equal(check_ed(NULL, extra, NOW, &id, &why), 0);
  free(extra);
  /* ... one over 8 KiB is refused before any parsing. */
  assert_true(asprintf(&extra, ",\"pad\":\"%s\"", pad) > 0);
  assert_rejected(check_ed(NULL, extra, NOW, &id, &why), why, "too large");
  free(extra);
  free(pad);
  /* Exactly the limit passes the size gate; one more byte does not. */
  char *big = fb_xmalloc(7 + FB_JWT_MAX_LEN + 2);
  memcpy(big, "Bearer ", 7);
  memset(big + 7, 'A', FB_JWT_MAX_LEN + 1);
  big[7 + FB_JWT_MAX_LEN + 1] = 0;
  assert_rejected(fb_authn_bearer(authn, big, NOW, &id, &why), why, "too large");
  big[7 + FB_JWT_MAX_LEN] = 0;
  assert_rejected(fb_authn_bearer(authn, big, NOW, &id, &why), why, "compact JWS");
  free(big);
}

/* ---- rejected: claims ------------------------------------------------------------ */

static void test_exp_and_leeway(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  const int64_t exp = 1800000600;
  assert_rejected(check_ed("exp", NULL, NOW, &id, &why), why, "no exp");
  assert_rejected(check_ed("exp", ",\"exp\":\"1800000600\"", NOW, &id, &why), why, "exp is not");
  assert_rejected(check_ed("exp", ",\"exp\":-5", NOW, &id, &why), why, "exp is not");
  assert_rejected(check_ed("exp", ",\"exp\":true", NOW, &id, &why), why, "exp is not");
  assert_rejected(check_ed("exp", ",\"exp\":1e300", NOW, &id, &why), why, "exp is not");
  /* Each check uses a fresh token text (distinct iat) so the cache cannot answer. */
  assert_int_equal(check_ed("iat", ",\"iat\":1", exp + 59, &id, &why), 0);
  assert_int_equal(check_ed("iat", ",\"iat\":2", exp + 60, &id, &why), 0);
  assert_rejected(check_ed("iat", ",\"iat\":3", exp + 61, &id, &why), why, "expired");
  assert_rejected(check_ed("iat", ",\"iat\":4", exp + 3600, &id, &why), why, "expired");
}

static void test_nbf_and_leeway(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  assert_int_equal(check_ed(NULL, ",\"nbf\":1800000059", NOW, &id, &why), 0);
  assert_int_equal(check_ed(NULL, ",\"nbf\":1800000060", NOW, &id, &why), 0);
  assert_rejected(check_ed(NULL, ",\"nbf\":1800000061", NOW, &id, &why), why, "not valid yet");
  assert_rejected(check_ed(NULL, ",\"nbf\":\"soon\"", NOW, &id, &why), why, "nbf is not");
  assert_int_equal(check_ed(NULL, ",\"nbf\":1700000000", NOW, &id, &why), 0);
}

static void test_audience(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  assert_rejected(check_ed("aud", NULL, NOW, &id, &why), why, "audience does not match");
  assert_rejected(check_ed("aud", ",\"aud\":\"fedbroker2\"", NOW, &id, &why), why, "audience");
  assert_rejected(check_ed("aud", ",\"aud\":[\"a\",\"b\"]", NOW, &id, &why), why, "audience");
  assert_rejected(check_ed("aud", ",\"aud\":[]", NOW, &id, &why), why, "audience");
  assert_rejected(check_ed("aud", ",\"aud\":[\"fedbroker\",7]", NOW, &id, &why), why,
                  "array of strings");
  assert_rejected(check_ed("aud", ",\"aud\":{\"x\":1}", NOW, &id, &why), why, "string or");
  /* An issuer configured with its own audience does not accept the default one. */
  char *c = claims(ISS_AUD, NULL, NULL);
  char *t = bearer("{\"alg\":\"EdDSA\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "audience");
  free(t);
  free(c);
  c = claims(ISS_AUD, "aud", ",\"aud\":\"hub-2\"");
  t = bearer("{\"alg\":\"EdDSA\"}", c, ed, FB_JWS_EDDSA, NULL);
  assert_int_equal(fb_authn_bearer(authn, t, NOW, &id, &why), 0);
  free(t);
  free(c);
}

static void test_subject_state_agency_roles(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  assert_rejected(check_ed("sub", NULL, NOW, &id, &why), why, "sub");
  assert_rejected(check_ed("sub", ",\"sub\":\"\"", NOW, &id, &why), why, "sub");
  assert_rejected(check_ed("sub", ",\"sub\":12", NOW, &id, &why), why, "sub");
  assert_rejected(check_ed("sub", ",\"sub\":\"a\\nb\"", NOW, &id, &why), why, "sub");
  char long_sub[200];
  memset(long_sub, 'a', 128);
  long_sub[128] = 0;
  char *extra = NULL;
  assert_true(asprintf(&extra, ",\"sub\":\"%s\"", long_sub) > 0);
  assert_rejected(check_ed("sub", extra, NOW, &id, &why), why, "sub");
  free(extra);
  long_sub[127] = 0; /* 127 bytes fits sub[128] */
  assert_true(asprintf(&extra, ",\"sub\":\"%s\"", long_sub) > 0);
  assert_int_equal(check_ed("sub", extra, NOW, &id, &why), 0);
  assert_string_equal(id.sub, long_sub);
  free(extra);

  assert_rejected(check_ed("state", NULL, NOW, &id, &why), why, "state");
  assert_rejected(check_ed("state", ",\"state\":\"mys\"", NOW, &id, &why), why, "state");
  assert_rejected(check_ed("state", ",\"state\":\"MYSA\"", NOW, &id, &why), why, "state");
  assert_rejected(check_ed("state", ",\"state\":\"MY\"", NOW, &id, &why), why, "state");
  assert_rejected(check_ed("state", ",\"state\":458", NOW, &id, &why), why, "state");

  assert_rejected(check_ed("agency", ",\"agency\":5", NOW, &id, &why), why, "agency");
  assert_rejected(check_ed("agency", ",\"agency\":\"a\\u0007\"", NOW, &id, &why), why, "agency");

  assert_rejected(check_ed("roles", ",\"roles\":\"analyst\"", NOW, &id, &why), why, "roles");
  assert_rejected(check_ed("roles", ",\"roles\":[\"analyst\",1]", NOW, &id, &why), why,
                  "roles");
  assert_rejected(check_ed("roles", ",\"roles\":{\"analyst\":true}", NOW, &id, &why), why,
                  "roles");
  assert_int_equal(check_ed("roles", ",\"roles\":[\"admin\",\"admin\",\"x\"]", NOW, &id, &why),
                   0);
  assert_int_equal(id.roles, FB_ROLE_ADMIN);
}

static void test_tampered_payload(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  char *c = claims(ISS_RSA, NULL, NULL);
  char *t = bearer("{\"alg\":\"RS256\"}", c, rsa, FB_JWS_RS256, NULL);
  free(c);
  /* Re-sign nothing: swap in a payload with more roles. */
  c = claims(ISS_RSA, "roles", ",\"roles\":[\"admin\"]");
  fb_buf b = {0};
  fb_base64url_encode(c, strlen(c), &b);
  char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
  fb_buf f = {0};
  fb_buf_append(&f, t, (size_t)(dot1 - t) + 1);
  fb_buf_puts(&f, b.data);
  fb_buf_puts(&f, dot2);
  assert_rejected(fb_authn_bearer(authn, f.data, NOW, &id, &why), why, "signature is invalid");
  /* Truncated RSA signature. */
  t[strlen(t) - 4] = 0;
  assert_rejected(fb_authn_bearer(authn, t, NOW, &id, &why), why, "signature is invalid");
  fb_buf_free(&b);
  fb_buf_free(&f);
  free(c);
  free(t);
}

/* ---- cache ----------------------------------------------------------------------- */

static void test_cache_hit_same_identity(void **s) {
  (void)s;
  char *err = NULL;
  fb_issuer_config iss[] = {{.iss = ISS_ED, .key = ed_pub}};
  fb_authn *a = fb_authn_new(iss, 1, &err);
  assert_non_null(a);
  char *tok = fb_token_mint(ed, ISS_ED, NULL, "cached", "THA", "RTP", FB_ROLE_AUDITOR, NOW, 300,
                            &err);
  char *h = NULL;
  assert_true(asprintf(&h, "Bearer %s", tok) > 0);
  fb_identity first, second;
  const char *why;
  assert_int_equal(fb_authn_bearer(a, h, NOW, &first, &why), 0);
  fb_authn_stats st;
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.misses, 1);
  assert_int_equal(st.hits, 0);
  assert_int_equal(st.entries, 1);
  assert_int_equal(fb_authn_bearer(a, h, NOW + 100, &second, &why), 0);
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.hits, 1);
  assert_int_equal(st.misses, 1);
  assert_memory_equal(&first, &second, sizeof first);
  assert_int_equal(st.capacity, FB_AUTHN_CACHE_DEFAULT);

  /* The cached token expires at exp (+ leeway) like an uncached one ... */
  assert_int_equal(fb_authn_bearer(a, h, NOW + 300 + 60, &second, &why), 0);
  assert_rejected(fb_authn_bearer(a, h, NOW + 300 + 61, &second, &why), why, "expired");
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.hits, 3); /* answered from the cache, not re-verified */
  assert_int_equal(st.entries, 0); /* and dropped */
  assert_rejected(fb_authn_bearer(a, h, NOW + 300 + 61, &second, &why), why, "expired");
  /* ... and a failed token is never cached. */
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.entries, 0);
  free(h);
  free(tok);
  fb_authn_free(a);
}

/* The cache answers only for the very token it verified: one differing in its last
 * byte (a signature byte) or cut one byte short is looked up, missed and verified. */
static void test_cache_whole_token_is_the_key(void **s) {
  (void)s;
  char *err = NULL;
  fb_issuer_config iss[] = {{.iss = ISS_ED, .key = ed_pub}};
  fb_authn *a = fb_authn_new(iss, 1, &err);
  assert_non_null(a);
  char *tok = fb_token_mint(ed, ISS_ED, NULL, "cached", "THA", "RTP", FB_ROLE_AUDITOR, NOW, 300,
                            &err);
  assert_non_null(tok);
  char *h = NULL;
  assert_true(asprintf(&h, "Bearer %s", tok) > 0);
  fb_identity id;
  const char *why;
  assert_int_equal(fb_authn_bearer(a, h, NOW, &id, &why), 0);
  assert_int_equal(fb_authn_bearer(a, h, NOW, &id, &why), 0);
  fb_authn_stats st;
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.hits, 1);
  assert_int_equal(st.misses, 1);
  char *last = h + strlen(h) - 1;
  char was = *last;
  *last = was == 'A' ? 'B' : 'A';
  assert_rejected(fb_authn_bearer(a, h, NOW, &id, &why), why, "signature is invalid");
  *last = '\0';
  assert_rejected(fb_authn_bearer(a, h, NOW, &id, &why), why, "signature is invalid");
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.hits, 1);
  assert_int_equal(st.misses, 3);
  assert_int_equal(st.entries, 1);
  *last = was; /* the cached token itself still answers from the cache */
  assert_int_equal(fb_authn_bearer(a, h, NOW, &id, &why), 0);
  assert_string_equal(id.sub, "cached");
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.hits, 2);
  free(h);
  free(tok);
  fb_authn_free(a);
}

static void test_cache_bounded(void **s) {
  (void)s;
  char *err = NULL;
  fb_issuer_config iss[] = {{.iss = ISS_ED, .key = ed_pub}};
  fb_authn *a = fb_authn_new_with_cache(iss, 1, 64, &err);
  assert_non_null(a);
  fb_authn_stats st;
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.capacity, 64);
  char *first = NULL;
  for (int i = 0; i < 400; i++) {
    char sub[32];
    snprintf(sub, sizeof sub, "user-%d", i);
    char *tok = fb_token_mint(ed, ISS_ED, NULL, sub, "MYS", NULL, FB_ROLE_ANALYST, NOW,
                              600 + i, &err);
    assert_non_null(tok);
    char *h = NULL;
    assert_true(asprintf(&h, "Bearer %s", tok) > 0);
    free(tok);
    fb_identity id;
    const char *why;
    assert_int_equal(fb_authn_bearer(a, h, NOW, &id, &why), 0);
    assert_string_equal(id.sub, sub);
    fb_authn_get_stats(a, &st);
    assert_true(st.entries <= 64);
    if (i == 0)
      first = h;
    else
      free(h);
  }
  fb_authn_get_stats(a, &st);
  assert_true(st.evictions > 0);
  assert_true(st.entries > 32); /* it does fill up */
  /* An evicted token is simply verified again. */
  fb_identity id;
  const char *why;
  assert_int_equal(fb_authn_bearer(a, first, NOW, &id, &why), 0);
  assert_string_equal(id.sub, "user-0");
  free(first);
  fb_authn_free(a);

  /* Cache disabled: still correct, never stores. */
  a = fb_authn_new_with_cache(iss, 1, 0, &err);
  char *tok = fb_token_mint(ed, ISS_ED, NULL, "nc", "MYS", NULL, 0, NOW, 60, &err);
  char *h = NULL;
  assert_true(asprintf(&h, "Bearer %s", tok) > 0);
  assert_int_equal(fb_authn_bearer(a, h, NOW, &id, &why), 0);
  assert_int_equal(fb_authn_bearer(a, h, NOW, &id, &why), 0);
  fb_authn_get_stats(a, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.misses, 2);
  free(h);
  free(tok);
  fb_authn_free(a);
}

/* ---- construction and minting errors --------------------------------------------- */

static void expect_new_error(fb_issuer_config *c, size_t n, const char *expect) {
  char *err = NULL;
  fb_authn *a = fb_authn_new(c, n, &err);
  assert_null(a);
  assert_non_null(err);
  if (!strstr(err, expect)) fail_msg("error '%s' lacks '%s'", err, expect);
  free(err);
}

static void test_new_errors(void **s) {
  (void)s;
  fb_issuer_config c[2] = {{.iss = ISS_ED, .key = "/nonexistent/key.pem"}};
  expect_new_error(c, 1, "/nonexistent/key.pem: No such file");
  c[0].key = ec_priv; /* a private key file is not a public key */
  expect_new_error(c, 1, "not a PEM public key");
  c[0].key = NULL;
  expect_new_error(c, 1, "key is missing");
  c[0].iss = NULL;
  c[0].key = ed_pub;
  expect_new_error(c, 1, "iss is missing");
  c[0].iss = ISS_ED;
  c[1] = c[0];
  expect_new_error(c, 2, "issuers[2] (" ISS_ED "): duplicate iss");

  /* Weak or unsupported keys. */
  EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
  EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  assert_non_null(p384);
  assert_non_null(small);
  char path[256];
  write_key(p384, path, "p384.pub", false);
  c[0].key = path;
  expect_new_error(c, 1, "P-256");
  unlink(path);
  write_key(small, path, "rsa1024.pub", false);
  expect_new_error(c, 1, "2048");
  unlink(path);

  char *err = NULL;
  assert_null(fb_token_mint(p384, "i", NULL, "s", "MYS", NULL, 1, NOW, 60, &err));
  assert_non_null(strstr(err, "P-256"));
  free(err);
  EVP_PKEY_free(p384);
  EVP_PKEY_free(small);

  /* No issuers at all is valid (certificate-only deployments) and rejects tokens. */
  fb_authn *a = fb_authn_new(NULL, 0, &err);
  assert_non_null(a);
  fb_identity id;
  const char *why;
  char *tok = fb_token_mint(ed, ISS_ED, NULL, "s", "MYS", NULL, 1, NOW, 60, &err);
  char *h = NULL;
  assert_true(asprintf(&h, "Bearer %s", tok) > 0);
  assert_rejected(fb_authn_bearer(a, h, NOW, &id, &why), why, "not trusted");
  free(h);
  free(tok);
  fb_authn_free(a);
}

static void test_mint_errors(void **s) {
  (void)s;
  char *err = NULL;
  assert_null(fb_token_mint(ed, ISS_ED, NULL, "s", "mys", NULL, 1, NOW, 60, &err));
  assert_non_null(strstr(err, "state"));
  free(err);
  assert_null(fb_token_mint(ed, ISS_ED, NULL, "", "MYS", NULL, 1, NOW, 60, &err));
  assert_non_null(strstr(err, "sub"));
  free(err);
  assert_null(fb_token_mint(ed, ISS_ED, NULL, "s", "MYS", NULL, 1, NOW, 0, &err));
  assert_non_null(strstr(err, "ttl"));
  free(err);
  assert_null(fb_token_mint(ed, ISS_ED, NULL, "a\tb", "MYS", NULL, 1, NOW, 60, &err));
  assert_non_null(strstr(err, "sub"));
  free(err);
  assert_null(fb_token_mint(ed, ISS_ED, NULL, "s", "MYS", "bad\xff utf8", 1, NOW, 60, &err));
  assert_non_null(strstr(err, "encode"));
  free(err);
  assert_null(fb_token_mint(ed, ISS_ED, NULL, "s", "MYS", "", 1, NOW, 60, &err));
  assert_non_null(strstr(err, "agency"));
  free(err);
  assert_null(fb_token_mint(ed, NULL, NULL, "s", "MYS", NULL, 1, NOW, 60, &err));
  assert_non_null(strstr(err, "iss"));
  free(err);
  /* Public-only key cannot sign. */
  EVP_PKEY *pub = NULL;
  FILE *f = fopen(ed_pub, "r");
  pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
  fclose(f);
  assert_non_null(pub);
  assert_null(fb_token_mint(pub, ISS_ED, NULL, "s", "MYS", NULL, 1, NOW, 60, &err));
  assert_non_null(strstr(err, "signing failed"));
  free(err);
  EVP_PKEY_free(pub);
  ERR_clear_error();
}

/* ---- keys and the per-request entry point ---------------------------------------- */

static void test_key_loading(void **s) {
  (void)s;
  char *err = NULL;
  EVP_PKEY *k = fb_pem_load_private_key(ec_priv, &err);
  assert_non_null(k);
  EVP_PKEY_free(k);
  assert_null(fb_pem_load_public_key(ec_priv, &err));
  assert_non_null(strstr(err, "not a PEM public key"));
  free(err);
  assert_null(fb_pem_load_private_key(ec_pub, &err));
  assert_non_null(strstr(err, "private key"));
  free(err);
  /* An encrypted key is refused without prompting for a passphrase. */
  char path[256];
  snprintf(path, sizeof path, "%s/enc.key", dir);
  FILE *f = fopen(path, "w");
  assert_int_equal(PEM_write_PrivateKey(f, ed, EVP_aes_256_cbc(), (unsigned char *)"pw", 2,
                                        NULL, NULL),
                   1);
  fclose(f);
  assert_null(fb_pem_load_private_key(path, &err));
  assert_non_null(strstr(err, "unencrypted"));
  free(err);
  unlink(path);
}

static void test_authn_request(void **s) {
  (void)s;
  fb_identity id;
  const char *why;
  X509 *x = X509_new();
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "ST", MBSTRING_UTF8, (const unsigned char *)"THA", -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)"auditor", -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"cert-user", -1,
                             -1, 0);
  /* No header: the certificate. */
  assert_int_equal(fb_authn_request(authn, NULL, x, NOW, &id, &why), 0);
  assert_string_equal(id.sub, "cert-user");
  assert_string_equal(id.issuer, FB_IDENTITY_CERT_ISSUER);
  /* A header wins over the certificate, also when it is bad (no silent fallback). */
  char *err = NULL;
  char *tok = fb_token_mint(ed, ISS_ED, NULL, "tok-user", "MYS", NULL, 1, NOW, 60, &err);
  char *h = NULL;
  assert_true(asprintf(&h, "Bearer %s", tok) > 0);
  assert_int_equal(fb_authn_request(authn, h, x, NOW, &id, &why), 0);
  assert_string_equal(id.sub, "tok-user");
  assert_rejected(fb_authn_request(authn, "Bearer x.y.z", x, NOW, &id, &why), why, "header");
  /* Neither. */
  assert_rejected(fb_authn_request(authn, NULL, NULL, NOW, &id, &why), why, "missing");
  free(h);
  free(tok);
  X509_free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepts_eddsa),
      cmocka_unit_test(test_accepts_es256),
      cmocka_unit_test(test_accepts_rs256),
      cmocka_unit_test(test_accepts_hand_built_and_claim_details),
      cmocka_unit_test(test_rejects_alg_none),
      cmocka_unit_test(test_rejects_hs256_with_public_key),
      cmocka_unit_test(test_rejects_alg_key_mismatch),
      cmocka_unit_test(test_rejects_unknown_issuer),
      cmocka_unit_test(test_kid),
      cmocka_unit_test(test_rejects_crit),
      cmocka_unit_test(test_rejects_bad_base64url),
      cmocka_unit_test(test_rejects_non_object_json),
      cmocka_unit_test(test_rejects_bad_authorization_header),
      cmocka_unit_test(test_rejects_oversized),
      cmocka_unit_test(test_exp_and_leeway),
      cmocka_unit_test(test_nbf_and_leeway),
      cmocka_unit_test(test_audience),
      cmocka_unit_test(test_subject_state_agency_roles),
      cmocka_unit_test(test_tampered_payload),
      cmocka_unit_test(test_cache_hit_same_identity),
      cmocka_unit_test(test_cache_whole_token_is_the_key),
      cmocka_unit_test(test_cache_bounded),
      cmocka_unit_test(test_new_errors),
      cmocka_unit_test(test_mint_errors),
      cmocka_unit_test(test_key_loading),
      cmocka_unit_test(test_authn_request),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
