/* The route table: exact method + path to a handler. A path that exists with another
 * method answers 405 (with Allow); an unknown path 404. */
#ifndef FB_NET_ROUTER_H
#define FB_NET_ROUTER_H

#include "net/request.h"

typedef void (*fb_handler)(fb_request *req, void *ctx);

typedef struct fb_router fb_router;

fb_router *fb_router_new(void);
void fb_router_free(fb_router *r);
/* `path` is exact, or ends in '*' to match a prefix (e.g. "/console/" followed by a star). */
void fb_router_add(fb_router *r, const char *method, const char *path, fb_handler h, void *ctx);
/* Finds and calls the handler, or answers 404/405 itself. */
void fb_router_dispatch(const fb_router *r, fb_request *req);

#endif
