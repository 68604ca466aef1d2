/* The URL is split with libcurl's parser, the one libcurl would have used for it, so
 * that both transports read a URL alike. Contract in h1_url.h. */
#include "http_client/h1_url.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/util.h"

static char *url_part(CURLU *uh, CURLUPart what, unsigned flags) {
  char *v = NULL;
  return curl_url_get(uh, what, &v, flags) == CURLUE_OK ? v : NULL;
}

fb_h1_client *fb_h1_client_for_url(uv_loop_t *loop, const char *url, const char *bearer, uint64_t max_body,
                                   uint32_t dns_cache_ms) {
  if (strncmp(url, "http://", 7) != 0) return NULL;
  CURLU *uh = curl_url();
  if (!uh) return NULL;
  if (curl_url_set(uh, CURLUPART_URL, url, 0) != CURLUE_OK) {
    curl_url_cleanup(uh);
    return NULL;
  }
  char *user = url_part(uh, CURLUPART_USER, 0), *pass = url_part(uh, CURLUPART_PASSWORD, 0);
  char *zone = url_part(uh, CURLUPART_ZONEID, 0);
  char *host = url_part(uh, CURLUPART_HOST, 0), *port = url_part(uh, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  char *path = url_part(uh, CURLUPART_PATH, 0), *query = url_part(uh, CURLUPART_QUERY, 0);
  fb_h1_client *h1 = NULL;
  long portnum = port ? strtol(port, NULL, 10) : 0;
  if (!user && !pass && !zone && host && host[0] && portnum > 0 && portnum < 65536) {
    fb_buf target = {0}, hosthdr = {0}, headers = {0};
    fb_buf_puts(&target, path && path[0] ? path : "/");
    if (query) fb_buf_printf(&target, "?%s", query);
    fb_buf_puts(&hosthdr, host); /* as curl writes it: the port unless it is 80 */
    if (portnum != 80) fb_buf_printf(&hosthdr, ":%ld", portnum);
    size_t hl = strlen(host); /* an IPv6 literal comes bracketed: the resolver wants it bare */
    char *bare = host[0] == '[' && hl > 2 ? fb_xstrndup(host + 1, hl - 2) : fb_xstrdup(host);
    fb_buf_puts(&headers, "Content-Type: application/json; charset=utf-8\r\nAccept: application/json\r\n");
    if (bearer) fb_buf_printf(&headers, "Authorization: Bearer %s\r\n", bearer);
    fb_h1_options o = {.host = bare, .port = (uint16_t)portnum, .host_header = hosthdr.data, .target = target.data,
                       .headers = headers.data, .max_body = max_body, .dns_cache_ms = dns_cache_ms};
    h1 = fb_h1_client_new(loop, &o);
    explicit_bzero(headers.data, headers.len); /* a credential: not left in freed memory */
    fb_buf_free(&headers);
    fb_buf_free(&target);
    fb_buf_free(&hosthdr);
    free(bare);
  }
  curl_free(user);
  curl_free(pass);
  curl_free(zone);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_free(query);
  curl_url_cleanup(uh);
  return h1;
}
