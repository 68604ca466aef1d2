/* `fedbroker audit verify FILE [--key PUB] [FILE [--key PUB]]... [--allow-unsigned]`:
 * checks audit logs (API.md): one chain, or the set of chains of several hub replicas
 * (each its own chain and checkpoint key). Exit 0 when every chain verifies, 1 naming
 * the first bad line and its seq or the entries no checkpoint signature covers, 2 on a
 * usage error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/command.h"
#include "cli/options.h"

static const char usage[] =
    "usage: fedbroker audit verify FILE [--key PUB] [FILE [--key PUB]]... [--allow-unsigned]\n"
    "\n"
    "  Checks every line of the audit log FILE: JSON, seq continuity, the SHA-256 chain\n"
    "  of `prev`, and with --key (an Ed25519 public key PEM) the checkpoint signatures.\n"
    "  Prints \"ok: N entries, M checkpoints\" (exit 0) or the first failing line and\n"
    "  its seq (exit 1). Entries that no checkpoint signature covers (those after the\n"
    "  last checkpoint; every entry without --key) are reported as unsigned and fail\n"
    "  (exit 1) unless --allow-unsigned is given.\n"
    "  Several FILEs (the chains of several hub replicas): a --key after a FILE is that\n"
    "  chain's key; a --key before the first FILE is the key of every chain without its\n"
    "  own. Each chain gets its line, prefixed with its FILE; exit 1 if any fails.\n";

enum { MAX_CHAINS = 64 };

typedef struct {
  const char *file, *key;
} chain_arg;

/* Verifies one chain and prints its line; 0 when it passes. */
static int verify_one(const char *file, const char *key, bool allow_unsigned, bool prefix) {
  const char *pre = prefix ? file : "", *sep = prefix ? ": " : "";
  char *err = NULL;
  EVP_PKEY *pub = NULL;
  if (key && !(pub = fb_audit_load_public_key(key, &err))) {
    fprintf(stderr, "fedbroker audit verify: %s%s%s\n", pre, sep, err);
    free(err);
    return 1;
  }
  fb_audit_verify_result res;
  int rc = fb_audit_verify_file_ex(file, pub, &res, &err);
  EVP_PKEY_free(pub);
  if (rc != 0) {
    printf("%s%sfail: %s\n", pre, sep, err);
    free(err);
    return 1;
  }
  /* Without a key nothing was signature-checked: every entry is unsigned. */
  uint64_t unsig = key ? res.unsigned_entries : res.lines;
  if (unsig && !allow_unsigned) {
    printf("%s%s", pre, sep);
    if (!key)
      printf("fail: %llu entries unsigned: signatures not checked (no --key); give --key PUB, "
             "or --allow-unsigned to check the chain only\n", (unsigned long long)unsig);
    else if (res.checkpoints == 0)
      printf("fail: %llu entries unsigned: no checkpoint signature covers any entry, so the key "
             "was not checked; --allow-unsigned accepts this\n", (unsigned long long)unsig);
    else
      printf("fail: %llu entries unsigned: lines %llu to %llu come after the last checkpoint; "
             "--allow-unsigned accepts them\n", (unsigned long long)unsig,
             (unsigned long long)(res.lines - unsig + 1), (unsigned long long)res.lines);
    return 1;
  }
  printf("%s%sok: %llu entries, %llu checkpoints", pre, sep, (unsigned long long)res.lines,
         (unsigned long long)res.checkpoints);
  if (!key) printf(" (signatures not checked: no --key)");
  else if (unsig) printf(" (%llu unsigned entries at the end)", (unsigned long long)unsig);
  printf("\n");
  return 0;
}

static int run(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc < 2) return fb_usage_error(usage, "audit: missing sub-command (verify)");
  if (strcmp(argv[1], "verify") != 0) return fb_usage_error(usage, "audit: unknown sub-command '%s'", argv[1]);
  chain_arg chains[MAX_CHAINS];
  size_t n = 0;
  const char *default_key = NULL;
  bool allow_unsigned = false;
  static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                       {"allow-unsigned", no_argument, 0, 'u'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  fb_opt_begin();
  int c;
  /* "-": FILEs come in order (as code 1), so that a --key belongs to the FILE before it. */
  while ((c = getopt_long(argc - 1, argv + 1, "-:h", opts, NULL)) != -1) {
    switch (c) {
    case 'k':
      if (n == 0) {
        if (default_key) return fb_usage_error(usage, "audit verify: two --key before the first FILE");
        default_key = optarg;
      } else if (chains[n - 1].key) {
        return fb_usage_error(usage, "audit verify: two --key for '%s'", chains[n - 1].file);
      } else {
        chains[n - 1].key = optarg;
      }
      break;
    case 'u': allow_unsigned = true; break;
    case 1:
      if (n == MAX_CHAINS) return fb_usage_error(usage, "audit verify: more than %d FILEs", MAX_CHAINS);
      chains[n++] = (chain_arg){.file = optarg, .key = NULL};
      break;
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "audit verify", c, argv + 1);
    }
  }
  for (; optind < argc - 1; optind++) { /* after "--": FILEs only */
    if (n == MAX_CHAINS) return fb_usage_error(usage, "audit verify: more than %d FILEs", MAX_CHAINS);
    chains[n++] = (chain_arg){.file = argv[1 + optind], .key = NULL};
  }
  if (n == 0) return fb_usage_error(usage, "audit verify: missing FILE");
  int failed = 0;
  for (size_t i = 0; i < n; i++)
    failed += verify_one(chains[i].file, chains[i].key ? chains[i].key : default_key, allow_unsigned, n > 1);
  if (n > 1) printf("%zu chains, %d failed\n", n, failed);
  return failed ? 1 : 0;
}

FB_COMMAND(audit_command, "audit", "verify an audit log", run)
