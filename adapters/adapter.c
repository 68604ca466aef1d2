/* The adapter registry and the generic wrappers over each kind's vtable. */
#include "adapters/adapter_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"

static const fb_adapter_vtable *const kinds[] = {
    &fb_sqlite_adapter_vtable,
    &fb_http_adapter_vtable,
    &fb_postgres_adapter_vtable,
    &fb_broker_adapter_vtable,
};

const fb_adapter_vtable *fb_adapter_find(const char *kind) {
  if (!kind) return NULL;
  for (size_t i = 0; i < FB_ARRAY_LEN(kinds); i++)
    if (strcmp(kinds[i]->kind, kind) == 0) return kinds[i];
  return NULL;
}

int fb_adapter_open(uv_loop_t *loop, const fb_state_config *cfg, fb_adapter **out, char **err) {
  *out = NULL;
  const char *kind = cfg->adapter ? cfg->adapter : "";
  const fb_adapter_vtable *vt = fb_adapter_find(kind);
  if (!vt) {
    fb_set_error(err, "adapter kind '%s' is unknown", kind);
    return -1;
  }
  if (vt->open(loop, cfg, out, err) != 0) return -1;
  (*out)->vt = vt;
  snprintf((*out)->state, sizeof (*out)->state, "%s", cfg->code ? cfg->code : "?");
  return 0;
}

int fb_adapter_start(fb_adapter *a, const fb_leg_request *req, fb_leg_done_cb cb, void *data,
                     fb_leg **out) {
  return a->vt->start(a, req, cb, data, out);
}

void fb_adapter_cancel(fb_leg *leg) {
  if (leg) leg->adapter->vt->cancel(leg);
}

void fb_adapter_close(fb_adapter *a, void (*closed)(void *), void *data) {
  a->vt->close(a, closed, data);
}

const char *fb_adapter_kind(const fb_adapter *a) { return a->vt->kind; }
