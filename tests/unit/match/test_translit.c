/* fb_translit_token's per-thread memo (broker/match/translit.c): a remembered token
 * gives exactly what transliterating it again gives, whatever was remembered before.
 * Each thread has its own memo, so a fresh thread is the reference: it transliterates
 * every token for the first time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "match/translit.h"

#define NTOK 1500 /* well past the memo's slots: tokens evict each other */
#define MAXCP 40  /* past the longest remembered token */
#define OUT 256

typedef struct {
  int32_t cp[MAXCP];
  size_t n;
} token;

static token toks[NTOK];

/* Deterministic tokens in the scripts that go through ICU: Thai, Bengali, Arabic,
 * Burmese, Cyrillic and accented Latin; lengths 1..MAXCP. */
static void make_tokens(void) {
  static const int32_t base[][2] = {{0x0E01, 0x0E2E}, {0x0995, 0x09B9}, {0x0627, 0x064A},
                                    {0x1000, 0x1021}, {0x0430, 0x044F}, {0x00E0, 0x00FF}};
  uint32_t x = 12345;
  for (size_t i = 0; i < NTOK; i++) {
    x = x * 1103515245u + 12345u;
    size_t s = (x >> 16) % (sizeof base / sizeof base[0]);
    x = x * 1103515245u + 12345u;
    toks[i].n = 1 + (x >> 16) % MAXCP;
    for (size_t k = 0; k < toks[i].n; k++) {
      x = x * 1103515245u + 12345u;
      toks[i].cp[k] = base[s][0] + (int32_t)((x >> 16) % (uint32_t)(base[s][1] - base[s][0] + 1));
    }
  }
}

typedef struct {
  size_t outlen;
  bool reverse;
  char (*out)[OUT];
  size_t *len;
} job;

static void *run_job(void *p) {
  job *j = p;
  for (size_t r = 0; r < NTOK; r++) {
    size_t i = j->reverse ? NTOK - 1 - r : r;
    j->len[i] = fb_translit_token(toks[i].cp, toks[i].n, j->out[i], j->outlen);
  }
  return NULL;
}

/* Every token in `order` in a new thread (a cold memo). */
static void in_new_thread(job *j) {
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, run_job, j), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_remembered_tokens_transliterate_alike(void **state) {
  (void)state;
  make_tokens();
  static char ref[NTOK][OUT], again[NTOK][OUT], cut_ref[NTOK][OUT], cut[NTOK][OUT];
  static size_t ref_len[NTOK], again_len[NTOK], cut_ref_len[NTOK], cut_len[NTOK];
  job reference = {OUT, false, ref, ref_len};
  in_new_thread(&reference);
  size_t latin = 0;
  for (size_t i = 0; i < NTOK; i++) latin += ref_len[i] > 0;
  assert_true(latin > NTOK / 2); /* the tokens did go through ICU */

  /* This thread: each token twice in a row (the second from the memo), backwards, then
   * all again forwards (evicted or not). */
  for (size_t r = 0; r < NTOK; r++) {
    size_t i = NTOK - 1 - r;
    for (int twice = 0; twice < 2; twice++) {
      memset(again[i], 'z', OUT);
      again_len[i] = fb_translit_token(toks[i].cp, toks[i].n, again[i], OUT);
      assert_int_equal(again_len[i], ref_len[i]);
      assert_string_equal(again[i], ref[i]);
    }
  }
  job forwards = {OUT, false, again, again_len};
  run_job(&forwards);
  for (size_t i = 0; i < NTOK; i++) {
    assert_int_equal(again_len[i], ref_len[i]);
    assert_string_equal(again[i], ref[i]);
  }

  /* A smaller buffer is part of the key: a token remembered whole is still cut. */
  job cut_reference = {5, true, cut_ref, cut_ref_len};
  in_new_thread(&cut_reference);
  job cut_here = {5, false, cut, cut_len};
  run_job(&cut_here);
  size_t shorter = 0;
  for (size_t i = 0; i < NTOK; i++) {
    assert_int_equal(cut_len[i], cut_ref_len[i]);
    assert_string_equal(cut[i], cut_ref[i]);
    assert_true(cut_len[i] < 5);
    shorter += cut_len[i] < ref_len[i];
  }
  assert_true(shorter > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_remembered_tokens_transliterate_alike),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
