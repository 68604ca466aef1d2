/* What a `when` function is, written down so that two versions of a policy can be
 * compared: its code without line numbers, and every value it can read besides the
 * request: the values it captured (locals of the file, helper functions, recursively)
 * and the file's globals (its _ENV). Two functions with the same fingerprint give the
 * same answer to the same request, so the prover can treat them as one unknown. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/util.h"
#include "policy/prove_space.h"

#define FP_MAX_DEPTH 8
#define FP_MAX_SEEN 256
#define FP_MAX_BYTES (1u << 20)

typedef struct {
  const void *seen[FP_MAX_SEEN]; /* the path from the function to the current value */
  size_t nseen;
  bool ok;
} fp_ctx;

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
  (void)L;
  fb_buf_append(ud, p, sz);
  return 0;
}

static int cmp_entry(const void *a, const void *b) {
  const fb_buf *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->data, y->data, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void print_value(lua_State *L, int idx, fb_buf *b, int depth, fp_ctx *c);

/* A table as its entries "key=value", sorted (lua_next's order is not stable). */
static void print_table(lua_State *L, int idx, fb_buf *b, int depth, fp_ctx *c) {
  fb_buf *entries = NULL;
  size_t n = 0;
  lua_pushnil(L);
  while (c->ok && lua_next(L, idx)) {
    entries = fb_xrealloc(entries, (n + 1) * sizeof(fb_buf));
    fb_buf *e = &entries[n++];
    memset(e, 0, sizeof *e);
    print_value(L, -2, e, depth + 1, c);
    fb_buf_putc(e, '=');
    print_value(L, -1, e, depth + 1, c);
    lua_pop(L, 1);
    if (e->len > FP_MAX_BYTES) c->ok = false;
  }
  if (n) qsort(entries, n, sizeof(fb_buf), cmp_entry);
  fb_buf_putc(b, '{');
  for (size_t i = 0; i < n; i++) {
    if (c->ok) fb_buf_append(b, entries[i].data, entries[i].len);
    fb_buf_putc(b, ';');
    fb_buf_free(&entries[i]);
  }
  fb_buf_putc(b, '}');
  free(entries);
}

static void print_value(lua_State *L, int idx, fb_buf *b, int depth, fp_ctx *c) {
  idx = lua_absindex(L, idx);
  if (!c->ok) return;
  if (depth > FP_MAX_DEPTH || b->len > FP_MAX_BYTES) {
    c->ok = false; /* too much to write down: never the same as anything */
    return;
  }
  int t = lua_type(L, idx);
  switch (t) {
  case LUA_TNIL: fb_buf_puts(b, "nil"); return;
  case LUA_TBOOLEAN: fb_buf_puts(b, lua_toboolean(L, idx) ? "true" : "false"); return;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) fb_buf_printf(b, "i%lld", (long long)lua_tointeger(L, idx));
    else fb_buf_printf(b, "n%.17g", lua_tonumber(L, idx));
    return;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    fb_buf_printf(b, "s%zu:", n);
    fb_buf_append(b, s, n);
    return;
  }
  default: break;
  }
  if (t == LUA_TFUNCTION && lua_iscfunction(L, idx)) {
    fb_buf_puts(b, "cfunction"); /* the sandbox's library and rule functions */
    return;
  }
  /* A table or function that contains itself (_G._G) is written as the distance to
   * its enclosing occurrence: the same whatever order lua_next visits keys in (string
   * hashes are seeded per Lua state, so two versions' tables iterate differently). */
  const void *ptr = lua_topointer(L, idx);
  for (size_t i = 0; i < c->nseen; i++)
    if (c->seen[i] == ptr) {
      fb_buf_printf(b, "@%zu", c->nseen - i);
      return;
    }
  if (c->nseen == FP_MAX_SEEN) {
    c->ok = false;
    return;
  }
  c->seen[c->nseen++] = ptr;
  if (t == LUA_TTABLE) {
    print_table(L, idx, b, depth, c);
  } else if (t == LUA_TFUNCTION) {
    fb_buf dump = {0};
    lua_pushvalue(L, idx);
    int rc = lua_dump(L, dump_writer, &dump, 1);
    lua_pop(L, 1);
    if (rc != 0) c->ok = false;
    fb_buf_printf(b, "f%zu:", dump.len);
    if (dump.len) fb_buf_append(b, dump.data, dump.len);
    fb_buf_free(&dump);
    for (int i = 1;; i++) {
      const char *name = lua_getupvalue(L, idx, i);
      if (!name) break;
      fb_buf_printf(b, "|%s=", name);
      print_value(L, -1, b, depth + 1, c);
      lua_pop(L, 1);
    }
  } else {
    fb_buf_puts(b, lua_typename(L, t)); /* userdata, threads: none in policies */
  }
  c->nseen--; /* seen holds the enclosing tables and functions only */
}

char *pv_fingerprint(lua_State *L, int idx, size_t *len) {
  fp_ctx *c = fb_xcalloc(1, sizeof *c);
  c->ok = true;
  fb_buf b = {0};
  if (!lua_checkstack(L, 3 * FP_MAX_DEPTH + 10)) c->ok = false;
  else print_value(L, idx, &b, 0, c);
  bool ok = c->ok;
  free(c);
  if (!ok) {
    fb_buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return fb_buf_steal(&b);
}
