/* The merge's reference (support_merge_reference.c): fb_merge as it was before its
 * linking was made faster, for tests that compare the two. */
#ifndef FB_TESTS_MERGE_REFERENCE_H
#define FB_TESTS_MERGE_REFERENCE_H

#include <jansson.h>

json_t *fb_merge_reference(json_t *per_state);

#endif
