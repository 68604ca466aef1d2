/* JWT verification: the input is an Authorization header value ("Bearer ..."), checked
 * against one Ed25519 issuer (fuzz/keys/fuzz-test.pub.pem) with the cache off, so
 * every input goes through parsing, the header and claim checks and the signature. */
#include <stdio.h>
#include <stdlib.h>

#include "auth/jwt.h"
#include "common.h"

static fb_authn *authn;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (!authn) {
    char key[512]; /* fb_issuer_config's strings are not const; the authn copies them */
    snprintf(key, sizeof key, "%s", fz_key_path("fuzz-test.pub.pem"));
    fb_issuer_config iss = {.iss = "https://idp.fuzz", .key = key, .aud = NULL, .kid = NULL};
    char *err = NULL;
    authn = fb_authn_new_with_cache(&iss, 1, 0, &err);
    if (!authn) abort();
  }
  char *hdr = fz_cstr(data, len);
  fb_identity id;
  const char *why = NULL;
  /* a fixed clock: the seed tokens were issued at this second, valid for an hour */
  if (fb_authn_bearer(authn, hdr, 1796000000, &id, &why) != 0 && !why) abort();
  free(hdr);
  return 0;
}
