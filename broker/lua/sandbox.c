#include "lua/sandbox.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "core/util.h"

struct fb_sandbox {
  lua_State *L;
  size_t mem_used;
  size_t mem_max;
  bool enforcing;     /* limits apply only while untrusted code runs */
  bool mem_tripped;
  bool instr_tripped;
  long instr_left;
};

/* The hook runs every HOOK_STEP VM instructions. */
#define HOOK_STEP 1000

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  fb_sandbox *sb = ud;
  if (ptr == NULL) osize = 0;
  if (nsize == 0) {
    free(ptr);
    sb->mem_used -= osize;
    return NULL;
  }
  if (sb->enforcing && nsize > osize) {
    if (sb->mem_tripped || sb->mem_used - osize + nsize > sb->mem_max) {
      sb->mem_tripped = true;
      return NULL;
    }
  }
  void *p = realloc(ptr, nsize);
  if (p) sb->mem_used = sb->mem_used - osize + nsize;
  return p;
}

static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  fb_sandbox *sb;
  lua_getallocf(L, (void **)&sb);
  if (!sb->enforcing) return;
  sb->instr_left -= HOOK_STEP;
  if (sb->instr_left <= 0) sb->instr_tripped = true;
  if (sb->mem_tripped || sb->instr_tripped) {
    /* Once tripped, raise on every instruction: a `pcall` in a loop would otherwise
     * catch each error and run on, since the next raise lands inside the pcall again. */
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, sb->mem_tripped ? "policy exceeded its memory budget"
                                  : "policy exceeded its instruction budget");
  }
}

static const char *const safe_base[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "xpcall", "select", "tonumber",
    "tostring", "type", "rawequal", "rawlen", "setmetatable", "getmetatable", NULL};

static void open_safe_libs(lua_State *L) {
  /* Base library into a scratch table, then copy only the allow-listed names. */
  luaL_requiref(L, "_G", luaopen_base, 0);
  lua_pop(L, 1);
  lua_newtable(L); /* allowed globals */
  for (const char *const *n = safe_base; *n; n++) {
    lua_getglobal(L, *n);
    lua_setfield(L, -2, *n);
  }
  luaL_requiref(L, "string", luaopen_string, 0);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_setfield(L, -2, "string");
  luaL_requiref(L, "table", luaopen_table, 0);
  lua_setfield(L, -2, "table");
  luaL_requiref(L, "math", luaopen_math, 0);
  lua_setfield(L, -2, "math");
  luaL_requiref(L, "utf8", luaopen_utf8, 0);
  lua_setfield(L, -2, "utf8");

  /* Replace the global table's contents with the allow-list. */
  lua_pushglobaltable(L);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, -4);
  }
  lua_pushnil(L);
  while (lua_next(L, -3)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_pop(L, 2);

  /* Nobody may read or replace the string metatable (shared by every string). */
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  /* Drop the loaded-modules registry entries so nothing reaches the originals. */
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
}

fb_sandbox *fb_sandbox_new(size_t mem_max) {
  fb_sandbox *sb = fb_xcalloc(1, sizeof *sb);
  sb->mem_max = mem_max;
  sb->L = lua_newstate(sandbox_alloc, sb);
  if (!sb->L) {
    free(sb);
    return NULL;
  }
  open_safe_libs(sb->L);
  lua_sethook(sb->L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
  return sb;
}

void fb_sandbox_free(fb_sandbox *sb) {
  if (!sb) return;
  sb->enforcing = false;
  lua_close(sb->L);
  free(sb);
}

lua_State *fb_sandbox_state(fb_sandbox *sb) { return sb->L; }
size_t fb_sandbox_mem_used(const fb_sandbox *sb) { return sb->mem_used; }
bool fb_sandbox_tripped(const fb_sandbox *sb) { return sb->mem_tripped || sb->instr_tripped; }

static void set_error(lua_State *L, fb_sandbox *sb, char **err) {
  if (!err) return;
  const char *msg = NULL;
  if (sb->mem_tripped) msg = "exceeded its memory budget";
  else if (sb->instr_tripped) msg = "exceeded its instruction budget";
  else if (lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
  *err = fb_xstrdup(msg ? msg : "error object is not a string");
}

static void begin(fb_sandbox *sb, long budget) {
  lua_sethook(sb->L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
  sb->mem_tripped = sb->instr_tripped = false;
  sb->instr_left = budget;
  sb->enforcing = true;
}

int fb_sandbox_call(fb_sandbox *sb, int nargs, int nresults, long instr_budget, char **err) {
  lua_State *L = sb->L;
  int base = lua_gettop(L) - nargs - 1;
  begin(sb, instr_budget);
  int rc = lua_pcall(L, nargs, nresults, 0);
  sb->enforcing = false;
  if (rc != LUA_OK || fb_sandbox_tripped(sb)) {
    if (rc != LUA_OK) set_error(L, sb, err);
    else set_error(L, sb, err);
    lua_settop(L, base);
    return -1;
  }
  return 0;
}

int fb_sandbox_run(fb_sandbox *sb, const char *src, size_t len, const char *chunkname,
                   long instr_budget, char **err) {
  lua_State *L = sb->L;
  begin(sb, instr_budget);
  int rc = luaL_loadbufferx(L, src, len, chunkname, "t");
  sb->enforcing = false;
  if (rc != LUA_OK) {
    set_error(L, sb, err);
    lua_pop(L, 1);
    return -1;
  }
  return fb_sandbox_call(sb, 0, 0, instr_budget, err);
}
