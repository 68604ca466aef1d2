/* The audit verifier: the input is an audit log file, verified with the fuzz test
 * key's public half (the seeds are logs whose checkpoints it signed). */
#include <stdlib.h>

#include "audit/audit.h"
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  const char *path = fz_write("audit.jsonl", data, len);
  fb_audit_verify_result res;
  char *err = NULL;
  int rc = fb_audit_verify_file_ex(path, fz_test_pub(), &res, &err);
  if (rc != 0 && !err) abort(); /* a log that fails says where and why */
  if (rc == 0 && res.bad_line != 0) abort();
  free(err);
  return 0;
}
