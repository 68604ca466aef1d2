/* Exact method + path routing; a trailing '*' matches a prefix. */
#include "net/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "net/internal.h"

typedef struct route {
  char *method;
  char *path;
  size_t prefix_len;   /* > 0 for "prefix*" routes */
  fb_handler handler;
  void *ctx;
} route;

struct fb_router {
  route *routes;
  size_t n, cap;
};

fb_router *fb_router_new(void) { return fb_xcalloc(1, sizeof(fb_router)); }

void fb_router_free(fb_router *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    free(r->routes[i].method);
    free(r->routes[i].path);
  }
  free(r->routes);
  free(r);
}

void fb_router_add(fb_router *r, const char *method, const char *path, fb_handler h, void *ctx) {
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->routes = fb_xrealloc(r->routes, r->cap * sizeof *r->routes);
  }
  size_t len = strlen(path);
  route *rt = &r->routes[r->n++];
  rt->method = fb_xstrdup(method);
  rt->path = fb_xstrdup(path);
  rt->prefix_len = len && path[len - 1] == '*' ? len - 1 : 0;
  rt->handler = h;
  rt->ctx = ctx;
}

static bool path_matches(const route *rt, const char *path) {
  if (rt->prefix_len) return strncmp(path, rt->path, rt->prefix_len) == 0;
  return strcmp(path, rt->path) == 0;
}

void fb_router_dispatch(const fb_router *r, fb_request *req) {
  const char *method = fb_request_method(req);
  const char *path = fb_request_path(req);
  fb_buf allow = {0};
  for (size_t i = 0; i < r->n; i++) {
    const route *rt = &r->routes[i];
    if (!path_matches(rt, path)) continue;
    bool same = strcmp(rt->method, method) == 0 ||
                (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
    if (same) {
      fb_buf_free(&allow);
      fb_request_set_route(req, rt->path);
      rt->handler(req, rt->ctx);
      return;
    }
    if (allow.len) fb_buf_puts(&allow, ", ");
    fb_buf_puts(&allow, rt->method);
  }
  if (allow.len) {
    fb_response_header(req, "allow", allow.data);
    fb_buf_free(&allow);
    fb_respond_error(req, 405, "method_not_allowed", "This method is not allowed on this path.", NULL);
    return;
  }
  fb_respond_error(req, 404, "not_found", "No such endpoint.", NULL);
}
