/* Helpers shared by the unit tests (tests/unit/common, linked into every unit test by
 * tests/tests.cmake): one copy instead of one per test file. Failures are cmocka
 * assertions, so a helper that cannot do its job fails the test that called it. */
#ifndef FB_TEST_UNIT_COMMON_H
#define FB_TEST_UNIT_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes `text` to `path` (created or truncated). */
void fb_test_write_file(const char *path, const char *text);

/* Writes `text` to `dir`/`name`. */
void fb_test_write_file_in(const char *dir, const char *name, const char *text);

/* xorshift64: the next number from *state (non-zero). A fixed seed per test gives the
 * same sequence, hence the same mutations, every run. */
uint64_t fb_test_rand(uint64_t *state);

/* Formats a shell command and runs it with system(3); returns its status. */
int fb_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Removes `dir` and everything below it (a test's temp dir); true when it is gone. */
bool fb_test_rm_rf(const char *dir);

/* Makes a temp dir from `tmpl` (a mkdtemp template, rewritten in place) and writes the
 * demo's four national databases into it (seed 1). False, with the reason on stderr,
 * when either fails. */
bool fb_test_demo_data_dir(char *tmpl);

/* Starts argv[0] (a full path) with argv, a test server that prints the port it listens
 * on to stdout, and reads that port into *port. Returns the child's pid, or -1 (no
 * child left behind). */
pid_t fb_test_spawn_server(char *const argv[], int *port);

/* Stops a server from fb_test_spawn_server and reaps it. */
void fb_test_stop_server(pid_t pid);

#endif
