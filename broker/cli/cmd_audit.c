/* `fedbroker audit verify FILE [--key PUB] [--allow-unsigned]`: checks an audit log
 * (API.md). Exit 0 when it verifies, 1 naming the first bad line and its seq or the
 * entries no checkpoint signature covers, 2 on a usage error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/command.h"

static const char usage[] =
    "usage: fedbroker audit verify FILE [--key PUB] [--allow-unsigned]\n"
    "\n"
    "  Checks every line of the audit log FILE: JSON, seq continuity, the SHA-256 chain\n"
    "  of `prev`, and with --key (an Ed25519 public key PEM) the checkpoint signatures.\n"
    "  Prints \"ok: N entries, M checkpoints\" (exit 0) or the first failing line and\n"
    "  its seq (exit 1). Entries that no checkpoint signature covers (those after the\n"
    "  last checkpoint; every entry without --key) are reported as unsigned and fail\n"
    "  (exit 1) unless --allow-unsigned is given.\n";

static int run(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc < 2) return fb_usage_error(usage, "audit: missing sub-command (verify)");
  if (strcmp(argv[1], "verify") != 0) return fb_usage_error(usage, "audit: unknown sub-command '%s'", argv[1]);
  const char *file = NULL, *key = NULL;
  bool allow_unsigned = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--key") == 0) {
      if (i + 1 >= argc) return fb_usage_error(usage, "audit verify: --key needs a file");
      key = argv[++i];
    } else if (strcmp(argv[i], "--allow-unsigned") == 0) {
      allow_unsigned = true;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return fb_usage_error(usage, "audit verify: unknown option '%s'", argv[i]);
    } else if (!file) {
      file = argv[i];
    } else {
      return fb_usage_error(usage, "audit verify: more than one FILE ('%s')", argv[i]);
    }
  }
  if (!file) return fb_usage_error(usage, "audit verify: missing FILE");
  char *err = NULL;
  EVP_PKEY *pub = NULL;
  if (key && !(pub = fb_audit_load_public_key(key, &err))) {
    fprintf(stderr, "fedbroker audit verify: %s\n", err);
    free(err);
    return 1;
  }
  fb_audit_verify_result res;
  int rc = fb_audit_verify_file_ex(file, pub, &res, &err);
  EVP_PKEY_free(pub);
  if (rc != 0) {
    printf("fail: %s\n", err);
    free(err);
    return 1;
  }
  /* Without a key nothing was signature-checked: every entry is unsigned. */
  uint64_t unsig = key ? res.unsigned_entries : res.lines;
  if (unsig && !allow_unsigned) {
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
  printf("ok: %llu entries, %llu checkpoints", (unsigned long long)res.lines,
         (unsigned long long)res.checkpoints);
  if (!key) printf(" (signatures not checked: no --key)");
  else if (unsig) printf(" (%llu unsigned entries at the end)", (unsigned long long)unsig);
  printf("\n");
  return 0;
}

FB_COMMAND(audit_command, "audit", "verify an audit log", run)
