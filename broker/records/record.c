/* The record schema of API.md, checked on everything a national node returns. It runs
 * per record: nothing is allocated unless the record fails (then the message). */
#include "records/record.h"

#include <string.h>

#include "core/error.h"
#include "core/vocab.h"

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

/* ---- the same checks on compact records (core/crec.h) --------------------- */

/* The scan noted the json_types inside each member's value (fb_cmember.kinds): a value
 * holding only what the schema allows passes without a walk. Anything else is walked
 * as before, which finds the first element at fault and names it. */
#define ONLY(kinds, allowed) (((kinds) & (uint8_t)~(allowed)) == 0)

static int crec_string_array(const fb_crecs *s, const fb_cmember *m, const char *field, char **err) {
  if (m->type == JSON_ARRAY && ONLY(m->kinds, FB_CKIND(JSON_STRING))) return 0;
  if (m->type != JSON_ARRAY) return fb_set_error(err, "%s must be an array of strings", field);
  uint32_t pos = 0, off, len;
  int type;
  for (size_t i = 0; fb_crec_array_next(s, m->val, &pos, &off, &len, &type); i++)
    if (type != JSON_STRING) return fb_set_error(err, "%s[%zu] must be a string", field, i);
  return 0;
}

static int crec_object_array(const fb_crecs *s, const fb_cmember *m, const char *field, const char *const *members,
                             char **err) {
  /* objects whose members are all strings: whichever members are listed */
  if (m->type == JSON_ARRAY && ONLY(m->kinds, FB_CKIND(JSON_OBJECT)) && ONLY(m->kinds2, FB_CKIND(JSON_STRING)))
    return 0;
  if (m->type != JSON_ARRAY) return fb_set_error(err, "%s must be an array of objects", field);
  uint32_t pos = 0, off, len;
  int type;
  for (size_t i = 0; fb_crec_array_next(s, m->val, &pos, &off, &len, &type); i++) {
    if (type != JSON_OBJECT) return fb_set_error(err, "%s[%zu] must be an object", field, i);
    /* one pass over the object's members; the first listed member that fails is named */
    unsigned bad = 0;
    uint32_t mpos = 0, ko, kl, vo, vl;
    int vt;
    while (fb_crec_object_next(s, off, &mpos, &ko, &kl, &vo, &vl, &vt))
      for (unsigned k = 0; members[k]; k++)
        if (vt != JSON_STRING && strcmp(fb_crec_str_at(s, ko), members[k]) == 0) bad |= 1u << k;
    for (unsigned k = 0; members[k]; k++)
      if (bad & (1u << k)) return fb_set_error(err, "%s[%zu].%s must be a string", field, i, members[k]);
  }
  return 0;
}

int fb_crec_validate(const fb_crecs *s, size_t i, char **err) {
  static const int strings[] = {FB_RECORD_FIELD_NAME,    FB_RECORD_FIELD_DOB,   FB_RECORD_FIELD_SEX,
                                FB_RECORD_FIELD_NATIONALITY, FB_RECORD_FIELD_ADDRESS, FB_RECORD_FIELD_NOTES,
                                FB_RECORD_FIELD_UPDATED};
  static const int string_arrays[] = {FB_RECORD_FIELD_TAGS, FB_RECORD_FIELD_ALIASES, FB_RECORD_FIELD_PHONES,
                                      FB_CKEY_REDACTED};
  static const char *const doc_members[] = {"kind", "number", "country", NULL};
  static const char *const case_members[] = {"ref", "offence", "status", NULL};
  static const char *const vessel_members[] = {"name", "imo", "flag", NULL};
  const fb_crec *r = &s->recs[i];
  if (r->type != JSON_OBJECT) return fb_set_error(err, "not an object");
  const fb_cmember *m = fb_crec_get(s, r, FB_CKEY_ID);
  if (!m) return fb_set_error(err, "missing id");
  if (m->type != JSON_STRING || m->vlen == 2) return fb_set_error(err, "id must be a non-empty string");
  if (!(m = fb_crec_get(s, r, FB_CKEY_TYPE))) return fb_set_error(err, "missing type");
  const char *t = m->type == JSON_STRING ? fb_crec_str_at(s, m->val) : NULL;
  if (!t || (strcmp(t, "vessel") != 0 && strcmp(t, "person") != 0))
    return fb_set_error(err, "type must be \"person\" or \"vessel\"");
  for (size_t f = 0; f < FB_ARRAY_LEN(strings); f++)
    if ((m = fb_crec_get(s, r, strings[f])) && m->type != JSON_STRING)
      return fb_set_error(err, "%s must be a string", fb_record_fields[strings[f]]);
  for (size_t f = 0; f < FB_ARRAY_LEN(string_arrays); f++) {
    int k = string_arrays[f];
    const char *name = k == FB_CKEY_REDACTED ? "redacted" : fb_record_fields[k];
    if ((m = fb_crec_get(s, r, k)) && crec_string_array(s, m, name, err)) return -1;
  }
  if ((m = fb_crec_get(s, r, FB_RECORD_FIELD_DOCUMENTS)) && crec_object_array(s, m, "documents", doc_members, err))
    return -1;
  if ((m = fb_crec_get(s, r, FB_RECORD_FIELD_CASES)) && crec_object_array(s, m, "cases", case_members, err))
    return -1;
  if ((m = fb_crec_get(s, r, FB_RECORD_FIELD_VESSEL))) {
    if (m->type != JSON_OBJECT) return fb_set_error(err, "vessel must be an object");
    if (ONLY(m->kinds, FB_CKIND(JSON_STRING))) return 0;
    for (const char *const *k = vessel_members; *k; k++) {
      uint32_t xo, xl;
      int xt;
      if (fb_crec_object_get(s, m->val, *k, &xo, &xl, &xt) && xt != JSON_STRING)
        return fb_set_error(err, "vessel.%s must be a string", *k);
    }
  }
  return 0;
}

int fb_crecs_judge(const fb_crecs *s, char **err) {
  if (!s->has_records) return fb_set_error(err, "answer from node has no \"records\" array");
  for (size_t i = 0; i < s->nrecs; i++)
    if (fb_crec_validate(s, i, err) != 0) {
      fb_prefix_error(err, "record %zu: ", i);
      return -1;
    }
  return 0;
}
