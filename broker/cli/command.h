/* Sub-commands of the `fedbroker` executable. Each cli/cmd_*.c file registers its
 * command with FB_COMMAND; main.c dispatches on the first argument. A command
 * returns the process exit status: 0 success, 1 failure, 2 usage error. */
#ifndef FB_CLI_COMMAND_H
#define FB_CLI_COMMAND_H

typedef struct fb_command {
  const char *name;          /* "serve", "token", "policy", ... */
  const char *summary;       /* one line for `fedbroker --help` */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
  struct fb_command *next;
} fb_command;

void fb_command_register(fb_command *cmd);

#define FB_COMMAND(ident, name_, summary_, fn)                                   \
  static fb_command ident = {name_, summary_, fn, 0};                            \
  __attribute__((constructor)) static void ident##_register(void) {              \
    fb_command_register(&ident);                                                 \
  }

/* Prints "fedbroker <cmd>: <message>" and the usage to stderr; returns 2. */
int fb_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
