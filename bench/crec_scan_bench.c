/* The hub's parse of a node answer on the loop thread (core/crec.c): fb_crecs_load (the
 * canonical scan into compact records) and fb_crecs_judge (the record check), as the
 * http adapter's judge runs them per leg, on captured answers.
 *
 *   crec_scan_bench [ROUNDS] FILE...   (node answers {"records": [...]}; ROUNDS 20000)
 *
 * Prints, per file, CPU ns per answer for the load alone and for load + judge + free.
 * Run two builds alternately for a before/after ratio (docs/benchmarks.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crec.h"
#include "core/util.h"
#include "records/record.h"

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fb_buf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fb_buf_append(&b, chunk, n);
  fclose(f);
  *len = b.len;
  return fb_buf_steal(&b);
}

/* One answer, as the adapter gets it: a fresh heap copy the set takes over. */
static fb_crecs *load(const char *text, size_t len) {
  char *copy = fb_xmalloc(len + 1);
  memcpy(copy, text, len + 1);
  return fb_crecs_load(copy, len, NULL);
}

int main(int argc, char **argv) {
  int first = 1;
  long rounds = 20000;
  if (argc > 2 && strspn(argv[1], "0123456789") == strlen(argv[1])) rounds = atol(argv[first++]);
  if (first >= argc) {
    fprintf(stderr, "usage: crec_scan_bench [ROUNDS] FILE...\n");
    return 2;
  }
  for (int i = first; i < argc; i++) {
    size_t len;
    char *text = slurp(argv[i], &len);
    if (!text) {
      fprintf(stderr, "crec_scan_bench: cannot read %s\n", argv[i]);
      return 1;
    }
    fb_crecs *check = load(text, len);
    if (!check || !check->fast || fb_crecs_judge(check, NULL) != 0) {
      fprintf(stderr, "crec_scan_bench: %s is not a valid canonical answer\n", argv[i]);
      return 1;
    }
    size_t nrecs = check->nrecs;
    fb_crecs_free(check);
    double t0 = cpu_ns();
    for (long r = 0; r < rounds; r++) fb_crecs_free(load(text, len));
    double t1 = cpu_ns();
    for (long r = 0; r < rounds; r++) {
      fb_crecs *s = load(text, len);
      if (fb_crecs_judge(s, NULL) != 0) abort();
      fb_crecs_free(s);
    }
    double t2 = cpu_ns();
    printf("%s: %zu bytes, %zu records: load %.0f ns, load + judge %.0f ns per answer\n", argv[i], len, nrecs,
           (t1 - t0) / (double)rounds, (t2 - t1) / (double)rounds);
    free(text);
  }
  return 0;
}
