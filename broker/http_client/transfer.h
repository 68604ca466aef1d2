/* What the two transports of client.c (h1_client.h for cleartext http://,
 * curl_transport.h for the rest) share: how one request ended, as the same callback,
 * so that client.c turns either into the same sentences. */
#ifndef FB_HTTP_CLIENT_TRANSFER_H
#define FB_HTTP_CLIENT_TRANSFER_H

#include "core/util.h"

/* Connections a transport keeps to its peer, busy or idle. Over HTTP/1.1 (one request
 * per connection) it is also the number of requests client.c lets be in a transport at
 * once; the others wait in its queue. */
#define FB_HTTP_MAX_HOST_CONNECTIONS 16

typedef enum {
  FB_TRANSFER_ANSWERED, /* a complete HTTP answer, any status */
  FB_TRANSFER_FAILED,   /* no complete answer: `reason` says why */
  FB_TRANSFER_TIMEOUT,  /* no complete answer within the request's time */
  FB_TRANSFER_TOO_BIG,  /* the body would pass max_body */
} fb_transfer_outcome;

/* `body` (FB_TRANSFER_ANSWERED only, else empty) is the answer's body, NUL-terminated
 * unless empty (data NULL), to be taken over by the callee (or left to be freed). `reason`: borrowed,
 * FB_TRANSFER_FAILED only. */
typedef void (*fb_transfer_done_cb)(void *data, fb_transfer_outcome outcome, int http_status, fb_buf *body,
                                    const char *reason);

#endif
