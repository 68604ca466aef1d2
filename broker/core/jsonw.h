/* A direct JSON writer for jansson values: the answers' text, written straight into
 * an fb_buf.
 *
 * json_dump_callback spends most of its time on the way to the bytes (a callback per
 * fragment, a UTF-8 decode per character); this writer copies runs of plain bytes at
 * once, looks escapes up in a table and appends into one buffer reserved ahead. Its
 * output is byte for byte what json_dump_callback gives for
 * JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(precision) (jansson 2.14:
 * keys in insertion order, "\u001F"-style escapes of control characters, reals as
 * "%.{precision}g" with ".0" added and the exponent's "+" and leading zeros removed),
 * and it fails where jansson fails (a string that is not valid UTF-8).
 * tests/unit/core/test_jsonw.c holds it to that. */
#ifndef FB_CORE_JSONW_H
#define FB_CORE_JSONW_H

#include <jansson.h>

#include "core/util.h"

/* Appends the text of `v` (an object or an array, as json_dump_callback requires
 * without JSON_ENCODE_ANY) to `b`. Returns 0, or -1 with `b` as it was (a non-container
 * `v`, a string that is not UTF-8, or a container holding itself). `precision` is
 * JSON_REAL_PRECISION's argument, 1..31 (0 means jansson's default, 17). */
int fb_jsonw_dump(fb_buf *b, const json_t *v, int precision);

/* The same for any value (JSON_ENCODE_ANY). */
int fb_jsonw_value(fb_buf *b, const json_t *v, int precision);

/* Appends `len` bytes of `s` as a JSON string, quoted and escaped as jansson dumps
 * it. Returns 0, or -1 with `b` as it was when `s` is not valid UTF-8 (where
 * json_string refuses it). */
int fb_jsonw_string(fb_buf *b, const char *s, size_t len);

/* The response flags of the hub's JSON answers and NDJSON lines. */
#define FB_JSONW_PRECISION 12

#endif
