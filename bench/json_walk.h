/* What bench/json_parse_bench.c counts in a parsed node answer, the same for every
 * parser: it walks the whole value (On-Demand parsing does its work only when read), and
 * the counts tell that every parser read the same thing. Shared with the C++ of
 * bench/json_simdjson.cpp. */
#ifndef FB_BENCH_JSON_WALK_H
#define FB_BENCH_JSON_WALK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fb_json_walk {
  size_t values;       /* every value: objects, arrays, strings, numbers, true/false/null */
  size_t string_bytes; /* the unescaped bytes of every string and every object key */
  size_t records;      /* the size of the top-level "records" array */
} fb_json_walk;

/* simdjson On-Demand (bench/json_simdjson.cpp): walks buf[0..len), which must be
 * readable up to `cap` >= len + fb_simdjson_padding() bytes. Adds to *out; returns 0,
 * or -1 if the text is not valid JSON. */
int fb_simdjson_walk(const char *buf, size_t len, size_t cap, fb_json_walk *out);
size_t fb_simdjson_padding(void);
/* The instruction set the On-Demand code was compiled for ("haswell", "fallback", ...). */
const char *fb_simdjson_kernel(void);

#ifdef __cplusplus
}
#endif

#endif
