/* `fedbroker policy prove --old DIR --new DIR [--state S] [--no-widening] [--json]`:
 * what a policy change does to every possible request (policy/prove.h). Exit status:
 * 0 done (with --no-widening: only when the change narrows or is equivalent), 1 the
 * change widens with --no-widening or a policy does not load, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/command.h"
#include "cli/options.h"
#include "cli/policy_cmds.h"
#include "policy/prove.h"

static const char usage[] =
    "usage: fedbroker policy prove --old DIR --new DIR [--state S] [--no-widening] [--json]\n"
    "\n"
    "  Decides every possible request (and every kind of record) under the policies in\n"
    "  the old and the new directory and prints the verdict (widens, narrows, both or\n"
    "  equivalent) and the regions that differ. --state proves one state only;\n"
    "  --no-widening exits with status 1 when the change widens anything (for CI);\n"
    "  --json prints the proof as JSON.\n";

int fb_cmd_policy_prove(int argc, char **argv) {
  const char *old_dir = NULL, *new_dir = NULL, *state = NULL;
  bool no_widening = false, as_json = false;
  static const struct option opts[] = {
      {"old", required_argument, 0, 'o'},   {"new", required_argument, 0, 'n'},
      {"state", required_argument, 0, 's'}, {"no-widening", no_argument, 0, 'w'},
      {"json", no_argument, 0, 'j'},        {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': old_dir = optarg; break;
    case 'n': new_dir = optarg; break;
    case 's': state = optarg; break;
    case 'w': no_widening = true; break;
    case 'j': as_json = true; break;
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "policy prove", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(usage, "policy prove: unexpected argument '%s'", argv[optind]);
  if (!old_dir || !new_dir) return fb_usage_error(usage, "policy prove: --old DIR and --new DIR are required");
  char *err = NULL;
  fb_prove_set *old = fb_prove_set_from_dir(old_dir, &err), *new = NULL;
  if (old) new = fb_prove_set_from_dir(new_dir, &err);
  json_t *proof = new ? fb_policy_prove_json(old, new, state, &err) : NULL;
  fb_prove_set_free(old);
  fb_prove_set_free(new);
  if (!proof) {
    fprintf(stderr, "fedbroker: policy prove: %s\n", err ? err : "failed");
    free(err);
    return 1;
  }
  if (as_json) {
    char *s = json_dumps(proof, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
  } else {
    fb_prove_print(proof, stdout);
  }
  const char *v = json_string_value(json_object_get(proof, "verdict"));
  int rc = no_widening && (strcmp(v, "widens") == 0 || strcmp(v, "both") == 0) ? 1 : 0;
  json_decref(proof);
  return rc;
}
