/* The out-of-memory convention reaches jansson: it allocates through fb_xmalloc (set by
 * fb_json_use_xalloc, which every unit test and fedbroker's main call at start-up), so a
 * failed allocation aborts instead of json_pack returning a NULL that gets dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/util.h"

#ifdef __SANITIZE_ADDRESS__
/* ASan would report the huge request itself; let malloc return NULL as libc's does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif
#ifdef __SANITIZE_THREAD__ /* the same for TSan (gcc; FB_TSAN) */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

static void test_jansson_uses_the_aborting_allocator(void **state) {
  (void)state;
  json_malloc_t m = NULL;
  json_free_t f = NULL;
  json_get_alloc_funcs(&m, &f);
  assert_ptr_equal(m, fb_xmalloc);
  assert_ptr_equal(f, free);
}

static void test_failed_json_allocation_aborts(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Far more than any machine has: malloc returns NULL, fb_xmalloc must abort. */
    json_malloc_t m = NULL;
    json_get_alloc_funcs(&m, NULL);
    void *p = m(SIZE_MAX / 2);
    _exit(p ? 3 : 4);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jansson_uses_the_aborting_allocator),
      cmocka_unit_test(test_failed_json_allocation_aborts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
