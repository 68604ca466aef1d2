/* Internal to adapters/: the base every adapter kind embeds as its first member, so
 * that the generic wrappers in adapter.c find the vtable (h2o's `super` pattern). */
#ifndef FB_ADAPTERS_ADAPTER_IMPL_H
#define FB_ADAPTERS_ADAPTER_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/adapter.h"

struct fb_adapter {
  const fb_adapter_vtable *vt;
  char state[16]; /* the state code, for log lines */
};

struct fb_leg {
  fb_adapter *adapter;
};

/* One key an adapter kind reads from its `states` entry: where it goes in
 * fb_state_config and how it is read. */
typedef enum { FB_OPT_STRING, FB_OPT_PATH, FB_OPT_U32, FB_OPT_BYTES } fb_option_kind;
typedef struct {
  const char *key;
  fb_option_kind kind; /* FB_OPT_BYTES: a uint64_t up to 4 GiB */
  size_t offset;       /* offsetof(fb_state_config, field) */
  bool required;       /* "adapter KIND needs KEY" when absent */
} fb_option_spec;

/* A kind's configure: reads cfg->options by `specs` (an unknown key is an error that
 * lists the keys the kind accepts), then checks the required ones. */
int fb_adapter_read_options(fb_state_config *cfg, const fb_option_spec *specs, size_t nspecs, char **err);

extern const fb_adapter_vtable fb_sqlite_adapter_vtable;
extern const fb_adapter_vtable fb_http_adapter_vtable;
extern const fb_adapter_vtable fb_postgres_adapter_vtable;
extern const fb_adapter_vtable fb_broker_adapter_vtable;

#endif
