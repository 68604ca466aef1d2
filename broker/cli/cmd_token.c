/* `fedbroker token ...`: mint a signed JWT (CONFIG.md "Command line"), and
 * `fedbroker token verify ...`: check one the way the hub would (for tests and
 * operators). Exit 0 success, 1 failure (bad key, rejected token), 2 usage error. */
#include <errno.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "cli/command.h"
#include "cli/options.h"
#include "core/crypto.h"
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
  EVP_PKEY *key = fb_pem_load_private_key(path, &err);
  if (!key) {
    fprintf(stderr, "fedbroker token: %s\n", err);
    free(err);
  }
  return key;
}

/* Both forms take only options with a value: option i of `opts` (its val is
 * FIRST_VALUE + i) goes to values[i]; at most one positional argument goes to *positional
 * (none allowed when positional is NULL). Returns -1 when all went well, 0 after
 * --help, or the usage error's exit status. */
enum { FIRST_VALUE = 256 };
static int parse(int argc, char **argv, const char *cmd, const struct option *opts, char **values,
                 char **positional) {
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c >= FIRST_VALUE) {
      values[c - FIRST_VALUE] = optarg;
    } else if (c == 'h') {
      fputs(usage, stdout);
      return 0;
    } else {
      return fb_opt_error(usage, cmd, c, argv);
    }
  }
  if (optind < argc && !positional)
    return fb_usage_error(usage, "%s: unexpected argument '%s'", cmd, argv[optind]);
  if (optind + 1 < argc) return fb_usage_error(usage, "%s: more than one TOKEN", cmd);
  if (positional && optind < argc) *positional = argv[optind];
  return -1;
}

static int run_mint(int argc, char **argv) {
  enum { KEY, ISS, SUB, STATE, ROLES, AGENCY, AUD, TTL, KID, IAT, NVALUES };
  static const struct option opts[] = {
      {"key", required_argument, 0, FIRST_VALUE + KEY},       {"iss", required_argument, 0, FIRST_VALUE + ISS},
      {"sub", required_argument, 0, FIRST_VALUE + SUB},       {"state", required_argument, 0, FIRST_VALUE + STATE},
      {"roles", required_argument, 0, FIRST_VALUE + ROLES},   {"agency", required_argument, 0, FIRST_VALUE + AGENCY},
      {"aud", required_argument, 0, FIRST_VALUE + AUD},       {"ttl", required_argument, 0, FIRST_VALUE + TTL},
      {"kid", required_argument, 0, FIRST_VALUE + KID},       {"iat", required_argument, 0, FIRST_VALUE + IAT},
      {"help", no_argument, 0, 'h'},                          {0, 0, 0, 0}};
  char *v[NVALUES] = {0};
  int status = parse(argc, argv, "token", opts, v, NULL);
  if (status >= 0) return status;
  for (int k = KEY; k <= ROLES; k++) /* required */
    if (!v[k]) return fb_usage_error(usage, "token: missing --%s", opts[k].name);
  const char *key = v[KEY], *iss = v[ISS], *sub = v[SUB], *state = v[STATE], *roles = v[ROLES],
             *agency = v[AGENCY], *aud = v[AUD], *ttl_s = v[TTL], *kid = v[KID], *iat_s = v[IAT];
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
  enum { PUB, ISS, AUD, KID, NOW, NVALUES };
  static const struct option opts[] = {
      {"issuer-key", required_argument, 0, FIRST_VALUE + PUB}, {"iss", required_argument, 0, FIRST_VALUE + ISS},
      {"aud", required_argument, 0, FIRST_VALUE + AUD},        {"kid", required_argument, 0, FIRST_VALUE + KID},
      {"now", required_argument, 0, FIRST_VALUE + NOW},        {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  /* Non-const: they point into argv and go into an fb_issuer_config as they are. */
  char *v[NVALUES] = {0}, *token = NULL;
  int status = parse(argc - 1, argv + 1, "token verify", opts, v, &token);
  if (status >= 0) return status;
  char *pub = v[PUB], *iss = v[ISS], *aud = v[AUD], *kid = v[KID], *now_s = v[NOW];
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
