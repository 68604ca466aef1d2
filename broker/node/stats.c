/* What the node has been asked: tests use GET /stats to prove that the hub did, or
 * did not, contact this state, and for which purposes. */
#include <string.h>

#include "core/util.h"
#include "core/vocab.h"
#include "node/internal.h"

void node_count(fb_node *node, const json_t *body) {
  node->requests++;
  const char *purpose = json_string_value(json_object_get(body, "purpose"));
  if (!purpose) return;
  /* API.md's purposes; anything else counts as "other" so that a client cannot grow
   * the table without bound. */
  if (fb_list_index(fb_purposes, purpose) < 0) purpose = "other";
  json_t *n = json_object_get(node->by_purpose, purpose);
  if (n) json_integer_set(n, json_integer_value(n) + 1);
  else json_object_set_new(node->by_purpose, purpose, json_integer(1));
}

json_t *node_stats_json(const fb_node *node) {
  return json_pack("{s:I, s:O, s:s}", "requests", (json_int_t)node->requests, "by_purpose",
                   node->by_purpose, "mode", fb_node_mode_name(node->opt.mode));
}

static void healthz(fb_request *req, void *ctx) {
  (void)ctx;
  fb_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void stats(fb_request *req, void *ctx) {
  fb_respond_json(req, 200, node_stats_json(ctx));
}

void node_routes_stats(fb_node *node) {
  fb_router_add(node->router, "GET", "/healthz", healthz, node);
  fb_router_add(node->router, "GET", "/stats", stats, node);
}
