/* Property test: every mutation of a valid token is rejected, whatever it is — a
 * flipped bit, a byte inserted or deleted, a truncation, a swapped segment — and
 * nothing crashes or leaks (this test also runs under ASan+UBSan). Deterministic: a
 * fixed seed, the same mutations every run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "unit_common.h"

#define MUTATIONS 20000
#define NOW 1800000000LL

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static void mutate(const char *in, char *out, size_t cap) {
  size_t n = strlen(in);
  memcpy(out, in, n + 1);
  int edits = 1 + (int)(fb_test_rand(&rng) % 3);
  for (int e = 0; e < edits; e++) {
    n = strlen(out);
    size_t pos = n ? fb_test_rand(&rng) % n : 0;
    switch (fb_test_rand(&rng) % 6) {
    case 0: out[pos] ^= (char)(1u << (fb_test_rand(&rng) % 7)); if (!out[pos]) out[pos] = 'A'; break;
    case 1: if (n + 1 < cap) { memmove(out + pos + 1, out + pos, n - pos + 1); out[pos] = "A_-.=+/ \x01\xff"[fb_test_rand(&rng) % 11]; } break;
    case 2: if (n > 1) memmove(out + pos, out + pos + 1, n - pos); break;
    case 3: out[pos] = '\0'; break;
    case 4: out[pos] = "abcXYZ019-_"[fb_test_rand(&rng) % 11]; break;
    default: { /* swap header and payload segments */
      char *d1 = strchr(out, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
      if (d1 && d2) {
        char tmp[8192];
        snprintf(tmp, sizeof tmp, "%.*s.%.*s%s", (int)(d2 - d1 - 1), d1 + 1, (int)(d1 - out), out, d2);
        snprintf(out, cap, "%s", tmp);
      }
    }
    }
  }
}

static void run_for(const char *keytype, const char *param) {
  /* EVP_PKEY_Q_keygen's variadic argument depends on the type: RSA takes a size_t of
   * bits, EC a curve name, Ed25519 nothing. */
  EVP_PKEY *key = strcmp(keytype, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                  : param                     ? EVP_PKEY_Q_keygen(NULL, NULL, keytype, param)
                                              : EVP_PKEY_Q_keygen(NULL, NULL, keytype);
  assert_non_null(key);
  char pub[] = "/tmp/fb_mut_pub_XXXXXX";
  int fd = mkstemp(pub);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  PEM_write_PUBKEY(f, key);
  fclose(f);
  fb_issuer_config iss = {.iss = "https://idp.test", .key = pub, .aud = "fedbroker"};
  char *err = NULL;
  /* no cache: every attempt goes through the full verification */
  fb_authn *a = fb_authn_new_with_cache(&iss, 1, 0, &err);
  assert_non_null(a);
  char *token = fb_token_mint(key, "https://idp.test", "fedbroker", "analyst-1", "MYS", "Royal Malaysia Police",
                              FB_ROLE_ANALYST, NOW - 10, 3600, &err);
  assert_non_null(token);
  fb_identity id;
  const char *why = NULL;
  char header[9000];
  snprintf(header, sizeof header, "Bearer %s", token);
  assert_int_equal(fb_authn_bearer(a, header, NOW, &id, &why), 0);
  int accepted = 0;
  for (int i = 0; i < MUTATIONS; i++) {
    char m[8192];
    mutate(token, m, sizeof m);
    if (strcmp(m, token) == 0) continue;
    snprintf(header, sizeof header, "Bearer %s", m);
    why = NULL;
    if (fb_authn_bearer(a, header, NOW, &id, &why) == 0) {
      /* Spaces around the token are the header's, not the token's: the same token.
       * Anything else accepted would be a forgery. */
      const char *t = m;
      while (*t == ' ') t++;
      size_t tl = strlen(t);
      while (tl && t[tl - 1] == ' ') tl--;
      if (tl == strlen(token) && strncmp(t, token, tl) == 0) continue;
      print_message("accepted mutation: %s\n", m);
      accepted++;
    } else {
      assert_non_null(why);
    }
  }
  assert_int_equal(accepted, 0);
  free(token);
  fb_authn_free(a);
  EVP_PKEY_free(key);
  unlink(pub);
}

static void test_ed25519(void **state) { (void)state; run_for("ED25519", NULL); }
static void test_es256(void **state) { (void)state; run_for("EC", "P-256"); }
static void test_rs256(void **state) { (void)state; run_for("RSA", NULL); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ed25519),
      cmocka_unit_test(test_es256),
      cmocka_unit_test(test_rs256),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
