/* Hit references (FOLLOWUP.md): an HMAC over the query id, the requesting state, the
 * responding state and an expiry, with a key kept in the store (so hubs sharing a
 * PostgreSQL store accept each other's references). Nothing is stored per reference,
 * and the string reveals no record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config/config.h"
#include "core/crypto.h"
#include "core/util.h"
#include "hub/followup.h"
#include "hub/hub.h"
#include "search/engine.h"

#define MAC_BYTES 16

static void mac_of(const fb_followup *f, const char *query_id, const char *from, const char *to, long long exp,
                   fb_buf *out) {
  char msg[256];
  int n = snprintf(msg, sizeof msg, "%s|%s|%s|%lld", query_id, from, to, exp);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  HMAC(EVP_sha256(), f->key, sizeof f->key, (const unsigned char *)msg, (size_t)(n < 0 ? 0 : n), mac, &maclen);
  fb_base64url_encode(mac, MAC_BYTES, out);
}

void fb_hit_ref_make(const fb_followup *f, const char *query_id, const char *from, const char *to, int64_t now_s,
                     char *out) {
  long long exp = (long long)now_s + (long long)f->hub->cfg.followup.hit_ref_days * 86400;
  fb_buf b = {0};
  fb_buf_printf(&b, "hr1.%lld.", exp);
  mac_of(f, query_id, from, to, exp, &b);
  snprintf(out, FB_HIT_REF_MAX, "%s", b.data);
  fb_buf_free(&b);
}

bool fb_hit_ref_check(const fb_followup *f, const char *ref, const char *query_id, const char *from, const char *to,
                      int64_t now_s) {
  if (!ref || strncmp(ref, "hr1.", 4) != 0) return false;
  char *end = NULL;
  long long exp = strtoll(ref + 4, &end, 10);
  if (!end || *end != '.' || exp < now_s) return false;
  fb_buf b = {0};
  mac_of(f, query_id, from, to, exp, &b);
  bool ok = strlen(end + 1) == b.len && fb_ct_equal(end + 1, b.data, b.len);
  fb_buf_free(&b);
  return ok;
}
