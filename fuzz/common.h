/* Shared by the libFuzzer targets in fuzz/: a scratch directory, files in it, and the
 * fuzz-only test key (fuzz/keys/fuzz-test.pem: an Ed25519 key that signs the seed
 * tokens and audit logs; it protects nothing). */
#ifndef FB_FUZZ_COMMON_H
#define FB_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* The entry point libFuzzer calls with each input; every fuzz_*.c defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* A private scratch directory, created once per process. */
const char *fz_tmpdir(void);
/* Writes `len` bytes to fz_tmpdir()/name and returns the path (static storage per name
 * slot: valid until the next call with the same name). */
const char *fz_write(const char *name, const void *data, size_t len);
/* A NUL-terminated malloc'd copy of the input. */
char *fz_cstr(const uint8_t *data, size_t len);
/* FB_SOURCE_DIR/fuzz/keys/<file> */
const char *fz_key_path(const char *file);
/* The public half of fuzz/keys/fuzz-test.pem (loaded once, never freed). */
EVP_PKEY *fz_test_pub(void);

/* net_harness.c: one server on loopback (HTTP/1.1 + HTTP/2, or TLS when `tls`) with a
 * few routes; fz_net_feed connects, sends `data`, half-closes, and runs the loop until
 * the server has closed the connection (or a bounded number of iterations). */
void fz_net_feed(const uint8_t *data, size_t len, int tls);

#endif
