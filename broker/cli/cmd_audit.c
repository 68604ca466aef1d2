/* `fedbroker audit verify FILE [--key PUB]`: checks an audit log (API.md). Exit 0 when
 * it verifies, 1 naming the first bad line and its seq, 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/command.h"

static const char usage[] =
    "usage: fedbroker audit verify FILE [--key PUB]\n"
    "\n"
    "  Checks every line of the audit log FILE: JSON, seq continuity, the SHA-256 chain\n"
    "  of `prev`, and with --key (an Ed25519 public key PEM) the checkpoint signatures.\n"
    "  Without --key only the chain is checked. Prints \"ok: N entries, M checkpoints\"\n"
    "  (exit 0) or the first failing line and its seq (exit 1).\n";

static int run(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(usage, stdout);
    return 0;
  }
  if (argc < 2) return fb_usage_error(usage, "audit: missing sub-command (verify)");
  if (strcmp(argv[1], "verify") != 0) return fb_usage_error(usage, "audit: unknown sub-command '%s'", argv[1]);
  const char *file = NULL, *key = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--key") == 0) {
      if (i + 1 >= argc) return fb_usage_error(usage, "audit verify: --key needs a file");
      key = argv[++i];
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
  printf("ok: %llu entries, %llu checkpoints%s\n", (unsigned long long)res.lines,
         (unsigned long long)res.checkpoints, key ? "" : " (signatures not checked: no --key)");
  return 0;
}

FB_COMMAND(audit_command, "audit", "verify an audit log", run)
