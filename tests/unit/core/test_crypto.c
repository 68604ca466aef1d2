/* core/crypto.c: base64 and base64url (known vectors, round trips, the strictness the
 * JWT verifier, the audit log and signed policies rely on), PEM key files and Ed25519
 * (RFC 8032 vectors, tampering, wrong key types). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "core/crypto.h"
#include "unit_common.h"

/* --- base64url ---------------------------------------------------------------------- */

static long dec_url(const char *s, uint8_t *out) { return fb_base64url_decode(s, strlen(s), out); }
static long dec_std(const char *s, uint8_t *out) { return fb_base64_decode(s, strlen(s), out); }

/* RFC 4648 section 10. */
static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};

/* One codec: encode and decode functions, the RFC 4648 vectors in its form, and its
 * encoding of the bytes fb ff bf (which shows the alphabet's last two characters). */
typedef struct {
  void (*encode)(const void *in, size_t n, fb_buf *out);
  long (*decode)(const char *in, size_t n, uint8_t *out);
  const char *enc[7];
  const char *fbffbf;
} codec;

static void check_known_vectors(const codec *c) {
  for (size_t i = 0; i < FB_ARRAY_LEN(plain); i++) {
    fb_buf b = {0};
    c->encode(plain[i], strlen(plain[i]), &b);
    assert_string_equal(b.data, c->enc[i]);
    fb_buf_free(&b);
    uint8_t out[16];
    assert_int_equal(c->decode(c->enc[i], strlen(c->enc[i]), out), (long)strlen(plain[i]));
    assert_memory_equal(out, plain[i], strlen(plain[i]));
  }
  uint8_t ff[3] = {0xfb, 0xff, 0xbf};
  fb_buf b = {0};
  c->encode(ff, 3, &b);
  assert_string_equal(b.data, c->fbffbf);
  fb_buf_free(&b);
}

static void test_base64url_known_vectors(void **state) {
  (void)state;
  static const codec url = {fb_base64url_encode, fb_base64url_decode,
                            {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"},
                            "-_-_"}; /* URL alphabet, not + and / */
  check_known_vectors(&url);
}

static void test_base64url_round_trip_all_lengths(void **state) {
  (void)state;
  uint8_t in[64], out[64];
  for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 37 + 11);
  for (size_t n = 0; n <= sizeof in; n++) {
    fb_buf b = {0};
    fb_base64url_encode(in, n, &b);
    assert_int_equal(b.len, (n * 4 + 2) / 3); /* no padding */
    long got = fb_base64url_decode(b.data, b.len, out);
    assert_int_equal(got, (long)n);
    assert_memory_equal(out, in, n);
    fb_buf_free(&b);
  }
}

static void test_base64url_rejects_malformed(void **state) {
  (void)state;
  uint8_t out[16];
  assert_int_equal(dec_url("Zg==", out), -1);   /* padding */
  assert_int_equal(dec_url("Zm9v+w", out), -1); /* standard alphabet */
  assert_int_equal(dec_url("Zm9v/w", out), -1);
  assert_int_equal(dec_url("Zm 9v", out), -1);  /* whitespace */
  assert_int_equal(dec_url("Zm9vY", out), -1);  /* length % 4 == 1 */
  assert_int_equal(dec_url("Zh", out), -1);     /* non-zero unused bits ("Zg" is canonical) */
  assert_int_equal(dec_url("Zm8", out), 2);
  assert_int_equal(dec_url("Zm9", out), -1);    /* same bytes as "Zm8", non-canonical */
  assert_int_equal(dec_url("Zm-", out), -1);    /* non-zero unused bits */
  assert_int_equal(fb_base64url_decode("Zm\0v", 4, out), -1);
}

/* --- base64 ------------------------------------------------------------------------- */

static void test_base64_known_vectors(void **state) {
  (void)state;
  static const codec std = {fb_base64_encode, fb_base64_decode,
                            {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"},
                            "+/+/"}; /* standard alphabet */
  check_known_vectors(&std);
}

static void test_base64_round_trip_all_lengths(void **state) {
  (void)state;
  uint8_t in[100], out[100];
  for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 91 + 3);
  for (size_t n = 0; n <= sizeof in; n++) {
    fb_buf b = {0};
    fb_base64_encode(in, n, &b);
    assert_int_equal(b.len, (n + 2) / 3 * 4); /* padded to whole quads */
    assert_int_equal(fb_base64_decode(b.data, b.len, out), (long)n);
    assert_memory_equal(out, in, n);
    fb_buf_free(&b);
  }
}

static void test_base64_rejects_malformed(void **state) {
  (void)state;
  uint8_t out[16];
  assert_int_equal(dec_std("Zg", out), -1);      /* padding missing */
  assert_int_equal(dec_std("Zm8", out), -1);
  assert_int_equal(dec_std("Zg=", out), -1);     /* half the padding */
  assert_int_equal(dec_std("Z===", out), -1);    /* three '=' */
  assert_int_equal(dec_std("====", out), -1);
  assert_int_equal(dec_std("Zm=v", out), -1);    /* '=' inside */
  assert_int_equal(dec_std("Zm8==", out), -1);   /* length not a multiple of 4 */
  assert_int_equal(dec_std("Zm9v-_==", out), -1); /* URL alphabet */
  assert_int_equal(dec_std("Zm9v\nYmFy", out), -1); /* a line break */
  assert_int_equal(dec_std(" Zm9v", out), -1);
  assert_int_equal(dec_std("Zh==", out), -1);    /* non-zero unused bits */
  assert_int_equal(dec_std("Zm9=", out), -1);
  assert_int_equal(fb_base64_decode("Zm\0v", 4, out), -1);
}

/* --- Ed25519 ------------------------------------------------------------------------ */

static void unhex(const char *hex, uint8_t *out) {
  for (size_t i = 0; hex[2 * i]; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte). */
static const struct {
  const char *secret, *public, *msg, *sig;
} rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
     "6bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d"
     "8c387b2eaeb4302aeeb00d291612bb0c00"},
};

static void test_ed25519_rfc8032_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < FB_ARRAY_LEN(rfc8032); i++) {
    uint8_t sk[32], pk[32], msg[8], sig[64], mine[64];
    size_t mlen = strlen(rfc8032[i].msg) / 2;
    unhex(rfc8032[i].secret, sk);
    unhex(rfc8032[i].public, pk);
    unhex(rfc8032[i].msg, msg);
    unhex(rfc8032[i].sig, sig);
    EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
    assert_non_null(priv);
    assert_non_null(pub);
    assert_int_equal(fb_ed25519_sign(priv, msg, mlen, mine), 0);
    assert_memory_equal(mine, sig, 64); /* Ed25519 is deterministic */
    assert_true(fb_ed25519_verify(pub, msg, mlen, sig, 64));
    /* The same signature as padded base64, the way .sig files and checkpoints carry it. */
    fb_buf b64 = {0};
    fb_base64_encode(sig, 64, &b64);
    assert_int_equal(b64.len, 88);
    assert_true(fb_ed25519_verify_base64(pub, msg, mlen, b64.data, b64.len));
    /* One flipped bit anywhere: refused. */
    for (size_t bit = 0; bit < 64 * 8; bit += 37) {
      uint8_t bad[64];
      memcpy(bad, sig, 64);
      bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      assert_false(fb_ed25519_verify(pub, msg, mlen, bad, 64));
    }
    uint8_t other = 0x73;
    assert_false(fb_ed25519_verify(pub, &other, 1, sig, 64)); /* another message */
    assert_false(fb_ed25519_verify(pub, msg, mlen, sig, 63));  /* wrong lengths */
    assert_false(fb_ed25519_verify(pub, msg, mlen, sig, 0));
    assert_false(fb_ed25519_verify_base64(pub, msg, mlen, b64.data, 87));
    b64.data[10] = b64.data[10] == 'A' ? 'B' : 'A';
    assert_false(fb_ed25519_verify_base64(pub, msg, mlen, b64.data, b64.len));
    fb_buf_free(&b64);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
  }
  /* The second vector's key does not verify the first vector's signature. */
  uint8_t pk2[32], sig1[64];
  unhex(rfc8032[1].public, pk2);
  unhex(rfc8032[0].sig, sig1);
  EVP_PKEY *pub2 = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk2, 32);
  assert_false(fb_ed25519_verify(pub2, "", 0, sig1, 64));
  EVP_PKEY_free(pub2);
}

/* --- PEM key files ------------------------------------------------------------------ */

typedef struct {
  char dir[64];
  char path[128];
} keydir;

static const char *key_path(keydir *k, const char *name) {
  snprintf(k->path, sizeof k->path, "%s/%s", k->dir, name);
  return k->path;
}

static void write_key(keydir *k, const char *name, EVP_PKEY *key, bool priv, const char *pass) {
  FILE *f = fopen(key_path(k, name), "w");
  assert_non_null(f);
  int ok = priv ? PEM_write_PrivateKey(f, key, pass ? EVP_aes_256_cbc() : NULL, (const unsigned char *)pass,
                                      pass ? (int)strlen(pass) : 0, NULL, NULL)
                : PEM_write_PUBKEY(f, key);
  assert_int_equal(ok, 1);
  assert_int_equal(fclose(f), 0);
}

static int setup_keys(void **state) {
  keydir *k = calloc(1, sizeof *k);
  snprintf(k->dir, sizeof k->dir, "/tmp/fb-crypto-XXXXXX");
  if (!mkdtemp(k->dir)) return -1;
  EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  write_key(k, "ed.pem", ed, true, NULL);
  write_key(k, "ed.pub.pem", ed, false, NULL);
  write_key(k, "ed-encrypted.pem", ed, true, "secret");
  write_key(k, "ec.pem", ec, true, NULL);
  write_key(k, "ec.pub.pem", ec, false, NULL);
  EVP_PKEY_free(ed);
  EVP_PKEY_free(ec);
  fb_test_write_file(key_path(k, "garbage.pem"), "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n");
  char *big = malloc(70000);
  memset(big, 'A', 69999);
  big[69999] = '\0';
  fb_test_write_file(key_path(k, "big.pem"), big);
  free(big);
  *state = k;
  return 0;
}

static int teardown_keys(void **state) {
  keydir *k = *state;
  bool gone = fb_test_rm_rf(k->dir);
  free(k);
  return gone ? 0 : -1;
}

/* Loads with `load` and expects a failure whose message contains `want`. */
static void expect_refused(EVP_PKEY *(*load)(const char *, char **), const char *path, const char *want) {
  char *err = NULL;
  EVP_PKEY *key = load(path, &err);
  if (key) fail_msg("%s loaded; expected \"%s\"", path, want);
  assert_non_null(err);
  if (!strstr(err, want) || strncmp(err, path, strlen(path)) != 0)
    fail_msg("error \"%s\" does not start with the path and say \"%s\"", err, want);
  free(err);
}

static void test_pem_loading(void **state) {
  keydir *k = *state;
  char *err = NULL;
  EVP_PKEY *pub = fb_pem_load_public_key(key_path(k, "ed.pub.pem"), &err);
  assert_non_null(pub);
  assert_null(err);
  EVP_PKEY *priv = fb_pem_load_private_key(key_path(k, "ed.pem"), &err);
  assert_non_null(priv);
  /* The pair works: what the private key signs, the public key verifies. */
  uint8_t sig[64];
  assert_int_equal(fb_ed25519_sign(priv, "hello", 5, sig), 0);
  assert_true(fb_ed25519_verify(pub, "hello", 5, sig, 64));
  EVP_PKEY_free(pub);
  EVP_PKEY_free(priv);
  EVP_PKEY *ec = fb_pem_load_public_key(key_path(k, "ec.pub.pem"), &err); /* any type */
  assert_non_null(ec);
  EVP_PKEY_free(ec);
  /* err may be NULL: the failure is still reported by the NULL key. */
  assert_null(fb_pem_load_public_key(key_path(k, "missing.pem"), NULL));

  expect_refused(fb_pem_load_public_key, key_path(k, "missing.pem"), "No such file");
  expect_refused(fb_pem_load_public_key, key_path(k, "big.pem"), "larger than 64 KiB");
  expect_refused(fb_pem_load_public_key, key_path(k, "garbage.pem"), "not a PEM public key");
  expect_refused(fb_pem_load_public_key, key_path(k, "ed.pem"), "not a PEM public key");
  expect_refused(fb_pem_load_private_key, key_path(k, "ed.pub.pem"), "not an unencrypted PEM private key");
  /* Encrypted: refused without asking for a passphrase. */
  expect_refused(fb_pem_load_private_key, key_path(k, "ed-encrypted.pem"), "not an unencrypted PEM private key");
}

static void test_ed25519_loading(void **state) {
  keydir *k = *state;
  char *err = NULL;
  EVP_PKEY *pub = fb_ed25519_load_public_key(key_path(k, "ed.pub.pem"), &err);
  EVP_PKEY *priv = fb_ed25519_load_private_key(key_path(k, "ed.pem"), &err);
  assert_non_null(pub);
  assert_non_null(priv);
  assert_null(err);
  EVP_PKEY_free(pub);
  EVP_PKEY_free(priv);
  expect_refused(fb_ed25519_load_public_key, key_path(k, "ec.pub.pem"), "not an Ed25519 key");
  expect_refused(fb_ed25519_load_private_key, key_path(k, "ec.pem"), "not an Ed25519 key");
  expect_refused(fb_ed25519_load_public_key, key_path(k, "missing.pem"), "No such file");
  /* An EC key cannot make or check an Ed25519 signature. */
  EVP_PKEY *ec = fb_pem_load_private_key(key_path(k, "ec.pem"), &err);
  assert_non_null(ec);
  uint8_t sig[64] = {0};
  assert_int_equal(fb_ed25519_sign(ec, "x", 1, sig), -1);
  assert_false(fb_ed25519_verify(ec, "x", 1, sig, 64));
  EVP_PKEY_free(ec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_base64url_known_vectors),
      cmocka_unit_test(test_base64url_round_trip_all_lengths),
      cmocka_unit_test(test_base64url_rejects_malformed),
      cmocka_unit_test(test_base64_known_vectors),
      cmocka_unit_test(test_base64_round_trip_all_lengths),
      cmocka_unit_test(test_base64_rejects_malformed),
      cmocka_unit_test(test_ed25519_rfc8032_vectors),
      cmocka_unit_test_setup_teardown(test_pem_loading, setup_keys, teardown_keys),
      cmocka_unit_test_setup_teardown(test_ed25519_loading, setup_keys, teardown_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
