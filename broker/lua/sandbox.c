#include "lua/sandbox.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "core/error.h"
#include "core/util.h"

struct fb_sandbox {
  lua_State *L;
  size_t mem_used;
  size_t mem_max;
  bool enforcing;     /* limits apply only while untrusted code runs */
  bool mem_tripped;
  bool instr_tripped;
  bool time_tripped;
  long instr_left;
  long time_ms;
  int64_t deadline_ns;     /* CLOCK_MONOTONIC_COARSE */
  size_t alloc_unclocked;  /* bytes allocated since the allocator last read the clock */
};

/* The hook runs every HOOK_STEP VM instructions. */
#define HOOK_STEP 1000
/* The allocator reads the clock after this many bytes (a large `..` or rep). */
#define ALLOC_CLOCK_BYTES (64u << 10)

/* The coarse clock is read from the vDSO in a few nanoseconds; its resolution (a
 * scheduler tick, 1-4 ms) is ample for budgets of tens of milliseconds. */
static int64_t coarse_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool any_tripped(const fb_sandbox *sb) {
  return sb->mem_tripped || sb->instr_tripped || sb->time_tripped;
}

static bool past_deadline(fb_sandbox *sb) {
  if (!sb->time_tripped && coarse_now_ns() > sb->deadline_ns) sb->time_tripped = true;
  return sb->time_tripped;
}

static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  fb_sandbox *sb = ud;
  if (ptr == NULL) osize = 0;
  if (nsize == 0) {
    free(ptr);
    sb->mem_used -= osize;
    return NULL;
  }
  if (sb->enforcing && nsize > osize) {
    size_t grow = nsize - osize;
    if (any_tripped(sb)) return NULL;
    if (sb->mem_used + grow > sb->mem_max) {
      sb->mem_tripped = true;
      return NULL;
    }
    /* Producing bytes is work: charge it, so a loop of string.rep or `..` that stays
     * within few instructions still runs out of budget. */
    sb->instr_left -= (long)(grow / FB_SANDBOX_BYTES_PER_INSTR);
    if (sb->instr_left <= 0) {
      sb->instr_tripped = true;
      return NULL;
    }
    sb->alloc_unclocked += grow;
    if (sb->alloc_unclocked >= ALLOC_CLOCK_BYTES) {
      sb->alloc_unclocked = 0;
      if (past_deadline(sb)) return NULL;
    }
  }
  void *p = realloc(ptr, nsize);
  if (p) sb->mem_used = sb->mem_used - osize + nsize;
  return p;
}

static fb_sandbox *sandbox_of(lua_State *L) {
  void *ud;
  lua_getallocf(L, &ud);
  return ud;
}

static void count_hook(lua_State *L, lua_Debug *ar);

static int raise_tripped(lua_State *L, fb_sandbox *sb) {
  /* Once tripped, raise on every instruction: a `pcall` in a loop would otherwise
   * catch each error and run on, since the next raise lands inside the pcall again. */
  lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
  return luaL_error(L, sb->mem_tripped    ? "policy exceeded its memory budget"
                       : sb->time_tripped ? "policy exceeded its time budget"
                                          : "policy exceeded its instruction budget");
}

static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  fb_sandbox *sb = sandbox_of(L);
  if (!sb->enforcing) return;
  sb->instr_left -= HOOK_STEP;
  if (sb->instr_left <= 0) sb->instr_tripped = true;
  past_deadline(sb);
  if (any_tripped(sb)) raise_tripped(L, sb);
}

/* ---- the cost of C functions ------------------------------------------------ */

double fb_sandbox_pattern_cost(const char *p, size_t plen, size_t n, bool all_starts, double cap) {
  double len = (double)n + 1, cost = 1;
  size_t i = 0, items = 0;
  bool anchored = !all_starts && plen > 0 && p[0] == '^';
  if (plen > 0 && p[0] == '^') i = 1;
  while (i < plen && cost <= cap) {
    char c = p[i];
    bool single = true; /* an item a quantifier may follow */
    if (c == '(' || c == ')') {
      i++;
      continue;
    }
    items++;
    if (c == '%' && i + 1 >= plen) break; /* malformed: Lua refuses it */
    if (c == '%') {
      char d = p[i + 1];
      if (d == 'b') { /* %bxy: scans up to the whole text at each attempt */
        cost *= len;
        i += 4;
        continue;
      }
      if (d == 'f') { /* %f[set]: one position */
        i += 2;
        single = false;
        c = i < plen ? p[i] : 0;
        if (c != '[') continue;
      } else if (d >= '0' && d <= '9') { /* back-reference: compares up to n bytes */
        cost *= len;
        i += 2;
        continue;
      } else {
        i += 2;
      }
    }
    if (c == '[') { /* a set; ']' right after '[' or '[^' is a member */
      i++;
      if (i < plen && p[i] == '^') i++;
      do {
        if (i < plen && p[i] == '%') i++;
        i++;
      } while (i < plen && p[i] != ']');
      i++;
    } else if (c != '%') {
      i++;
    }
    if (!single || i >= plen) continue;
    if (p[i] == '*' || p[i] == '+' || p[i] == '-') {
      cost *= len;
      i++;
    } else if (p[i] == '?') {
      cost *= 2;
      i++;
    }
  }
  if (!anchored) cost *= len;
  return cost * (double)(items ? items : 1);
}

typedef enum { G_SCAN, G_FIND, G_MATCH, G_GMATCH, G_SORT, G_ELEMENTS, G_UNPACK, G_MOVE } guard_kind;

static const struct {
  const char *name;
  guard_kind kind;
} guard_kinds[] = {
    {"find", G_FIND},       {"match", G_MATCH},     {"gsub", G_MATCH},   {"gmatch", G_GMATCH},
    {"sort", G_SORT},       {"insert", G_ELEMENTS}, {"remove", G_ELEMENTS},
    {"concat", G_ELEMENTS}, {"unpack", G_UNPACK},   {"move", G_MOVE},
};

/* Bytes of the string arguments: what a linear C function reads. */
static double string_bytes(lua_State *L) {
  double b = 0;
  for (int i = 1, top = lua_gettop(L); i <= top; i++)
    if (lua_type(L, i) == LUA_TSTRING) b += (double)lua_rawlen(L, i);
  return b / FB_SANDBOX_BYTES_PER_INSTR;
}

static double int_arg(lua_State *L, int i, double dflt) {
  return lua_isinteger(L, i) ? (double)lua_tointeger(L, i) : dflt;
}

/* The instructions a call costs before it runs; raises for a costly pattern. */
static double call_cost(lua_State *L, guard_kind kind, bool is_table_lib) {
  double n = lua_type(L, 1) == LUA_TTABLE ? (double)lua_rawlen(L, 1) : 0;
  switch (kind) {
  case G_FIND:
    if (lua_toboolean(L, 4)) return string_bytes(L); /* plain search: linear */
    /* fall through */
  case G_MATCH:
  case G_GMATCH:
    if (lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING) {
      size_t sn, pn;
      lua_tolstring(L, 1, &sn);
      const char *pat = lua_tolstring(L, 2, &pn);
      if (fb_sandbox_pattern_cost(pat, pn, sn, kind == G_GMATCH, FB_SANDBOX_PATTERN_MAX_STEPS) >
          FB_SANDBOX_PATTERN_MAX_STEPS)
        luaL_error(L, "this pattern is too costly for a text of %d characters: use fewer "
                   "repetitions (*, +, -, ?) or anchor it with ^", (int)sn);
    }
    return string_bytes(L);
  case G_SORT: return is_table_lib ? n * log2(n + 2) : string_bytes(L);
  case G_ELEMENTS: return is_table_lib ? n : string_bytes(L);
  case G_UNPACK: {
    if (!is_table_lib) return string_bytes(L);
    double count = int_arg(L, 3, n) - int_arg(L, 2, 1) + 1;
    return count > 0 ? count : 0;
  }
  case G_MOVE: {
    double count = int_arg(L, 3, 0) - int_arg(L, 2, 1) + 1;
    return is_table_lib && count > 0 ? count : 0;
  }
  case G_SCAN: break;
  }
  return string_bytes(L);
}

/* Every C function of string, table and utf8 runs through here: check the clock,
 * charge the call's cost, then call the original (upvalue 1). Upvalue 2: the kind,
 * upvalue 3: true for the table library. */
static int guarded_call(lua_State *L) {
  fb_sandbox *sb = sandbox_of(L);
  if (sb->enforcing) {
    if (any_tripped(sb) || past_deadline(sb)) return raise_tripped(L, sb);
    double cost = call_cost(L, (guard_kind)lua_tointeger(L, lua_upvalueindex(2)),
                            lua_toboolean(L, lua_upvalueindex(3)));
    if (cost >= (double)sb->instr_left) {
      sb->instr_left = 0;
      sb->instr_tripped = true;
      return raise_tripped(L, sb);
    }
    sb->instr_left -= (long)cost;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* Wraps each C function of the library table at the top of the stack. */
static void guard_library(lua_State *L, bool is_table_lib) {
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1)) {
      const char *name = lua_tostring(L, -2);
      guard_kind kind = G_SCAN;
      for (size_t i = 0; i < FB_ARRAY_LEN(guard_kinds); i++)
        if (strcmp(guard_kinds[i].name, name) == 0) kind = guard_kinds[i].kind;
      lua_pushinteger(L, kind);
      lua_pushboolean(L, is_table_lib);
      lua_pushcclosure(L, guarded_call, 3); /* takes the original as upvalue 1 */
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, t); /* replacing an existing key keeps lua_next valid */
    } else {
      lua_pop(L, 1);
    }
  }
}

/* setmetatable without __gc: a finalizer would run whenever the collector does,
 * outside any budget (even while the sandbox is being freed). */
static int safe_setmetatable(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int t = lua_type(L, 2);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) return luaL_error(L, "__gc is not allowed in policies");
    lua_pop(L, 1);
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

/* ---- the environment --------------------------------------------------------- */

static const char *const safe_base[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "xpcall", "select", "tonumber",
    "tostring", "type", "rawequal", "rawlen", "getmetatable", NULL};

static void open_safe_libs(lua_State *L) {
  /* Base library into a scratch table, then copy only the allow-listed names. */
  luaL_requiref(L, "_G", luaopen_base, 0);
  lua_pop(L, 1);
  lua_newtable(L); /* allowed globals */
  for (const char *const *n = safe_base; *n; n++) {
    lua_getglobal(L, *n);
    lua_setfield(L, -2, *n);
  }
  lua_pushcfunction(L, safe_setmetatable);
  lua_setfield(L, -2, "setmetatable");
  luaL_requiref(L, "string", luaopen_string, 0);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  guard_library(L, false);
  lua_setfield(L, -2, "string");
  luaL_requiref(L, "table", luaopen_table, 0);
  guard_library(L, true);
  lua_setfield(L, -2, "table");
  luaL_requiref(L, "math", luaopen_math, 0);
  lua_setfield(L, -2, "math");
  luaL_requiref(L, "utf8", luaopen_utf8, 0);
  guard_library(L, false);
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

  /* Nobody may read or replace the string metatable (shared by every string); its
   * __index is the guarded string table above. */
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
  sb->time_ms = FB_SANDBOX_TIME_MS;
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
bool fb_sandbox_tripped(const fb_sandbox *sb) { return any_tripped(sb); }
void fb_sandbox_set_time_budget(fb_sandbox *sb, long ms) { sb->time_ms = ms > 0 ? ms : 1; }

static void set_error(lua_State *L, fb_sandbox *sb, char **err) {
  if (!err) return;
  if (sb->mem_tripped) fb_set_error(err, "exceeded its memory budget");
  else if (sb->time_tripped) fb_set_error(err, "exceeded its time budget (%ld ms)", sb->time_ms);
  else if (sb->instr_tripped) fb_set_error(err, "exceeded its instruction budget");
  else if (lua_type(L, -1) == LUA_TSTRING) fb_set_error(err, "%s", lua_tostring(L, -1));
  else fb_set_error(err, "error object is not a string");
}

static void begin(fb_sandbox *sb, long budget) {
  lua_sethook(sb->L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
  sb->mem_tripped = sb->instr_tripped = sb->time_tripped = false;
  sb->instr_left = budget;
  sb->deadline_ns = coarse_now_ns() + (int64_t)sb->time_ms * 1000000;
  sb->alloc_unclocked = 0;
  sb->enforcing = true;
}

int fb_sandbox_call(fb_sandbox *sb, int nargs, int nresults, long instr_budget, char **err) {
  lua_State *L = sb->L;
  int base = lua_gettop(L) - nargs - 1;
  begin(sb, instr_budget);
  int rc = lua_pcall(L, nargs, nresults, 0);
  sb->enforcing = false;
  if (rc != LUA_OK || fb_sandbox_tripped(sb)) {
    set_error(L, sb, err);
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
