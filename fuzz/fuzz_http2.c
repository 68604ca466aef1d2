/* The HTTP/2 session (prior knowledge): the input is the frames a client sends after
 * the connection preface, which is prepended so the fuzzer spends its time on frames. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  uint8_t *buf = malloc(sizeof preface - 1 + len);
  if (!buf) abort();
  memcpy(buf, preface, sizeof preface - 1);
  if (len) memcpy(buf + sizeof preface - 1, data, len);
  fz_net_feed(buf, sizeof preface - 1 + len, 0);
  free(buf);
  return 0;
}
