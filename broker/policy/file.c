/* Policy files: what they are called (common.lua, and <STATE>.lua for each state)
 * and loading one from disk. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "policy/internal.h"
#include "policy/rules.h"

bool policy_is_state_code(const char *s) {
  return strlen(s) == 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
         isupper((unsigned char)s[2]);
}

bool policy_code_valid(const char *code) { return strcmp(code, "common") == 0 || policy_is_state_code(code); }

int policy_code_of_file(const char *path, char code[8]) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t bl = strlen(base);
  code[0] = '\0';
  if (bl < 5 || strcmp(base + bl - 4, ".lua") != 0) return -1;
  if (bl - 4 >= 8) return -2;
  memcpy(code, base, bl - 4);
  code[bl - 4] = '\0';
  return policy_code_valid(code) ? 0 : -2;
}

fb_policy *fb_policy_load_file(const char *path, const uint8_t *key, size_t keylen,
                               json_t *warnings, char **err) {
  return fb_policy_load_file_ex(path, key, keylen, NULL, 0, true, warnings, err);
}

fb_policy *fb_policy_load_file_ex(const char *path, const uint8_t *key, size_t keylen,
                                  const char *const *states, size_t nstates, bool any_iso,
                                  json_t *warnings, char **err) {
  char code[8];
  int named = policy_code_of_file(path, code);
  if (named == -1) {
    fb_set_error(err, "%s: a policy file is named common.lua or <STATE>.lua", path);
    return NULL;
  }
  if (named != 0) {
    fb_set_error(err, "%s: a policy file is named common.lua or <STATE>.lua (like MYS.lua)", path);
    return NULL;
  }
  size_t len;
  char *src = fb_read_file(path, FB_POLICY_FILE_MAX, &len);
  if (!src) {
    fb_set_error(err, "%s: cannot read: %s", path, errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    return NULL;
  }
  fb_policy *p = fb_policy_compile_ex(code, path, src, len, key, keylen, states, nstates, any_iso,
                                      warnings, err);
  free(src);
  return p;
}
