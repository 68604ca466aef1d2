/* Roles, identity JSON and the client-certificate subject mapping (auth/identity.h). */
#include "auth/identity.h"

#include <string.h>

#include <openssl/err.h>

/* The role names and their bits, generated from FB_ROLE_MAP (core/vocab.h). */
#define ROLE_ENTRY_(id, name_) {name_, FB_ROLE_##id},
static const struct {
  const char *name;
  unsigned bit;
} roles[] = {FB_ROLE_MAP(ROLE_ENTRY_)};
#undef ROLE_ENTRY_

#define NROLES (sizeof roles / sizeof roles[0])

int fb_roles_parse(const char *name) {
  if (!name) return 0;
  for (size_t i = 0; i < NROLES; i++)
    if (strcmp(name, roles[i].name) == 0) return (int)roles[i].bit;
  return 0;
}

int fb_roles_parse_list(const char *list, const char **bad) {
  unsigned mask = 0;
  const char *p = list;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    int bit = 0;
    for (size_t i = 0; i < NROLES; i++)
      if (strlen(roles[i].name) == n && memcmp(roles[i].name, p, n) == 0) bit = (int)roles[i].bit;
    if (!bit) {
      if (bad) *bad = p;
      return -1;
    }
    mask |= (unsigned)bit;
    if (!end) return (int)mask;
    p = end + 1;
  }
}

const char *fb_role_name(unsigned role) {
  for (size_t i = 0; i < NROLES; i++)
    if (roles[i].bit == role) return roles[i].name;
  return NULL;
}

json_t *fb_roles_to_json(unsigned mask) {
  json_t *a = json_array();
  for (size_t i = 0; i < NROLES; i++)
    if (mask & roles[i].bit) json_array_append_new(a, json_string(roles[i].name));
  return a;
}

json_t *fb_identity_to_json(const fb_identity *id) {
  json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s}", "sub", id->sub, "state", id->state,
                        "agency", id->agency, "roles", fb_roles_to_json(id->roles), "issuer",
                        id->issuer);
  if (o && id->exp) json_object_set_new(o, "exp", json_integer(id->exp));
  return o;
}

bool fb_state_code_valid(const char *s) {
  if (!s) return false;
  for (int i = 0; i < 3; i++)
    if (s[i] < 'A' || s[i] > 'Z') return false;
  return s[3] == '\0';
}

bool fb_identity_copy_text(const char *s, size_t n, char *dst, size_t cap) {
  if (n == 0 || n >= cap) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return false;
  }
  memcpy(dst, s, n);
  dst[n] = '\0';
  return true;
}

/* ---- client certificates ------------------------------------------------------------ */

/* The UTF-8 text of one name entry, copied if acceptable. */
static bool entry_text(X509_NAME_ENTRY *e, char *dst, size_t cap) {
  unsigned char *utf8 = NULL;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
  bool ok = n > 0 && fb_identity_copy_text((const char *)utf8, (size_t)n, dst, cap);
  OPENSSL_free(utf8);
  ERR_clear_error();
  return ok;
}

/* Exactly-one (or at-most-one when optional) attribute `nid` into `dst`. Returns NULL
 * or the reason. */
static const char *single(X509_NAME *name, int nid, bool required, char *dst, size_t cap,
                          const char *what) {
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return required ? what : NULL;
  if (X509_NAME_get_index_by_NID(name, nid, i) >= 0) return what;
  if (!entry_text(X509_NAME_get_entry(name, i), dst, cap)) return what;
  return NULL;
}

int fb_identity_from_cert(X509 *cert, fb_identity *out, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why = NULL;
  memset(out, 0, sizeof *out);
  X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
  const char *bad = NULL;
  char state[8] = {0};
  if (!name) {
    bad = "no client certificate";
  } else if ((bad = single(name, NID_commonName, true, out->sub, sizeof out->sub,
                           "client certificate needs exactly one valid CN (the user id)"))) {
  } else if ((bad = single(name, NID_stateOrProvinceName, true, state, sizeof state,
                           "client certificate needs exactly one ST with the state code"))) {
  } else if (!fb_state_code_valid(state)) {
    bad = "client certificate ST is not an ISO 3166-1 alpha-3 code";
  } else if ((bad = single(name, NID_organizationName, false, out->agency,
                           sizeof out->agency,
                           "client certificate may have at most one valid O (the agency)"))) {
  } else {
    for (int i = -1; (i = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, i)) >= 0;) {
      char ou[64];
      if (entry_text(X509_NAME_get_entry(name, i), ou, sizeof ou))
        out->roles |= (unsigned)fb_roles_parse(ou); /* unknown OUs are ignored */
    }
    if (!out->roles) bad = "client certificate has no OU naming a known role";
  }
  if (bad) {
    memset(out, 0, sizeof *out);
    *why = bad;
    return -1;
  }
  memcpy(out->state, state, 4);
  strcpy(out->issuer, FB_IDENTITY_CERT_ISSUER);
  return 0;
}

json_t *fb_identity_requester_json(const fb_identity *id) {
  return json_pack("{s:s, s:s, s:s, s:o}", "sub", id->sub, "state", id->state, "agency", id->agency, "roles",
                   fb_roles_to_json(id->roles));
}
