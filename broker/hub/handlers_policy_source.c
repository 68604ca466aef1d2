/* GET /v1/policy/files and GET /v1/policy/files/NAME.lua (legal_officer, admin): the
 * policy directory's files as they are on disk, for the workspace's policy playground
 * (a draft starts from the live text). Names are plain file names: no path. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/util.h"
#include "hub/hub.h"

#define POLICY_SOURCE_MAX (1024 * 1024)

static bool plain_lua_name(const char *name) {
  size_t n = strlen(name);
  if (n < 5 || n > 64 || strcmp(name + n - 4, ".lua") != 0) return false;
  for (size_t i = 0; i < n - 4; i++)
    if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-') return false;
  return true;
}

static int by_name(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void list_files(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_LEGAL_OFFICER | FB_ROLE_ADMIN, &id) != 0) return;
  DIR *d = opendir(hub->cfg.policies);
  if (!d) {
    fb_respond_error(req, 500, "internal", "The policy directory cannot be read.", NULL);
    return;
  }
  json_t *names[256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < FB_ARRAY_LEN(names))
    if (plain_lua_name(e->d_name)) names[n++] = json_string(e->d_name);
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  json_t *files = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(files, names[i]);
  fb_respond_json(req, 200, json_pack("{s:o}", "files", files));
}

static void get_file(fb_request *req, void *ctx) {
  fb_hub *hub = ctx;
  fb_identity id;
  if (fb_hub_identify(hub, req, FB_ROLE_LEGAL_OFFICER | FB_ROLE_ADMIN, &id) != 0) return;
  const char *name = fb_request_path(req) + strlen("/v1/policy/files/");
  if (!plain_lua_name(name)) {
    fb_respond_error(req, 404, "not_found", "No such policy file (names look like MYS.lua).", NULL);
    return;
  }
  fb_buf path = {0};
  fb_buf_printf(&path, "%s/%s", hub->cfg.policies, name);
  size_t len = 0;
  char *text = fb_read_file(path.data, POLICY_SOURCE_MAX, &len);
  fb_buf_free(&path);
  if (!text) {
    if (errno == ENOENT) fb_respond_error(req, 404, "not_found", "No such policy file.", NULL);
    else fb_respond_error(req, 500, "internal", "The policy file cannot be read.", NULL);
    return;
  }
  unsigned char md[SHA256_DIGEST_LENGTH];
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  SHA256((const unsigned char *)text, len, md);
  fb_hex_encode(md, sizeof md, hex);
  json_t *body = json_pack("{s:s, s:s%, s:s}", "file", name, "text", text, len, "sha256", hex);
  free(text);
  if (!body) { /* not UTF-8 */
    fb_respond_error(req, 500, "internal", "The policy file is not UTF-8 text.", NULL);
    return;
  }
  fb_respond_json(req, 200, body);
}

void fb_hub_routes_policy_source(fb_hub *hub) {
  fb_router_add(hub->router, "GET", "/v1/policy/files", list_files, hub);
  fb_router_add(hub->router, "GET", "/v1/policy/files/*", get_file, hub);
}
