/* The TLS record path: the input is the raw bytes a client sends to the TLS listener
 * (records, handshake messages), read through the connection's memory BIOs. */
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  fz_net_feed(data, len, 1);
  return 0;
}
