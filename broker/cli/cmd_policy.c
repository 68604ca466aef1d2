/* `fedbroker policy test DIR | check FILE | eval --request FILE | diff | keygen | sign`:
 * the legal officers' tools for policies (POLICY.md). The work is done in
 * policy/tools.h; this file only parses arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/command.h"
#include "cli/options.h"
#include "cli/policy_cmds.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/policy.h"
#include "policy/tools.h"

#define usage fb_policy_usage
const char fb_policy_usage[] =
    "usage: fedbroker policy test [-v] [--junit FILE] DIR\n"
    "       fedbroker policy check FILE\n"
    "       fedbroker policy eval --request FILE [--policies DIR] [--as STATE]\n"
    "       fedbroker policy diff --audit FILE --old DIR --new DIR [--since T] [--until T]\n"
    "                             [--limit N] [--json]\n"
    "       fedbroker policy keygen --out PREFIX\n"
    "       fedbroker policy sign FILE --key KEY\n"
    "       fedbroker policy prove --old DIR --new DIR [--state S] [--no-widening] [--json]\n"
    "\n"
    "  test   run every DIR/tests/*_test.lua against the policies in DIR;\n"
    "         ends with \"N passed, N failed\", exit status 1 when any failed;\n"
    "         -v lists every case with PASS or FAIL, --junit FILE writes JUnit XML\n"
    "  check  validate one policy file (syntax, unknown keys and values, rules that\n"
    "         can never match); exit status 1 on any problem\n"
    "  eval   print the /v1/policy/evaluate answer for a request JSON file (with\n"
    "         optional \"as\" and \"records\"); policies from DIR (default: policies)\n"
    "  diff   replay the audited searches of FILE under the policies of --old and\n"
    "         --new and list every decision that would change, with example query ids\n"
    "  keygen write an Ed25519 signing pair: PREFIX.pem (private, keep it) and\n"
    "         PREFIX.pub.pem (for the hub's policy_keys)\n"
    "  sign   write FILE.sig, the signature the hub checks for a state in policy_keys;\n"
    "         a file that does not load is not signed\n"
    "  prove  decide every possible request under two versions of the policies and\n"
    "         report what the change widens or narrows (exit 1 with --no-widening\n"
    "         when it widens)\n";

static int cmd_eval(int argc, char **argv) {
  static const struct option opts[] = {{"request", required_argument, 0, 'r'},
                                       {"policies", required_argument, 0, 'p'},
                                       {"as", required_argument, 0, 'a'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *request = NULL, *dir = "policies", *as = NULL;
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': request = optarg; break;
    case 'p': dir = optarg; break;
    case 'a': as = optarg; break;
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "policy eval", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(usage, "policy eval: unexpected argument '%s'", argv[optind]);
  if (!request) return fb_usage_error(usage, "policy eval: --request FILE is required");
  json_error_t jerr;
  json_t *body = json_load_file(request, 0, &jerr);
  if (!body) {
    fprintf(stderr, "fedbroker: %s:%d: %s\n", request, jerr.line, jerr.text);
    return 1;
  }
  char *err = NULL;
  fb_policy_store *store = fb_policy_store_open_dir(dir, &err);
  if (!store) {
    fprintf(stderr, "fedbroker: %s\n", err);
    free(err);
    json_decref(body);
    return 1;
  }
  static const char *const roles[] = {"analyst"};
  if (!as && !json_object_get(body, "as")) {
    fprintf(stderr, "fedbroker: say who asks: \"as\": {\"state\": \"IDN\"} in the request, or --as IDN\n");
    fb_policy_store_free(store);
    json_decref(body);
    return 1;
  }
  json_t *resp = fb_policy_evaluate(store, body, as, NULL, roles, 1, &err);
  int rc = 0;
  if (!resp) {
    fprintf(stderr, "fedbroker: %s\n", err);
    free(err);
    rc = 1;
  } else {
    char *s = json_dumps(resp, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
    json_decref(resp);
  }
  fb_policy_store_free(store);
  json_decref(body);
  return rc;
}

static int run(int argc, char **argv) {
  if (argc < 2) return fb_usage_error(usage, "policy: missing sub-command (test, check, eval, diff, keygen or sign)");
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    }
  /* The tools speak to people: keep the JSON log quiet unless something is wrong. */
  if (fb_log_get_level() < FB_LOG_ERROR) fb_log_set_level(FB_LOG_ERROR);
  if (strcmp(sub, "test") == 0) return fb_cmd_policy_test(argc - 1, argv + 1);
  if (strcmp(sub, "check") == 0) {
    if (argc != 3) return fb_usage_error(usage, "policy check: expected one file");
    return fb_policy_check_file(argv[2], stdout) ? 1 : 0;
  }
  if (strcmp(sub, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
  if (strcmp(sub, "diff") == 0) return fb_cmd_policy_diff(argc - 1, argv + 1);
  if (strcmp(sub, "keygen") == 0) return fb_cmd_policy_keygen(argc - 1, argv + 1);
  if (strcmp(sub, "sign") == 0) return fb_cmd_policy_sign(argc - 1, argv + 1);
  if (strcmp(sub, "prove") == 0) return fb_cmd_policy_prove(argc - 1, argv + 1);
  return fb_usage_error(usage, "policy: unknown sub-command '%s'", sub);
}

FB_COMMAND(policy_command, "policy", "test, check and evaluate policies", run)
