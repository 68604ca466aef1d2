/* The HTTP/1.1 session: the input is everything a cleartext client sends on one
 * connection (requests, pipelining, chunked bodies, or anything else). */
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  fz_net_feed(data, len, 0);
  return 0;
}
