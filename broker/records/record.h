/* The record: what a national system answers for one person or vessel (API.md
 * "National node protocol"). Every adapter checks what it returns against this schema,
 * and the records databases refuse what fails it. */
#ifndef FB_RECORDS_RECORD_H
#define FB_RECORDS_RECORD_H

#include <jansson.h>

/* `record` must be an object with `id` (non-empty string) and `type` ("person" or
 * "vessel"); every known field must have its documented type (unknown fields are
 * allowed). Returns 0, or -1 with a new sentence naming the field at *err when
 * err is not NULL ("missing id", "documents[1].number must be a string"; core/error.h).
 * Allocates nothing for a valid record, nor when err is NULL. */
int fb_record_validate(json_t *record, char **err);

#endif
