/* Loads the hub's configuration: Lua syntax run as data in the sandbox, then walked
 * key by key into fb_config. Every error names the dotted key and the line. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/error.h"
#include "core/vocab.h"
#include "core/util.h"
#include "lua/sandbox.h"

#define CONFIG_MEM_MAX (16u << 20)
#define CONFIG_INSTR_MAX 10000000L
#define CONFIG_FILE_MAX (4u << 20)
#define LINES_KEY "fedbroker.config.lines"

typedef struct {
  lua_State *L;
  const char *path;      /* for messages and relative paths */
  const char *src;
  char *err;
  int top_line;          /* line of the top-level assignment being walked */
} walk_ctx;

/* The line on which `key =` first appears at or after the top-level statement: Lua does
 * not keep line numbers for table fields, so a plain text scan is the honest answer. */
static int line_of(walk_ctx *c, const char *key) {
  if (!key || c->top_line <= 0) return c->top_line;
  const char *p = c->src;
  int line = 1;
  while (*p && line < c->top_line) {
    if (*p++ == '\n') line++;
  }
  size_t klen = strlen(key);
  for (; *p; p++) {
    if (*p == '\n') {
      line++;
      continue;
    }
    if (strncmp(p, key, klen) == 0 && (p == c->src || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
      const char *q = p + klen;
      while (*q == ' ' || *q == '\t' || *q == ']' || *q == '"') q++;
      if (*q == '=' && q[1] != '=') return line;
    }
  }
  return c->top_line;
}

/* Lua reports the line where a multi-line assignment ends; find where it starts: the
 * last line at or before `recorded` that begins with `key =`. */
static int statement_line(const char *src, const char *key, int recorded) {
  size_t klen = strlen(key);
  int line = 1, found = recorded;
  for (const char *p = src; *p && line <= recorded; line++) {
    const char *q = p;
    while (*q == ' ' || *q == '\t') q++;
    if (strncmp(q, key, klen) == 0) {
      const char *r = q + klen;
      while (*r == ' ' || *r == '\t') r++;
      if (*r == '=' && r[1] != '=') found = line;
    }
    const char *nl = strchr(p, '\n');
    if (!nl) break;
    p = nl + 1;
  }
  return found;
}

static const char *base_name(const char *path) {
  const char *s = path ? strrchr(path, '/') : NULL;
  return s ? s + 1 : (path ? path : "config");
}

__attribute__((format(printf, 4, 5)))
static int fail(walk_ctx *c, const char *key_path, const char *leaf, const char *fmt, ...) {
  if (c->err) return -1;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fb_set_error(&c->err, "%s:%d: %s: %s", base_name(c->path), line_of(c, leaf), key_path, msg);
  return -1;
}

/* ---- typed readers for the value on top of the stack ---- */

static int read_string(walk_ctx *c, const char *key_path, const char *leaf, char **out) {
  if (lua_type(c->L, -1) != LUA_TSTRING)
    return fail(c, key_path, leaf, "expected a string, got %s", luaL_typename(c->L, -1));
  free(*out);
  *out = fb_xstrdup(lua_tostring(c->L, -1));
  return 0;
}

static int read_path(walk_ctx *c, const char *key_path, const char *leaf, char **out) {
  char *s = NULL;
  if (read_string(c, key_path, leaf, &s) != 0) return -1;
  free(*out);
  *out = fb_path_relative_to(c->path, s);
  free(s);
  return 0;
}

static int read_uint(walk_ctx *c, const char *key_path, const char *leaf, uint64_t max, uint64_t *out) {
  int isnum = 0;
  lua_Integer v = lua_tointegerx(c->L, -1, &isnum);
  if (!isnum || v <= 0 || (uint64_t)v > max)
    return fail(c, key_path, leaf, "expected a positive integer up to %llu", (unsigned long long)max);
  *out = (uint64_t)v;
  return 0;
}

static int read_u32(walk_ctx *c, const char *key_path, const char *leaf, uint32_t *out) {
  uint64_t v = 0;
  if (read_uint(c, key_path, leaf, UINT32_MAX, &v) != 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int expect_table(walk_ctx *c, const char *key_path, const char *leaf) {
  if (lua_type(c->L, -1) != LUA_TTABLE)
    return fail(c, key_path, leaf, "expected a table, got %s", luaL_typename(c->L, -1));
  return 0;
}

/* Iterates string keys of the table on top; for each calls fn with the value on top.
 * Non-string keys are errors (a list where a record was expected). */
typedef int (*field_fn)(walk_ctx *c, const char *parent, const char *key, void *ud);

static int each_field(walk_ctx *c, const char *parent, field_fn fn, void *ud) {
  lua_State *L = c->L;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      return fail(c, parent, NULL, "expected named keys (key = value), found a list item");
    }
    const char *key = lua_tostring(L, -2);
    if (fn(c, parent, key, ud) != 0) {
      lua_pop(L, 2);
      return -1;
    }
    lua_pop(L, 1);
  }
  return 0;
}

static char *join(const char *parent, const char *key) {
  fb_buf b = {0};
  if (parent && *parent) fb_buf_printf(&b, "%s.%s", parent, key);
  else fb_buf_puts(&b, key);
  return fb_buf_steal(&b);
}

#define KEY_PATH(kp) char *kp = join(parent, key)

/* ---- sections ---- */

static int listen_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_listen_config *l = ud;
  KEY_PATH(kp);
  int rc = 0;
  if (strcmp(key, "address") == 0) rc = read_string(c, kp, key, &l->address);
  else if (strcmp(key, "tls") == 0) {
    rc = expect_table(c, kp, key);
    if (rc == 0) {
      l->tls = true;
      lua_State *L = c->L;
      lua_pushnil(L);
      while (rc == 0 && lua_next(L, -2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        char *sub = join(kp, k ? k : "?");
        if (!k) rc = fail(c, kp, NULL, "expected named keys");
        else if (strcmp(k, "cert") == 0) rc = read_path(c, sub, k, &l->cert);
        else if (strcmp(k, "key") == 0) rc = read_path(c, sub, k, &l->key);
        else if (strcmp(k, "client_ca") == 0) rc = read_path(c, sub, k, &l->client_ca);
        else if (strcmp(k, "client_cert") == 0) {
          const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
          if (strcmp(v, "optional") == 0) l->client_cert = FB_CLIENT_CERT_OPTIONAL;
          else if (strcmp(v, "required") == 0) l->client_cert = FB_CLIENT_CERT_REQUIRED;
          else if (strcmp(v, "none") == 0) l->client_cert = FB_CLIENT_CERT_NONE;
          else rc = fail(c, sub, k, "expected \"none\", \"optional\" or \"required\"");
        } else {
          rc = fail(c, sub, k, "unknown key (expected cert, key, client_ca, client_cert)");
        }
        free(sub);
        lua_pop(L, 1);
      }
      if (rc != 0) lua_pop(L, 1);
      if (rc == 0 && (!l->cert || !l->key)) rc = fail(c, kp, key, "tls needs both cert and key");
      if (rc == 0 && l->client_cert != FB_CLIENT_CERT_NONE && !l->client_ca)
        rc = fail(c, kp, key, "client_cert needs client_ca");
    }
  } else rc = fail(c, kp, key, "unknown key (expected address, tls)");
  free(kp);
  return rc;
}

static int load_listen(walk_ctx *c, fb_config *cfg) {
  lua_State *L = c->L;
  if (expect_table(c, "listen", NULL) != 0) return -1;
  size_t n = lua_rawlen(L, -1);
  if (n == 0) return fail(c, "listen", NULL, "expected a list of listeners");
  cfg->listen = fb_xcalloc(n, sizeof *cfg->listen);
  for (size_t i = 1; i <= n; i++) {
    char kp[64];
    snprintf(kp, sizeof kp, "listen[%zu]", i - 1);
    lua_rawgeti(L, -1, (lua_Integer)i);
    fb_listen_config *l = &cfg->listen[cfg->nlisten++];
    if (expect_table(c, kp, NULL) != 0 || each_field(c, kp, listen_field, l) != 0) {
      lua_pop(L, 1);
      return -1;
    }
    lua_pop(L, 1);
    if (!l->address) return fail(c, kp, NULL, "address is required");
  }
  return 0;
}

/* audit.peers: a list of paths. */
static int read_peers(walk_ctx *c, const char *kp, const char *leaf, fb_audit_config *a) {
  lua_State *L = c->L;
  if (!lua_istable(L, -1)) return fail(c, kp, leaf, "expected a list of audit log paths");
  size_t n = lua_rawlen(L, -1);
  a->peers = fb_xcalloc(n ? n : 1, sizeof *a->peers);
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i);
    char item[64];
    snprintf(item, sizeof item, "[%zu]", i - 1);
    int rc = read_path(c, kp, item, &a->peers[a->npeers]);
    lua_pop(L, 1);
    if (rc != 0) return -1;
    a->npeers++;
  }
  return 0;
}

static int audit_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_audit_config *a = ud;
  KEY_PATH(kp);
  int rc;
  if (strcmp(key, "path") == 0) rc = read_path(c, kp, key, &a->path);
  else if (strcmp(key, "peers") == 0) rc = read_peers(c, kp, key, a);
  else if (strcmp(key, "key") == 0) rc = read_path(c, kp, key, &a->key);
  else if (strcmp(key, "checkpoint_every") == 0) rc = read_u32(c, kp, key, &a->checkpoint_every);
  else if (strcmp(key, "fsync") == 0) {
    if (!lua_isboolean(c->L, -1)) rc = fail(c, kp, key, "expected true or false");
    else {
      a->no_fsync = !lua_toboolean(c->L, -1);
      rc = 0;
    }
  } else rc = fail(c, kp, key, "unknown key (expected path, key, checkpoint_every, fsync, peers)");
  free(kp);
  return rc;
}

static int issuer_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_issuer_config *is = ud;
  KEY_PATH(kp);
  int rc;
  if (strcmp(key, "iss") == 0) rc = read_string(c, kp, key, &is->iss);
  else if (strcmp(key, "key") == 0) rc = read_path(c, kp, key, &is->key);
  else if (strcmp(key, "aud") == 0) rc = read_string(c, kp, key, &is->aud);
  else if (strcmp(key, "kid") == 0) rc = read_string(c, kp, key, &is->kid);
  else rc = fail(c, kp, key, "unknown key (expected iss, key, aud, kid)");
  free(kp);
  return rc;
}

static int load_issuers(walk_ctx *c, fb_config *cfg) {
  lua_State *L = c->L;
  if (expect_table(c, "issuers", NULL) != 0) return -1;
  size_t n = lua_rawlen(L, -1);
  cfg->issuers = fb_xcalloc(n ? n : 1, sizeof *cfg->issuers);
  for (size_t i = 1; i <= n; i++) {
    char kp[64];
    snprintf(kp, sizeof kp, "issuers[%zu]", i - 1);
    lua_rawgeti(L, -1, (lua_Integer)i);
    fb_issuer_config *is = &cfg->issuers[cfg->nissuers++];
    if (expect_table(c, kp, NULL) != 0 || each_field(c, kp, issuer_field, is) != 0) {
      lua_pop(L, 1);
      return -1;
    }
    lua_pop(L, 1);
    if (!is->iss || !is->key) return fail(c, kp, NULL, "iss and key are required");
    if (!is->aud) is->aud = fb_xstrdup("fedbroker");
  }
  return 0;
}

static int deadline_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_deadlines *d = ud;
  KEY_PATH(kp);
  int rc;
  uint32_t *ms = NULL;
  switch (fb_list_index(fb_priorities, key)) {
  case FB_PRIORITY_IMMEDIATE: ms = &d->immediate_ms; break;
  case FB_PRIORITY_URGENT: ms = &d->urgent_ms; break;
  case FB_PRIORITY_ROUTINE: ms = &d->routine_ms; break;
  default: break;
  }
  char allowed[100];
  if (ms) rc = read_u32(c, kp, key, ms);
  else rc = fail(c, kp, key, "unknown priority (expected one of: %s)",
                 fb_list_text(fb_priorities, allowed, sizeof allowed));
  free(kp);
  return rc;
}

static int limits_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_limits *l = ud;
  KEY_PATH(kp);
  int rc;
  uint64_t v = 0;
  if (strcmp(key, "body") == 0) {
    rc = read_uint(c, kp, key, 1u << 30, &v);
    l->body = (size_t)v;
  } else if (strcmp(key, "header") == 0) {
    rc = read_uint(c, kp, key, 1u << 24, &v);
    l->header = (size_t)v;
  } else if (strcmp(key, "streams") == 0) rc = read_u32(c, kp, key, &l->streams);
  else if (strcmp(key, "max_states") == 0) rc = read_u32(c, kp, key, &l->max_states);
  else if (strcmp(key, "concurrency") == 0) rc = read_u32(c, kp, key, &l->concurrency);
  else if (strcmp(key, "connections") == 0) rc = read_u32(c, kp, key, &l->connections);
  else if (strcmp(key, "header_timeout") == 0) rc = read_u32(c, kp, key, &l->header_timeout_ms);
  else if (strcmp(key, "idle_timeout") == 0) rc = read_u32(c, kp, key, &l->idle_timeout_ms);
  else if (strcmp(key, "send_timeout") == 0) rc = read_u32(c, kp, key, &l->send_timeout_ms);
  else if (strcmp(key, "send_buffers") == 0) {
    rc = read_uint(c, kp, key, (uint64_t)1 << 40, &v);
    l->send_buffers = (size_t)v;
  } else if (strcmp(key, "per_client") == 0) rc = read_u32(c, kp, key, &l->per_client);
  else if (strcmp(key, "per_identity") == 0) rc = read_u32(c, kp, key, &l->per_identity);
  else if (strcmp(key, "aborts_per_minute") == 0) rc = read_u32(c, kp, key, &l->aborts_per_minute);
  else if (strcmp(key, "control_frames") == 0) rc = read_u32(c, kp, key, &l->control_frames);
  else
    rc = fail(c, kp, key, "unknown key (expected body, header, streams, max_states, concurrency, "
                          "connections, header_timeout, idle_timeout, send_timeout, send_buffers, "
                          "per_client, per_identity, aborts_per_minute, control_frames)");
  free(kp);
  return rc;
}

static int breaker_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_breaker_config *b = ud;
  KEY_PATH(kp);
  int rc;
  if (strcmp(key, "failures") == 0) rc = read_u32(c, kp, key, &b->failures);
  else if (strcmp(key, "open_ms") == 0) rc = read_u32(c, kp, key, &b->open_ms);
  else rc = fail(c, kp, key, "unknown key (expected failures, open_ms)");
  free(kp);
  return rc;
}

/* "24h", "30d", "90m", "15s" or a plain number of seconds. */
static int read_duration(walk_ctx *c, const char *key_path, const char *leaf, uint64_t *out) {
  if (lua_type(c->L, -1) == LUA_TNUMBER) return read_uint(c, key_path, leaf, UINT32_MAX, out);
  const char *s = lua_type(c->L, -1) == LUA_TSTRING ? lua_tostring(c->L, -1) : NULL;
  char *end = NULL;
  errno = 0;
  unsigned long long v = s && isdigit((unsigned char)s[0]) ? strtoull(s, &end, 10) : 0;
  uint64_t unit = 0;
  if (end && end[0] && !end[1]) unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : end[0] == 'd' ? 86400 : 0;
  if (!s || errno || v == 0 || unit == 0 || v > UINT32_MAX)
    return fail(c, key_path, leaf, "expected a duration such as \"24h\", \"30d\", \"90m\" or \"15s\"");
  *out = v * unit;
  return 0;
}

static int due_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_followup_config *f = ud;
  KEY_PATH(kp);
  int rc;
  if (strcmp(key, "immediate") == 0) rc = read_duration(c, kp, key, &f->due_immediate_s);
  else if (strcmp(key, "urgent") == 0) rc = read_duration(c, kp, key, &f->due_urgent_s);
  else if (strcmp(key, "routine") == 0) rc = read_duration(c, kp, key, &f->due_routine_s);
  else rc = fail(c, kp, key, "unknown priority (expected immediate, urgent, routine)");
  free(kp);
  return rc;
}

static int followup_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_followup_config *f = ud;
  KEY_PATH(kp);
  int rc;
  if (strcmp(key, "hit_ref_days") == 0) rc = read_u32(c, kp, key, &f->hit_ref_days);
  else if (strcmp(key, "due") == 0) rc = expect_table(c, kp, key) ? -1 : each_field(c, kp, due_field, f);
  else if (strcmp(key, "expire_after") == 0) rc = read_duration(c, kp, key, &f->expire_after_s);
  else rc = fail(c, kp, key, "unknown key (expected hit_ref_days, due, expire_after)");
  free(kp);
  return rc;
}

static int focal_points_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_followup_config *f = ud;
  KEY_PATH(kp);
  int rc;
  if (strcmp(key, "stale_after_days") == 0) rc = read_u32(c, kp, key, &f->stale_after_days);
  else if (strcmp(key, "refresh") == 0) rc = read_duration(c, kp, key, &f->refresh_s);
  else rc = fail(c, kp, key, "unknown key (expected stale_after_days, refresh)");
  free(kp);
  return rc;
}

static bool valid_state_code(const char *s) {
  return strlen(s) == 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
         isupper((unsigned char)s[2]);
}

/* Keeps a key the adapter kind reads (its configure, adapters/) as the file gave it. */
static void keep_option(walk_ctx *c, fb_state_config *s, const char *key) {
  lua_State *L = c->L;
  s->options = fb_xrealloc(s->options, (s->noptions + 1) * sizeof *s->options);
  fb_state_option *o = &s->options[s->noptions++];
  memset(o, 0, sizeof *o);
  o->key = fb_xstrdup(key);
  o->line = line_of(c, key);
  o->type_name = luaL_typename(L, -1); /* Lua's static type names */
  int type = lua_type(L, -1);
  o->type = type == LUA_TSTRING ? FB_OPTION_STRING : type == LUA_TNUMBER ? FB_OPTION_NUMBER : FB_OPTION_OTHER;
  if (o->type == FB_OPTION_STRING) o->text = fb_xstrdup(lua_tostring(L, -1));
  int isnum = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  o->is_integer = isnum != 0;
  o->integer = (long long)v;
}

static int state_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_state_config *s = ud;
  KEY_PATH(kp);
  int rc = 0;
  if (strcmp(key, "adapter") == 0) rc = read_string(c, kp, key, &s->adapter);
  else if (strcmp(key, "timeout") == 0) rc = read_u32(c, kp, key, &s->timeout_ms);
  else if (strcmp(key, "max_legs") == 0) rc = read_u32(c, kp, key, &s->max_legs);
  else keep_option(c, s, key);
  free(kp);
  return rc;
}

static int cmp_state(const void *a, const void *b) {
  return strcmp(((const fb_state_config *)a)->code, ((const fb_state_config *)b)->code);
}

static int load_states(walk_ctx *c, fb_config *cfg) {
  lua_State *L = c->L;
  if (expect_table(c, "states", NULL) != 0) return -1;
  size_t cap = 8;
  cfg->states = fb_xcalloc(cap, sizeof *cfg->states);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING || !valid_state_code(lua_tostring(L, -2))) {
      lua_pop(L, 2);
      return fail(c, "states", NULL, "state keys must be ISO 3166-1 alpha-3 codes such as MYS");
    }
    const char *code = lua_tostring(L, -2);
    char kp[32];
    snprintf(kp, sizeof kp, "states.%s", code);
    if (cfg->nstates == cap) {
      cap *= 2;
      cfg->states = fb_xrealloc(cfg->states, cap * sizeof *cfg->states);
    }
    fb_state_config *s = &cfg->states[cfg->nstates++];
    memset(s, 0, sizeof *s);
    s->code = fb_xstrdup(code);
    s->max_legs = 256;
    s->source_path = cfg->source_path;
    s->line = line_of(c, code);
    s->adapter_line = line_of(c, "adapter");
    if (expect_table(c, kp, code) != 0 || each_field(c, kp, state_field, s) != 0) {
      lua_pop(L, 2);
      return -1;
    }
    if (!s->adapter) {
      lua_pop(L, 2);
      return fail(c, kp, code, "adapter is required");
    }
    /* The kind and its own keys are checked by the adapters (fb_adapters_configure). */
    lua_pop(L, 1);
  }
  qsort(cfg->states, cfg->nstates, sizeof *cfg->states, cmp_state);
  return 0;
}

static int policy_key_field(walk_ctx *c, const char *parent, const char *key, void *ud) {
  fb_config *cfg = ud;
  KEY_PATH(kp);
  int rc = 0;
  if (!valid_state_code(key)) rc = fail(c, kp, key, "expected an ISO 3166-1 alpha-3 state code");
  char *path = NULL;
  if (rc == 0) rc = read_path(c, kp, key, &path);
  if (rc == 0) {
    size_t n = cfg->npolicy_keys + 1;
    cfg->policy_key_states = fb_xrealloc(cfg->policy_key_states, n * sizeof(char *));
    cfg->policy_key_paths = fb_xrealloc(cfg->policy_key_paths, n * sizeof(char *));
    cfg->policy_key_states[n - 1] = fb_xstrdup(key);
    cfg->policy_key_paths[n - 1] = path;
    cfg->npolicy_keys = n;
  }
  free(kp);
  return rc;
}

/* workers = 0 means one per CPU core, resolved when the hub starts. */
static int read_workers(walk_ctx *c, fb_config *cfg) {
  int isnum = 0;
  lua_Integer v = lua_tointegerx(c->L, -1, &isnum);
  if (!isnum || v < 0 || v > FB_WORKERS_MAX)
    return fail(c, "workers", NULL, "expected an integer from 0 (one per CPU core) to %d", FB_WORKERS_MAX);
  cfg->workers = (uint32_t)v;
  return 0;
}

static int top_field(walk_ctx *c, const char *key, fb_config *cfg) {
  if (strcmp(key, "listen") == 0) return load_listen(c, cfg);
  if (strcmp(key, "policies") == 0) return read_path(c, key, NULL, &cfg->policies);
  if (strcmp(key, "redaction_key") == 0) return read_path(c, key, NULL, &cfg->redaction_key);
  if (strcmp(key, "log_level") == 0) {
    if (read_string(c, key, NULL, &cfg->log_level) != 0) return -1;
    static const char *const ok[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < FB_ARRAY_LEN(ok); i++)
      if (strcmp(cfg->log_level, ok[i]) == 0) return 0;
    return fail(c, key, NULL, "expected debug, info, warn or error");
  }
  if (strcmp(key, "audit") == 0)
    return expect_table(c, key, NULL) ? -1 : each_field(c, key, audit_field, &cfg->audit);
  if (strcmp(key, "issuers") == 0) return load_issuers(c, cfg);
  if (strcmp(key, "deadlines") == 0)
    return expect_table(c, key, NULL) ? -1 : each_field(c, key, deadline_field, &cfg->deadlines);
  if (strcmp(key, "limits") == 0)
    return expect_table(c, key, NULL) ? -1 : each_field(c, key, limits_field, &cfg->limits);
  if (strcmp(key, "breaker") == 0)
    return expect_table(c, key, NULL) ? -1 : each_field(c, key, breaker_field, &cfg->breaker);
  if (strcmp(key, "states") == 0) return load_states(c, cfg);
  if (strcmp(key, "policy_keys") == 0)
    return expect_table(c, key, NULL) ? -1 : each_field(c, key, policy_key_field, cfg);
  if (strcmp(key, "store") == 0) {
    if (read_string(c, key, NULL, &cfg->store) != 0) return -1;
    if (strncmp(cfg->store, "postgresql://", 13) == 0 || strncmp(cfg->store, "postgres://", 11) == 0) return 0;
    char *rel = cfg->store;
    cfg->store = fb_path_relative_to(c->path, rel);
    free(rel);
    return 0;
  }
  if (strcmp(key, "workers") == 0) return read_workers(c, cfg);
  if (strcmp(key, "followup") == 0)
    return expect_table(c, key, NULL) ? -1 : each_field(c, key, followup_field, &cfg->followup);
  if (strcmp(key, "focal_points") == 0)
    return expect_table(c, key, NULL) ? -1 : each_field(c, key, focal_points_field, &cfg->followup);
  return fail(c, key, NULL,
              "unknown key (expected listen, policies, policy_keys, audit, issuers, deadlines, "
              "limits, breaker, redaction_key, states, log_level, store, focal_points, followup, workers)");
}

/* __newindex on the global table: records on which line each top-level key is set. */
static int record_line(lua_State *L) {
  lua_Debug ar;
  int line = 0;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)) line = ar.currentline;
  lua_getfield(L, LUA_REGISTRYINDEX, LINES_KEY);
  lua_pushvalue(L, 2);
  lua_pushinteger(L, line);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_rawset(L, 1);
  return 0;
}

void fb_config_defaults(fb_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->audit.checkpoint_every = 1000;
  cfg->deadlines = (fb_deadlines){2000, 5000, 15000};
  cfg->limits = (fb_limits){.body = 65536, .header = 16384, .streams = 100, .max_states = 64,
                            .concurrency = 1024, .connections = 10000,
                            .header_timeout_ms = 10000, .idle_timeout_ms = 60000,
                            .send_timeout_ms = 30000, .send_buffers = (size_t)256 << 20, .per_client = 256,
                            .per_identity = 32, .aborts_per_minute = 60, .control_frames = 5000};
  cfg->breaker = (fb_breaker_config){5, 10000};
  cfg->log_level = fb_xstrdup("info");
  cfg->workers = 1;
  cfg->followup = (fb_followup_config){.hit_ref_days = 30, .due_immediate_s = 24 * 3600,
                                       .due_urgent_s = 72 * 3600, .due_routine_s = 30 * 86400,
                                       .expire_after_s = 30 * 86400, .stale_after_days = 90,
                                       .refresh_s = 30};
}

/* `src` must be NUL-terminated at `len`: the line finders scan it as a C string. */
static int load_text(const char *src, size_t len, const char *path, fb_config *cfg, char **err) {
  fb_config_defaults(cfg);
  cfg->source_path = path ? fb_xstrdup(path) : NULL;
  fb_sandbox *sb = fb_sandbox_new(CONFIG_MEM_MAX);
  if (!sb) {
    fb_set_error(err, "cannot create the Lua state for the config");
    return -1;
  }
  lua_State *L = fb_sandbox_state(sb);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LINES_KEY);
  lua_pushglobaltable(L);
  lua_newtable(L);
  lua_pushcfunction(L, record_line);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  /* `log_level = debug` without quotes must not read as nil and leave the default. */
  fb_sandbox_strict_globals(sb, "the config (it runs in a sandbox)", NULL, NULL);

  fb_buf chunk = {0};
  fb_buf_printf(&chunk, "@%s", base_name(path));
  char *lerr = NULL;
  int rc = fb_sandbox_run(sb, src, len, chunk.data, CONFIG_INSTR_MAX, &lerr);
  fb_buf_free(&chunk);
  if (rc != 0) {
    *err = lerr;
    fb_sandbox_free(sb);
    fb_config_free(cfg);
    return -1;
  }

  walk_ctx c = {.L = L, .path = path, .src = src};
  /* Walk the keys the file assigned, in line order so the first error is the first line. */
  lua_getfield(L, LUA_REGISTRYINDEX, LINES_KEY);
  size_t nkeys = 0, cap = 16;
  struct kl { char *key; int line; } *keys = fb_xcalloc(cap, sizeof *keys);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      if (nkeys == cap) keys = fb_xrealloc(keys, (cap *= 2) * sizeof *keys);
      keys[nkeys].key = fb_xstrdup(lua_tostring(L, -2));
      keys[nkeys++].line = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  for (size_t i = 1; i < nkeys; i++) /* insertion sort by line: few keys */
    for (size_t j = i; j > 0 && keys[j].line < keys[j - 1].line; j--) {
      struct kl t = keys[j];
      keys[j] = keys[j - 1];
      keys[j - 1] = t;
    }
  rc = 0;
  for (size_t i = 0; i < nkeys && rc == 0; i++) {
    c.top_line = statement_line(src, keys[i].key, keys[i].line);
    lua_pushglobaltable(L);
    /* Raw: a key assigned nil (`a, b = {}`) is absent, and the strict __index would
     * raise here, outside any protected call (found by fuzz_config). */
    lua_pushstring(L, keys[i].key);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) rc = top_field(&c, keys[i].key, cfg);
    lua_pop(L, 2);
  }
  for (size_t i = 0; i < nkeys; i++) free(keys[i].key);
  free(keys);
  fb_sandbox_free(sb);
  if (rc != 0) {
    *err = c.err ? c.err : fb_xstrdup("invalid config");
    fb_config_free(cfg);
    return -1;
  }
  return 0;
}

int fb_config_load_string(const char *src, size_t len, const char *path, fb_config *cfg, char **err) {
  /* Callers hand a buffer of `len` bytes (found by fuzz_config: the line finders read
   * past an unterminated one); a terminated copy costs nothing next to running Lua. */
  char *text = fb_xmalloc(len + 1);
  memcpy(text, src, len);
  text[len] = '\0';
  int rc = load_text(text, len, path, cfg, err);
  free(text);
  return rc;
}

int fb_config_load_file(const char *path, fb_config *cfg, char **err) {
  size_t len = 0;
  char *src = fb_read_file(path, CONFIG_FILE_MAX, &len);
  if (!src) {
    fb_set_error(err, "%s: cannot read config: %s", path, strerror(errno));
    fb_config_defaults(cfg);
    return -1;
  }
  int rc = fb_config_load_string(src, len, path, cfg, err);
  free(src);
  return rc;
}

int fb_config_apply_env(fb_config *cfg, char **err) {
  const char *v = getenv("FEDBROKER_LISTEN");
  if (v && *v) {
    for (size_t i = 0; i < cfg->nlisten; i++) {
      free(cfg->listen[i].address);
      free(cfg->listen[i].cert);
      free(cfg->listen[i].key);
      free(cfg->listen[i].client_ca);
    }
    free(cfg->listen);
    cfg->listen = NULL;
    cfg->nlisten = 0;
    size_t n = 1;
    for (const char *p = v; *p; p++) n += *p == ',';
    cfg->listen = fb_xcalloc(n, sizeof *cfg->listen);
    const char *p = v;
    while (*p) {
      const char *end = strchr(p, ',');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      if (len == 0 || !memchr(p, ':', len)) {
        fb_set_error(err, "FEDBROKER_LISTEN: expected host:port[,host:port...]");
        return -1;
      }
      cfg->listen[cfg->nlisten++].address = fb_xstrndup(p, len);
      p += len;
      if (*p == ',') p++;
    }
  }
  v = getenv("FEDBROKER_LOG_LEVEL");
  if (v && *v) {
    static const char *const ok[] = {"debug", "info", "warn", "error"};
    bool known = false;
    for (size_t i = 0; i < FB_ARRAY_LEN(ok); i++) known |= strcmp(v, ok[i]) == 0;
    if (!known) {
      fb_set_error(err, "FEDBROKER_LOG_LEVEL: expected debug, info, warn or error");
      return -1;
    }
    free(cfg->log_level);
    cfg->log_level = fb_xstrdup(v);
  }
  v = getenv("FEDBROKER_WORKERS");
  if (v && *v) {
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || n > FB_WORKERS_MAX)
      return fb_set_error(err, "FEDBROKER_WORKERS: expected an integer from 0 (one per CPU core) to %d",
                          FB_WORKERS_MAX);
    cfg->workers = (uint32_t)n;
  }
  v = getenv("FEDBROKER_POLICIES");
  if (v && *v) {
    free(cfg->policies);
    cfg->policies = fb_xstrdup(v);
  }
  v = getenv("FEDBROKER_AUDIT");
  if (v && *v) {
    free(cfg->audit.path);
    cfg->audit.path = fb_xstrdup(v);
  }
  /* Replicas of one hub share a config file but each signs its own chain. */
  v = getenv("FEDBROKER_AUDIT_KEY");
  if (v && *v) {
    free(cfg->audit.key);
    cfg->audit.key = fb_xstrdup(v);
  }
  return 0;
}

const fb_state_config *fb_config_state(const fb_config *cfg, const char *code) {
  for (size_t i = 0; i < cfg->nstates; i++)
    if (strcmp(cfg->states[i].code, code) == 0) return &cfg->states[i];
  return NULL;
}

/* ---- a state's kind options, read by the adapter kind ---- */

static int state_message(char **err, const fb_state_config *s, const char *key, int line, const char *fmt,
                         va_list ap) __attribute__((format(printf, 5, 0)));
static int state_message(char **err, const fb_state_config *s, const char *key, int line, const char *fmt,
                         va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  return fb_set_error(err, "%s:%d: states.%s%s%s: %s", base_name(s->source_path), line, s->code,
                      key ? "." : "", key ? key : "", msg);
}

int fb_state_error(char **err, const fb_state_config *s, const fb_state_option *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = state_message(err, s, o ? o->key : NULL, o ? o->line : s->line, fmt, ap);
  va_end(ap);
  return rc;
}

int fb_state_adapter_error(char **err, const fb_state_config *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = state_message(err, s, NULL, s->adapter_line, fmt, ap);
  va_end(ap);
  return rc;
}

int fb_state_option_string(const fb_state_config *s, const fb_state_option *o, char **out, char **err) {
  if (o->type != FB_OPTION_STRING) return fb_state_error(err, s, o, "expected a string, got %s", o->type_name);
  free(*out);
  *out = fb_xstrdup(o->text);
  return 0;
}

int fb_state_option_path(const fb_state_config *s, const fb_state_option *o, char **out, char **err) {
  char *text = NULL;
  if (fb_state_option_string(s, o, &text, err) != 0) return -1;
  free(*out);
  *out = fb_path_relative_to(s->source_path, text);
  free(text);
  return 0;
}

int fb_state_option_uint(const fb_state_config *s, const fb_state_option *o, uint64_t max, uint64_t *out,
                         char **err) {
  if (!o->is_integer || o->integer <= 0 || (uint64_t)o->integer > max)
    return fb_state_error(err, s, o, "expected a positive integer up to %llu", (unsigned long long)max);
  *out = (uint64_t)o->integer;
  return 0;
}

int fb_state_option_u32(const fb_state_config *s, const fb_state_option *o, uint32_t *out, char **err) {
  uint64_t v = 0;
  if (fb_state_option_uint(s, o, UINT32_MAX, &v, err) != 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

uint32_t fb_config_deadline_ms(const fb_config *cfg, const char *priority) {
  switch (fb_list_index(fb_priorities, priority)) {
  case FB_PRIORITY_IMMEDIATE: return cfg->deadlines.immediate_ms;
  case FB_PRIORITY_URGENT: return cfg->deadlines.urgent_ms;
  default: return cfg->deadlines.routine_ms;
  }
}

void fb_config_free(fb_config *cfg) {
  free(cfg->source_path);
  for (size_t i = 0; i < cfg->nlisten; i++) {
    free(cfg->listen[i].address);
    free(cfg->listen[i].cert);
    free(cfg->listen[i].key);
    free(cfg->listen[i].client_ca);
  }
  free(cfg->listen);
  free(cfg->policies);
  for (size_t i = 0; i < cfg->npolicy_keys; i++) {
    free(cfg->policy_key_states[i]);
    free(cfg->policy_key_paths[i]);
  }
  free(cfg->policy_key_states);
  free(cfg->policy_key_paths);
  free(cfg->audit.path);
  free(cfg->audit.key);
  for (size_t i = 0; i < cfg->audit.npeers; i++) free(cfg->audit.peers[i]);
  free(cfg->audit.peers);
  for (size_t i = 0; i < cfg->nissuers; i++) {
    free(cfg->issuers[i].iss);
    free(cfg->issuers[i].key);
    free(cfg->issuers[i].aud);
    free(cfg->issuers[i].kid);
  }
  free(cfg->issuers);
  free(cfg->redaction_key);
  for (size_t i = 0; i < cfg->nstates; i++) {
    fb_state_config *s = &cfg->states[i];
    free(s->code);
    free(s->adapter);
    free(s->path);
    free(s->url);
    free(s->ca);
    free(s->cert);
    free(s->key);
    free(s->conninfo);
    free(s->token_file);
    for (size_t j = 0; j < s->noptions; j++) {
      free(s->options[j].key);
      free(s->options[j].text);
    }
    free(s->options);
  }
  free(cfg->states);
  free(cfg->log_level);
  free(cfg->store);
  memset(cfg, 0, sizeof *cfg);
}
