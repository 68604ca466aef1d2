/* `fedbroker policy diff --audit FILE --old DIR --new DIR [--since T] [--until T]
 * [--limit N] [--json]`: replays the audited searches of FILE under two policy
 * directories and prints what would change (policy/replay.h). Dispatched from
 * cmd_policy.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/command.h"
#include "cli/options.h"
#include "cli/policy_cmds.h"
#include "core/util.h"
#include "policy/draft.h"
#include "policy/replay.h"
#include "policy/tools.h"

static fb_policy_set *open_set(const char *dir) {
  char *err = NULL;
  fb_policy_store *store = fb_policy_store_open_dir(dir, &err);
  if (!store) {
    fprintf(stderr, "fedbroker: %s\n", err);
    free(err);
    return NULL;
  }
  fb_policy_set *set = fb_policy_set_from_store(store);
  fb_policy_store_free(store); /* the set holds its own references */
  return set;
}

int fb_cmd_policy_diff(int argc, char **argv) {
  const char *usage = fb_policy_usage;
  const char *audit = NULL, *old_dir = NULL, *new_dir = NULL, *since = NULL, *until = NULL;
  unsigned long long limit = 0;
  bool as_json = false;
  static const struct option long_opts[] = {
      {"audit", required_argument, 0, 'a'}, {"old", required_argument, 0, 'o'},
      {"new", required_argument, 0, 'n'},   {"since", required_argument, 0, 's'},
      {"until", required_argument, 0, 'u'}, {"limit", required_argument, 0, 'l'},
      {"json", no_argument, 0, 'j'},        {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
    switch (c) {
    case 'a': audit = optarg; break;
    case 'o': old_dir = optarg; break;
    case 'n': new_dir = optarg; break;
    case 's': since = optarg; break;
    case 'u': until = optarg; break;
    case 'l': {
      char *end = NULL;
      limit = strtoull(optarg, &end, 10);
      if (!*optarg || *end || limit == 0) return fb_usage_error(usage, "policy diff: --limit takes a positive number");
      break;
    }
    case 'j': as_json = true; break;
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "policy diff", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(usage, "policy diff: unexpected argument '%s'", argv[optind]);
  if (!audit || !old_dir || !new_dir)
    return fb_usage_error(usage, "policy diff: --audit FILE, --old DIR and --new DIR are required");
  fb_replay_opts opts = {.limit = limit};
  if (since && fb_replay_parse_time(since, &opts.since_ms) != 0)
    return fb_usage_error(usage, "policy diff: --since '%s' is not an RFC 3339 time", since);
  if (until && fb_replay_parse_time(until, &opts.until_ms) != 0)
    return fb_usage_error(usage, "policy diff: --until '%s' is not an RFC 3339 time", until);

  fb_policy_set *old_set = open_set(old_dir);
  fb_policy_set *new_set = old_set ? open_set(new_dir) : NULL;
  if (!new_set) {
    fb_policy_set_free(old_set);
    return 1;
  }
  fb_replay *r = fb_replay_new(old_set, new_set);
  char *err = NULL;
  int rc = fb_replay_audit_file(r, audit, &opts, &err);
  if (rc != 0) {
    fprintf(stderr, "fedbroker: %s\n", err);
    free(err);
  } else if (as_json) {
    json_t *res = fb_replay_result(r);
    char *s = json_dumps(res, JSON_INDENT(2));
    printf("%s\n", s);
    free(s);
    json_decref(res);
  } else {
    fb_replay_print(r, stdout);
  }
  fb_replay_free(r);
  fb_policy_set_free(new_set);
  fb_policy_set_free(old_set);
  return rc == 0 ? 0 : 1;
}
