/* The record schema of API.md, checked on everything a national node returns. */
#include "records/record.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return -1;
}

static int check_string_array(json_t *v, const char *field, char *why, size_t whylen) {
  if (!json_is_array(v)) return fail(why, whylen, "%s must be an array of strings", field);
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_string(e)) return fail(why, whylen, "%s[%zu] must be a string", field, i);
  }
  return 0;
}

/* An array of objects whose listed members, when present, are strings. */
static int check_object_array(json_t *v, const char *field, const char *const *members,
                              char *why, size_t whylen) {
  if (!json_is_array(v)) return fail(why, whylen, "%s must be an array of objects", field);
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_object(e)) return fail(why, whylen, "%s[%zu] must be an object", field, i);
    for (const char *const *m = members; *m; m++) {
      json_t *x = json_object_get(e, *m);
      if (x && !json_is_string(x))
        return fail(why, whylen, "%s[%zu].%s must be a string", field, i, *m);
    }
  }
  return 0;
}

int fb_record_validate(json_t *record, char *why, size_t whylen) {
  static const char *const strings[] = {"name", "dob", "sex", "nationality", "address",
                                        "notes", "updated"};
  static const char *const doc_members[] = {"kind", "number", "country", NULL};
  static const char *const case_members[] = {"ref", "offence", "status", NULL};
  static const char *const vessel_members[] = {"name", "imo", "flag"};
  if (!json_is_object(record)) return fail(why, whylen, "not an object");
  json_t *id = json_object_get(record, "id");
  if (!id) return fail(why, whylen, "missing id");
  if (!json_is_string(id) || json_string_length(id) == 0)
    return fail(why, whylen, "id must be a non-empty string");
  json_t *type = json_object_get(record, "type");
  if (!type) return fail(why, whylen, "missing type");
  const char *t = json_string_value(type);
  if (!t || (strcmp(t, "person") != 0 && strcmp(t, "vessel") != 0))
    return fail(why, whylen, "type must be \"person\" or \"vessel\"");
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    json_t *v = json_object_get(record, strings[i]);
    if (v && !json_is_string(v)) return fail(why, whylen, "%s must be a string", strings[i]);
  }
  json_t *v;
  if ((v = json_object_get(record, "tags")) && check_string_array(v, "tags", why, whylen)) return -1;
  if ((v = json_object_get(record, "aliases")) && check_string_array(v, "aliases", why, whylen)) return -1;
  if ((v = json_object_get(record, "phones")) && check_string_array(v, "phones", why, whylen)) return -1;
  if ((v = json_object_get(record, "redacted")) && check_string_array(v, "redacted", why, whylen)) return -1;
  if ((v = json_object_get(record, "documents")) &&
      check_object_array(v, "documents", doc_members, why, whylen))
    return -1;
  if ((v = json_object_get(record, "cases")) && check_object_array(v, "cases", case_members, why, whylen))
    return -1;
  if ((v = json_object_get(record, "vessel"))) {
    if (!json_is_object(v)) return fail(why, whylen, "vessel must be an object");
    for (size_t i = 0; i < sizeof vessel_members / sizeof vessel_members[0]; i++) {
      json_t *x = json_object_get(v, vessel_members[i]);
      if (x && !json_is_string(x))
        return fail(why, whylen, "vessel.%s must be a string", vessel_members[i]);
    }
  }
  return 0;
}
