/* Sub-commands of `fedbroker policy` that live in their own files; cmd_policy.c
 * dispatches to them. Each takes argv with argv[0] = the sub-command's name and
 * returns the exit status (0, 1, or 2 on a usage error). */
#ifndef FB_CLI_POLICY_CMDS_H
#define FB_CLI_POLICY_CMDS_H

int fb_cmd_policy_test(int argc, char **argv);    /* cmd_policy_test.c */
int fb_cmd_policy_keygen(int argc, char **argv);  /* cmd_policy_sign.c */
int fb_cmd_policy_sign(int argc, char **argv);    /* cmd_policy_sign.c */
int fb_cmd_policy_diff(int argc, char **argv);    /* cmd_policy_diff.c */

extern const char fb_policy_usage[];              /* cmd_policy.c */

#endif
