/* The record: what a national system answers for one person or vessel (API.md
 * "National node protocol"). Every adapter checks what it returns against this schema,
 * and the records databases refuse what fails it. */
#ifndef FB_RECORDS_RECORD_H
#define FB_RECORDS_RECORD_H

#include <stddef.h>

#include <jansson.h>

/* `record` must be an object with `id` (non-empty string) and `type` ("person" or
 * "vessel"); every known field must have its documented type (unknown fields are
 * allowed). Returns 0, or -1 with a sentence naming the field in `why` ("missing id",
 * "documents[1].number must be a string"). */
int fb_record_validate(json_t *record, char *why, size_t whylen);

#endif
