/* `fedbroker token ...`: mint a signed JWT (CONFIG.md "Command line"), and
 * `fedbroker token verify ...`: check one the way the hub would (for tests and
 * operators). Exit 0 success, 1 failure (bad key, rejected token), 2 usage error. */
#include <errno.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/keys.h"
#include "cli/command.h"
#include "core/util.h"

static const char usage[] =
    "usage: fedbroker token --key KEY --iss ISS --sub S --state XXX --roles a,b\n"
    "                       [--agency A] [--aud AUD] [--ttl S] [--kid KID] [--iat T]\n"
    "       fedbroker token verify --issuer-key PUB --iss ISS [--aud AUD] [--kid KID]\n"
    "                       [--now T] TOKEN|-\n"
    "\n"
    "  Mint: signs a JWT with the private key in the PEM file KEY (Ed25519 -> EdDSA,\n"
    "  EC P-256 -> ES256, RSA >= 2048 bits -> RS256) and prints it and a newline.\n"
    "  Roles: analyst, legal_officer, auditor, admin. --aud defaults to \"fedbroker\",\n"
    "  --ttl to 3600 seconds, --iat (issued-at, epoch seconds) to now.\n"
    "\n"
    "  verify: checks TOKEN (\"-\" reads it from stdin) against the issuer ISS with the\n"
    "  public key PEM file PUB exactly as the hub does, at time --now (default: now).\n"
    "  Prints the identity as JSON (exit 0) or the reason it is rejected (exit 1).\n";

static bool is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

static bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
  if (!s || !*s) return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < min || v > max) return false;
  *out = (int64_t)v;
  return true;
}

static EVP_PKEY *load_private_key(const char *path) {
  char *err = NULL;
  EVP_PKEY *key = fb_auth_load_private_key(path, &err);
  if (!key) {
    fprintf(stderr, "fedbroker token: %s\n", err);
    free(err);
  }
  return key;
}

/* Takes the value of option argv[*i] into *dst. */
static bool take(int argc, char **argv, int *i, char **dst) {
  if (*i + 1 >= argc) return false;
  *dst = argv[++*i];
  return true;
}

static int run_mint(int argc, char **argv) {
  char *key = NULL, *iss = NULL, *sub = NULL, *state = NULL, *roles = NULL, *agency = NULL,
        *aud = NULL, *ttl_s = NULL, *kid = NULL, *iat_s = NULL;
  struct {
    const char *name;
    char **dst;
  } opts[] = {{"--key", &key},     {"--iss", &iss}, {"--sub", &sub}, {"--state", &state},
              {"--roles", &roles}, {"--agency", &agency}, {"--aud", &aud}, {"--ttl", &ttl_s},
              {"--kid", &kid},     {"--iat", &iat_s}};
  for (int i = 1; i < argc; i++) {
    if (is_help(argv[i])) {
      fputs(usage, stdout);
      return 0;
    }
    size_t k = 0;
    while (k < FB_ARRAY_LEN(opts) && strcmp(argv[i], opts[k].name) != 0) k++;
    if (k == FB_ARRAY_LEN(opts)) return fb_usage_error(usage, "token: unknown argument '%s'", argv[i]);
    if (!take(argc, argv, &i, opts[k].dst))
      return fb_usage_error(usage, "token: %s needs a value", opts[k].name);
  }
  for (size_t k = 0; k < 5; k++) /* the first five are required */
    if (!*opts[k].dst) return fb_usage_error(usage, "token: missing %s", opts[k].name);
  if (!fb_state_code_valid(state))
    return fb_usage_error(usage, "token: --state must be 3 uppercase letters (ISO 3166-1 alpha-3)");
  const char *bad = NULL;
  int mask = fb_roles_parse_list(roles, &bad);
  if (mask < 0) {
    size_t n = strcspn(bad, ",");
    return fb_usage_error(usage, "token: unknown role '%.*s' in --roles", (int)n, bad);
  }
  int64_t ttl = 3600, iat = fb_wall_s();
  if (ttl_s && !parse_i64(ttl_s, 1, 10LL * 365 * 86400, &ttl))
    return fb_usage_error(usage, "token: --ttl must be a positive number of seconds");
  if (iat_s && !parse_i64(iat_s, 0, 1LL << 40, &iat))
    return fb_usage_error(usage, "token: --iat must be epoch seconds");

  EVP_PKEY *pk = load_private_key(key);
  if (!pk) return 1;
  char *err = NULL;
  char *tok = fb_token_mint_kid(pk, kid, iss, aud, sub, state, agency, (unsigned)mask, iat, ttl,
                                &err);
  EVP_PKEY_free(pk);
  if (!tok) {
    fprintf(stderr, "fedbroker token: %s\n", err);
    free(err);
    return 1;
  }
  printf("%s\n", tok);
  free(tok);
  return 0;
}

static char *read_stdin_token(void) {
  fb_buf b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
    fb_buf_append(&b, chunk, n);
    if (b.len > FB_JWT_MAX_LEN + 64) break; /* the verifier will call it too large */
  }
  while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
                   b.data[b.len - 1] == ' '))
    b.data[--b.len] = '\0';
  return fb_buf_steal(&b);
}

static int run_verify(int argc, char **argv) {
  /* Non-const: they point into argv and go into an fb_issuer_config as they are. */
  char *pub = NULL, *iss = NULL, *aud = NULL, *kid = NULL, *now_s = NULL, *token = NULL;
  struct {
    const char *name;
    char **dst;
  } opts[] = {{"--issuer-key", &pub}, {"--iss", &iss}, {"--aud", &aud}, {"--kid", &kid},
              {"--now", &now_s}};
  for (int i = 2; i < argc; i++) {
    if (is_help(argv[i])) {
      fputs(usage, stdout);
      return 0;
    }
    size_t k = 0;
    while (k < FB_ARRAY_LEN(opts) && strcmp(argv[i], opts[k].name) != 0) k++;
    if (k < FB_ARRAY_LEN(opts)) {
      if (!take(argc, argv, &i, opts[k].dst))
        return fb_usage_error(usage, "token verify: %s needs a value", opts[k].name);
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return fb_usage_error(usage, "token verify: unknown option '%s'", argv[i]);
    } else if (!token) {
      token = argv[i];
    } else {
      return fb_usage_error(usage, "token verify: more than one TOKEN");
    }
  }
  if (!pub) return fb_usage_error(usage, "token verify: missing --issuer-key");
  if (!iss) return fb_usage_error(usage, "token verify: missing --iss");
  if (!token) return fb_usage_error(usage, "token verify: missing TOKEN");
  int64_t now = fb_wall_s();
  if (now_s && !parse_i64(now_s, 0, 1LL << 40, &now))
    return fb_usage_error(usage, "token verify: --now must be epoch seconds");

  fb_issuer_config cfg = {.iss = iss, .key = pub, .aud = aud, .kid = kid};
  char *err = NULL;
  fb_authn *a = fb_authn_new_with_cache(&cfg, 1, 0, &err);
  if (!a) {
    fprintf(stderr, "fedbroker token verify: %s\n", err);
    free(err);
    return 1;
  }
  char *text = strcmp(token, "-") == 0 ? read_stdin_token() : fb_xstrdup(token);
  fb_buf header = {0};
  if (strncasecmp(text, "Bearer ", 7) != 0) fb_buf_puts(&header, "Bearer ");
  fb_buf_puts(&header, text);
  free(text);
  fb_identity id;
  const char *why = NULL;
  int rc = fb_authn_bearer(a, header.data, now, &id, &why);
  fb_buf_free(&header);
  fb_authn_free(a);
  if (rc != 0) {
    fprintf(stderr, "fedbroker token verify: rejected: %s\n", why);
    return 1;
  }
  json_t *j = fb_identity_to_json(&id);
  char *out = json_dumps(j, JSON_COMPACT);
  printf("%s\n", out);
  free(out);
  json_decref(j);
  return 0;
}

static int run(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "verify") == 0) return run_verify(argc, argv);
  if (argc < 2) return fb_usage_error(usage, "token: missing --key, --iss, --sub, --state, --roles");
  return run_mint(argc, argv);
}

FB_COMMAND(token_command, "token", "mint or verify a signed JWT", run)
