/* Which URLs fedbroker's own HTTP/1.1 client (h1_client.h) carries, and its options
 * from such a URL: plain http:// with a host and a port, no user name, password or
 * IPv6 zone in it. Anything else is libcurl's (curl_transport.h). */
#ifndef FB_HTTP_CLIENT_H1_URL_H
#define FB_HTTP_CLIENT_H1_URL_H

#include <stdint.h>

#include <uv.h>

#include "http_client/h1_client.h"

/* The client for `url`, sending the JSON headers (and "Authorization: Bearer <bearer>"
 * when bearer is set) on each request; NULL when the URL is not one it carries. */
fb_h1_client *fb_h1_client_for_url(uv_loop_t *loop, const char *url, const char *bearer, uint64_t max_body,
                                   uint32_t dns_cache_ms);

#endif
