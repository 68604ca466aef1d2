/* The audit appender under several threads at once, as with event-loop workers that
 * append without the hub lock: every entry gets a distinct seq, the file holds seq 1..N
 * without a gap (checkpoints included), each thread's completions come back on its own
 * loop in its own seq order, straight from the writer (the log's own loop does not run
 * meanwhile: nothing may need it to pass them on), and the chain and its checkpoint
 * signatures verify. */
#include "helpers.h"

#include <stdatomic.h>

#include "core/home.h"

#define THREADS 4
#define PER_THREAD 300

typedef struct {
  fb_audit *a;
  uv_barrier_t *start;
  atomic_int *finished;
  uv_loop_t loop;
  int id;
  uint64_t seqs[PER_THREAD];
  int got;
  int refused, failed, out_of_order, foreign; /* counted here: cmocka asserts only on the main thread */
  uv_thread_t thread;
} appender;

static _Thread_local appender *me; /* the thread a completion must come back to */

static void on_appended(void *data, int status, uint64_t seq, const char *hash) {
  (void)hash;
  appender *ap = data;
  if (me != ap) ap->foreign++;
  if (status != 0) ap->failed++;
  if (ap->got > 0 && seq <= ap->seqs[ap->got - 1]) ap->out_of_order++;
  if (ap->got < PER_THREAD) ap->seqs[ap->got] = seq;
  ap->got++;
}

static void appender_main(void *arg) {
  appender *ap = arg;
  me = ap;
  uv_loop_init(&ap->loop);
  fb_home *home = fb_home_open(&ap->loop); /* completions come back here */
  uv_barrier_wait(ap->start);
  for (int i = 0; i < PER_THREAD; i++) {
    if (fb_audit_append(ap->a, event("thread", ap->id * PER_THREAD + i), on_appended, ap) != 0) ap->refused++;
    if (i % 16 == 0) uv_run(&ap->loop, UV_RUN_NOWAIT); /* take completions while appending */
  }
  double end = fb_now_ms() + 20000;
  while (ap->got + ap->refused < PER_THREAD && fb_now_ms() < end) uv_run(&ap->loop, UV_RUN_ONCE);
  fb_home_close(home, NULL, NULL);
  uv_run(&ap->loop, UV_RUN_DEFAULT);
  uv_loop_close(&ap->loop);
  atomic_fetch_add(ap->finished, 1);
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static void test_threads_append_at_once(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *dir = make_tmpdir(), *log = mkpath(dir, "audit.jsonl"), *key = mkpath(dir, "k.pem"),
       *pub = mkpath(dir, "k.pub.pem");
  EVP_PKEY *pkey = make_key(key, pub);
  fb_home *home = fb_home_open(&loop); /* the log's loop, as the main loop of a hub */
  fb_audit_config cfg = {.path = log, .key = key, .checkpoint_every = 7};
  char *err = NULL;
  fb_audit *a = fb_audit_open(&loop, &cfg, &err);
  if (!a) fail_msg("open: %s", err);

  static appender aps[THREADS];
  uv_barrier_t start;
  uv_barrier_init(&start, THREADS);
  atomic_int finished;
  atomic_init(&finished, 0);
  for (int t = 0; t < THREADS; t++) {
    aps[t] = (appender){.a = a, .start = &start, .finished = &finished, .id = t};
    assert_int_equal(uv_thread_create(&aps[t].thread, appender_main, &aps[t]), 0);
  }
  /* The writer posts each thread's completions to that thread's mailbox itself: the
   * log's loop is not run until they all came back. */
  double end = fb_now_ms() + 30000;
  while (atomic_load(&finished) < THREADS) {
    assert_true(fb_now_ms() < end);
    uv_sleep(1);
  }
  for (int t = 0; t < THREADS; t++) uv_thread_join(&aps[t].thread);
  uv_barrier_destroy(&start);

  uint64_t all[THREADS * PER_THREAD];
  size_t n = 0;
  for (int t = 0; t < THREADS; t++) {
    assert_int_equal(aps[t].refused, 0);
    assert_int_equal(aps[t].failed, 0);
    assert_int_equal(aps[t].out_of_order, 0);
    assert_int_equal(aps[t].foreign, 0);
    assert_int_equal(aps[t].got, PER_THREAD);
    for (int i = 0; i < PER_THREAD; i++) all[n++] = aps[t].seqs[i];
  }
  qsort(all, n, sizeof *all, cmp_u64);
  for (size_t i = 1; i < n; i++) assert_true(all[i] > all[i - 1]); /* no seq given twice */

  close_log(&loop, a);
  int home_closed = 0;
  fb_home_close(home, set_flag, &home_closed);
  run_until(&loop, &home_closed);
  assert_int_equal(uv_loop_close(&loop), 0);

  /* The file: seq 1..N in order, no gap, the threads' entries and checkpoints. */
  size_t nlines;
  char **lines = read_lines(log, &nlines);
  size_t entries = 0, checkpoints = 0;
  for (size_t i = 0; i < nlines; i++) {
    json_t *line = json_loads(lines[i], 0, NULL);
    assert_non_null(line);
    assert_int_equal(json_integer_value(json_object_get(line, "seq")), (json_int_t)(i + 1));
    const char *ev = json_string_value(json_object_get(line, "event"));
    if (strcmp(ev, "thread") == 0) entries++;
    else if (strcmp(ev, "checkpoint") == 0) checkpoints++;
    json_decref(line);
  }
  assert_int_equal(entries, THREADS * PER_THREAD);
  assert_true(checkpoints >= THREADS * PER_THREAD / 7);
  assert_int_equal(entries + checkpoints, nlines);
  assert_true(all[n - 1] <= nlines);
  free_lines(lines, nlines);
  if (fb_audit_verify_file(log, pkey, &err) != 0) fail_msg("verify: %s", err);

  EVP_PKEY_free(pkey);
  rm_rf(dir);
  free(dir), free(log), free(key), free(pub);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_append_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
