/* The text of a search's answer (API.md "POST /v1/search"), written straight into a
 * buffer around the merge's own text (search/merge.h): no jansson value for the
 * answer, its entities or its records. Byte for byte what core/jsonw.h gave for the
 * answer as a jansson object ({"query_id","complete","states","results","audit"}).
 * tests/unit/search/test_record_path.c compares the two. */
#ifndef FB_SEARCH_ANSWER_H
#define FB_SEARCH_ANSWER_H

#include "core/util.h"
#include "search/engine.h"

/* The whole JSON answer (a->states_text or a->states must be set; the text is put in
 * as it is); 0, or -1 with `b` as it was (a string
 * that is not UTF-8). */
int fb_search_answer_write(fb_buf *b, const fb_search_answer *a, int precision);

/* The NDJSON line {"result": entity} of entity `e` (0-based), '\n' included; 0 or -1
 * with `b` as it was. */
int fb_search_result_line(fb_buf *b, const fb_search_answer *a, size_t e);

#endif
