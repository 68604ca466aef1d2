/* Minting tokens (auth/jwt.h): for tests, the demo issuer and the pilot. */
#include <stdlib.h>
#include <string.h>

#include "auth/jws.h"
#include "auth/jwt.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/util.h"


/* Appends base64url(JSON of `v`) to `out` and steals `v`. */
static bool append_json(fb_buf *out, json_t *v) {
  char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
  json_decref(v);
  if (!s) return false;
  fb_base64url_encode(s, strlen(s), out);
  free(s);
  return true;
}

char *fb_token_mint_kid(EVP_PKEY *key, const char *kid, const char *iss, const char *aud,
                        const char *sub, const char *state, const char *agency,
                        unsigned roles, int64_t iat, int64_t ttl_s, char **err) {
  if (err) *err = NULL;
  const char *why = NULL;
  fb_jws_alg alg = fb_jws_alg_for_key(key, &why);
  if (alg == FB_JWS_NONE) return fb_set_error(err, "%s", why), NULL;
  if (!iss || !iss[0]) return fb_set_error(err, "iss is required"), NULL;
  /* Refuse what the verifier would refuse, rather than mint a token that never works. */
  char text[128];
  if (!sub || !fb_identity_copy_text(sub, strlen(sub), text, sizeof text))
    return fb_set_error(err, "sub is required: 1 to 127 bytes, no control characters"), NULL;
  if (agency && !fb_identity_copy_text(agency, strlen(agency), text, sizeof text))
    return fb_set_error(err, "agency must be 1 to 127 bytes, no control characters"), NULL;
  if (!fb_state_code_valid(state))
    return fb_set_error(err, "state must be an ISO 3166-1 alpha-3 code (3 uppercase letters)"), NULL;
  if (ttl_s <= 0) return fb_set_error(err, "ttl must be a positive number of seconds"), NULL;
  if (iat < 0 || ttl_s > INT64_MAX / 2 || iat > INT64_MAX / 2)
    return fb_set_error(err, "iat/ttl out of range"), NULL;
  if (!aud) aud = FB_JWT_DEFAULT_AUD;

  json_t *hdr = json_pack("{s:s, s:s}", "alg", fb_jws_alg_name(alg), "typ", "JWT");
  if (hdr && kid && json_object_set_new(hdr, "kid", json_string(kid)) != 0) {
    json_decref(hdr);
    hdr = NULL; /* invalid UTF-8: reported below */
  }
  json_t *claims =
      json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "iss", iss, "aud", aud, "sub",
                sub, "state", state, "roles", fb_roles_to_json(roles), "iat", (json_int_t)iat,
                "nbf", (json_int_t)iat, "exp", (json_int_t)(iat + ttl_s));
  if (claims && agency && json_object_set_new(claims, "agency", json_string(agency)) != 0) {
    json_decref(claims);
    claims = NULL;
  }

  fb_buf tok = {0};
  bool ok = append_json(&tok, hdr);
  fb_buf_putc(&tok, '.');
  ok = append_json(&tok, claims) && ok; /* always consume both */
  if (!ok) {
    fb_buf_free(&tok);
    return fb_set_error(err, "cannot encode the token (invalid UTF-8 in a claim?)"), NULL;
  }
  fb_buf sig = {0};
  if (fb_jws_sign(key, alg, tok.data, tok.len, &sig) != 0) {
    fb_buf_free(&tok);
    fb_buf_free(&sig);
    return fb_set_error(err, "signing failed (is the key a private key?)"), NULL;
  }
  fb_buf_putc(&tok, '.');
  fb_base64url_encode(sig.data, sig.len, &tok);
  fb_buf_free(&sig);
  if (tok.len > FB_JWT_MAX_LEN) {
    fb_buf_free(&tok);
    return fb_set_error(err, "token would be larger than 8 KiB"), NULL;
  }
  return fb_buf_steal(&tok);
}

char *fb_token_mint(EVP_PKEY *key, const char *iss, const char *aud, const char *sub,
                    const char *state, const char *agency, unsigned roles, int64_t iat,
                    int64_t ttl_s, char **err) {
  return fb_token_mint_kid(key, NULL, iss, aud, sub, state, agency, roles, iat, ttl_s, err);
}
