/* The record: what a national system answers for one person or vessel (API.md
 * "National node protocol"). Every adapter checks what it returns against this schema,
 * and the records databases refuse what fails it. */
#ifndef FB_RECORDS_RECORD_H
#define FB_RECORDS_RECORD_H

#include <jansson.h>

#include "core/crec.h"

/* `record` must be an object with `id` (non-empty string) and `type` ("person" or
 * "vessel"); every known field must have its documented type (unknown fields are
 * allowed). Returns 0, or -1 with a new sentence naming the field at *err when
 * err is not NULL ("missing id", "documents[1].number must be a string"; core/error.h).
 * Allocates nothing for a valid record, nor when err is NULL. */
int fb_record_validate(json_t *record, char **err);

/* The same check of record `i` of a compact set, with the same sentences. */
int fb_crec_validate(const fb_crecs *s, size_t i, char **err);

/* The http adapter's judgement of a node answer: 0, or -1 with its sentence ("answer
 * from node has no \"records\" array", "record 3: documents[1].number must be a
 * string"). Allocates nothing when the answer is valid. */
int fb_crecs_judge(const fb_crecs *s, char **err);

#endif
