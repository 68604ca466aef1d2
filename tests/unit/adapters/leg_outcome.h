/* What adapter tests record of a leg: the callback's arguments, and a counter for
 * adapters closed. Shared by the adapter tests (one copy instead of five). */
#ifndef FB_TEST_LEG_OUTCOME_H
#define FB_TEST_LEG_OUTCOME_H

#include <stdio.h>

#include <jansson.h>

typedef struct {
  int calls, status;
  json_t *records;
  char error[512];
} outcome;

/* fb_leg_done_cb: `data` is an outcome. */
static inline void done_cb(void *data, int status, json_t *records, const char *error) {
  outcome *o = data;
  o->calls++;
  o->status = status;
  o->records = records;
  if (error) snprintf(o->error, sizeof o->error, "%s", error);
}

/* fb_adapter_close's callback: `data` is an int counter. */
static inline void closed_cb(void *data) { (*(int *)data)++; }

#endif
