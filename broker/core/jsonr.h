/* A fast path for json_loadb(buf, len, 0, err): the node answers' parse (and, with
 * JSON_REJECT_DUPLICATES, the request bodies').
 *
 * jansson's loader reads its input a character at a time through a stream callback,
 * decodes every character's UTF-8 and collects each string in a growing buffer before
 * copying it again. This scanner reads the buffer in place: plain strings are made
 * with one copy, numbers are converted where they stand (the same strtoll / strtod
 * jansson calls), and objects and arrays are built with jansson's own constructors, so
 * the value is the same jansson DOM, keys in the same order (a repeated key keeps its
 * first place and its last value, as jansson's object_set does).
 *
 * It takes only the common shape; anything it is not sure of (invalid UTF-8, an
 * escape it would have to judge, a number out of range, deep nesting, any syntax
 * error) sends the whole buffer to json_loadb, whose answer (the value, or NULL and
 * its error text) is then returned. So the result, including every error sentence, is
 * json_loadb's: tests/unit/core/test_jsonr.c and fuzz/fuzz_jsonr.c compare the two. */
#ifndef FB_CORE_JSONR_H
#define FB_CORE_JSONR_H

#include <stddef.h>

#include <jansson.h>

/* Same contract as json_loadb(buf, len, 0, err); `err` may be NULL. */
json_t *fb_jsonr_loadb(const char *buf, size_t len, json_error_t *err);

/* Same contract as json_loadb(buf, len, flags, err). The fast path takes flags 0 and
 * JSON_REJECT_DUPLICATES (a repeated key is left to json_loadb, which names it); any
 * other flag goes straight to json_loadb. The request bodies' parse. */
json_t *fb_jsonr_loadb_flags(const char *buf, size_t len, size_t flags, json_error_t *err);

/* Only the fast path: the value, or NULL where json_loadb has to decide. For tests and
 * the benchmark. */
json_t *fb_jsonr_fast(const char *buf, size_t len);

#endif
