#include "search/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/vocab.h"

#define purposes fb_purposes
#define priorities fb_priorities
#define legal_bases fb_legal_bases
#define subject_keys fb_subject_fields
static const char *const search_keys[] = {"subject", "purpose", "priority", "legal_basis", "justification",
                                          "case_ref", "states", NULL};

static bool in_list(const char *s, const char *const *list) { return fb_list_index(list, s) >= 0; }

bool fb_is_purpose(const char *s) { return in_list(s, purposes); }
bool fb_is_priority(const char *s) { return in_list(s, priorities); }
bool fb_is_legal_basis(const char *s) { return in_list(s, legal_bases); }

__attribute__((format(printf, 3, 4)))
static int bad(fb_validation_error *e, const char *field, const char *fmt, ...) {
  snprintf(e->code, sizeof e->code, "invalid_request");
  snprintf(e->field, sizeof e->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -1;
}


/* The list of allowed words is written only for a refusal. */
static int enum_field(json_t *body, const char *key, const char *const *allowed, const char **out,
                      fb_validation_error *e) {
  json_t *v = json_object_get(body, key);
  if (v && json_is_string(v) && in_list(json_string_value(v), allowed)) {
    *out = json_string_value(v);
    return 0;
  }
  char allowed_text[200];
  fb_list_text(allowed, allowed_text, sizeof allowed_text);
  if (!v) return bad(e, key, "%s is required: one of %s.", key, allowed_text);
  return bad(e, key, "%s must be one of %s.", key, allowed_text);
}

/* Characters, not bytes: the contract counts what a person typed. */
static size_t utf8_length(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static bool valid_dob(const char *s) {
  size_t n = strlen(s);
  if (n != 4 && n != 10) return false;
  for (size_t i = 0; i < n; i++) {
    if (i == 4 || i == 7) {
      if (s[i] != '-') return false;
    } else if (!isdigit((unsigned char)s[i])) {
      return false;
    }
  }
  if (n == 10) {
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  }
  return true;
}

static const char *subject_field(char out[64], const char *key) {
  snprintf(out, 64, "subject.%.50s", key);
  return out;
}

static int validate_subject(json_t *subject, fb_validation_error *e) {
  if (!subject) return bad(e, "subject", "subject is required.");
  if (!json_is_object(subject)) return bad(e, "subject", "subject must be an object.");
  const char *key;
  json_t *v;
  bool searchable = false;
  json_object_foreach(subject, key, v) {
    char field[64]; /* "subject.dob": written by subject_field for a refusal only */
    char allowed[120];
    int which = fb_list_index(subject_keys, key);
    if (which < 0)
      return bad(e, subject_field(field, key), "Unknown subject field %.50s (use %s).", key,
                 fb_list_text(subject_keys, allowed, sizeof allowed));
    if (!json_is_string(v)) return bad(e, subject_field(field, key), "%s must be a string.", field);
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    if (len == 0 || len > 200) return bad(e, subject_field(field, key), "%s must be 1 to 200 characters.", field);
    if (which == FB_SUBJECT_DOB && !valid_dob(s)) return bad(e, subject_field(field, key), "subject.dob must be YYYY-MM-DD or YYYY.");
    if (which == FB_SUBJECT_NATIONALITY &&
        !(len == 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) && isupper((unsigned char)s[2])))
      return bad(e, subject_field(field, key), "subject.nationality must be an ISO 3166-1 alpha-3 code such as MYS.");
    if (which == FB_SUBJECT_NAME || which == FB_SUBJECT_DOCUMENT || which == FB_SUBJECT_PHONE ||
        which == FB_SUBJECT_VESSEL)
      searchable = true;
  }
  if (!searchable) return bad(e, "subject", "subject needs at least one of name, document, phone, vessel.");
  return 0;
}

int fb_search_validate(json_t *body, const fb_config *cfg, const char *requester_state,
                       const char *const *extra_keys, fb_search_params *p, fb_validation_error *e) {
  memset(p, 0, sizeof *p);
  memset(e, 0, sizeof *e);
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    if (!in_list(key, search_keys) && !(extra_keys && in_list(key, extra_keys)))
      return bad(e, key, "Unknown field %.60s.", key);
  }
  p->subject = json_object_get(body, "subject");
  if (validate_subject(p->subject, e) != 0) return -1;
  if (enum_field(body, "purpose", purposes, &p->purpose, e) != 0) return -1;
  if (enum_field(body, "priority", priorities, &p->priority, e) != 0) return -1;
  if (enum_field(body, "legal_basis", legal_bases, &p->legal_basis, e) != 0) return -1;
  v = json_object_get(body, "justification");
  if (!v) return bad(e, "justification", "justification is required: why this search is needed (10 to 2000 characters).");
  if (!json_is_string(v)) return bad(e, "justification", "justification must be a string.");
  size_t jl = utf8_length(json_string_value(v));
  if (jl < 10 || jl > 2000) return bad(e, "justification", "justification must be 10 to 2000 characters.");
  p->justification = json_string_value(v);
  v = json_object_get(body, "case_ref");
  if (v && !json_is_null(v)) {
    if (!json_is_string(v)) return bad(e, "case_ref", "case_ref must be a string.");
    if (utf8_length(json_string_value(v)) > 64) return bad(e, "case_ref", "case_ref must be at most 64 characters.");
    p->case_ref = json_string_value(v);
  }
  v = json_object_get(body, "states");
  if (v && !json_is_null(v)) {
    if (!json_is_array(v)) return bad(e, "states", "states must be an array of state codes.");
    size_t n = json_array_size(v);
    if (n == 0) return bad(e, "states", "states must name at least one state.");
    if (n > cfg->limits.max_states) return bad(e, "states", "states names more than %u states.", cfg->limits.max_states);
    p->states = fb_xcalloc(n, sizeof *p->states);
    for (size_t i = 0; i < n; i++) {
      json_t *s = json_array_get(v, i);
      char field[32]; /* "states[1]": written for a refusal only */
      if (!json_is_string(s) || !fb_config_state(cfg, json_string_value(s))) {
        fb_search_params_free(p);
        snprintf(field, sizeof field, "states[%zu]", i);
        return bad(e, field, "%s is not a state of this hub.", field);
      }
      bool dup = false;
      for (size_t j = 0; j < p->nstates; j++) dup |= strcmp(p->states[j], json_string_value(s)) == 0;
      if (dup) {
        fb_search_params_free(p);
        snprintf(field, sizeof field, "states[%zu]", i);
        return bad(e, field, "%s names a state twice.", field);
      }
      p->states[p->nstates++] = json_string_value(s);
    }
  } else {
    p->states = fb_xcalloc(cfg->nstates ? cfg->nstates : 1, sizeof *p->states);
    for (size_t i = 0; i < cfg->nstates; i++)
      if (!requester_state || strcmp(cfg->states[i].code, requester_state) != 0)
        p->states[p->nstates++] = cfg->states[i].code;
  }
  return 0;
}

void fb_search_params_free(fb_search_params *p) {
  free(p->states);
  p->states = NULL;
  p->nstates = 0;
}
