/* fedbroker — one executable, several sub-commands (CONFIG.md "Command line"). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "core/util.h"

#ifndef FB_VERSION
#define FB_VERSION "0.0.0"
#endif

static fb_command *commands;

void fb_command_register(fb_command *cmd) {
  /* Keep the list sorted by name so that --help is stable. */
  fb_command **p = &commands;
  while (*p && strcmp((*p)->name, cmd->name) < 0) p = &(*p)->next;
  cmd->next = *p;
  *p = cmd;
}

int fb_usage_error(const char *usage, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "fedbroker: %s\n%s", msg, usage);
  return 2;
}

static void print_usage(FILE *out) {
  fprintf(out, "usage: fedbroker <command> [options]\n\ncommands:\n");
  for (fb_command *c = commands; c; c = c->next) fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out, "\n  --help     this text; `fedbroker <command> --help` for a command\n"
               "  --version  print the version\n");
}

int main(int argc, char **argv) {
  /* A peer that closes its socket must not kill the process (SIGPIPE), and a file
   * size limit must surface as an EFBIG write error the audit log can fail closed on. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  fb_json_use_xalloc(); /* out of memory aborts, in jansson too (docs/architecture.md) */
  if (argc < 2) {
    fprintf(stderr, "fedbroker: missing command\n");
    print_usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    print_usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("fedbroker %s\n", FB_VERSION);
    return 0;
  }
  for (fb_command *c = commands; c; c = c->next)
    if (strcmp(c->name, argv[1]) == 0) return c->run(argc - 1, argv + 1);
  fprintf(stderr, "fedbroker: unknown command '%s'\n", argv[1]);
  print_usage(stderr);
  return 2;
}
