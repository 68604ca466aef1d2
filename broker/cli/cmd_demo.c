/* fedbroker demo [--port N] [--dir DIR] — the hub on its embedded default: four demo
 * states (IDN, MYS, THA, BGD) backed by generated SQLite data, the demo policies, a
 * development token issuer, and ready-to-paste curl commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "demo/demo_data.h"
#include "auth/identity.h"
#include "auth/jwt.h"
#include "cli/command.h"
#include "cli/options.h"
#include "cli/serve.h"
#include "config/config.h"
#include "core/crypto.h"
#include "core/util.h"
#include "store/store.h"

typedef struct {
  const char *name;
  const unsigned char *data;
  size_t len;
} fb_embedded_file;
extern const fb_embedded_file fb_embedded_policies[];

#define DEMO_SEED 20261127u
#define DEMO_ISSUER "https://idp.demo.fedbroker"
#define TOKEN_TTL_S (24 * 3600)

static const char usage[] =
    "usage: fedbroker demo [--port N] [--dir DIR]\n"
    "  Runs the hub on its embedded default on 127.0.0.1:PORT (default 8080): demo states\n"
    "  IDN, MYS, THA, BGD backed by generated SQLite data, the demo policies, and a\n"
    "  development token issuer. DIR (default var/demo) receives the data, keys, policies\n"
    "  (edit them: the hub reloads on change), the audit log and tokens.env.\n";

static int mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0750) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static char *join(const char *dir, const char *name) {
  fb_buf b = {0};
  fb_buf_printf(&b, "%s/%s", dir, name);
  return fb_buf_steal(&b);
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  bool ok = fwrite(data, 1, len, f) == len;
  ok &= fclose(f) == 0;
  chmod(path, mode);
  return ok ? 0 : -1;
}

/* An Ed25519 key pair as PEM files, created once. */
static int ensure_ed25519(const char *priv_path, const char *pub_path) {
  if (exists(priv_path) && exists(pub_path)) return 0;
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  if (!key) return -1;
  int rc = -1;
  FILE *f = fopen(priv_path, "wb");
  if (f) {
    rc = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1 ? 0 : -1;
    fclose(f);
    chmod(priv_path, 0600);
  }
  f = rc == 0 ? fopen(pub_path, "wb") : NULL;
  if (f) {
    rc = PEM_write_PUBKEY(f, key) == 1 ? 0 : -1;
    fclose(f);
  } else {
    rc = -1;
  }
  EVP_PKEY_free(key);
  return rc;
}

static int ensure_redaction_key(const char *path) {
  if (exists(path)) return 0;
  unsigned char raw[32];
  char hex[65];
  if (RAND_bytes(raw, sizeof raw) != 1) return -1;
  fb_hex_encode(raw, sizeof raw, hex);
  hex[64] = '\n';
  return write_file(path, hex, sizeof hex, 0600);
}

/* The demo policies ship inside the binary; each start writes them afresh. */
static int write_policies(const char *dir) {
  char *tests = join(dir, "tests");
  int rc = mkdirs(tests);
  free(tests);
  for (const fb_embedded_file *f = fb_embedded_policies; rc == 0 && f->name; f++) {
    char *path = join(dir, f->name);
    rc = write_file(path, f->data, f->len, 0640);
    free(path);
  }
  return rc;
}

typedef struct {
  const char *label, *sub, *state, *agency;
  unsigned roles;
} demo_user;

static const demo_user users[] = {
    {"ANALYST_IDN", "analyst.idn", "IDN", "Bareskrim Polri", FB_ROLE_ANALYST},
    {"ANALYST_MYS", "analyst.mys", "MYS", "Royal Malaysia Police", FB_ROLE_ANALYST},
    {"ANALYST_THA", "analyst.tha", "THA", "Royal Thai Police", FB_ROLE_ANALYST},
    {"ANALYST_BGD", "analyst.bgd", "BGD", "Bangladesh Police CID", FB_ROLE_ANALYST},
    {"LEGAL_MYS", "legal.mys", "MYS", "Attorney General's Chambers", FB_ROLE_LEGAL_OFFICER},
    {"AUDITOR", "auditor", "IDN", "Regional Support Office oversight", FB_ROLE_AUDITOR},
    {"ADMIN", "admin", "IDN", "Regional Support Office", FB_ROLE_ADMIN},
    {"FOCAL_IDN", "focal.idn", "IDN", "NCB-INTERPOL Jakarta", FB_ROLE_FOCAL_POINT},
    {"FOCAL_MYS", "focal.mys", "MYS", "NCB-INTERPOL Kuala Lumpur", FB_ROLE_FOCAL_POINT},
    {"FOCAL_THA", "focal.tha", "THA", "NCB-INTERPOL Bangkok", FB_ROLE_FOCAL_POINT},
    {"FOCAL_BGD", "focal.bgd", "BGD", "NCB-INTERPOL Dhaka", FB_ROLE_FOCAL_POINT},
    {"FOCAL_ADMIN_MYS", "focal.admin.mys", "MYS", "Royal Malaysia Police", FB_ROLE_FOCAL_POINT_ADMIN},
};

/* The demo directory: one focal point per state; Bangladesh's entry was last verified
 * long ago, so it shows as stale. Entries already in the store (edited through the
 * API) are kept. */
static const char *const demo_focal_points[][2] = {
    {"IDN", "[{\"unit\":\"NCB-INTERPOL Jakarta, Bareskrim POLRI\",\"name\":\"Duty officer\","
            "\"email\":\"ncb.jakarta@example.id\",\"phone\":\"+62 21 000 0000\",\"channel\":\"both\","
            "\"languages\":[\"id\",\"en\"],\"hours\":\"24/7\",\"timezone\":\"Asia/Jakarta\","
            "\"verified_at\":\"%s\"}]"},
    {"MYS", "[{\"unit\":\"NCB-INTERPOL Kuala Lumpur, Royal Malaysia Police\",\"name\":\"Duty officer\","
            "\"email\":\"ncb.kl@example.my\",\"phone\":\"+60 3 0000 0000\",\"channel\":\"formal\","
            "\"languages\":[\"ms\",\"en\"],\"hours\":\"08:00-18:00\",\"timezone\":\"Asia/Kuala_Lumpur\","
            "\"verified_at\":\"%s\"}]"},
    {"THA", "[{\"unit\":\"Anti-Trafficking in Persons Division, Royal Thai Police\",\"name\":\"Duty officer\","
            "\"email\":\"atp@example.th\",\"channel\":\"both\",\"languages\":[\"th\",\"en\"],"
            "\"hours\":\"24/7\",\"timezone\":\"Asia/Bangkok\",\"verified_at\":\"%s\"}]"},
    {"BGD", "[{\"unit\":\"CID Human Trafficking Unit, Bangladesh Police\",\"name\":\"Duty officer\","
            "\"email\":\"cid.htu@example.bd\",\"channel\":\"formal\",\"languages\":[\"bn\",\"en\"],"
            "\"hours\":\"09:00-17:00\",\"timezone\":\"Asia/Dhaka\",\"verified_at\":\"2025-03-01\"}]"},
};

static int seed_focal_points(const char *store_path, char **err) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  fb_store *s = fb_store_open(&loop, store_path, err);
  int rc = s ? 0 : -1;
  char today[FB_RFC3339_LEN];
  fb_rfc3339_now(today);
  today[10] = '\0';
  for (size_t i = 0; rc == 0 && i < FB_ARRAY_LEN(demo_focal_points); i++) {
    fb_buf doc = {0};
    fb_buf_printf(&doc, demo_focal_points[i][1], today);
    const char *p[] = {demo_focal_points[i][0], doc.data};
    rc = fb_store_exec_sync(s,
                            "INSERT INTO focal_points (state, position, doc) VALUES ($1, 0, $2)"
                            " ON CONFLICT (state, position) DO NOTHING",
                            p, 2, NULL, err);
    fb_buf_free(&doc);
  }
  if (s) fb_store_close(s, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return rc;
}

static int run(int argc, char **argv) {
  static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                       {"dir", required_argument, 0, 'd'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  long port = 8080;
  const char *dir = "var/demo";
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'p': {
      char *end;
      port = strtol(optarg, &end, 10);
      if (!*optarg || *end || port < 0 || port > 65535) return fb_usage_error(usage, "demo: --port takes 0..65535");
      break;
    }
    case 'd': dir = optarg; break;
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "demo", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(usage, "demo: unexpected argument '%s'", argv[optind]);
  char *data = join(dir, "data"), *keys = join(dir, "keys"), *pol = join(dir, "policies");
  char *issuer_priv = join(keys, "issuer.pem"), *issuer_pub = join(keys, "issuer.pub.pem");
  char *audit_priv = join(keys, "audit.pem"), *audit_pub = join(keys, "audit.pub.pem");
  char *redaction = join(keys, "redaction.key"), *cfg_path = join(dir, "demo.lua");
  char *tokens_path = join(dir, "tokens.env"), *probe = join(data, "BGD.db");
  char *store_path = join(dir, "fedbroker.db");
  int status = 1;
  char *err = NULL;
  EVP_PKEY *issuer = NULL;
  fb_buf tokens = {0};

  if (mkdirs(data) != 0 || mkdirs(keys) != 0 || mkdirs(pol) != 0) {
    fprintf(stderr, "fedbroker demo: cannot create %s: %s\n", dir, strerror(errno));
    goto out;
  }
  if (!exists(probe)) {
    fprintf(stderr, "fedbroker demo: generating demo data in %s ...\n", data);
    if (fb_demo_data_generate(data, DEMO_SEED, &err) != 0) {
      fprintf(stderr, "fedbroker demo: %s\n", err);
      goto out;
    }
  }
  if (ensure_ed25519(issuer_priv, issuer_pub) != 0 || ensure_ed25519(audit_priv, audit_pub) != 0 ||
      ensure_redaction_key(redaction) != 0 || write_policies(pol) != 0) {
    fprintf(stderr, "fedbroker demo: cannot write keys or policies in %s\n", dir);
    goto out;
  }
  fb_buf cfg_src = {0};
  fb_buf_printf(&cfg_src,
                "-- Written by `fedbroker demo`; rewritten at every start.\n"
                "listen = { { address = \"127.0.0.1:%ld\" } }\n"
                "policies = \"policies\"\n"
                "audit = { path = \"audit.jsonl\", key = \"keys/audit.pem\", checkpoint_every = 1000 }\n"
                "issuers = { { iss = \"%s\", key = \"keys/issuer.pub.pem\", aud = \"fedbroker\" } }\n"
                "redaction_key = \"keys/redaction.key\"\n"
                "deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }\n"
                "states = {\n"
                "  IDN = { adapter = \"sqlite\", path = \"data/IDN.db\" },\n"
                "  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },\n"
                "  THA = { adapter = \"sqlite\", path = \"data/THA.db\" },\n"
                "  BGD = { adapter = \"sqlite\", path = \"data/BGD.db\" },\n"
                "}\n",
                port, DEMO_ISSUER);
  int wrc = write_file(cfg_path, cfg_src.data, cfg_src.len, 0640);
  fb_buf_free(&cfg_src);
  if (wrc != 0) {
    fprintf(stderr, "fedbroker demo: cannot write %s\n", cfg_path);
    goto out;
  }
  if (seed_focal_points(store_path, &err) != 0) {
    fprintf(stderr, "fedbroker demo: %s\n", err);
    goto out;
  }
  issuer = fb_pem_load_private_key(issuer_priv, &err);
  if (!issuer) {
    fprintf(stderr, "fedbroker demo: %s\n", err);
    goto out;
  }
  for (size_t i = 0; i < FB_ARRAY_LEN(users); i++) {
    char *tok = fb_token_mint(issuer, DEMO_ISSUER, "fedbroker", users[i].sub, users[i].state, users[i].agency,
                              users[i].roles, fb_wall_s(), TOKEN_TTL_S, &err);
    if (!tok) {
      fprintf(stderr, "fedbroker demo: %s\n", err);
      goto out;
    }
    fb_buf_printf(&tokens, "%s=%s\n", users[i].label, tok);
    free(tok);
  }
  if (write_file(tokens_path, tokens.data, tokens.len, 0600) != 0) {
    fprintf(stderr, "fedbroker demo: cannot write %s\n", tokens_path);
    goto out;
  }

  fb_config cfg;
  if (fb_config_load_file(cfg_path, &cfg, &err) != 0) {
    fprintf(stderr, "fedbroker demo: %s\n", err);
    goto out;
  }
  printf("fedbroker demo on http://127.0.0.1:%ld/  (data, keys, policies and audit log in %s)\n\n"
         "Tokens (valid 24 h) are in %s; load them with:\n  set -a; . %s; set +a\n\n"
         "Then, for example:\n"
         "  curl -s http://127.0.0.1:%ld/v1/states -H \"Authorization: Bearer $ANALYST_MYS\"\n"
         "  curl -s http://127.0.0.1:%ld/v1/search -H \"Authorization: Bearer $ANALYST_MYS\" \\\n"
         "    -H 'Content-Type: application/json' -d '{\"subject\":{\"name\":\"Ahmad bin Ismail\"},"
         "\"purpose\":\"prosecution\",\"priority\":\"urgent\",\"legal_basis\":\"mla_treaty\","
         "\"justification\":\"Suspected facilitator in case MY-2026-0042\",\"case_ref\":\"MY-2026-0042\"}'\n"
         "  curl -s http://127.0.0.1:%ld/v1/policy/evaluate -H \"Authorization: Bearer $LEGAL_MYS\" \\\n"
         "    -H 'Content-Type: application/json' -d '{\"subject\":{\"document\":\"A12345678\"},"
         "\"purpose\":\"intelligence\",\"priority\":\"routine\",\"legal_basis\":\"informal\","
         "\"justification\":\"Checking what an informal request would return\",\"as\":{\"state\":\"IDN\"}}'\n"
         "  curl -s 'http://127.0.0.1:%ld/v1/audit?after=0&limit=5' -H \"Authorization: Bearer $AUDITOR\"\n"
         "  curl -s http://127.0.0.1:%ld/v1/stats -H \"Authorization: Bearer $AUDITOR\"\n"
         "  curl -s -X POST http://127.0.0.1:%ld/v1/admin/reload -H \"Authorization: Bearer $ADMIN\"\n\n"
         "Follow-up of a hit (docs/api.md): search as IDN for intelligence (Malaysia answers hit_only with a\n"
         "hit_ref), then ask Malaysia's focal point formally and let it decide:\n"
         "  curl -s http://127.0.0.1:%ld/v1/search -H \"Authorization: Bearer $ANALYST_IDN\" \\\n"
         "    -H 'Content-Type: application/json' -d '{\"subject\":{\"name\":\"Ahmad bin Ismail\"},"
         "\"purpose\":\"intelligence\",\"priority\":\"routine\",\"legal_basis\":\"mla_treaty\","
         "\"justification\":\"Network analysis of a smuggling route\",\"states\":[\"MYS\"]}'\n"
         "  curl -s http://127.0.0.1:%ld/v1/requests -H \"Authorization: Bearer $ANALYST_IDN\" \\\n"
         "    -H 'Content-Type: application/json' -d '{\"query_id\":\"QUERY_ID\",\"state\":\"MYS\","
         "\"hit_ref\":\"HIT_REF\",\"legal_basis\":\"mla_treaty\",\"justification\":\"Prosecution of the facilitator in case ID-2026-0107\","
         "\"case_ref\":\"ID-2026-0107\",\"priority\":\"urgent\"}'\n"
         "  curl -s 'http://127.0.0.1:%ld/v1/requests?box=inbox' -H \"Authorization: Bearer $FOCAL_MYS\"\n"
         "  curl -s http://127.0.0.1:%ld/v1/requests/REQUEST_ID/decision -H \"Authorization: Bearer $FOCAL_MYS\" \\\n"
         "    -H 'Content-Type: application/json' -d '{\"decision\":\"release\",\"note\":\"Under the MLA treaty\"}'\n"
         "  curl -s http://127.0.0.1:%ld/v1/requests/REQUEST_ID -H \"Authorization: Bearer $ANALYST_IDN\"\n"
         "  curl -s http://127.0.0.1:%ld/v1/focal-points -H \"Authorization: Bearer $ANALYST_IDN\"\n\n",
         port, dir, tokens_path, tokens_path, port, port, port, port, port, port, port, port, port, port, port, port);
  fputs(tokens.data, stdout);
  fflush(stdout);
  status = fb_serve_config(&cfg);

out:
  if (issuer) EVP_PKEY_free(issuer);
  fb_buf_free(&tokens);
  free(err);
  free(data), free(keys), free(pol), free(issuer_priv), free(issuer_pub), free(audit_priv), free(audit_pub);
  free(redaction), free(cfg_path), free(tokens_path), free(probe), free(store_path);
  return status;
}

FB_COMMAND(demo_cmd, "demo", "run the hub on its embedded default (demo states, policies, tokens)", run)
