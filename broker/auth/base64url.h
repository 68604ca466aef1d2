/* base64url without padding (RFC 7515 section 2), strict: the decoder refuses
 * padding, characters outside [A-Za-z0-9_-], impossible lengths and non-zero unused
 * trailing bits, so every byte string has exactly one accepted encoding. */
#ifndef FB_AUTH_BASE64URL_H
#define FB_AUTH_BASE64URL_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

/* Appends the encoding of `in` to `out`. */
void fb_b64url_encode(const void *in, size_t n, fb_buf *out);

/* Bytes needed to decode `n` characters (an upper bound). */
#define FB_B64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* Decodes `n` characters of `in` into `out` (room for FB_B64URL_DECODED_MAX(n)).
 * Returns the decoded length, or -1 on any malformation. */
long fb_b64url_decode(const char *in, size_t n, uint8_t *out);

#endif
