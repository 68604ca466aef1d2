/* Internal to adapters/: the base every adapter kind embeds as its first member, so
 * that the generic wrappers in adapter.c find the vtable (h2o's `super` pattern). */
#ifndef FB_ADAPTERS_ADAPTER_IMPL_H
#define FB_ADAPTERS_ADAPTER_IMPL_H

#include "adapters/adapter.h"

struct fb_adapter {
  const fb_adapter_vtable *vt;
  char state[16]; /* the state code, for log lines */
};

struct fb_leg {
  fb_adapter *adapter;
};

extern const fb_adapter_vtable fb_sqlite_adapter_vtable;
extern const fb_adapter_vtable fb_http_adapter_vtable;
extern const fb_adapter_vtable fb_postgres_adapter_vtable;
extern const fb_adapter_vtable fb_broker_adapter_vtable;

#endif
