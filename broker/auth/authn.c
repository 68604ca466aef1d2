/* Bearer-token verification against the configured issuers (auth/jwt.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "auth/jws.h"
#include "auth/jwt.h"
#include "auth/token_cache.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/hublock.h"
#include "core/util.h"

#define NO_NBF INT64_MIN
#define MAX_NUMERIC_DATE 9007199254740991LL /* 2^53 - 1: exact in every JSON parser */

typedef struct {
  char *iss, *aud, *kid;
  EVP_PKEY *key;
  fb_jws_alg alg;
} issuer;

struct fb_authn {
  issuer *issuers;
  size_t n;
  fb_token_cache *cache;
  /* The cache's key is the token's SHA-256 (no token text is kept). Fetched once:
   * the one-shot SHA256() of OpenSSL 3 looks the algorithm up on every call. Read-only
   * after creation, so workers hashing at once may share it. */
  EVP_MD *sha256;
  uint64_t hits, misses;
};

void fb_authn_free(fb_authn *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) {
    free(a->issuers[i].iss);
    free(a->issuers[i].aud);
    free(a->issuers[i].kid);
    EVP_PKEY_free(a->issuers[i].key);
  }
  free(a->issuers);
  fb_token_cache_free(a->cache);
  EVP_MD_free(a->sha256);
  free(a);
}

static fb_authn *new_error(fb_authn *a, char **err, size_t i, const char *iss,
                           const char *what) {
  fb_set_error(err, "issuers[%zu]%s%s%s: %s", i + 1, iss ? " (" : "", iss ? iss : "",
               iss ? ")" : "", what);
  fb_authn_free(a);
  return NULL;
}

fb_authn *fb_authn_new_with_cache(const fb_issuer_config *cfg, size_t n, size_t cache_entries,
                                  char **err) {
  if (err) *err = NULL;
  fb_authn *a = fb_xcalloc(1, sizeof *a);
  a->issuers = fb_xcalloc(n ? n : 1, sizeof(issuer));
  a->cache = fb_token_cache_new(cache_entries);
  a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (!a->sha256) {
    fb_set_error(err, "SHA-256 is not available from OpenSSL");
    fb_authn_free(a);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    const fb_issuer_config *c = &cfg[i];
    if (!c->iss || !c->iss[0]) return new_error(a, err, i, NULL, "iss is missing");
    if (strlen(c->iss) >= sizeof(((fb_identity *)0)->issuer))
      return new_error(a, err, i, NULL, "iss is longer than 255 bytes");
    for (size_t j = 0; j < a->n; j++)
      if (strcmp(a->issuers[j].iss, c->iss) == 0)
        return new_error(a, err, i, c->iss, "duplicate iss");
    if (!c->key || !c->key[0]) return new_error(a, err, i, c->iss, "key is missing");
    if (c->aud && !c->aud[0]) return new_error(a, err, i, c->iss, "aud is empty");
    if (c->kid && !c->kid[0]) return new_error(a, err, i, c->iss, "kid is empty");
    const char *why = NULL;
    char *kerr = NULL;
    EVP_PKEY *key = fb_pem_load_public_key(c->key, &kerr);
    if (!key) {
      fb_buf b = {0};
      fb_buf_printf(&b, "key %s", kerr);
      free(kerr);
      fb_authn *r = new_error(a, err, i, c->iss, b.data);
      fb_buf_free(&b);
      return r;
    }
    issuer *is = &a->issuers[a->n++];
    is->key = key;
    is->iss = fb_xstrdup(c->iss);
    is->aud = fb_xstrdup(c->aud ? c->aud : FB_JWT_DEFAULT_AUD);
    is->kid = c->kid ? fb_xstrdup(c->kid) : NULL;
    is->alg = fb_jws_alg_for_key(key, &why);
    if (is->alg == FB_JWS_NONE) {
      fb_buf b = {0};
      fb_buf_printf(&b, "key %s: %s", c->key, why);
      fb_authn *r = new_error(a, err, i, c->iss, b.data);
      fb_buf_free(&b);
      return r;
    }
  }
  return a;
}

fb_authn *fb_authn_new(const fb_issuer_config *issuers, size_t n, char **err) {
  return fb_authn_new_with_cache(issuers, n, FB_AUTHN_CACHE_DEFAULT, err);
}

void fb_authn_get_stats(const fb_authn *a, fb_authn_stats *out) {
  out->hits = a->hits;
  out->misses = a->misses;
  out->evictions = fb_token_cache_evictions(a->cache);
  out->entries = fb_token_cache_count(a->cache);
  out->capacity = fb_token_cache_capacity(a->cache);
}

/* ---- claims ---------------------------------------------------------------------- */

/* NumericDate (RFC 7519): a JSON number of seconds; fractions are truncated. */
static bool numeric_date(json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > MAX_NUMERIC_DATE) return false;
    *out = (int64_t)x;
    return true;
  }
  if (json_is_real(v)) {
    double x = json_real_value(v);
    if (!isfinite(x) || x < 0 || x > (double)MAX_NUMERIC_DATE) return false;
    *out = (int64_t)floor(x);
    return true;
  }
  return false;
}

static bool copy_text(const char *s, char *dst, size_t cap) {
  return s && fb_identity_copy_text(s, strlen(s), dst, cap);
}

static bool audience_ok(json_t *aud, const char *want, const char **why) {
  if (json_is_string(aud)) {
    if (strcmp(json_string_value(aud), want) == 0) return true;
  } else if (json_is_array(aud)) {
    size_t i;
    json_t *v;
    bool found = false;
    json_array_foreach(aud, i, v) {
      if (!json_is_string(v)) {
        *why = "token aud must be a string or an array of strings";
        return false;
      }
      if (strcmp(json_string_value(v), want) == 0) found = true;
    }
    if (found) return true;
  } else if (aud) {
    *why = "token aud must be a string or an array of strings";
    return false;
  }
  *why = "token audience does not match this service";
  return false;
}

static const char *check_times(int64_t exp, int64_t nbf, int64_t now) {
  if (now > exp + FB_JWT_LEEWAY_S) return "token has expired";
  if (nbf != NO_NBF && now < nbf - FB_JWT_LEEWAY_S) return "token is not valid yet (nbf)";
  return NULL;
}

static json_t *decode_object(const char *seg, size_t n, uint8_t *scratch) {
  long len = fb_base64url_decode(seg, n, scratch);
  if (len <= 0) return NULL;
  json_t *v = json_loadb((const char *)scratch, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
  if (v && !json_is_object(v)) {
    json_decref(v);
    return NULL;
  }
  return v;
}

static const issuer *find_issuer(const fb_authn *a, const char *iss) {
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->issuers[i].iss, iss) == 0) return &a->issuers[i];
  return NULL;
}

/* Full verification of a token of `len` bytes already checked for size and charset. */
static const char *verify(const fb_authn *a, const char *tok, size_t len, int64_t now,
                          fb_identity *out, int64_t *nbf_out) {
  const char *dot1 = memchr(tok, '.', len);
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok)) : NULL;
  if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok)))
    return "token is not a compact JWS (header.payload.signature)";

  uint8_t scratch[FB_BASE64_DECODED_MAX(FB_JWT_MAX_LEN)];
  const char *why = NULL;
  json_t *hdr = decode_object(tok, (size_t)(dot1 - tok), scratch);
  json_t *claims = NULL;
  if (!hdr) {
    why = "token header is not a base64url-encoded JSON object";
    goto done;
  }
  claims = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), scratch);
  if (!claims) {
    why = "token payload is not a base64url-encoded JSON object";
    goto done;
  }

  const char *alg = json_string_value(json_object_get(hdr, "alg"));
  if (!alg) {
    why = "token header has no alg";
    goto done;
  }
  if (strcmp(alg, "EdDSA") != 0 && strcmp(alg, "ES256") != 0 && strcmp(alg, "RS256") != 0) {
    why = "token algorithm is not accepted (only EdDSA, ES256, RS256)";
    goto done;
  }
  /* We implement no JWS extensions, so any critical one must be refused (RFC 7515 4.1.11). */
  if (json_object_get(hdr, "crit")) {
    why = "token header has critical extensions we do not support";
    goto done;
  }
  json_t *kidv = json_object_get(hdr, "kid");
  if (kidv && !json_is_string(kidv)) {
    why = "token kid must be a string";
    goto done;
  }

  const char *iss = json_string_value(json_object_get(claims, "iss"));
  if (!iss) {
    why = "token has no iss";
    goto done;
  }
  const issuer *is = find_issuer(a, iss);
  if (!is) {
    why = "token issuer is not trusted";
    goto done;
  }
  if (strcmp(alg, fb_jws_alg_name(is->alg)) != 0) {
    why = "token algorithm does not match the issuer's key";
    goto done;
  }
  if (is->kid && (!kidv || strcmp(json_string_value(kidv), is->kid) != 0)) {
    why = "token kid does not match the issuer's key";
    goto done;
  }

  /* Claims before the signature: cheap rejections first, the signature check last. */
  memset(out, 0, sizeof *out);
  json_t *v = json_object_get(claims, "exp");
  if (!v) {
    why = "token has no exp";
    goto done;
  }
  if (!numeric_date(v, &out->exp)) {
    why = "token exp is not a valid time";
    goto done;
  }
  int64_t nbf = NO_NBF;
  v = json_object_get(claims, "nbf");
  if (v && !numeric_date(v, &nbf)) {
    why = "token nbf is not a valid time";
    goto done;
  }
  if ((why = check_times(out->exp, nbf, now))) goto done;
  if (!audience_ok(json_object_get(claims, "aud"), is->aud, &why)) goto done;
  if (!copy_text(json_string_value(json_object_get(claims, "sub")), out->sub,
                 sizeof out->sub)) {
    why = "token sub is missing or invalid";
    goto done;
  }
  const char *state = json_string_value(json_object_get(claims, "state"));
  if (!state || !fb_state_code_valid(state)) {
    why = "token state is missing or not an ISO 3166-1 alpha-3 code";
    goto done;
  }
  memcpy(out->state, state, 4);
  v = json_object_get(claims, "agency");
  if (v && !copy_text(json_string_value(v), out->agency, sizeof out->agency)) {
    why = "token agency is invalid";
    goto done;
  }
  v = json_object_get(claims, "roles");
  if (v) {
    if (!json_is_array(v)) {
      why = "token roles must be an array of strings";
      goto done;
    }
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r) {
      if (!json_is_string(r)) {
        why = "token roles must be an array of strings";
        goto done;
      }
      out->roles |= (unsigned)fb_roles_parse(json_string_value(r)); /* unknown: 0 */
    }
  }
  memcpy(out->issuer, is->iss, strlen(is->iss) + 1);

  long siglen = fb_base64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - tok), scratch);
  if (siglen <= 0 || !fb_jws_verify(is->key, is->alg, tok, (size_t)(dot2 - tok), scratch,
                                    (size_t)siglen)) {
    why = "token signature is invalid";
    goto done;
  }
  *nbf_out = nbf;
done:
  json_decref(hdr);
  json_decref(claims);
  if (why) memset(out, 0, sizeof *out);
  return why;
}

static int reject(const char **why, const char *msg, fb_identity *out) {
  *why = msg;
  memset(out, 0, sizeof *out);
  return -1;
}

/* The bytes of a compact JWS: base64url (A-Z a-z 0-9 - _) and the dots. A table, as
 * every byte of every request's token is checked. */
static const bool token_char[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

int fb_authn_bearer(fb_authn *a, const char *authorization, int64_t now, fb_identity *out,
                    const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why = NULL;
  if (!authorization || !authorization[0])
    return reject(why, "missing Authorization header (expected a Bearer token)", out);
  if (strncasecmp(authorization, "Bearer", 6) != 0 ||
      (authorization[6] != ' ' && authorization[6] != '\t'))
    return reject(why, "Authorization scheme must be Bearer", out);
  const char *tok = authorization + 6;
  while (*tok == ' ' || *tok == '\t') tok++;
  size_t len = strnlen(tok, FB_JWT_MAX_LEN + 2);
  while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t')) len--;
  if (len == 0) return reject(why, "empty bearer token", out);
  if (len > FB_JWT_MAX_LEN) return reject(why, "token is too large (over 8 KiB)", out);
  for (size_t i = 0; i < len; i++)
    if (!token_char[(unsigned char)tok[i]])
      return reject(why, "token has characters outside base64url", out);

  uint8_t digest[SHA256_DIGEST_LENGTH];
  bool yielded = fb_hublock_yield(); /* the request's own bytes: other workers run meanwhile */
  int hashed = EVP_Digest(tok, len, digest, NULL, a->sha256, NULL);
  fb_hublock_resume(yielded);
  if (!hashed) return reject(why, "token could not be hashed", out); /* fail closed */
  int64_t nbf;
  fb_hublock_assert_held(); /* the token cache and the hit counts are shared */
  if (fb_token_cache_get(a->cache, digest, out, &nbf)) {
    a->hits++;
    const char *bad = check_times(out->exp, nbf, now);
    if (bad) {
      /* Expired for good (or the clock went back before nbf): drop it either way. */
      fb_token_cache_remove(a->cache, digest);
      return reject(why, bad, out);
    }
    return 0;
  }
  a->misses++;
  const char *bad = verify(a, tok, len, now, out, &nbf);
  if (bad) return reject(why, bad, out);
  fb_token_cache_put(a->cache, digest, out, nbf, now, FB_JWT_LEEWAY_S);
  return 0;
}

int fb_authn_request(fb_authn *a, const char *authorization, X509 *peer_cert, int64_t now,
                     fb_identity *out, const char **why) {
  if (authorization || !peer_cert) return fb_authn_bearer(a, authorization, now, out, why);
  return fb_identity_from_cert(peer_cert, out, why);
}
