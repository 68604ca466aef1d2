/* The policy object's life: made with its source, key and digest before the compiler
 * fills its rules (compile.c), shared by reference count between the store, drafts
 * and searches in flight, freed with the last reference. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/util.h"
#include "policy/internal.h"
#include "policy/rules.h"

fb_policy *policy_new(const char *code, const char *path, const char *src, size_t len, const uint8_t *key,
                      size_t keylen) {
  fb_policy *p = fb_xcalloc(1, sizeof *p);
  atomic_init(&p->refs, 1);
  p->code = fb_xstrdup(code);
  p->path = fb_xstrdup(path);
  p->contact = json_null();
  p->hmac_mu = fb_xmalloc(sizeof *p->hmac_mu);
  pthread_mutex_init(p->hmac_mu, NULL);
  p->lua_mu = fb_xmalloc(sizeof *p->lua_mu);
  pthread_mutex_init(p->lua_mu, NULL);
  if (key && keylen) {
    p->key = fb_xmalloc(keylen);
    memcpy(p->key, key, keylen);
    p->keylen = keylen;
    /* Keyed once here so that hashing a field costs one MAC, not a key setup. */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    p->hmac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (p->hmac && !EVP_MAC_init(p->hmac, p->key, p->keylen, params)) {
      EVP_MAC_CTX_free(p->hmac);
      p->hmac = NULL;
    }
  }
  p->src = fb_xmalloc(len + 1);
  memcpy(p->src, src, len);
  p->src[len] = '\0';
  p->srclen = len;
  unsigned char md[32];
  EVP_Digest(src, len, md, NULL, EVP_sha256(), NULL);
  fb_hex_encode(md, 32, p->sha256);
  fb_rfc3339_now(p->loaded_at);
  return p;
}

void policy_destroy(fb_policy *p) {
  policy_rules_free(p);
  fb_sandbox_free(p->sb);
  json_decref(p->contact);
  free(p->name);
  free(p->code);
  free(p->path);
  free(p->default_reason);
  free(p->src);
  if (p->key) OPENSSL_cleanse(p->key, p->keylen);
  free(p->key);
  EVP_MAC_CTX_free(p->hmac);
  pthread_mutex_destroy(p->hmac_mu);
  free(p->hmac_mu);
  pthread_mutex_destroy(p->lua_mu);
  free(p->lua_mu);
  free(p);
}

fb_policy *fb_policy_ref(fb_policy *p) {
  if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

void fb_policy_unref(fb_policy *p) {
  /* Acquire-release: the thread that frees sees every other holder's last use. */
  if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) policy_destroy(p);
}

const char *fb_policy_state_name(const fb_policy *p) { return p->code; }
json_t *fb_policy_contact(const fb_policy *p) { return p->contact; }

json_t *fb_policy_info(const fb_policy *p) {
  return json_pack("{s:s, s:s, s:b, s:s, s:O}", "sha256", p->sha256, "loaded_at", p->loaded_at,
                   "signed", p->is_signed, "name", p->name, "contact", p->contact);
}
