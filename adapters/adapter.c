/* The adapter registry and the generic wrappers over each kind's vtable. */
#include "adapters/adapter_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"

static const fb_adapter_vtable *const kinds[] = {
    &sqlite_adapter_vtable,
    &http_adapter_vtable,
    &postgres_adapter_vtable,
    &broker_adapter_vtable,
};

/* "sqlite, http, postgres, broker" */
static void kind_names(fb_buf *b) {
  for (size_t i = 0; i < FB_ARRAY_LEN(kinds); i++) fb_buf_printf(b, "%s%s", i ? ", " : "", kinds[i]->kind);
}

static const adapter_option_spec *find_spec(const adapter_option_spec *specs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(specs[i].key, key) == 0) return &specs[i];
  return NULL;
}

static int read_option(fb_state_config *cfg, const adapter_option_spec *spec, const fb_state_option *o, char **err) {
  void *field = (char *)cfg + spec->offset;
  switch (spec->kind) {
  case ADAPTER_OPT_STRING: return fb_state_option_string(cfg, o, field, err);
  case ADAPTER_OPT_PATH: return fb_state_option_path(cfg, o, field, err);
  case ADAPTER_OPT_U32: return fb_state_option_u32(cfg, o, field, err);
  case ADAPTER_OPT_BYTES: return fb_state_option_uint(cfg, o, 1ull << 32, field, err);
  }
  return -1;
}

int adapter_read_options(fb_state_config *cfg, const adapter_option_spec *specs, size_t nspecs, char **err) {
  for (size_t i = 0; i < cfg->noptions; i++) {
    const fb_state_option *o = &cfg->options[i];
    const adapter_option_spec *spec = find_spec(specs, nspecs, o->key);
    if (!spec) {
      fb_buf keys = {0};
      fb_buf_puts(&keys, "adapter, timeout, max_legs"); /* read by the config loader */
      for (size_t j = 0; j < nspecs; j++) fb_buf_printf(&keys, ", %s", specs[j].key);
      fb_state_error(err, cfg, o, "unknown key (expected %s)", keys.data);
      fb_buf_free(&keys);
      return -1;
    }
    if (read_option(cfg, spec, o, err) != 0) return -1;
  }
  for (size_t j = 0; j < nspecs; j++) { /* required keys are strings */
    if (specs[j].required && !*(char **)(void *)((char *)cfg + specs[j].offset))
      return fb_state_error(err, cfg, NULL, "adapter %s needs %s", cfg->adapter, specs[j].key);
  }
  return 0;
}

int fb_adapters_configure(fb_config *cfg, char **err) {
  for (size_t i = 0; i < cfg->nstates; i++) {
    fb_state_config *s = &cfg->states[i];
    if (s->configured) continue;
    const fb_adapter_vtable *vt = fb_adapter_find(s->adapter);
    if (!vt) {
      fb_buf names = {0};
      kind_names(&names);
      fb_state_adapter_error(err, s, "unknown adapter '%s' (expected %s)", s->adapter ? s->adapter : "",
                             names.data);
      fb_buf_free(&names);
      return -1;
    }
    if (vt->configure(s, err) != 0) return -1;
    s->configured = true;
  }
  return 0;
}

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
  if (cfg->noptions && !cfg->configured) {
    fb_set_error(err, "state %s: adapter options not read (fb_adapters_configure was not called)",
                 cfg->code ? cfg->code : "?");
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
