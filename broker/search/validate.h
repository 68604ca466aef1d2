/* Validation of the POST /v1/search body (API.md), shared by the search and the
 * policy dry run. Nothing is copied: the parsed fields borrow from the JSON body. */
#ifndef FB_SEARCH_VALIDATE_H
#define FB_SEARCH_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/config.h"

typedef struct fb_search_params {
  json_t *subject;                 /* borrowed from the body */
  const char *purpose, *priority, *legal_basis, *justification;
  const char *case_ref;            /* NULL when absent */
  const char **states;             /* malloc'd array of borrowed codes (free it) */
  size_t nstates;
} fb_search_params;

typedef struct {
  char code[32];                   /* "invalid_request" */
  char message[256];
  char field[64];                  /* "subject.dob", "states[1]", or "" */
} fb_validation_error;

/* Validates `body` and fills `p`. `extra_keys` (NULL-terminated, may be NULL) are
 * top-level keys accepted besides the search fields (the dry run's "as", "records").
 * When the body names no states, every configured state except `requester_state`.
 * Returns 0, or -1 with *e filled. */
int fb_search_validate(json_t *body, const fb_config *cfg, const char *requester_state,
                       const char *const *extra_keys, fb_search_params *p, fb_validation_error *e);
void fb_search_params_free(fb_search_params *p);

bool fb_is_purpose(const char *s);
bool fb_is_priority(const char *s);
bool fb_is_legal_basis(const char *s);

#endif
