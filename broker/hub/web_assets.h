/* The browser workspace's files, embedded in the binary by web/build.mjs (run by
 * CMake): index.html at "/" and content-hashed bundles and chunks under /assets/. */
#ifndef FB_HUB_WEB_ASSETS_H
#define FB_HUB_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  const char *path;          /* "/" or "/assets/app-<hash>.js", "/assets/chunk-<hash>.js" */
  const char *content_type;
  const char *etag;          /* quoted, from the content's SHA-256 */
  const unsigned char *data;
  size_t len;
  bool immutable;            /* the name carries the content hash: cache for a year */
} fb_web_asset;

/* Ends with an entry whose path is NULL. */
extern const fb_web_asset fb_web_assets[];

#endif
