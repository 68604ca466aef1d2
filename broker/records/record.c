/* The record schema of API.md, checked on everything a national node returns. It runs
 * per record: nothing is allocated unless the record fails (then the message). */
#include "records/record.h"

#include <string.h>

#include "core/error.h"

static int check_string_array(json_t *v, const char *field, char **err) {
  if (!json_is_array(v)) return fb_set_error(err, "%s must be an array of strings", field);
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_string(e)) return fb_set_error(err, "%s[%zu] must be a string", field, i);
  }
  return 0;
}

/* An array of objects whose listed members, when present, are strings. */
static int check_object_array(json_t *v, const char *field, const char *const *members,
                              char **err) {
  if (!json_is_array(v)) return fb_set_error(err, "%s must be an array of objects", field);
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    if (!json_is_object(e)) return fb_set_error(err, "%s[%zu] must be an object", field, i);
    for (const char *const *m = members; *m; m++) {
      json_t *x = json_object_get(e, *m);
      if (x && !json_is_string(x))
        return fb_set_error(err, "%s[%zu].%s must be a string", field, i, *m);
    }
  }
  return 0;
}

int fb_record_validate(json_t *record, char **err) {
  static const char *const strings[] = {"name", "dob", "sex", "nationality", "address",
                                        "notes", "updated"};
  static const char *const doc_members[] = {"kind", "number", "country", NULL};
  static const char *const case_members[] = {"ref", "offence", "status", NULL};
  static const char *const vessel_members[] = {"name", "imo", "flag"};
  if (!json_is_object(record)) return fb_set_error(err, "not an object");
  json_t *id = json_object_get(record, "id");
  if (!id) return fb_set_error(err, "missing id");
  if (!json_is_string(id) || json_string_length(id) == 0)
    return fb_set_error(err, "id must be a non-empty string");
  json_t *type = json_object_get(record, "type");
  if (!type) return fb_set_error(err, "missing type");
  const char *t = json_string_value(type);
  if (!t || (strcmp(t, "person") != 0 && strcmp(t, "vessel") != 0))
    return fb_set_error(err, "type must be \"person\" or \"vessel\"");
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    json_t *v = json_object_get(record, strings[i]);
    if (v && !json_is_string(v)) return fb_set_error(err, "%s must be a string", strings[i]);
  }
  json_t *v;
  if ((v = json_object_get(record, "tags")) && check_string_array(v, "tags", err)) return -1;
  if ((v = json_object_get(record, "aliases")) && check_string_array(v, "aliases", err)) return -1;
  if ((v = json_object_get(record, "phones")) && check_string_array(v, "phones", err)) return -1;
  if ((v = json_object_get(record, "redacted")) && check_string_array(v, "redacted", err)) return -1;
  if ((v = json_object_get(record, "documents")) &&
      check_object_array(v, "documents", doc_members, err))
    return -1;
  if ((v = json_object_get(record, "cases")) && check_object_array(v, "cases", case_members, err))
    return -1;
  if ((v = json_object_get(record, "vessel"))) {
    if (!json_is_object(v)) return fb_set_error(err, "vessel must be an object");
    for (size_t i = 0; i < sizeof vessel_members / sizeof vessel_members[0]; i++) {
      json_t *x = json_object_get(v, vessel_members[i]);
      if (x && !json_is_string(x))
        return fb_set_error(err, "vessel.%s must be a string", vessel_members[i]);
    }
  }
  return 0;
}
