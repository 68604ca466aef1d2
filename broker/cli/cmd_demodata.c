/* `fedbroker demo-data --out DIR [--seed N]`: writes the synthetic demo databases
 * (demo/demo_data.h). Used by `fedbroker demo`, the tests and the pilot images. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "demo/demo_data.h"
#include "records/postgres_db.h"
#include "cli/command.h"
#include "cli/options.h"
#include "core/util.h"

static const char usage[] =
    "usage: fedbroker demo-data --out DIR [--seed N] [--postgres CONNINFO [--state XXX]]\n"
    "  Writes DIR/IDN.db, DIR/MYS.db, DIR/THA.db and DIR/BGD.db: synthetic records\n"
    "  (no real person) for the demo states, and DIR/truth.json: which records denote\n"
    "  the same person (fedbroker merge-eval). The same seed gives the same files.\n"
    "  --out DIR            directory to write (created if missing)\n"
    "  --seed N             generator seed, default 1\n"
    "  --postgres CONNINFO  also load one state's records into PostgreSQL (tables\n"
    "                       fb_records, fb_keys, fb_names; docs/adapters.md)\n"
    "  --state XXX          the state to load with --postgres, default THA\n";

static int run(int argc, char **argv) {
  static const struct option opts[] = {
      {"out", required_argument, 0, 'o'},      {"seed", required_argument, 0, 's'},
      {"postgres", required_argument, 0, 'p'}, {"state", required_argument, 0, 't'},
      {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  const char *out = NULL, *conninfo = NULL, *state = "THA";
  unsigned long seed = 1;
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 's': {
      char *end;
      errno = 0;
      seed = strtoul(optarg, &end, 10);
      if (errno || *end || !*optarg || optarg[0] == '-' || seed > 0xFFFFFFFFul)
        return fb_usage_error(usage, "demo-data: --seed must be an integer from 0 to 4294967295, not '%s'", optarg);
      break;
    }
    case 'p': conninfo = optarg; break;
    case 't': state = optarg; break;
    case 'h': fputs(usage, stdout); return 0;
    default: return fb_opt_error(usage, "demo-data", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(usage, "demo-data: unexpected argument '%s'", argv[optind]);
  if (!out) return fb_usage_error(usage, "demo-data: --out DIR is required");
  bool known = false;
  for (size_t i = 0; i < 4; i++) known = known || strcmp(state, fb_demo_states[i]) == 0;
  if (!known) return fb_usage_error(usage, "demo-data: --state must be one of IDN, MYS, THA, BGD, not '%s'", state);
  if (mkdir(out, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "fedbroker: demo-data: cannot create %s: %s\n", out, strerror(errno));
    return 1;
  }
  char *err = NULL;
  double t0 = fb_now_ms();
  if (fb_demo_data_generate(out, (unsigned)seed, &err) != 0) {
    fprintf(stderr, "fedbroker: demo-data: %s\n", err);
    free(err);
    return 1;
  }
  printf("wrote %s/{IDN,MYS,THA,BGD}.db and %s/truth.json (seed %lu) in %.0f ms\n", out, out, seed,
         fb_now_ms() - t0);
  if (conninfo) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.db", out, state);
    if (fb_pg_load(conninfo, path, &err) != 0) {
      fprintf(stderr, "fedbroker: demo-data: %s\n", err);
      free(err);
      return 1;
    }
    printf("loaded %s into postgres\n", path);
  }
  return 0;
}

FB_COMMAND(demodata_cmd, "demo-data", "write the synthetic demo databases", run)
