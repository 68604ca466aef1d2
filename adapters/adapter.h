/* Adapters: one per kind of national system, behind one vtable, registered by name.
 *
 * An fb_adapter is a long-lived handle, one per configured state, opened at start-up
 * on the loop thread. An fb_leg is a short-lived request: one query sent to that
 * state. Every function here is called on the loop thread; an adapter never blocks
 * it (sqlite runs on the uv work queue, http on the libcurl multi interface driven by
 * the loop).
 *
 * Kinds in this build: "sqlite" (adapters/sqlite.c), "http" (adapters/http.c),
 * "postgres" (adapters/postgres.c), "broker" (adapters/broker.c: another fedbroker
 * hub stands for the state, asked through its /v1/search). */
#ifndef FB_ADAPTERS_ADAPTER_H
#define FB_ADAPTERS_ADAPTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>
#include <uv.h>

#include "config/config.h"
#include "core/crec.h"

typedef struct fb_adapter fb_adapter; /* one per configured state */
typedef struct fb_leg fb_leg;         /* one query leg in flight */

typedef struct fb_leg_text fb_leg_text;

/* What a leg asks. Every pointer is borrowed for the duration of fb_adapter_start
 * only: adapters copy or serialise what they keep. */
typedef struct fb_leg_request {
  const char *query_id;
  json_t *subject;                  /* API.md subject object */
  const char *purpose, *priority, *legal_basis;
  const char *case_ref;             /* may be NULL */
  const char *justification;        /* may be NULL; the broker kind forwards it */
  const char *requester_state, *requester_agency;
  size_t limit;                     /* max records wanted; 0 means the adapter default (100) */
  uint32_t timeout_ms;              /* hard cap for this leg; 0 means the adapter default */
  /* Optional: a successful leg's records as a compact set (core/crec.h), judged like
   * the JSON array, handed to this callback (ownership passes) instead of `cb`, by the
   * adapters that read answers as text (http; sqlite, from its stored record texts).
   * Errors still go to `cb`. */
  void (*compact_done)(void *data, fb_crecs *records);
  /* Optional: the request as text, shared by the legs of one search (below). */
  fb_leg_text *shared_text;
} fb_leg_request;

/* A search's legs ask the same thing: an adapter that writes the request as text keeps
 * it here, and a later leg of the same writer and the same request copies it instead of
 * writing it again. The caller zeroes it before the first leg and clears it after the
 * last start (the pointers of `of` are borrowed like the request's). */
struct fb_leg_text {
  const void *writer; /* which text: the writer's own tag; another writer ignores it */
  fb_leg_request of;  /* the request it was written from */
  char *text;         /* malloc'd, NUL-terminated */
  size_t len;
};

static inline void fb_leg_text_clear(fb_leg_text *t) {
  free(t->text);
  *t = (fb_leg_text){0};
}

/* Runs on the loop thread exactly once per started leg unless the leg was cancelled
 * (then never). status 0 with `records` (a JSON array of schema-valid records,
 * ownership passes to the callee), or status < 0 with `error` (a human sentence,
 * borrowed for the call) and records NULL. The leg handle is invalid once the
 * callback starts. Status values: FB_LEG_ERROR, or FB_LEG_TIMEOUT when the leg's
 * timeout passed. */
typedef void (*fb_leg_done_cb)(void *data, int status, json_t *records, const char *error);

#define FB_LEG_ERROR (-1)
#define FB_LEG_TIMEOUT (-2)

typedef struct fb_adapter_vtable {
  const char *kind; /* "sqlite", "http", ... */
  /* Reads the kind's own keys of a loaded `states` entry (cfg->options) into cfg's kind
   * fields and checks them: 0, or -1 with *err a malloc'd sentence naming the file,
   * line and key. No I/O: run once at start-up, before any open. */
  int (*configure)(fb_state_config *, char **err);
  /* Returns 0, or -1 with *err a malloc'd sentence. */
  int (*open)(uv_loop_t *, const fb_state_config *, fb_adapter **out, char **err);
  /* Returns 0 and *out (valid until the callback or cancel), or -1 when the leg could
   * not start; then the callback is never called and *out is NULL. */
  int (*start)(fb_adapter *, const fb_leg_request *, fb_leg_done_cb, void *data, fb_leg **out);
  void (*cancel)(fb_leg *); /* no callback after this returns; frees the leg */
  /* Async: cancels legs still in flight (no callbacks), closes loop handles, then calls
   * `closed(data)` from the loop and frees the adapter. `closed` may be NULL. */
  void (*close)(fb_adapter *, void (*closed)(void *), void *data);
} fb_adapter_vtable;

/* The registry: the vtable of `kind`, or NULL when this build has none. */
const fb_adapter_vtable *fb_adapter_find(const char *kind);

/* Runs each state's kind `configure` over a loaded config (after fb_config_load_*,
 * before the first fb_adapter_open). Returns 0, or -1 with *err a malloc'd sentence:
 * "hub.lua:3: states.MYS: adapter sqlite needs path", "hub.lua:2: states.MYS: unknown
 * adapter 'oracle' (expected sqlite, http, postgres, broker)", a key's wrong type or
 * an unknown key. A state already configured is left alone. */
int fb_adapters_configure(fb_config *cfg, char **err);

/* Opens the adapter named by cfg->adapter. Returns 0, or -1 with *err a malloc'd
 * sentence ("adapter kind 'x' is unknown", or the kind's own error such as
 * "cannot open data/MYS.db: ..."); a state loaded from a file whose options were not
 * configured (fb_adapters_configure) is refused. */
int fb_adapter_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err);
int fb_adapter_start(fb_adapter *a, const fb_leg_request *req, fb_leg_done_cb cb, void *data,
                     fb_leg **out);
void fb_adapter_cancel(fb_leg *leg);
void fb_adapter_close(fb_adapter *a, void (*closed)(void *), void *data);
const char *fb_adapter_kind(const fb_adapter *a);

#endif
